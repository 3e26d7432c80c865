/* 51-idempotency: an Idempotency-Key answers one request, and only that one.
 *
 * The story, for charges: a keyed charge of 1,000 is 200. The same key with
 * 2,000 is 422 IDEMPOTENCY_KEY_REUSED and charges nothing; the same key with
 * the same amount, even written with other spacing, replays the first answer
 * byte for byte. PostgreSQL keeps the canonical request with the key. A
 * refused charge keeps no key, so the key can then serve another amount.
 * Racing one key with two different amounts charges exactly one of them:
 * every racer with that amount gets its answer, every other 422.
 *
 * And for payments: A pays hold 1 with key K (201; the token ends). Retrying
 * K on the ended token for hold 2 is 422 and hold 2 stays HELD, unpaid; for
 * hold 1 it replays the 201 byte for byte; a malformed body is 400. When the
 * token outlived the payment (the responder died before ending it: the
 * payment is made here in PostgreSQL directly), K for another hold through
 * the live token is 422 too, and K for the paid hold replays it and ends
 * the token. Nothing is ever debited twice. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <unistd.h>

#define RACERS 10

static char racer_user[37];
static char racer_key[48];

/* Racer i charges 100 (even i) or 200 (odd i) with one key; returns the
 * balance answered, or -status. */
static int charge_racer(int i, void *arg)
{
    struct t_resp r;
    long st = bk_charge(racer_user, i % 2 ? 200 : 100, racer_key, &r);
    int out = st == 200 ? (int)t_json_int(r.json, "balance") : -(int)st;

    (void)arg;
    t_resp_free(&r);
    return out;
}

static int64_t ledger_rows(const char *user)
{
    return bk_user_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid", user);
}

static int64_t payments_of(int64_t reservation_id)
{
    return bk_int("SELECT count(*) FROM payments WHERE reservation_id = $1", reservation_id);
}

