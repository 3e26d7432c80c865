/* outcome.h - from what PostgreSQL answered to what the client is answered.
 *
 * A request function of sql/functions.sql returns an outcome word and data:
 * the columns outcome, body (the success answer's JSON) and detail (what a
 * refusal's message names), then whatever else its caller needs. Here is
 * the one table from outcome word to HTTP status, error code and message,
 * and the one answer to a PostgreSQL call that failed, so responders never
 * write those answers themselves and SQL holds no message. */
#ifndef CONCERT_OUTCOME_H
#define CONCERT_OUTCOME_H

#include <stddef.h>
#include <libpq-fe.h>

#include "db.h"
#include "http.h"

/* The outcome word of a request function's row, or NULL when rc is not
 * DB_OK or the row has none. Points into res. */
const char *outcome_word(db_rc rc, const PGresult *res);

/* 1 when word is a known refusal (the function changed nothing), 0 for a
 * success, an unknown word or NULL. */
int outcome_refused(const char *word);

/* Answers a request function's row: the table's status with the row's body
 * for a success, the error body for a refusal. A failed call goes to
 * outcome_db_failure; a row without an outcome or with an unknown one is
 * logged and answered as an internal error. Does not clear res. */
void outcome_reply(struct request *r, db_rc rc, const PGresult *res);

/* Answers a refusal decided before PostgreSQL was asked (a cached check),
 * by the same table; detail may be NULL. */
void outcome_answer(struct request *r, const char *word, const char *detail);

/* The answer to a PostgreSQL call that did not return rows: 503
 * UNAVAILABLE with Retry-After when nothing ran (DB_UNAVAILABLE) or the
 * connection broke after sending (DB_UNKNOWN: the retry decides, replaying
 * through its Idempotency-Key whatever committed); the internal error for
 * DB_FAILED (a statement the server rejected: a bug). */
void outcome_db_failure(struct request *r, db_rc rc);

/* Answers status with a JSON text PostgreSQL built, the whitespace between
 * its tokens removed (json_build_object writes `"key" : value`) so it looks
 * like every other answer. */
void outcome_send_json(struct request *r, int status, const char *json, size_t len);

#endif
