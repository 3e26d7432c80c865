/* 40-booking.h - helpers the hold, balance, payment and cron tests (t/4x-7x)
 * share: requests with an Idempotency-Key, holds, cancels, charges and payments in
 * one call each, and reads of what PostgreSQL really stored. Header-only
 * (static functions), included once per test program after tap.h and
 * testlib.h. */
#ifndef CONCERT_T_BOOKING_H
#define CONCERT_T_BOOKING_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A seat's status in PostgreSQL as every reader must see it: a HELD seat
 * whose hold ran out reads AVAILABLE. malloc'd, or NULL. */
static char *bk_seat(int64_t schedule_id, int seat_no) __attribute__((unused));
static char *bk_seat(int64_t schedule_id, int seat_no)
{
    char sid[24], no[16];
    const char *p[] = {sid, no};

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    snprintf(no, sizeof no, "%d", seat_no);
    return t_pg_value("SELECT CASE WHEN status = 'HELD' AND held_until <= now() THEN 'AVAILABLE'"
                      " ELSE status END FROM seats WHERE schedule_id = $1 AND seat_no = $2", 2, p);
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
