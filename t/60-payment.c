/* 60-payment: a user pays for a hold, once, and the queue moves on.
 *
 * The story: A holds two seats (60,000 won). Paying with no balance, then
 * with too little, is 402 INSUFFICIENT_BALANCE and changes nothing. Every
 * other refusal (no token, unknown token, waiting token, another concert's
 * token, somebody else's or an unknown reservation, malformed bodies and
 * keys) has its contract code and changes nothing. With enough balance the
 * payment is 201: in PostgreSQL the reservation is CONFIRMED, its seats
 * SOLD, one payment row and one PAYMENT ledger row exist, and the balance
 * still equals the ledger's sum. A's token has ended (401 afterwards), and
 * on a concert with one slot the next waiting user is ACTIVE at once. A
 * retry with the same Idempotency-Key replays the 201 although the token has
 * ended; without the key it is 401. A new token cannot pay or cancel the
 * paid hold again (409), nor pay a cancelled one (409). The sold seat is
 * refused to others even when its Redis lock is gone; the seat map then
 * reads it (and its sibling of the same payment) SOLD, no other Redis copy
 * of "sold" is kept, and the next requests for either seat are turned away
 * in Redis while PostgreSQL's seat rows are locked by another transaction. Under load: 20 parallel payments of one hold give exactly
 * one 201 and one debit, and 10 concurrent repeats with one key all get
 * the same 201. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAYERS 20
#define REPEATS 10

static char *race_token;
static int64_t race_reservation;
static char race_key[48];

/* Returns the status. */
static int pay_plain(int i, void *arg)
{
    (void)i;
    (void)arg;
    return (int)bk_pay(race_token, race_reservation, NULL, NULL);
}

/* Returns the paymentId of a 201, else -status. */
static int pay_keyed(int i, void *arg)
{
    struct t_resp r;
    long st = bk_pay(race_token, race_reservation, race_key, &r);
    int out = st == 201 ? (int)t_json_int(r.json, "paymentId") : -(int)st;

    (void)i;
    (void)arg;
    t_resp_free(&r);
    return out;
}

/* Pays with a raw body and expects status and code. */
static void refused(const char *token, const char *key, const char *body, long status, const char *code,
                    const char *what)
{
    struct t_resp r;

    bk_request("POST", "/api/v1/payments", token, key, body, &r);
    ok(r.status == status && strcmp(t_error_code(&r), code) == 0, "%s: %ld %s (%ld %.160s)", what, status, code,
       r.status, r.body ? r.body : "");
    t_resp_free(&r);
}

static int64_t payments_of(int64_t reservation_id)
{
    return bk_int("SELECT count(*) FROM payments WHERE reservation_id = $1", reservation_id);
}

static long queue_status(const char *token, struct t_resp *r)
{
    t_get("/api/v1/queue/status", token, r);
    return r->status;
}

/* The letter (A, H or S) of seat_no in the seat map key, when the map is
 * complete; 0 otherwise. */
static char map_letter(const char *map, int seat_no)
{
    char field[16];
    const char *get[] = {"HMGET", map, "_ok", field};
    struct redisReply *reply;
    char letter = 0;
    const char *comma;

    snprintf(field, sizeof field, "%d", seat_no);
    reply = t_redis(4, get);
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING &&
        (comma = strchr(reply->element[1]->str, ',')) != NULL)
        letter = comma[1];
    if (reply)
        freeReplyObject(reply);
    return letter;
}

/* A transaction of our own holding a schedule's seat rows, as a hold's
 * function locks them: a hold that reaches PostgreSQL meanwhile waits out
 * its statement timeout (seconds) instead of answering at once. */
static PGconn *row_locker;

