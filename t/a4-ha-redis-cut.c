/* a4-ha-redis-cut: the Redis primary is cut off from every other host (its
 * link down, the server still running) on the several-hosts stack (./dev
 * test --ha) while clients book through lb, then the link comes back.
 *
 * 8 clients walk users through the journey (faultlib.h). The two Sentinels
 * that still see each other (a majority of three) promote the replica; the
 * responders cannot reach the old primary, ask the Sentinels, and use the
 * new one. Meanwhile clients may see only the contract's 503 with
 * Retry-After (or a 401 for a session or token made just before the cut,
 * which had not reached the replica). When the link is back the Sentinels
 * turn the old primary into a replica of the new one: the two never both
 * take the service's writes. Afterwards no seat is held or sold twice, every
 * balance equals its ledger, and every 2xx is in PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    static const struct f_failover cut = {
        .fault = "redis-cut", .store = "Redis", .health = "redis", .prefix = "redis",
        .done = "cut off, still running", .wait_ms = 30000, .needs = f_needs_redis, .lost_sessions = 1,
    };

    return f_failover_test(&cut, 8);
}
