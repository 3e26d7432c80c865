/* 43-sales-closed: a show that has started sells nothing more.
 *
 * The story: an operator cannot create a show that has already started: a
 * startsAt in the past, alone or among shows to come, is 400 and creates
 * nothing. On a show still to come, A holds two seats and charges enough
 * to pay. Then the show's time comes (its startsAt moved into the past in
 * PostgreSQL, as if the clock had run): A's payment is 409 SALES_CLOSED,
 * with or without an Idempotency-Key, and nothing is charged, sold or
 * stored; A's token stays ACTIVE. B's hold of a free seat is 409
 * SALES_CLOSED too, holds nothing and leaves no Redis lock behind. A can
 * still cancel the hold, and the seats are free. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <unistd.h>

static int64_t concert_count(void)
{
    return t_pg_int("SELECT count(*) FROM concerts", 0, NULL);
}

static int64_t schedule_count(void)
{
    return t_pg_int("SELECT count(*) FROM schedules", 0, NULL);
}

/* Posts a concert with the given schedules array; returns the status. */
static long admin_create(const char *schedules, struct t_resp *r)
{
    char auth[400], body[1024];
    const char *headers[] = {auth, NULL};

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    snprintf(body, sizeof body, "{\"title\":\"Sales closed\",\"schedules\":%s}", schedules);
    if (t_request("POST", "/api/v1/admin/concerts", headers, body, r) < 0)
        return 0;
    return r->status;
}

int main(void)
{
    struct t_resp r;
    char past[32], future[32], schedules[256], userA[37], userB[37], key[48], path[96], lock[96];
    char *tokA, *tokB;
    int64_t sched[1], concert, concerts, shows, res_a;

    t_init();

    /* --- the admin API takes only shows to come ------------------------ */
    t_time_from_now(-60, past);
    t_time_from_now(86400, future);
    concerts = concert_count();
    shows = schedule_count();
    snprintf(schedules, sizeof schedules, "[{\"startsAt\":\"%s\"}]", past);
    admin_create(schedules, &r);
    ok(r.status == 400 && strcmp(t_error_code(&r), "INVALID_REQUEST") == 0,
       "a show that started a minute ago: 400 INVALID_REQUEST (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    snprintf(schedules, sizeof schedules, "[{\"startsAt\":\"%s\"},{\"startsAt\":\"%s\"}]", future, past);
    admin_create(schedules, &r);
    ok(r.status == 400 && strcmp(t_error_code(&r), "INVALID_REQUEST") == 0,
       "a past show among shows to come: 400 (%ld %s)", r.status, r.body ? r.body : "");
    ok(r.body && strstr(r.body, "schedules index 1"), "the message names the one in the past (%s)",
       r.body ? r.body : "");
    t_resp_free(&r);
    is_int(concert_count(), concerts, "no concert was created");
    is_int(schedule_count(), shows, "and no show");

    /* --- a show that starts after a hold was made ------------------------ */
    concert = bk_two_active(sched, userA, &tokA, userB, &tokB);
    {
        int seats[] = {1, 2};
        res_a = bk_hold_id(tokA, sched[0], seats, 2);
    }
    ok(res_a > 0, "A holds seats 1 and 2 while the show is still to come");
    ok(bk_charge(userA, 10000, NULL, NULL) == 200, "A charges 10,000");
    {
        char sid[24];
        const char *p[] = {sid};
        snprintf(sid, sizeof sid, "%" PRId64, sched[0]);
        ok(t_pg_int("UPDATE schedules SET starts_at = now() - interval '1 second' WHERE id = $1::bigint"
                    " RETURNING 1", 1, p) == 1, "the show starts (its startsAt is now in the past)");
    }

    bk_pay(tokA, res_a, NULL, &r);
    ok(r.status == 409 && strcmp(t_error_code(&r), "SALES_CLOSED") == 0,
       "A pays: 409 SALES_CLOSED (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    snprintf(key, sizeof key, "closed-%d", (int)getpid());
    bk_pay(tokA, res_a, key, &r);
    ok(r.status == 409 && strcmp(t_error_code(&r), "SALES_CLOSED") == 0,
       "with an Idempotency-Key: 409 SALES_CLOSED too (%ld)", r.status);
    t_resp_free(&r);
    is_int(bk_balance(userA), 10000, "nothing was charged");
    is_int(bk_user_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid", userA), 1,
           "the ledger holds the charge alone");
    bk_is(bk_status(res_a), "HELD", "the reservation is still HELD");
    ok(bk_seat_holder(sched[0], 1) == res_a && bk_seat_holder(sched[0], 2) == res_a, "its seats are still HELD by it");
    bk_is(bk_seat(sched[0], 1), "HELD", "not SOLD");
    is_int(bk_int("SELECT count(*) FROM payments WHERE reservation_id = $1", res_a), 0, "no payment row");
    is_int(bk_user_int("SELECT count(*) FROM idempotency_keys WHERE key = $1", key), 0, "no Idempotency-Key kept");
    t_get("/api/v1/queue/status", tokA, &r);
    is(t_json_str(r.json, "status"), "ACTIVE", "A's token is still ACTIVE (a refused payment ends nothing)");
    t_resp_free(&r);

    {
        int three[] = {3};
        const char *exists[] = {"EXISTS", lock};
        /* A show's start is read again from PostgreSQL within a second
         * (the responders keep a schedule's facts that long): the clock
         * itself is exact, but this start was moved behind their back. */
        t_sleep_ms(1100);
        bk_hold(tokB, sched[0], three, 1, &r);
        ok(r.status == 409 && strcmp(t_error_code(&r), "SALES_CLOSED") == 0,
           "B holds free seat 3: 409 SALES_CLOSED (%ld %s)", r.status, r.body ? r.body : "");
        t_resp_free(&r);
        is_int(bk_reservation_count(sched[0]), 1, "B holds nothing (A's is the show's only reservation)");
        bk_is(bk_seat(sched[0], 3), "AVAILABLE", "seat 3 is AVAILABLE");
        snprintf(lock, sizeof lock, "{c:%" PRId64 "}:seat:%" PRId64 ":3", concert, sched[0]);
        is_int(t_redis_int(2, exists), 0, "and B's Redis lock on it was given back");
    }

    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, res_a);
    t_delete(path, tokA, &r);
    ok(r.status == 200 && t_json_str(r.json, "status") && strcmp(t_json_str(r.json, "status"), "CANCELLED") == 0,
       "A can still let the hold go: 200 CANCELLED (%ld)", r.status);
    t_resp_free(&r);
    is_int(bk_held_count(sched[0], 10), 0, "every seat of the show is free");

    free(tokA);
    free(tokB);
    return done_testing();
}
