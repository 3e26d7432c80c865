/* a2-ha-pg-kill: the PostgreSQL primary's host dies (its pg_auto_failover
 * keeper, postgres and every backend killed with -9) on the several-hosts
 * stack (./dev test --ha) while clients book through lb.
 *
 * 8 clients walk users through the journey (faultlib.h) over both app
 * hosts. The monitor sees the primary gone and promotes the standby; the
 * responders' libpq connection string names both data hosts with
 * target_session_attrs=read-write, so they reconnect to the new primary with
 * nothing restarted. Replication is synchronous: every write a client saw
 * acknowledged (2xx) before the kill was on the standby, so it is in the new
 * primary afterwards, and nothing else may be lost or doubled. Meanwhile
 * requests that need PostgreSQL may get only the contract's 503 with
 * Retry-After, and those that do not (the seat map and token issuance from
 * Redis) keep succeeding. The dead host comes back and rejoins as the
 * standby (./dev fault heal). How long clients saw errors, and which, is
 * printed. First, pg_auto_failover's own connections between the hosts ask
 * for a password like the app's: its keepers' role, without one, is refused
 * by the monitor.
 *
 * What an operator sees on the way: no host's pg_hba.conf trusts an
 * address, after the start, after the failover and after the rejoin
 * (pg_autoctl, left to edit it, added trusting entries on both); while the
 * new primary runs without its standby (wait_primary) `./dev status` names
 * it the primary and answers within 2 s under the load, and /metrics reads
 * concert_pg_synchronous_standby 0 (1 before and after); the lost host
 * rejoins within 30 s (pg_rewind, not a new base backup). */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#define REJOIN_MS 30000
#define STATUS_MS 2000

/* The keepers' role logs in to the monitor from pg1's host with no
 * password: 0 when refused for want of one, 1 when let in, 2 otherwise. */
static int keeper_role_without_password(void)
{
    char ns[128], info[300];
    const char *prefix = getenv("CONCERT_HA_NETNS_PREFIX");
    pid_t pid;
    int status;

    if (!prefix || !getenv("CONCERT_HA_MONITOR"))
        return 2;
    snprintf(ns, sizeof ns, "/run/netns/%spg1", prefix);
    snprintf(info, sizeof info, "%s dbname=pg_auto_failover user=autoctl_node passfile=/dev/null connect_timeout=3",
             getenv("CONCERT_HA_MONITOR"));
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        int fd = open(ns, O_RDONLY | O_CLOEXEC);
        PGconn *c;
        int rc;
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(2);
        c = PQconnectdb(info);
        rc = PQstatus(c) == CONNECTION_OK ? 1 : strstr(PQerrorMessage(c), "password") ? 0 : 2;
        if (rc == 2)
            printf("# %s", PQerrorMessage(c));
        fflush(stdout);
        PQfinish(c);
        _exit(rc);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 2;
    return WEXITSTATUS(status);
}

/* The entries of a host's pg_hba.conf that trust an address (host lines
 * whose method is trust), appended to found (" HOST: LINE;" each): how many. */
static int hba_trusts(const char *host, char *found, size_t cap)
{
    char path[600], line[512];
    FILE *f;
    int trusts = 0;

    snprintf(path, sizeof path, "%s/ha/%s/pgdata/pg_hba.conf", getenv("CONCERT_VAR"), host);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char type[16] = "", db[128], user[128], addr[128], method[32] = "";
        size_t used = strlen(found);
        if (sscanf(line, "%15s %127s %127s %127s %31s", type, db, user, addr, method) == 5 &&
            strncmp(type, "host", 4) == 0 && strcmp(method, "trust") == 0) {
            snprintf(found + used, cap - used, " %s: %s %s %s %s %s;", host, type, db, user, addr, method);
            trusts++;
        }
    }
    fclose(f);
    return trusts;
}

