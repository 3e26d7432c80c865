/* a4-ha-redis-cut: the host of a Redis Cluster primary is cut off from
 * every other host (its link down, its two servers still running) on the
 * several-hosts stack (./dev test --ha) while clients book through lb,
 * then the link comes back.
 *
 * 8 clients walk users through the journey (faultlib.h). The host cut is
 * the one whose primary owns the load's concert; it also holds another
 * shard's replica. The two primaries left (a majority of three) fail the
 * lost one and promote its replica on the next host; the responders' lost
 * replies and unreachable nodes make them ask for the map again (nodes
 * that did not answer lately asked last, so the cut host costs a timeout
 * now and then, not on every refresh). Meanwhile clients may see only the
 * contract's 503 with Retry-After (or a 401 for a session or token written
 * just before the cut, which had not reached the replica). The old
 * primary, cut off from the majority, takes no writes after the node
 * timeout; when its link is back the cluster turns it into a replica of
 * the new one (the two never both take the service's writes), and heal has
 * it take its shard back. Afterwards no seat is held or sold twice, every
 * balance equals its ledger, and every 2xx is in PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    static const struct f_failover cut = {
        .fault = "redis-cut", .store = "Redis", .health = "redis", .prefix = "redis",
        .done = "cut off, still running", .wait_ms = 30000, .needs = f_needs_redis, .lost_sessions = 1,
        .cluster = 1,
    };

    return f_failover_test(&cut, 8);
}
