/* ab-ha-kafka-redis-kill: a Redis Cluster primary (slot 0's) is killed
 * with -9 on the several-hosts stack (./dev test --ha), under 8 clients'
 * journeys through lb, told as the events see it (kafkalib.h, kt_story):
 * the relays read the queue streams from the shards as the new map says
 * (its replica promoted) and the outbox from PostgreSQL: nothing they had
 * published is lost, and nothing is sent with another content. Clients
 * may see the contract's 503 with Retry-After, or a 401 for a session the
 * replica never got. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "kafkalib.h"

int main(void)
{
    static const struct kt_story s = {
        .fault = "redis-kill", .what = "the Redis primary killed with -9", .hold_ms = 6000, .errors_allowed = 1,
    };

    return kt_story_test(&s);
}
