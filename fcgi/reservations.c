/* reservations.c - the reservations responder: seat holds, cancellation and
 * a user's reservation list.
 *
 * A hold is one Redis script in the concert's hash slot (hold.h): it checks
 * the token, the seats (locks, and the seat map's sold and held marks), that
 * the show is on sale and the per-user limit, and writes the hold, its
 * seats' locks and marks and its reservation.held event, all or nothing.
 * PostgreSQL is not written until the hold is paid (payments.c), and then
 * in one transaction whose seat rows no second payment can sell again.
 * What the script needs from PostgreSQL (the concert's facts, the seat map,
 * what the show's buyers bought) is read once when Redis lacks it.
 *
 * Holds kept in Redis (ids from HOLD_ID_SPAN on) are cancelled there, and
 * the list merges them with PostgreSQL's rows. Holds made before holds
 * moved to Redis have PostgreSQL's ids and are cancelled, listed and paid
 * there until they end. */
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
#include "utc.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a hold needs to know about a schedule before it touches Redis: which
 * concert owns it (the keys' hash tag, the token check), how many seats it
 * has and when it starts (sales close). Each process keeps them a second
 * rather than asking PostgreSQL on every hold, so they follow PostgreSQL
 * within a second, as the concert's facts in Redis do (the hold length,
 * which PATCH holdSeconds changes, is read from those in the script). A
 * copy half a second old is read again after the hold that used it has
 * answered, so a show in demand never waits for PostgreSQL. */
struct schedule_facts {
    int64_t id;
    int64_t concert_id;
    int64_t seat_count;
    int64_t starts_ms;
    int64_t loaded_ms;
};

#define FACTS_SLOTS 256
#define FACTS_TTL_MS 1000
#define FACTS_RENEW_MS 500

static struct schedule_facts facts_cache[FACTS_SLOTS];

/* What the hold being answered left for after its answer (after_hold). */
static struct {
    int64_t facts_concert;   /* its concert's cached facts were a second old */
    int64_t schedule;        /* its schedule's copy here is to be read again */
} later;

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads schedule id's facts into its slot (and out): DB_OK with found 1 or
 * 0 (no such schedule), or PostgreSQL's failure. */
static db_rc read_schedule(int64_t id, struct schedule_facts *out, int *found)
{
    static const char sql[] =
        "SELECT s.concert_id, s.seat_count, floor(extract(epoch FROM s.starts_at) * 1000)::bigint"
        "  FROM schedules s WHERE s.id = $1::bigint";
    char idtext[24];
    const char *params[] = {idtext};
    PGresult *res;
    db_rc rc;

    *found = 0;
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    rc = db_read(sql, 1, params, &res);
    if (rc != DB_OK)
        return rc;
    if (PQntuples(res) == 1) {
        out->id = id;
        out->concert_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        out->seat_count = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        out->starts_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        out->loaded_ms = monotonic_ms();
        facts_cache[(uint64_t)id % FACTS_SLOTS] = *out;
        *found = 1;
    }
    PQclear(res);
    return DB_OK;
}

static void after_hold(void *arg);

/* 1 and the facts, 0 when there is no such schedule, -1 after answering 503. */
static int schedule_facts(struct request *r, int64_t id, struct schedule_facts *out)
{
    const struct schedule_facts *slot = &facts_cache[(uint64_t)id % FACTS_SLOTS];
    int64_t age = monotonic_ms() - slot->loaded_ms;
    int found;
    db_rc rc;

    if (slot->id == id && age < FACTS_TTL_MS) {
        *out = *slot;
        if (age >= FACTS_RENEW_MS) {
            later.schedule = id;
            r->after_answer = after_hold;
        }
        return 1;
    }
    rc = read_schedule(id, out, &found);
    if (rc != DB_OK) {
        answer_db_failure(r, rc);
        return -1;
    }
    return found;
}

/* The reads a hold left for after its answer (struct request's
 * after_answer). A failure is logged; the next hold reads them itself. */
