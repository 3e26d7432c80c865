/* 2r-pg-standby-reads: the read-only paths read from PostgreSQL's standby,
 * and a client still sees every write acknowledged before it read.
 *
 * The story, on a pg_auto_failover formation this test starts (t/pgaf.sh:
 * a primary and its synchronous standby) holding the app's schema and
 * functions: the process is configured as the responders are with
 * pg_read_conninfo (db_replica.h), and two journey writers top up, hold and
 * cancel meanwhile. A read through the read context runs on the standby
 * (pg_is_in_recovery()). Hundreds of times, a top-up, a hold and a
 * cancellation, each read back at once through the read context, are
 * there. The primary's CPU per read path is measured with the standby and
 * without it. Then the standby's replay is paused and writes are
 * acknowledged without it (as in wait_primary): the standby itself reads
 * stale, the read context never does (the primary answers). Replay resumed,
 * the reads go back to the standby. Two reads of one request ask the
 * primary for the fence once; a write between them makes the next read ask
 * again, and so does the next request's first read, and a read on a new
 * connection to the standby. The standby killed, every read still answers, from the primary. */
#include "tap.h"
#include "testlib.h"
#include "pgaflib.h"
#include "db.h"
#include "db_replica.h"

#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS 2
#define USERS_PER_WRITER 8
#define ROUNDS 200
#define READS_PER_PATH 300

struct shared {
    int stop;
    long writes[WRITERS], failures[WRITERS];
};

static struct pgaf formation;
static struct shared *sh;
static char rw_info[512], read_info[512];
static char users[WRITERS][USERS_PER_WRITER][37];
static char concert[24], schedule[24];

static const char charge_sql[] = "SELECT outcome, body FROM booking_charge($1::uuid, $2::bigint, NULL)";
static const char hold_sql[] =
    "SELECT outcome, held_reservation FROM booking_hold($1::uuid, $2::bigint, $3::bigint, $4::integer[], 't2q')";
static const char cancel_sql[] = "SELECT outcome FROM booking_cancel($1::uuid, $2::bigint, $3::bigint)";
/* The read paths, as their responders send them. */
static const char balance_sql[] = "SELECT balance_json($1::uuid)";
static const char list_sql[] = "SELECT id, created_ms, reservation FROM booking_list_rows($1::uuid)";
static const char seatmap_sql[] = "SELECT concert_id, seat_no, cached FROM seatmap_rows($1::bigint)";
static const char shows_sql[] = "SELECT concert_found, body FROM show_list($1::bigint)";
static const char settings_sql[] = "SELECT * FROM concert_settings($1)";

/* The first value of sql's first row on db (malloc'd), or NULL. */
static char *value_on(struct db *db, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL;
    char *v = NULL;

    if (db_query_on(db, sql, n, params, &res) == DB_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* The app's schema and functions, as a migration applies them. */
static int load_schema(PGconn *c)
{
    const char *repo = getenv("CONCERT_REPO");
    char pattern[512];
    glob_t g;
    int rc = 0;

    snprintf(pattern, sizeof pattern, "%s/sql/0*.sql", repo ? repo : ".");
    if (glob(pattern, 0, NULL, &g) != 0)
        return -1;
    for (size_t i = 0; i <= g.gl_pathc && rc == 0; i++) {
        char path[600], *text;
        FILE *f;
        long len;
        PGresult *res;

        if (i < g.gl_pathc)
            snprintf(path, sizeof path, "%s", g.gl_pathv[i]);
        else
            snprintf(path, sizeof path, "%s/sql/functions.sql", repo ? repo : ".");
        f = fopen(path, "r");
        if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
            !(text = calloc(1, (size_t)len + 1)) || fread(text, 1, (size_t)len, f) != (size_t)len) {
            if (f)
                fclose(f);
            rc = -1;
            break;
        }
        fclose(f);
        res = PQexec(c, text);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
            diag("%s: %s", path, PQresultErrorMessage(res));
            rc = -1;
        }
        PQclear(res);
        free(text);
    }
    globfree(&g);
    return rc;
}

