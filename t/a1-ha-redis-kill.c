/* a1-ha-redis-kill: a Redis Cluster primary's server is killed with -9 on
 * the several-hosts stack (./dev test --ha) while clients book through lb.
 *
 * 8 clients walk users through the journey (faultlib.h) over both app
 * hosts. The primary killed is the one owning the load's concert (its
 * queue, seat locks and seat maps); the sessions are spread over all
 * three shards. Its replica, on the next host, is promoted once the other
 * primaries agree it failed (the node timeout, 1.5 s, and a second for the
 * vote), and every responder, the cron program and the relay follow the
 * new map (MOVED, or a map asked for again after a lost reply) with
 * nothing restarted. Meanwhile requests that need the lost shard may see
 * only the contract's 503 with Retry-After; a 401 is allowed for a session
 * or token written just before the kill (replication is asynchronous: what
 * the primary had not yet sent its replica is lost; their number is
 * printed). The killed server is started again by its supervisor, rejoins
 * as its replacement's replica, and heal has it take its shard back.
 * Afterwards no seat is held or sold twice, every balance equals its
 * ledger, and every 2xx is in PostgreSQL. How long clients saw errors, and
 * which, is printed. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    static const struct f_failover kill = {
        .fault = "redis-kill", .store = "Redis", .health = "redis", .prefix = "redis",
        .done = "killed with -9", .wait_ms = 30000, .needs = f_needs_redis, .lost_sessions = 1, .cluster = 1,
    };

    return f_failover_test(&kill, 8);
}
