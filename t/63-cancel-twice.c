/* 63-cancel-twice: a cancellation retried is answered, not refused.
 *
 * The story: A holds seats 1 and 2, a hold PostgreSQL keeps with its Redis
 * seat locks (as every hold was before holds moved to Redis; a Redis hold's
 * cancellation is one script, its retry told in t/47 and t/48). A's DELETE
 * reaches a responder that cancels the hold in PostgreSQL and dies before
 * answering (the cancellation is made here in PostgreSQL directly:
 * committed, no answer, the Redis seat locks still there). A retries: 200 with the reservation
 * CANCELLED, and the retry gives the seat locks back, so B can hold seat 1
 * at once. A's third DELETE is the same 200, byte for byte, and frees
 * nothing again: seat 1 stays HELD by B, B's Redis lock stays, seat 2 stays
 * AVAILABLE, and A's list shows the one reservation CANCELLED. Cancelling a
 * paid hold is still 409, and a run-out one 410. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

static long long lock_exists(int64_t concert, int64_t schedule, int seat)
{
    char key[96];
    const char *argv[] = {"EXISTS", key};

    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":%d", concert, schedule, seat);
    return t_redis_int(2, argv);
}

int main(void)
{
    struct t_resp r, second;
    int64_t sched[1], concert, res_a, res_b, res_paid;
    char userA[37], userB[37], path[96];
    char *tokA, *tokB;

    t_init();
    concert = bk_two_active(sched, userA, &tokA, userB, &tokB);
    res_a = bk_pg_hold(userA, concert, sched[0], "{1,2}");
    for (int seat = 1; seat <= 2; seat++) {
        char key[96];

        snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":%d", concert, sched[0], seat);
        t_redis_cmd(5, (const char *[]){"SET", key, "00000000000000000000000000000000", "PX", "300000"});
    }
    ok(res_a > 0 && lock_exists(concert, sched[0], 1) == 1, "A holds seats 1 and 2 (Redis locks them)");

    /* The first DELETE: committed, never answered. */
    {
        char idtext[24], concerttext[24];
        const char *p[] = {userA, concerttext, idtext};
        char *v;
        snprintf(idtext, sizeof idtext, "%" PRId64, res_a);
        snprintf(concerttext, sizeof concerttext, "%" PRId64, concert);
        v = t_pg_value("SELECT outcome FROM booking_cancel($1::uuid, $2::bigint, $3::bigint)", 3, p);
        is(v, "cancelled", "the cancellation commits in PostgreSQL; its answer is lost");
        free(v);
    }
    is_int(lock_exists(concert, sched[0], 1), 1, "seat 1's Redis lock is still there");

    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, res_a);
    t_delete(path, tokA, &second);
    ok(second.status == 200, "A retries the DELETE: 200 (%ld %s)", second.status, second.body ? second.body : "");
    is(t_json_str(second.json, "status"), "CANCELLED", "with the reservation CANCELLED");
    is_int(t_json_int(second.json, "reservationId"), res_a, "the same reservation");
    is_int(lock_exists(concert, sched[0], 1) + lock_exists(concert, sched[0], 2), 0,
           "the retry gave the seat locks back");
    {
        int one[] = {1};
        res_b = bk_hold_id(tokB, sched[0], one, 1);
    }
    ok(res_b > 0, "B holds seat 1 at once");

    t_delete(path, tokA, &r);
    ok(r.status == 200 && r.body && second.body && strcmp(r.body, second.body) == 0,
       "A's third DELETE: the same 200, byte for byte (%ld)", r.status);
    t_resp_free(&r);
    t_resp_free(&second);
    is_int(bk_seat_holder(sched[0], 1), res_b, "seat 1 is still B's");
    bk_is(bk_seat(sched[0], 1), "HELD", "and HELD");
    is_int(lock_exists(concert, sched[0], 1), 1, "B's Redis lock on seat 1 is still there");
    bk_is(bk_seat(sched[0], 2), "AVAILABLE", "seat 2 stays AVAILABLE");
    bk_is(bk_status(res_b), "HELD", "B's hold stands");
    {
        const char *p[] = {userA};
        char *v = t_pg_value("SELECT string_agg(status, ',') FROM reservations WHERE user_id = $1::uuid", 1, p);
        is(v, "CANCELLED", "A has one reservation, CANCELLED");
        free(v);
    }

    /* The other ends of a hold are still refused. */
    {
        int three[] = {3};
        res_paid = bk_hold_id(tokA, sched[0], three, 1);
    }
    bk_charge(userA, 1000, NULL, NULL);
    ok(bk_pay(tokA, res_paid, NULL, NULL) == 201, "A holds seat 3 and pays");
    free(tokA);
    tokA = t_active_token(concert, userA);
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, res_paid);
    ok(t_answers_error("DELETE", path, tokA, NULL, 409, "RESERVATION_NOT_PAYABLE"),
       "cancelling the paid hold: 409 RESERVATION_NOT_PAYABLE");
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, res_b);
    bk_run_out(res_b);   /* B's hold runs out (moved back rather than waited for) */
    ok(t_answers_error("DELETE", path, tokB, NULL, 410, "HOLD_EXPIRED"), "cancelling a run-out hold: 410 HOLD_EXPIRED");

    free(tokA);
    free(tokB);
    return done_testing();
}
