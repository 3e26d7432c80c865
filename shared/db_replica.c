/* db_replica.c - reads on the standby behind a fence of the primary's
 * flushed WAL, falling back to the primary (see db_replica.h). */
#include "db_replica.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* After the standby failed, or only a primary answered the read context, the
 * reads go to the primary for this long before a standby is tried again: a
 * host that is down would otherwise cost every read a connection attempt
 * (up to connect_timeout where packets vanish). */
#define DB_REPLICA_RETRY_MS 30000
/* A standby that stayed behind the fence is left alone this long: while
 * its replay is stuck every read would wait DB_REPLICA_WAIT_MS first. */
#define DB_REPLICA_BEHIND_MS 500

static struct db *replica;
static double replica_skip_until;
static struct db_replica_counts counts;

static double monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int db_replica_init(const char *conninfo)
{
    db_free(replica);
    replica = NULL;
    replica_skip_until = 0;
    if (!conninfo)
        return 0;
    replica = db_open(conninfo);
    if (!replica)
        return -1;
    /* Without a synchronous standby (one host, wait_primary) the primary
     * commits as it would with `on`: nothing waits for a standby that is
     * not there. */
    return db_set_session(db_default(), "SET synchronous_commit = remote_apply");
}

void db_replica_counts(struct db_replica_counts *out)
{
    *out = counts;
}

void db_replica_close(void)
{
    if (replica)
        db_disconnect(replica);
}

static db_rc on_primary(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    counts.primary++;
    return db_read(sql, nparams, params, out);
}

/* Reads go to the primary for ms. A standby that only lags keeps its
 * connection; one that failed, or a primary, is let go. */
static void leave_standby(int ms)
{
    if (ms >= DB_REPLICA_RETRY_MS)
        db_disconnect(replica);
    replica_skip_until = monotonic_ms() + ms;
}

/* The primary's flushed WAL position, as text, into lsn: DB_OK or its
 * failure. */
static db_rc primary_fence(char *lsn, size_t cap)
{
    static const char sql[] = "SELECT pg_current_wal_flush_lsn()::text";
    PGresult *res;
    db_rc rc = db_read(sql, 0, NULL, &res);

    if (rc != DB_OK)
        return rc;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || (size_t)PQgetlength(res, 0, 0) >= cap) {
        log_error("postgres: the primary gave no WAL position");
        PQclear(res);
        return DB_FAILED;
    }
    snprintf(lsn, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return DB_OK;
}

/* Whether the standby has replayed up to lsn, waiting up to
 * DB_REPLICA_WAIT_MS: 1, 0 (still behind), -1 (it failed). A server that
 * has been promoted meanwhile holds everything. */
static int standby_reached(const char *lsn)
{
    static const char sql[] = "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn";
    const char *params[] = {lsn};
    double deadline = monotonic_ms() + DB_REPLICA_WAIT_MS;
    struct timespec pause = {0, 250000};

    for (int look = 0;; look++) {
        PGresult *res;
        int reached;

        if (db_read_on(replica, sql, 1, params, &res) != DB_OK)
            return -1;
        reached = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (reached)
            return 1;
        if (look == 0)
            counts.fence_waits++;
        if (monotonic_ms() >= deadline)
            return 0;
        nanosleep(&pause, NULL);
    }
}

db_rc db_read_replica(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    char lsn[64];
    int standby;
    db_rc rc;

    *out = NULL;
    if (!replica || monotonic_ms() < replica_skip_until)
        return on_primary(sql, nparams, params, out);
    standby = db_in_recovery(replica);
    if (standby <= 0) {
        /* No server answered, or only the primary did: read there, through
         * the one connection the process keeps to it anyway. */
        leave_standby(DB_REPLICA_RETRY_MS);
        return on_primary(sql, nparams, params, out);
    }
    rc = primary_fence(lsn, sizeof lsn);
    if (rc != DB_OK)
        return rc;
    switch (standby_reached(lsn)) {
    case 1:
        break;
    case 0:
        counts.behind++;
        leave_standby(DB_REPLICA_BEHIND_MS);
        return on_primary(sql, nparams, params, out);
    default:
        leave_standby(DB_REPLICA_RETRY_MS);
        return on_primary(sql, nparams, params, out);
    }
    /* Any failure here (the standby gone, a query cancelled by a conflict
     * with recovery) leaves the read to the primary: reads run twice
     * harmlessly. */
    rc = db_read_on(replica, sql, nparams, params, out);
    if (rc != DB_OK) {
        leave_standby(DB_REPLICA_RETRY_MS);
        return on_primary(sql, nparams, params, out);
    }
    counts.standby++;
    return DB_OK;
}
