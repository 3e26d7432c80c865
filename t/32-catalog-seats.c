/* 32-catalog-seats: an admitted user reads a show's seat map.
 *
 * The story: a show has five seats at 7,000 won: one held (live), one held
 * with the hold run out, one sold and two free. With an ACTIVE token of the
 * concert, GET /api/v1/schedules/{id}/seats lists all five by seat number
 * with price and status, the run-out hold reading AVAILABLE; a hold that
 * runs out a moment later reads AVAILABLE on the next read, no cron program
 * needed. A show of the default size lists seats 1..50 in order. A token of
 * another concert is 403 TOKEN_WRONG_CONCERT; a waiting token 403
 * TOKEN_NOT_ACTIVE; none 401 TOKEN_MISSING; a bad one 401 TOKEN_INVALID; an
 * unknown show 404; a malformed id 400. */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>

static void expect_error(const char *path, const char *token, long status, const char *code, const char *what)
{
    struct t_resp r;

    t_get(path, token, &r);
    ok(r.status == status && strcmp(t_error_code(&r), code) == 0, "%s: %ld %s (%ld %s)", what, status, code,
       r.status, t_error_code(&r));
    t_resp_free(&r);
}

/* "AVAILABLE,HELD,..." of the seats in the body, and whether every seat is
 * exactly {seatNo, price, status} with seatNo 1..n in order at price. */
static void seat_summary(struct json_object *body, int64_t price, char *out, size_t cap, int *shaped)
{
    struct json_object *seats = t_json_at(body, "seats");

    out[0] = '\0';
    *shaped = seats && json_object_is_type(seats, json_type_array);
    for (size_t i = 0; *shaped && i < json_object_array_length(seats); i++) {
        struct json_object *s = json_object_array_get_idx(seats, i);
        const char *st = t_json_str(s, "status");
        if (json_object_object_length(s) != 3 || t_json_int(s, "seatNo") != (int64_t)i + 1 ||
            t_json_int(s, "price") != price || !st)
            *shaped = 0;
        else if (strlen(out) + strlen(st) + 2 < cap)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", st);
    }
}

