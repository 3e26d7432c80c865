/* 50-balance: users read and charge their balance, exactly once per key.
 *
 * The story: a user (made with a session, as sign-up and login leave one)
 * reads 0 when never charged; a charge answers the new balance, with one
 * ledger row, so the balance always equals the sum of the ledger. Each
 * request carries the user's own session (someone else's is t/15's story). Every malformed charge is a
 * 400 that changes nothing, and a charge that would pass 1,000,000,000,000
 * is 409 BALANCE_LIMIT (the cap itself can be reached). With an
 * Idempotency-Key a repeat replays the first answer byte for byte and
 * charges nothing; the same key with another amount is 422 (t/51 tells
 * that story); keys are per user; an error is not remembered. Under load:
 * 100 different charges at once sum exactly, and 20 concurrent repeats of
 * one keyed charge charge once. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <unistd.h>

#define PARALLEL 100
#define REPEATS 20

static char racer_user[37];
static char racer_key[40];

/* Charges i + 1 won. */
static int charge_distinct(int i, void *arg)
{
    (void)arg;
    return (int)bk_charge(racer_user, i + 1, NULL, NULL);
}

/* The same keyed charge; returns the balance answered, or -status. */
static int charge_same_key(int i, void *arg)
{
    struct t_resp r;
    long st = bk_charge(racer_user, 777, racer_key, &r);
    int out = st == 200 ? (int)t_json_int(r.json, "balance") : -(int)st;

    (void)i;
    (void)arg;
    t_resp_free(&r);
    return out;
}

static int64_t ledger_sum(const char *user)
{
    return bk_user_int("SELECT coalesce(sum(delta), 0) FROM balance_ledger WHERE user_id = $1::uuid", user);
}

static int64_t ledger_rows(const char *user)
{
    return bk_user_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid", user);
}

/* The session the malformed charges are sent with: a good one, so that it
 * is the request that is refused. */
static char charger[128];

/* Posts a raw charge (body and headers as given) and expects a 400. */
static void bad_charge(const char *user, const char *body, const char *header, const char *what)
{
    char path[128];
    const char *headers[] = {charger, header, NULL};
    struct t_resp r;

    snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", user);
    t_request("POST", path, headers, body, &r);
    ok(r.status == 400 && strcmp(t_error_code(&r), "INVALID_REQUEST") == 0, "400 INVALID_REQUEST: %s (%ld %.120s)",
       what, r.status, r.body ? r.body : "");
    t_resp_free(&r);
}

