/* 2d-poll-pacing: the server tells each waiting client when to poll again
 * (pollAfterSeconds), so a concert's polling stays bounded however many
 * wait, and a client that does as told is never dropped for idleness.
 *
 * First the rule itself (queue_poll_after, the function the responders
 * call), over lines of 100 to 1,000,000 waiting users and admission rates
 * of 0.01 to 10,000 a second: every answer is 1 to 300 seconds and at most
 * half the idle limit; nearer the head never waits longer than further
 * back; the first in line polls every second; and the whole line together
 * polls at most 4,000 times a second (QUEUE_POLL_BUDGET), or, when so many
 * wait that a poll every 300 s from each already costs more, that plus a
 * quarter of the budget: under 5,000 for a million. The pre-queue is told to come back just after
 * the opening, spread so that its polls stay within the budget. Then through the API: token and status answers
 * carry pollAfterSeconds (and opensAt null), 1 for the head of the line;
 * and with an idle limit of 4 seconds a waiting user who polls exactly
 * when told stays in line for 10 seconds, while one who stops polling is
 * dropped; and a burst of arrivals is told first polls spread over the
 * whole of their waits, so it does not come back as a burst. */
#include "tap.h"
#include "testlib.h"
#include "queue.h"

#include <inttypes.h>
#include <math.h>
#include <unistd.h>

static void pin_conf(int64_t concert_id, const char *limit, const char *active_ms, const char *idle_ms)
{
    char key[64];
    const char *hset[] = {"HSET", key, "limit", limit, "active_ms", active_ms, "idle_ms", idle_ms,
                          "per_minute", "0", "paused", "0", "opens_ms", "0",
                          "fresh_until", "99999999999999"};

    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert_id);
    t_redis_cmd(16, hset);
}

static void rule_checks(void)
{
    static const int64_t lines[] = {100, 1000, 20000, 100000, 200000, 1000000};
    static const double rates[] = {0.01, 1, 10, 100, 1000, 10000};
    int in_range = 1, ordered = 1, head_fast = 1, bounded = 1;
    double worst = 0;

    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        for (size_t j = 0; j < sizeof rates / sizeof rates[0]; j++) {
            int64_t w = lines[i], last = 0;
            double total = 0, allowed;

            for (int64_t p = 1; p <= w; p++) {
                int64_t after = queue_poll_after(p, w, rates[j], 600000);
                if (after < 1 || after > 300 || queue_poll_after(p, w, rates[j], 9000) > 4)
                    in_range = 0;
                if (after < last)
                    ordered = 0;
                last = after;
                total += 1.0 / (double)after;
            }
            head_fast = head_fast && queue_poll_after(1, w, rates[j], 600000) == 1;
            allowed = (double)w / 300.0 + QUEUE_POLL_BUDGET / 4;
            if (allowed < QUEUE_POLL_BUDGET)
                allowed = QUEUE_POLL_BUDGET;
            if (total > allowed || total > 5000)
                bounded = 0;
            if (total / allowed > worst)
                worst = total / allowed;
            if (w == 200000 && j == 3)
                diag("200,000 waiting, 100 admitted a second: %.0f polls a second", total);
        }
    }
    ok(in_range, "every pollAfterSeconds is 1..300, and at most half the idle limit");
    ok(ordered, "nobody is told to poll later than someone further back");
    ok(head_fast, "the first in line polls every second");
    ok(bounded, "the whole line polls within the budget (at worst %.0f%% of it)", worst * 100);
}

/* The pre-queue's rule (queue_pre_poll_window): far from the opening, a
 * poll anywhere within the longest wait; once the opening is within reach,
 * every pre-queued user is told to come back just after it, in a window
 * sized for the crowd expected by then. Simulated: crowds arriving at 500
 * to 20,000 a second for 2 to 10 seconds before the opening, each user
 * told with the pre-queue as it was when they arrived; their polls in any
 * second after the opening stay under 4/3 of the budget, all of them come
 * back within the longest wait (so within the idle limit), and they learn
 * their places within 1.5 crowd / budget + 2 seconds of the opening (the
 * crowd is foreseen from whole seconds, a little high). */
static void pre_queue_checks(void)
{
    static const int rates[] = {500, 4000, 20000};
    static const int opens_in[] = {2, 5, 10};
    int far_ok = 1, near_ok = 1, soon = 1, near;
    double worst = 0;
    int64_t low, high;

    for (int until = 1; until <= 300; until++) {
        if (!queue_pre_poll_window(until, 100000, 10000, 600000, &low, &high))
            far_ok = far_ok && low == 1 && high == 300;
    }
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        for (size_t j = 0; j < sizeof opens_in / sizeof opens_in[0]; j++) {
            int64_t crowd = (int64_t)rates[i] * opens_in[j];
            double per_second[61] = {0};
            int last = 0;

            for (int64_t k = 0; k < crowd; k++) {
                double t = (double)k / rates[i];
                int64_t until = (int64_t)ceil(opens_in[j] - t);
                if (!queue_pre_poll_window(until, k + 1, (int64_t)(t * 1000), 600000, &low, &high))
                    continue;
                near_ok = near_ok && low == until && high >= low && high <= 300;
                /* Polled p seconds after arriving at t: second p - until after the opening. */
                for (int64_t p = low; p <= high && p - until <= 60; p++) {
                    per_second[p - until] += 1.0 / (double)(high - low + 1);
                    if (p - until > last)
                        last = (int)(p - until);
                }
            }
            for (int x = 0; x <= 60; x++)
                if (per_second[x] / QUEUE_POLL_BUDGET > worst)
                    worst = per_second[x] / QUEUE_POLL_BUDGET;
            if (last > (int)ceil(1.5 * (double)crowd / QUEUE_POLL_BUDGET) + 2)
                soon = 0;
        }
    }
    near = queue_pre_poll_window(5, 20000, 5000, 600000, &low, &high);
    ok(far_ok && near_ok && near && low == 5 && high == 15,
       "pre-queue: 20,000 in 5 s, 5 s before the opening (40,000 by then), are told 5 to 15 s; far from it, "
       "1 to 300 s");
    ok(worst <= 4.0 / 3.0, "their polls just after the opening stay under 4/3 of the budget (at worst %.0f%%)",
       worst * 100);
    ok(soon, "and all come back within 1.5 crowd / budget + 2 seconds of the opening");
}

