/* 2b-cluster-slots: the service's Redis keys and scripts are ready for a
 * Redis Cluster, proven rather than claimed.
 *
 * The test stack's Redis (./dev test) is a one-node Redis Cluster that owns
 * every hash slot, so every script and command of every test in this suite
 * runs where a call whose keys lie in two slots is refused. This story
 * shows that the stack really is such a node and that it really refuses
 * what a cluster would: a script given keys of two slots fails and changes
 * nothing, and so does one that reaches for a key it was not given in
 * another slot, as every script of the service does, since rds.c loads
 * them all so (with a "#!lua" line); keys sharing a hash tag ({c:C} for a concert, {login} for
 * the failed-login counters) run together. The login limit's two counters
 * were two slots apart until this suite ran on a cluster node (CROSSSLOT on
 * every login). */
#include "tap.h"
#include "testlib.h"
#include "keyspace.h"
#include "rds.h"

#include <stdlib.h>

static long long keyslot(const char *key)
{
    const char *argv[] = {"CLUSTER", "KEYSLOT", key};
    return t_redis_int(3, argv);
}

/* Every key keyspace.h makes for concert 7 lies in the slot of its
 * {c:7}:conf; the session's side sets in the session's; the login
 * counters in one; a stream's marker in the stream's. What keyspace.h
 * promises, checked on its own output rather than on names typed here. */
static int keyspace_slots_shared(void)
{
    char conf[KEYSPACE_CONCERT_KEY_SIZE], key[KEYSPACE_CONCERT_KEY_SIZE], side[160];
    int same = 1;

    keyspace_queue(conf, sizeof conf, 7, QUEUE_KEY_CONF);
    for (int i = 0; i < QUEUE_NKEYS; i++) {
        keyspace_queue(key, sizeof key, 7, (enum queue_key)i);
        same &= keyslot(key) == keyslot(conf);
    }
    keyspace_shows(key, sizeof key, 7);
    same &= keyslot(key) == keyslot(conf);
    keyspace_seat_lock(key, sizeof key, 7, 3, 12);
    same &= keyslot(key) == keyslot(conf);
    keyspace_seatmap(key, sizeof key, 7, 3);
    same &= keyslot(key) == keyslot(conf);
    keyspace_session(key, sizeof key, "ab12");
    keyspace_session_side(side, sizeof side, key, "tokens");
    same &= keyslot(side) == keyslot(key);
    keyspace_session_side(side, sizeof side, key, "ending");
    same &= keyslot(side) == keyslot(key);
    keyspace_login_address(key, sizeof key, "2001:db8::/64");
    keyspace_login_email_address(side, sizeof side, "ab", "2001:db8::/64");
    same &= keyslot(side) == keyslot(key);
    keyspace_login_email(side, sizeof side, "ab");
    same &= keyslot(side) == keyslot(key);
    keyspace_stream_marker(key, sizeof key, KEYSPACE_STREAM_RESERVATIONS);
    same &= keyslot(key) == keyslot(KEYSPACE_STREAM_RESERVATIONS);
    keyspace_stream_marker(key, sizeof key, KEYSPACE_STREAM_PAYMENTS);
    same &= keyslot(key) == keyslot(KEYSPACE_STREAM_PAYMENTS);
    return same;
}

static int exists(const char *key)
{
    const char *argv[] = {"EXISTS", key};
    return t_redis_int(2, argv) == 1;
}

int main(void)
{
    const char *slots_full[] = {"CLUSTER", "COUNTKEYSINSLOT", "0"};

    t_init();
    plan(8);

    ok(t_redis_int(3, slots_full) >= 0 && keyslot("a") >= 0,
       "the test stack's Redis answers CLUSTER commands: a cluster node");
    ok(keyslot("{c:7}:waiting") == keyslot("{c:7}:active") && keyslot("{c:7}:seat:3:12") == keyslot("{c:7}:conf"),
       "a concert's queue and seat-lock keys share one slot ({c:C})");
    ok(keyslot("{login}:failures:account:ab") == keyslot("{login}:failures:address:127.0.0.1") &&
           keyslot("{login}:failures:account:ab:address:2001:db8::/64") == keyslot("{login}:failures:account:ab"),
       "the failed-login counters share one slot ({login})");
    ok(keyspace_slots_shared(), "every family of keyspace.h shares the slot it says it shares");
    {
        int refused = t_redis_eval_cmd("set_both", 2, "{t2b:x}:one", "{t2b:y}:two", NULL) != 0;
        ok(refused && keyslot("{t2b:x}:one") != keyslot("{t2b:y}:two"),
           "a script given keys of two slots is refused");
        ok(!exists("{t2b:x}:one") && !exists("{t2b:y}:two"), "and it changed nothing");
    }
    {
        /* Through the loader the responders use. */
        char *reach_out = t_lua("reach_out");
        struct rds_script script = {"t2b_reach_out", reach_out, ""};
        const char *argv[] = {"{t2b:x}:three", "{t2b:y}:four"};
        const char *port = getenv("CONCERT_REDIS_PORT");
        redisReply *reply;

        rds_init("127.0.0.1", port ? atoi(port) : 6379, 2000);
        reply = rds_eval(&script, 1, 2, argv);
        ok(!reply && !rds_reply_lost() && !exists("{t2b:y}:four"),
           "a service script reaching for a key of another slot it was not given is refused");
        if (reply)
            freeReplyObject(reply);
        rds_close();
        free(reach_out);
    }
    {
        const char *del[] = {"DEL", "{t2b:x}:one", "{t2b:x}:two", "{t2b:x}:three"};
        ok(t_redis_eval_int("set_both", 2, "{t2b:x}:one", "{t2b:x}:two", NULL) == 1 && exists("{t2b:x}:two"),
           "keys sharing a hash tag run in one script");
        t_redis_cmd(4, del);
    }
    return done_testing();
}
