/* 48-hold-redis-http: a hold kept in Redis (hold.h) through the HTTP API
 * and the programs around it: cancelled, listed, shown on the seat map,
 * paid, ended by a logout and by the cron, and its events bridged into
 * reservation-events.
 *
 * The holds are made with hold_take itself, as the hold endpoint makes
 * them. A reservation from before holds moved to Redis (PostgreSQL's id)
 * stands beside them in the list, older. The story: A's Redis hold is
 * listed newest first with the same fields as PostgreSQL's, reads HELD on
 * the seat map even after the map is read again from PostgreSQL, and its
 * reservation.held reaches reservation-events. A cancels it (200, twice),
 * holds again and pays with a key: one transaction in PostgreSQL, the
 * list shows it CONFIRMED once, a keyed retry replays the 201. B's hold
 * ends with B's logout. C's hold runs out: the cron expires it with its
 * event, and leaves D's live hold's lock alone however old it looks. A
 * reservation A held in PostgreSQL before the switch, paid, counts toward
 * A's limit of Redis holds. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "db.h"
#include "hold.h"
#include "rds.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Holds seats for the user of token; the reservation id, or -1. */
static int64_t take(const char *token, const struct hold_show *show, const int *seats, int n, const char *owner)
{
    struct hold_taken h;

    return hold_take(t_token_id(token), show, seats, n, owner, &h) == HOLD_HELD ? h.id : -1;
}

/* Seat seat_no's status as GET .../seats shows it to token's user. */
static const char *seat_status(const char *token, int64_t schedule_id, int seat_no, char out[16])
{
    struct t_resp r;
    char path[96], at[48];

    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", schedule_id);
    snprintf(at, sizeof at, "seats.%d.status", seat_no - 1);
    t_get(path, token, &r);
    snprintf(out, 16, "%s", r.status == 200 && t_json_str(r.json, at) ? t_json_str(r.json, at) : "?");
    t_resp_free(&r);
    return out;
}

/* A hold's status in its Redis record ("" when none). */
static void record_status(int64_t concert, int64_t id, char out[16])
{
    char key[64], field[24];
    redisReply *r;

    snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", concert);
    snprintf(field, sizeof field, "%" PRId64, id);
    r = t_redis(3, (const char *[]){"HGET", key, field});
    out[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *end = strrchr(r->str, '|'), *start = end;
        while (start && start > r->str && start[-1] != '|')
            start--;
        if (end && (size_t)(end - start) < 16)
            snprintf(out, 16, "%.*s", (int)(end - start), start);
    }
    if (r)
        freeReplyObject(r);
}

/* Whether reservation-events has an event of type for reservation id
 * within wait_ms. */
