/* 2g-sentinel: the Redis client finds the primary through Sentinel, and
 * finds the new one after a failover.
 *
 * The story, on servers this test starts on loopback ports: a primary and
 * a replica that ask for a password, and three Sentinels watching them
 * (down after 1 s). The client (shared/rds.c, as every responder and the
 * cron program use it) is given only the Sentinels, the primary's name and
 * the password. It writes through the primary; with the wrong password it
 * gets nothing. The primary is killed with -9: the client's commands fail
 * (the responders answer 503) until the Sentinels have promoted the
 * replica, then succeed against it without anything being restarted or
 * reconfigured; what was written (and acknowledged by the replica) before
 * is still there. The time without a primary is measured. Then the killed
 * server comes back as the new primary's replica, and the new primary stops
 * answering without closing anything (SIGSTOP: a host cut off the network)
 * while the client sits idle. Once the Sentinels have promoted the other,
 * the client's very next command succeeds: an idle connection is asked
 * whether its server is still the primary before a command goes on it
 * (before, that command waited out the timeout on the stopped server and
 * failed, a 503 for some responder's first request after a failover).
 * Last, a primary stopped, replaced and resumed before the idle client's
 * next command: it still calls itself primary until the Sentinels demote
 * it, but the client asks the Sentinels and writes to the new primary
 * (before, it wrote to the old one, whose writes the demotion drops, and
 * read what it had before the cut: tokens issued since read as unknown).
 * And a Sentinel that names another server than the rest, asked first (one
 * cut off with the old primary does until it hears from the others): the
 * client goes by what most Sentinels say (before, by the first answer). */
#include "tap.h"
#include "testlib.h"
#include "rds.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PASSWORD "t2g-not-a-real-secret-0123456789"

static char dir[128];
static pid_t pids[10];
static int npids;

static pid_t start(char *const argv[], const char *log)
{
    char path[256];
    pid_t pid;

    snprintf(path, sizeof path, "%s/%s", dir, log);
    pid = t_spawn("/usr/bin/redis-server", argv, path, "a", 1);
    pids[npids++] = pid;
    return pid;
}

static pid_t start_redis(int port, int primary_port)
{
    char p[16], pp[16], log[32];
    char *argv[20];
    int n = 0;

    snprintf(p, sizeof p, "%d", port);
    snprintf(pp, sizeof pp, "%d", primary_port);
    snprintf(log, sizeof log, "redis-%d.log", port);
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = p;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--requirepass";
    argv[n++] = PASSWORD;
    argv[n++] = "--masterauth";
    argv[n++] = PASSWORD;
    if (primary_port) {
        argv[n++] = "--replicaof";
        argv[n++] = "127.0.0.1";
        argv[n++] = pp;
    }
    argv[n] = NULL;
    return start(argv, log);
}

static void start_sentinel(int port, int primary_port)
{
    char conf[256], log[32];
    char *argv[] = {"redis-server", conf, "--sentinel", NULL};
    FILE *f;

    snprintf(conf, sizeof conf, "%s/sentinel-%d.conf", dir, port);
    snprintf(log, sizeof log, "sentinel-%d.log", port);
    f = fopen(conf, "w");
    if (!f)
        bail_out("cannot write a Sentinel config");
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\n"
            "sentinel monitor concert 127.0.0.1 %d 2\n"
            "sentinel auth-pass concert %s\n"
            "sentinel down-after-milliseconds concert 1000\n"
            "sentinel failover-timeout concert 5000\n"
            "sentinel parallel-syncs concert 1\n",
            port, dir, primary_port, PASSWORD);
    fclose(f);
    start(argv, log);
}

/* Whether what cmd prints (its first 8 KiB) holds needle: the test's own
 * look at a server, not through the client under test. */
static int output_has(const char *cmd, const char *needle)
{
    char out[8192];
    FILE *p = popen(cmd, "r");
    size_t n;

    if (!p)
        return 0;
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    return strstr(out, needle) != NULL;
}

static int info_has(int port, const char *section, const char *needle)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "redis-cli --no-auth-warning -a %s -p %d info %s 2>/dev/null", PASSWORD, port,
             section);
    return output_has(cmd, needle);
}

