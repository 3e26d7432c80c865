/* cron.c - the every-minute housekeeping program (conf/crontab runs it).
 *
 * One run:
 *   1. takes a Redis lock (concert:cron:lock, 55 s) so two runs never work at
 *      once; a run that finds it taken says so and exits 0;
 *   2. marks run-out holds EXPIRED and frees the seats they still hold, in
 *      batches of one transaction each (booking_expire: reservation row
 *      locked before seats, rows a payment has locked skipped);
 *   3. deletes Idempotency-Keys older than 24 hours, in batches;
 *   4. sweeps every concert's waiting room (drops run-out tokens and idle
 *      waiters, admits into free slots);
 *   5. gives the lock back (only if still its own) and prints a one-line
 *      summary.
 * Every step is safe to repeat and to interrupt: a killed run leaves only
 * whole batches done, and the next run finishes the job. Holds read as
 * expired and seats as free without this program; it only tidies up.
 * Exit status: 0 when the work was done (or another run was doing it),
 * 1 when it could not be (PostgreSQL or Redis unreachable, bad config). */
#include "app.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "rand.h"
#include "rds.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CRON_LOCK_KEY "concert:cron:lock"
#define CRON_LOCK_MS "55000"
/* Stop starting new batches after this long, well inside the lock's life,
 * so the lock never runs out under a run still working. */
#define CRON_BUDGET_SECONDS 40
#define EXPIRE_BATCH "500"
#define KEYS_BATCH "5000"

/* KEYS: lock. ARGV: owner. Deletes the lock only while it is ours. */
static struct rds_script unlock_script = {"cron_unlock",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n", ""};

static time_t started;

static int out_of_time(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec - started >= CRON_BUDGET_SECONDS;
}

/* 1 when taken, 0 when another run holds it, -1 when Redis is unreachable. */
static int take_lock(const char *owner)
{
    const char *argv[] = {"SET", CRON_LOCK_KEY, owner, "NX", "PX", CRON_LOCK_MS};
    redisReply *reply = rds_command(6, argv, NULL);
    int taken;

    if (!reply)
        return -1;
    taken = reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    return taken;
}

static void give_lock(const char *owner)
{
    const char *argv[] = {CRON_LOCK_KEY, owner};
    redisReply *reply = rds_eval(&unlock_script, 1, 2, argv);

    if (reply)
        freeReplyObject(reply);
    else
        log_error("could not release %s (it runs out by itself)", CRON_LOCK_KEY);
}

/* Runs a one-row function returning integers until its first column says
 * less than a full batch was done. Sums the columns into sums. Returns 0, or
 * -1 when PostgreSQL failed. */
static int batches(const char *sql, const char *batch, int64_t *sums, int ncols)
{
    const char *params[] = {batch};
    int64_t full = strtoll(batch, NULL, 10);

    for (;;) {
        PGresult *res;
        int64_t first;

        if (db_query(sql, 1, params, &res) != DB_OK)
            return -1;
        if (PQntuples(res) != 1 || PQnfields(res) < ncols) {
            PQclear(res);
            log_error("unexpected result from: %s", sql);
            return -1;
        }
        first = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        for (int i = 0; i < ncols; i++)
            sums[i] += strtoll(PQgetvalue(res, 0, i), NULL, 10);
        PQclear(res);
        if (first < full || out_of_time())
            return 0;
    }
}

/* Sweeps every concert's queue. Returns how many sweeps failed, or -1 when
 * the concerts could not be listed. */
static int sweep_queues(int64_t *concerts, int64_t *dropped, int64_t *admitted)
{
    static const char sql[] = "SELECT id FROM concerts ORDER BY id";
    PGresult *res;
    int failed = 0;

    if (db_query(sql, 0, NULL, &res) != DB_OK)
        return -1;
    for (int i = 0; i < PQntuples(res) && !out_of_time(); i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10), d, a;
        queue_rc rc = queue_sweep(id, &d, &a);

        if (rc != QUEUE_OK && rc != QUEUE_NO_CONCERT) {
            failed++;
            continue;
        }
        ++*concerts;
        *dropped += d;
        *admitted += a;
    }
    PQclear(res);
    return failed;
}

int main(void)
{
    static const char expire_sql[] = "SELECT expired, freed FROM booking_expire($1::integer)";
    static const char keys_sql[] = "SELECT booking_forget_keys($1::integer)";
    char owner[33];
    int64_t expired[2] = {0, 0}, keys[1] = {0}, concerts = 0, dropped = 0, admitted = 0;
    int ok = 1, failed, taken;
    struct timespec ts;

    if (app_setup("concert-cron") < 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    started = ts.tv_sec;
    if (rand_hex(owner, 16) < 0) {
        log_error("getrandom failed");
        return 1;
    }
    taken = take_lock(owner);
    if (taken < 0) {
        log_error("Redis is unreachable: nothing done");
        return 1;
    }
    if (taken == 0) {
        log_info("skipped: another run holds %s", CRON_LOCK_KEY);
        return 0;
    }

    if (batches(expire_sql, EXPIRE_BATCH, expired, 2) < 0) {
        log_error("expiring holds failed");
        ok = 0;
    }
    if (batches(keys_sql, KEYS_BATCH, keys, 1) < 0) {
        log_error("deleting old idempotency keys failed");
        ok = 0;
    }
    failed = sweep_queues(&concerts, &dropped, &admitted);
    if (failed != 0) {
        if (failed < 0)
            log_error("listing concerts failed");
        else
            log_error("%d queue sweeps failed", failed);
        ok = 0;
    }
    give_lock(owner);
    log_info("%s: expired %" PRId64 " holds, freed %" PRId64 " seats; deleted %" PRId64
           " idempotency keys; swept %" PRId64 " queues, dropped %" PRId64 " tokens, admitted %" PRId64
           "%s",
           ok ? "done" : "INCOMPLETE", expired[0], expired[1], keys[0], concerts, dropped, admitted,
           out_of_time() ? " (time budget used up: the next run goes on)" : "");
    db_close();
    rds_close();
    return ok ? 0 : 1;
}
