/* 40-booking.h - helpers the hold, balance, payment and cron tests (t/4x-7x)
 * share: requests with an Idempotency-Key, holds, cancels, charges and payments in
 * one call each, and reads of what PostgreSQL and Redis really stored (a
 * hold lives in Redis until it is paid, shared/hold.h). Header-only
 * (static functions), included once per test program after tap.h and
 * testlib.h. */
#ifndef CONCERT_T_BOOKING_H
#define CONCERT_T_BOOKING_H

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A request with an optional bearer token and an optional Idempotency-Key. */
static int bk_request(const char *method, const char *path, const char *token, const char *key,
                      const char *body, struct t_resp *out) __attribute__((unused));
static int bk_request(const char *method, const char *path, const char *token, const char *key,
                      const char *body, struct t_resp *out)
{
    char auth[256], idem[256];
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;

    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", key);
        headers[n++] = idem;
    }
    return t_request(method, path, headers, body, out);
}

/* POST /api/v1/reservations for seats[0..n); returns the status (0 on a
 * transport error). out may be NULL; otherwise the caller frees it. */
static long bk_hold(const char *token, int64_t schedule_id, const int *seats, int n,
                    struct t_resp *out) __attribute__((unused));
static long bk_hold(const char *token, int64_t schedule_id, const int *seats, int n, struct t_resp *out)
{
    char body[256];
    size_t len;
    struct t_resp local;
    long status;

    len = (size_t)snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[", schedule_id);
    for (int i = 0; i < n && len < sizeof body - 16; i++)
        len += (size_t)snprintf(body + len, sizeof body - len, i ? ",%d" : "%d", seats[i]);
    snprintf(body + len, sizeof body - len, "]}");
    if (!out)
        out = &local;
    if (t_post("/api/v1/reservations", token, body, out) < 0)
        return 0;
    status = out->status;
    if (out == &local)
        t_resp_free(&local);
    return status;
}

/* Holds and returns the reservation id, or -1 (with a diag). */
static int64_t bk_hold_id(const char *token, int64_t schedule_id, const int *seats, int n) __attribute__((unused));
static int64_t bk_hold_id(const char *token, int64_t schedule_id, const int *seats, int n)
{
    struct t_resp r;
    int64_t id = -1;

    if (bk_hold(token, schedule_id, seats, n, &r) == 201)
        id = t_json_int(r.json, "reservationId");
    else
        diag("hold failed: %ld %s", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return id;
}

/* POST .../balance/charge as the user (t_user's session); returns the
 * status. */
static long bk_charge(const char *user, int64_t amount, const char *key, struct t_resp *out) __attribute__((unused));
static long bk_charge(const char *user, int64_t amount, const char *key, struct t_resp *out)
{
    char path[128], body[64];
    struct t_resp local;
    long status;

    snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", user);
    snprintf(body, sizeof body, "{\"amount\":%" PRId64 "}", amount);
    if (!out)
        out = &local;
    if (bk_request("POST", path, t_session(user), key, body, out) < 0)
        return 0;
    status = out->status;
    if (out == &local)
        t_resp_free(&local);
    return status;
}

/* POST /api/v1/payments; returns the status. */
static long bk_pay(const char *token, int64_t reservation_id, const char *key, struct t_resp *out) __attribute__((unused));
static long bk_pay(const char *token, int64_t reservation_id, const char *key, struct t_resp *out)
{
    char body[64];
    struct t_resp local;
    long status;

    snprintf(body, sizeof body, "{\"reservationId\":%" PRId64 "}", reservation_id);
    if (!out)
        out = &local;
    if (bk_request("POST", "/api/v1/payments", token, key, body, out) < 0)
        return 0;
    status = out->status;
    if (out == &local)
        t_resp_free(&local);
    return status;
}

/* DELETE /api/v1/reservations/{id}: lets a hold go; returns the status. */
static long bk_cancel(const char *token, int64_t reservation_id, struct t_resp *out) __attribute__((unused));
static long bk_cancel(const char *token, int64_t reservation_id, struct t_resp *out)
{
    char path[64];
    struct t_resp local;
    long status;

    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, reservation_id);
    if (!out)
        out = &local;
    if (t_delete(path, token, out) < 0)
        return 0;
    status = out->status;
    if (out == &local)
        t_resp_free(&local);
    return status;
}

/* The user's balance as the API reads it (with the user's session), or -1. */
static int64_t bk_balance(const char *user) __attribute__((unused));
static int64_t bk_balance(const char *user)
{
    char path[128];
    struct t_resp r;
    int64_t b = -1;

    snprintf(path, sizeof path, "/api/v1/users/%s/balance", user);
    if (t_get_as(user, path, &r) == 0 && r.status == 200)
        b = t_json_int(r.json, "balance");
    t_resp_free(&r);
    return b;
}

/* Reservation ids from this on are holds kept in Redis (hold.h). */
#define BK_REDIS_IDS INT64_C(1000000000)

/* Field n (0-based) of a Redis hold's record
 * "user|schedule|seats|amount|until|owner|status|created" into out. */
static void bk_record_field(const char *rec, int n, char *out, size_t cap)
{
    const char *p = rec;
    size_t len;

    for (int i = 0; i < n && p; i++)
        p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
    len = p ? strcspn(p, "|") : 0;
    snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), p ? p : "");
}

