/* 42-hold-overlap: random overlapping multi-seat holds never share a seat.
 *
 * The story: 30 users of one concert fire random holds of 1 to 4 seats out
 * of 28 at the same time, two each, so most requests overlap others. Each
 * user records the seats it won. Afterwards no seat was won by two users,
 * and the stored holds (in Redis until paid, shared/hold.h) are exactly the
 * winners' seats: every HELD seat belongs to the user who won it, through a
 * reservation naming that seat, and no other seat is HELD. The per-user limit held too: nobody has more
 * than 4 seats. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <sys/random.h>

#define USERS 30
#define TRIES 2
#define SEATS 28
#define UNEXPECTED (1 << 30)

static char *tokens[USERS];
static char users[USERS][37];
static int64_t schedule_id;

/* Returns the bitmask of seats this user won (bit n-1 for seat n), with
 * UNEXPECTED set when any answer was neither 201 nor 409. */
static int racer(int i, void *arg)
{
    int won = 0;

    (void)arg;
    for (int t = 0; t < TRIES; t++) {
        unsigned char rnd[8];
        int seats[4], n, mask = 0;
        struct t_resp r;
        long st;

        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            return UNEXPECTED;
        n = 1 + rnd[0] % 4;
        for (int k = 0; k < n; k++) {
            int s = 1 + rnd[1 + k] % SEATS;
            while (mask & (1 << (s - 1)))
                s = s % SEATS + 1;
            mask |= 1 << (s - 1);
            seats[k] = s;
        }
        st = bk_hold(tokens[i], schedule_id, seats, n, &r);
        if (st == 201)
            won |= mask;
        else if (st != 409)
            won |= UNEXPECTED;
        t_resp_free(&r);
    }
    return won;
}

static int popcount(int v)
{
    int n = 0;

    for (; v; v &= v - 1)
        n++;
    return n;
}

int main(void)
{
    int results[USERS], seen = 0, overlap = 0, unexpected = 0, too_many = 0, mismatched = 0;
    int64_t concert, held;

    t_init();
    concert = t_create_concert_or_bail(USERS + 10, 600, 600, 300, 1, SEATS, 1000, &schedule_id);
    for (int i = 0; i < USERS; i++) {
        t_user(users[i]);
        tokens[i] = t_active_token(concert, users[i]);
        if (!tokens[i])
            bail_out("cannot get ACTIVE tokens (queue API)");
    }

    ok(t_race(USERS, racer, NULL, results) == 0, "%d users x %d random holds ran", USERS, TRIES);
    for (int i = 0; i < USERS; i++) {
        int64_t pg_mask;

        if (results[i] & UNEXPECTED)
            unexpected++;
        results[i] &= ~UNEXPECTED;
        if (results[i] & seen)
            overlap++;
        seen |= results[i];
        if (popcount(results[i]) > 4)
            too_many++;
        /* The seats this user holds, as a bitmask. */
        pg_mask = bk_held_mask(schedule_id, users[i], NULL);
        if (pg_mask != results[i]) {
            mismatched++;
            diag("user %d won %x, the stores say %" PRIx64, i, results[i], pg_mask);
        }
    }
    is_int(unexpected, 0, "every answer was 201 or 409");
    is_int(overlap, 0, "no seat was won by two users");
    is_int(too_many, 0, "nobody holds more than 4 seats");
    is_int(mismatched, 0, "each user's held seats are exactly the seats it won");
    held = bk_held_count(schedule_id, SEATS);
    is_int(held, popcount(seen), "no other seat is HELD (%d won)", popcount(seen));
    ok(popcount(seen) > 0, "some seats were won");
    {
        int64_t named = 0;

        bk_held_mask(schedule_id, NULL, &named);
        is_int(named, held, "the reservations name exactly the held seats");
    }
    for (int i = 0; i < USERS; i++)
        free(tokens[i]);
    return done_testing();
}
