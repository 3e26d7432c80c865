/* reservations.c - the reservations responder: seat holds, cancellation and
 * a user's reservation list.
 *
 * A hold goes through two gates. Redis first: one script checks the token
 * and takes a lock per seat, all or nothing, so a crowd racing for the same
 * seats is turned away (409) without touching PostgreSQL. Then PostgreSQL, the source of truth:
 * one function (booking_hold) locks the seat rows, checks the show is on
 * sale, the seats and the per-user limit, and writes the reservation, so no
 * seat is ever held or sold twice even if Redis loses its data. The locks of
 * a successful hold are kept for the hold's length; a refused one gives them
 * back at once. A hold whose fate PostgreSQL could not report (the
 * connection broke after it was sent) keeps them: it may have committed,
 * and the locks run out by themselves. A lock is taken for the concert's
 * hold length (its facts cached in Redis, never more than a second behind
 * PostgreSQL), and once the hold commits it is set to end with the hold,
 * at the end booking_hold chose (seatlock.h).
 *
 * Holds kept in Redis (ids from HOLD_ID_SPAN on, hold.h) are cancelled
 * there, and the list merges them with PostgreSQL's rows. */
#include "app.h"
#include "answer.h"
#include "booking.h"
#include "db.h"
#include "guard.h"
#include "hold.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "rand.h"
#include "seatlock.h"
#include "seatmap.h"
#include "utc.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a hold needs to know about a schedule before it touches Redis: which
 * concert owns it (the lock keys' hash tag, the token check) and how many
 * seats it has. These never change once a show is created, so each process
 * keeps them a minute rather than asking PostgreSQL on every hold. The
 * hold length can change (PATCH holdSeconds): the lock script reads it from
 * the concert's facts in Redis, which follow PostgreSQL within a second. */
struct schedule_facts {
    int64_t id;
    int64_t concert_id;
    int64_t seat_count;
    time_t loaded;
};

#define FACTS_SLOTS 256
#define FACTS_TTL_SECONDS 60

static struct schedule_facts facts_cache[FACTS_SLOTS];

static time_t monotonic_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* 1 and the facts, 0 when there is no such schedule, -1 after answering 503. */
static int schedule_facts(struct request *r, int64_t id, struct schedule_facts *out)
{
    static const char sql[] =
        "SELECT s.concert_id, s.seat_count FROM schedules s WHERE s.id = $1::bigint";
    struct schedule_facts *slot = &facts_cache[(uint64_t)id % FACTS_SLOTS];
    time_t now = monotonic_seconds();
    char idtext[24];
    const char *params[] = {idtext};
    PGresult *res;
    db_rc rc;

    if (slot->id == id && now - slot->loaded < FACTS_TTL_SECONDS) {
        *out = *slot;
        return 1;
    }
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    rc = db_read(sql, 1, params, &res);
    if (rc != DB_OK) {
        answer_db_failure(r, rc);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    out->id = id;
    out->concert_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->seat_count = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    out->loaded = now;
    PQclear(res);
    *slot = *out;
    return 1;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Reads "seatNos": 1..SEATLOCK_MAX distinct positive integers, sorted into
 * seats. Returns the count, or -1 after answering 400. */
static int parse_seat_nos(struct request *r, struct json_object *body, int64_t *seats)
{
    struct json_object *arr;
    size_t n;

    if (!json_object_object_get_ex(body, "seatNos", &arr)) {
        http_error(r, 400, "INVALID_REQUEST", "seatNos is required");
        return -1;
    }
    if (!json_object_is_type(arr, json_type_array) ||
        (n = json_object_array_length(arr)) < 1 || n > SEATLOCK_MAX) {
        http_error(r, 400, "INVALID_REQUEST", "seatNos must be an array of 1 to " LIMIT_TEXT(SEATLOCK_MAX) " seat numbers");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(v, json_type_int)) {
            http_error(r, 400, "INVALID_REQUEST", "seatNos must hold integers");
            return -1;
        }
        if (json_body_int64(v, &seats[i]) < 0 || seats[i] < 1) {
            http_error(r, 400, "INVALID_REQUEST", "seatNos must be integers from 1 to 9223372036854775807");
            return -1;
        }
    }
    qsort(seats, n, sizeof *seats, compare_int64);
    for (size_t i = 1; i < n; i++) {
        if (seats[i] == seats[i - 1]) {
            http_error(r, 400, "INVALID_REQUEST", "seatNos must be distinct");
            return -1;
        }
    }
    return (int)n;
}

/* Frees the Redis locks of a hold that PostgreSQL refused (or never ran),
 * and marks the seats it reported SOLD on the seat map. */
static void give_back(const struct schedule_facts *f, const int *seats, int n, const char *owner,
                      const PGresult *res)
{
    int sold[SEATLOCK_MAX];
    int nsold = 0;
    int col = res ? PQfnumber(res, "sold_seats") : -1;

    if (col >= 0 && PQntuples(res) == 1 && !PQgetisnull(res, 0, col)) {
        nsold = booking_array_parse(PQgetvalue(res, 0, col), sold, SEATLOCK_MAX);
        if (nsold < 0)
            nsold = 0;
    }
    if (seatlock_release(f->concert_id, f->id, seats, n, owner) < 0)
        log_error("hold: could not release seat locks (they run out by themselves)");
    if (nsold > 0 && seatmap_note_sold(f->concert_id, f->id, sold, nsold) < 0)
        log_error("hold: the seat map was not told of sold seats (it learns them on its next read)");
}

/* A hold that committed: its seats read HELD on the seat map before the
 * 201 leaves, and its locks end when it does (whatever length they were
 * taken for: the concert's holdSeconds may have changed in between). */
static void mark_held(const struct schedule_facts *f, const int *seats, int n, const char *owner, db_rc rc,
                      const PGresult *res)
{
    int id_col = res ? PQfnumber(res, "held_reservation") : -1, until_col = res ? PQfnumber(res, "held_until_ms") : -1;
    const char *word = outcome_word(rc, res);
    int64_t id, until;

    if (!word || strcmp(word, "held") != 0)
        return;
    if (id_col < 0 || until_col < 0 || valid_id(PQgetvalue(res, 0, id_col), &id) < 0 ||
        valid_id(PQgetvalue(res, 0, until_col), &until) < 0) {
        log_error("hold: the result names no reservation for the seat map");
        return;
    }
    if (seatmap_mark(f->concert_id, f->id, 'H', until, id, owner, seats, n) < 0)
        log_error("hold: the seat map was not told (PostgreSQL's view is back within a second; the locks"
                  " keep their length)");
}

/* Answers a request that names no seats this code could lock (no such
 * schedule, another concert's, a seat it does not have): the token's own
 * refusal comes first, as for every token-guarded request. */
static void refuse_resource(struct request *r, const char *outcome)
{
    struct queue_ticket t;

    if (guard_queue_active(r, 0, &t) < 0)
        return;
    answer_refusal(r, outcome, NULL);
}

struct lock_take {
    const char *token_id;
    const struct schedule_facts *f;
    const int *seats;
    int n;
    const char *owner;
    char *user_id;
    seatlock_rc rc;
};

/* The cheap check of the token-check protocol (guard.h): the take itself. */
static int lock_take_try(void *ctx, int again)
{
    struct lock_take *k = ctx;

    (void)again;
    k->rc = seatlock_take(k->token_id, k->f->concert_id, k->f->id, k->seats, k->n, k->owner, k->user_id);
    return k->rc == SEATLOCK_TOKEN_MISS ? GUARD_TOKEN_MISS : 0;
}

/* Takes the seats' locks with the token's check in the same script, by the
 * token-check protocol (guard_queue_token_checked). Returns 0 when taken,
 * or -1 after answering. */
static int take_locks(struct request *r, const char *token_id, const struct schedule_facts *f, const int *seats,
                      int n, const char *owner, char *user_id)
{
    struct lock_take k = {token_id, f, seats, n, owner, user_id, SEATLOCK_DOWN};
    seatlock_rc rc;

    if (guard_queue_token_checked(r, f->concert_id, lock_take_try, &k) < 0)
        return -1;
    rc = k.rc;
    /* Taken or busy: the script found the token ACTIVE for this concert. */
    if (rc == SEATLOCK_TAKEN || rc == SEATLOCK_BUSY)
        r->concert_id = f->concert_id;
    switch (rc) {
    case SEATLOCK_TAKEN:
        return 0;
    case SEATLOCK_BUSY:
        answer_refusal(r, "seat_unavailable", NULL);
        return -1;
    case SEATLOCK_TOKEN_MISS:
        /* ACTIVE a moment ago, run out or used since. */
        guard_queue_refusal(r, QUEUE_TOKEN_INVALID);
        return -1;
    case SEATLOCK_NO_FACTS:
        http_unavailable(r, "PostgreSQL");
        return -1;
    default:
        http_unavailable(r, "Redis");
        return -1;
    }
}

/* POST /api/v1/reservations {"scheduleId", "seatNos"} with an ACTIVE token.
 * The token's form is checked first, then the body; the token itself is
 * checked in Redis with the seat locks (one round trip), or before any
 * answer about the schedule or its seats. */
static void hold(struct request *r)
{
    static const char *const fields[] = {"scheduleId", "seatNos", NULL};
    static const char sql[] =
        "SELECT * FROM booking_hold($1::uuid, $2::bigint, $3::bigint, $4::integer[], $5)";
    struct schedule_facts f;
    struct json_object *body;
    char token_id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t schedule_id, token_concert, seats64[SEATLOCK_MAX];
    int seats[SEATLOCK_MAX], n, found;
    char owner[2 * SEATLOCK_OWNER_BYTES + 1], concert[24], schedule[24], seat_text[64], user_id[37];
    const char *params[5];
    PGresult *res;
    db_rc rc;

    r->outcome_kind = METRICS_HOLD;
    if (guard_queue_token_open(r, token_id, &token_concert) < 0)
        return;
    /* The token's text names a concert, but only Redis can say the token is
     * real: the request is counted under a concert once it did (take_locks,
     * guard_queue_active), so forged tokens make no metrics series. */
    body = http_body_object(r);
    if (!body)
        return;
    if (http_only_fields(r, body, fields) < 0 ||
        http_get_int(r, body, "scheduleId", 1, 1, INT64_MAX, &schedule_id) < 0 ||
        (n = parse_seat_nos(r, body, seats64)) < 0) {
        json_object_put(body);
        return;
    }
    json_object_put(body);

    found = schedule_facts(r, schedule_id, &f);
    if (found < 0)
        return;
    if (found == 0) {
        refuse_resource(r, "schedule_not_found");
        return;
    }
    if (f.concert_id != token_concert) {
        refuse_resource(r, "wrong_concert");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (seats64[i] > f.seat_count) {
            refuse_resource(r, "seat_not_found");
            return;
        }
        seats[i] = (int)seats64[i];
    }

    if (rand_hex(owner, SEATLOCK_OWNER_BYTES) < 0) {
        log_error("hold: getrandom failed");
        http_internal_error(r);
        return;
    }
    if (take_locks(r, token_id, &f, seats, n, owner, user_id) < 0)
        return;

    snprintf(concert, sizeof concert, "%" PRId64, f.concert_id);
    snprintf(schedule, sizeof schedule, "%" PRId64, schedule_id);
    if (booking_array_text(seats, n, seat_text, sizeof seat_text) < 0) {
        give_back(&f, seats, n, owner, NULL);
        http_internal_error(r);
        return;
    }
    params[0] = user_id;
    params[1] = concert;
    params[2] = schedule;
    params[3] = seat_text;
    params[4] = owner;
    rc = db_query(sql, 5, params, &res);
    /* Give the locks back only when the hold certainly did not commit: a
     * refusal, a statement never sent, or one the server rejected (rolled
     * back). Not on DB_UNKNOWN, nor on a row this code cannot read. */
    if (rc == DB_UNAVAILABLE || rc == DB_FAILED || outcome_refused(outcome_word(rc, res)))
        give_back(&f, seats, n, owner, res);
    else
        mark_held(&f, seats, n, owner, rc, res);
    answer_outcome(r, rc, res);
    PQclear(res);
}

/* Cancels hold id, one made in Redis. 1 when it answered; 0 when Redis has
 * no such hold of the user: PostgreSQL may (a paid one), and answers. */
static int cancel_in_redis(struct request *r, const struct queue_ticket *t, int64_t id)
{
    struct hold_record rec;
    const char *word = hold_cancel(t->concert_id, t->user_id, id, &rec);

    if (!word) {
        http_unavailable(r, "Redis");
        return 1;
    }
    if (strcmp(word, "reservation_not_found") == 0)
        return 0;
    if (strcmp(word, "cancelled") == 0)
        http_json(r, 200, hold_record_json(&rec, utc_now_ms()));
    else
        answer_refusal(r, word, NULL);
    return 1;
}

/* DELETE /api/v1/reservations/{id} with the owner's ACTIVE token. Cancelling
 * one's own cancelled reservation again answers it again (200): a retry
 * after a lost answer must not look like a failure. */
static void cancel(struct request *r)
{
    static const char sql[] = "SELECT * FROM booking_cancel($1::uuid, $2::bigint, $3::bigint)";
    struct queue_ticket t;
    int64_t id;
    char concert[24], idtext[24];
    const char *params[] = {NULL, concert, idtext};
    const char *word;
    PGresult *res;
    db_rc rc;

    if (guard_queue_active(r, 0, &t) < 0 || http_param_id(r, 0, "reservationId", &id) < 0)
        return;
    if (id >= HOLD_ID_SPAN && cancel_in_redis(r, &t, id))
        return;
    snprintf(concert, sizeof concert, "%" PRId64, t.concert_id);
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    params[0] = t.user_id;
    rc = db_query(sql, 3, params, &res);
    word = outcome_word(rc, res);
    if (word && strcmp(word, "cancelled") == 0)
        booking_tell_cancelled(res, 0, id);
    answer_outcome(r, rc, res);
    PQclear(res);
}

/* Appends a reservation's JSON text (PostgreSQL's) to list. 0, or -1. */
static int add_text(struct json_object *list, const char *text)
{
    struct json_object *o = json_tokener_parse(text);

    if (!o || json_object_array_add(list, o) < 0) {
        json_object_put(o);
        return -1;
    }
    return 0;
}

/* Whether PostgreSQL's rows name reservation id (a paid Redis hold: its
 * sale is PostgreSQL's, which the list shows). */
static int in_rows(const PGresult *res, int64_t id)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == id)
            return 1;
    return 0;
}

