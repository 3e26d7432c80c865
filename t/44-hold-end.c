/* 44-hold-end: the instant a hold ends, it has ended everywhere.
 *
 * A hold's end time (expiresAt) is the first instant at which it has run
 * out: from then on its seats are free (the seat map's AVAILABLE, and free
 * to hold) while it can no longer be paid or cancelled, and the list shows
 * it EXPIRED. One rule (hold_ran_out, and seat_is_free built on it) serves
 * the catalog's statements and the booking functions, so no instant exists
 * at which a seat reads free while its hold could still be paid, or the
 * other way round.
 *
 * The story: A holds seat 1 (a hold PostgreSQL keeps, as every hold was
 * before holds moved to Redis). Inside one PostgreSQL transaction (so now()
 * stands still), A's hold is made to end exactly now: the seat is free by
 * the catalog's rule, the reservation reads EXPIRED, paying and cancelling
 * it find the hold expired, and B's hold of the seat succeeds. Rolled back
 * and done again with the end a microsecond ahead: the seat is taken, the
 * reservation HELD, B is refused, and A could pay. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

static char user_a[37], user_b[37], concert_text[24], schedule_text[24], reservation_text[24];

/* Moves A's hold to end at now() + offset, inside the open transaction. */
static void end_at(const char *offset)
{
    const char *p[] = {reservation_text, offset};

    t_pg_value("UPDATE reservations SET expires_at = now() + $2::interval WHERE id = $1::bigint", 2, p);
    t_pg_value("UPDATE seats SET held_until = now() + $2::interval WHERE reservation_id = $1::bigint", 2, p);
}

static char *seat_free(void)
{
    const char *p[] = {schedule_text};

    return t_pg_value("SELECT seat_is_free(status, held_until) FROM seats WHERE schedule_id = $1::bigint"
                      " AND seat_no = 1", 1, p);
}

static char *listed_status(void)
{
    const char *p[] = {reservation_text};

    return t_pg_value("SELECT booking_reservation_json(r)->>'status' FROM reservations r WHERE r.id = $1::bigint",
                      1, p);
}

static char *pay_outcome(void)
{
    const char *p[] = {user_a, concert_text, reservation_text};

    return t_pg_value("SELECT outcome FROM booking_pay_now($1::uuid, $2::bigint, $3::bigint)", 3, p);
}

static char *cancel_outcome(void)
{
    const char *p[] = {user_a, concert_text, reservation_text};

    return t_pg_value("SELECT outcome FROM booking_cancel($1::uuid, $2::bigint, $3::bigint)", 3, p);
}

static char *hold_outcome(void)
{
    const char *p[] = {user_b, concert_text, schedule_text};

    return t_pg_value("SELECT outcome FROM booking_hold($1::uuid, $2::bigint, $3::bigint, '{1}', 'owner-b')", 3, p);
}

int main(void)
{
    int64_t sched[1], concert, reservation;
    char *tok;

    t_init();
    concert = t_create_concert_or_bail(50, 600, 600, 300, 1, 5, 1000, sched);
    t_user(user_b);
    tok = t_active_user(concert, user_a);
    if (!tok)
        bail_out("cannot get a queue token (queue API)");
    /* PostgreSQL's rule for the holds it keeps (those made before holds
     * moved to Redis); a Redis hold's end is judged in its scripts by the
     * same instant (t/47). */
    reservation = bk_pg_hold(user_a, concert, sched[0], "{1}");
    ok(reservation > 0, "A holds seat 1 in PostgreSQL");
    bk_charge(user_a, 1000, NULL, NULL);
    snprintf(concert_text, sizeof concert_text, "%" PRId64, concert);
    snprintf(schedule_text, sizeof schedule_text, "%" PRId64, sched[0]);
    snprintf(reservation_text, sizeof reservation_text, "%" PRId64, reservation);

    t_pg_value("BEGIN", 0, NULL);
    end_at("0 seconds");
    bk_is(seat_free(), "t", "at the end instant the seat is free (the seat map reads AVAILABLE)");
    bk_is(listed_status(), "EXPIRED", "the reservation reads EXPIRED");
    bk_is(pay_outcome(), "hold_expired", "paying it: the hold has run out");
    bk_is(cancel_outcome(), "hold_expired", "cancelling it: the hold has run out");
    bk_is(hold_outcome(), "held", "B can hold the seat");
    t_pg_value("ROLLBACK", 0, NULL);

    t_pg_value("BEGIN", 0, NULL);
    end_at("1 microsecond");
    bk_is(seat_free(), "f", "a microsecond before, the seat is taken");
    bk_is(listed_status(), "HELD", "the reservation reads HELD");
    bk_is(hold_outcome(), "seat_unavailable", "B is refused");
    bk_is(pay_outcome(), "paid", "and A could pay");
    t_pg_value("ROLLBACK", 0, NULL);

    bk_is(bk_raw("SELECT status FROM reservations WHERE id = $1", reservation), "HELD",
          "rolled back: A's hold is as it was");
    free(tok);
    return done_testing();
}
