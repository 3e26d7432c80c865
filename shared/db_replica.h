/* db_replica.h - the read-only paths' reads, answered by PostgreSQL's
 * standby when it is sure to hold every write acknowledged before the read.
 *
 * pg_read_conninfo (config.h) names where such a read may go, in libpq's
 * multi-host form with target_session_attrs=prefer-standby: a standby when
 * one answers, else the primary. Without it (one host) every read goes to
 * the primary through the process's default context, exactly as db_read.
 *
 * A client sees its own writes, and everyone's acknowledged before it
 * asked, whichever process made them. Before a read on the standby, the
 * primary is asked how far its WAL is flushed (the fence): a commit is
 * acknowledged only after its commit record is flushed, so every write
 * acknowledged so far lies below the fence. The standby is then asked
 * whether it has replayed that far, and only then runs the read, as a
 * statement of its own: its snapshot, taken after the replay passed the
 * fence, holds every one of those commits. This depends on nothing the
 * primary or pg_auto_failover says about the standby, so it holds as well
 * when the primary stopped waiting for it (wait_primary), when its replay
 * is paused, or when it is not the synchronous one. A standby behind the
 * fence for DB_REPLICA_WAIT_MS, or one that fails, leaves the read to the
 * primary (and is left alone a while, db_replica.c); when the primary
 * cannot give the fence the read is DB_UNAVAILABLE, as it would be there.
 *
 * So that the fence is normally met at the first look, db_replica_init
 * makes the process's writes wait until the synchronous standby has applied
 * them (synchronous_commit = remote_apply on the default context): an
 * acknowledged write is then already visible there. */
#ifndef CONCERT_DB_REPLICA_H
#define CONCERT_DB_REPLICA_H

#include "db.h"

/* The longest a read waits for the standby to reach the fence. */
#define DB_REPLICA_WAIT_MS 20

/* Where the reads of this process may go (NULL: the primary alone). 0, or
 * -1 out of memory (logged). */
int db_replica_init(const char *conninfo);

/* db_read for a read-only path: on the standby when it has replayed every
 * acknowledged write, else on the primary. The same outcomes as db_read. */
db_rc db_read_replica(const char *sql, int nparams, const char *const *params, PGresult **out);

/* Where this process's reads went so far, for tests and measurements. */
struct db_replica_counts {
    long standby;        /* answered by the standby */
    long primary;        /* by the primary: no standby configured, reachable or in time */
    long fence_waits;    /* reads that found the standby behind the fence at first */
    long behind;         /* reads given to the primary because the standby stayed behind */
};
void db_replica_counts(struct db_replica_counts *out);

/* Closes the read context's connection. */
void db_replica_close(void);

#endif
