/* db.h - the process's one PostgreSQL connection.
 *
 * Each responder is single-threaded and handles one request at a time, so one
 * connection per process is all it needs. The connection is opened lazily,
 * re-opened after PostgreSQL restarts, and every statement is sent with
 * parameters (never built from input) and prepared once per connection.
 *
 * A statement is sent at most once. Before sending, an idle connection the
 * server has closed meanwhile (a restart, pg_terminate_backend) is noticed
 * and replaced, so that common case costs no error. Once a statement has been
 * sent, a connection that breaks before its answer leaves its outcome unknown:
 * it may have committed. Such a statement is never run again here; the caller
 * answers 503 and the client's retry, carrying the same Idempotency-Key,
 * decides (the stored answer is replayed if the first run committed). */
#ifndef CONCERT_DB_H
#define CONCERT_DB_H

#include <libpq-fe.h>

typedef enum {
    DB_OK = 0,
    DB_UNAVAILABLE,   /* no server ran the statement (none could be reached, or
                       * it was never sent): nothing happened, answer 503 */
    DB_UNKNOWN,       /* the connection broke after the statement was sent: it
                       * may have committed. Answer 503 and never run it again;
                       * the client's retry (with its Idempotency-Key) decides */
    DB_FAILED         /* the server rejected the statement: a bug, answer 500 */
} db_rc;

/* Remembers the connection string; connects on first use. */
void db_init(const char *conninfo);

/* Runs one statement, sending it at most once. `sql` must be a string literal
 * (or otherwise live for the program's lifetime): its address keys the
 * prepared-statement cache. On DB_OK *out holds a result the caller must
 * PQclear; otherwise *out is NULL.
 *
 * DB_UNAVAILABLE: nothing was done (no connection could be made, or the
 * server, shutting down, stopped the statement before it completed).
 * DB_UNKNOWN: the statement was sent and the connection broke before its
 * answer; the next call starts on a fresh connection. An error the server
 * reports before the statement completes means it committed nothing: one
 * statement is one transaction, committed only after it completed (so a
 * statement must not commit by itself, as a procedure calling COMMIT would). */
db_rc db_query(const char *sql, int nparams, const char *const *params, PGresult **out);

/* db_query for a statement that changes nothing (a plain SELECT of data):
 * running it twice is harmless, so on DB_UNKNOWN it is run once more on a
 * fresh connection. A caller opts in by calling this instead of db_query; it
 * never returns DB_UNKNOWN (an unanswered read is DB_UNAVAILABLE). Never use
 * it for a statement that writes, including a function that writes. */
db_rc db_read(const char *sql, int nparams, const char *const *params, PGresult **out);

/* Cheap round trip for health checks. */
db_rc db_ping(void);

void db_close(void);

#endif