int main(void)
{
    struct t_resp r, first;
    char user[37], other[37], capped[37], path[160], key[40], long_key[80];
    int results[PARALLEL];
    int64_t sum = 0;

    t_init();
    t_user(user);
    t_user(other);
    t_user(capped);
    snprintf(charger, sizeof charger, "Authorization: Bearer %s", t_session(user));

    /* Never charged. */
    snprintf(path, sizeof path, "/api/v1/users/%s/balance", user);
    ok(t_get_as(user, path, &r) == 0 && r.status == 200, "a new user's balance: 200");
    is(t_json_str(r.json, "userId"), user, "userId echoed");
    is_int(t_json_int(r.json, "balance"), 0, "balance 0");
    t_resp_free(&r);
    is_int(ledger_rows(user), 0, "reading writes no ledger row");

    /* The first charge. */
    bk_charge(user, 50000, NULL, &r);
    ok(r.status == 200, "charge 50000: 200 (%ld %s)", r.status, r.body ? r.body : "");
    is(t_json_str(r.json, "userId"), user, "userId");
    is_int(t_json_int(r.json, "balance"), 50000, "balance 50000");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "JSON content type");
    t_resp_free(&r);
    is_int(bk_balance(user), 50000, "reads 50000");
    is_int(bk_user_int("SELECT balance FROM users WHERE id = $1::uuid", user), 50000, "the user's row says 50000");
    is_int(ledger_sum(user), 50000, "the ledger sums to the balance");
    is_int(bk_user_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid AND kind = 'CHARGE'"
                       " AND delta = 50000", user), 1, "one CHARGE ledger row");

    /* Malformed charges change nothing. */
    bad_charge(user, "{\"amount\":0}", NULL, "amount 0");
    bad_charge(user, "{\"amount\":-5}", NULL, "negative amount");
    bad_charge(user, "{\"amount\":1000000001}", NULL, "amount over 1,000,000,000");
    bad_charge(user, "{\"amount\":\"100\"}", NULL, "amount as a string");
    bad_charge(user, "{\"amount\":1.5}", NULL, "fractional amount");
    bad_charge(user, "{\"amount\":1e3}", NULL, "amount in exponent form");
    bad_charge(user, "{\"amount\":null}", NULL, "null amount");
    bad_charge(user, "{}", NULL, "no amount");
    bad_charge(user, "{\"amount\":100,\"currency\":\"KRW\"}", NULL, "unknown field");
    bad_charge(user, "{\"amount\":100", NULL, "malformed JSON");
    bad_charge(user, "[100]", NULL, "a JSON array body");
    bad_charge(user, NULL, NULL, "no body");
    bad_charge(user, "{\"amount\":100}", "Idempotency-Key;", "empty Idempotency-Key");
    memset(long_key, 'k', 65);
    long_key[65] = '\0';
    {
        char header[120];
        snprintf(header, sizeof header, "Idempotency-Key: %s", long_key);
        bad_charge(user, "{\"amount\":100}", header, "65-character Idempotency-Key");
    }
    bad_charge(user, "{\"amount\":100}", "Idempotency-Key: caf\xc3\xa9", "non-ASCII Idempotency-Key");
    bad_charge("NOT-A-UUID", "{\"amount\":100}", NULL, "bad userId");
    bad_charge("0F8FAD5B-D9CB-469F-A165-70867728950E", "{\"amount\":100}", NULL, "upper-case userId");
    ok(t_answers_error("GET", "/api/v1/users/not-a-uuid/balance", t_session(user), NULL, 400, "INVALID_REQUEST"),
       "GET with a bad userId: 400");
    is_int(bk_balance(user), 50000, "refused charges changed nothing");
    is_int(ledger_rows(user), 1, "and wrote no ledger row");

    snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", user);
    t_get_as(user, path, &r);
    ok(r.status == 405 && strcmp(t_error_code(&r), "METHOD_NOT_ALLOWED") == 0, "GET .../charge: 405 (%ld)", r.status);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/users/%s/balance", user);
    t_post_as(user, path, "{\"amount\":1}", &r);
    ok(r.status == 405, "POST .../balance: 405 (%ld)", r.status);
    t_resp_free(&r);

    /* The cap: 1,000,000,000,000. */
    {
        const char *p[] = {capped};
        t_pg_value("UPDATE users SET balance = 999999500000 WHERE id = $1::uuid", 1, p);
        t_pg_value("INSERT INTO balance_ledger (user_id, delta, kind) VALUES ($1::uuid, 999999500000, 'CHARGE')", 1, p);
    }
    ok(bk_charge(capped, 1000000000, "cap-1", &r) == 409 && strcmp(t_error_code(&r), "BALANCE_LIMIT") == 0,
       "a charge past the cap: 409 BALANCE_LIMIT");
    t_resp_free(&r);
    is_int(bk_balance(capped), 999999500000, "the balance did not change");
    is_int(bk_user_int("SELECT count(*) FROM idempotency_keys WHERE owner = $1 AND key = 'cap-1'", capped), 0,
           "a refused keyed charge leaves no key behind");
    bk_charge(capped, 500000, NULL, &r);
    ok(r.status == 200 && t_json_int(r.json, "balance") == 1000000000000,
       "a charge up to the cap itself: 200 (%s)", r.body ? r.body : "");
    t_resp_free(&r);
    ok(bk_charge(capped, 1, NULL, &r) == 409 && strcmp(t_error_code(&r), "BALANCE_LIMIT") == 0, "one won more: 409");
    t_resp_free(&r);
    is_int(ledger_sum(capped), 1000000000000, "the ledger still sums to the balance");

    /* Idempotency-Key. */
    snprintf(key, sizeof key, "charge-%d", (int)getpid());
    ok(bk_charge(user, 1000, key, &first) == 200 && t_json_int(first.json, "balance") == 51000, "keyed charge: 200, 51000");
    bk_charge(user, 1000, key, &r);
    ok(r.status == 200 && r.body && first.body && strcmp(r.body, first.body) == 0,
       "the repeat replays the first answer byte for byte (%s)", r.body ? r.body : "");
    t_resp_free(&r);
    bk_charge(user, 9999, key, &r);
    ok(r.status == 422 && strcmp(t_error_code(&r), "IDEMPOTENCY_KEY_REUSED") == 0,
       "a repeat with another amount: 422 IDEMPOTENCY_KEY_REUSED (%ld)", r.status);
    t_resp_free(&r);
    t_resp_free(&first);
    is_int(bk_balance(user), 51000, "charged once");
    is_int(ledger_rows(user), 2, "one ledger row for the key");
    ok(bk_charge(other, 300, key, &r) == 200 && t_json_int(r.json, "balance") == 300, "the same key for another user charges that user");
    t_resp_free(&r);
    ok(bk_charge(user, 1000, "another-key", &r) == 200 && t_json_int(r.json, "balance") == 52000, "a new key charges again");
    t_resp_free(&r);
    is_int(ledger_sum(user), bk_balance(user), "balance == sum(ledger)");

    /* 100 different charges at once. */
    t_user(racer_user);
    ok(t_race(PARALLEL, charge_distinct, NULL, results) == 0, "%d parallel charges ran", PARALLEL);
    {
        int good = 0;
        for (int i = 0; i < PARALLEL; i++) {
            good += results[i] == 200;
            sum += i + 1;
        }
        is_int(good, PARALLEL, "every one 200");
    }
    is_int(bk_balance(racer_user), sum, "the balance is their exact sum (%" PRId64 ")", sum);
    is_int(ledger_sum(racer_user), sum, "balance == sum(ledger)");
    is_int(ledger_rows(racer_user), PARALLEL, "one ledger row each");

    /* 20 concurrent repeats of one keyed charge. */
    t_user(racer_user);
    snprintf(racer_key, sizeof racer_key, "same-%d", (int)getpid());
    ok(t_race(REPEATS, charge_same_key, NULL, results) == 0, "%d concurrent repeats ran", REPEATS);
    {
        int same = 0;
        for (int i = 0; i < REPEATS; i++)
            same += results[i] == 777;
        is_int(same, REPEATS, "every repeat answered 200 with the first balance (777)");
    }
    is_int(bk_balance(racer_user), 777, "charged once");
    is_int(ledger_rows(racer_user), 1, "one ledger row");
    return done_testing();
}
