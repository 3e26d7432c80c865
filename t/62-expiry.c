/* 62-expiry: a hold runs out on time, whether or not cron has run.
 *
 * The story: on a concert whose holds last 2 seconds, A holds seats 1 and 2
 * and has the money to pay. Once the hold has run out (no cron needed): the
 * seats read AVAILABLE (in PostgreSQL by the run-out rule, and in the seat
 * map), A's list shows the reservation EXPIRED, paying it is 410
 * HOLD_EXPIRED with nothing debited, cancelling it is 410 too, B can hold
 * seat 2 at once, and the run-out seats no longer count against A's limit.
 * A hold paid before it runs out stays paid. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

int main(void)
{
    struct t_resp r;
    int64_t sched[1], concert, res_a, res_b, res_paid;
    char userA[37], userB[37], userC[37], path[160];
    char *tokA, *tokB, *tokC;

    t_init();
    concert = t_create_concert_or_bail(50, 600, 600, 2, 1, 10, 1000, sched);
    tokA = t_active_user(concert, userA);
    tokB = t_active_user(concert, userB);
    tokC = t_active_user(concert, userC);
    if (!tokA || !tokB || !tokC)
        bail_out("cannot get queue tokens (queue API)");

    {
        int seats[] = {1, 2}, paid[] = {9};
        res_a = bk_hold_id(tokA, sched[0], seats, 2);
        res_paid = bk_hold_id(tokC, sched[0], paid, 1);
    }
    ok(res_a > 0 && res_paid > 0, "A holds seats 1 and 2, C holds seat 9, for 2 seconds");
    bk_charge(userA, 100000, NULL, NULL);
    bk_charge(userC, 100000, NULL, NULL);
    ok(bk_pay(tokC, res_paid, NULL, NULL) == 201, "C pays at once");
    {
        int two[] = {2};
        ok(bk_hold(tokB, sched[0], two, 1, NULL) == 409, "before the end, seat 2 is not B's to take");
    }

    /* The hold ends on a whole second at most 3 s from now. */
    t_sleep_ms(3300);

    bk_is(bk_seat(sched[0], 1), "AVAILABLE", "seat 1 reads AVAILABLE");
    bk_is(bk_seat(sched[0], 2), "AVAILABLE", "seat 2 reads AVAILABLE");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", sched[0]);
    t_get(path, tokB, &r);
    ok(r.status == 200, "the seat map answers (%ld)", r.status);
    is(t_json_str(r.json, "seats.0.status"), "AVAILABLE", "the seat map shows seat 1 AVAILABLE");
    is(t_json_str(r.json, "seats.8.status"), "SOLD", "and the paid seat 9 SOLD");
    t_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/users/%s/reservations", userA);
    t_get_as(userA, path, &r);
    is(t_json_str(r.json, "reservations.0.status"), "EXPIRED", "A's list shows the hold EXPIRED");
    ok(json_object_object_get_ex(t_json_at(r.json, "reservations.0"), "paidAt", NULL) &&
       t_json_at(r.json, "reservations.0.paidAt") == NULL, "paidAt null");
    t_resp_free(&r);

    ok(bk_pay(tokA, res_a, "late", &r) == 410 && strcmp(t_error_code(&r), "HOLD_EXPIRED") == 0,
       "paying the run-out hold: 410 HOLD_EXPIRED");
    t_resp_free(&r);
    is_int(bk_balance(userA), 100000, "nothing debited");
    is_int(bk_int("SELECT count(*) FROM payments WHERE reservation_id = $1", res_a), 0, "no payment row");
    t_get("/api/v1/queue/status", tokA, &r);
    is(t_json_str(r.json, "status"), "ACTIVE", "A's token did not end");
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, res_a);
    ok(t_answers_error("DELETE", path, tokA, NULL, 410, "HOLD_EXPIRED"), "cancelling it: 410 HOLD_EXPIRED");

    {
        int two[] = {2, 3};
        res_b = bk_hold_id(tokB, sched[0], two, 2);
    }
    ok(res_b > 0, "B holds seats 2 and 3 at once");
    is_int(bk_seat_holder(sched[0], 2), res_b,
           "seat 2 is B's now");
    ok(bk_pay(tokA, res_a, NULL, &r) == 410, "A still cannot pay (410)");
    t_resp_free(&r);
    {
        int four[] = {4, 5, 6, 7};
        ok(bk_hold_id(tokA, sched[0], four, 4) > 0, "run-out seats do not count against A's limit: 4 more");
    }
    ok(bk_pay(tokB, res_b, NULL, &r) == 402, "B (no balance) is refused with 402, not 410: the hold is live");
    t_resp_free(&r);
    bk_is(bk_raw("SELECT status FROM reservations WHERE id = $1", res_paid), "CONFIRMED", "C's paid hold stays CONFIRMED");
    bk_is(bk_raw("SELECT status FROM seats WHERE schedule_id = $1 AND seat_no = 9", sched[0]), "SOLD", "seat 9 stays SOLD");

    free(tokA);
    free(tokB);
    free(tokC);
    return done_testing();
}
