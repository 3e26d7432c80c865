/* relay.c - concert-relay, the outbox's publisher: PostgreSQL's outbox rows
 * (sql/050_events.sql) to the Redis Streams named by their topics.
 *
 * A loop, until SIGTERM:
 *   1. once a second, holding the publishing lock: whatever Redis has lost
 *      of what was published is marked unsent, so it is published again
 *      (check_markers, below);
 *   2. in one transaction: outbox_claim takes up to BATCH_ROWS unsent rows in id
 *      order (or none, when another relay is publishing: one at a time, so
 *      a later change never overtakes an earlier one), they are XADDed to
 *      their streams with their eventIds in one pipeline, followed by the
 *      batch's number in each stream's marker, and outbox_mark_sent marks
 *      them sent by that batch;
 *   3. when it found nothing to publish, waits for a NOTIFY on "outbox"
 *      (a change sends one at commit when no earlier row waits unsent), at
 *      most SWEEP_MS, then goes on: the periodic sweep is the safety net
 *      for a notification missed while disconnected; when it published
 *      something, it looks again after GATHER_MS.
 * At least once: a relay killed after XADD and before COMMIT leaves the
 * rows unsent, and they are published again with the same eventId. An XADD
 * whose reply is lost ends the batch the same way; nothing is marked sent
 * that Redis did not acknowledge. A dead PostgreSQL or Redis is waited out,
 * a second at a time, and logged once.
 *
 * Given Kafka's brokers (kafka_brokers in the config), each batch also goes
 * to the Kafka topics of the same names (relay/kafka_sink.h), before the
 * XADDs: the rows are marked sent only when Kafka's delivery reports said
 * every one is stored (and Redis acknowledged them). Kafka's progress is
 * kept apart, in each row's kafka_sent_at (sql/081_outbox_kafka_sent.sql),
 * set once the reports came and committed even when Redis then refuses the
 * batch: a row marked unsent again because Redis lost it (a flush, a
 * failover, a restart from an older copy) goes to Redis alone, so what
 * Redis loses is never sent to Kafka twice. And, under the same
 * lock, the queue streams are copied into the topic queue-events
 * (relay/queue_bridge.h).
 *
 * The holds Redis keeps (shared/hold.h) write their reservation events to
 * each concert's stream; under the same lock they are copied into the
 * stream reservation-events (and, with Kafka, its topic), before any
 * outbox row claimed with them, so a hold's reservation.held goes out
 * before its confirmation. The relay looks for such work every
 * HOLD_LOOK_MS, so an event is out within a second. */
#include "app.h"
#include "config.h"
#include "contract_limits.h"
#include "db.h"
#include "kafka_sink.h"
#include "keyspace.h"
#include "log.h"
#include "queue_bridge.h"
#include "rds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH_ROWS 500
#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
#define SWEEP_MS 1000
/* After a batch that was not full, how long changes gather before the next. */
#define GATHER_MS 20
/* How often the markers (below) are looked at. */
#define MARKER_EVERY_MS 1000
/* How long the server lets the relay's transaction sit idle (relay_session). */
#define RELAY_IDLE_TX_MS 4000
/* With Kafka: how long a batch waits for its delivery reports (below the
 * idle limit above). How often the concerts' streams are looked at when
 * nothing happens: an event is out within a second, and Redis still has
 * quiet moments (a MONITOR reader waits for 300 ms of them). */
#define KAFKA_WAIT_MS 3500
#define HOLD_LOOK_MS 500

static struct kafka_sink *sink;         /* NULL: Redis Streams only */
static struct queue_bridge *bridge;      /* the queue streams to Kafka; NULL without Kafka */
static struct queue_bridge *hold_bridge; /* the holds' streams to reservation-events (and Kafka) */

/* The streams the bridges copy: each concert's queue events and holds'. */
static void queue_stream_of(char *out, size_t size, int64_t concert_id)
{
    keyspace_queue(out, size, concert_id, QUEUE_KEY_EVENTS);
}

static void hold_stream_of(char *out, size_t size, int64_t concert_id)
{
    keyspace_hold(out, size, concert_id, HOLD_KEY_EVENTS);
}

