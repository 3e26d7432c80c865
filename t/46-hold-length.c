/* 46-hold-length: a seat lock ends when its hold does, also after an
 * operator changes holdSeconds.
 *
 * The story: a concert's holds last 300 s. Eight holds (on whichever
 * responders answer them) each leave seat locks that end at the very
 * millisecond their hold ends in PostgreSQL (the expiresAt the client got).
 * Then PATCH holdSeconds=2. A second later new holds last two seconds, and
 * so do their locks: each ends with its hold, not five minutes later (it
 * did: each responder kept the old length a minute, so the seat read
 * AVAILABLE while every hold of it got 409 for five minutes). Once the hold
 * has ended someone else holds the seat at once. Last, a lock that outlives
 * its hold anyway (taken under the old length, and the step after the
 * commit that sets its end lost): the seat reads AVAILABLE and a hold of it
 * is refused by the lock, until a cron run deletes it (the reconcile used
 * to keep it: it judged the lock's age by the new hold length, and found it
 * younger than new). */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <errno.h>
#include <libgen.h>
#include <sys/wait.h>
#include <unistd.h>

static int64_t concert, sched[1];





/* Redis's clock, in Unix milliseconds. */
static long long redis_now_ms(void)
{
    return t_redis_eval_int("redis_now_ms", 0, NULL);
}

static void lock_key(int seat, char *out, size_t cap)
{
    snprintf(out, cap, "{c:%" PRId64 "}:seat:%" PRId64 ":%d", concert, sched[0], seat);
}

/* When seat's lock ends (Unix ms), -1 without an end, -2 without a lock. */
static long long lock_end_ms(int seat)
{
    char key[128];
    const char *argv[] = {"PEXPIRETIME", key};

    lock_key(seat, key, sizeof key);
    return t_redis_int(2, argv);
}

/* Holds one seat with a new user's token; the hold's end in Unix ms, or -1. */
static long long hold_one(int seat, char *token_out, size_t cap)
{
    char user[37];
    char *token;
    struct t_resp r;
    long long end = -1;
    long st;

    token = t_active_user(concert, user);
    if (!token)
        bail_out("cannot get a queue token");
    st = bk_hold(token, sched[0], &seat, 1, &r);
    if (st == 201 && t_json_str(r.json, "expiresAt"))
        end = t_utc_seconds(t_json_str(r.json, "expiresAt")) * 1000;
    else
        diag("hold of seat %d: %ld %s", seat, st, r.body ? r.body : "");
    t_resp_free(&r);
    if (token_out)
        snprintf(token_out, cap, "%s", token);
    free(token);
    return end;
}

static void wait_until_ms(long long when)
{
    long long now = redis_now_ms();

    if (now > 0 && when > now)
        t_sleep_ms((long)(when - now));
}

int main(int argc, char **argv)
{
    char auth[300], path[96], owner[40], out[4096];
    const char *headers[] = {auth, NULL};
    struct t_resp r;
    long long end, ends[8];
    int matched;

    (void)argc;
    t_init();
    t_find_cron(argv[0]);
    concert = t_create_concert_or_bail(50, 600, 600, 300, 1, 20, 1000, sched);

    /* --- 300-second holds -------------------------------------------------- */
    matched = 0;
    for (int seat = 1; seat <= 8; seat++) {
        ends[seat - 1] = hold_one(seat, NULL, 0);
        matched += ends[seat - 1] > 0 && lock_end_ms(seat) == ends[seat - 1];
    }
    ok(ends[0] > 0 && ends[0] - redis_now_ms() > 298000, "holds of 300 s (the first ends in %lld ms)",
       ends[0] - redis_now_ms());
    is_int(matched, 8, "each of the 8 holds' locks ends at the millisecond its hold ends (%d did)", matched);

    /* --- PATCH holdSeconds=2 ----------------------------------------------- */
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    snprintf(path, sizeof path, "/api/v1/admin/concerts/%" PRId64, concert);
    t_request("PATCH", path, headers, "{\"holdSeconds\":2}", &r);
    ok(r.status == 200 && t_json_int(r.json, "holdSeconds") == 2, "PATCH holdSeconds=2: 200 (%ld)", r.status);
    t_resp_free(&r);
    t_sleep_ms(1100);   /* in force on every responder within a second */

    matched = 0;
    for (int seat = 9; seat <= 14; seat++) {
        long long pttl, now;

        end = hold_one(seat, NULL, 0);
        now = redis_now_ms();
        {
            char key[128];
            const char *pttl_argv[] = {"PTTL", key};
            lock_key(seat, key, sizeof key);
            pttl = t_redis_int(2, pttl_argv);
        }
        if (end > 0 && end - now <= 3000 && pttl > 0 && pttl <= 3000 && lock_end_ms(seat) == end)
            matched++;
        else
            diag("seat %d: hold ends in %lld ms, its lock's PTTL %lld, lock end - hold end %lld ms", seat,
                 end - now, pttl, lock_end_ms(seat) - end);
    }
    is_int(matched, 6, "6 holds after it: each lasts 2 s and so does its lock, to the millisecond (%d did)",
           matched);

    /* --- the seat is free to hold once the hold ended -------------------- */
    end = hold_one(15, NULL, 0);
    ok(end > 0, "a hold of seat 15");
    wait_until_ms(end + 100);
    is_int(lock_end_ms(15), -2, "once it ended, its lock is gone");
    ok(hold_one(15, NULL, 0) > 0, "and someone else holds seat 15 at once: 201");

    /* --- a lock that outlived its hold: the reconcile deletes it ---------- */
    snprintf(owner, sizeof owner, "t46-%d", (int)getpid());
    if (t_hold_cron_lock(owner) < 0)
        bail_out("cannot take the cron lock");
    end = hold_one(16, NULL, 0);
    ok(end > 0, "a hold of seat 16 (2 s)");
    {
        char key[128];
        const char *pexpire[] = {"PEXPIRE", key, "300000"};

        lock_key(16, key, sizeof key);
        is_int(t_redis_int(3, pexpire), 1, "its lock made to last 300 s (taken under the old length, its end"
               " never set to the hold's)");
    }
    wait_until_ms(end + 100);
    bk_is(bk_seat(sched[0], 16), "AVAILABLE", "the hold has run out: seat 16 reads AVAILABLE");
    {
        char user[37], *token;
        int seat = 16;

        token = t_active_user(concert, user);
        if (!token)
            bail_out("cannot get a queue token");
        ok(bk_hold(token, sched[0], &seat, 1, &r) == 409 &&
           strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0,
           "a hold of seat 16 before a cron run: 409 SEAT_UNAVAILABLE, the lock turns it away (%ld)", r.status);
        t_resp_free(&r);
        free(token);
    }
    is_int(t_free_cron_lock(owner), 1, "the scene is set");
    {
        int rc = -1;

        for (int i = 0; i < 20; i++) {
            rc = t_run_cron(NULL, out, sizeof out);
            if (rc != 0 || !strstr(out, "skipped"))
                break;
            t_sleep_ms(500);
        }
        if (!is_int(rc, 0, "a cron run exits 0"))
            diag("%s", out);
    }
    is_int(lock_end_ms(16), -2, "and deleted the lock that outlived its hold");
    ok(hold_one(16, NULL, 0) > 0, "seat 16 can be held again: 201");
    return done_testing();
}
