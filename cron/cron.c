/* cron.c - the every-minute housekeeping program (conf/crontab runs it).
 *
 * One run:
 *   1. takes a Redis lock (concert:cron:lock, 55 s) so two runs never work at
 *      once; a run that finds it taken says so and exits 0;
 *   2. marks run-out holds EXPIRED and frees the seats they still hold, in
 *      batches of one transaction each (booking_expire: reservation row
 *      locked before seats, rows a payment has locked skipped);
 *   3. deletes Idempotency-Keys older than 24 hours, and outbox rows the
 *      relay sent more than 24 hours ago (the streams keep them that long),
 *      in batches;
 *   4. sweeps every concert's waiting room (drops run-out tokens and idle
 *      waiters, admits into free slots) and its holds kept in Redis (those
 *      run out read EXPIRED, with reservation.expired: hold_sweep);
 *   5. makes Redis's seat locks and seat maps' sold seats agree with
 *      PostgreSQL (PostgreSQL wins; see seatlock.h), never taking the lock
 *      of a live hold Redis keeps (hold_lock_live): a page of keys at a
 *      time, one query per page for the locks and one for the maps' sold
 *      seats, at most RECONCILE_PAGES pages a run, going on where the last
 *      run stopped;
 *   6. gives the lock back (only if still its own) and prints a one-line
 *      summary (counts only: no owner, token or key).
 * Every step is safe to repeat and to interrupt: a killed run leaves only
 * whole batches done, and the next run finishes the job. Holds read as
 * expired and seats as free without this program; it only tidies up.
 * Exit status: 0 when the work was done (or another run was doing it),
 * 1 when it could not be (PostgreSQL or Redis unreachable, bad config). */
#include "app.h"
#include "db.h"
#include "hold.h"
#include "keyspace.h"
#include "log.h"
#include "queue.h"
#include "rand.h"
#include "rds.h"
#include "seatlock.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CRON_LOCK_MS "55000"
/* Stop starting new batches after this long, well inside the lock's life,
 * so the lock never runs out under a run still working. */
#define CRON_BUDGET_SECONDS 40
#define EXPIRE_BATCH "500"
#define KEYS_BATCH "5000"
/* The reconcile's walk: SCAN's COUNT hint per page, pages per run (a few
 * hundred thousand keys a minute), and where a run that stopped short
 * leaves the cursor for the next one (forgotten after 10 minutes: then a
 * new pass starts). */
#define RECONCILE_COUNT 1000
#define RECONCILE_PAGES 200
#define RECONCILE_CURSOR_TTL "600"

/* shared/lua/cron_unlock.lua. KEYS: lock. ARGV: owner. Deletes the lock
 * only while it is ours. */
extern struct rds_script lua_cron_unlock;

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
    const char *argv[] = {"SET", KEYSPACE_CRON_LOCK, owner, "NX", "PX", CRON_LOCK_MS};
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
    const char *argv[] = {KEYSPACE_CRON_LOCK, owner};
    redisReply *reply = rds_eval(&lua_cron_unlock, 1, 2, argv);

    if (reply)
        freeReplyObject(reply);
    else
        log_error("could not release %s (it runs out by itself)", KEYSPACE_CRON_LOCK);
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

/* Ends concert_id's holds kept in Redis whose end has come (hold_sweep:
 * each with reservation.expired), HOLD_SWEEP_BATCH a script. Returns 0, or
 * -1 when Redis failed. */
#define HOLD_SWEEP_BATCH 500
static int sweep_holds(int64_t concert_id, int64_t *expired)
{
    int rc;

    do {
        int64_t n;

        rc = hold_sweep(concert_id, HOLD_SWEEP_BATCH, &n);
        *expired += n;
    } while (rc == 1 && !out_of_time());
    return rc < 0 ? -1 : 0;
}

/* Sweeps every concert's queue and its Redis holds. Returns how many
 * sweeps failed, or -1 when the concerts could not be listed. */
