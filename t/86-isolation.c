/* 86-isolation: deterministic interleavings of the booking functions of
 * sql/functions.sql, in the spirit of PostgreSQL's isolation tester.
 *
 * Each scenario drives the functions the responders call (booking_hold,
 * booking_pay, booking_charge, booking_expire) from several libpq
 * connections. A third connection takes row locks first, so the sessions
 * queue up behind it in a known order (each one is seen waiting on a lock in
 * pg_stat_activity before the next starts); then it lets go and the outcome
 * of that exact order is checked:
 *   1. payment and hold expiry at the same instant: expiry first - the
 *      payment waits, then finds the hold expired and nothing of it is left; payment first
 *      - cron skips the row the payment holds and the payment wins; never
 *      both, never a half state (seats, reservation, payment, ledger and
 *      balance agree).
 *   2. two overlapping holds ({1,2} and {2,3}): the first in line gets both
 *      its seats, the other seat_unavailable and nothing (seat 3 stays
 *      free); the same user twice (3 + 2 seats): the second is hold_limit.
 *   3. a charge and a payment of the same user: queued in either order on
 *      the user's row, both apply, each once; with the balance short of the
 *      price and the charge still in flight, the payment judges the committed
 *      balance: insufficient at once, nothing changed, and a retry after the charge
 *      pays.
 * No scenario may deadlock (every session ends with a result). */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static PGconn *mon;   /* watches the others in pg_stat_activity */

