/* 70-cron: the housekeeping program tidies up, once at a time, safely.
 *
 * The story: on a concert whose holds last 2 seconds, A's, D's, X's and G's
 * holds are ones PostgreSQL keeps (as every hold was before holds moved to
 * Redis; the cron's sweep of Redis holds is told in t/48). A's hold runs
 * out, D's runs out and its seat is taken over by E, C pays in time and X
 * cancels;
 * an Idempotency-Key from 25 hours ago and a fresh one are stored. While
 * another run holds the cron lock, a run says it skipped, exits 0, changes
 * nothing and leaves the other's lock alone. Once the lock is free a run
 * marks A's and D's holds EXPIRED and frees A's seats, leaves E's seat,
 * C's sale and X's cancellation as they are, deletes only the old key and
 * exits 0; a second run changes nothing more, and two runs at once both
 * exit 0. A hold whose row is locked (a payment in flight) is skipped, not
 * waited for and not undone, and expired by the next run.
 *
 * Then Redis disagrees with PostgreSQL, on a concert whose holds last 300 s:
 * seat 2's lock outlived its hold's cancellation (as when the release after
 * a cancel fails), seat 3 is locked under an owner no reservation has, both
 * two minutes old by their remaining life; the seat map reads seat 5 SOLD
 * though PostgreSQL has it AVAILABLE (as after a database restore). A
 * hold of each is refused (409) until a cron run, and a hold of all three
 * succeeds after it. The run drops that seat map (it is read again from
 * PostgreSQL: seat 5 AVAILABLE, the SOLD seat 6 still SOLD and refused),
 * deletes neither a lock one second old under an unknown owner (a hold may
 * be on its way) nor the lock of a live hold (kept in Redis) that looks
 * just as old, and names no owner in its summary; a run over a map that agrees
 * with PostgreSQL keeps it.
 *
 * With Redis or PostgreSQL unreachable the program exits non-zero. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <errno.h>
#include <libgen.h>
#include <sys/wait.h>
#include <unistd.h>



/* Runs until a run does the work (another run, e.g. ./dev's every-minute
 * loop, may hold the lock for a moment). */
static int run_cron_working(const char *conf, char *out, size_t cap)
{
    int rc = -1;

    for (int i = 0; i < 20; i++) {
        rc = t_run_cron(conf, out, cap);
        if (rc != 0 || !strstr(out, "skipped"))
            return rc;
        t_sleep_ms(500);
    }
    return rc;
}

/* Writes a copy of the stack's config with one line replaced. */
static int broken_config(const char *prefix, const char *line, char *path, size_t cap)
{
    const char *conf = getenv("CONCERT_CONF");
    char buf[1024];
    FILE *in, *out;
    int fd;

    snprintf(path, cap, "/tmp/concert-cron-test-XXXXXX");
    if (!conf || !(in = fopen(conf, "r")))
        return -1;
    fd = mkstemp(path);
    if (fd < 0 || !(out = fdopen(fd, "w"))) {
        fclose(in);
        return -1;
    }
    while (fgets(buf, sizeof buf, in))
        fputs(strncmp(buf, prefix, strlen(prefix)) == 0 ? line : buf, out);
    fclose(in);
    fclose(out);
    return 0;
}

static char *status_of(int64_t reservation_id)
{
    return bk_status(reservation_id);
}



/* 1 when key holds value. */
static long long redis_holds(const char *key, const char *value)
{
    return t_redis_eval_int("key_holds", 1, key, value, NULL);
}

static void seat_key(char *out, size_t cap, int64_t concert, int64_t schedule, int seat)
{
    snprintf(out, cap, "{c:%" PRId64 "}:seat:%" PRId64 ":%d", concert, schedule, seat);
}

/* A random lock owner (32 hex digits, like the service's). */
static void random_owner(char out[33])
{
    char uuid[37];
    size_t n = 0;

    t_uuid(uuid);
    for (const char *p = uuid; *p; p++)
        if (*p != '-')
            out[n++] = *p;
    out[n] = '\0';
}

/* 1 when the seat map token reads of schedule_id has each "seat,STATUS" of
 * want (";" between them). */
static int seats_read(const char *token, int64_t schedule_id, const char *want)
{
    char path[96], copy[128], *save = NULL;
    struct t_resp r;
    int all = 1;

    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", schedule_id);
    t_get(path, token, &r);
    snprintf(copy, sizeof copy, "%s", want);
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char at[32];
        const char *status = strchr(item, ',') + 1;
        int seat = atoi(item);

        snprintf(at, sizeof at, "seats.%d.status", seat - 1);
        all &= r.status == 200 && t_json_str(r.json, at) && strcmp(t_json_str(r.json, at), status) == 0;
    }
    if (!all)
        diag("seat map read: %ld %.300s", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return all;
}

