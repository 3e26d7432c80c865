/* payments.c - the payments responder: pay for a hold.
 *
 * The payment is one call of booking_pay (sql/functions.sql): in one
 * transaction the reservation row is locked, checked (the owner, its state,
 * the show not yet started), the balance debited (refused when short,
 * nothing changed), the seats SOLD, the reservation CONFIRMED and the
 * payment, ledger and Idempotency-Key rows written. Only then does the queue
 * token end, admitting the next waiting user; a payment whose fate
 * PostgreSQL could not report (DB_UNKNOWN) answers 503 and leaves the token
 * alone, so the client's keyed retry can find out.
 *
 * Idempotency-Key for payments is scoped by the queue token (a digest of it,
 * computed in SQL) and bound to the request (the reservation paid). A retry
 * after a successful payment arrives with a token that has ended, so when
 * the token check fails and a key is given, the body is read and the stored
 * answer for that token, key and request is looked up and replayed. The
 * common path (live token) pays no extra round trip for this: the key is
 * claimed inside booking_pay, where a concurrent repeat waits for the first
 * and replays its answer.
 *
 * A hold kept in Redis (an id from HOLD_ID_SPAN on, hold.h) is paid by
 * hold_pay: Redis marks it as being paid, the same one transaction writes
 * the sale (booking_pay_hold, the key claimed in it the same way), then
 * Redis marks it paid and its seats SOLD. */
#include "app.h"
#include "answer.h"
#include "booking.h"
#include "db.h"
#include "guard.h"
#include "hold.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "seatlock.h"
#include "seatmap.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The body's reservationId, or -1 after answering 400. */
static int read_reservation_id(struct request *r, int64_t *id)
{
    static const char *const fields[] = {"reservationId", NULL};
    struct json_object *body = http_body_object(r);
    int rc = 0;

    if (!body)
        return -1;
    if (http_only_fields(r, body, fields) < 0 ||
        http_get_int(r, body, "reservationId", 1, 1, INT64_MAX, id) < 0)
        rc = -1;
    json_object_put(body);
    return rc;
}

/* Answers a retry from the stored answer to (token, key): the first answer
 * when it paid reservation id, 422 when it paid another. 1 when it answered,
 * 0 when nothing is stored (or PostgreSQL cannot tell: the caller then
 * answers as it would have). */
static int replay(struct request *r, const char *token, const char *key, int64_t id)
{
    static const char sql[] = "SELECT * FROM booking_payment_replay($1, $2, $3::bigint)";
    char idtext[24];
    const char *params[] = {token, key, idtext};
    PGresult *res;
    int done = 0;

    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    if (db_read(sql, 3, params, &res) != DB_OK)
        return 0;
    if (PQntuples(res) == 1) {
        answer_outcome(r, DB_OK, res);
        done = 1;
    }
    PQclear(res);
    return done;
}

/* A payment's seats read SOLD on the seat map before the 201 leaves, and
 * the per-user limit of the holds Redis keeps counts them. */
static void mark_sold(int64_t concert_id, int64_t id, const PGresult *res)
{
    int seats[SEATLOCK_MAX];
    int schedule = PQfnumber(res, "sold_schedule"), seat_nos = PQfnumber(res, "sold_seat_nos");
    int64_t schedule_id;
    int n;

    if (schedule < 0 || seat_nos < 0 || PQgetisnull(res, 0, schedule))
        return;   /* a replayed answer: the first payment told the map */
    if (valid_id(PQgetvalue(res, 0, schedule), &schedule_id) < 0 ||
        (n = booking_array_parse(PQgetvalue(res, 0, seat_nos), seats, SEATLOCK_MAX)) < 1) {
        log_error("payment: the result names no seats for the seat map");
        return;
    }
    if (seatmap_mark(concert_id, schedule_id, 'S', 0, id, NULL, seats, n) < 0)
        log_error("payment: the seat map was not told (PostgreSQL's view is back within a second)");
    hold_bought_changed(concert_id, schedule_id);
}

/* POST /api/v1/payments {"reservationId"} with the owner's ACTIVE token. */
static void pay(struct request *r)
{
    static const char sql[] =
        "SELECT * FROM booking_pay($1::uuid, $2::bigint, $3::bigint, $4, $5)";
    struct queue_ticket t;
    const char *token, *key, *word;
    int64_t id;
    char concert[24], idtext[24];
    const char *params[5];
    PGresult *res;
    queue_rc qrc;
    db_rc rc;

    r->outcome_kind = METRICS_PAYMENT;
    if (http_idempotency_key(r, &key) < 0)
        return;
    token = guard_queue_bearer(r);
    if (!token)
        return;
    qrc = queue_status(token, &t);
    if (qrc != QUEUE_OK) {
        /* An ended token (or Redis away) may be a retry of a payment that
         * went through: its stored answer is the answer, if the body asks
         * for the same payment. */
        if (key && (qrc == QUEUE_TOKEN_INVALID || qrc == QUEUE_REDIS_DOWN) &&
            (read_reservation_id(r, &id) < 0 || replay(r, token, key, id)))
            return;
        guard_queue_refusal(r, qrc);
        return;
    }
    /* Counted under its concert only now: the token was found in Redis. */
    r->concert_id = t.concert_id;
    if (t.state != QUEUE_ACTIVE) {
        guard_queue_refusal(r, QUEUE_NOT_ACTIVE);
        return;
    }
    if (read_reservation_id(r, &id) < 0)
        return;

    snprintf(concert, sizeof concert, "%" PRId64, t.concert_id);
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    params[0] = t.user_id;
    params[1] = concert;
    params[2] = idtext;
    params[3] = token;
    params[4] = key;   /* NULL travels as SQL NULL: no key */
    if (id >= HOLD_ID_SPAN) {
        const char *refusal;

        rc = hold_pay(t.concert_id, t.user_id, id, token, key, &refusal, &res);
        if (refusal) {
            answer_refusal(r, refusal, NULL);
            return;
        }
    } else {
        rc = db_query(sql, 5, params, &res);
    }
    /* Paid: end the token before answering, so a client that polls right
     * after the 201 already sees 401. Failing that (Redis away), the
     * payment still stands and the token runs out by itself. */
    word = outcome_word(rc, res);
    if (word && strcmp(word, "paid") == 0) {
        if (id < HOLD_ID_SPAN)
            mark_sold(t.concert_id, id, res);   /* hold_pay marked a Redis hold's */
        if (queue_finish(token) != QUEUE_OK)
            log_error("payment: could not end the queue token (it runs out by itself)");
    }
    answer_outcome(r, rc, res);
    PQclear(res);
}

static const struct route routes[] = {
    {"POST", "/api/v1/payments", pay},
};

int main(void)
{
    return app_run("concert-payments", routes, sizeof routes / sizeof routes[0]);
}
