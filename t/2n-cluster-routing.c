/* 2n-cluster-routing: rds.c's cluster mode against the test stack's real
 * three-primary Redis Cluster. Keys spread over the primaries and each
 * lands on the node owning its slot; scripts run where their first key
 * lives, loaded there when the node lacks them; a slot moved behind the
 * context's back is followed (MOVED), one being moved is followed key by
 * key (ASK) without losing or doubling a write; SCAN walks every primary;
 * a command whose reply is lost is not sent again. And the routing's cost:
 * EVALSHA through a context on one Redis and through one on the cluster,
 * in the same run. */
#include "tap.h"
#include "testlib.h"
#include "rds.h"
#include "rds_cluster.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 300
#define COST_ROUNDS 4000

static int nports, ports[T_CLUSTER_MAX];
static char nodes[256];

/* How many nodes hold key (unrouted EXISTS on each: a node that does not
 * own the slot answers MOVED, not 1). */
static int holders(const char *key)
{
    const char *argv[] = {"EXISTS", key};
    int n = 0;

    for (int i = 0; i < nports; i++) {
        redisReply *r = t_node(ports[i], 2, argv);
        n += r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (r)
            freeReplyObject(r);
    }
    return n;
}

/* GET through the context: the value (static), or "(null)". */
static const char *get(struct rds *r, const char *key)
{
    static char value[128];
    const char *argv[] = {"GET", key};
    redisReply *reply = rds_command_on(r, 2, argv, NULL);

    snprintf(value, sizeof value, "%s", reply && reply->type == REDIS_REPLY_STRING ? reply->str : "(null)");
    if (reply)
        freeReplyObject(reply);
    return value;
}

static int set(struct rds *r, const char *key, const char *value)
{
    const char *argv[] = {"SET", key, value};
    redisReply *reply = rds_command_on(r, 3, argv, NULL);
    int ok = reply && reply->type == REDIS_REPLY_STATUS;

    if (reply)
        freeReplyObject(reply);
    return ok;
}

/* t/lua/incr.lua, read by main. */
static struct rds_script incr_script = {"t2n-incr", NULL, ""};

/* Seconds for COST_ROUNDS EVALSHAs through r over keys of nslots tags
 * (spread over the primaries when more than one). */
static double evalsha_loop(struct rds *r, int nslots)
{
    double t0 = t_now_s();

    for (int i = 0; i < COST_ROUNDS; i++) {
        char key[32];
        const char *argv[] = {key};
        redisReply *reply;

        snprintf(key, sizeof key, "t2l:cost:{%d}", i % nslots);
        reply = rds_eval_on(r, &incr_script, 1, 1, argv);
        if (!reply)
            return -1;
        freeReplyObject(reply);
    }
    return t_now_s() - t0;
}

