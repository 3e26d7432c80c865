/* outcome.c - the outcome table (see outcome.h); answer.c turns its rows
 * into answers. */
#include "outcome.h"
#include "contract_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const struct outcome *outcome_find(const char *word)
{
    if (!word)
        return NULL;
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
        if (strcmp(outcomes[i].word, word) == 0)
            return &outcomes[i];
    }
    return NULL;
}

const char *outcome_column(const PGresult *res, const char *name, int *len)
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
    return outcome_column(res, "outcome", NULL);
}

int outcome_refused(const char *word)
{
    const struct outcome *o = outcome_find(word);

    return o && o->code;
}