/* Redis disagrees with PostgreSQL; a cron run makes it agree. */
static void reconcile_scene(const char *owner)
{
    int64_t sched[1], concert, res_p, res_q, res_s;
    char userP[37], userQ[37], userS[37], userT[37], key[128], map[128], ghost[33], fresh[33], out[4096];
    char *tokP, *tokQ, *tokS, *tokT, *ownerP, *ownerQ;
    struct t_resp r;
    int rc;

    concert = t_create_concert_or_bail(50, 600, 600, 300, 1, 10, 1000, sched);
    /* No other run may settle things before the test looks. */
    if (t_hold_cron_lock(owner) < 0)
        bail_out("cannot take the cron lock");
    if (t_active_users(concert, userP, &tokP, userQ, &tokQ, userS, &tokS, userT, &tokT, (char *)NULL) < 0)
        bail_out("cannot get queue tokens (queue API)");
    {
        int p[] = {1}, q[] = {2}, s[] = {6};
        res_p = bk_hold_id(tokP, sched[0], p, 1);
        res_q = bk_hold_id(tokQ, sched[0], q, 1);
        res_s = bk_hold_id(tokS, sched[0], s, 1);
    }
    ok(res_p > 0 && res_q > 0 && res_s > 0, "P holds seat 1, Q seat 2, S seat 6 (300-second holds)");
    bk_charge(userS, 5000, NULL, NULL);
    ok(bk_pay(tokS, res_s, NULL, NULL) == 201, "S pays: seat 6 SOLD");
    ok(bk_cancel(tokQ, res_q, NULL) == 200, "Q cancels: seat 2 AVAILABLE");
    {
        char *recP = bk_hold_record(res_p), *recQ = bk_hold_record(res_q);

        ownerP = malloc(40);
        ownerQ = malloc(40);
        if (!recP || !recQ || !ownerP || !ownerQ)
            bail_out("no lock owners stored with the holds");
        bk_record_field(recP, 5, ownerP, 40);
        bk_record_field(recQ, 5, ownerQ, 40);
        free(recP);
        free(recQ);
    }
    random_owner(ghost);
    random_owner(fresh);

    /* A lock's age is the hold length minus its remaining life. */
    seat_key(key, sizeof key, concert, sched[0], 1);
    {
        const char *pexpire[] = {"PEXPIRE", key, "180000"};
        is_int(t_redis_int(3, pexpire), 1, "P's live lock made to look two minutes old");
    }
    seat_key(key, sizeof key, concert, sched[0], 2);
    {
        const char *set[] = {"SET", key, ownerQ, "PX", "180000"};
        ok(t_redis_cmd(5, set) == 0, "seat 2 locked again under Q's owner, two minutes old (a failed release)");
    }
    seat_key(key, sizeof key, concert, sched[0], 3);
    {
        const char *set[] = {"SET", key, ghost, "PX", "180000"};
        ok(t_redis_cmd(5, set) == 0, "seat 3 locked under an owner no reservation has, two minutes old");
    }
    seat_key(key, sizeof key, concert, sched[0], 4);
    {
        const char *set[] = {"SET", key, fresh, "PX", "299000"};
        ok(t_redis_cmd(5, set) == 0, "seat 4 locked under an unknown owner one second ago");
    }
    snprintf(map, sizeof map, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, sched[0]);
    ok(seats_read(tokT, sched[0], "5,AVAILABLE;6,SOLD"), "T's seat map read stores the map: 5 AVAILABLE, 6 SOLD");
    is_int(t_redis_eval_int("seatmap_sell", 1, map, "5", NULL), 1,
           "the seat map made to read seat 5 SOLD (PostgreSQL has it AVAILABLE)");
    for (int seat = 2; seat <= 5; seat++) {
        int one[1];
        long st;
        if (seat == 4)
            continue;
        one[0] = seat;
        st = bk_hold(tokT, sched[0], one, 1, &r);
        ok(st == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0,
           "before a cron run, T's hold of seat %d: 409 (%ld)", seat, st);
        t_resp_free(&r);
    }

    is_int(t_free_cron_lock(owner), 1, "the scene is set");
    rc = run_cron_working(NULL, out, sizeof out);
    is_int(rc, 0, "a cron run exits 0");
    if (!ok(strstr(out, "seat locks") != NULL && strstr(out, "sold") != NULL,
            "and reports the seat locks and sold marks it checked"))
        diag("%s", out);
    ok(!strstr(out, ownerP) && !strstr(out, ownerQ) && !strstr(out, ghost) && !strstr(out, fresh),
       "naming no lock owner");
    seat_key(key, sizeof key, concert, sched[0], 1);
    is_int(redis_holds(key, ownerP), 1, "P's lock (a live hold, kept in Redis) is kept");
    seat_key(key, sizeof key, concert, sched[0], 4);
    is_int(redis_holds(key, fresh), 1, "the one-second-old lock is kept (a hold may be in flight)");
    {
        const char *complete[] = {"HEXISTS", map, "_ok"};
        is_int(t_redis_int(3, complete), 0, "the seat map with the wrong sale was dropped");
        ok(seats_read(tokT, sched[0], "5,AVAILABLE;6,SOLD"),
           "read again from PostgreSQL: seat 5 AVAILABLE, seat 6 (SOLD) still SOLD");
        rc = run_cron_working(NULL, out, sizeof out);
        is_int(t_redis_int(3, complete), 1, "a run over a map that agrees with PostgreSQL keeps it (%d)", rc);
    }
    {
        int three[] = {2, 3, 5}, six[] = {6}, four[] = {4}, one[] = {1};
        long st = bk_hold(tokT, sched[0], three, 3, &r);
        ok(st == 201, "after the run, T holds seats 2, 3 and 5: 201 (%ld %s)", st, r.body ? r.body : "");
        t_resp_free(&r);
        ok(bk_hold(tokT, sched[0], six, 1, NULL) == 409, "the SOLD seat 6 is still refused");
        ok(bk_hold(tokT, sched[0], four, 1, NULL) == 409, "seat 4 (the fresh lock) is still refused");
        ok(bk_hold(tokT, sched[0], one, 1, NULL) == 409, "seat 1 (P's hold) is still refused");
    }
    free(ownerP);
    free(ownerQ);
    free(tokP);
    free(tokQ);
    free(tokS);
    free(tokT);
}

