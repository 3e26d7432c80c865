/* 8h-fault-pg-backend: one PostgreSQL backend killed with -9, between
 * requests, costs no request a 503.
 *
 * When a backend dies, PostgreSQL ends every other connection too (and
 * recovers): each is told "terminating connection because of crash of
 * another server process" as a WARNING (SQLSTATE 57P02), not an error, and
 * closed. Every balance responder process holds such an idle connection
 * after the warm-up; the next write on each must go to a new connection,
 * not into the dead one (which answers 503, outcome unknown: docs/api.md
 * promises that a restart between requests costs no 503). */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "40-booking.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WARM_RACERS 32
#define AFTER 24

static char user[37];

/* A keyed charge of 100 in a racer: its status. */
static int warm_charge(int i, void *arg)
{
    char key[64];

    (void)arg;
    snprintf(key, sizeof key, "warm-%d-%d", (int)getpid(), i);
    return (int)bk_charge(user, 100, key, NULL);
}

int main(void)
{
    int results[WARM_RACERS], warm_ok = 0, got_503 = 0, got_200 = 0;
    long long backend;
    double killed_at;
    int64_t one = -1;

    f_require_stack();
    plan(6);
    t_user(user);

    /* Enough at once that every balance responder process opens its
     * connection (2 instances x their processes). */
    t_race(WARM_RACERS, warm_charge, NULL, results);
    for (int i = 0; i < WARM_RACERS; i++)
        warm_ok += results[i] == 200;
    ok(warm_ok == WARM_RACERS, "%d keyed charges at once warmed the balance responders (%d answered 200)",
       WARM_RACERS, warm_ok);

    /* The test stack commits without waiting for the WAL (synchronous_commit
     * off): a crash now would lose the last charges, which is not what this
     * test is about. A checkpoint writes everything out first. */
    t_pg_value("CHECKPOINT", 0, NULL);
    backend = t_pg_int("SELECT pg_backend_pid()", 0, NULL);
    ok(backend > 0 && kill((pid_t)backend, SIGKILL) == 0, "a PostgreSQL backend (pid %lld) killed with -9",
       backend);
    killed_at = t_now_s();

    /* PostgreSQL ends every connection and recovers; wait until it takes
     * new ones, and at least 3 s as an idle responder would. */
    t_pg_reset();
    t_sleep_ms(200);
    while (t_now_s() - killed_at < 30) {
        one = t_pg_int("SELECT 1", 0, NULL);
        if (one == 1)
            break;
        t_pg_reset();
        t_sleep_ms(200);
    }
    ok(one == 1, "PostgreSQL took connections again %.1f s after the kill", t_now_s() - killed_at);
    if (t_now_s() - killed_at < 3)
        t_sleep_ms((long)((3 - (t_now_s() - killed_at)) * 1000));

    for (int i = 0; i < AFTER; i++) {
        struct t_resp r = {0};
        char key[64];
        long st;

        snprintf(key, sizeof key, "after-%d-%d", (int)getpid(), i);
        st = bk_charge(user, 100, key, &r);
        if (st == 503)
            got_503++;
        if (st == 200)
            got_200++;
        else
            diag("charge %d after the kill: %ld %s", i + 1, st, r.body ? r.body : "");
        t_resp_free(&r);
    }
    ok(got_503 == 0, "no charge after the crash answered 503 (%d of %d did)", got_503, AFTER);
    ok(got_200 == AFTER, "every one of the %d charges answered 200 (%d did)", AFTER, got_200);
    {
        const char *p[] = {user};
        int64_t balance = t_pg_int("SELECT balance FROM users WHERE id = $1::uuid", 1, p);
        is_int(balance, (int64_t)(warm_ok + got_200) * 100, "the balance holds exactly the charges answered 200");
    }
    return done_testing();
}
