/* 95-kafka-redis-lost: Kafka's delivery does not hang on what Redis holds.
 * With a Kafka broker, under a load of journeys:
 *   - the outbox's two streams and their markers are deleted (what a flush
 *     or a failover to an empty replica leaves): the relay publishes the
 *     last day to the streams again, and Kafka is sent none of it twice;
 *   - Redis is stopped for two seconds and started again: the batch Kafka
 *     stored while Redis refused its XADDs is not sent to Kafka on retry.
 * Afterwards every outbox row of the story is in its Kafka topic and in its
 * stream, no eventId came to Kafka twice (counted against what earlier
 * tests left in the topics), each user's events are in commit order, and
 * the invariants of faultlib.h hold. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "kafkalib.h"
#include "keyspace.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The eventIds a stream holds, sorted (malloc'd, as is each). */
static char **stream_event_ids(const char *stream, size_t *n)
{
    const char *argv[] = {"XRANGE", stream, "-", "+"};
    struct redisReply *reply = t_redis(4, argv);
    char **ids;

    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        bail_out("cannot read a stream");
    ids = malloc((reply->elements + 1) * sizeof *ids);
    if (!ids)
        bail_out("out of memory");
    *n = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        struct redisReply *f = reply->element[i]->element[1];

        for (size_t k = 0; k + 1 < f->elements; k += 2)
            if (strcmp(f->element[k]->str, "eventId") == 0)
                ids[(*n)++] = strdup(f->element[k + 1]->str);
    }
    freeReplyObject(reply);
    qsort(ids, *n, sizeof *ids, by_text);
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* The story's rows whose eventId their stream lacks. */
static long rows_missing_from_streams(const struct kt_row *rows, size_t nrows)
{
    size_t nres, npay;
    char **res = stream_event_ids(KEYSPACE_STREAM_RESERVATIONS, &nres);
    char **pay = stream_event_ids(KEYSPACE_STREAM_PAYMENTS, &npay);
    long missing = 0;

    for (size_t i = 0; i < nrows; i++) {
        int is_res = strcmp(rows[i].topic, KEYSPACE_STREAM_RESERVATIONS) == 0;
        const char *id = rows[i].event_id;

        if (!bsearch(&id, is_res ? res : pay, is_res ? nres : npay, sizeof id, by_text) && ++missing <= 3)
            diag("outbox %" PRId64 " (%s) not in the stream %s", rows[i].id, id, rows[i].topic);
    }
    free_ids(res, nres);
    free_ids(pay, npay);
    return missing;
}

/* The redeliveries both topics hold now (same eventId, same content); the
 * conflicts (another content) added to *conflicts. */
static long topic_duplicates(long *conflicts)
{
    struct kt_topic res, pay;
    long dup = 0;

    kt_read_topic(KEYSPACE_STREAM_RESERVATIONS, &res);
    kt_read_topic(KEYSPACE_STREAM_PAYMENTS, &pay);
    *conflicts += kt_conflicts_in(&res, &dup) + kt_conflicts_in(&pay, &dup);
    kt_free_topic(&res);
    kt_free_topic(&pay);
    return dup;
}

/* Deletes a stream and its marker, one command each (they share a slot,
 * but the two streams do not). */
static int lose_stream(const char *stream)
{
    char marker[64];
    const char *del_stream[] = {"DEL", stream}, *del_marker[] = {"DEL", marker};

    keyspace_stream_marker(marker, sizeof marker, stream);
    return t_redis_cmd(2, del_stream) == 0 && t_redis_cmd(2, del_marker) == 0 ? 0 : -1;
}

int main(void)
{
    struct f_load L;
    struct kt_topic res, pay;
    struct kt_row *rows;
    size_t nrows;
    int64_t start_id, unsent, sent_before;
    long conflicts_before = 0, conflicts = 0, dup_before, dup, order;
    char found[256];

    f_require_stack();
    if (!kt_init())
        bail_out("no Kafka broker: ./dev test runs one for the events tests (t/9*)");
    plan(10 + F_CHECKS);

    step("the relay idle; the redeliveries earlier tests left counted");
    if (kt_unsent_after_wait(60000) != 0)
        bail_out("the relay did not catch up with the outbox");
    start_id = t_pg_int("SELECT coalesce(max(id), 0) FROM outbox", 0, NULL);
    dup_before = topic_duplicates(&conflicts_before);
    diag("the topics hold %ld redeliveries from earlier tests", dup_before);

    step("journeys while the streams and their markers are lost");
    if (f_load_start(&L, "kafka-redis-lost", 6, 1000, 1) < 0)
        bail_out("cannot start the load");
    t_sleep_ms(2000);
    sent_before = t_pg_int("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL", 0, NULL);
    ok(lose_stream(KEYSPACE_STREAM_RESERVATIONS) == 0 && lose_stream(KEYSPACE_STREAM_PAYMENTS) == 0,
       "both streams and their markers deleted under load (%" PRId64 " rows were sent)", sent_before);
    t_sleep_ms(2500);

    step("journeys while Redis stops for two seconds and starts again");
    ok(f_dev("redis-stop") == 0, "Redis stopped under load");
    t_sleep_ms(2000);
    ok(f_dev("redis-start") == 0, "Redis started again (from its files)");
    t_sleep_ms(2500);
    f_load_stop(&L);
    f_check_state(&L, f_tap_report);

    step("Redis has every event again; Kafka got none twice");
    unsent = kt_unsent_after_wait(30000);
    ok(unsent == 0, "the relay caught up: no outbox row unsent (%" PRId64 ")", unsent);
    t_grep_logs(getenv("CONCERT_VAR"), "are published again", found, sizeof found);
    ok(found[0] != '\0', "the relay published the lost streams again (its log: %s)", found);
    rows = kt_story_rows(start_id, &nrows);
    ok(nrows > 20 && rows_missing_from_streams(rows, nrows) == 0,
       "every outbox row of the story (%zu) is in its stream again", nrows);
    kt_read_topic(KEYSPACE_STREAM_RESERVATIONS, &res);
    kt_read_topic(KEYSPACE_STREAM_PAYMENTS, &pay);
    ok(kt_rows_missing(rows, nrows, &res, &pay) == 0, "and in its Kafka topic: nothing lost");
    order = kt_order_violations(&res, rows, nrows) + kt_order_violations(&pay, rows, nrows);
    ok(order == 0, "each user's events in commit order, in one partition (%ld wrong)", order);
    kt_free_topic(&res);
    kt_free_topic(&pay);
    dup = topic_duplicates(&conflicts);
    ok(conflicts == conflicts_before, "no eventId with two contents (%ld)", conflicts - conflicts_before);
    ok(dup == dup_before, "no event was sent to Kafka twice (%ld duplicates, of %" PRId64 " rows published again)",
       dup - dup_before, sent_before);

    free(rows);
    f_load_free(&L);
    return done_testing();
}
