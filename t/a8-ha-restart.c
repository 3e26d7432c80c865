/* a8-ha-restart: on the several-hosts stack (./dev test --ha) a program
 * that dies comes back by itself, as systemd's Restart= brings it back on
 * a real host (conf/systemd/), with nothing healed by hand.
 *
 * First, ./dev status names the Redis Cluster's layout: three primaries
 * owning slots, three replicas each following a primary on another host.
 * Then, killed with -9: the PostgreSQL standby's keeper (pg_autoctl run; its
 * postgres goes on) and a Redis Cluster replica's server. Within 30 s each
 * runs again: a new keeper for that data directory, with the node
 * secondary at the monitor; the Redis server answering as a replica with
 * its link to the primary up, the same node of the cluster (its node
 * file kept; it comes back a few seconds late on purpose: a primary
 * restarted at once would go on as the primary while the others fail it
 * over). How long each took is printed. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <dirent.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACK_MS 30000

/* The pid of `pg_autoctl run` for pgdata, by its command line; -1. */
static pid_t keeper_of(const char *pgdata)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;

    if (!d)
        return -1;
    while (found < 0 && (e = readdir(d)) != NULL) {
        char cmd[1024];
        long n = t_proc_read(e->d_name, "cmdline", cmd, sizeof cmd);
        if (n < 0)
            continue;
        /* NUL-separated: "pg_autoctl", "run", "--pgdata", PGDATA. */
        if (n > 0 && strcmp(cmd, "pg_autoctl") == 0 && (long)strlen(cmd) + 4 < n &&
            strcmp(cmd + strlen(cmd) + 1, "run") == 0) {
            const char *a = cmd;
            while (a < cmd + n) {
                if (strcmp(a, pgdata) == 0)
                    found = (pid_t)atol(e->d_name);
                a += strlen(a) + 1;
            }
        }
    }
    closedir(d);
    return found;
}

/* INFO replication (or PING when !info) of the Redis at "ADDR:PORT", with
 * the stack's password: 1 when it answers (and, for info, is a replica
 * whose link is up). */
static int redis_ok(const char *address, int info)
{
    char host[64], pw[256] = "";
    const char *colon = strrchr(address, ':');
    FILE *f = fopen(getenv("CONCERT_REDIS_PASSWORD_FILE") ? getenv("CONCERT_REDIS_PASSWORD_FILE") : "", "r");
    struct timeval tv = {1, 0};
    redisContext *c;
    redisReply *r;
    int good = 0;

    if (f) {
        if (!fgets(pw, sizeof pw, f))
            pw[0] = '\0';
        fclose(f);
        pw[strcspn(pw, "\n")] = '\0';
    }
    if (!colon || (size_t)(colon - address) >= sizeof host)
        return 0;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (!c || c->err) {
        redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    r = redisCommand(c, "AUTH %s", pw);
    if (r && r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        r = redisCommand(c, info ? "INFO replication" : "PING");
        good = r && r->type != REDIS_REPLY_ERROR &&
               (!info || (r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave") &&
                          strstr(r->str, "master_link_status:up")));
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return good;
}

/* The host of `part` whose role is `role` (standby, replica): into out. */
static int host_with(const char *part, const char *prefix, const char *role, char *out, size_t cap)
{
    for (int i = 1; i <= 2; i++) {
        struct f_ha_part p;
        snprintf(out, cap, "%s%d", prefix, i);
        if (f_ha_status(part, out, &p) >= 0 && strcmp(p.role, role) == 0)
            return 0;
    }
    out[0] = '\0';
    return -1;
}

/* The host part of "addr:port" (static). */
static const char *host_of(const char *address)
{
    static char host[64];
    const char *colon = strrchr(address, ':');

    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - address) : (int)strlen(address), address);
    return host;
}

/* Reads ./dev status for every Redis Cluster node: how many are primaries
 * owning slots, and how many replicas follow a primary on another host.
 * The address of a replica goes into replica. */
static void redis_layout(int *primaries, int *replicas_apart, char *replica, size_t cap)
{
    int ports[T_CLUSTER_MAX], n;
    char nodes[256], address[64], host[64];

    *primaries = *replicas_apart = 0;
    replica[0] = '\0';
    n = t_cluster_ports(ports, nodes);
    for (const char *at = nodes; n > 0 && *at;) {
        size_t len = strcspn(at, ",");
        struct f_ha_part p;

        snprintf(address, sizeof address, "%.*s", (int)len, at);
        at += len + (at[len] == ',');
        if (f_ha_status("redis", address, &p) < 0)
            continue;
        snprintf(host, sizeof host, "%s", host_of(address));
        if (strcmp(p.role, "primary") == 0 && p.slots[0])
            ++*primaries;
        if (strcmp(p.role, "replica") == 0 && p.of[0] && strcmp(host_of(p.of), host) != 0) {
            ++*replicas_apart;
            snprintf(replica, cap, "%s", address);
        }
    }
}

int main(void)
{
    char standby[16], replica[64], pgdata[600], healed[512] = "";
    struct f_ha_part redis, node;
    pid_t keeper, keeper_again = -1;
    long killed_at, keeper_ms = -1, redis_ms = -1;
    int primaries, replicas_apart;

    f_require_ha();
    plan(5);
    redis_layout(&primaries, &replicas_apart, replica, sizeof replica);
    ok(primaries == 3 && replicas_apart == 3,
       "./dev status: %d Redis primaries own slots, %d replicas follow a primary on another host", primaries,
       replicas_apart);
    if (host_with("postgres", "pg", "standby", standby, sizeof standby) < 0 || !replica[0])
        bail_out("./dev status names no PostgreSQL standby or Redis replica");
    snprintf(pgdata, sizeof pgdata, "%s/ha/%s/pgdata", getenv("CONCERT_VAR"), standby);
    keeper = keeper_of(pgdata);
    f_ha_status("redis", replica, &redis);
    ok(keeper > 0 && redis.pid > 0 && kill(keeper, SIGKILL) == 0 && kill((pid_t)redis.pid, SIGKILL) == 0,
       "killed: %s's keeper (%d), the Redis replica %s (%ld)", standby, (int)keeper, replica, redis.pid);
    killed_at = f_now_ms();

    while (f_now_ms() - killed_at < BACK_MS && (keeper_ms < 0 || redis_ms < 0)) {
        struct f_ha_part now;
        t_sleep_ms(250);
        if (keeper_ms < 0) {
            pid_t k = keeper_of(pgdata);
            if (k > 0 && k != keeper && f_ha_status("postgres", standby, &node) >= 0 &&
                strcmp(node.state, "secondary") == 0) {
                keeper_again = k;
                keeper_ms = f_now_ms() - killed_at;
            }
        }
        if (redis_ms < 0 && f_ha_status("redis", replica, &now) >= 0 && now.pid > 0 && now.pid != redis.pid &&
            redis_ok(redis.address, 1))
            redis_ms = f_now_ms() - killed_at;
    }
    diag("back after: keeper %.1f s, Redis %.1f s (-0.0: not within %d s)", keeper_ms / 1000.0, redis_ms / 1000.0,
         BACK_MS / 1000);
    ok(keeper_ms >= 0, "%s's keeper runs again (%d), the node secondary", standby, (int)keeper_again);
    ok(redis_ms >= 0, "the Redis node %s runs again, a replica with its link up", replica);
    /* Whatever did not come back is started here, for the stories after. */
    ok(f_ha_fault("heal", healed, sizeof healed) == 0, "the stack is whole (%s)", healed);
    return done_testing();
}