static int sweep_queues(int64_t *concerts, int64_t *dropped, int64_t *admitted, int64_t *holds_expired)
{
    static const char sql[] = "SELECT id FROM concerts ORDER BY id";
    PGresult *res;
    int failed = 0;

    if (db_query(sql, 0, NULL, &res) != DB_OK)
        return -1;
    for (int i = 0; i < PQntuples(res) && !out_of_time(); i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10), d, a;
        queue_rc rc = queue_sweep(id, &d, &a);

        if (sweep_holds(id, holds_expired) < 0)
            failed++;
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

/* A PostgreSQL array literal ("{1,2,3}") built item by item. Items are
 * numbers or owners checked to be hex digits, so none needs quoting. */
struct pg_array {
    char *text;
    size_t len, cap;
    int failed;
};

static void array_add(struct pg_array *a, const char *item)
{
    size_t n = strlen(item);

    if (a->failed)
        return;
    if (a->len + n + 3 > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        char *bigger;

        while (cap < a->len + n + 3)
            cap *= 2;
        bigger = realloc(a->text, cap);
        if (!bigger) {
            a->failed = 1;
            return;
        }
        a->text = bigger;
        a->cap = cap;
    }
    a->text[a->len] = a->len == 0 ? '{' : ',';
    memcpy(a->text + a->len + 1, item, n);
    a->len += n + 1;
    a->text[a->len] = '\0';
}

static void array_add_int(struct pg_array *a, int64_t v)
{
    char text[24];

    snprintf(text, sizeof text, "%" PRId64, v);
    array_add(a, text);
}

/* Closes the literal; NULL when memory ran out. */
static const char *array_text(struct pg_array *a)
{
    if (a->len == 0 && !a->failed)
        return "{}";
    array_add(a, "");
    if (a->failed || !a->text)
        return NULL;
    a->text[a->len - 1] = '}';
    return a->text;
}

/* Fills in each lock's verdict: whether PostgreSQL, or Redis (hold.h),
 * holds its seat for its owner (a live hold), and its concert's hold
 * length. An owner that is not
 * hex digits was never stored with a reservation; it is asked about as ''. */
static int judge_locks(struct seatlock_page *page)
{
    static const char sql[] =
        "SELECT coalesce(c.hold_seconds::bigint * 1000, -1),"
        "       EXISTS (SELECT 1 FROM seats s JOIN reservations r ON r.id = s.reservation_id"
        "                WHERE s.schedule_id = k.schedule AND s.seat_no = k.seat"
        "                  AND s.status = 'HELD' AND NOT hold_ran_out(s.held_until)"
        "                  AND r.status = 'HELD' AND NOT hold_ran_out(r.expires_at)"
        "                  AND r.concert_id = k.concert AND r.lock_owner = k.owner)"
        "  FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::text[])"
        "       WITH ORDINALITY AS k(concert, schedule, seat, owner, n)"
        "  LEFT JOIN concerts c ON c.id = k.concert"
        " ORDER BY k.n";
    struct pg_array concerts = {0}, schedules = {0}, seats = {0}, owners = {0};
    const char *params[4];
    size_t *asked, nasked = 0;
    PGresult *res = NULL;
    int rc = -1;

    if (page->nlocks == 0)
        return 0;
    asked = malloc(page->nlocks * sizeof *asked);
    if (!asked)
        goto out;
    for (size_t i = 0; i < page->nlocks; i++) {
        const struct seatlock_found *lock = &page->locks[i];

        if (!lock->owner)
            continue;
        asked[nasked++] = i;
        array_add_int(&concerts, lock->at.concert_id);
        array_add_int(&schedules, lock->at.schedule_id);
        array_add_int(&seats, lock->at.seat_no);
        array_add(&owners, seatlock_owner_valid(lock->owner) ? lock->owner : "\"\"");
    }
    if (nasked == 0) {
        rc = 0;
        goto out;
    }
    params[0] = array_text(&concerts);
    params[1] = array_text(&schedules);
    params[2] = array_text(&seats);
    params[3] = array_text(&owners);
    if (!params[0] || !params[1] || !params[2] || !params[3]) {
        log_error("reconcile: out of memory");
        goto out;
    }
    if (db_query(sql, 4, params, &res) != DB_OK)
        goto out;
    if ((size_t)PQntuples(res) != nasked || PQnfields(res) != 2) {
        log_error("reconcile: unexpected result from the seat-lock query");
        goto out;
    }
    for (size_t i = 0; i < nasked; i++) {
        struct seatlock_found *lock = &page->locks[asked[i]];

        lock->hold_ms = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
        lock->held = strcmp(PQgetvalue(res, (int)i, 1), "t") == 0;
        /* PostgreSQL does not know a hold Redis keeps until it is paid. */
        if (!lock->held && seatlock_owner_valid(lock->owner)) {
            int live = hold_lock_live(lock->at.concert_id, lock->at.schedule_id, lock->at.seat_no, lock->owner);

            if (live < 0)
                goto out;
            lock->held = live;
        }
    }
    rc = 0;
out:
    if (!asked)
        log_error("reconcile: out of memory");
    PQclear(res);
    free(asked);
    free(concerts.text);
    free(schedules.text);
    free(seats.text);
    free(owners.text);
    return rc;
}

/* Fills in each sold mark's verdict (a seat a seat map reads SOLD): whether
 * PostgreSQL has the seat SOLD (in that concert). */
static int judge_marks(struct seatlock_page *page)
{
    static const char sql[] =
        "SELECT EXISTS (SELECT 1 FROM seats s JOIN schedules sc ON sc.id = s.schedule_id"
        "                WHERE s.schedule_id = k.schedule AND s.seat_no = k.seat"
        "                  AND s.status = 'SOLD' AND sc.concert_id = k.concert)"
        "  FROM unnest($1::bigint[], $2::bigint[], $3::integer[])"
        "       WITH ORDINALITY AS k(concert, schedule, seat, n)"
        " ORDER BY k.n";
    struct pg_array concerts = {0}, schedules = {0}, seats = {0};
    const char *params[3];
    PGresult *res = NULL;
    int rc = -1;

    if (page->nmarks == 0)
        return 0;
    for (size_t i = 0; i < page->nmarks; i++) {
        array_add_int(&concerts, page->marks[i].at.concert_id);
        array_add_int(&schedules, page->marks[i].at.schedule_id);
        array_add_int(&seats, page->marks[i].at.seat_no);
    }
    params[0] = array_text(&concerts);
    params[1] = array_text(&schedules);
    params[2] = array_text(&seats);
    if (!params[0] || !params[1] || !params[2]) {
        log_error("reconcile: out of memory");
        goto out;
    }
    if (db_query(sql, 3, params, &res) != DB_OK)
        goto out;
    if ((size_t)PQntuples(res) != page->nmarks || PQnfields(res) != 1) {
        log_error("reconcile: unexpected result from the sold-seat query");
        goto out;
    }
    for (size_t i = 0; i < page->nmarks; i++)
        page->marks[i].sold = strcmp(PQgetvalue(res, (int)i, 0), "t") == 0;
    rc = 0;
out:
    PQclear(res);
    free(concerts.text);
    free(schedules.text);
    free(seats.text);
    return rc;
}

struct reconcile_tally {
    int64_t locks, locks_deleted, marks, maps_dropped;
};

/* Where the last run's walk stopped ("0": a new pass). */
static void load_cursor(char *cursor, size_t cap)
{
    const char *argv[] = {"GET", KEYSPACE_CRON_RECONCILE};
    redisReply *reply = rds_command(2, argv, NULL);

    snprintf(cursor, cap, "0");
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len > 0 && reply->len < cap &&
        strspn(reply->str, "0123456789") == reply->len)
        snprintf(cursor, cap, "%s", reply->str);
    if (reply)
        freeReplyObject(reply);
}

