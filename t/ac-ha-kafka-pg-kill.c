/* ac-ha-kafka-pg-kill: the PostgreSQL primary's host is killed
 * on the several-hosts stack (./dev test --ha), under 8 clients' journeys
 * through lb, told as the events see it (kafkalib.h, kt_story): the
 * standby is promoted; a relay whose batch was published but not yet
 * marked sent publishes it again (same eventId, same content), and the
 * rows committed before the failover are all in their topics. Clients may
 * see the contract's 503 with Retry-After. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "kafkalib.h"

int main(void)
{
    static const struct kt_story s = {
        .fault = "pg-kill", .what = "the PostgreSQL primary's host killed", .hold_ms = 8000, .errors_allowed = 1,
    };

    return kt_story_test(&s);
}
