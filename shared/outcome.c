/* outcome.c - the outcome table and the answers built from it (see outcome.h). */
#include "outcome.h"
#include "contract_limits.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct outcome {
    const char *word;          /* as sql/functions.sql returns it */
    int status;
    const char *code;          /* NULL for a success: the row's body is the answer */
    const char *message;
    const char *detail_label;  /* what the row's detail is, appended as "(label detail)" */
};

static const struct outcome outcomes[] = {
    {"held", 201, NULL, NULL, NULL},
    {"cancelled", 200, NULL, NULL, NULL},
    {"charged", 200, NULL, NULL, NULL},
    {"paid", 201, NULL, NULL, NULL},
    {"created", 201, NULL, NULL, NULL},
    {"found", 200, NULL, NULL, NULL},
    {"updated", 200, NULL, NULL, NULL},

    {"starts_in_past", 400, "INVALID_REQUEST", "a schedule's startsAt is not in the future", "schedules index "},
    {"insufficient_balance", 402, "INSUFFICIENT_BALANCE", "the balance is less than the amount due", "amount due: "},
    {"token_missing", 401, "TOKEN_MISSING", "an Authorization: Bearer <queue token> header is required", NULL},
    {"token_invalid", 401, "TOKEN_INVALID", "the queue token is unknown, expired or already used", NULL},
    {"token_not_active", 403, "TOKEN_NOT_ACTIVE", "the queue token is still waiting in the queue", NULL},
    {"wrong_concert", 403, "TOKEN_WRONG_CONCERT", "the queue token was issued for another concert", NULL},
    {"concert_not_found", 404, "NOT_FOUND", "no such concert", NULL},
    {"schedule_not_found", 404, "NOT_FOUND", "no such schedule", NULL},
    {"seat_not_found", 404, "NOT_FOUND", "no such seat number in this schedule", NULL},
    {"reservation_not_found", 404, "NOT_FOUND", "no such reservation", NULL},
    {"seat_unavailable", 409, "SEAT_UNAVAILABLE", "a requested seat is held or sold", "seat numbers: "},
    {"hold_limit", 409, "HOLD_LIMIT", "at most " LIMIT_TEXT(SEATS_PER_USER_MAX) " seats per user and schedule", "already held or bought: "},
    {"already_paid", 409, "RESERVATION_NOT_PAYABLE", "the reservation is already paid", NULL},
    {"already_cancelled", 409, "RESERVATION_NOT_PAYABLE", "the reservation is cancelled", NULL},
    {"balance_limit", 409, "BALANCE_LIMIT", "the charge would push the balance over 1,000,000,000,000", NULL},
    {"sales_closed", 409, "SALES_CLOSED", "the show has started: it takes no more holds or payments", NULL},
    {"hold_expired", 410, "HOLD_EXPIRED", "the hold has run out", NULL},
    {"key_reused", 422, "IDEMPOTENCY_KEY_REUSED",
     "this Idempotency-Key was already used with a different request", NULL},
};

static const struct outcome *outcome_find(const char *word)
{
    if (!word)
        return NULL;
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
        if (strcmp(outcomes[i].word, word) == 0)
            return &outcomes[i];
    }
    return NULL;
}

/* The text of a column of the row, or NULL when absent or NULL. */
static const char *column(const PGresult *res, const char *name, int *len)
{
    int col = PQfnumber(res, name);

    if (col < 0 || PQgetisnull(res, 0, col))
        return NULL;
    if (len)
        *len = PQgetlength(res, 0, col);
    return PQgetvalue(res, 0, col);
}

const char *outcome_word(db_rc rc, const PGresult *res)
{
    if (rc != DB_OK || !res || PQntuples(res) != 1)
        return NULL;
    return column(res, "outcome", NULL);
}

int outcome_refused(const char *word)
{
    const struct outcome *o = outcome_find(word);

    return o && o->code;
}

static void refuse(struct request *r, const struct outcome *o, const char *detail)
{
    char *message;
    size_t size;

    if (!detail || !o->detail_label) {
        http_error(r, o->status, o->code, o->message);
        return;
    }
    size = strlen(o->message) + strlen(o->detail_label) + strlen(detail) + sizeof " ()";
    message = malloc(size);
    if (!message) {
        http_internal_error(r);
        return;
    }
    snprintf(message, size, "%s (%s%s)", o->message, o->detail_label, detail);
    http_error(r, o->status, o->code, message);
    free(message);
}

void outcome_answer(struct request *r, const char *word, const char *detail)
{
    const struct outcome *o = outcome_find(word);

    if (!o || !o->code) {
        log_error("outcome_answer: '%s' is no refusal", word ? word : "(null)");
        http_internal_error(r);
        return;
    }
    refuse(r, o, detail);
}

void outcome_reply(struct request *r, db_rc rc, const PGresult *res)
{
    const struct outcome *o;
    const char *word, *json;
    int len = 0;

    if (rc != DB_OK) {
        outcome_db_failure(r, rc);
        return;
    }
    word = outcome_word(rc, res);
    if (!word) {
        log_error("a request function returned no outcome");
        http_internal_error(r);
        return;
    }
    o = outcome_find(word);
    if (!o) {
        log_error("unknown outcome '%s'", word);
        http_internal_error(r);
        return;
    }
    if (o->code) {
        refuse(r, o, column(res, "detail", NULL));
        return;
    }
    json = column(res, "body", &len);
    if (!json) {
        log_error("outcome '%s' came without its answer JSON", word);
        http_internal_error(r);
        return;
    }
    outcome_send_json(r, o->status, json, (size_t)len);
}

void outcome_db_failure(struct request *r, db_rc rc)
{
    switch (rc) {
    case DB_UNAVAILABLE:
    case DB_UNKNOWN:
        http_unavailable(r, "PostgreSQL");
        break;
    case DB_FAILED:
    case DB_OK:   /* a caller's bug: there was nothing to fail */
    default:
        http_internal_error(r);
        break;
    }
}

void outcome_send_json(struct request *r, int status, const char *json, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    int in_string = 0;

    if (!out) {
        http_internal_error(r);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        char c = json[i];

        if (in_string) {
            out[n++] = c;
            if (c == '\\' && i + 1 < len)
                out[n++] = json[++i];
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
            out[n++] = c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            out[n++] = c;
        }
    }
    http_json_text(r, status, out, n);
    free(out);
}