int main(void)
{
    struct t_resp r, first;
    char user[37], capped[37], userA[37], userB[37], key[48], path[128], fingerprint[128];
    char *tokA, *tokB;
    int64_t sched[1], hold1, hold2, hold3, hold4;
    int results[RACERS];

    t_init();
    t_user(user);
    t_user(capped);

    /* --- charges ---------------------------------------------------------- */
    snprintf(key, sizeof key, "charge-%d", (int)getpid());
    bk_charge(user, 1000, key, &first);
    ok(first.status == 200 && t_json_int(first.json, "balance") == 1000,
       "a keyed charge of 1,000: 200 (%s)", first.body ? first.body : "");
    bk_charge(user, 2000, key, &r);
    ok(r.status == 422 && strcmp(t_error_code(&r), "IDEMPOTENCY_KEY_REUSED") == 0,
       "the same key for 2,000: 422 IDEMPOTENCY_KEY_REUSED (%ld %s)", r.status, r.body ? r.body : "");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "as a JSON error");
    t_resp_free(&r);
    is_int(bk_balance(user), 1000, "nothing more was charged");
    is_int(ledger_rows(user), 1, "one ledger row");
    bk_charge(user, 1000, key, &r);
    ok(r.status == 200 && r.body && first.body && strcmp(r.body, first.body) == 0,
       "the same key and amount: the first answer, byte for byte");
    t_resp_free(&r);
    {
        const char *headers[3];
        char idem[80], auth[128];
        snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", user);
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", key);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_session(user));
        headers[0] = idem;
        headers[1] = auth;
        headers[2] = NULL;
        t_request("POST", path, headers, " { \"amount\" :\n1000 } ", &r);
        ok(r.status == 200 && r.body && first.body && strcmp(r.body, first.body) == 0,
           "the same request written with other spacing replays too (%ld)", r.status);
        t_resp_free(&r);
    }
    t_resp_free(&first);
    is_int(bk_balance(user), 1000, "still charged once");
    snprintf(fingerprint, sizeof fingerprint, "charge user=%s amount=1000", user);
    {
        const char *p[] = {user, key};
        char *v = t_pg_value("SELECT fingerprint FROM idempotency_keys WHERE scope = 'charge' AND owner = $1"
                             " AND key = $2", 2, p);
        is(v, fingerprint, "the key keeps the canonical request");
        free(v);
    }

    {
        const char *p[] = {capped};
        t_pg_value("UPDATE users SET balance = 999999999000 WHERE id = $1::uuid", 1, p);
        t_pg_value("INSERT INTO balance_ledger (user_id, delta, kind) VALUES ($1::uuid, 999999999000, 'CHARGE')", 1, p);
    }
    bk_charge(capped, 5000, "capped-key", &r);
    ok(r.status == 409, "a charge past the cap is refused (409)");
    t_resp_free(&r);
    bk_charge(capped, 1000, "capped-key", &r);
    ok(r.status == 200 && t_json_int(r.json, "balance") == 1000000000000,
       "the refused request kept no key: the same key serves another amount (%ld)", r.status);
    t_resp_free(&r);

    t_user(racer_user);
    snprintf(racer_key, sizeof racer_key, "race-%d", (int)getpid());
    ok(t_race(RACERS, charge_racer, NULL, results) == 0, "%d racers, one key, amounts 100 and 200", RACERS);
    {
        int64_t balance = bk_balance(racer_user);
        int winners = 0, reused = 0, other = 0;
        for (int i = 0; i < RACERS; i++) {
            if (results[i] == balance && balance == (i % 2 ? 200 : 100))
                winners++;
            else if (results[i] == -422)
                reused++;
            else
                other++;
        }
        ok(balance == 100 || balance == 200, "one of the amounts was charged (%" PRId64 ")", balance);
        ok(winners == RACERS / 2 && reused == RACERS / 2 && other == 0,
           "its racers got its answer, the others 422 (%d, %d, %d)", winners, reused, other);
        is_int(ledger_rows(racer_user), 1, "one ledger row");
    }

    /* --- payments --------------------------------------------------------- */
    bk_two_active(sched, userA, &tokA, userB, &tokB);
    {
        int one[] = {1}, two[] = {2}, three[] = {3}, four[] = {4};
        hold1 = bk_hold_id(tokA, sched[0], one, 1);
        hold2 = bk_hold_id(tokA, sched[0], two, 1);
        hold3 = bk_hold_id(tokB, sched[0], three, 1);
        hold4 = bk_hold_id(tokB, sched[0], four, 1);
    }
    ok(hold1 > 0 && hold2 > 0 && hold3 > 0 && hold4 > 0, "A holds seats 1 and 2, B seats 3 and 4 (one each)");
    bk_charge(userA, 10000, NULL, NULL);
    bk_charge(userB, 10000, NULL, NULL);

    snprintf(key, sizeof key, "pay-%d", (int)getpid());
    bk_pay(tokA, hold1, key, &first);
    ok(first.status == 201, "A pays hold 1 with a key: 201 (%s)", first.body ? first.body : "");
    bk_pay(tokA, hold2, key, &r);
    ok(r.status == 422 && strcmp(t_error_code(&r), "IDEMPOTENCY_KEY_REUSED") == 0,
       "the key again, for hold 2, on the ended token: 422 (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    bk_is(bk_status(hold2), "HELD", "hold 2 is still HELD");
    is_int(payments_of(hold2), 0, "and unpaid");
    bk_pay(tokA, hold1, key, &r);
    ok(r.status == 201 && r.body && first.body && strcmp(r.body, first.body) == 0,
       "the key for hold 1 replays the 201 byte for byte");
    t_resp_free(&r);
    t_resp_free(&first);
    bk_request("POST", "/api/v1/payments", tokA, key, "{\"reservationId\":", &r);
    ok(r.status == 400 && strcmp(t_error_code(&r), "INVALID_REQUEST") == 0,
       "the key with a malformed body: 400 (%ld)", r.status);
    t_resp_free(&r);
    is_int(bk_balance(userA), 9000, "A was debited once");

    /* B's payment of hold 3 commits but its token is never ended, nor Redis
     * told (the responder died right after the commit): PostgreSQL's one
     * transaction for a hold Redis keeps, with the hold's facts. */
    {
        char idtext[24], cid[24], sched_t[24], seats[64], amount[24], ends[24], created[24];
        char *rec = bk_hold_record(hold3);
        const char *p[] = {userB, cid, idtext, tokB, "pay-b", sched_t, seats, amount, ends, created};
        char *v = NULL;

        snprintf(idtext, sizeof idtext, "%" PRId64, hold3);
        snprintf(cid, sizeof cid, "%" PRId64, hold3 / BK_REDIS_IDS);
        if (rec) {
            char list[48];

            bk_record_field(rec, 1, sched_t, sizeof sched_t);
            bk_record_field(rec, 2, list, sizeof list);
            snprintf(seats, sizeof seats, "{%s}", list);
            bk_record_field(rec, 3, amount, sizeof amount);
            bk_record_field(rec, 4, ends, sizeof ends);
            bk_record_field(rec, 7, created, sizeof created);
            v = t_pg_value("SELECT outcome FROM booking_pay_hold($1::uuid, $2::bigint, $3::bigint, $4, $5, $6::bigint,"
                           " $7::integer[], $8::bigint, $9::bigint, $10::bigint)", 10, p);
        }
        is(v, "paid", "B's payment of hold 3 commits; the answer and the token's end are lost");
        free(v);
        free(rec);
    }
    bk_pay(tokB, hold4, "pay-b", &r);
    ok(r.status == 422 && strcmp(t_error_code(&r), "IDEMPOTENCY_KEY_REUSED") == 0,
       "B's key for hold 4 through the live token: 422 (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    is_int(payments_of(hold4), 0, "hold 4 is unpaid");
    t_get("/api/v1/queue/status", tokB, &r);
    is(t_json_str(r.json, "status"), "ACTIVE", "B's token is still ACTIVE");
    t_resp_free(&r);
    bk_pay(tokB, hold3, "pay-b", &r);
    ok(r.status == 201 && t_json_int(r.json, "reservationId") == hold3,
       "B's key for hold 3: the stored 201 (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    t_get("/api/v1/queue/status", tokB, &r);
    is_int(r.status, 401, "and now B's token has ended");
    t_resp_free(&r);
    is_int(bk_balance(userB), 9000, "B was debited once");
    is_int(payments_of(hold3), 1, "one payment of hold 3");

    free(tokA);
    free(tokB);
    return done_testing();
}
