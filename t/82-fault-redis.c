/* 82-fault-redis: Redis stopped for a few seconds under load, then started.
 *
 * While Redis is away, every request needs it - the seat map, holds and
 * payments check the queue token there, charges, token issuance, the
 * balance and the reservation list the user's session - and gets a JSON 503
 * with Retry-After. When it is back the responders reconnect by themselves -
 * the same processes, none restarted - and every request succeeds again.
 * Redis comes back with what it had (its append-only file, conf/redis.conf);
 * a Redis that came back empty would cost tokens and sessions made before,
 * so a 401 (TOKEN_INVALID, SESSION_INVALID) for one of those is still
 * allowed: the client logs in again or takes a new token. Then the
 * invariants of faultlib.h. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    static const struct f_outage outage = {
        .name = "redis", .store = "Redis", .stop_how = "", .health = "redis", .settle_ms = 1000,
        .needs = f_needs_redis, .tokens_may_be_lost = 1,
    };

    return f_outage_test(&outage);
}
