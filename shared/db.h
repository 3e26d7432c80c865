/* db.h - PostgreSQL connections as contexts.
 *
 * A `struct db` carries one connection, its connection string, its own
 * prepared-statement cache and the outcome of its last statement; every
 * operation takes one (the *_on functions, and the transactions below).
 * Each responder is single-threaded and handles one request at a time, so
 * one connection per process is all it needs: the process's default context
 * (db_default), which db_query, db_read and db_ping use. A program that
 * needs another (the relay's, which LISTENs and runs transactions) opens
 * one with db_open. A connection is opened lazily,
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

struct db;

/* A context for conninfo; it connects on first use. NULL when out of
 * memory (logged). Free it with db_free. */
struct db *db_open(const char *conninfo);

/* Closes the context's connection and frees it (not the default's). */
void db_free(struct db *db);

/* Fixed statements (session settings, LISTEN) run on every new connection
 * of the context before anything else; a connection on which they fail is
 * dropped as one that could not be made. Returns 0, or -1 out of memory. */
int db_set_session(struct db *db, const char *session_sql);

/* For a program that retries every second: a connection that cannot be
 * made is logged once an outage (and its end), not at every try. */
void db_log_outage_once(struct db *db);

/* Runs one statement on the context, sending it at most once. `sql` must be a string literal
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
db_rc db_query_on(struct db *db, const char *sql, int nparams, const char *const *params, PGresult **out);

/* db_query_on for a statement that changes nothing (a plain SELECT of
 * data): running it twice is harmless, so on DB_UNKNOWN it is run once more
 * on a fresh connection. A caller opts in by calling this instead of
 * db_query_on; it never returns DB_UNKNOWN (an unanswered read is
 * DB_UNAVAILABLE). Never use it for a statement that writes, including a
 * function that writes. */
db_rc db_read_on(struct db *db, const char *sql, int nparams, const char *const *params, PGresult **out);

/* Cheap round trip for health checks. */
db_rc db_ping_on(struct db *db);

/* The outcome of the context's last statement (DB_UNKNOWN: it may have
 * committed). */
db_rc db_last_outcome(const struct db *db);

/* Makes sure the context has a connection, opening one when it has none
 * (or the server closed it): DB_OK or DB_UNAVAILABLE. */
db_rc db_connect_now(struct db *db);

/* Whether the context's server is a hot standby: 1 when it is (or cannot
 * say: a server before PostgreSQL 14 reports nothing), 0 when it is a
 * primary, -1 when no connection could be made. Opens one when needed;
 * the server reports a promotion on the open connection. */
int db_in_recovery(struct db *db);

/* Closes the context's connection (ending any transaction); the next
 * statement opens a new one. */
void db_disconnect(struct db *db);

/* Transactions, for a program that needs several statements in one (the
 * relay; a responder's statement is a transaction of its own). Between
 * db_begin and db_commit or db_rollback no statement goes to a fresh
 * connection: one that breaks takes the transaction with it, and every
 * later statement is DB_UNAVAILABLE until the transaction is ended.
 * db_begin: DB_OK when a transaction is open. db_commit: DB_OK when it
 * committed; DB_FAILED when the server refused (a statement of it had
 * failed, or a deferred check), DB_UNAVAILABLE when the connection was gone
 * before COMMIT was sent (nothing committed), DB_UNKNOWN when it broke
 * after (it may have committed). db_rollback ends it in every case. */
db_rc db_begin(struct db *db);
db_rc db_commit(struct db *db);
void db_rollback(struct db *db);

/* Waits up to timeout_ms for NOTIFYs on the channels the session LISTENs
 * to (db_set_session) and takes them: how many came (0: none in time), or
 * -1 when the context has no connection (then it sleeps out the timeout)
 * or the connection was lost. A signal ends the wait early. */
int db_wait_notify(struct db *db, int timeout_ms);

/* The process's default context, and the calls that use it, the same as
 * their *_on namesakes. db_init sets its connection string; db_close
 * closes its connection. */
struct db *db_default(void);
void db_init(const char *conninfo);
db_rc db_query(const char *sql, int nparams, const char *const *params, PGresult **out);
db_rc db_read(const char *sql, int nparams, const char *const *params, PGresult **out);
db_rc db_ping(void);
void db_close(void);

#endif