static void after_hold(void *arg)
{
    struct schedule_facts f;
    int found;

    (void)arg;
    if (later.schedule && read_schedule(later.schedule, &f, &found) != DB_OK)
        log_error("hold: schedule %" PRId64 " could not be read again", later.schedule);
    if (later.facts_concert)
        hold_refresh_facts(later.facts_concert);
    later.schedule = 0;
    later.facts_concert = 0;
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

struct hold_try {
    const char *token_id;
    struct hold_show show;
    const int *seats;
    int n;
    const char *owner;
    struct hold_taken taken;
    hold_rc rc;
};

/* The cheap check of the token-check protocol (guard.h): the hold itself. */
static int hold_try_once(void *ctx, int again)
{
    struct hold_try *h = ctx;

    (void)again;
    h->rc = hold_take(h->token_id, &h->show, h->seats, h->n, h->owner, &h->taken);
    return h->rc == HOLD_TOKEN_MISS ? GUARD_TOKEN_MISS : 0;
}

/* The 201 of a hold, with the fields PostgreSQL's holds were answered with. */
static void answer_held(struct request *r, const struct hold_try *h)
{
    struct json_object *o = json_object_new_object(), *nos = json_object_new_array();
    char ends[UTC_TEXT_SIZE];

    if (!o || !nos) {
        json_object_put(o);
        json_object_put(nos);
        http_internal_error(r);
        return;
    }
    for (int i = 0; i < h->n; i++)
        json_object_array_add(nos, json_object_new_int(h->seats[i]));
    utc_text((time_t)(h->taken.until_ms / 1000), ends);
    json_object_object_add(o, "reservationId", json_object_new_int64(h->taken.id));
    json_object_object_add(o, "scheduleId", json_object_new_int64(h->show.schedule_id));
    json_object_object_add(o, "seatNos", nos);
    json_object_object_add(o, "amount", json_object_new_int64(h->taken.amount));
    json_object_object_add(o, "status", json_object_new_string("HELD"));
    json_object_object_add(o, "expiresAt", json_object_new_string(ends));
    http_json(r, 201, o);
}

/* Answers what hold_take decided: the refusals by outcome.c's table (the
 * limit's with the seats already held or bought). */
static void answer_hold(struct request *r, const struct hold_try *h)
{
    static const char *const refusals[] = {
        [HOLD_CLOSED] = "sales_closed", [HOLD_LIMIT] = "hold_limit", [HOLD_BUSY] = "seat_unavailable",
    };
    char have[24];

    if (h->rc == HOLD_HELD) {
        answer_held(r, h);
    } else if (h->rc == HOLD_TOKEN_MISS) {
        /* ACTIVE a moment ago, run out or used since. */
        guard_queue_refusal(r, QUEUE_TOKEN_INVALID);
    } else if ((size_t)h->rc < sizeof refusals / sizeof refusals[0] && refusals[h->rc]) {
        snprintf(have, sizeof have, "%" PRId64, h->taken.have);
        answer_refusal(r, refusals[h->rc], h->rc == HOLD_LIMIT ? have : NULL);
    } else {
        /* The facts, the map or the bought seats PostgreSQL could not give,
         * or Redis away. */
        http_unavailable(r, h->rc == HOLD_DOWN ? "Redis" : "PostgreSQL");
    }
}

/* POST /api/v1/reservations {"scheduleId", "seatNos"} with an ACTIVE token.
 * The token's form is checked first, then the body; the token itself is
 * checked in Redis with the hold (one script), or before any answer about
 * the schedule or its seats. */
static void hold(struct request *r)
{
    static const char *const fields[] = {"scheduleId", "seatNos", NULL};
    struct schedule_facts f;
    struct json_object *body;
    char token_id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t schedule_id, token_concert, seats64[SEATLOCK_MAX];
    int seats[SEATLOCK_MAX], n, found;
    char owner[2 * SEATLOCK_OWNER_BYTES + 1];
    struct hold_try h;

    r->outcome_kind = METRICS_HOLD;
    if (guard_queue_token_open(r, token_id, &token_concert) < 0)
        return;
    /* The token's text names a concert, but only Redis can say the token is
     * real: the request is counted under a concert once it did (below, or
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
    memset(&h, 0, sizeof h);
    h.token_id = token_id;
    h.show.concert_id = f.concert_id;
    h.show.schedule_id = f.id;
    h.show.closes_ms = f.starts_ms;
    h.seats = seats;
    h.n = n;
    h.owner = owner;
    h.rc = HOLD_DOWN;
    if (guard_queue_token_checked(r, f.concert_id, hold_try_once, &h) < 0)
        return;
    /* Decided by the script: it found the token ACTIVE for this concert. */
    if (h.rc != HOLD_TOKEN_MISS && h.rc != HOLD_DOWN)
        r->concert_id = f.concert_id;
    if (h.taken.facts_late) {
        later.facts_concert = f.concert_id;
        r->after_answer = after_hold;
    }
    answer_hold(r, &h);
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