/* Whether the comma-separated seats of a record name seat_no. */
static int bk_record_has_seat(const char *seats, int seat_no)
{
    for (const char *p = seats; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (atoi(p) == seat_no)
            return 1;
    }
    return 0;
}

/* The record of Redis hold id, malloc'd, or NULL. */
static char *bk_hold_record(int64_t id)
{
    char key[64], field[24], *s = NULL;
    redisReply *r;

    snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", id / BK_REDIS_IDS);
    snprintf(field, sizeof field, "%" PRId64, id);
    r = t_redis(3, (const char *[]){"HGET", key, field});
    if (r && r->type == REDIS_REPLY_STRING)
        s = strdup(r->str);
    if (r)
        freeReplyObject(r);
    return s;
}

/* Calls each(id, record, arg) for every hold Redis keeps of schedule_id
 * (live ones only when live: HELD, not run out), until it returns 1. */
static void bk_redis_holds(int64_t schedule_id, int live, int (*each)(int64_t, const char *, void *), void *arg)
{
    char sid[24], key[64], f[40];
    const char *p[] = {sid};
    int64_t concert;
    redisReply *r;
    struct timespec now;
    long long now_ms;

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    concert = t_pg_int("SELECT concert_id FROM schedules WHERE id = $1::bigint", 1, p);
    clock_gettime(CLOCK_REALTIME, &now);
    now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", concert);
    r = t_redis(2, (const char *[]){"HGETALL", key});
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *rec = r->element[i + 1]->str;

        if (strchr(r->element[i]->str, ':'))
            continue;   /* a payment's mark */
        bk_record_field(rec, 1, f, sizeof f);
        if (strcmp(f, sid) != 0)
            continue;
        if (live) {
            bk_record_field(rec, 6, f, sizeof f);
            if (strcmp(f, "HELD") != 0)
                continue;
            bk_record_field(rec, 4, f, sizeof f);
            if (atoll(f) <= now_ms)
                continue;
        }
        if (each(atoll(r->element[i]->str), rec, arg))
            break;
    }
    if (r)
        freeReplyObject(r);
}

struct bk_seat_find {
    int seat_no;
    int64_t id;
};

static int bk_holds_seat(int64_t id, const char *rec, void *arg)
{
    struct bk_seat_find *k = arg;
    char seats[64];

    bk_record_field(rec, 2, seats, sizeof seats);
    if (!bk_record_has_seat(seats, k->seat_no))
        return 0;
    k->id = id;
    return 1;
}

/* The live Redis hold (not run out) of seat_no of schedule_id: its id, or 0. */
static int64_t bk_redis_holder(int64_t schedule_id, int seat_no)
{
    struct bk_seat_find k = {seat_no, 0};

    bk_redis_holds(schedule_id, 1, bk_holds_seat, &k);
    return k.id;
}

/* A hold made in PostgreSQL, as every hold was before holds moved to Redis
 * (booking_hold; seats a PostgreSQL array text, "{1,2}"): such holds keep
 * being cancelled, listed, paid and expired there until they end. Its id,
 * or -1. */
static int64_t bk_pg_hold(const char *user, int64_t concert, int64_t schedule_id, const char *seats)
    __attribute__((unused));
static int64_t bk_pg_hold(const char *user, int64_t concert, int64_t schedule_id, const char *seats)
{
    char cid[24], sid[24];
    const char *p[] = {user, cid, sid, seats};

    snprintf(cid, sizeof cid, "%" PRId64, concert);
    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    return t_pg_int("SELECT coalesce(held_reservation, -1) FROM booking_hold($1::uuid, $2::bigint, $3::bigint,"
                    " $4::integer[], repeat('0', 32))", 4, p);
}

/* Moves a hold's end a second into the past, as if its time had come
 * (rather than waited for): PostgreSQL's row and seats for its own ids, the
 * record and the sweep's list for a hold Redis keeps. */