int main(void)
{
    char users[4][37];
    char *tokens[4];
    struct t_resp r;
    int64_t concert, sched[1];
    int stayed = 1, told_max = 0;

    t_init();
    plan(14);
    rule_checks();
    pre_queue_checks();

    concert = t_create_concert(1, 600, 600, 300, 1, 5, 1000, sched);
    pin_conf(concert, "1", "600000", "4000");
    for (int i = 0; i < 3; i++) {
        t_user(users[i]);
        tokens[i] = t_issue_token(concert, users[i], &r);
        if (i == 1)
            ok(r.status == 201 && t_json_int(r.json, "pollAfterSeconds") == 1 &&
                   json_object_object_get_ex(r.json, "opensAt", NULL) && !json_object_object_get(r.json, "opensAt"),
               "the first in line is told 1 second, and opensAt is null (%lld)",
               (long long)t_json_int(r.json, "pollAfterSeconds"));
        t_resp_free(&r);
    }
    t_get("/api/v1/queue/status", tokens[2], &r);
    ok(r.status == 200 && t_json_int(r.json, "position") == 2 && t_json_int(r.json, "pollAfterSeconds") >= 1 &&
           t_json_int(r.json, "pollAfterSeconds") <= 2,
       "the second in line, idle limit 4 s: told 1 or 2 seconds (%lld)",
       (long long)t_json_int(r.json, "pollAfterSeconds"));
    t_resp_free(&r);
    t_get("/api/v1/queue/status", tokens[0], &r);
    ok(r.status == 200 && t_json_int(r.json, "pollAfterSeconds") >= 1 && t_json_int(r.json, "pollAfterSeconds") <= 300,
       "an ACTIVE token is told when to look again too (%lld)", (long long)t_json_int(r.json, "pollAfterSeconds"));
    t_resp_free(&r);

    /* The third user polls exactly when told for 10 seconds; the second
     * stops polling. */
    for (long waited = 0; waited < 10000;) {
        int64_t after;
        t_get("/api/v1/queue/status", tokens[2], &r);
        if (r.status != 200 || strcmp(t_json_str(r.json, "status") ? t_json_str(r.json, "status") : "", "WAITING") != 0)
            stayed = 0;
        after = t_json_int(r.json, "pollAfterSeconds");
        t_resp_free(&r);
        if (!stayed || after < 1)
            break;
        if (after > told_max)
            told_max = (int)after;
        t_sleep_ms(after * 1000);
        waited += after * 1000;
    }
    ok(stayed, "polling when told (every %d s at most) keeps a place past the 4-second idle limit", told_max);
    t_get("/api/v1/queue/status", tokens[1], &r);
    ok(r.status == 401, "while the one who stopped polling was dropped (%ld)", r.status);
    t_resp_free(&r);
    t_get("/api/v1/queue/status", tokens[2], &r);
    ok(r.status == 200 && t_json_int(r.json, "position") == 1, "and the one who polled moved up to first");
    t_resp_free(&r);
    for (int i = 0; i < 3; i++)
        free(tokens[i]);

    /* A burst of arrivals: each one's first poll falls at a random moment
     * within what it is told afterwards, over the whole of it, so the burst
     * does not come back as one. */
    {
        enum { BURST = 24 };
        char id[37];
        char *burst[BURST];
        int64_t first[BURST], later, c2, s2[1];
        int within = 1, first_half = 0, second_half = 0;

        c2 = t_create_concert(1, 600, 600, 300, 1, 5, 1000, s2);
        pin_conf(c2, "1", "600000", "600000");
        for (int i = 0; i < BURST; i++) {
            t_user(id);
            burst[i] = t_issue_token(c2, id, &r);
            first[i] = t_json_int(r.json, "pollAfterSeconds");
            t_resp_free(&r);
        }
        for (int i = 1; i < BURST; i++) {
            t_get("/api/v1/queue/status", burst[i], &r);
            later = t_json_int(r.json, "pollAfterSeconds");
            t_resp_free(&r);
            if (first[i] < 1 || first[i] > later)
                within = 0;
            first_half += 2 * first[i] <= later;
            second_half += 2 * first[i] > later;
        }
        ok(within && first_half > 0 && second_half > 0,
           "a burst's first polls: each within its later wait, over the whole of it (%d in its first half, %d in"
           " its second)", first_half, second_half);
        for (int i = 0; i < BURST; i++)
            free(burst[i]);
    }
    return done_testing();
}