static void check_no_trust(const char *when)
{
    static const char *const hosts[] = {"mon", "pg1", "pg2"};
    char found[2000] = "";
    int n = 0;

    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++)
        n += hba_trusts(hosts[i], found, sizeof found);
    ok(n == 0, "%s, no pg_hba.conf trusts an address%s%s", when, n ? ":" : "", found);
}

/* /metrics' concert_pg_synchronous_standby: 0 or 1, -1 when absent. */
static int synchronous_standby(void)
{
    struct t_resp r;
    const char *at;
    int v = -1;

    if (t_get("/metrics", t_admin_key(), &r) == 0 && r.status == 200 && r.body &&
        (at = strstr(r.body, "\nconcert_pg_synchronous_standby ")))
        v = atoi(at + strlen("\nconcert_pg_synchronous_standby "));
    t_resp_free(&r);
    return v;
}

/* Polls the metric until it reads want (at most 10 s): what it read last. */
static int wait_synchronous_standby(int want)
{
    int v = -1;

    for (int i = 0; i < 100 && (v = synchronous_standby()) != want; i++)
        t_sleep_ms(100);
    return v;
}

/* Under load, the new primary running without its standby. */
static void failed_over(const char *lost)
{
    char other[16];
    struct f_ha_part now, lost_now;
    long slowest = 0, took;
    int v;

    snprintf(other, sizeof other, "%s", strcmp(lost, "pg1") == 0 ? "pg2" : "pg1");
    /* Until the monitor has assigned it wait_primary (it may still be
     * promoting when it first serves). */
    for (int i = 0; i < 10; i++) {
        took = f_ha_status("postgres", other, &now);
        if (took > slowest)
            slowest = took;
        if (strcmp(now.role, "primary") == 0)
            break;
        t_sleep_ms(500);
    }
    f_ha_status("postgres", lost, &lost_now);
    diag("./dev status: %s %s (%s), %s %s (%s); the slowest answer took %.1f s", other, now.role, now.state, lost,
         lost_now.role, lost_now.state, slowest / 1000.0);
    ok(strcmp(now.role, "primary") == 0 && strstr(now.state, "wait_primary") && strcmp(lost_now.role, "primary") != 0,
       "./dev status names %s the primary (%s), %s not (%s)", other, now.state, lost, lost_now.role);
    ok(slowest < STATUS_MS, "./dev status answered within %d ms under the load (at most %ld)", STATUS_MS, slowest);
    v = wait_synchronous_standby(0);
    ok(v == 0, "/metrics reads concert_pg_synchronous_standby 0 while the primary has no standby (%d)", v);
    check_no_trust("after the failover");
}

static void healed(const char *lost, long heal_ms)
{
    int v;

    ok(heal_ms < REJOIN_MS, "%s rejoined as the standby within %d s (%.1f s)", lost, REJOIN_MS / 1000,
       heal_ms / 1000.0);
    check_no_trust("after the rejoin");
    v = wait_synchronous_standby(1);
    ok(v == 1, "/metrics reads concert_pg_synchronous_standby 1 again (%d)", v);
}

int main(void)
{
    static const struct f_failover kill = {
        .fault = "pg-kill", .store = "PostgreSQL", .health = "postgres", .prefix = "pg",
        .done = "killed with its host: keeper, postgres and backends", .wait_ms = 60000, .needs = f_needs_pg,
        .lost_sessions = 0, .failed_over = failed_over, .healed = healed,
    };

    f_require_ha();
    plan(3 + F_FAILOVER_CHECKS + 7);
    check_no_trust("after the start");
    {
        int v = synchronous_standby();
        ok(v == 1, "/metrics reads concert_pg_synchronous_standby 1: the primary has its standby (%d)", v);
    }
    {
        int asked = keeper_role_without_password();
        ok(asked == 0, "the monitor asks pg_auto_failover's keepers, from a data node's host, for a password (%s)",
           asked == 0 ? "refused without one" : asked == 1 ? "let in without one" : "not asked");
    }
    f_failover_story(&kill, 8, f_tap_report);
    return done_testing();
}
