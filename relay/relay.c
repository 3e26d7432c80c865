/* relay.c - concert-relay, the outbox's publisher: PostgreSQL's outbox rows
 * (sql/050_events.sql) to the Redis Streams named by their topics.
 *
 * A loop, until SIGTERM:
 *   1. once a second: when Redis has lost what was published (the marker
 *      key is gone: a restart without persistence, a flush), every row sent
 *      in the last 24 hours is marked unsent, so it is published again;
 *   2. in one transaction: outbox_claim takes up to BATCH_ROWS unsent rows in id
 *      order (or none, when another relay is publishing: one at a time, so
 *      a later change never overtakes an earlier one), they are XADDed to
 *      their streams with their eventIds in one pipeline, and
 *      outbox_mark_sent marks them;
 *   3. when it found nothing to publish, waits for a NOTIFY on "outbox"
 *      (a change sends one at commit when no earlier row waits unsent), at
 *      most SWEEP_MS, then goes on: the periodic sweep is the safety net
 *      for a notification missed while disconnected; when it published
 *      something, it looks again after GATHER_MS.
 * At least once: a relay killed after XADD and before COMMIT leaves the
 * rows unsent, and they are published again with the same eventId. An XADD
 * whose reply is lost ends the batch the same way; nothing is marked sent
 * that Redis did not acknowledge. A dead PostgreSQL or Redis is waited out,
 * a second at a time, and logged once. */
#include "app.h"
#include "config.h"
#include "log.h"
#include "rds.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
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
/* How often the marker (below) is looked at: a Redis that lost it meanwhile
 * gets the last day again, this second's events with it. */
#define MARKER_EVERY_MS 1000
/* Present while Redis still holds what the relays published; any relay
 * that finds it gone republishes the last day. */
#define MARKER_KEY "concert:relay:published"
#define RETAIN_MS 86400000LL
/* How long the server lets the relay's transaction sit idle (pg_ready). */
#define RELAY_IDLE_TX_MS 4000

static PGconn *pg;
static int pg_down_logged, redis_down_logged;

static void pg_forget(void)
{
    if (pg)
        PQfinish(pg);
    pg = NULL;
}

/* The relay's own connection (it LISTENs), made on demand. */
static int pg_ready(void)
{
    PGresult *res;

    if (pg && PQstatus(pg) == CONNECTION_OK)
        return 0;
    pg_forget();
    pg = PQconnectdb(g_config.pg_conninfo);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        if (!pg_down_logged)
            log_error("PostgreSQL is unreachable: %s", pg ? PQerrorMessage(pg) : "out of memory");
        pg_down_logged = 1;
        pg_forget();
        return -1;
    }
    /* A relay whose host is cut off mid-claim leaves its backend idle in
     * the transaction that holds the outbox's advisory lock and its rows:
     * no relay could publish until TCP gave up on the host, minutes or
     * hours later. The server ends such a transaction after a few idle
     * seconds, and notices a silent peer through keepalives, or unacked
     * data, within seconds; the other relay then takes over. A claim whose
     * XADDs outlast that gives up the same way: its rows stay unsent and
     * are published again, with the same eventIds. */
    res = PQexec(pg, "SET idle_in_transaction_session_timeout = '" TEXT(RELAY_IDLE_TX_MS) "ms';"
                     " SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1;"
                     " SET tcp_keepalives_count = 2; SET tcp_user_timeout = " TEXT(RELAY_IDLE_TX_MS));
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("the relay's session settings: %s", PQerrorMessage(pg));
        PQclear(res);
        pg_forget();
        return -1;
    }
    PQclear(res);
    res = PQexec(pg, "LISTEN outbox");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("LISTEN outbox: %s", PQerrorMessage(pg));
        PQclear(res);
        pg_forget();
        return -1;
    }
    PQclear(res);
    if (pg_down_logged)
        log_info("PostgreSQL is back");
    pg_down_logged = 0;
    return 0;
}

/* The transaction's statements: fixed text, nothing from outside. */
enum tx { TX_BEGIN, TX_COMMIT, TX_ROLLBACK };
static const char *const tx_sql[] = {"BEGIN", "COMMIT", "ROLLBACK"};

/* Runs one of them; 0 or -1. */
static int pg_do(enum tx what)
{
    PGresult *res = PQexec(pg, tx_sql[what]);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        log_error("%s: %s", tx_sql[what], PQerrorMessage(pg));
    PQclear(res);
    return ok ? 0 : -1;
}

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

/* Step 1. Returns 0 when the marker is there (or was just set after the
 * republish was arranged), -1 on trouble. */