static PGconn *conn(void)
{
    PGconn *c = PQconnectdb(getenv("CONCERT_PG"));

    if (PQstatus(c) != CONNECTION_OK) {
        diag("postgres: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

/* Runs a statement to completion; the first column of the first row, or ""
 * (static buffer). */
static const char *run(PGconn *c, const char *sql, int n, const char *const *p)
{
    static char out[4][512];
    static int k;
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    char *o = out[k++ % 4];

    o[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(o, 512, "%s", PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        diag("postgres: %s (%s)", PQresultErrorMessage(r), sql);
    PQclear(r);
    return o;
}

static void send_async(PGconn *c, const char *sql, int n, const char *const *p)
{
    if (!PQsendQueryParams(c, sql, n, NULL, p, NULL, NULL, 0))
        diag("send: %s", PQerrorMessage(c));
}

/* Waits (5 s at most) until c's backend waits on a lock. */
static int waits_on_lock(PGconn *c)
{
    char pid[16];
    const char *p[] = {pid};

    snprintf(pid, sizeof pid, "%d", PQbackendPID(c));
    for (int i = 0; i < 500; i++) {
        if (strcmp(run(mon, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int AND wait_event_type = 'Lock'",
                       1, p), "1") == 0)
            return 1;
        t_sleep_ms(10);
    }
    return 0;
}

/* The result of an async statement: first two columns "outcome|body" (the
 * booking functions' shape), or "ERROR: ..." */
static char *finish(PGconn *c)
{
    PGresult *r, *last = NULL;
    char *out;

    while ((r = PQgetResult(c))) {
        PQclear(last);
        last = r;
    }
    if (!last)
        return strdup("ERROR: no result");
    if (PQresultStatus(last) != PGRES_TUPLES_OK) {
        size_t len = strlen(PQresultErrorMessage(last)) + 8;
        out = malloc(len);
        snprintf(out, len, "ERROR: %s", PQresultErrorMessage(last));
    } else if (PQnfields(last) >= 2 && PQntuples(last) == 1) {
        size_t len = strlen(PQgetvalue(last, 0, 0)) + strlen(PQgetvalue(last, 0, 1)) + 2;
        out = malloc(len);
        snprintf(out, len, "%s|%s", PQgetvalue(last, 0, 0), PQgetvalue(last, 0, 1));
    } else {
        out = strdup(PQntuples(last) ? PQgetvalue(last, 0, 0) : "");
    }
    PQclear(last);
    return out;
}

static int outcome_is(const char *res, const char *outcome)
{
    return strncmp(res, outcome, strlen(outcome)) == 0 && res[strlen(outcome)] == '|';
}

static int64_t concert_id, schedule_id;
static char concert[24], schedule[24];

static const char HOLD[] = "SELECT outcome, body FROM booking_hold($1::uuid, $2::bigint, $3::bigint, $4::integer[], $5)";
static const char PAY[] = "SELECT outcome, body FROM booking_pay($1::uuid, $2::bigint, $3::bigint, $4, NULL)";
static const char CHARGE[] = "SELECT outcome, body FROM booking_charge($1::uuid, $2::bigint, NULL)";
static const char EXPIRE[] = "SELECT expired, freed FROM booking_expire(500)";

/* A hold made and committed now; its reservation id (as text). */
static const char *hold_now(PGconn *c, const char *user, const char *seats)
{
    static char id[24];
    const char *p[] = {user, concert, schedule, seats, "owner-isolation"};
    PGresult *r = PQexecParams(c, HOLD, 5, NULL, p, NULL, NULL, 0);

    id[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "held") == 0) {
        struct json_object *j = json_tokener_parse(PQgetvalue(r, 0, 1));
        snprintf(id, sizeof id, "%" PRId64, t_json_int(j, "reservationId"));
        json_object_put(j);
    } else {
        diag("hold %s: %s %s", seats, PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 1) : "",
             PQresultErrorMessage(r));
    }
    PQclear(r);
    return id;
}

static void charge_now(PGconn *c, const char *user, const char *amount)
{
    const char *p[] = {user, amount};
    PGresult *r = PQexecParams(c, CHARGE, 2, NULL, p, NULL, NULL, 0);
    PQclear(r);
}

static const char *q1(const char *sql, const char *a)
{
    const char *p[] = {a};
    return run(mon, sql, 1, p);
}

/* The state of a reservation as one line: status, seats' states, payment
 * rows, ledger rows of that payment. */
static const char *state(const char *rid)
{
    return q1("SELECT r.status || ' seats=' ||"
              " (SELECT string_agg(s.status || coalesce(':' || (s.reservation_id = r.id)::text, ''), ',' ORDER BY s.seat_no)"
              "    FROM seats s WHERE s.schedule_id = r.schedule_id AND s.seat_no = ANY (r.seat_nos))"
              " || ' payments=' || (SELECT count(*) FROM payments p WHERE p.reservation_id = r.id)"
              " || ' ledger=' || (SELECT count(*) FROM balance_ledger l JOIN payments p ON p.id = l.payment_id"
              "    WHERE p.reservation_id = r.id)"
              " FROM reservations r WHERE r.id = $1::bigint", rid);
}

static int64_t balance(const char *user)
{
    return atoll(q1("SELECT coalesce((SELECT balance FROM users WHERE id = $1::uuid), 0)", user));
}

static int ledger_ok(const char *user)
{
    return strcmp(q1("SELECT (SELECT coalesce(sum(delta), 0) FROM balance_ledger WHERE user_id = $1::uuid) ="
                     " (SELECT coalesce((SELECT balance FROM users WHERE id = $1::uuid), 0))", user), "t") == 0;
}

/* Waits until now() is past the reservation's expiry. */
static void wait_expired(const char *rid)
{
    for (int i = 0; i < 100; i++) {
        if (strcmp(q1("SELECT expires_at <= now() FROM reservations WHERE id = $1::bigint", rid), "t") == 0)
            return;
        t_sleep_ms(100);
    }
}

static void scenario_expiry(void)
{
    PGconn *cron = conn(), *pay = conn();
    char user[37];

    /* cron must never wait here: a wait would be a failure, not a hang. */
    run(cron, "SET statement_timeout = 5000", 0, NULL);
    const char *rid;
    char *res;

    /* 1a. Expiry first: cron's transaction has expired the hold and not yet
     * committed; the payment waits for the reservation row, then finds it
     * EXPIRED: hold_expired, and nothing of it anywhere. */
    t_uuid(user);
    charge_now(mon, user, "100000");
    rid = hold_now(mon, user, "{1,2}");
    wait_expired(rid);
    run(cron, "BEGIN", 0, NULL);
    run(cron, EXPIRE, 0, NULL);
    {
        const char *p[] = {user, concert, rid, "token-a"};
        send_async(pay, PAY, 4, p);
    }
    ok(waits_on_lock(pay), "expiry first: the payment waits for the expiring transaction");
    run(cron, "COMMIT", 0, NULL);
    res = finish(pay);
    ok(outcome_is(res, "hold_expired"), "then finds the hold expired (%.60s)", res);
    free(res);
    is(state(rid), "EXPIRED seats=AVAILABLE,AVAILABLE payments=0 ledger=0", "nothing of the payment is left");
    ok(balance(user) == 100000 && ledger_ok(user), "the balance is untouched and equals its ledger");

    /* 1b. Payment first: the payment has locked the reservation (inside its
     * transaction, still open) when the hold runs out; cron skips the row
     * the payment holds, the payment commits and wins. */
    {
        char id2[24];
        t_uuid(user);
        charge_now(mon, user, "100000");
        snprintf(id2, sizeof id2, "%s", hold_now(mon, user, "{3,4}"));
        run(pay, "BEGIN", 0, NULL);
        {
            const char *p[] = {user, concert, id2, "token-b"};
            const char *got = run(pay, "SELECT outcome FROM booking_pay($1::uuid, $2::bigint, $3::bigint, $4, NULL)", 4, p);
            ok(strcmp(got, "paid") == 0, "payment first: the payment is done, not yet committed (%s)", got);
        }
        wait_expired(id2);
        ok(run(cron, "SELECT expired FROM booking_expire(500)", 0, NULL)[0] != '\0' &&
           strcmp(q1("SELECT status FROM reservations WHERE id = $1::bigint", id2), "HELD") == 0,
           "cron at the hold's expiry returns at once and leaves the row the payment holds alone");
        run(pay, "COMMIT", 0, NULL);
        is(state(id2), "CONFIRMED seats=SOLD:true,SOLD:true payments=1 ledger=1", "the payment wins: whole");
        run(cron, EXPIRE, 0, NULL);
        is(state(id2), "CONFIRMED seats=SOLD:true,SOLD:true payments=1 ledger=1", "a later cron run leaves it so");
        ok(balance(user) == 100000 - 2 * 1000 && ledger_ok(user), "debited once, equal to its ledger");
    }

    /* 1c. A third session holds the seats: the payment waits on them with
     * the reservation locked, the hold runs out meanwhile, cron skips it;
     * released, the payment completes. */
    {
        char id3[24], seats_sql[] = "SELECT 1 FROM seats WHERE schedule_id = $1::bigint AND seat_no IN (5, 6) FOR UPDATE";
        PGconn *lock = conn();
        const char *ps[] = {schedule};
        t_uuid(user);
        charge_now(mon, user, "100000");
        snprintf(id3, sizeof id3, "%s", hold_now(mon, user, "{5,6}"));
        run(lock, "BEGIN", 0, NULL);
        run(lock, seats_sql, 1, ps);
        {
            const char *p[] = {user, concert, id3, "token-c"};
            send_async(pay, PAY, 4, p);
        }
        ok(waits_on_lock(pay), "a third session holds the seats: the payment waits on them");
        wait_expired(id3);
        ok(run(cron, "SELECT expired FROM booking_expire(500)", 0, NULL)[0] != '\0',
           "the hold runs out meanwhile; cron returns at once, skipping it");
        run(lock, "COMMIT", 0, NULL);
        res = finish(pay);
        ok(outcome_is(res, "paid"), "released, the payment completes (%.40s)", res);
        free(res);
        is(state(id3), "CONFIRMED seats=SOLD:true,SOLD:true payments=1 ledger=1", "and is whole");
        PQfinish(lock);
    }
    PQfinish(cron);
    PQfinish(pay);
}

/* Sends the hold of seats (a PostgreSQL array) of the scenario's show for
 * user on h, without waiting for it. */
static void send_hold(PGconn *h, const char *user, const char *seats, const char *owner)
{
    const char *p[] = {user, concert, schedule, seats, owner};

    send_async(h, HOLD, 5, p);
}

/* Opens a transaction on lock that holds one seat of the show locked. */
static void lock_seat(PGconn *lock, const char *seat_no)
{
    const char *p[] = {schedule, seat_no};

    run(lock, "BEGIN", 0, NULL);
    run(lock, "SELECT 1 FROM seats WHERE schedule_id = $1::bigint AND seat_no = $2::int FOR UPDATE", 2, p);
}

static void scenario_overlap(void)
{
    PGconn *lock = conn(), *h1 = conn(), *h2 = conn();
    char u1[37], u2[37];
    char *r1, *r2;

    /* 2a. Seat 12 locked by a third session; {11,12} queues first, {12,13}
     * second. */
    t_uuid(u1);
    t_uuid(u2);
    lock_seat(lock, "12");
    send_hold(h1, u1, "{11,12}", "owner-1");
    ok(waits_on_lock(h1), "hold {11,12} waits for seat 12");
    send_hold(h2, u2, "{12,13}", "owner-2");
    ok(waits_on_lock(h2), "hold {12,13} waits for seat 12 too");
    run(lock, "COMMIT", 0, NULL);
    r1 = finish(h1);
    r2 = finish(h2);
    ok(outcome_is(r1, "held") && outcome_is(r2, "seat_unavailable"),
       "the first in line gets both seats, the other seat_unavailable (%.20s, %.20s)", r1, r2);
    free(r1);
    free(r2);
    is(q1("SELECT string_agg(status, ',' ORDER BY seat_no) FROM seats WHERE schedule_id = $1::bigint AND seat_no IN (11, 12, 13)",
          schedule), "HELD,HELD,AVAILABLE", "seats 11, 12 held, 13 free: all or nothing");
    is(q1("SELECT count(*) FROM reservations WHERE user_id = $1::uuid", u2), "0", "the refused hold left no reservation");

    /* 2b. The same order reversed: {22,23} first, then {21,22}. */
    t_uuid(u1);
    t_uuid(u2);
    lock_seat(lock, "22");
    send_hold(h2, u2, "{22,23}", "owner-2");
    waits_on_lock(h2);
    send_hold(h1, u1, "{21,22}", "owner-1");
    ok(waits_on_lock(h1), "reversed: both wait for seat 22");
    run(lock, "COMMIT", 0, NULL);
    r2 = finish(h2);
    r1 = finish(h1);
    ok(outcome_is(r2, "held") && outcome_is(r1, "seat_unavailable"), "again the first in line wins (%.20s, %.20s)",
       r2, r1);
    free(r1);
    free(r2);
    is(q1("SELECT string_agg(status, ',' ORDER BY seat_no) FROM seats WHERE schedule_id = $1::bigint AND seat_no IN (21, 22, 23)",
          schedule), "AVAILABLE,HELD,HELD", "seat 21 free, 22 and 23 held");

    /* 2c. One user, two holds at once (3 + 2 seats, the limit is 4): the
     * per-user lock lines them up; the second is HOLD_LIMIT. */
    t_uuid(u1);
    lock_seat(lock, "31");
    send_hold(h1, u1, "{31,32,33}", "owner-1");
    waits_on_lock(h1);
    send_hold(h2, u1, "{41,42}", "owner-2");
    ok(waits_on_lock(h2), "the same user's second hold waits for the first (per-user lock)");
    run(lock, "COMMIT", 0, NULL);
    r1 = finish(h1);
    r2 = finish(h2);
    ok(outcome_is(r1, "held") && outcome_is(r2, "hold_limit"),
       "3 seats held, the 2 more are hold_limit (%.20s, %.20s)", r1, r2);
    free(r1);
    free(r2);
    PQfinish(lock);
    PQfinish(h1);
    PQfinish(h2);
}

static void scenario_charge_pay(void)
{
    PGconn *lock = conn(), *pay = conn(), *chg = conn();
    char user[37], rid[24], *rp, *rc;
    const char *pu[] = {user};
    static const char *const seats[] = {"{51,52}", "{53,54}", "{55,56}"};

    for (int order = 0; order < 2; order++) {
        /* Balance 3000, seats 2000, a charge of 1000: both apply in either
         * order, each once. */
        t_uuid(user);
        charge_now(mon, user, "3000");
        snprintf(rid, sizeof rid, "%s", hold_now(mon, user, seats[order]));
        run(lock, "BEGIN", 0, NULL);
        run(lock, "SELECT 1 FROM users WHERE id = $1::uuid FOR UPDATE", 1, pu);
        {
            const char *pc[] = {user, "1000"};
            const char *pp[] = {user, concert, rid, "token-x"};
            if (order == 0) {
                send_async(chg, CHARGE, 2, pc);
                waits_on_lock(chg);
                send_async(pay, PAY, 4, pp);
            } else {
                send_async(pay, PAY, 4, pp);
                waits_on_lock(pay);
                send_async(chg, CHARGE, 2, pc);
            }
        }
        ok(waits_on_lock(pay) && waits_on_lock(chg), "%s: both wait for the user's row",
           order == 0 ? "charge first" : "payment first");
        run(lock, "COMMIT", 0, NULL);
        rc = finish(chg);
        rp = finish(pay);
        ok(outcome_is(rc, "charged") && outcome_is(rp, "paid"), "both apply (%.20s, %.20s)", rc, rp);
        ok(balance(user) == 2000 && ledger_ok(user), "balance 3000 + 1000 - 2000 = %lld, equal to its ledger",
           (long long)balance(user));
        is(state(rid), "CONFIRMED seats=SOLD:true,SOLD:true payments=1 ledger=1", "the reservation is paid, whole");
        free(rc);
        free(rp);
    }

    /* Balance 1500 short of 2000, a charge of 1000 in flight (waiting for
     * the row): the payment does not wait for it - it judges the committed
     * balance: insufficient, nothing changed. Then the charge lands and a
     * retry pays. */
    t_uuid(user);
    charge_now(mon, user, "1500");
    snprintf(rid, sizeof rid, "%s", hold_now(mon, user, seats[2]));
    run(lock, "BEGIN", 0, NULL);
    run(lock, "SELECT 1 FROM users WHERE id = $1::uuid FOR UPDATE", 1, pu);
    {
        const char *pc[] = {user, "1000"};
        const char *pp[] = {user, concert, rid, "token-z"};
        send_async(chg, CHARGE, 2, pc);
        ok(waits_on_lock(chg), "short balance: the charge waits for the user's row");
        send_async(pay, PAY, 4, pp);
        rp = finish(pay);
        ok(outcome_is(rp, "insufficient_balance"),
           "the payment meanwhile is refused at once, judged on the committed balance (%.30s)", rp);
        free(rp);
        is(state(rid), "HELD seats=HELD:true,HELD:true payments=0 ledger=0", "the hold is as it was");
        run(lock, "COMMIT", 0, NULL);
        rc = finish(chg);
        send_async(pay, PAY, 4, pp);
        rp = finish(pay);
        ok(outcome_is(rc, "charged") && outcome_is(rp, "paid") && balance(user) == 500 && ledger_ok(user),
           "the charge lands, a retry pays: balance %lld, equal to its ledger (%.20s, %.20s)",
           (long long)balance(user), rc, rp);
        free(rc);
        free(rp);
    }
    PQfinish(lock);
    PQfinish(pay);
    PQfinish(chg);
}

int main(void)
{
    t_init();
    if (getenv("CONCERT_FRONT_NAME") && strcmp(getenv("CONCERT_FRONT_NAME"), "nginx") != 0)
        skip_all("runs once, behind nginx (it drives PostgreSQL directly)");
    plan(13 + 10 + 12);
    mon = conn();
    /* Holds of 2 seconds, seats at 1000. */
    concert_id = t_create_concert(100, 600, 600, 2, 1, 60, 1000, &schedule_id);
    if (concert_id < 0) {
        ok(0, "cannot create a concert");
        return done_testing();
    }
    snprintf(concert, sizeof concert, "%" PRId64, concert_id);
    snprintf(schedule, sizeof schedule, "%" PRId64, schedule_id);

    scenario_expiry();
    scenario_overlap();
    scenario_charge_pay();
    PQfinish(mon);
    return done_testing();
}