/* The outbox's topics (its CHECK constraint, sql/050_events.sql). Beside
 * each stream, in its hash slot, a marker key holds the number of the last
 * batch that wrote to it (sql/071_relay_batches.sql), set in the same
 * pipeline after the batch's XADDs: whatever copy of Redis holds a marker
 * holds every entry of that batch and the ones before. A marker behind
 * what PostgreSQL says was sent (Redis restarted from an older copy, an
 * RDB snapshot, a replica promoted before it had the last writes) or gone
 * (a restart without persistence, a flush) has those rows published again,
 * with their eventIds. */
static const char *const topics[] = {KEYSPACE_STREAM_RESERVATIONS, KEYSPACE_STREAM_PAYMENTS};
#define NTOPICS (sizeof topics / sizeof topics[0])
_Static_assert(NTOPICS == 2, "publish_batch's claim names each topic");
#define MARKER_KEY_SIZE 64

/* The single marker of relays before the batch numbers ("Redis holds what
 * was published"). Found while a topic's marker is missing (the first
 * check after an upgrade), it stands for that marker: the markers are set
 * to the last batch sent, nothing is republished, and it is deleted. */
#define OLD_MARKER_KEY KEYSPACE_RELAY_OLD_MARKER
/* A batch number no row has: with it outbox_republish_after finds nothing
 * to publish again and only says the last batch. */
#define NO_BATCH_AFTER "9223372036854775807"

/* shared/lua/relay_advance_marker.lua: a batch moves a marker on only from
 * where PostgreSQL says the topic's last sent batch was (or beyond), never
 * from behind it (the script says why). KEYS: the marker. ARGV: the last
 * batch sent (-1: none), this batch. Sent with EVAL in the batch's
 * pipeline, as advance_marker_text (read once, in main). */
extern struct rds_script lua_relay_advance_marker;
static char *advance_marker_text;

static void marker_key(const char *topic, char key[MARKER_KEY_SIZE])
{
    keyspace_stream_marker(key, MARKER_KEY_SIZE, topic);
}

/* The relay's own connection (it LISTENs and runs transactions), made on
 * demand, with its session settings on every new one. A relay whose host
 * is cut off mid-claim leaves its backend idle in the transaction that
 * holds the outbox's advisory lock and its rows: no relay could publish
 * until TCP gave up on the host, minutes or hours later. The server ends
 * such a transaction after a few idle seconds, and notices a silent peer
 * through keepalives, or unacked data, within seconds; the other relay then
 * takes over. A claim whose XADDs outlast that gives up the same way: its
 * rows stay unsent and are published again, with the same eventIds. */
static struct db *pg;
static const char relay_session[] =
    "SET idle_in_transaction_session_timeout = '" TEXT(RELAY_IDLE_TX_MS) "ms';"
    " SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1;"
    " SET tcp_keepalives_count = 2; SET tcp_user_timeout = " TEXT(RELAY_IDLE_TX_MS) ";"
    " LISTEN outbox";
static int redis_down_logged;

static void redis_failed(void)
{
    if (!redis_down_logged)
        log_error("Redis is unreachable or refused a command");
    redis_down_logged = 1;
}

static void redis_ok(void)
{
    if (redis_down_logged)
        log_info("Redis is back");
    redis_down_logged = 0;
}

/* A marker's value: the batch number, or -1 when there is none (or it holds
 * something else, which only a hand could have put there). */
static long long marker_batch(const redisReply *reply, const char *topic)
{
    char *end;
    long long batch;

    if (!reply || reply->type != REDIS_REPLY_STRING)
        return -1;
    errno = 0;
    batch = strtoll(reply->str, &end, 10);
    if (errno || end == reply->str || *end || batch < 0) {
        log_error("the marker of %s holds no batch number; taken as missing", topic);
        return -1;
    }
    return batch;
}

/* Opens a transaction and takes the publishing lock in it (outbox_lock,
 * held until the transaction ends): 1 when this relay holds it, 0 when
 * another does (the transaction stays open), -1 on trouble (none open). */
static int begin_holding_outbox_lock(void)
{
    static const char lock_sql[] = "SELECT outbox_lock()";
    PGresult *res;
    int held;

    if (db_begin(pg) != DB_OK)
        return -1;
    if (db_query_on(pg, lock_sql, 0, NULL, &res) != DB_OK || PQntuples(res) != 1) {
        log_error("outbox_lock failed");
        PQclear(res);
        db_rollback(pg);
        return -1;
    }
    held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return held;
}

