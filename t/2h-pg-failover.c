/* 2h-pg-failover: PostgreSQL's primary dies, pg_auto_failover promotes the
 * synchronous standby, and the database client carries on; nothing it was
 * told had committed is lost.
 *
 * The story, on servers this test starts on loopback ports (t/pgaf.sh): a
 * pg_auto_failover monitor and two data nodes, replicating synchronously.
 * The client (shared/db.c, as every responder and the cron program use it)
 * is given only libpq's multi-host connection string with
 * target_session_attrs=read-write. Four writers commit rows as fast as
 * they can, each noting every row whose commit was acknowledged. The
 * primary's host dies (its keeper and PostgreSQL, kill -9). Writes fail
 * meanwhile (DB_UNAVAILABLE or DB_UNKNOWN: the responders answer 503 with
 * Retry-After) until the standby is promoted; then they succeed against it
 * without anything being restarted or reconfigured. Afterwards every
 * acknowledged row is on the new primary, and the time without one is
 * measured. The dead node's keeper is started again and it comes back as
 * the standby. */
#include "tap.h"
#include "testlib.h"
#include "pgaflib.h"
#include "db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITERS 4
#define MAX_ACKED 200000

struct shared {
    int stop;
    int64_t acked[WRITERS][MAX_ACKED / WRITERS];
    int nacked[WRITERS];
    int unavailable[WRITERS], unknown[WRITERS], failed[WRITERS];
    double last_ok_before_gap[WRITERS], longest_gap[WRITERS];
};

static struct pgaf formation;
static struct shared *sh;

/* Writer w commits rows until told to stop; ids w, w + WRITERS, ... */
static void writer(int w)
{
    static const char sql[] = "INSERT INTO t2h (id, writer) VALUES ($1::bigint, $2::integer)";
    double last_ok = t_now_s();

    for (int64_t k = 0; !sh->stop && sh->nacked[w] < MAX_ACKED / WRITERS; k++) {
        char id[24], wt[12];
        const char *params[] = {id, wt};
        PGresult *res = NULL;
        db_rc rc;

        snprintf(id, sizeof id, "%" PRId64, k * WRITERS + w + 1);
        snprintf(wt, sizeof wt, "%d", w);
        rc = db_query(sql, 2, params, &res);
        PQclear(res);
        if (rc == DB_OK) {
            double t = t_now_s();
            if (t - last_ok > sh->longest_gap[w])
                sh->longest_gap[w] = t - last_ok;
            last_ok = t;
            sh->acked[w][sh->nacked[w]++] = k * WRITERS + w + 1;
        } else {
            if (rc == DB_UNAVAILABLE)
                sh->unavailable[w]++;
            else if (rc == DB_UNKNOWN)
                sh->unknown[w]++;
            else
                sh->failed[w]++;
            usleep(100000);   /* as a client told Retry-After would, sooner */
        }
    }
    _exit(0);
}

int main(void)
{
    char conninfo[512], out[128];
    int pids[WRITERS];
    double gap = 0, t_kill;
    int unavailable = 0, unknown = 0, failed = 0, acked = 0;

    pgaf_init(&formation, "t2h");
    plan(6);
    if (!ok(pgaf_up(&formation) == 0, "a monitor and two data nodes, one primary and one synchronous standby"))
        goto out;

    pgaf_conninfo(&formation, "read-write", conninfo, sizeof conninfo);
    db_init(conninfo);
    {
        PGresult *res = NULL;
        db_rc rc = db_query("CREATE TABLE t2h (id bigint PRIMARY KEY, writer integer NOT NULL)", 0, NULL, &res);
        PQclear(res);
        res = NULL;
        if (rc == DB_OK)
            rc = db_read("SELECT setting FROM pg_settings WHERE name = 'synchronous_standby_names'", 0, NULL, &res);
        ok(rc == DB_OK && res && PQntuples(res) == 1 && strstr(PQgetvalue(res, 0, 0), "ANY 1"),
           "the client writes through the multi-host string; the primary waits for its standby (%s)",
           res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
        PQclear(res);
    }
    db_close();

    sh = pgaf_shared(sizeof *sh);
    pgaf_fork_writers(WRITERS, writer, pids);
    t_sleep_ms(1500);
    t_kill = t_now_s();
    if (pgaf_cmd(&formation, out, sizeof out, "kill-primary", "%s", "") != 0)
        diag("kill-primary failed");
    else
        diag("killed %s's keeper and PostgreSQL", out);
    /* Until every writer has committed again after the outage (a wait of
     * over half a second between two of its commits), and a second more;
     * at most a minute. */
    for (;;) {
        int resumed = 0;
        t_sleep_ms(250);
        for (int w = 0; w < WRITERS; w++)
            resumed += sh->longest_gap[w] > 0.5;
        if (resumed == WRITERS || t_now_s() - t_kill > 60)
            break;
    }
    t_sleep_ms(1000);
    sh->stop = 1;
    for (int w = 0; w < WRITERS; w++)
        waitpid(pids[w], NULL, 0);
    for (int w = 0; w < WRITERS; w++) {
        if (sh->longest_gap[w] > gap)
            gap = sh->longest_gap[w];
        unavailable += sh->unavailable[w];
        unknown += sh->unknown[w];
        failed += sh->failed[w];
        acked += sh->nacked[w];
    }
    diag("without a primary for %.1f s (the longest wait between two acknowledged commits); %d writes acknowledged,"
         " %d failed unsent (DB_UNAVAILABLE), %d with their outcome unknown (DB_UNKNOWN)",
         gap, acked, unavailable, unknown);
    ok(gap > 0.5 && gap < 30 && failed == 0,
       "writes stopped with the primary and went on against the promoted standby, unreconfigured (%.1f s)", gap);
    ok(unavailable + unknown > 0 && failed == 0,
       "meanwhile every failure was one a responder answers 503 with Retry-After (%d unsent, %d unknown)", unavailable,
       unknown);

    /* Every acknowledged row is on the new primary. */
    {
        int missing = 0;
        db_init(conninfo);
        for (int w = 0; w < WRITERS; w++) {
            for (int i = 0; i < sh->nacked[w]; i++) {
                char id[24];
                const char *params[] = {id};
                PGresult *res = NULL;
                snprintf(id, sizeof id, "%" PRId64, sh->acked[w][i]);
                if (db_read("SELECT 1 FROM t2h WHERE id = $1::bigint", 1, params, &res) != DB_OK ||
                    PQntuples(res) != 1)
                    missing++;
                PQclear(res);
            }
        }
        ok(acked > 0 && missing == 0, "every one of the %d acknowledged commits is on the new primary (%d missing)",
           acked, missing);
        db_close();
    }

    /* The dead node's keeper again: it rejoins as the standby. */
    ok(pgaf_cmd(&formation, NULL, 0, "revive", "%s", "") == 0, "the dead node, started again, comes back as the standby");

out:
    pgaf_down(&formation);
    return done_testing();
}