static int seat_row_lock(int64_t schedule_id)
{
    char id[24];
    const char *params[] = {id};
    PGresult *res;
    int rc;

    snprintf(id, sizeof id, "%" PRId64, schedule_id);
    row_locker = PQconnectdb(getenv("CONCERT_PG"));
    if (PQstatus(row_locker) != CONNECTION_OK)
        return -1;
    res = PQexec(row_locker, "BEGIN");
    PQclear(res);
    res = PQexecParams(row_locker, "SELECT seat_no FROM seats WHERE schedule_id = $1::bigint FOR UPDATE", 1, NULL,
                       params, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

static void seat_row_unlock(void)
{
    PQclear(PQexec(row_locker, "ROLLBACK"));
    PQfinish(row_locker);
    row_locker = NULL;
}

int main(void)
{
    struct t_resp r, first;
    int64_t sched[1], osched[1], ssched[1], concert, other, small, res_a, res_c, res_p;
    char userA[37], userB[37], userW[37], userP[37], userR[37], userS[37], body[128], key[48], path[96];
    char *tokA, *tokA2, *tokB, *tokAO, *tokP, *tokW;
    int results[PAYERS];

    t_init();
    concert = t_create_concert_or_bail(50, 600, 600, 300, 1, 10, 30000, sched);
    other = t_create_concert_or_bail(50, 600, 600, 300, 1, 5, 500, osched);
    small = t_create_concert_or_bail(1, 600, 600, 300, 1, 5, 1000, ssched);
    t_user(userR);
    t_user(userS);
    tokA = t_active_user(concert, userA);
    tokB = t_active_user(concert, userB);
    tokAO = t_active_token(other, userA);
    tokP = t_active_user(small, userP);
    tokW = t_queued_user(small, userW);
    if (!tokA || !tokB || !tokAO || !tokP || !tokW)
        bail_out("cannot get queue tokens (queue API)");

    {
        int seats[] = {1, 2};
        res_a = bk_hold_id(tokA, sched[0], seats, 2);
    }
    ok(res_a > 0, "A holds seats 1 and 2 (60,000 won)");

    /* Not enough money: nothing changes. */
    ok(bk_pay(tokA, res_a, NULL, &r) == 402 && strcmp(t_error_code(&r), "INSUFFICIENT_BALANCE") == 0,
       "paying with no balance at all: 402 INSUFFICIENT_BALANCE");
    t_resp_free(&r);
    is_int(bk_user_int("SELECT balance FROM users WHERE id = $1::uuid", userA), 0, "the user's balance is still 0");
    bk_charge(userA, 50000, NULL, NULL);
    snprintf(key, sizeof key, "short-%d", (int)getpid());
    ok(bk_pay(tokA, res_a, key, &r) == 402 && strcmp(t_error_code(&r), "INSUFFICIENT_BALANCE") == 0,
       "paying 60,000 with 50,000: 402");
    t_resp_free(&r);
    is_int(bk_balance(userA), 50000, "the balance is untouched");
    bk_is(bk_status(res_a), "HELD", "the reservation is still HELD");
    ok(bk_seat_holder(sched[0], 1) == res_a && bk_seat_holder(sched[0], 2) == res_a, "its seats still HELD by it");
    is_int(payments_of(res_a), 0, "no payment row");
    is_int(bk_user_int("SELECT count(*) FROM idempotency_keys WHERE key = $1 AND scope = 'payment'", key), 0,
           "a refused payment keeps no Idempotency-Key");

    /* Other refusals. */
    snprintf(body, sizeof body, "{\"reservationId\":%" PRId64 "}", res_a);
    refused(NULL, NULL, body, 401, "TOKEN_MISSING", "no token");
    refused("1.0123456789abcdef0123456789abcdef", NULL, body, 401, "TOKEN_INVALID", "unknown token");
    refused(tokW, NULL, body, 403, "TOKEN_NOT_ACTIVE", "a waiting token");
    refused(tokB, NULL, body, 404, "NOT_FOUND", "B paying A's reservation");
    refused(tokAO, NULL, body, 403, "TOKEN_WRONG_CONCERT", "A's token of another concert");
    refused(tokA, NULL, "{\"reservationId\":999999999}", 404, "NOT_FOUND", "unknown reservation");
    refused(tokA, NULL, "{\"reservationId\":0}", 400, "INVALID_REQUEST", "reservationId 0");
    refused(tokA, NULL, "{\"reservationId\":\"1\"}", 400, "INVALID_REQUEST", "reservationId as a string");
    refused(tokA, NULL, "{}", 400, "INVALID_REQUEST", "no reservationId");
    snprintf(body, sizeof body, "{\"reservationId\":%" PRId64 ",\"amount\":1}", res_a);
    refused(tokA, NULL, body, 400, "INVALID_REQUEST", "unknown field");
    refused(tokA, NULL, "{\"reservationId\":", 400, "INVALID_REQUEST", "malformed JSON");
    snprintf(body, sizeof body, "{\"reservationId\":%" PRId64 "}", res_a);
    refused(tokA, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", body, 400, "INVALID_REQUEST",
            "a 65-character Idempotency-Key");
    ok(t_answers_error("GET", "/api/v1/payments", tokA, NULL, 405, "METHOD_NOT_ALLOWED"), "GET /payments: 405");
    bk_is(bk_status(res_a), "HELD", "still HELD after all that");
    is_int(bk_balance(userA), 50000, "and the balance untouched");
    t_get("/api/v1/queue/status", tokA, &r);
    is(t_json_str(r.json, "status"), "ACTIVE", "A's token is still ACTIVE");
    t_resp_free(&r);

    /* The payment. */
    bk_charge(userA, 20000, NULL, NULL);
    snprintf(key, sizeof key, "pay-%d", (int)getpid());
    bk_pay(tokA, res_a, key, &first);
    ok(first.status == 201, "A pays: 201 (%ld %s)", first.status, first.body ? first.body : "");
    ok(t_json_int(first.json, "paymentId") > 0, "paymentId");
    is_int(t_json_int(first.json, "reservationId"), res_a, "reservationId");
    is(t_json_str(first.json, "userId"), userA, "userId");
    is_int(t_json_int(first.json, "amount"), 60000, "amount");
    is(t_json_str(first.json, "status"), "PAID", "status PAID");
    ok(t_json_str(first.json, "paidAt") && strlen(t_json_str(first.json, "paidAt")) == 20, "paidAt");
    bk_is(bk_raw("SELECT status FROM reservations WHERE id = $1", res_a), "CONFIRMED", "reservation CONFIRMED");
    ok(bk_int("SELECT count(*) FROM reservations WHERE id = $1 AND paid_at IS NOT NULL", res_a) == 1, "paid_at set");
    is_int(bk_int("SELECT count(*) FROM seats WHERE reservation_id = $1 AND status = 'SOLD' AND held_until IS NULL", res_a),
           2, "both seats SOLD");
    is_int(payments_of(res_a), 1, "one payment row");
    is_int(bk_balance(userA), 10000, "balance debited: 10,000 left");
    is_int(bk_user_int("SELECT coalesce(sum(delta), 0) FROM balance_ledger WHERE user_id = $1::uuid", userA), 10000,
           "balance == sum(ledger)");
    is_int(bk_int("SELECT count(*) FROM balance_ledger l JOIN payments p ON p.id = l.payment_id"
                  " WHERE p.reservation_id = $1 AND l.kind = 'PAYMENT' AND l.delta = -60000", res_a), 1,
           "one PAYMENT ledger row naming the payment");
    ok(queue_status(tokA, &r) == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0, "A's token has ended: 401");
    t_resp_free(&r);
    {
        int three[] = {3};
        ok(bk_hold(tokA, sched[0], three, 1, &r) == 401, "the ended token cannot hold any more");
        t_resp_free(&r);
    }

    /* Replays. */
    bk_pay(tokA, res_a, key, &r);
    ok(r.status == 201 && r.body && first.body && strcmp(r.body, first.body) == 0,
       "a retry with the same key replays the 201 byte for byte, token ended or not (%ld)", r.status);
    t_resp_free(&r);
    ok(bk_pay(tokA, res_a, NULL, &r) == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0,
       "without the key the ended token is 401");
    t_resp_free(&r);
    ok(bk_pay(tokA, res_a, "another-key", &r) == 401, "with another key too");
    t_resp_free(&r);
    is_int(payments_of(res_a), 1, "still one payment");
    is_int(bk_balance(userA), 10000, "still one debit");
    t_resp_free(&first);

    /* A new token: the paid hold cannot be paid or cancelled again. */
    tokA2 = t_active_token(concert, userA);
    ok(tokA2 != NULL, "A gets a new token");
    ok(bk_pay(tokA2, res_a, key, &r) == 409 && strcmp(t_error_code(&r), "RESERVATION_NOT_PAYABLE") == 0,
       "paying it again (same key, new token): 409 RESERVATION_NOT_PAYABLE");
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, res_a);
    ok(t_answers_error("DELETE", path, tokA2, NULL, 409, "RESERVATION_NOT_PAYABLE"), "cancelling a paid hold: 409");
    {
        int three[] = {3};
        int64_t res_c_id = bk_hold_id(tokA2, sched[0], three, 1);
        res_c = res_c_id;
        bk_cancel(tokA2, res_c, NULL);
        ok(bk_pay(tokA2, res_c, NULL, &r) == 409 && strcmp(t_error_code(&r), "RESERVATION_NOT_PAYABLE") == 0,
           "paying a cancelled hold: 409 RESERVATION_NOT_PAYABLE");
        t_resp_free(&r);
        is_int(bk_balance(userA), 10000, "no debit");
    }

    /* The sold seat. */
    {
        int one[] = {1}, two[] = {2};
        char k1[96], k2[96], sold[96], map[96];
        const char *del[] = {"DEL", k1, k2};
        const char *sold_exists[] = {"EXISTS", sold};
        double t0;
        long st;

        snprintf(k1, sizeof k1, "{c:%" PRId64 "}:seat:%" PRId64 ":1", concert, sched[0]);
        snprintf(k2, sizeof k2, "{c:%" PRId64 "}:seat:%" PRId64 ":2", concert, sched[0]);
        snprintf(sold, sizeof sold, "{c:%" PRId64 "}:sold:%" PRId64, concert, sched[0]);
        snprintf(map, sizeof map, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, sched[0]);
        ok(bk_hold(tokB, sched[0], one, 1, &r) == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0,
           "B asking for the sold seat: 409");
        t_resp_free(&r);
        t_redis_cmd(3, del);
        ok(bk_hold(tokB, sched[0], one, 1, &r) == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0,
           "with its Redis lock gone: still 409 (PostgreSQL)");
        t_resp_free(&r);

        step("Redis knows a sold seat from its seat map alone");
        ok(map_letter(map, 1) == 'S', "the seat map now reads seat 1 sold (loaded when PostgreSQL said so)");
        ok(map_letter(map, 2) == 'S', "and seat 2, sold in the same payment");
        is_int(t_redis_int(2, sold_exists), 0, "no separate sold set is kept");
        if (seat_row_lock(sched[0]) < 0)
            bail_out("cannot lock the seat rows in PostgreSQL");
        t0 = t_now_s();
        st = bk_hold(tokB, sched[0], one, 1, &r);
        ok(st == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0 && t_now_s() - t0 < 2,
           "with PostgreSQL's seat rows locked, the next request for seat 1 is turned away in Redis (%ld, %.2f s)",
           st, t_now_s() - t0);
        t_resp_free(&r);
        t0 = t_now_s();
        st = bk_hold(tokB, sched[0], two, 1, &r);
        ok(st == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0 && t_now_s() - t0 < 2,
           "and so is one for seat 2, which no refusal named (%ld, %.2f s)", st, t_now_s() - t0);
        t_resp_free(&r);
        seat_row_unlock();
        bk_is(bk_raw("SELECT status FROM seats WHERE schedule_id = $1 AND seat_no = 1", sched[0]), "SOLD", "seat 1 still SOLD");
    }

    /* One slot: paying admits the next waiting user. */
    ok(queue_status(tokW, &r) == 200 && t_json_str(r.json, "status") && strcmp(t_json_str(r.json, "status"), "WAITING") == 0,
       "W waits behind P");
    t_resp_free(&r);
    {
        int one[] = {1};
        res_p = bk_hold_id(tokP, ssched[0], one, 1);
    }
    bk_charge(userP, 1000, NULL, NULL);
    bk_pay(tokP, res_p, NULL, &r);
    ok(r.status == 201, "P pays: 201 (%s)", r.body ? r.body : "");
    t_resp_free(&r);
    queue_status(tokW, &r);
    ok(r.status == 200 && t_json_str(r.json, "status") && strcmp(t_json_str(r.json, "status"), "ACTIVE") == 0,
       "W is ACTIVE on its next poll (%s)", r.body ? r.body : "");
    t_resp_free(&r);

    /* 20 parallel payments of one hold. */
    race_token = t_active_token(concert, userR);
    {
        int seat[] = {5};
        race_reservation = bk_hold_id(race_token, sched[0], seat, 1);
    }
    bk_charge(userR, 100000, NULL, NULL);
    ok(t_race(PAYERS, pay_plain, NULL, results) == 0, "%d parallel payments ran", PAYERS);
    {
        struct t_race_tally paid;
        t_tally_race(results, PAYERS, 201, 409, 401, &paid);
        is_int(paid.won, 1, "exactly one 201");
        is_int(paid.refused, PAYERS - 1, "the others 409 (already paid) or 401 (token ended)");
        is_int(paid.other, 0, "no other answer");
    }
    is_int(payments_of(race_reservation), 1, "one payment row");
    is_int(bk_balance(userR), 70000, "one debit");
    is_int(bk_user_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid AND kind = 'PAYMENT'", userR), 1,
           "one PAYMENT ledger row");
    free(race_token);

    /* 10 concurrent repeats with one key. */
    race_token = t_active_token(concert, userS);
    {
        int seat[] = {6};
        race_reservation = bk_hold_id(race_token, sched[0], seat, 1);
    }
    bk_charge(userS, 100000, NULL, NULL);
    snprintf(race_key, sizeof race_key, "same-pay-%d", (int)getpid());
    ok(t_race(REPEATS, pay_keyed, NULL, results) == 0, "%d keyed repeats ran", REPEATS);
    {
        int same = 0;
        for (int i = 0; i < REPEATS; i++)
            same += results[i] > 0 && results[i] == results[0];
        is_int(same, REPEATS, "all got 201 with the same paymentId (%d)", results[0]);
    }
    is_int(payments_of(race_reservation), 1, "one payment row");
    is_int(bk_balance(userS), 70000, "one debit");
    free(race_token);

    free(tokA);
    free(tokA2);
    free(tokB);
    free(tokAO);
    free(tokP);
    free(tokW);
    return done_testing();
}