int main(int argc, char **argv)
{
    int64_t sched[1], concert, res_a, res_c, res_d, res_e, res_x, res_g;
    char userA[37], userC[37], userD[37], userE[37], userX[37], userG[37], owner[64], out[4096], conf[64];
    char *tokA, *tokC, *tokD, *tokE, *tokX, *tokG;
    const char *set_lock[] = {"SET", T_CRON_LOCK, owner, "PX", "30000"};
    int rc;

    (void)argc;
    t_init();
    t_find_cron(argv[0]);
    if (access(t_cron_path(), X_OK) != 0)
        bail_out("the cron program is not built");

    /* Keep every other run out while the scene is set. */
    snprintf(owner, sizeof owner, "test-%d", (int)getpid());
    t_redis_cmd(5, set_lock);

    concert = t_create_concert_or_bail(50, 600, 600, 2, 1, 10, 1000, sched);
    if (t_active_users(concert, userA, &tokA, userC, &tokC, userD, &tokD, userE, &tokE, userX, &tokX, userG, &tokG,
                       (char *)NULL) < 0)
        bail_out("cannot get queue tokens (queue API)");
    {
        int c[] = {9};
        res_a = bk_pg_hold(userA, concert, sched[0], "{1,2}");
        res_c = bk_hold_id(tokC, sched[0], c, 1);
        res_d = bk_pg_hold(userD, concert, sched[0], "{5}");
        res_x = bk_pg_hold(userX, concert, sched[0], "{7}");
        res_g = bk_pg_hold(userG, concert, sched[0], "{8}");
    }
    ok(res_a > 0 && res_c > 0 && res_d > 0 && res_x > 0 && res_g > 0, "five holds of 2 seconds");
    bk_charge(userC, 5000, NULL, NULL);
    ok(bk_pay(tokC, res_c, NULL, NULL) == 201, "C pays in time");
    ok(bk_cancel(tokX, res_x, NULL) == 200, "X cancels");
    {
        const char *p[] = {owner};
        t_pg_value("INSERT INTO idempotency_keys (scope, owner, key, outcome, response, created_at)"
                   " VALUES ('charge', $1, 'old', 'charged', '{}', now() - interval '25 hours'),"
                   "        ('charge', $1, 'fresh', 'charged', '{}', now())", 1, p);
    }
    t_sleep_ms(3300);
    {
        int d[] = {5};
        res_e = bk_hold_id(tokE, sched[0], d, 1);
    }
    ok(res_e > 0, "E takes over D's run-out seat 5");

    /* Another run holds the lock. */
    rc = t_run_cron(NULL, out, sizeof out);
    is_int(rc, 0, "a run while the lock is taken exits 0");
    if (!ok(strstr(out, "skipped") != NULL, "and says it skipped"))
        diag("%s", out);
    bk_is(status_of(res_a), "HELD", "it changed nothing");
    {
        /* Compare-and-delete our own lock: 1 proves the skipped run left it. */
        is_int(t_free_cron_lock(owner), 1, "the other run's lock was left alone (ours to delete)");
    }

    /* A payment in flight: G's row is locked while cron runs. */
    t_pg_value("BEGIN", 0, NULL);
    free(bk_raw("SELECT status FROM reservations WHERE id = $1 FOR UPDATE", res_g));

    rc = run_cron_working(NULL, out, sizeof out);
    is_int(rc, 0, "a run with the lock free exits 0");
    if (!ok(strstr(out, "done: expired") != NULL, "and reports its work in one line"))
        diag("%s", out);
    bk_is(status_of(res_a), "EXPIRED", "A's run-out hold is EXPIRED");
    is_int(bk_int("SELECT count(*) FROM seats WHERE schedule_id = $1 AND seat_no IN (1, 2) AND status = 'AVAILABLE'"
                  " AND reservation_id IS NULL AND held_until IS NULL", sched[0]), 2, "its seats are AVAILABLE");
    bk_is(status_of(res_d), "EXPIRED", "D's run-out hold is EXPIRED");
    is_int(bk_seat_holder(sched[0], 5), res_e, "seat 5 stays HELD by E");
    bk_is(status_of(res_e), "HELD", "E's hold is untouched");
    bk_is(status_of(res_c), "CONFIRMED", "C's paid hold stays CONFIRMED");
    bk_is(bk_raw("SELECT status FROM seats WHERE schedule_id = $1 AND seat_no = 9", sched[0]), "SOLD", "seat 9 stays SOLD");
    bk_is(status_of(res_x), "CANCELLED", "X's hold stays CANCELLED");
    bk_is(status_of(res_g), "HELD", "G's locked row was skipped, not waited for");
    t_pg_value("COMMIT", 0, NULL);
    {
        const char *p[] = {owner};
        is_int(t_pg_int("SELECT count(*) FROM idempotency_keys WHERE owner = $1 AND key = 'old'", 1, p), 0,
               "the 25-hour-old key is deleted");
        is_int(t_pg_int("SELECT count(*) FROM idempotency_keys WHERE owner = $1 AND key = 'fresh'", 1, p), 1,
               "the fresh key is kept");
    }

    rc = run_cron_working(NULL, out, sizeof out);
    is_int(rc, 0, "the next run exits 0");
    bk_is(status_of(res_g), "EXPIRED", "and expires G now that its row is free");
    bk_is(bk_raw("SELECT status FROM seats WHERE schedule_id = $1 AND seat_no = 8", sched[0]), "AVAILABLE", "seat 8 AVAILABLE");
    rc = run_cron_working(NULL, out, sizeof out);
    is_int(rc, 0, "a run with nothing to do exits 0");
    is_int(bk_int("SELECT count(*) FROM reservations WHERE schedule_id = $1 AND status = 'EXPIRED'", sched[0]), 3,
           "and changes nothing more");
    bk_is(status_of(res_e), "HELD", "E's hold still HELD");

    reconcile_scene(owner);

    /* Two runs at once. */
    {
        pid_t kids[2];
        int all = 1;
        for (int i = 0; i < 2; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                char o[4096];
                _exit(t_run_cron(NULL, o, sizeof o) == 0 ? 0 : 1);
            }
        }
        for (int i = 0; i < 2; i++) {
            int st;
            if (kids[i] < 0 || waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                all = 0;
        }
        ok(all, "two runs at once both exit 0");
    }

    /* Dependencies down. */
    if (broken_config("redis_port", "redis_port = 1\n", conf, sizeof conf) == 0) {
        rc = t_run_cron(conf, out, sizeof out);
        ok(rc != 0, "with Redis unreachable the program exits non-zero (%d)", rc);
        unlink(conf);
    } else {
        ok(0, "cannot write a config copy");
    }
    if (broken_config("pg_conninfo", "pg_conninfo = host=127.0.0.1 port=1 dbname=concert connect_timeout=2\n", conf,
                      sizeof conf) == 0) {
        rc = run_cron_working(conf, out, sizeof out);
        ok(rc != 0, "with PostgreSQL unreachable the program exits non-zero (%d)", rc);
        if (!ok(strstr(out, "INCOMPLETE") != NULL, "and says its work is incomplete"))
            diag("%s", out);
        unlink(conf);
    } else {
        ok(0, "cannot write a config copy");
        ok(0, "cannot write a config copy");
    }

    free(tokA);
    free(tokC);
    free(tokD);
    free(tokE);
    free(tokX);
    free(tokG);
    return done_testing();
}