/* A concert with one show of 50 seats, and the writers' users. */
static int make_data(void)
{
    PGconn *c = PQconnectdb(rw_info);
    PGresult *res;
    int rc = -1;

    if (PQstatus(c) != CONNECTION_OK)
        goto out;
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    if (load_schema(c) < 0)
        goto out;
    /* Two statements: the second's snapshot sees the schedule the first made. */
    PQclear(PQexec(c, "SELECT concert_create('t2q', 'hall', 100, 1800, 600, 300, ARRAY[now() + interval '1 day'],"
                      " ARRAY[50], ARRAY[1000::bigint], NULL, false, NULL)"));
    res = PQexec(c, "SELECT concert_id, id FROM schedules");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        snprintf(concert, sizeof concert, "%s", PQgetvalue(res, 0, 0));
        snprintf(schedule, sizeof schedule, "%s", PQgetvalue(res, 0, 1));
        rc = 0;
    } else {
        diag("concert_create: %s (%d rows)", PQresultErrorMessage(res), PQntuples(res));
    }
    PQclear(res);
    for (int w = 0; w < WRITERS; w++)
        for (int u = 0; u < USERS_PER_WRITER; u++)
            t_uuid(users[w][u]);
out:
    PQfinish(c);
    return rc;
}

/* One journey step of user: a top-up, a hold of seats, its cancellation.
 * The ones acknowledged, or -1 at the first that failed. */
static int journey(struct db *db, const char *user, const char *seats)
{
    const char *charge[] = {user, "100"}, *hold[] = {user, concert, schedule, seats}, *cancel[] = {user, concert, NULL};
    char *outcome = value_on(db, charge_sql, 2, charge);
    int ok_charge = outcome && strcmp(outcome, "charged") == 0, ok_cancel;
    PGresult *res = NULL;
    char id[24] = "";

    free(outcome);
    if (!ok_charge)
        return -1;
    if (db_query_on(db, hold_sql, 4, hold, &res) == DB_OK && PQntuples(res) == 1 &&
        strcmp(PQgetvalue(res, 0, 0), "held") == 0)
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    if (!id[0])
        return -1;
    cancel[2] = id;
    outcome = value_on(db, cancel_sql, 3, cancel);
    ok_cancel = outcome && strcmp(outcome, "cancelled") == 0;
    free(outcome);
    return ok_cancel ? 3 : -1;
}

static void writer(int w)
{
    struct db *db = db_open(rw_info);
    char seats[32];

    if (!db || db_set_session(db, "SET synchronous_commit = remote_apply") < 0)
        _exit(1);
    snprintf(seats, sizeof seats, "{%d,%d}", 2 * w + 1, 2 * w + 2);
    for (long k = 0; !sh->stop; k++) {
        int n = journey(db, users[w][k % USERS_PER_WRITER], seats);
        if (n > 0)
            sh->writes[w] += n;
        else
            sh->failures[w]++;
    }
    _exit(0);
}

static long replica_reads_on_standby(void)
{
    struct db_replica_counts c;

    db_replica_counts(&c);
    return c.standby;
}

/* The value of a read through the read context (malloc'd), or NULL. */
static char *read_value(const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL;
    char *v = NULL;

    if (db_read_replica(sql, n, params, &res) == DB_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* The seat map's text for seat_no (as seatmap_rows builds it), read
 * through the read context; "" when missing. */
static void seat_cached(int seat_no, char *out, size_t cap)
{
    const char *params[] = {schedule};
    PGresult *res = NULL;

    out[0] = '\0';
    if (db_read_replica(seatmap_sql, 1, params, &res) == DB_OK) {
        for (int i = 0; i < PQntuples(res); i++)
            if (atoi(PQgetvalue(res, i, 1)) == seat_no)
                snprintf(out, cap, "%s", PQgetvalue(res, i, 2));
    }
    PQclear(res);
}

/* A top-up, a hold and a cancellation of the reader's own, each read back
 * at once through the read context: how many reads missed their write. */
static int read_own_writes(const char *me, int rounds, int *missed_out)
{
    int missed = 0, done = 0;

    for (int i = 0; i < rounds; i++) {
        const char *charge[] = {me, "1"}, *hold[] = {me, concert, schedule, "{50}"}, *who[] = {me};
        PGresult *res = NULL;
        char *seen, id[24] = "", cached[64], want[64];

        if (db_query(charge_sql, 2, charge, &res) != DB_OK || PQntuples(res) != 1) {
            PQclear(res);
            break;
        }
        seen = read_value(balance_sql, 1, who);
        missed += !seen || strcmp(seen, PQgetvalue(res, 0, 1)) != 0;
        free(seen);
        PQclear(res);
        res = NULL;
        if (db_query(hold_sql, 4, hold, &res) == DB_OK && PQntuples(res) == 1 &&
            strcmp(PQgetvalue(res, 0, 0), "held") == 0)
            snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 1));
        PQclear(res);
        if (!id[0])
            break;
        seat_cached(50, cached, sizeof cached);
        missed += strstr(cached, ",H,") == NULL || strcmp(strrchr(cached, ',') + 1, id) != 0;
        {
            const char *cancel[] = {me, concert, id};
            char *outcome = value_on(db_default(), cancel_sql, 3, cancel);
            int cancelled = outcome && strcmp(outcome, "cancelled") == 0;
            free(outcome);
            if (!cancelled)
                break;
        }
        seat_cached(50, cached, sizeof cached);
        snprintf(want, sizeof want, "%s", "1000,A,0,0");
        missed += strcmp(cached, want) != 0;
        done++;
    }
    *missed_out = missed;
    return done;
}

