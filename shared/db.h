/* db.h - the process's one PostgreSQL connection.
 *
 * Each responder is single-threaded and handles one request at a time, so one
 * connection per process is all it needs. The connection is opened lazily,
 * re-opened after PostgreSQL restarts, and every statement is sent with
 * parameters (never built from input) and prepared once per connection. */
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

/* Runs one statement. `sql` must be a string literal (or otherwise live for
 * the program's lifetime): its address keys the prepared-statement cache.
 * On DB_OK *out holds a result the caller must PQclear. A statement that fails
 * because the connection broke is retried once on a fresh connection; that is
 * safe because a statement whose connection broke before it ran did nothing,
 * and one that broke mid-way was rolled back by the server. */
db_rc db_query(const char *sql, int nparams, const char *const *params, PGresult **out);

/* Cheap round trip for health checks. */
db_rc db_ping(void);

void db_close(void);

#endif
