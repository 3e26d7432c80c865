/* outcome.h - what PostgreSQL answered, as the domain's verdict.
 *
 * A request function of sql/functions.sql returns an outcome word and data:
 * the columns outcome, body (the success answer's JSON) and detail (what a
 * refusal's message names), then whatever else its caller needs. Here is
 * the one table from outcome word to HTTP status, error code and message,
 * so SQL holds no message and no responder spells one out. Nothing here
 * answers: the edge (answer.h) writes what the table says. */
#ifndef CONCERT_OUTCOME_H
#define CONCERT_OUTCOME_H

#include <stddef.h>
#include <libpq-fe.h>

#include "db.h"

struct outcome {
    const char *word;          /* as sql/functions.sql returns it */
    int status;
    const char *code;          /* NULL for a success: the row's body is the answer */
    const char *message;
    const char *detail_label;  /* what the row's detail is, appended as "(label detail)" */
};

/* The table's row for word, or NULL for an unknown word or NULL. */
const struct outcome *outcome_find(const char *word);

/* The text of a column of a one-row result, or NULL when the column is
 * absent or NULL; *len (when len is not NULL) its length. Points into res. */
const char *outcome_column(const PGresult *res, const char *name, int *len);

/* The outcome word of a request function's row, or NULL when rc is not
 * DB_OK or the row has none. Points into res. */
const char *outcome_word(db_rc rc, const PGresult *res);

/* 1 when word is a known refusal (the function changed nothing), 0 for a
 * success, an unknown word or NULL. */
int outcome_refused(const char *word);

#endif