/* CPU time a process has run, in microseconds (/proc/PID/schedstat). */
static double cpu_us(const char *pid)
{
    char buf[128];

    if (!pid || t_proc_read(pid, "schedstat", buf, sizeof buf) <= 0)
        return 0;
    return strtod(buf, NULL) / 1e3;
}

/* Reads measure_path saw fail: a path whose SQL the server refuses
 * measures nothing, and the measure must not pass on it. */
static int reads_failed;

/* Reads path sql READS_PER_PATH times (params rotating over the writers'
 * users, or the show), and the primary's and the standby's CPU per read. */
static void measure_path(const char *sql, int by_user, const char *primary_pid, const char *standby_pid,
                         double *primary_us, double *standby_us)
{
    double p0 = cpu_us(primary_pid), s0 = cpu_us(standby_pid);

    for (int i = 0; i < READS_PER_PATH; i++) {
        const char *params[] = {by_user ? users[i % WRITERS][i % USERS_PER_WRITER] : concert};
        PGresult *res = NULL;

        if (sql == seatmap_sql)
            params[0] = schedule;
        /* Each read a request of its own, as the responders' are. */
        db_replica_new_request();
        if (db_read_replica(sql, 1, params, &res) != DB_OK && reads_failed++ == 0)
            diag("a read failed while measuring: %s", sql);
        PQclear(res);
    }
    *primary_us = (cpu_us(primary_pid) - p0) / READS_PER_PATH;
    *standby_us = standby_pid ? (cpu_us(standby_pid) - s0) / READS_PER_PATH : 0;
}

/* The primary's CPU per read of each path, all on the primary and then
 * through the standby, the writers running. 1 when the standby took load
 * off the primary over the five paths, every read answered. */
static int measure(void)
{
    static const struct {
        const char *name, *sql;
        int by_user;
    } paths[] = {
        {"reservations list", list_sql, 1}, {"balance", balance_sql, 1}, {"seat map rebuild", seatmap_sql, 0},
        {"shows list rebuild", shows_sql, 0}, {"admin settings", settings_sql, 0},
    };
    double before, after, standby, unused, sum_before = 0, sum_after = 0;
    char *primary_pid = value_on(db_default(), "SELECT pg_backend_pid()::text", 0, NULL);
    long writes0 = sh->writes[0] + sh->writes[1];
    double t0 = t_now_s();

    /* Each path alone and then with the standby, back to back: the users'
     * lists grow as the writers go on. */
    for (int p = 0; p < 5; p++) {
        struct db_replica_counts c0, c1;
        char *standby_pid;

        db_replica_init(NULL);
        measure_path(paths[p].sql, paths[p].by_user, primary_pid, NULL, &before, &unused);
        db_replica_init(read_info);
        standby_pid = read_value("SELECT pg_backend_pid()::text", 0, NULL);
        db_replica_counts(&c0);
        measure_path(paths[p].sql, paths[p].by_user, primary_pid, standby_pid, &after, &standby);
        db_replica_counts(&c1);
        diag("%-18s primary %6.1f us/read alone, %5.1f with the standby; the standby %6.1f us/read;"
             " %ld of %d on the standby, %ld waited for its replay", paths[p].name, before, after, standby,
             c1.standby - c0.standby, READS_PER_PATH, c1.fence_waits - c0.fence_waits);
        free(standby_pid);
        sum_before += before;
        sum_after += after;
    }
    diag("journey writers meanwhile: %.0f acknowledged writes/s", (sh->writes[0] + sh->writes[1] - writes0) /
                                                                         (t_now_s() - t0));
    free(primary_pid);
    if (reads_failed)
        diag("%d reads failed while measuring", reads_failed);
    return sum_after < sum_before && reads_failed == 0;
}

/* SQL as the superuser on the standby; 0 when it ran. */
static int on_standby(int port, const char *sql)
{
    return pgaf_cmd(&formation, NULL, 0, "sql", "%d '%s'", port, sql);
}