int main(void)
{
    struct rds *r;
    char key[64];
    int per_node[T_CLUSTER_MAX] = {0}, misplaced = 0, slot, from, to;
    const char *redis_port = getenv("CONCERT_REDIS_PORT");

    t_init();
    incr_script.source = t_lua("incr");
    nports = t_cluster_ports(ports, nodes);
    if (nports < 3)
        skip_all("no three-primary cluster (CONCERT_CLUSTER_PORTS)");
    plan(20);
    r = rds_new(NULL, 0, 2000);
    if (!r || rds_set_cluster(r, nodes, NULL) < 0)
        bail_out("no cluster context");
    ok(rds_cluster_mode(r), "the context routes over the cluster");

    step("keys spread over the primaries, each on the owner of its slot");
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "t2l:{k%d}", i);
        if (!set(r, key, "v"))
            misplaced++;
    }
    is_int(misplaced, 0, "%d SETs through the context all answered OK", NKEYS);
    misplaced = 0;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "t2l:{k%d}", i);
        slot = rds_cluster_key_slot(key, strlen(key));
        for (int p = 0; p < nports; p++)
            if (t_cluster_owner(slot, ports[0]) == ports[p])
                per_node[p]++;
        misplaced += holders(key) != 1;
    }
    is_int(misplaced, 0, "every key is on exactly one node: the owner of its slot");
    ok(per_node[0] > 0 && per_node[1] > 0 && per_node[2] > 0, "each primary holds some (%d, %d, %d)", per_node[0],
       per_node[1], per_node[2]);

    step("scripts run on the node of their first key, loaded there when it lacks them");
    {
        const char *flush[] = {"SCRIPT", "FLUSH"};
        int good = 1;

        for (int p = 0; p < nports; p++) {
            redisReply *x = t_node(ports[p], 2, flush);
            if (x)
                freeReplyObject(x);
        }
        for (int i = 0; i < 30; i++) {
            const char *argv[] = {key};
            redisReply *reply;

            snprintf(key, sizeof key, "t2l:script:{%d}", i);
            reply = rds_eval_on(r, &incr_script, 1, 1, argv);
            good &= reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
            if (reply)
                freeReplyObject(reply);
        }
        ok(good, "30 EVALSHAs over every primary, with their scripts flushed, each ran once");
    }

    step("a slot moved behind the context's back: MOVED is followed");
    snprintf(key, sizeof key, "t2l:{k7}");
    slot = rds_cluster_key_slot(key, strlen(key));
    from = t_cluster_owner(slot, ports[0]);
    to = from == ports[0] ? ports[1] : ports[0];
    ok(t_cluster_move_slot(slot, from, to, ports, nports, 100, 0) >= 1, "slot %d moved from %d to %d", slot, from,
       to);
    is(get(r, key), "v", "the context still reads the key, now on the other node");
    ok(set(r, key, "w") && holders(key) == 1 && t_cluster_owner(slot, ports[2]) == to, "and writes it there");

    step("a slot being moved: ASK is followed for the keys that have left, once");
    {
        char stays[64], fresh[64];

        snprintf(key, sizeof key, "t2l:{k8}:a");
        snprintf(stays, sizeof stays, "t2l:{k8}:b");
        snprintf(fresh, sizeof fresh, "t2l:{k8}:c");
        slot = rds_cluster_key_slot(key, strlen(key));
        from = t_cluster_owner(slot, ports[0]);
        to = from == ports[0] ? ports[1] : ports[0];
        ok(set(r, key, "moving") && set(r, stays, "staying"), "two keys of one slot written");
        ok(t_cluster_move_begin(slot, from, to) == 0, "slot %d marked MIGRATING on %d, IMPORTING on %d", slot, from,
           to);
        {
            /* Only the first key: MIGRATE it alone. */
            char to_text[16];
            const char *migrate[] = {"MIGRATE", "127.0.0.1", to_text, key, "0", "5000"};
            redisReply *x;

            snprintf(to_text, sizeof to_text, "%d", to);
            x = t_node(from, 6, migrate);
            ok(x && x->type == REDIS_REPLY_STATUS, "one key migrated");
            if (x)
                freeReplyObject(x);
        }
        is(get(r, key), "moving", "the migrated key is read through ASK");
        is(get(r, stays), "staying", "the key not moved yet is read on the old owner");
        ok(set(r, fresh, "new"), "a new key of the slot is written (ASK: on the new owner)");
        ok(t_cluster_move_keys(slot, from, to, 100) >= 1 && t_cluster_move_end(slot, to, ports, nports) == 0,
           "the rest migrated, the slot handed over");
        ok(strcmp(get(r, fresh), "new") == 0 && strcmp(get(r, key), "moving") == 0 && holders(fresh) == 1,
           "every key of the slot is whole on its new owner");
    }

    step("SCAN walks every primary");
    {
        char cursor[32] = "0";
        int seen = 0, pages = 0;

        do {
            const char *argv[] = {"SCAN", cursor, "MATCH", "t2l:{k*", "COUNT", "100"};
            redisReply *reply = rds_command_on(r, 6, argv, NULL);

            if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
                if (reply)
                    freeReplyObject(reply);
                break;
            }
            snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
            seen += (int)reply->element[1]->elements;
            freeReplyObject(reply);
        } while (strcmp(cursor, "0") != 0 && ++pages < 10000);
        ok(strcmp(cursor, "0") == 0 && seen >= NKEYS, "the walk ended and saw all %d keys (%d)", NKEYS, seen);
    }

    step("a lost reply: the command is not sent again");
    {
        /* A script that keeps its node busy for 1.5 s (under Redis's
         * 5 s busy limit, so other clients wait rather than fail), sent
         * without waiting for its reply: an INCR meanwhile gets no reply
         * within the context's 300 ms, and runs when the node is free
         * (t/lua/busy.lua). */
        char *busy = t_lua("busy");
        struct rds *hasty = rds_new(NULL, 0, 300);
        const char *eval[] = {"EVAL", busy, "0", "1500000"};
        const char *incr[] = {"INCR", "t2l:once"};
        struct timeval tv = {5, 0};
        redisContext *blocker;
        redisReply *x;
        int owner, done = 0;

        if (!hasty || rds_set_cluster(hasty, nodes, NULL) < 0)
            bail_out("no cluster context");
        owner = t_cluster_owner(rds_cluster_key_slot(incr[1], strlen(incr[1])), ports[0]);
        rds_ping_on(hasty);
        blocker = redisConnectWithTimeout("127.0.0.1", owner, tv);
        if (!blocker || blocker->err || redisAppendCommandArgv(blocker, 4, eval, NULL) != REDIS_OK)
            bail_out("no connection to keep the node busy");
        while (!done)
            if (redisBufferWrite(blocker, &done) != REDIS_OK)
                bail_out("the busy script was not sent");
        t_sleep_ms(100);
        x = rds_command_on(hasty, 2, incr, NULL);
        ok(!x && rds_last_error(hasty) == RDS_REPLY_LOST, "INCR on a busy primary: reply lost, NULL");
        if (x)
            freeReplyObject(x);
        t_sleep_ms(1700);
        is(get(r, "t2l:once"), "1", "it ran once when the primary was free, and was not sent again");
        redisFree(blocker);
        rds_free(hasty);
        free(busy);
    }

    step("the routing's cost: EVALSHA through one Redis and through the cluster");
    {
        struct rds *single = rds_new("127.0.0.1", redis_port ? atoi(redis_port) : 6379, 2000);
        /* Each twice, in turn, the faster run of each kept: the machine's
         * other work weighs on all alike. The same keys through the
         * cluster, then keys of one slot only: the routing's own cost
         * (the slot, the map) apart from that of three servers taking
         * turns on the machine's two cores. */
        double one = 1e9, cluster = 1e9, one_node = 1e9;

        for (int round = 0; round < 2; round++) {
            double a = evalsha_loop(single, 64), b = evalsha_loop(r, 64), c = evalsha_loop(r, 1);

            one = a >= 0 && a < one ? a : one;
            cluster = b >= 0 && b < cluster ? b : cluster;
            one_node = c >= 0 && c < one_node ? c : one_node;
        }
        diag("routing cost: %d EVALSHA: one Redis %.1f us each; the cluster %.1f us each over three primaries "
             "(ratio %.2f), %.1f us each on one primary (ratio %.2f)",
             COST_ROUNDS, one * 1e6 / COST_ROUNDS, cluster * 1e6 / COST_ROUNDS, cluster / one,
             one_node * 1e6 / COST_ROUNDS, one_node / one);
        /* On one primary the difference is the routing alone; a map asked
         * for on every command, or a connection per command, would cost
         * several times one Redis. */
        ok(one < 1e9 && cluster < 1e9 && one_node < 1e9 && one_node / one < 2,
           "routing through the cluster costs less than twice one Redis, on one primary");
        rds_free(single);
    }
    rds_free(r);
    return done_testing();
}