static void save_cursor(const char *cursor)
{
    const char *set[] = {"SET", KEYSPACE_CRON_RECONCILE, cursor, "EX", RECONCILE_CURSOR_TTL};
    const char *del[] = {"DEL", KEYSPACE_CRON_RECONCILE};
    redisReply *reply = strcmp(cursor, "0") == 0 ? rds_command(2, del, NULL) : rds_command(5, set, NULL);

    if (reply)
        freeReplyObject(reply);
}

/* Walks seat locks and seat maps, a page at a time, until the pass is done,
 * RECONCILE_PAGES pages are, or time is up. Returns 0, or -1 when Redis or
 * PostgreSQL failed (the pages settled so far stay settled). */
static int reconcile(struct reconcile_tally *t)
{
    char cursor[32];
    int rc = 0;

    load_cursor(cursor, sizeof cursor);
    for (int pages = 0; pages < RECONCILE_PAGES && !out_of_time(); pages++) {
        char next[sizeof cursor];
        struct seatlock_page page;

        memcpy(next, cursor, sizeof next);
        if (seatlock_scan(next, sizeof next, RECONCILE_COUNT, &page) < 0) {
            rc = -1;
            break;
        }
        if (judge_locks(&page) < 0 || judge_marks(&page) < 0 ||
            seatlock_settle(&page, &t->locks_deleted, &t->maps_dropped) < 0) {
            seatlock_page_free(&page);
            rc = -1;
            break;
        }
        t->locks += (int64_t)page.nlocks;
        t->marks += (int64_t)page.nmarks;
        seatlock_page_free(&page);
        memcpy(cursor, next, sizeof cursor);
        if (strcmp(cursor, "0") == 0)
            break;
    }
    save_cursor(cursor);
    return rc;
}