int main(void)
{
    char node[64], me[37], standby_info[256];
    int standby_port, missed = 0, done;
    int pids[WRITERS];
    struct db_replica_counts c0, c1;

    pgaf_init(&formation, "t2q");
    plan(15);
    if (!ok(pgaf_up(&formation) == 0, "a primary and its synchronous standby under pg_auto_failover"))
        goto out;
    pgaf_conninfo(&formation, "read-write", rw_info, sizeof rw_info);
    pgaf_conninfo(&formation, "prefer-standby", read_info, sizeof read_info);
    if (make_data() < 0 || pgaf_cmd(&formation, node, sizeof node, "secondary", "%s", "") != 0)
        bail_out("cannot load the schema into the formation");
    standby_port = formation.ports[strcmp(node, "node2") == 0];
    snprintf(standby_info, sizeof standby_info, "host=127.0.0.1 port=%d dbname=concert user=concert_app",
             standby_port);

    sh = pgaf_shared(sizeof *sh);
    pgaf_fork_writers(WRITERS, writer, pids);

    step("the read context reads from the standby; the writes wait for it to apply them");
    db_init(rw_info);
    if (db_replica_init(read_info) < 0)
        bail_out("db_replica_init failed");
    {
        char *where = read_value("SELECT pg_is_in_recovery()::text", 0, NULL);
        char *commit = value_on(db_default(), "SELECT current_setting('synchronous_commit')", 0, NULL);
        is(where, "true", "a read through the read context runs on the standby (pg_is_in_recovery)");
        is(commit, "remote_apply", "the primary's sessions commit with synchronous_commit = remote_apply");
        free(where);
        free(commit);
    }

    step("a write, acknowledged, then read at once through the read context");
    t_uuid(me);
    db_replica_counts(&c0);
    done = read_own_writes(me, ROUNDS, &missed);
    db_replica_counts(&c1);
    ok(done == ROUNDS && missed == 0,
       "%d top-ups, holds and cancellations, each read back at once: %d reads missed their write", done, missed);
    diag("%ld of %ld reads on the standby; %ld found it behind the primary's flushed WAL at first, %ld left to "
         "the primary",
         c1.standby - c0.standby, c1.standby - c0.standby + c1.primary - c0.primary, c1.fence_waits - c0.fence_waits,
         c1.behind - c0.behind);
    ok(c1.standby - c0.standby >= (3 * ROUNDS) / 2, "and most of them were answered by the standby (%ld of %d)",
       c1.standby - c0.standby, 3 * ROUNDS);

    step("the primary's CPU per read path, with the writers running");
    ok(measure(), "over the five read paths the standby takes reads off the primary");

    step("the standby's replay paused: writes acknowledged without it are read from the primary");
    sh->stop = 1;
    for (int w = 0; w < WRITERS; w++)
        waitpid(pids[w], NULL, 0);
    diag("journey writers: %ld writes acknowledged, %ld journeys failed", sh->writes[0] + sh->writes[1],
         sh->failures[0] + sh->failures[1]);
    if (on_standby(standby_port, "SELECT pg_wal_replay_pause()") != 0)
        bail_out("cannot pause the standby's replay");
    {
        struct db *local = db_open(rw_info), *direct = db_open(standby_info);
        int stale = 0, stale_direct = 0, n = 0;

        if (!local || !direct || db_set_session(local, "SET synchronous_commit = local") < 0)
            bail_out("cannot open the contexts");
        db_replica_counts(&c0);
        for (int i = 0; i < 40; i++) {
            const char *charge[] = {me, "1"}, *who[] = {me};
            PGresult *res = NULL;
            char *seen, *there;

            if (db_query_on(local, charge_sql, 2, charge, &res) != DB_OK || PQntuples(res) != 1) {
                PQclear(res);
                break;
            }
            n++;
            seen = read_value(balance_sql, 1, who);
            there = value_on(direct, balance_sql, 1, who);
            stale += !seen || strcmp(seen, PQgetvalue(res, 0, 1)) != 0;
            stale_direct += !there || strcmp(there, PQgetvalue(res, 0, 1)) != 0;
            free(seen);
            free(there);
            PQclear(res);
            t_sleep_ms(25);
        }
        db_replica_counts(&c1);
        ok(n == 40 && stale_direct == n, "the standby itself reads stale after each of %d writes (%d stale)", n,
           stale_direct);
        ok(stale == 0 && c1.standby == c0.standby,
           "the read context never does: %d stale, %ld answered by the standby, %ld by the primary", stale,
           c1.standby - c0.standby, c1.primary - c0.primary);
        db_free(local);
        db_free(direct);
    }
    if (on_standby(standby_port, "SELECT pg_wal_replay_resume()") != 0)
        bail_out("cannot resume the standby's replay");
    t_sleep_ms(1500);
    {
        long before = replica_reads_on_standby();
        char *where = read_value("SELECT pg_is_in_recovery()::text", 0, NULL);
        ok(where && strcmp(where, "true") == 0 && replica_reads_on_standby() == before + 1,
           "replay resumed, the reads go back to the standby");
        free(where);
    }

    step("a request that reads twice asks the primary for the fence once; a write between asks again");
    {
        const char *who[] = {me}, *charge[] = {me, "1"};
        struct db_replica_counts f0, f1, f2, f3;
        char *first, *second, *third, *next, want[256] = "";
        PGresult *res = NULL;

        /* A fresh read context: the first request of a process. */
        db_replica_init(read_info);
        db_replica_counts(&f0);
        first = read_value(balance_sql, 1, who);
        second = read_value(list_sql, 1, who);
        db_replica_counts(&f1);
        ok(first && second && f1.standby - f0.standby == 2 && f1.fences - f0.fences == 1,
           "two reads on the standby, one fence: %ld on the standby, %ld fences", f1.standby - f0.standby,
           f1.fences - f0.fences);
        if (db_query(charge_sql, 2, charge, &res) == DB_OK && PQntuples(res) == 1)
            snprintf(want, sizeof want, "%s", PQgetvalue(res, 0, 1));
        PQclear(res);
        third = read_value(balance_sql, 1, who);
        db_replica_counts(&f2);
        ok(want[0] && third && strcmp(third, want) == 0 && f2.fences - f1.fences == 1,
           "a write between two reads: the next read takes a fence of its own and sees the write (%s, want %s)",
           third ? third : "nothing", want);
        db_replica_new_request();
        next = read_value(balance_sql, 1, who);
        db_replica_counts(&f3);
        ok(next && f3.standby - f2.standby == 1 && f3.fences - f2.fences == 1,
           "the next request's first read takes a new fence (%ld)", f3.fences - f2.fences);
        free(first);
        free(second);
        free(third);
        free(next);
    }
    {
        struct db_replica_counts f0, f1;
        char *pid, kill_sql[96], *after;

        /* The read context's backend on the standby ended mid-request: the
         * next read goes on a new connection, whose server the fence has
         * not been checked on (with several standbys it may be another). */
        db_replica_new_request();
        pid = read_value("SELECT pg_backend_pid()::text", 0, NULL);
        snprintf(kill_sql, sizeof kill_sql, "SELECT pg_terminate_backend(%d)", pid ? atoi(pid) : 0);
        if (!pid || on_standby(standby_port, kill_sql) != 0)
            bail_out("cannot end the read context's backend on the standby");
        t_sleep_ms(200);
        db_replica_counts(&f0);
        after = read_value("SELECT pg_backend_pid()::text", 0, NULL);
        db_replica_counts(&f1);
        ok(after && strcmp(after, pid) != 0 && f1.standby - f0.standby == 1 && f1.fences - f0.fences == 1,
           "a read on a new connection in the same request takes a new fence (%ld)", f1.fences - f0.fences);
        free(pid);
        free(after);
    }

    step("the standby killed: the reads still answer, from the primary");
    {
        const char *who[] = {me};
        char *want = read_value(balance_sql, 1, who);
        int failed = 0, n = 0;
        long before = replica_reads_on_standby();
        double until;

        if (pgaf_cmd(&formation, node, sizeof node, "kill-secondary", "%s", "") != 0)
            bail_out("cannot kill the standby");
        diag("killed %s's keeper and PostgreSQL", node);
        until = t_now_s() + 3;
        while (t_now_s() < until) {
            char *seen = read_value(balance_sql, 1, who);
            failed += !seen || !want || strcmp(seen, want) != 0;
            free(seen);
            n++;
            t_sleep_ms(50);
        }
        ok(n > 10 && failed == 0, "%d reads in 3 seconds from the kill on, %d failed or differed", n, failed);
        for (int i = 0; i < 50 && PQping(standby_info) != PQPING_NO_RESPONSE; i++)
            t_sleep_ms(100);
        before = replica_reads_on_standby();
        for (int i = 0; i < 20; i++) {
            char *seen = read_value(balance_sql, 1, who);
            failed += !seen || !want || strcmp(seen, want) != 0;
            free(seen);
        }
        ok(failed == 0 && replica_reads_on_standby() == before,
           "once it is gone, every read is the primary's (%ld on the standby, %d failed)",
           replica_reads_on_standby() - before, failed);
        free(want);
    }
    db_replica_close();
    db_close();

out:
    pgaf_down(&formation);
    return done_testing();
}