static int sentinel_knows_replica(int port)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "redis-cli -p %d sentinel replicas concert 2>/dev/null", port);
    return output_has(cmd, "slave");
}

/* Whether every Sentinel names the server on port as the primary. */
static int sentinels_name(const int *sentinel, int port)
{
    char cmd[256], want[32];

    snprintf(want, sizeof want, "%d", port);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "redis-cli -p %d sentinel get-master-addr-by-name concert 2>/dev/null",
                 sentinel[i]);
        if (!output_has(cmd, want))
            return 0;
    }
    return 1;
}

static int set_key(const char *key, const char *value)
{
    const char *argv[] = {"SET", key, value};
    redisReply *r = rds_command(3, argv, NULL);
    int ok = r && r->type == REDIS_REPLY_STATUS;

    if (r)
        freeReplyObject(r);
    return ok;
}

int main(void)
{
    int primary, replica, sentinel[3], ready = 0;
    pid_t back;
    char list[128];
    double t0, took = -1;

    if (access("/usr/bin/redis-server", X_OK) != 0) {
        printf("1..0 # SKIP redis-server is not installed\n");
        return 0;
    }
    plan(14);
    snprintf(dir, sizeof dir, "/tmp/concert-t2g-XXXXXX");
    if (!mkdtemp(dir))
        bail_out("mkdtemp failed");
    primary = t_unused_port();
    replica = t_unused_port();
    for (int i = 0; i < 3; i++)
        sentinel[i] = t_unused_port();
    start_redis(primary, 0);
    t_sleep_ms(300);
    start_redis(replica, primary);
    for (int i = 0; i < 3; i++)
        start_sentinel(sentinel[i], primary);
    for (int i = 0; i < 150 && !ready; i++) {
        ready = info_has(primary, "replication", "connected_slaves:1") && sentinel_knows_replica(sentinel[0]) &&
                sentinel_knows_replica(sentinel[1]) && sentinel_knows_replica(sentinel[2]);
        if (!ready)
            t_sleep_ms(100);
    }
    if (!ok(ready, "a primary, a replica and three Sentinels that know both"))
        goto out;

    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", sentinel[0], sentinel[1], sentinel[2]);
    rds_init(NULL, 0, 1000);
    rds_use_sentinels(list, "concert", "wrong-password");
    ok(!set_key("t2g:before", "1"), "with the wrong password the client gets nothing");
    rds_close();
    rds_use_sentinels(list, "concert", PASSWORD);
    {
        const char *wait[] = {"WAIT", "1", "800"};
        redisReply *r;
        int written = set_key("t2g:before", "1");
        /* The replica acknowledges within a second or so of linking up. */
        r = NULL;
        for (int k = 0; written && k < 10; k++) {
            if (r)
                freeReplyObject(r);
            r = rds_command(3, wait, NULL);
            if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
                break;
        }
        if (!(written && r && r->type == REDIS_REPLY_INTEGER && r->integer == 1))
            diag("written %d, WAIT %s %lld", written, r ? (r->type == REDIS_REPLY_INTEGER ? "integer" : "other") : "none",
                 r && r->type == REDIS_REPLY_INTEGER ? (long long)r->integer : -1LL);
        ok(written && r && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
           "given only the Sentinels, it writes through the primary (and the replica has it)");
        if (r)
            freeReplyObject(r);
    }

    kill(pids[0], SIGKILL);
    waitpid(pids[0], NULL, 0);
    pids[0] = 0;
    t0 = t_now_s();
    while (t_now_s() - t0 < 40) {
        if (set_key("t2g:after", "1")) {
            took = t_now_s() - t0;
            break;
        }
        t_sleep_ms(100);
    }
    diag("without a primary for %.1f s (Sentinel's down-after 1 s, then the vote and the promotion)", took);
    ok(took >= 0, "after the primary is killed, the client writes again once the replica is promoted");
    ok(info_has(replica, "replication", "role:master"), "the replica is the primary now");
    {
        const char *get[] = {"GET", "t2g:before"};
        redisReply *r = rds_command(2, get, NULL);
        ok(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "1") == 0,
           "what the replica had acknowledged before is still there");
        if (r)
            freeReplyObject(r);
    }

    /* The old primary back as a replica of the new one. */
    back = start_redis(primary, replica);
    ready = 0;
    for (int i = 0; i < 150 && !ready; i++) {
        ready = info_has(replica, "replication", "connected_slaves:1") && sentinel_knows_replica(sentinel[0]) &&
                sentinel_knows_replica(sentinel[1]) && sentinel_knows_replica(sentinel[2]);
        if (!ready)
            t_sleep_ms(100);
    }
    ok(ready && set_key("t2g:idle", "1"), "the killed server is back as the replica; the client writes");
    {
        pid_t stopped = pids[1];
        int promoted = 0, first_try;

        kill(stopped, SIGSTOP);
        for (int i = 0; i < 300 && !promoted; i++) {
            promoted = info_has(primary, "replication", "role:master") && sentinels_name(sentinel, primary);
            if (!promoted)
                t_sleep_ms(100);
        }
        ok(promoted, "the primary stopped answering (SIGSTOP) and the Sentinels promoted the replica");
        first_try = set_key("t2g:after-idle", "1");
        ok(first_try, "the idle client's very next command succeeds, on the new primary");
        kill(stopped, SIGCONT);
    }

    /* The same again, but the stopped primary comes back before the idle
     * client's next command: it still calls itself primary until the
     * Sentinels turn it into a replica, seconds later. The command must
     * reach the primary the Sentinels name, not it. */
    ready = 0;
    for (int i = 0; i < 300 && !ready; i++) {
        ready = info_has(primary, "replication", "connected_slaves:1");
        if (!ready)
            t_sleep_ms(100);
    }
    ok(ready, "the stopped server came back as the replica");
    {
        pid_t stopped = back;
        int promoted = 0;
        char cmd[256];

        kill(stopped, SIGSTOP);
        for (int i = 0; i < 300 && !promoted; i++) {
            promoted = info_has(replica, "replication", "role:master") && sentinels_name(sentinel, replica);
            if (!promoted)
                t_sleep_ms(100);
        }
        kill(stopped, SIGCONT);
        t_sleep_ms(1100);   /* the client idle past its check */
        ok(promoted && info_has(primary, "replication", "role:master") && set_key("t2g:after-heal", "1"),
           "a primary stopped, replaced and back (still calling itself primary): the client writes");
        snprintf(cmd, sizeof cmd, "redis-cli --no-auth-warning -a %s -p %d get t2g:after-heal 2>/dev/null", PASSWORD,
                 replica);
        ok(output_has(cmd, "1"), "to the primary the Sentinels name, not the one that came back");
    }

    /* A Sentinel that names another server than the others do: one cut off
     * with the old primary names it until it hears from the rest (and the
     * old primary calls itself primary until then). Here a real Sentinel
     * watching a stranger under the same name stands for it, asked first. */
    {
        int stranger = t_unused_port(), stale = t_unused_port(), named = 0;
        char cmd[256];

        start_redis(stranger, 0);
        t_sleep_ms(300);
        start_sentinel(stale, stranger);
        snprintf(cmd, sizeof cmd, "redis-cli -p %d sentinel get-master-addr-by-name concert 2>/dev/null", stale);
        for (int i = 0; i < 50 && !named; i++) {
            char want[16];
            snprintf(want, sizeof want, "%d", stranger);
            named = output_has(cmd, want);
            if (!named)
                t_sleep_ms(100);
        }
        rds_close();
        snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", stale, sentinel[1], sentinel[2]);
        rds_use_sentinels(list, "concert", PASSWORD);
        ok(named && set_key("t2g:outvoted", "1"), "with a Sentinel that names another primary asked first, the client writes");
        snprintf(cmd, sizeof cmd, "redis-cli --no-auth-warning -a %s -p %d get t2g:outvoted 2>/dev/null", PASSWORD,
                 replica);
        ok(output_has(cmd, "1"), "to the primary most Sentinels name, not the one the odd Sentinel names");
    }
out:
    rds_close();
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGTERM);
            waitpid(pids[i], NULL, 0);
        }
    {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            diag("could not remove %s", dir);
    }
    return done_testing();
}
