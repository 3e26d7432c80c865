/* 96-kafka-bridge-no-scan: the relay finds the concerts' queue streams it
 * bridges into Kafka from the concerts PostgreSQL lists, not by SCANning
 * Redis's whole keyspace: with a million sessions in Redis that scan took
 * seconds, once a second, inside the relay's loop, and every outbox event
 * waited behind it (the bench's journey saw the relay fall 4-6 s behind).
 *
 * With a Kafka broker: MONITOR sees no SCAN for queue streams over three
 * seconds of the relay's work, and a new concert's queue events still
 * reach queue-events within a few seconds of its first token. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "kafkalib.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_MS 3000

int main(void)
{
    char a[37], b[37], *tok_a, *tok_b;
    struct kt_topic queue;
    struct redisContext *mon;
    int64_t concert, sched[1];
    long scans = 0, commands = 0, missing = -1, entries = 0;
    double t0;

    t_init();
    if (!kt_init())
        bail_out("no Kafka broker: ./dev test runs one for the events tests (t/9*)");
    plan(2);

    step("the relay's commands to Redis, watched for three seconds");
    mon = t_redis_monitor();
    t0 = t_now_s();
    for (;;) {
        /* A read that times out leaves the connection unusable: the
         * wait is what remains of the watch, and a quiet end ends it. */
        int left_ms = WATCH_MS - (int)((t_now_s() - t0) * 1000);
        char *line = left_ms > 0 ? t_redis_monitor_line(mon, left_ms) : NULL;

        if (!line)
            break;
        commands++;
        scans += strstr(line, "\"SCAN\"") && strstr(line, "queue-events");
        free(line);
    }
    redisFree(mon);
    ok(scans == 0, "no SCAN for queue streams (%ld, of %ld commands)", scans, commands);

    step("a new concert's queue events still reach Kafka");
    concert = bk_two_active(sched, a, &tok_a, b, &tok_b);
    t0 = t_now_s();
    while (missing != 0 && t_now_s() - t0 < 5) {
        t_sleep_ms(250);
        kt_read_topic("queue-events", &queue);
        entries = 0;
        missing = kt_queue_missing(concert, &queue, &entries);
        kt_free_topic(&queue);
    }
    ok(missing == 0 && entries > 0, "the concert's %ld queue events were in queue-events %.1f s after its tokens",
       entries, t_now_s() - t0);

    free(tok_a);
    free(tok_b);
    return done_testing();
}
