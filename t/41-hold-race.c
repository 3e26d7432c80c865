/* 41-hold-race: 200 users race for one seat; exactly one gets it.
 *
 * The story: 200 users of one concert, each with an ACTIVE token, ask for
 * the same seat at the same moment (200 processes released together, going
 * through the real front to both responder instances). Exactly one gets 201,
 * the other 199 get 409 SEAT_UNAVAILABLE, and one reservation holds that
 * one seat (in Redis until it is paid, shared/hold.h). Then 100 more users race for a pair of
 * seats that overlaps the held one and for the pair next to it: the first
 * pair is refused to everyone, the second goes to exactly one of them. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#define RACERS 200
#define SECOND 100

static char *tokens[RACERS];
static int64_t schedule_id;

/* Everyone wants seat 5. */
static int race_one(int i, void *arg)
{
    int seat[] = {5};

    (void)arg;
    return (int)bk_hold(tokens[i], schedule_id, seat, 1, NULL);
}

/* Even racers want 5 and 6 (5 is held), odd ones 7 and 8. */
static int race_pairs(int i, void *arg)
{
    int held[] = {5, 6}, free_pair[] = {7, 8};

    (void)arg;
    return (int)bk_hold(tokens[i], schedule_id, i % 2 ? free_pair : held, 2, NULL);
}

int main(void)
{
    int results[RACERS];
    int64_t concert, winners = 0, refused = 0, other = 0;
    struct t_race_tally one;
    char user[37];

    t_init();
    concert = t_create_concert_or_bail(RACERS + 10, 600, 600, 300, 1, 10, 1000, &schedule_id);
    for (int i = 0; i < RACERS; i++) {
        tokens[i] = t_active_user(concert, user);
        if (!tokens[i])
            bail_out("cannot get ACTIVE tokens (queue API)");
    }

    ok(t_race(RACERS, race_one, NULL, results) == 0, "%d racers ran", RACERS);
    t_tally_race(results, RACERS, 201, 409, 0, &one);
    is_int(one.won, 1, "exactly one 201");
    is_int(one.refused, RACERS - 1, "every other racer 409");
    is_int(one.other, 0, "no other answer");
    is_int(bk_reservation_count(schedule_id), 1, "one reservation");
    is_int(bk_held_count(schedule_id, 10), 1, "one seat HELD");
    {
        int64_t holder = bk_seat_holder(schedule_id, 5), named = 0;

        ok(holder > 0 && bk_held_mask(schedule_id, NULL, &named) == 1 << 4 && named == 1,
           "seat 5 is held by that reservation");
    }

    ok(t_race(SECOND, race_pairs, NULL, results) == 0, "%d racers for two pairs ran", SECOND);
    for (int i = 0; i < SECOND; i++) {
        if (results[i] == 201)
            winners += i % 2 ? 1 : 100;   /* a win on the held pair would show */
        else if (results[i] == 409)
            refused++;
        else
            other++;
    }
    is_int(winners, 1, "the free pair went to exactly one racer, the held pair to none");
    is_int(refused, SECOND - 1, "every other racer 409");
    is_int(other, 0, "no other answer");
    is_int(bk_held_count(schedule_id, 10), 3, "three seats HELD in all (5, 7, 8)");
    bk_is(bk_seat(schedule_id, 6), "AVAILABLE", "seat 6 stayed AVAILABLE");
    for (int i = 0; i < RACERS; i++)
        free(tokens[i]);
    return done_testing();
}
