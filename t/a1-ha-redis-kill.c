/* a1-ha-redis-kill: the Redis primary's server is killed with -9 on the
 * several-hosts stack (./dev test --ha) while clients book through lb.
 *
 * 8 clients walk users through the journey (faultlib.h) over both app
 * hosts. The Redis primary is killed; the three Sentinels promote the
 * replica, and every responder, the cron program and the relay find it
 * through them with nothing restarted. Meanwhile every request needs Redis
 * (each carries a session or a queue token), so clients may see only the
 * contract's 503 with Retry-After; a 401 is allowed for a session or token
 * made before the failover (Redis replicates asynchronously: what the
 * primary had not yet sent its replica is lost). The killed server comes
 * back as a replica (./dev fault heal). Afterwards no seat is held or sold
 * twice, every balance equals its ledger, and every 2xx is in PostgreSQL.
 * How long clients saw errors, and which, is printed. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    static const struct f_failover kill = {
        .fault = "redis-kill", .store = "Redis", .health = "redis", .prefix = "redis",
        .done = "killed with -9", .wait_ms = 30000, .needs = f_needs_redis, .lost_sessions = 1,
    };

    return f_failover_test(&kill, 8);
}
