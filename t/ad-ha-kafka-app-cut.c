/* ad-ha-kafka-app-cut: app1 is cut off the network while its relay works
 * on the several-hosts stack (./dev test --ha), under 8 clients' journeys
 * through lb, told as the events see it (kafkalib.h, kt_story): the
 * rows app1's relay had claimed are published by app2's once the batch
 * lock lapses, or by app1's when it comes back; either way with the same
 * eventId and content, and each user's in order. Clients may see the
 * contract's 503 with Retry-After for requests in flight on app1. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "kafkalib.h"

int main(void)
{
    static const struct kt_story s = {
        .fault = "app1-cut", .what = "app1 cut off, its relay mid-batch", .hold_ms = 6000, .errors_allowed = 1,
    };

    return kt_story_test(&s);
}