static int check_marker(void)
{
    const char *exists[] = {"EXISTS", MARKER_KEY};
    const char *set[] = {"SET", MARKER_KEY, "1"};
    redisReply *reply = rds_command(2, exists, NULL);
    PGresult *res;

    if (!reply) {
        redis_failed();
        return -1;
    }
    redis_ok();
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
        freeReplyObject(reply);
        return 0;
    }
    freeReplyObject(reply);
    res = PQexec(pg, "SELECT outbox_republish()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        log_error("outbox_republish: %s", PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }
    log_info("Redis holds none of what was published: %s events of the last 24 hours are published again",
             PQgetvalue(res, 0, 0));
    PQclear(res);
    reply = rds_command(3, set, NULL);
    if (!reply) {
        redis_failed();
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

/* The XADDs of all n rows, pipelined (one round trip): 0 when Redis
 * acknowledged every one. */
#define XADD_ARGC 16
static int publish_rows(PGresult *res, int n, const char *minid)
{
    const char **args = malloc(sizeof *args * (size_t)n * XADD_ARGC);
    const char ***argv_of = malloc(sizeof *argv_of * (size_t)n);
    int *argc_of = malloc(sizeof *argc_of * (size_t)n);
    redisReply **replies = malloc(sizeof *replies * (size_t)n);
    int got, rc = -1;

    if (!args || !argv_of || !argc_of || !replies) {
        log_error("out of memory for %d events", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char **a = args + (size_t)i * XADD_ARGC;

        a[0] = "XADD";
        a[1] = PQgetvalue(res, i, 2);
        a[2] = "MINID";
        a[3] = "~";
        a[4] = minid;
        a[5] = "*";
        a[6] = "eventId";
        a[7] = PQgetvalue(res, i, 1);
        a[8] = "type";
        a[9] = PQgetvalue(res, i, 3);
        a[10] = "occurredAt";
        a[11] = PQgetvalue(res, i, 5);
        a[12] = "concertId";
        a[13] = PQgetisnull(res, i, 4) ? "" : PQgetvalue(res, i, 4);
        a[14] = "data";
        a[15] = PQgetvalue(res, i, 6);
        argv_of[i] = a;
        argc_of[i] = XADD_ARGC;
    }
    got = rds_pipeline(n, argc_of, argv_of, replies);
    rc = got == n ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR)
            rc = -1;
        if (replies[i])
            freeReplyObject(replies[i]);
    }
    if (rc < 0)
        redis_failed();
    else
        redis_ok();
out:
    free(args);
    free(argv_of);
    free(argc_of);
    free(replies);
    return rc;
}

/* Step 2. Returns the rows published, or -1 (the transaction rolled back:
 * they stay unsent). */
static int publish_batch(void)
{
    const char *claim_params[] = {TEXT(BATCH_ROWS)};
    const char *mark_params[1];
    char minid[32], *ids = NULL;
    size_t cap = 0, len = 0;
    PGresult *res;
    int n, published = -1;
    struct timespec now;

    if (pg_do(TX_BEGIN) < 0)
        return -1;
    res = PQexecParams(pg, "SELECT id, event_id, topic, type, concert_id, occurred_at, data "
                           "FROM outbox_claim($1::integer)", 1, NULL, claim_params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 7) {
        log_error("outbox_claim: %s", PQerrorMessage(pg));
        goto out;
    }
    n = PQntuples(res);
    if (n == 0) {
        published = 0;
        goto out;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(minid, sizeof minid, "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - RETAIN_MS);
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
    if (publish_rows(res, n, minid) < 0)
        goto out;
    PQclear(res);
    mark_params[0] = ids;
    res = PQexecParams(pg, "SELECT outbox_mark_sent($1::bigint[])", 1, NULL, mark_params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("outbox_mark_sent: %s", PQerrorMessage(pg));
        goto out;
    }
    published = n;
out:
    PQclear(res);
    free(ids);
    if (published >= 0 && pg_do(TX_COMMIT) < 0)
        published = -1;   /* unknown: the rows are published again, same eventIds */
    if (published < 0 && PQstatus(pg) == CONNECTION_OK)
        pg_do(TX_ROLLBACK);
    if (PQstatus(pg) != CONNECTION_OK)
        pg_forget();
    return published;
}

/* Frees the NOTIFYs libpq has read; how many there were. */
static int take_notifications(void)
{
    PGnotify *note;
    int n = 0;

    while ((note = PQnotifies(pg)) != NULL) {
        PQfreemem(note);
        n++;
    }
    return n;
}

/* Step 3: a NOTIFY, the timeout or a signal. */
static void wait_for_work(int timeout_ms)
{
    struct pollfd p;

    if (!pg || PQsocket(pg) < 0) {
        usleep((useconds_t)timeout_ms * 1000);
        return;
    }
    /* A NOTIFY that came while the last claim ran was read then, with its
     * answer, and waits in libpq, not on the socket: poll would sleep
     * through it (the change would wait for the sweep). */
    if (take_notifications() > 0)
        return;
    p.fd = PQsocket(pg);
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
        log_error("poll: %s", strerror(errno));
    if (!PQconsumeInput(pg)) {
        log_error("PostgreSQL connection lost: %s", PQerrorMessage(pg));
        pg_forget();
        return;
    }
    take_notifications();
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
    app_catch_stop();
    log_info("started");
    while (!app_stop_asked()) {
        int n;

        if (pg_ready() < 0) {
            sleep(1);
            continue;
        }
        if (now_ms() >= marker_due) {
            if (check_marker() < 0) {
                wait_for_work(SWEEP_MS);
                continue;
            }
            marker_due = now_ms() + MARKER_EVERY_MS;
        }
        n = publish_batch();
        if (n > 0) {
            /* Rows may have come meanwhile without a NOTIFY (outbox_write
             * sends one only to a relay that found nothing): look again,
             * at once after a full batch, else after a moment's gathering
             * (in a rush that makes one batch of many changes instead of
             * a batch, with its four round trips, for every one or two). */
            total += n;
            if (n < BATCH_ROWS)
                usleep(GATHER_MS * 1000);
            continue;
        }
        wait_for_work(SWEEP_MS);
    }
    log_info("stopped after publishing %ld events", total);
    pg_forget();
    rds_close();
    return 0;
}
