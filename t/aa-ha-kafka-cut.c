/* aa-ha-kafka-cut: the Kafka broker that leads the most partitions is cut off
 * the network, still running
 * on the several-hosts stack (./dev test --ha), under 8 clients' journeys
 * through lb, told as the events see it (kafkalib.h, kt_story): the controllers fence
 * it after 4 s and move its partitions' leadership; the in-sync copies
 * drop it after 5 s, so writes go on with two. Clients see no error. At
 * the heal its link comes back and it catches up as a follower. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "kafkalib.h"

int main(void)
{
    static const struct kt_story s = {
        .fault = "kafka-cut", .what = "the broker leading the most partitions cut off", .hold_ms = 8000, .errors_allowed = 0,
    };

    return kt_story_test(&s);
}