int main(void)
{
    struct t_resp r;
    char body[1024], when[32], past[32], path[96], u[4][37], summary[2048];
    int64_t ids[3], other_ids[1], concert_id, other_id;
    char *active, *waiting, *other_active;
    int shaped, setup = 0;

    t_init();
    t_time_from_now(86400, when);
    t_time_from_now(2 * 86400, past);   /* moved into the past below (admin takes only shows to come) */
    snprintf(body, sizeof body,
             "{\"title\":\"Seats story\",\"activeLimit\":1,\"schedules\":["
             "{\"startsAt\":\"%s\",\"seatCount\":5,\"price\":7000},"
             "{\"startsAt\":\"%s\"},"
             "{\"startsAt\":\"%s\",\"seatCount\":1,\"price\":5}]}", when, when, past);
    concert_id = t_create_concert_json(body, ids, 3);
    if (concert_id < 0)
        bail_out("cannot create a concert through the admin API");
    other_id = t_create_concert_or_bail(50, 600, 600, 300, 1, 10, 1000, other_ids);
    active = t_active_user(concert_id, u[0]);
    waiting = t_queued_user(concert_id, u[1]);
    other_active = t_active_user(other_id, u[2]);

    setup |= t_move_show(ids[2], "1 hour");
    setup |= t_set_seat(ids[0], 1, "HELD", "10 minutes");
    setup |= t_set_seat(ids[0], 2, "HELD", "-1 second");
    setup |= t_set_seat(ids[0], 3, "SOLD", NULL);
    ok(setup == 0 && active && waiting && other_active, "seats and tokens set up");

    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", ids[0]);
    t_get(path, active, &r);
    is_int(r.status, 200, "with an ACTIVE token of the concert: 200");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "answer is JSON");
    is_int(t_json_int(r.json, "scheduleId"), ids[0], "scheduleId");
    is_int(t_json_int(r.json, "concertId"), concert_id, "concertId");
    is_int(json_object_object_length(r.json), 3, "exactly scheduleId, concertId and seats");
    seat_summary(r.json, 7000, summary, sizeof summary, &shaped);
    ok(shaped, "every seat is {seatNo, price, status}, by seatNo from 1, at 7000");
    is(summary, "HELD,AVAILABLE,SOLD,AVAILABLE,AVAILABLE",
       "a live hold is HELD, a run-out hold AVAILABLE, a sale SOLD");
    t_resp_free(&r);

    /* A hold that runs out between two reads. */
    t_set_seat(ids[0], 4, "HELD", "1 second");
    t_get(path, active, &r);
    seat_summary(r.json, 7000, summary, sizeof summary, &shaped);
    is(summary, "HELD,AVAILABLE,SOLD,HELD,AVAILABLE", "a hold with a second to go is HELD");
    t_resp_free(&r);
    t_sleep_ms(1200);
    t_get(path, active, &r);
    seat_summary(r.json, 7000, summary, sizeof summary, &shaped);
    is(summary, "HELD,AVAILABLE,SOLD,AVAILABLE,AVAILABLE", "a moment later it reads AVAILABLE, with no cron run");
    t_resp_free(&r);
    t_set_seat(ids[0], 2, "AVAILABLE", NULL);

    /* The default-size show: seats 1..seatCount (the config's default) in order. */
    {
        char sid[24];
        const char *p1[] = {sid};
        int64_t price, count;
        snprintf(sid, sizeof sid, "%" PRId64, ids[1]);
        price = t_pg_int("SELECT price FROM seats WHERE schedule_id = $1 AND seat_no = 1", 1, p1);
        count = t_pg_int("SELECT seat_count FROM schedules WHERE id = $1", 1, p1);
        snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", ids[1]);
        t_get(path, active, &r);
        seat_summary(r.json, price, summary, sizeof summary, &shaped);
        ok(r.status == 200 && shaped, "a default show: every seat in seatNo order at the default price");
        is_int(t_json_at(r.json, "seats") ? (int64_t)json_object_array_length(t_json_at(r.json, "seats")) : -1,
               count, "as many seats as the show has (%" PRId64 ")", count);
        t_resp_free(&r);
    }

    /* A past show still shows its seat map. */
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", ids[2]);
    t_get(path, active, &r);
    ok(r.status == 200 && t_json_int(r.json, "seats.0.price") == 5, "a past show's seats can still be read");
    t_resp_free(&r);

    /* --- who may look -------------------------------------------------- */
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", ids[0]);
    expect_error(path, NULL, 401, "TOKEN_MISSING", "no token");
    expect_error(path, "1.2", 401, "TOKEN_INVALID", "a malformed token");
    expect_error(path, waiting, 403, "TOKEN_NOT_ACTIVE", "a waiting token of the concert");
    expect_error(path, other_active, 403, "TOKEN_WRONG_CONCERT", "an ACTIVE token of another concert");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", other_ids[0]);
    expect_error(path, active, 403, "TOKEN_WRONG_CONCERT", "the other concert's show with this concert's token");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", (int64_t)INT64_MAX);
    expect_error(path, active, 404, "NOT_FOUND", "a show that does not exist");
    expect_error("/api/v1/schedules/0/seats", active, 400, "INVALID_REQUEST", "schedule id 0");
    expect_error("/api/v1/schedules/-5/seats", active, 400, "INVALID_REQUEST", "schedule id -5");
    expect_error("/api/v1/schedules/x/seats", active, 400, "INVALID_REQUEST", "schedule id x");
    expect_error("/api/v1/schedules/007/seats", active, 400, "INVALID_REQUEST", "schedule id 007");
    expect_error("/api/v1/schedules/18446744073709551616/seats", active, 400, "INVALID_REQUEST",
                 "schedule id beyond 64 bits");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", ids[0]);
    ok(t_answers_405("POST", path, active, "{}", "GET"), "POST to seats: 405, Allow: GET");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64, ids[0]);
    expect_error(path, active, 404, "NOT_FOUND", "a schedule without /seats");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats/1", ids[0]);
    expect_error(path, active, 404, "NOT_FOUND", "a path below seats");

    free(active);
    free(waiting);
    free(other_active);
    return done_testing();
}
