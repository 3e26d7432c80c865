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
#include "rds.h"

#include <stdlib.h>

static long long keyslot(const char *key)
{
    const char *argv[] = {"CLUSTER", "KEYSLOT", key};
    return t_redis_int(3, argv);
}

static int exists(const char *key)
{
    const char *argv[] = {"EXISTS", key};
    return t_redis_int(2, argv) == 1;
}

int main(void)
{
    static const char set_both[] =
        "redis.call('SET', KEYS[1], 1)\n"
        "redis.call('SET', KEYS[2], 1)\n"
        "return 1";
    static const char reach_out[] =
        "redis.call('SET', KEYS[1], 1)\n"
        "return redis.call('SET', ARGV[1], 1)";
    const char *slots_full[] = {"CLUSTER", "COUNTKEYSINSLOT", "0"};

    t_init();
    plan(7);

    ok(t_redis_int(3, slots_full) >= 0 && keyslot("a") >= 0,
       "the test stack's Redis answers CLUSTER commands: a cluster node");
    ok(keyslot("{c:7}:waiting") == keyslot("{c:7}:active") && keyslot("{c:7}:seat:3:12") == keyslot("{c:7}:conf"),
       "a concert's queue and seat-lock keys share one slot ({c:C})");
    ok(keyslot("{login}:failures:account:ab") == keyslot("{login}:failures:address:127.0.0.1") &&
           keyslot("{login}:failures:account:ab:address:2001:db8::/64") == keyslot("{login}:failures:account:ab"),
       "the failed-login counters share one slot ({login})");
    {
        const char *argv[] = {"EVAL", set_both, "2", "{t2b:x}:one", "{t2b:y}:two"};
        int refused = t_redis_cmd(5, argv) != 0;
        ok(refused && keyslot("{t2b:x}:one") != keyslot("{t2b:y}:two"),
           "a script given keys of two slots is refused");
        ok(!exists("{t2b:x}:one") && !exists("{t2b:y}:two"), "and it changed nothing");
    }
    {
        /* Through the loader the responders use. */
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
    }
    {
        const char *argv[] = {"EVAL", set_both, "2", "{t2b:x}:one", "{t2b:x}:two"};
        const char *del[] = {"DEL", "{t2b:x}:one", "{t2b:x}:two", "{t2b:x}:three"};
        ok(t_redis_int(5, argv) == 1 && exists("{t2b:x}:two"), "keys sharing a hash tag run in one script");
        t_redis_cmd(4, del);
    }
    return done_testing();
}
