/* 84-fault-flush: Redis wiped (FLUSHALL) in the middle of a run.
 *
 * Redis holds what can be rebuilt or may be lost: the queue, the seat
 * locks, caches, the sessions, and the holds not yet paid (shared/hold.h).
 * After a wipe every queue token and every session is gone, so a client's
 * next request with either gets 401 (TOKEN_INVALID, SESSION_INVALID); the
 * client logs in again, takes a new token (201, a new place at the back of
 * a new queue, ACTIVE while the concert has room) and goes on. A hold made
 * before the wipe is gone with it: its seat is free to hold again, and
 * paying it is 404 (never a sale: PostgreSQL only sells what a payment
 * brings, one seat row once). Under load: nothing but those 401s and 404s
 * fails, no seat is held or sold twice, and the invariants of faultlib.h
 * hold (holds lost with the wipe counted). A small queue (activeLimit 2)
 * shows the FIFO starting over. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    const char *flushall[] = {"FLUSHALL"};
    struct f_load L;
    long t_flush, t_flush_done, bad = 0, lost = 0, reissued = 0, reissue_bad = 0;
    char users[5][37], *tokens[5], *fresh[5] = {NULL};
    int64_t sched[1], concert, pos = -1, held_rid = -1;
    long code;

    f_require_stack();
    plan(15 + F_CHECKS);

    /* The small queue, before the wipe: A and B ACTIVE, C, D, E waiting. */
    concert = t_create_concert(2, 600, 600, 300, 1, 10, 1000, sched);
    for (int i = 0; i < 5; i++) {
        struct t_resp r;
        t_user(users[i]);
        tokens[i] = t_issue_token(concert, users[i], &r);
        t_resp_free(&r);
    }
    {
        int b_active = tokens[4] && strcmp(t_poll(tokens[1], &code, &pos), "ACTIVE") == 0;
        int e_waiting = tokens[4] && strcmp(t_poll(tokens[4], &code, &pos), "WAITING") == 0;
        ok(b_active && e_waiting && pos == 3, "small queue before the wipe: 2 ACTIVE, 3 waiting (E at %lld)",
           (long long)pos);
    }
    /* A holds seat 1 of that concert's show. */
    {
        char body[96];
        struct t_resp r;
        snprintf(body, sizeof body, "{\"scheduleId\":%lld,\"seatNos\":[1]}", (long long)sched[0]);
        t_post("/api/v1/reservations", tokens[0], body, &r);
        held_rid = r.status == 201 ? t_json_int(r.json, "reservationId") : -1;
        t_resp_free(&r);
    }
    ok(held_rid > 0, "A holds seat 1 before the wipe (reservation %lld)", (long long)held_rid);

    if (!ok(f_load_start(&L, "flush", 12, 1000, 1) == 0, "load of 12 clients started"))
        return done_testing();
    t_sleep_ms(1500);
    t_flush = f_load_ms(&L);
    ok(t_redis_cmd(1, flushall) == 0, "FLUSHALL at %ld ms", t_flush);
    /* A token whose request was sent before FLUSHALL returned may have been
     * made just before the wipe: it may be gone too. */
    t_flush_done = f_load_ms(&L);
    L.redis_may_lose = 1;
    t_sleep_ms(4000);
    f_load_stop(&L);

    f_diag_tally(&L, "after the wipe", t_flush, 1L << 40);
    for (size_t i = 0; i < L.nrecs; i++) {
        const struct f_rec *x = &L.recs[i];
        /* A payment of a hold the wipe took: 404, nothing sold. */
        int good = x->status == 200 || x->status == 201 || x->status == 402 || x->status == 409 ||
                   x->status == 410 || (x->op == F_PAY && x->status == 404);
        if (x->status == 401 && x->token_t >= 0 && x->token_t < t_flush_done)
            lost++;
        else if (!good)
            bad++;
        /* A token asked for after the wipe with a session made after it
         * (an older session is gone with the wipe: 401, counted above). */
        if (x->op == F_TOKEN && x->t0 > t_flush_done && x->token_t > t_flush_done) {
            reissued++;
            reissue_bad += x->status != 201;
        }
    }
    ok(bad == 0, "nothing failed but requests with a token from before the wipe (%ld failed otherwise)", bad);
    diag("%ld requests got 401 for a token issued before the wipe", lost);
    ok(reissued > 0 && reissue_bad == 0, "every token issued after the wipe is new: 201 (%ld of %ld)",
       reissued - reissue_bad, reissued);

    /* The small queue after the wipe. */
    {
        int all401 = 1;
        for (int i = 0; i < 5; i++) {
            t_poll(tokens[i], &code, &pos);
            all401 = all401 && code == 401;
        }
        ok(all401, "every old token of the small queue now gets 401");
    }
    {
        struct t_resp r;
        int order[] = {2, 0, 4};   /* C, A, E come back first, in that order */
        const char *want[] = {"ACTIVE", "ACTIVE", "WAITING"};
        int good = 1;

        free(t_issue_token(concert, users[2], &r));
        ok(r.status == 401 && strcmp(t_error_code(&r), "SESSION_INVALID") == 0,
           "C's session went with the wipe: 401 SESSION_INVALID (%ld)", r.status);
        t_resp_free(&r);
        for (int i = 0; i < 5; i++)
            t_log_in_again(users[i]);
        for (int k = 0; k < 3; k++) {
            fresh[k] = t_issue_token(concert, users[order[k]], &r);
            good = good && r.status == 201 && t_json_str(r.json, "status") &&
                   strcmp(t_json_str(r.json, "status"), want[k]) == 0;
            if (k == 2)
                good = good && t_json_int(r.json, "position") == 1;
            t_resp_free(&r);
        }
        ok(good, "re-issued in the order they come back: C and A ACTIVE, E first in line (201 each)");
        ok(fresh[1] && strcmp(fresh[1], tokens[0]) != 0, "the new token differs from the lost one");
        t_poll(tokens[0], &code, &pos);
        ok(code == 401, "the lost token stays invalid (%ld)", code);
    }
    /* Seat 1: A's hold went with the wipe. */
    {
        char body[96];
        struct t_resp r;
        int64_t c_rid;

        snprintf(body, sizeof body, "{\"reservationId\":%lld}", (long long)held_rid);
        {
            char charge[128];
            snprintf(charge, sizeof charge, "/api/v1/users/%s/balance/charge", users[0]);
            t_post_as(users[0], charge, "{\"amount\":5000}", &r);
            t_resp_free(&r);
            snprintf(charge, sizeof charge, "/api/v1/users/%s/balance/charge", users[2]);
            t_post_as(users[2], charge, "{\"amount\":5000}", &r);
            t_resp_free(&r);
        }
        t_post("/api/v1/payments", fresh[1], body, &r);
        ok(r.status == 404 && strcmp(t_error_code(&r), "NOT_FOUND") == 0,
           "A pays the hold made before the wipe: 404, it went with the wipe (%ld)", r.status);
        t_resp_free(&r);
        snprintf(body, sizeof body, "{\"scheduleId\":%lld,\"seatNos\":[1]}", (long long)sched[0]);
        t_post("/api/v1/reservations", fresh[0], body, &r);
        c_rid = r.status == 201 ? t_json_int(r.json, "reservationId") : -1;
        ok(c_rid > 0, "C holds A's seat after the wipe: 201 (%ld %s)", r.status, t_error_code(&r));
        t_resp_free(&r);
        snprintf(body, sizeof body, "{\"reservationId\":%lld}", (long long)c_rid);
        t_post("/api/v1/payments", fresh[0], body, &r);
        ok(r.status == 201, "C pays it: the seat is sold once (%ld)", r.status);
        t_resp_free(&r);
    }
    /* C's payment ended C's token: E, first in line, is admitted. */
    {
        int active = strcmp(t_poll(fresh[2], &code, &pos), "ACTIVE") == 0;
        ok(active, "the new queue admits: E is ACTIVE once C has paid (%ld, position %lld)", code, (long long)pos);
    }
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
    for (int i = 0; i < 5; i++)
        free(tokens[i]);
    for (int k = 0; k < 3; k++)
        free(fresh[k]);
    return done_testing();
}
