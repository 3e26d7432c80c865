/* balance.c - the balance responder: read a user's balance and charge it.
 *
 * A charge is one call of booking_charge (sql/functions.sql): the balance
 * change, its ledger row (so the balance always equals the sum of the
 * ledger) and the Idempotency-Key record commit together or not at all, in
 * one round trip. A concurrent repeat of a keyed charge waits on the key's
 * row and then replays the first answer, so a key charges at most once; a
 * key first used for another amount is refused (422) and charges nothing. */
#include "app.h"
#include "answer.h"
#include "booking.h"
#include "db.h"
#include "guard.h"
#include "session.h"

#include <inttypes.h>
#include <stdio.h>

#define CHARGE_MAX INT64_C(1000000000)

/* GET /api/v1/users/{userId}/balance (session): 0 for a user never charged. */
static void balance(struct request *r)
{
    static const char sql[] = "SELECT balance_json($1::uuid)";

    answer_user_read(r, sql);
}

/* POST /api/v1/users/{userId}/balance/charge {"amount"} [Idempotency-Key]. */
static void charge(struct request *r)
{
    static const char *const fields[] = {"amount", NULL};
    static const char sql[] = "SELECT * FROM booking_charge($1::uuid, $2::bigint, $3)";
    struct json_object *body;
    char user[37];
    const char *key;
    int64_t amount;
    char amount_text[24];
    const char *params[3];
    PGresult *res;
    db_rc rc;

    if (guard_session_user(r, 0, user) < 0 || http_idempotency_key(r, &key) < 0)
        return;
    body = http_body_object(r);
    if (!body)
        return;
    if (http_only_fields(r, body, fields) < 0 ||
        http_get_int(r, body, "amount", 1, 1, CHARGE_MAX, &amount) < 0) {
        json_object_put(body);
        return;
    }
    json_object_put(body);
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount);
    params[0] = user;
    params[1] = amount_text;
    params[2] = key;   /* NULL travels as SQL NULL: no key */
    rc = db_query(sql, 3, params, &res);
    answer_outcome(r, rc, res);
    PQclear(res);
}

static const struct route routes[] = {
    {"GET", "/api/v1/users/{}/balance", balance},
    {"POST", "/api/v1/users/{}/balance/charge", charge},
};

int main(void)
{
    return app_run("concert-balance", routes, sizeof routes / sizeof routes[0]);
}
