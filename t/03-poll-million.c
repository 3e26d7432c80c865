/* 03-poll-million: the queue's pacing and wait estimate for a million
 * waiting, without a stack (the functions the responders call).
 *
 * The story: a million users arrive at 5,000 a second while the line moves
 * at 1 (a sold-out sale's trickle), 100 or 2,000 admissions a second. Each
 * polls when told (queue_poll_after), a first look at a random moment
 * within its wait, as the responders tell it. Simulated second by second
 * for twenty minutes: the crowd's polls stay at most 5,000 in every second
 * and on average, nobody is told more than 300 s (the idle limit of 600 s
 * is never reached), and the first in line polls every second. The wait
 * estimate (queue_wait_estimate) of a user never grows by more than 20%
 * from one poll to the next in those runs, nor when a burst of admissions
 * at the opening is followed by none at all for ten minutes (a sale sold
 * out while everyone admitted keeps their slot). The simulation draws from
 * a fixed seed, so every run sees the same crowd. */
#include "tap.h"
#include "queue.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

enum {
    USERS = 1000000,
    ARRIVALS_PER_S = 5000,
    SECONDS = 1200,
    IDLE_MS = 600000,
    LIMIT = 500,
    ACTIVE_MS = 600000
};

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

/* xorshift64*: a fixed sequence, so the test never flakes. */
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

struct sim {
    int32_t *next_poll_of;   /* bucket lists: the next user due in the same second */
    int32_t *bucket;         /* first user due in each second, -1 when none */
    int32_t *last_estimate;
    int64_t admitted_by[SECONDS + 1];
    long polls[SECONDS];
    long grew, estimated;
    int64_t longest_told;
    int head_slow;
};

/* Admissions after waiting in the ten minutes before second t: what the
 * estimate reads from Redis. */
static int64_t window(const struct sim *s, int t)
{
    return s->admitted_by[t] - s->admitted_by[t > 600 ? t - 600 : 0];
}

static void schedule(struct sim *s, int32_t user, int at)
{
    if (at >= SECONDS)
        return;
    s->next_poll_of[user] = s->bucket[at];
    s->bucket[at] = user;
}

/* One look at one's place in second t: the estimate compared with the
 * last, and the next poll scheduled. */
static void look(struct sim *s, int32_t user, int t, double per_second, int first)
{
    int64_t position = user - s->admitted_by[t] + 1;
    int64_t arrived = (int64_t)(t + 1) * ARRIVALS_PER_S, waiting, estimate, after;

    if (position <= 0)
        return;   /* admitted: this poll sees ACTIVE and the user leaves the line */
    if (arrived > USERS)
        arrived = USERS;
    waiting = arrived - s->admitted_by[t];
    estimate = queue_wait_estimate(position, window(s, t), LIMIT, ACTIVE_MS);
    if (!first) {
        s->estimated++;
        if ((double)estimate > 1.2 * (double)s->last_estimate[user])
            s->grew++;
    }
    s->last_estimate[user] = (int32_t)estimate;
    after = queue_poll_after(position, waiting, per_second, IDLE_MS);
    if (after > s->longest_told)
        s->longest_told = after;
    if (position == 1 && after != 1)
        s->head_slow = 1;
    if (first && after > 1)
        after = 1 + (int64_t)(rng() % (uint64_t)after);
    schedule(s, user, t + (int)after);
}

/* A million arriving while the line moves at per_second: the polls in
 * each second, the longest wait told, and estimate growth. */
static void simulate(struct sim *s, double per_second)
{
    int64_t admitted = 0;
    int32_t next_arrival = 0;

    for (int t = 0; t < SECONDS; t++) {
        s->bucket[t] = -1;
        s->polls[t] = 0;
    }
    s->grew = s->estimated = s->longest_told = 0;
    s->head_slow = 0;
    for (int t = 0; t < SECONDS; t++) {
        int64_t arrived = (int64_t)(t + 1) * ARRIVALS_PER_S;

        if (arrived > USERS)
            arrived = USERS;
        /* The line moves at per_second while anyone waits. */
        admitted += (int64_t)(per_second * (t + 1)) - (int64_t)(per_second * t);
        if (admitted > arrived)
            admitted = arrived;
        s->admitted_by[t] = admitted;
        s->admitted_by[t + 1] = admitted;
        for (int32_t u = s->bucket[t]; u >= 0;) {
            int32_t next = s->next_poll_of[u];
            s->polls[t]++;
            look(s, u, t, per_second, 0);
            u = next;
        }
        for (; next_arrival < arrived; next_arrival++)
            look(s, next_arrival, t, per_second, 1);
    }
}

int main(void)
{
    static const double rates[] = {1, 100, 2000};
    struct sim s;
    int bounded = 1, within = 1, head = 1, steady = 1;
    double worst_peak = 0, worst_mean = 0, worst_growth = 0;

    plan(5);
    s.next_poll_of = malloc(sizeof *s.next_poll_of * USERS);
    s.last_estimate = malloc(sizeof *s.last_estimate * USERS);
    s.bucket = malloc(sizeof *s.bucket * SECONDS);
    if (!s.next_poll_of || !s.last_estimate || !s.bucket)
        bail_out("out of memory");
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        long peak = 0, total = 0;
        int busy = 0;

        simulate(&s, rates[r]);
        for (int t = 0; t < SECONDS; t++) {
            if (s.polls[t] > peak)
                peak = s.polls[t];
            if (s.polls[t] > 0) {
                total += s.polls[t];
                busy++;
            }
        }
        diag("a million arriving, %.0f admitted a second: %ld polls a second at the peak, %.0f on average, "
             "longest told %" PRId64 " s, %.3f%% of polls saw the estimate grow by 20%%",
             rates[r], peak, busy ? (double)total / busy : 0.0, s.longest_told,
             s.estimated ? 100.0 * (double)s.grew / (double)s.estimated : 0.0);
        if (peak > 5000 || (busy && (double)total / busy > 5000))
            bounded = 0;
        if ((double)peak > worst_peak)
            worst_peak = (double)peak;
        if (busy && (double)total / busy > worst_mean)
            worst_mean = (double)total / busy;
        if (s.longest_told > 300 || s.longest_told * 2000 > IDLE_MS)
            within = 0;
        if (s.head_slow)
            head = 0;
        if (s.estimated && (double)s.grew / (double)s.estimated > worst_growth)
            worst_growth = (double)s.grew / (double)s.estimated;
    }
    ok(bounded, "a million waiting poll at most 5,000 times a second, at the peak (%.0f) and on average (%.0f)",
       worst_peak, worst_mean);
    ok(within, "nobody is told more than 300 s, half the 600-second idle limit");
    ok(head, "the first in line is told 1 second");
    ok(worst_growth == 0, "no poll sees its wait estimate grow by more than 20%% (at worst %.3f%%)",
       100 * worst_growth);

    /* A sold-out sale: 500 admitted at the opening, then none while those
     * admitted keep their slots; ten minutes on, the burst leaves the
     * window the rate is counted over. */
    {
        int64_t first = queue_wait_estimate(100000, 0, LIMIT, ACTIVE_MS), low = first;
        for (int t = 0; t < 1200; t++) {
            int64_t e = queue_wait_estimate(100000, t < 600 ? LIMIT : 0, LIMIT, ACTIVE_MS);
            if ((double)e > 1.2 * (double)low)
                steady = 0;
            if (e < low)
                low = e;
        }
        ok(steady, "after a burst of admissions and none since, the estimate does not grow (%" PRId64 " s at first)",
           first);
    }
    free(s.next_poll_of);
    free(s.last_estimate);
    free(s.bucket);
    return done_testing();
}
