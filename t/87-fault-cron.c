/* 87-fault-cron: two cron programs at once, and one killed mid-run.
 *
 * 601 holds run out. A row lock taken by the test stops the first cron run
 * (A) in the middle of its work: its first batch of 500 is committed, the
 * second waits. Meanwhile a second run (B) starts: it finds the Redis lock
 * taken, says "skipped", exits 0 and changes nothing - only one works. Then
 * A is killed with SIGKILL (and its orphaned statement ends with it). A
 * killed run leaves only whole batches done, and its lock stands until it
 * runs out (55 s), so a run right after still skips; the first run after
 * that finishes the job: every hold EXPIRED, every seat free.
 *
 * Slow (it waits out the lock): runs with ./dev test --faults only. */
#include "tap.h"
#include "testlib.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define HOLDS 600

static pid_t start_cron(const char *log)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(getenv("CONCERT_CRON"), "concert-cron", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits (bounded) for a run; its exit status, or -1. */
static int wait_cron(pid_t pid, int seconds)
{
    int status;

    for (int i = 0; i < seconds * 10; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        t_sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static long long lock_ttl(void)
{
    const char *argv[] = {"PTTL", "concert:cron:lock"};
    return t_redis_int(2, argv);
}

static int64_t count(const char *sql, const char *concert)
{
    const char *p[] = {concert};
    return t_pg_int(sql, 1, p);
}

int main(void)
{
    char concert[24], schedule[24], last[24] = "", log_a[600], log_b[600], log_c[600], log_d[600];
    int64_t concert_id, schedule_id;
    PGconn *pg, *locker;
    pid_t a;
    int rc;
    int64_t others, first;
    static const char expired_sql[] =
        "SELECT count(*) FROM reservations WHERE concert_id = $1::bigint AND status = 'EXPIRED'";
    static const char held_sql[] =
        "SELECT count(*) FROM reservations WHERE concert_id = $1::bigint AND status = 'HELD'";

    t_init();
    if (!getenv("CONCERT_FAULTS") || strcmp(getenv("CONCERT_FAULTS"), "1") != 0)
        skip_all("slow (waits out the cron lock): ./dev test --faults");
    if (getenv("CONCERT_FRONT_NAME") && strcmp(getenv("CONCERT_FRONT_NAME"), "nginx") != 0)
        skip_all("runs once, behind nginx");
    if (!getenv("CONCERT_CRON") || !getenv("CONCERT_VAR"))
        skip_all("needs the ./dev test stack");
    plan(11);

    concert_id = t_create_concert(100000, 600, 600, 1, 1, HOLDS + 1, 100, &schedule_id);
    snprintf(concert, sizeof concert, "%" PRId64, concert_id);
    snprintf(schedule, sizeof schedule, "%" PRId64, schedule_id);
    snprintf(log_a, sizeof log_a, "%s/log/cron-test-a.log", getenv("CONCERT_VAR"));
    snprintf(log_b, sizeof log_b, "%s/log/cron-test-b.log", getenv("CONCERT_VAR"));
    snprintf(log_c, sizeof log_c, "%s/log/cron-test-c.log", getenv("CONCERT_VAR"));
    snprintf(log_d, sizeof log_d, "%s/log/cron-test-d.log", getenv("CONCERT_VAR"));
    pg = PQconnectdb(getenv("CONCERT_PG"));
    locker = PQconnectdb(getenv("CONCERT_PG"));

    /* The stack's own cron loop must not expire these holds before run A:
     * the test keeps the program's lock until A starts. */
    if (t_hold_cron_lock("t87-fault-cron") < 0)
        bail_out("cannot take the cron lock");

    /* 600 one-second holds, then one more a second later (it runs out last,
     * so it falls in the second batch of 500). */
    for (int i = 0; i <= HOLDS; i++) {
        char user[37], seats[16];
        const char *p[] = {user, concert, schedule, seats, "owner-cron-test"};
        PGresult *r;
        if (i == HOLDS)
            t_sleep_ms(1100);
        t_uuid(user);
        snprintf(seats, sizeof seats, "{%d}", i + 1);
        r = PQexecParams(pg, "SELECT outcome, body FROM booking_hold($1::uuid, $2::bigint, $3::bigint,"
                         " $4::integer[], $5)", 5, NULL, p, NULL, NULL, 0);
        if (i == HOLDS && PQresultStatus(r) == PGRES_TUPLES_OK) {
            struct json_object *j = json_tokener_parse(PQgetvalue(r, 0, 1));
            snprintf(last, sizeof last, "%" PRId64, t_json_int(j, "reservationId"));
            json_object_put(j);
        }
        PQclear(r);
    }
    ok(count(held_sql, concert) == HOLDS + 1 && last[0], "%d holds of one second", HOLDS + 1);
    for (int i = 0; i < 100 && t_pg_int("SELECT count(*) FROM reservations WHERE status = 'HELD' AND expires_at > now()"
                                        " AND concert_id = $1::bigint", 1, (const char *[]){concert}) > 0; i++)
        t_sleep_ms(100);

    /* The test holds the last hold's seat: a run stops there. */
    {
        const char *p[] = {last};
        PQclear(PQexec(locker, "BEGIN"));
        PQclear(PQexecParams(locker, "SELECT 1 FROM seats WHERE reservation_id = $1::bigint FOR UPDATE", 1, NULL, p,
                             NULL, NULL, 0));
    }
    /* Run-out holds of earlier tests that no cron has expired yet share the
     * first batch with ours (it takes the 500 that ran out first). */
    others = t_pg_int("SELECT count(*) FROM reservations WHERE status = 'HELD' AND expires_at <= now()"
                      " AND concert_id <> $1::bigint", 1, (const char *[]){concert});
    diag("%lld run-out holds of other tests are there too", (long long)others);
    if (t_free_cron_lock("t87-fault-cron") != 1)
        bail_out("the cron lock was not the test's any more");
    a = start_cron(log_a);
    {
        int waiting = 0;
        for (int i = 0; i < 100 && !waiting; i++) {
            waiting = t_pg_int("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                               " AND query LIKE '%booking_expire%'", 0, NULL) > 0;
            if (!waiting)
                t_sleep_ms(100);
        }
        first = count(expired_sql, concert);
        ok(waiting && lock_ttl() > 0 && first > 0 && first <= 500 && first >= 500 - others,
           "run A took the lock, committed a first batch of 500 (%lld of them ours) and waits in the second",
           (long long)first);
    }

    rc = wait_cron(start_cron(log_b), 15);
    ok(rc == 0 && strstr(slurp(log_b), "skipped"), "run B, started meanwhile, exits %d: skipped", rc);
    ok(count(expired_sql, concert) == first, "and changed nothing (%lld expired)", (long long)count(expired_sql, concert));

    kill(a, SIGKILL);
    ok(wait_cron(a, 10) == -1, "run A killed with SIGKILL mid-run");
    /* Its backend still waits for the row; the client is gone, so the
     * statement ends (here at once: PostgreSQL would notice the dead
     * client only when it next writes to it). */
    t_pg_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
             " AND query LIKE '%booking_expire%'", 0, NULL);
    PQclear(PQexec(locker, "ROLLBACK"));
    t_sleep_ms(200);
    ok(count(expired_sql, concert) == first && count(held_sql, concert) == HOLDS + 1 - first,
       "the killed run left whole batches only: %lld EXPIRED, %lld still HELD (read as free)",
       (long long)first, (long long)count(held_sql, concert));

    rc = wait_cron(start_cron(log_c), 15);
    ok(rc == 0 && strstr(slurp(log_c), "skipped") && lock_ttl() > 0,
       "a run right after skips: the killed run's lock stands (%lld ms left)", lock_ttl());

    for (int i = 0; i < 700 && lock_ttl() >= 0; i++)
        t_sleep_ms(100);
    ok(lock_ttl() < 0, "the lock ran out by itself");
    rc = wait_cron(start_cron(log_d), 60);
    diag("next run: %s", slurp(log_d));
    ok(rc == 0, "the next run exits 0");
    ok(count(held_sql, concert) == 0 && count(expired_sql, concert) == HOLDS + 1,
       "the job is finished: all %d holds EXPIRED", HOLDS + 1);
    ok(count("SELECT count(*) FROM seats WHERE schedule_id = $1::bigint AND status <> 'AVAILABLE'", schedule) == 0,
       "and every seat is AVAILABLE");
    PQfinish(pg);
    PQfinish(locker);
    return done_testing();
}
