/* answer.h - the edge's answers to what the domain decided.
 *
 * Domain modules return outcome words (outcome.h), db_rc and their own
 * return codes; only the edge (this, guard.h and the responders of fcgi/)
 * writes HTTP. Here are the answers every responder shares: an outcome
 * word by outcome.c's table, a PostgreSQL call that failed, a JSON text
 * PostgreSQL built. */
#ifndef CONCERT_ANSWER_H
#define CONCERT_ANSWER_H

#include <stddef.h>
#include <libpq-fe.h>

#include "db.h"
#include "http.h"
#include "outcome.h"

/* Answers a request function's row: the table's status with the row's body
 * for a success, the error body for a refusal. A failed call goes to
 * answer_db_failure; a row without an outcome or with an unknown one is
 * logged and answered as an internal error. Does not clear res. */
void answer_outcome(struct request *r, db_rc rc, const PGresult *res);

/* Answers a refusal decided before PostgreSQL was asked (a cached check),
 * by the same table; detail may be NULL. */
void answer_refusal(struct request *r, const char *word, const char *detail);

/* The answer to a PostgreSQL call that did not return rows: 503
 * UNAVAILABLE with Retry-After when nothing ran (DB_UNAVAILABLE) or the
 * connection broke after sending (DB_UNKNOWN: the retry decides, replaying
 * through its Idempotency-Key whatever committed); the internal error for
 * DB_FAILED (a statement the server rejected: a bug). */
void answer_db_failure(struct request *r, db_rc rc);

/* Answers status with a JSON text PostgreSQL built, the whitespace between
 * its tokens removed (json_build_object writes `"key" : value`) so it looks
 * like every other answer. */
void answer_pg_json(struct request *r, int status, const char *json, size_t len);

/* A per-user read: the session must own the path's {userId} (the session
 * guard: 401, 400, 403); then runs sql (one $1::uuid parameter, one row,
 * one JSON text column; read-only: it may run on the standby,
 * db_replica.h) and answers 200 with it. */
void answer_user_read(struct request *r, const char *sql);

/* The same read's rows, for a caller that builds the answer itself: the
 * result (the caller clears it) with user the session's user, or NULL
 * after answering. */
PGresult *answer_user_rows(struct request *r, const char *sql, char user[37]);

#endif