/* Step 1: for each topic, the rows Redis has lost are marked unsent
 * (outbox_republish_after), under the publishing lock, so that no batch
 * lands between reading a marker and comparing it. A topic whose marker
 * was missing gets one, before the commit: the last batch of the rows
 * still marked sent, so that if the commit fails, the rows it would have
 * marked unsent are past the marker and the next check finds them.
 * Returns 0, or -1 on trouble. */
static int check_markers(void)
{
    static const char republish_sql[] =
        "SELECT republished, last_batch FROM outbox_republish_after($1, $2::bigint)";
    char keys[NTOPICS][MARKER_KEY_SIZE], batch_text[24];
    const char *get_argv[NTOPICS + 1][2], **argv_of[NTOPICS + 1];
    int argc_of[NTOPICS + 1], missing[NTOPICS] = {0}, got, rc = -1, upgrade = 0, held;
    long republished[NTOPICS] = {0};
    long long batch[NTOPICS];
    redisReply *replies[NTOPICS + 1] = {NULL};
    PGresult *res;

    held = begin_holding_outbox_lock();
    if (held < 0)
        return -1;
    if (!held) {
        /* Another relay is publishing: it checks too. */
        rc = 0;
        goto out;
    }
    for (size_t t = 0; t < NTOPICS; t++) {
        marker_key(topics[t], keys[t]);
        get_argv[t][0] = "GET";
        get_argv[t][1] = keys[t];
        argv_of[t] = get_argv[t];
        argc_of[t] = 2;
    }
    get_argv[NTOPICS][0] = "EXISTS";
    get_argv[NTOPICS][1] = OLD_MARKER_KEY;
    argv_of[NTOPICS] = get_argv[NTOPICS];
    argc_of[NTOPICS] = 2;
    got = rds_pipeline((int)NTOPICS + 1, argc_of, argv_of, replies);
    for (size_t t = 0; t <= NTOPICS && got == (int)NTOPICS + 1; t++)
        if (replies[t]->type == REDIS_REPLY_ERROR)
            got = -1;
    if (got != (int)NTOPICS + 1) {
        redis_failed();
        goto out;
    }
    redis_ok();
    upgrade = replies[NTOPICS]->type == REDIS_REPLY_INTEGER && replies[NTOPICS]->integer == 1;
    for (size_t t = 0; t < NTOPICS; t++) {
        const char *params[2];

        batch[t] = marker_batch(replies[t], topics[t]);
        snprintf(batch_text, sizeof batch_text, "%lld", batch[t]);
        params[0] = topics[t];
        params[1] = batch[t] >= 0 ? batch_text : upgrade ? NO_BATCH_AFTER : NULL;
        if (db_query_on(pg, republish_sql, 2, params, &res) != DB_OK || PQntuples(res) != 1) {
            log_error("outbox_republish_after failed");
            PQclear(res);
            goto out;
        }
        republished[t] = atol(PQgetvalue(res, 0, 0));
        missing[t] = batch[t] < 0;
        if (missing[t]) {
            const char *set[] = {"SET", keys[t], PQgetvalue(res, 0, 1)};
            redisReply *reply = rds_command(3, set, NULL);

            if (!reply) {
                redis_failed();
                PQclear(res);
                goto out;
            }
            freeReplyObject(reply);
        }
        PQclear(res);
    }
    rc = 0;
out:
    for (size_t t = 0; t <= NTOPICS; t++)
        if (replies[t])
            freeReplyObject(replies[t]);
    if (rc == 0 && db_commit(pg) != DB_OK)
        return -1;
    if (rc < 0) {
        db_rollback(pg);
        return -1;
    }
    for (size_t t = 0; t < NTOPICS; t++) {
        if (republished[t] > 0 && missing[t])
            log_info("Redis holds none of %s: %ld events of the last 24 hours are published again", topics[t],
                     republished[t]);
        else if (republished[t] > 0)
            log_info("Redis has %s only up to batch %lld: the %ld events sent after it are published again",
                     topics[t], batch[t], republished[t]);
    }
    if (upgrade) {
        const char *del[] = {"DEL", OLD_MARKER_KEY};
        redisReply *reply = rds_command(2, del, NULL);

        if (reply)
            freeReplyObject(reply);
        log_info("the markers beside the streams replace %s", OLD_MARKER_KEY);
    }
    return 0;
}

