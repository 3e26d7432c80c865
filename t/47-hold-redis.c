/* 47-hold-redis: a hold as one Redis script (hold.h), told against hold.c
 * and the stack's Redis and PostgreSQL.
 *
 * A concert is made through the admin API and a user given an ACTIVE
 * token. The hold takes its seats in one script: the id is the concert's
 * times 10^9 plus its counter, the end a whole second holdSeconds on, the
 * amount the seats' prices; the seats are locked until that end, read
 * HELD on the seat map, and reservation.held is in the concert's stream
 * with the outbox's five fields. Then the refusals, each changing nothing:
 * a seat held by another (its numbers), the per-user limit (seats held),
 * sales closed, a token that is not ACTIVE. The facts, the seat map and the
 * user's bought seats missing from Redis are read from PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "config.h"
#include "db.h"
#include "hold.h"
#include "rds.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <json-c/json.h>
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

static char *redis_text(int argc, const char **argv)
{
    redisReply *r = t_redis(argc, argv);
    char *s = NULL;

    if (r && r->type == REDIS_REPLY_STRING)
        s = strdup(r->str);
    if (r)
        freeReplyObject(r);
    return s;
}

int main(void)
{
    const char *conninfo = getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "";
    const char *port = getenv("CONCERT_REDIS_PORT");
    int64_t schedules[1], concert;
    struct hold_show show;
    struct hold_taken h, h2;
    char user[37], other[37], key[96], field[24], *token, *token2, *s;
    const char *tok_id, *tok2_id;
    int seats12[] = {1, 2}, seats2[] = {2}, seats3[] = {3}, seats457[] = {4, 5, 7}, seats6[] = {6};
    int64_t before;

    t_init();
    db_init(conninfo);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 2000);

    concert = t_create_concert(10, 600, 600, 300, 1, 10, 1500, schedules);
    if (concert < 0)
        bail_out("no concert");
    t_user(user);
    t_user(other);
    token = t_active_token(concert, user);
    token2 = t_active_token(concert, other);
    if (!token || !token2)
        bail_out("no tokens");
    tok_id = strdup(t_token_id(token));
    tok2_id = strdup(t_token_id(token2));
    show.concert_id = concert;
    show.schedule_id = schedules[0];
    show.closes_ms = now_ms() + 3600000;

    step("a hold is one script: id, end, amount, locks, map, event");
    before = now_ms();
    is_int(hold_take(tok_id, &show, seats12, 2, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &h), HOLD_HELD, "two seats held");
    ok(strcmp(h.user_id, user) == 0, "for the token's user");
    ok(h.id == concert * 1000000000 + 1, "the id is the concert's times 10^9 plus one (%" PRId64 ")", h.id);
    ok(h.until_ms % 1000 == 0 && h.until_ms >= before + 300000 && h.until_ms <= now_ms() + 301000,
       "it ends on a whole second, holdSeconds on");
    ok(h.amount == 3000, "the amount is the seats' prices");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":2", concert, schedules[0]);
    s = redis_text(2, (const char *[]){"GET", key});
    ok(strcmp(s ? s : "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == 0, "seat 2 is locked by the hold's owner");
    free(s);
    ok(t_redis_int(2, (const char *[]){"PEXPIRETIME", key}) == h.until_ms, "until the hold's end");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, schedules[0]);
    s = redis_text(3, (const char *[]){"HGET", key, "1"});
    snprintf(field, sizeof field, "%" PRId64, h.id);
    ok(s && strstr(s, ",H,") && strstr(s, field), "seat 1 reads HELD on the seat map (%s)", s ? s : "none");
    free(s);
    snprintf(key, sizeof key, "{c:%" PRId64 "}:reservation-events", concert);
    {
        redisReply *r = t_redis(4, (const char *[]){"XREVRANGE", key, "+", "-"});
        int found = 0;

        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            redisReply *f = r->element[0]->element[1];
            struct json_object *data = NULL;

            for (size_t i = 0; i + 1 < f->elements; i += 2) {
                if (strcmp(f->element[i]->str, "type") == 0 && strcmp(f->element[i + 1]->str, "reservation.held") == 0)
                    found++;
                if (strcmp(f->element[i]->str, "data") == 0)
                    data = json_tokener_parse(f->element[i + 1]->str);
            }
            ok(f->elements == 10, "the event has the five fields");
            ok(data && t_json_int(data, "reservationId") == h.id && t_json_int(data, "amount") == 3000 &&
               strcmp(t_json_str(data, "status"), "HELD") == 0 &&
               strcmp(t_json_str(data, "userId"), user) == 0, "its data is the outbox's");
            json_object_put(data);
        } else {
            ok(0, "the event has the five fields");
            ok(0, "its data is the outbox's");
        }
        is_int(found, 1, "reservation.held is in the concert's stream");
        if (r)
            freeReplyObject(r);
    }

    step("refusals change nothing");
    is_int(hold_take(tok2_id, &show, seats2, 1, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &h2), HOLD_BUSY, "a held seat is busy");
    ok(strcmp(h2.busy, "2") == 0, "named");
    is_int(hold_take(tok_id, &show, seats457, 3, "cccccccccccccccccccccccccccccccc", &h2), HOLD_LIMIT,
           "three more seats pass the per-user limit of four");
    ok(h2.have == 2, "it names the two held");
    show.closes_ms = now_ms() - 1;
    is_int(hold_take(tok2_id, &show, seats3, 1, "dddddddddddddddddddddddddddddddd", &h2), HOLD_CLOSED,
           "after the show's start: sales closed");
    show.closes_ms = now_ms() + 3600000;
    is_int(hold_take("nosuchtoken", &show, seats3, 1, "dddddddddddddddddddddddddddddddd", &h2), HOLD_TOKEN_MISS,
           "an unknown token takes nothing");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":3", concert, schedules[0]);
    ok(t_redis_int(2, (const char *[]){"EXISTS", key}) == 0, "seat 3 is not locked");

    step("what Redis lacks is read from PostgreSQL");
    {
        char c[24], sc[24];
        const char *params[] = {other, c, sc};

        snprintf(c, sizeof c, "%" PRId64, concert);
        snprintf(sc, sizeof sc, "%" PRId64, schedules[0]);
        ok(t_pg_int("INSERT INTO reservations (user_id, concert_id, schedule_id, seat_nos, amount, status, expires_at)"
                    " VALUES ($1, $2, $3, '{8,9,10}', 4500, 'CONFIRMED', now()) RETURNING 1", 3, params) == 1,
           "the other user has bought three seats (in PostgreSQL only)");
    }
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, schedules[0]);
    t_redis_cmd(2, (const char *[]){"DEL", key});
    snprintf(key, sizeof key, "{c:%" PRId64 "}:mine:%" PRId64, concert, schedules[0]);
    t_redis_cmd(2, (const char *[]){"DEL", key});
    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert);
    t_redis_cmd(2, (const char *[]){"DEL", key});
    is_int(hold_take(tok2_id, &show, seats6, 1, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", &h2), HOLD_HELD,
           "held with the facts, the map and what the buyers bought read again");
    ok(h2.id == concert * 1000000000 + 2, "the next id");
    ok(strcmp(h2.user_id, other) == 0, "for the other user");
    is_int(hold_take(tok2_id, &show, seats3, 1, "ffffffffffffffffffffffffffffffff", &h2), HOLD_LIMIT,
           "a fifth seat passes the limit: the three bought were read from PostgreSQL");
    ok(h2.have == 4, "four held or bought (%" PRId64 ")", h2.have);

    step("a cancel frees the seats at once, with its event; again, the same");
    {
        struct hold_record rec;
        struct json_object *j;
        int seats1234[] = {1, 2, 3, 4};

        ok(strcmp(hold_cancel(concert, other, h.id, &rec), "reservation_not_found") == 0, "not another user's");
        ok(strcmp(hold_cancel(concert + 1, user, h.id, &rec), "wrong_concert") == 0,
           "nor with another concert's token");
        ok(strcmp(hold_cancel(concert, user, h.id, &rec), "cancelled") == 0, "the owner cancels");
        j = hold_record_json(&rec, now_ms());
        ok(j && strcmp(t_json_str(j, "status"), "CANCELLED") == 0 && t_json_int(j, "amount") == 3000 &&
           t_json_int(j, "concertId") == concert, "it reads CANCELLED, with its amount and concert");
        json_object_put(j);
        snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":2", concert, schedules[0]);
        ok(t_redis_int(2, (const char *[]){"EXISTS", key}) == 0, "seat 2's lock is gone");
        snprintf(key, sizeof key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, schedules[0]);
        s = redis_text(3, (const char *[]){"HGET", key, "1"});
        ok(s && strcmp(s, "1500,A,0,0") == 0, "seat 1 reads AVAILABLE (%s)", s ? s : "none");
        free(s);
        snprintf(key, sizeof key, "{c:%" PRId64 "}:reservation-events", concert);
        is_int(t_redis_int(2, (const char *[]){"XLEN", key}), 3, "reservation.cancelled follows the two holds");
        ok(strcmp(hold_cancel(concert, user, h.id, &rec), "cancelled") == 0, "cancelling again: the same");
        is_int(t_redis_int(2, (const char *[]){"XLEN", key}), 3, "and no second event");
        is_int(hold_take(tok_id, &show, seats1234, 4, "1111111111111111111111111111111a", &h2), HOLD_HELD,
               "the cancelled seats no longer count: four held again");
    }

    step("the sweep expires a run-out hold, with its event");
    {
        struct hold_record rec;
        struct hold_taken h3;
        int seats9[] = {9};
        int64_t expired;
        char *text, idtext[24], *bar;
        int field_no = 0;

        show.closes_ms = now_ms() + 3600000;
        is_int(hold_take(tok2_id, &show, seats9, 1, "9999999999999999999999999999999a", &h3), HOLD_LIMIT,
               "(the other user is at the limit)");
        snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", concert);
        snprintf(idtext, sizeof idtext, "%" PRId64, h.id + 1);   /* the other user's hold of seat 6 */
        text = redis_text(3, (const char *[]){"HGET", key, idtext});
        ok(text != NULL, "the other user's hold is there");
        if (text) {
            /* Its end moved into the past: field 5 of the record. */
            char rewritten[512];
            size_t used = 0;

            for (bar = text; *bar; bar++) {
                if (*bar == '|')
                    field_no++;
                if (field_no == 4 && *bar != '|')
                    continue;
                rewritten[used++] = *bar;
                if (field_no == 4 && *bar == '|')
                    used += (size_t)snprintf(rewritten + used, sizeof rewritten - used, "1000");
            }
            rewritten[used] = '\0';
            t_redis_cmd(4, (const char *[]){"HSET", key, idtext, rewritten});
            free(text);
        }
        snprintf(key, sizeof key, "{c:%" PRId64 "}:hold-ends", concert);
        t_redis_cmd(4, (const char *[]){"ZADD", key, "1000", idtext});
        ok(strcmp(hold_cancel(concert, other, h.id + 1, &rec), "hold_expired") == 0,
           "run out by its end before any sweep: hold_expired");
        is_int(hold_sweep(concert, 100, &expired), 0, "the sweep runs");
        is_int(expired, 1, "and expires one hold");
        snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", concert);
        text = redis_text(3, (const char *[]){"HGET", key, idtext});
        ok(text && strstr(text, "|EXPIRED|"), "it reads EXPIRED");
        free(text);
        snprintf(key, sizeof key, "{c:%" PRId64 "}:reservation-events", concert);
        {
            redisReply *r = t_redis(6, (const char *[]){"XREVRANGE", key, "+", "-", "COUNT", "1"});
            ok(r && r->elements == 1 && strcmp(r->element[0]->element[1]->element[3]->str, "reservation.expired") == 0,
               "reservation.expired is the stream's last event");
            if (r)
                freeReplyObject(r);
        }
        is_int(hold_sweep(concert, 100, &expired), 0, "a second sweep");
        is_int(expired, 0, "has nothing to do");
    }

    step("payment: PostgreSQL sells the hold with Redis's id, then Redis records it");
    {
        const char *refusal;
        PGresult *res = NULL;
        struct t_resp resp;
        char *seat;

        is_int(hold_pay(concert, user, h2.id, token, NULL, &refusal, &res), DB_OK, "a payment without the money");
        ok(res && strcmp(PQgetvalue(res, 0, 0), "insufficient_balance") == 0, "is refused (%s)",
           res ? PQgetvalue(res, 0, 0) : refusal ? refusal : "none");
        PQclear(res);
        is_int(bk_charge(user, 100000, NULL, &resp), 200, "the user charges their balance");
        t_resp_free(&resp);
        is_int(hold_pay(concert, user, h2.id, token, "k47", &refusal, &res), DB_OK, "paid");
        ok(res && strcmp(PQgetvalue(res, 0, 0), "paid") == 0, "the outcome is paid");
        PQclear(res);
        is_int(bk_int("SELECT count(*) FROM reservations WHERE id = $1::bigint AND status = 'CONFIRMED'", h2.id), 1,
               "PostgreSQL has the reservation CONFIRMED, with Redis's id");
        seat = bk_seat(schedules[0], 4);
        ok(seat && strcmp(seat, "SOLD") == 0, "seat 4 SOLD in PostgreSQL (%s)", seat ? seat : "none");
        free(seat);
        is_int(bk_balance(user), 100000 - 6000, "the balance debited");
        snprintf(key, sizeof key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, schedules[0]);
        s = redis_text(3, (const char *[]){"HGET", key, "4"});
        ok(s && strstr(s, ",S,"), "seat 4 reads SOLD on the seat map (%s)", s ? s : "none");
        free(s);
        is_int(hold_pay(concert, user, h2.id, token, NULL, &refusal, &res), DB_OK, "paying again");
        ok(refusal && strcmp(refusal, "already_paid") == 0, "is already_paid");
        PQclear(res);
        snprintf(key, sizeof key, "{c:%" PRId64 "}:holds", concert);
        snprintf(field, sizeof field, "%" PRId64, h2.id);
        t_redis_cmd(3, (const char *[]){"HDEL", key, field});
        is_int(hold_pay(concert, user, h2.id, token, NULL, &refusal, &res), DB_OK, "Redis lost the paid hold");
        ok(res && strcmp(PQgetvalue(res, 0, 0), "already_paid") == 0, "PostgreSQL still says already_paid");
        PQclear(res);
        is_int(bk_int("SELECT count(*) FROM payments WHERE reservation_id = $1::bigint", h2.id), 1, "one payment");
        snprintf(field, sizeof field, "%" PRId64, h.id + 5);
        is_int(hold_pay(concert, user, h.id + 5, token, NULL, &refusal, &res), DB_OK, "a hold nobody has");
        ok(res && strcmp(PQgetvalue(res, 0, 0), "reservation_not_found") == 0, "is reservation_not_found");
        PQclear(res);
    }

    step("with hold_replica_wait_ms, a hold waits for a replica (WAIT 1)");
    {
        struct redisContext *mon = t_redis_monitor();
        int seats8[] = {8}, waited = 0, held_first = 0;
        char *line;

        g_config.hold_replica_wait_ms = 25;
        is_int(hold_take(tok2_id, &show, seats8, 1, "8888888888888888888888888888888a", &h2), HOLD_LIMIT,
               "(a refused hold)");
        {
            int seats10[] = {10};
            char *t3;
            char u3[37];

            t_user(u3);
            t3 = t_active_token(concert, u3);
            is_int(hold_take(t_token_id(t3), &show, seats10, 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", &h2), HOLD_HELD,
                   "a hold");
            free(t3);
        }
        g_config.hold_replica_wait_ms = 0;
        while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
            if (strstr(line, "\"WAIT\" \"1\" \"25\""))
                waited++;
            if (strstr(line, "\"EVALSHA\"") && waited == 0)
                held_first = 1;
            free(line);
        }
        is_int(waited, 1, "WAIT 1 25 was sent once: after the hold, not after the refusal");
        ok(held_first, "the script ran before it");
        redisFree(mon);
    }

    free(token);
    free(token2);
    free((char *)tok_id);
    free((char *)tok2_id);
    rds_close();
    db_close();
    done_testing();
}