static int bridged(const char *type, int64_t id, long wait_ms)
{
    char needle[48];

    snprintf(needle, sizeof needle, "\"reservationId\":%" PRId64 ",", id);
    for (double until = t_now_s() + wait_ms / 1000.0; t_now_s() < until; t_sleep_ms(50)) {
        redisReply *r = t_redis(6, (const char *[]){"XREVRANGE", "reservation-events", "+", "-", "COUNT", "200"});
        int found = 0;

        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++) {
            redisReply *f = r->element[i]->element[1];
            int typed = 0, named = 0;

            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                typed |= strcmp(f->element[k]->str, "type") == 0 && strcmp(f->element[k + 1]->str, type) == 0;
                named |= strcmp(f->element[k]->str, "data") == 0 && strstr(f->element[k + 1]->str, needle);
            }
            found = typed && named;
        }
        if (r)
            freeReplyObject(r);
        if (found)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *conninfo = getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "";
    const char *port = getenv("CONCERT_REDIS_PORT");
    enum { A, B, C, D, NUSERS };
    char users[NUSERS][37], *toks[NUSERS], path[96], st[16], key[96];
    char owner_d[] = "dddddddddddddddddddddddddddddddd";
    const char *a = users[A], *b = users[B];
    const char *ta, *tb, *tc, *td;
    int64_t sched[1], concert, old_id, id1, id2, idb, idc, idd;
    int s12[] = {1, 2}, s3[] = {3}, s4[] = {4}, s5[] = {5}, s6[] = {6};
    char out[1024];
    struct hold_show show;
    struct t_resp r, r2;

    (void)argc;
    t_init();
    t_find_cron(argv[0]);
    db_init(conninfo);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 2000);
    concert = t_create_concert_or_bail(10, 600, 600, 300, 1, 10, 1500, sched);
    for (int i = 0; i < NUSERS; i++)
        if (!(toks[i] = t_active_user(concert, users[i])))
            bail_out("no tokens");
    ta = toks[A];
    tb = toks[B];
    tc = toks[C];
    td = toks[D];
    show.concert_id = concert;
    show.schedule_id = sched[0];
    show.closes_ms = now_ms() + 3600000;

    step("the list: a Redis hold beside an older PostgreSQL reservation, newest first");
    {
        char cs[24], ss[24];
        const char *p[] = {a, cs, ss};

        snprintf(cs, sizeof cs, "%" PRId64, concert);
        snprintf(ss, sizeof ss, "%" PRId64, sched[0]);
        old_id = t_pg_int("INSERT INTO reservations (user_id, concert_id, schedule_id, seat_nos, amount, status,"
                          " expires_at, created_at) VALUES ($1, $2, $3, '{9}', 1500, 'CANCELLED',"
                          " now() + interval '4 minutes', now() - interval '1 minute') RETURNING id", 3, p);
    }
    ok(old_id > 0 && old_id < HOLD_ID_SPAN, "A has a reservation from before the switch (%" PRId64 ")", old_id);
    id1 = take(ta, &show, s12, 2, "11111111111111111111111111111111");
    ok(id1 >= HOLD_ID_SPAN, "A holds seats 1 and 2 in Redis (%" PRId64 ")", id1);
    snprintf(path, sizeof path, "/api/v1/users/%s/reservations", a);
    t_get_as(a, path, &r);
    ok(r.status == 200 && t_json_int(r.json, "reservations.0.reservationId") == id1 &&
       t_json_int(r.json, "reservations.1.reservationId") == old_id && !t_json_at(r.json, "reservations.2"),
       "listed: the hold first, then the older one (%ld %s)", r.status, r.body ? r.body : "");
    ok(t_json_int(r.json, "reservations.0.concertId") == concert &&
       t_json_int(r.json, "reservations.0.scheduleId") == sched[0] &&
       t_json_int(r.json, "reservations.0.seatNos.1") == 2 && t_json_int(r.json, "reservations.0.amount") == 3000 &&
       strcmp(t_json_str(r.json, "reservations.0.status"), "HELD") == 0 &&
       t_json_str(r.json, "reservations.0.expiresAt") &&
       json_object_is_type(t_json_at(r.json, "reservations.0.paidAt"), json_type_null),
       "with the same fields as PostgreSQL's");
    t_resp_free(&r);

    step("the seat map shows it, even read again from PostgreSQL");
    is(seat_status(ta, sched[0], 1, st), "HELD", "seat 1 reads HELD");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, sched[0]);
    t_redis_cmd(2, (const char *[]){"DEL", key});
    is(seat_status(ta, sched[0], 2, st), "HELD", "seat 2 still reads HELD after the map was read again");

    step("its reservation.held reaches reservation-events");
    ok(bridged("reservation.held", id1, 3000), "bridged by the relay within a second or so");

    step("cancel: 200 CANCELLED, seats free; again the same");
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, id1);
    t_delete(path, ta, &r);
    ok(r.status == 200 && strcmp(t_json_str(r.json, "status"), "CANCELLED") == 0 &&
       t_json_int(r.json, "reservationId") == id1, "200 CANCELLED (%ld %s)", r.status, r.body ? r.body : "");
    t_delete(path, ta, &r2);
    ok(r2.status == 200 && r.body && r2.body && strcmp(r.body, r2.body) == 0, "again: the same answer");
    t_resp_free(&r);
    t_resp_free(&r2);
    is(seat_status(ta, sched[0], 1, st), "AVAILABLE", "seat 1 reads AVAILABLE");
    t_delete(path, tb, &r);
    is_int(r.status, 404, "another user's cancel of it: 404");
    t_resp_free(&r);

    step("payment: one transaction, the list shows it once, a keyed retry replays");
    id2 = take(ta, &show, s3, 1, "22222222222222222222222222222222");
    ok(id2 > id1, "A holds seat 3");
    ok(bk_charge(a, 5000, NULL, NULL) == 200, "A charges 5,000");
    bk_pay(ta, id2, "pay-48", &r);
    ok(r.status == 201 && t_json_int(r.json, "reservationId") == id2 && t_json_int(r.json, "amount") == 1500,
       "201 PAID (%ld %s)", r.status, r.body ? r.body : "");
    is_int(bk_int("SELECT count(*) FROM reservations WHERE id = $1 AND status = 'CONFIRMED'", id2), 1,
           "PostgreSQL has it CONFIRMED with Redis's id");
    is_int(bk_balance(a), 3500, "debited once");
    is(seat_status(tb, sched[0], 3, st), "SOLD", "seat 3 reads SOLD");
    bk_pay(ta, id2, "pay-48", &r2);
    ok(r2.status == 201 && r.body && r2.body && strcmp(r.body, r2.body) == 0,
       "the retry with the key after the token ended: the same 201");
    t_resp_free(&r);
    t_resp_free(&r2);
    snprintf(path, sizeof path, "/api/v1/users/%s/reservations", a);
    t_get_as(a, path, &r);
    ok(t_json_int(r.json, "reservations.0.reservationId") == id2 &&
       strcmp(t_json_str(r.json, "reservations.0.status"), "CONFIRMED") == 0 &&
       t_json_str(r.json, "reservations.0.paidAt") && t_json_int(r.json, "reservations.1.reservationId") == id1 &&
       t_json_int(r.json, "reservations.2.reservationId") == old_id && !t_json_at(r.json, "reservations.3"),
       "listed once, CONFIRMED, newest first (%s)", r.body ? r.body : "");
    t_resp_free(&r);

    step("a logout cancels the session's Redis holds");
    idb = take(tb, &show, s4, 1, "44444444444444444444444444444444");
    ok(idb > 0, "B holds seat 4");
    t_delete("/api/v1/sessions/current", t_session(b), &r);
    is_int(r.status, 204, "B logs out");
    t_resp_free(&r);
    record_status(concert, idb, st);
    is(st, "CANCELLED", "B's hold is CANCELLED");
    is(seat_status(tc, sched[0], 4, st), "AVAILABLE", "seat 4 is free at once");

    step("the cron expires a run-out hold and leaves a live one's lock");
    idc = take(tc, &show, s5, 1, "55555555555555555555555555555555");
    idd = take(td, &show, s6, 1, owner_d);
    ok(idc > 0 && idd > 0, "C holds seat 5, D seat 6");
    bk_run_out(idc);
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":6", concert, sched[0]);
    /* Its remaining life far below holdSeconds: old enough for the
     * reconciliation to judge it. */
    t_redis_cmd(3, (const char *[]){"PEXPIRE", key, "120000"});
    /* The stack's own cron loop may hold the lock a moment: run again. */
    for (int tries = 0; tries < 20; tries++) {
        if (t_run_cron(NULL, out, sizeof out) == 0 && strstr(out, "done:"))
            break;
        t_sleep_ms(500);
    }
    ok(strstr(out, "done:") != NULL, "the cron runs (%s)", out);
    record_status(concert, idc, st);
    is(st, "EXPIRED", "C's run-out hold reads EXPIRED");
    ok(bridged("reservation.expired", idc, 3000), "with reservation.expired, bridged");
    {
        redisReply *lock = t_redis(2, (const char *[]){"GET", key});
        ok(lock && lock->type == REDIS_REPLY_STRING && strcmp(lock->str, owner_d) == 0, "D's lock stays");
        if (lock)
            freeReplyObject(lock);
    }
    record_status(concert, idd, st);
    is(st, "HELD", "D's hold is HELD");

    step("a reservation from before the switch, paid, counts toward the limit of Redis holds");
    {
        int64_t old_hold = bk_pg_hold(a, concert, sched[0], "{7,8}");
        int s910[] = {9, 10};
        char *ta2 = t_active_token(concert, a);
        struct hold_taken h;

        ok(old_hold > 0 && old_hold < HOLD_ID_SPAN, "A holds seats 7 and 8 in PostgreSQL");
        ok(bk_charge(a, 3000, NULL, NULL) == 200 && bk_pay(ta2, old_hold, NULL, NULL) == 201,
           "and pays them there with a new token");
        free(ta2);
        ta2 = t_active_token(concert, a);   /* the payment ended that one */
        is_int(hold_take(t_token_id(ta2), &show, s910, 2, "99999999999999999999999999999999", &h), HOLD_LIMIT,
               "two more seats pass the limit (one bought before, two now)");
        ok(h.have == 3, "three seats bought (%" PRId64 ")", h.have);
        free(ta2);
    }

    for (int i = 0; i < NUSERS; i++)
        free(toks[i]);
    rds_close();
    db_close();
    return done_testing();
}