/* The event of outbox row i of a claimed batch. */
static void row_event(PGresult *res, int i, struct event_fields *ev)
{
    ev->event_id = PQgetvalue(res, i, 1);
    ev->type = PQgetvalue(res, i, 3);
    ev->occurred_at = PQgetvalue(res, i, 5);
    ev->concert_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
    ev->data = PQgetvalue(res, i, 6);
}

/* The XADDs of all n rows, then the batch's number in the marker of each
 * stream written to (advance_marker_text; last_sent[t]: the topic's last
 * batch sent), pipelined (one round trip, applied in order): 0 when Redis
 * acknowledged every one. */
static int publish_rows(PGresult *res, int n, const char *minid, const char *batch,
                        const char *const last_sent[NTOPICS])
{
    int total = n + (int)NTOPICS;
    const char **args = malloc(sizeof *args * (size_t)total * EVENT_XADD_ARGC);
    const char ***argv_of = malloc(sizeof *argv_of * (size_t)total);
    int *argc_of = malloc(sizeof *argc_of * (size_t)total);
    char keys[NTOPICS][MARKER_KEY_SIZE];
    int rc = -1, used[NTOPICS] = {0};

    if (!args || !argv_of || !argc_of) {
        log_error("out of memory for %d events", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char **a = args + (size_t)i * EVENT_XADD_ARGC;
        struct event_fields ev;

        row_event(res, i, &ev);
        event_xadd_argv(a, PQgetvalue(res, i, 2), minid, &ev);
        argv_of[i] = a;
        argc_of[i] = EVENT_XADD_ARGC;
        for (size_t t = 0; t < NTOPICS; t++)
            if (strcmp(a[1], topics[t]) == 0)
                used[t] = 1;
    }
    {
        int k = n;

        for (size_t t = 0; t < NTOPICS; t++) {
            const char **a = args + (size_t)k * EVENT_XADD_ARGC;

            if (!used[t])
                continue;
            marker_key(topics[t], keys[t]);
            a[0] = "EVAL";
            a[1] = advance_marker_text;
            a[2] = "1";
            a[3] = keys[t];
            a[4] = last_sent[t];
            a[5] = batch;
            argv_of[k] = a;
            argc_of[k] = 6;
            k++;
        }
        total = k;
    }
    rc = rds_pipeline_ok(total, argc_of, argv_of);
    if (rc < 0)
        redis_failed();
    else
        redis_ok();
out:
    free(args);
    free(argv_of);
    free(argc_of);
    return rc;
}

/* The claim's column saying Kafka lacks the row (outbox_claim's to_kafka). */
#define CLAIM_TO_KAFKA (8 + (int)NTOPICS)

/* The batch's rows that Kafka lacks, each to the topic of its stream.
 * Returns how many were sent, or -1 after ending the round (a send
 * refused). */
static int send_to_kafka(PGresult *res, int n)
{
    int sent = 0;

    for (int i = 0; i < n; i++) {
        struct event_fields ev;

        if (strcmp(PQgetvalue(res, i, CLAIM_TO_KAFKA), "t") != 0)
            continue;   /* stored before Redis lost it: Redis alone gets it again */
        row_event(res, i, &ev);
        if (kafka_sink_send(sink, PQgetvalue(res, i, 2), &ev) < 0) {
            kafka_sink_wait(sink, 0);
            return -1;
        }
        sent++;
    }
    return sent;
}

/* One of the outbox_mark_* calls on the batch's ids: 0, or -1 (logged). */
static int mark_rows(const char *sql, int nparams, const char *const *params)
{
    PGresult *res = NULL;
    int rc = db_query_on(pg, sql, nparams, params, &res) == DB_OK ? 0 : -1;

    if (rc < 0)
        log_error("%s failed", sql);
    PQclear(res);
    return rc;
}

/* Every concert's id, for the bridges to find their streams by (the cron
 * program sweeps the queues by the same list). 0, or -1 (logged). */
static int give_bridge_concerts(void)
{
    static const char sql[] = "SELECT id FROM concerts ORDER BY id";
    PGresult *res = NULL;
    int64_t *ids = NULL;
    int n, rc = -1;

    if (db_query_on(pg, sql, 0, NULL, &res) != DB_OK) {
        log_error("the concerts could not be listed for the stream bridges");
        goto out;
    }
    n = PQntuples(res);
    ids = malloc(sizeof *ids * (size_t)(n > 0 ? n : 1));
    if (!ids) {
        log_error("out of memory for %d concerts", n);
        goto out;
    }
    for (int i = 0; i < n; i++)
        ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    rc = queue_bridge_concerts(hold_bridge, ids, n);
    if (bridge && queue_bridge_concerts(bridge, ids, n) < 0)
        rc = -1;
out:
    PQclear(res);
    free(ids);
    return rc;
}

/* The concerts' streams bridged (the holds' always, the queue's with
 * Kafka), while this relay holds the publishing lock (another relay
 * bridging at the same time could put a user's later event ahead of an
 * earlier one). Returns the entries bridged, or -1. */
static int bridge_streams(void)
{
    int held = begin_holding_outbox_lock(), n = 0;

    if (held < 0)
        return -1;
    if (held) {
        if (queue_bridge_wants_concerts(hold_bridge))
            (void)give_bridge_concerts();   /* a failure: the streams known so far are bridged */
        n = queue_bridge_step(hold_bridge);
        if (bridge && n >= 0) {
            int q = queue_bridge_step(bridge);
            n = q < 0 ? -1 : n + q;
        }
    }
    if (db_commit(pg) != DB_OK) {
        db_rollback(pg);
        return -1;
    }
    return n;
}

/* Step 2. Returns the rows published, or -1 (the transaction rolled back:
 * they stay unsent). */
static int publish_batch(void)
{
    /* The batch's number and each topic's last batch sent ride along: an
     * uncorrelated subquery runs once (and not at all when there is
     * nothing to publish), after outbox_claim took the lock. */
    static const char claim_sql[] = "SELECT id, event_id, topic, type, concert_id, occurred_at, data, "
                                    "(SELECT outbox_next_batch()), (SELECT outbox_last_batch($2)), "
                                    "(SELECT outbox_last_batch($3)), to_kafka FROM outbox_claim($1::integer)";
    static const char mark_sent_sql[] = "SELECT outbox_mark_sent($1::bigint[], $2::bigint, $3::boolean)";
    static const char mark_kafka_sent_sql[] = "SELECT outbox_mark_kafka_sent($1::bigint[])";
    const char *claim_params[1 + NTOPICS] = {TEXT(BATCH_ROWS), topics[0], topics[1]};
    const char *last_sent[NTOPICS];
    const char *mark_params[3];
    char minid[32], batch[24], *ids = NULL;
    size_t cap = 0, len = 0;
    PGresult *res = NULL;
    int n, published = -1, kafka_marked = 0, kafka_stored = 0;

    if (db_begin(pg) != DB_OK)
        return -1;
    if (db_query_on(pg, claim_sql, 3, claim_params, &res) != DB_OK || PQnfields(res) != CLAIM_TO_KAFKA + 1) {
        log_error("outbox_claim failed");
        goto out;
    }
    n = PQntuples(res);
    if (n == 0) {
        published = 0;
        goto out;
    }
    event_minid(minid);
    /* "{id,id,...}": at most 20 characters an id. */
    cap = (size_t)n * 21 + 3;
    ids = malloc(cap);
    if (!ids) {
        log_error("out of memory for %d ids", n);
        goto out;
    }
    ids[len++] = '{';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(ids + len, cap - len, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
    snprintf(ids + len, cap - len, "}");
    snprintf(batch, sizeof batch, "%s", PQgetvalue(res, 0, 7));
    for (size_t t = 0; t < NTOPICS; t++)
        last_sent[t] = PQgetvalue(res, 0, 8 + (int)t);
    /* A reservation.held written by a hold's script before a row of this
     * batch committed (the row's confirmation, say) goes out first. */
    if (queue_bridge_step(hold_bridge) < 0)
        goto out;
    mark_params[0] = ids;
    mark_params[1] = batch;
    /* Kafka first: what the streams show is then in Kafka too, and the
     * rows are marked sent moments after their XADDs, as without Kafka. */
    if (sink) {
        int to_kafka = send_to_kafka(res, n);

        if (to_kafka < 0 || kafka_sink_wait(sink, KAFKA_WAIT_MS) < 0)
            goto out;
        kafka_stored = to_kafka > 0;
    }
    /* Refused: the rows stay unsent for Redis, and Kafka's marks are
     * committed all the same, so the retry does not send them there again.
     * Taken: one UPDATE marks both (a second one would write every row
     * again, on the busiest table's WAL). */
    if (publish_rows(res, n, minid, batch, last_sent) < 0) {
        kafka_marked = kafka_stored && mark_rows(mark_kafka_sent_sql, 1, mark_params) == 0;
        goto out;
    }
    mark_params[2] = kafka_stored ? "true" : "false";
    if (mark_rows(mark_sent_sql, 3, mark_params) < 0)
        goto out;
    published = n;
out:
    PQclear(res);
    free(ids);
    if (published >= 0 || kafka_marked) {
        if (db_commit(pg) == DB_OK)
            return published;
        published = -1;   /* unknown: the rows are published again, same eventIds */
    }
    db_rollback(pg);
    return published;
}

/* Step 3: a NOTIFY, the timeout or a signal. */
static void wait_for_work(int timeout_ms)
{
    (void)db_wait_notify(pg, timeout_ms);
}

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void)
{
    long total = 0;
    long long marker_due = 0;

    if (app_setup("concert-relay") < 0)
        return 1;
    advance_marker_text = rds_script_text(&lua_relay_advance_marker);
    if (!advance_marker_text)
        return 1;
    pg = db_open(g_config.pg_conninfo);
    if (!pg || db_set_session(pg, relay_session) < 0)
        return 1;
    /* Tried every second while down: logged once. */
    db_log_outage_once(pg);
    if (g_config.kafka_brokers) {
        static const char *const kafka_topics[] = {KEYSPACE_STREAM_RESERVATIONS, KEYSPACE_STREAM_PAYMENTS,
                                                   QUEUE_BRIDGE_TOPIC};

        sink = kafka_sink_open(g_config.kafka_brokers, kafka_topics, 3);
        bridge = sink ? queue_bridge_new(sink, queue_stream_of, NULL, QUEUE_BRIDGE_TOPIC, NULL) : NULL;
        if (!bridge)
            return 1;
        log_info("publishing to Kafka at %s as well", g_config.kafka_brokers);
    }
    hold_bridge = queue_bridge_new(sink, hold_stream_of, KEYSPACE_HOLD_STREAMS, KEYSPACE_STREAM_RESERVATIONS,
                                   KEYSPACE_STREAM_RESERVATIONS);
    if (!hold_bridge)
        return 1;
    app_catch_stop();
    log_info("started");
    while (!app_stop_asked()) {
        int n, bridged;

        if (db_connect_now(pg) != DB_OK) {
            sleep(1);
            continue;
        }
        if (now_ms() >= marker_due) {
            if (check_markers() < 0) {
                wait_for_work(SWEEP_MS);
                continue;
            }
            marker_due = now_ms() + MARKER_EVERY_MS;
        }
        n = publish_batch();
        bridged = bridge_streams();   /* a failure is logged; the entries stay pending */
        if (n > 0 || bridged > 0) {
            /* Rows may have come meanwhile without a NOTIFY (outbox_write
             * sends one only to a relay that found nothing): look again,
             * at once after a full batch, else after a moment's gathering
             * (in a rush that makes one batch of many changes instead of
             * a batch, with its four round trips, for every one or two).
             * The same while holds write their streams: a step bridges a
             * few hundred entries a stream, and a look every HOLD_LOOK_MS
             * fell behind a rush of holds by more every second. */
            total += n;
            if (n < BATCH_ROWS)
                usleep(GATHER_MS * 1000);
            continue;
        }
        wait_for_work(HOLD_LOOK_MS);
    }
    log_info("stopped after publishing %ld events", total);
    if (sink)
        log_info("Kafka publish errors: %ld", kafka_sink_errors(sink));
    queue_bridge_free(bridge);
    queue_bridge_free(hold_bridge);
    kafka_sink_close(sink);
    db_free(pg);
    rds_close();
    free(advance_marker_text);
    return 0;
}
