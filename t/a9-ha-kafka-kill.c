/* a9-ha-kafka-kill: the Kafka broker that leads the most partitions is killed
 * with -9
 * on the several-hosts stack (./dev test --ha), under 8 clients' journeys
 * through lb, told as the events see it (kafkalib.h, kt_story): the other two
 * elect new leaders within a few seconds and the relays' idempotent
 * producers resend what was not acknowledged; clients see no error, since
 * no request waits for Kafka. The broker starts again at the heal. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "kafkalib.h"

int main(void)
{
    static const struct kt_story s = {
        .fault = "kafka-kill", .what = "the broker leading the most partitions killed with -9", .hold_ms = 8000, .errors_allowed = 0,
    };

    return kt_story_test(&s);
}