int main(void)
{
    static const char expire_sql[] = "SELECT expired, freed FROM booking_expire($1::integer)";
    static const char keys_sql[] = "SELECT booking_forget_keys($1::integer)";
    static const char outbox_sql[] = "SELECT outbox_forget_sent($1::integer)";
    char owner[33];
    int64_t expired[2] = {0, 0}, keys[1] = {0}, sent[1] = {0}, concerts = 0, dropped = 0, admitted = 0;
    struct reconcile_tally tally = {0, 0, 0, 0};
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
        log_info("skipped: another run holds %s", KEYSPACE_CRON_LOCK);
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
    if (batches(outbox_sql, KEYS_BATCH, sent, 1) < 0) {
        log_error("deleting sent outbox rows failed");
        ok = 0;
    }
    failed = sweep_queues(&concerts, &dropped, &admitted, &expired[0]);
    if (failed != 0) {
        if (failed < 0)
            log_error("listing concerts failed");
        else
            log_error("%d queue sweeps failed", failed);
        ok = 0;
    }
    if (reconcile(&tally) < 0) {
        log_error("making seat locks and seat maps agree with PostgreSQL failed");
        ok = 0;
    }
    give_lock(owner);
    log_info("%s: expired %" PRId64 " holds, freed %" PRId64 " seats; deleted %" PRId64
           " idempotency keys, %" PRId64 " sent events; swept %" PRId64 " queues, dropped %" PRId64 " tokens, admitted %" PRId64
           "; checked %" PRId64 " seat locks, deleted %" PRId64 "; checked %" PRId64
           " sold marks, dropped %" PRId64 " seat maps%s",
           ok ? "done" : "INCOMPLETE", expired[0], expired[1], keys[0], sent[0], concerts, dropped, admitted,
           tally.locks, tally.locks_deleted, tally.marks, tally.maps_dropped,
           out_of_time() ? " (time budget used up: the next run goes on)" : "");
    db_close();
    rds_close();
    return ok ? 0 : 1;
}