static void bk_run_out(int64_t id) __attribute__((unused));
static void bk_run_out(int64_t id)
{
    char idtext[24], key[64], ends[64], rewritten[1024], *rec, f[8][96];
    const char *p[] = {idtext};
    struct timespec now;

    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    if (id < BK_REDIS_IDS) {
        t_pg_value("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = $1::bigint", 1, p);
        t_pg_value("UPDATE seats SET held_until = now() - interval '1 second' WHERE reservation_id = $1::bigint", 1, p);
        return;
    }
    rec = bk_hold_record(id);
    if (!rec)
        return;
    for (int i = 0; i < 8; i++)
        bk_record_field(rec, i, f[i], sizeof f[i]);
    free(rec);
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(rewritten, sizeof rewritten, "%s|%s|%s|%s|%lld|%s|%s|%s", f[0], f[1], f[2], f[3],
             (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - 1000, f[5], f[6], f[7]);
    snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", id / BK_REDIS_IDS);
    snprintf(ends, sizeof ends, "{c:%" PRId64 "}:hold-ends", id / BK_REDIS_IDS);
    t_redis_cmd(4, (const char *[]){"HSET", key, idtext, rewritten});
    t_redis_cmd(4, (const char *[]){"ZADD", ends, "1000", idtext});
}

/* How many reservations schedule_id has: PostgreSQL's rows and the holds
 * Redis keeps (any status). */
static int64_t bk_reservation_count(int64_t schedule_id) __attribute__((unused));
static int bk_count_hold(int64_t id, const char *rec, void *arg)
{
    (void)id;
    (void)rec;
    ++*(int64_t *)arg;
    return 0;
}

static int64_t bk_reservation_count(int64_t schedule_id)
{
    char sid[24];
    const char *p[] = {sid};
    int64_t n;

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    n = t_pg_int("SELECT count(*) FROM reservations WHERE schedule_id = $1::bigint AND id < 1000000000", 1, p);
    bk_redis_holds(schedule_id, 0, bk_count_hold, &n);
    return n;
}

/* A seat's status as every reader must see it: SOLD and HELD as PostgreSQL
 * stored them (a HELD seat whose hold ran out reads AVAILABLE), or HELD by
 * a live hold Redis keeps. malloc'd, or NULL. */
static char *bk_seat(int64_t schedule_id, int seat_no) __attribute__((unused));
static char *bk_seat(int64_t schedule_id, int seat_no)
{
    char sid[24], no[16], *s;
    const char *p[] = {sid, no};

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    snprintf(no, sizeof no, "%d", seat_no);
    s = t_pg_value("SELECT CASE WHEN status = 'HELD' AND held_until <= now() THEN 'AVAILABLE'"
                   " ELSE status END FROM seats WHERE schedule_id = $1 AND seat_no = $2", 2, p);
    if (s && strcmp(s, "AVAILABLE") == 0 && bk_redis_holder(schedule_id, seat_no) > 0) {
        free(s);
        s = strdup("HELD");
    }
    return s;
}

/* The reservation a seat is held or sold by: PostgreSQL's, or a live hold
 * Redis keeps; 0 when none. */
static int64_t bk_seat_holder(int64_t schedule_id, int seat_no) __attribute__((unused));
static int64_t bk_seat_holder(int64_t schedule_id, int seat_no)
{
    char sid[24], no[16];
    const char *p[] = {sid, no};
    int64_t id;

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    snprintf(no, sizeof no, "%d", seat_no);
    id = t_pg_int("SELECT coalesce(max(reservation_id), 0) FROM seats WHERE schedule_id = $1 AND seat_no = $2"
                  " AND (status = 'SOLD' OR (status = 'HELD' AND held_until > now()))", 2, p);
    return id > 0 ? id : bk_redis_holder(schedule_id, seat_no);
}

/* The seats of schedule_id held by live holds (not run out, PostgreSQL's
 * and Redis's) of user (NULL: anyone's), as a bitmask of seat numbers
 * 1..62; *named (when not NULL) the seats the holds name, summed. */
static int64_t bk_held_mask(int64_t schedule_id, const char *user, int64_t *named) __attribute__((unused));
struct bk_mask {
    const char *user;
    int64_t mask, named;
};

static int bk_mask_hold(int64_t id, const char *rec, void *arg)
{
    struct bk_mask *m = arg;
    char f[64];

    (void)id;
    bk_record_field(rec, 0, f, sizeof f);
    if (m->user && strcmp(f, m->user) != 0)
        return 0;
    bk_record_field(rec, 2, f, sizeof f);
    for (const char *q = f; *q; q += strcspn(q, ",") + (q[strcspn(q, ",")] == ',')) {
        m->mask |= (int64_t)1 << (atoi(q) - 1);
        m->named++;
    }
    return 0;
}

static int64_t bk_held_mask(int64_t schedule_id, const char *user, int64_t *named)
{
    char sid[24];
    const char *p[] = {sid, user ? user : ""};
    struct bk_mask m = {user, 0, 0};

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    m.mask = t_pg_int("SELECT coalesce(sum(1::bigint << (s.seat_no - 1)), 0) FROM seats s"
                      " JOIN reservations r ON r.id = s.reservation_id WHERE s.schedule_id = $1::bigint"
                      " AND s.status = 'HELD' AND s.held_until > now() AND ($2 = '' OR r.user_id::text = $2)"
                      " AND s.seat_no = ANY (r.seat_nos)", 2, p);
    m.named = t_pg_int("SELECT coalesce(sum(cardinality(seat_nos)), 0) FROM reservations"
                       " WHERE schedule_id = $1::bigint AND status = 'HELD' AND expires_at > now()"
                       " AND ($2 = '' OR user_id::text = $2)", 2, p);
    bk_redis_holds(schedule_id, 1, bk_mask_hold, &m);
    if (named)
        *named = m.named;
    return m.mask;
}

/* How many of seats 1..nseats of schedule_id read HELD (bk_seat). */
static int64_t bk_held_count(int64_t schedule_id, int nseats) __attribute__((unused));
static int64_t bk_held_count(int64_t schedule_id, int nseats)
{
    int64_t n = 0;

    for (int i = 1; i <= nseats; i++) {
        char *v = bk_seat(schedule_id, i);

        n += v && strcmp(v, "HELD") == 0;
        free(v);
    }
    return n;
}

/* A reservation's stored status (no run-out rule): PostgreSQL's row, else
 * the hold Redis keeps (HELD, CANCELLED, EXPIRED; PAID is PostgreSQL's
 * CONFIRMED). malloc'd, or NULL when there is none. */
static char *bk_status(int64_t id) __attribute__((unused));
static char *bk_status(int64_t id)
{
    char text[24], f[16], *rec;
    const char *p[] = {text};
    char *s;

    snprintf(text, sizeof text, "%" PRId64, id);
    s = t_pg_value("SELECT status FROM reservations WHERE id = $1::bigint", 1, p);
    if (s || id < BK_REDIS_IDS || !(rec = bk_hold_record(id)))
        return s;
    bk_record_field(rec, 6, f, sizeof f);
    free(rec);
    return strdup(f);
}

/* The raw stored status of a seat or reservation (no run-out rule). */
static char *bk_raw(const char *sql, int64_t id) __attribute__((unused));
static char *bk_raw(const char *sql, int64_t id)
{
    char text[24];
    const char *p[] = {text};

    snprintf(text, sizeof text, "%" PRId64, id);
    return t_pg_value(sql, 1, p);
}

/* One integer from a query with one id parameter. */
static int64_t bk_int(const char *sql, int64_t id) __attribute__((unused));
static int64_t bk_int(const char *sql, int64_t id)
{
    char text[24];
    const char *p[] = {text};

    snprintf(text, sizeof text, "%" PRId64, id);
    return t_pg_int(sql, 1, p);
}

/* One integer from a query with one text parameter (a user id). */
static int64_t bk_user_int(const char *sql, const char *user) __attribute__((unused));
static int64_t bk_user_int(const char *sql, const char *user)
{
    const char *p[] = {user};

    return t_pg_int(sql, 1, p);
}

/* Compares a string result with the expected one and frees it. */
static int bk_is(char *got, const char *want, const char *what) __attribute__((unused));
static int bk_is(char *got, const char *want, const char *what)
{
    int r = is(got, want, "%s", what);

    free(got);
    return r;
}

/* A concert with one show of 10 seats at 1,000 won (activeLimit 50, holds of
 * 300 s), and two new users each with an ACTIVE token for it: the set-up of
 * the stories that compare what one user may do with another's hold. Bails
 * out when the stack cannot make them. Fills sched[0]. */
static int64_t bk_two_active(int64_t *sched, char userA[37], char **tokA, char userB[37],
                             char **tokB) __attribute__((unused));
static int64_t bk_two_active(int64_t *sched, char userA[37], char **tokA, char userB[37], char **tokB)
{
    int64_t concert = t_create_concert(50, 600, 600, 300, 1, 10, 1000, sched);

    if (concert < 0)
        bail_out("cannot create a concert (admin API)");
    t_user(userA);
    t_user(userB);
    *tokA = t_active_token(concert, userA);
    *tokB = t_active_token(concert, userB);
    if (!*tokA || !*tokB)
        bail_out("cannot get queue tokens (queue API)");
    return concert;
}

#endif
