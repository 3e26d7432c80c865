/* 45-hold-cost: a hold is one Redis script, and still refuses in the
 * documented order.
 *
 * The story: once the show's facts, seat map and buyers are in Redis (B
 * held and let go a seat, which read them), a MONITOR client watches Redis
 * while A, ACTIVE, holds two seats. Exactly one script names A's token, and
 * that same script takes the seats' locks and reads and marks the seat map
 * (its letter is Redis's one copy of "sold"): the token check, "sold", the
 * locks and the hold are one round trip, and no other script names the map
 * or the locks. The seat map then reads them HELD. Then B's token runs out
 * behind the cache's back (its active period ends in Redis): the cheap
 * check misses, the full check answers 401 TOKEN_INVALID, and nothing is
 * locked or held. Last, the order of refusals: the token's form, the body,
 * then the token's state, then the schedule. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "rds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct seen {
    int with_token;     /* scripts (EVALSHA) that carry the token */
    int token_and_lock; /* ... and name a seat lock of the schedule */
    int with_lock;      /* scripts that name a seat lock */
    int with_map;       /* scripts that name the schedule's seat map */
    int token_and_map;  /* ... and carry the token */
    int concert_notes;  /* SADDs naming a concert to a user's concerts */
};

/* Reads what MONITOR saw until it has been quiet for 300 ms, and closes it. */
static void monitor_read(redisContext *mon, const char *token, const char *lock_prefix, const char *map_key,
                         struct seen *s)
{
    char *line;

    memset(s, 0, sizeof *s);
    while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
        if (strstr(line, "\"EVALSHA\"")) {
            int tok = strstr(line, token) != NULL, lock = strstr(line, lock_prefix) != NULL;

            s->with_token += tok;
            s->with_lock += lock;
            s->token_and_lock += tok && lock;
            s->with_map += strstr(line, map_key) != NULL;
            s->token_and_map += tok && strstr(line, map_key) != NULL;
        }
        s->concert_notes += strstr(line, "\"SADD\"") && strstr(line, ":hold-concerts");
        free(line);
    }
    redisFree(mon);
}

static void refused(const char *token, const char *body, long want, const char *code, const char *what)
{
    struct t_resp r;

    t_post("/api/v1/reservations", token, body, &r);
    ok(r.status == want && strcmp(t_error_code(&r), code) == 0, "%s: %ld %s (got %ld %s)", what, want, code,
       r.status, t_error_code(&r));
    t_resp_free(&r);
}

int main(void)
{
    char userA[37], userB[37], lock_prefix[64], map_key[64], active[64], body[160];
    char *tokA, *tokB;
    int64_t sched, concert;
    struct seen s;
    struct t_resp r;

    t_init();
    concert = bk_two_active(&sched, userA, &tokA, userB, &tokB);
    snprintf(lock_prefix, sizeof lock_prefix, "{c:%" PRId64 "}:seat:%" PRId64 ":", concert, sched);
    snprintf(map_key, sizeof map_key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, sched);
    snprintf(active, sizeof active, "{c:%" PRId64 "}:active", concert);

    /* --- one round trip before PostgreSQL ---------------------------------- */
    {
        const int seats[] = {1, 2};
        const char *cron_owner = "t45-hold-cost";
        redisContext *mon;
        long st;

        /* A cron run in the window would walk the seat map and the locks
         * too (its check of Redis against PostgreSQL): none may run. */
        if (t_hold_cron_lock(cron_owner) < 0)
            bail_out("cannot take the cron lock");
        {
            const int ten[] = {10};
            int64_t warm = bk_hold_id(tokB, sched, ten, 1);

            ok(warm > 0 && bk_cancel(tokB, warm, NULL) == 200, "B held and let go seat 10 (Redis knows the show)");
        }
        mon = t_redis_monitor();
        st = bk_hold(tokA, sched, seats, 2, NULL);

        is_int(st, 201, "A holds seats 1 and 2");
        monitor_read(mon, t_token_id(tokA), lock_prefix, map_key, &s);
        is_int(s.with_token, 1, "one script carried A's token id (%d)", s.with_token);
        is_int(s.token_and_lock, 1, "and it took the seats' locks: token check and locks in one script");
        is_int(s.token_and_map, 1, "and read the seat map's sold seats in the same script");
        is_int(s.with_map, 1, "no other script named the seat map: the hold's marked it (%d)", s.with_map);
        is_int(s.with_lock, 1, "nor the locks: the hold's set them to end with it (%d)", s.with_lock);
        is_int(s.concert_notes, 1, "A's first hold of the concert named it to A's concerts (one SADD)");
        bk_is(bk_seat(sched, 1), "HELD", "seat 1 reads HELD");
        t_free_cron_lock(cron_owner);
    }
    {
        char path[96];

        snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", sched);
        t_get(path, tokB, &r);
        is(t_json_str(r.json, "seats.0.status"), "HELD", "and on the seat map B reads");
        is(t_json_str(r.json, "seats.1.status"), "HELD", "both seats");
        t_resp_free(&r);
    }

    /* --- a token that ran out behind the cache's back ------------------------ */
    {
        const int seats[] = {3};
        const char *zadd[] = {"ZADD", active, "1", t_token_id(tokB)};
        struct t_resp held;

        is_int(t_redis_cmd(4, zadd), 0, "B's active period ends in Redis (its end set in the past)");
        is_int(bk_hold(tokB, sched, seats, 1, &held), 401, "B's hold: 401");
        is(t_error_code(&held), "TOKEN_INVALID", "TOKEN_INVALID");
        t_resp_free(&held);
        bk_is(bk_seat(sched, 3), "AVAILABLE", "seat 3 is not held");
        {
            redisContext *mon = t_redis_monitor();
            char path[96];

            ok(bk_hold(tokA, sched, seats, 1, NULL) == 201, "and not locked: A holds it at once");
            monitor_read(mon, t_token_id(tokA), lock_prefix, map_key, &s);
            is_int(s.concert_notes, 0, "A's second hold of the concert sent no SADD: its concert is named");
            snprintf(path, sizeof path, "/api/v1/users/%s/reservations", userA);
            ok(t_get_as(userA, path, &r) == 0 && r.status == 200, "A's reservations: 200");
            ok(t_json_at(r.json, "reservations.1") && !t_json_at(r.json, "reservations.2"), "both of A's holds listed");
            is(t_json_str(r.json, "reservations.0.status"), "HELD", "the second HELD");
            is(t_json_str(r.json, "reservations.1.status"), "HELD", "the first HELD");
            t_resp_free(&r);
        }
    }

    /* --- the order of refusals ---------------------------------------------- */
    {
        char *tokW;
        char userW[37];

        t_user(userW);
        tokW = t_issue_token(concert, userW, &r);   /* 50 may be active: W is too */
        t_resp_free(&r);
        if (!tokW)
            bail_out("cannot issue a token");
        refused("forged", "{", 401, "TOKEN_INVALID", "a malformed token and a malformed body: the token first");
        refused(tokB, "{", 400, "INVALID_REQUEST", "a run-out token and a malformed body: the body next");
        snprintf(body, sizeof body, "{\"scheduleId\":999999999,\"seatNos\":[1]}");
        refused(tokB, body, 401, "TOKEN_INVALID", "a run-out token and an unknown schedule: the token's state next");
        refused(tokW, body, 404, "NOT_FOUND", "a live token and an unknown schedule: then the schedule");
        free(tokW);
    }
    free(tokA);
    free(tokB);
    return done_testing();
}