/* The list's next hold kept in Redis from *h on, past the paid ones
 * (PostgreSQL's rows show those): NULL when none is left. */
static const struct hold_record *next_hold(const struct hold_list *holds, size_t *h, const PGresult *res)
{
    while (*h < holds->n &&
           (strcmp(holds->recs[*h].status, "PAID") == 0 || in_rows(res, holds->recs[*h].id)))
        ++*h;
    return *h < holds->n ? &holds->recs[*h] : NULL;
}

/* GET /api/v1/users/{userId}/reservations (session), newest first by when
 * each was made: PostgreSQL's (paid, and those from before holds moved to
 * Redis) merged with the holds Redis keeps, the newest LIST_MAX. */
#define LIST_MAX 200
static void list(struct request *r)
{
    static const char sql[] = "SELECT id, created_ms, reservation FROM booking_list_rows($1::uuid)";
    char user[37];
    struct json_object *out, *items;
    struct hold_list holds;
    int64_t now = utc_now_ms();
    size_t h = 0;
    int row = 0, rows, failed = 0;
    PGresult *res = answer_user_rows(r, sql, user);

    if (!res)
        return;
    if (hold_user_list(user, &holds) < 0) {
        PQclear(res);
        http_unavailable(r, "Redis");
        return;
    }
    rows = PQntuples(res);
    out = json_object_new_object();
    items = json_object_new_array();
    failed = !out || !items;
    for (int k = 0; k < LIST_MAX && !failed; k++) {
        const struct hold_record *rec = next_hold(&holds, &h, res);

        if (rec && (row >= rows || rec->created_ms >= strtoll(PQgetvalue(res, row, 1), NULL, 10))) {
            struct json_object *o = hold_record_json(rec, now);

            h++;
            failed = !o || json_object_array_add(items, o) < 0;
            if (failed)
                json_object_put(o);
        } else if (row < rows) {
            failed = add_text(items, PQgetvalue(res, row++, 2)) < 0;
        } else {
            break;
        }
    }
    PQclear(res);
    hold_list_free(&holds);
    if (failed || json_object_object_add(out, "reservations", items) < 0) {
        log_error("list: out of memory");
        json_object_put(items);
        json_object_put(out);
        http_internal_error(r);
        return;
    }
    http_json(r, 200, out);
}

static const struct route routes[] = {
    {"POST", "/api/v1/reservations", hold},
    {"DELETE", "/api/v1/reservations/{}", cancel},
    {"GET", "/api/v1/users/{}/reservations", list},
};

int main(void)
{
    return app_run("concert-reservations", routes, sizeof routes / sizeof routes[0]);
}
