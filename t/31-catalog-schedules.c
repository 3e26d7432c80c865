/* 31-catalog-schedules: an admitted user sees the shows still to come that
 * have a seat left.
 *
 * The story: a concert has five shows given out of order - one already
 * past (moved there in PostgreSQL: the admin API takes only shows to
 * come), one sold out, one whose seats are all held but whose holds have run
 * out, and two ordinary ones. With an ACTIVE token of that concert, GET
 * /api/v1/concerts/{id}/schedules lists exactly the three future shows with
 * a seat, soonest first, each with startsAt as given (UTC), totalSeats and
 * availableSeats (a live hold and a sale count as taken; a run-out hold as
 * free, whether or not the cron program has run). Without a token: 401
 * TOKEN_MISSING; a bad token: 401 TOKEN_INVALID; a waiting token: 403
 * TOKEN_NOT_ACTIVE; a token of another concert: 403 TOKEN_WRONG_CONCERT; a
 * malformed id: 400. A concert with nothing left to sell lists []. */
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

int main(void)
{
    struct t_resp r;
    char body[2048], t_past[32], t1[32], t2[32], t3[32], t4[32], path[96], u[4][37];
    int64_t ids[5], other_ids[1], concert_id, other_id;
    char *active, *waiting, *other_active, *other_waiting;
    int setup = 0;

    t_init();
    t_time_from_now(5 * 86400, t_past);   /* moved into the past below */
    t_time_from_now(1 * 86400, t1);
    t_time_from_now(2 * 86400, t2);
    t_time_from_now(3 * 86400, t3);
    t_time_from_now(4 * 86400, t4);
    /* Given out of order: +3d, past, +1d, +2d (to sell out), +4d (all held, run out). */
    snprintf(body, sizeof body,
             "{\"title\":\"Schedules story\",\"activeLimit\":1,\"schedules\":["
             "{\"startsAt\":\"%s\",\"seatCount\":4,\"price\":10},"
             "{\"startsAt\":\"%s\",\"seatCount\":2},"
             "{\"startsAt\":\"%s\",\"seatCount\":3},"
             "{\"startsAt\":\"%s\",\"seatCount\":2},"
             "{\"startsAt\":\"%s\",\"seatCount\":2}]}", t3, t_past, t1, t2, t4);
    concert_id = t_create_concert_json(body, ids, 5);
    snprintf(body, sizeof body, "{\"title\":\"Other\",\"activeLimit\":1,\"schedules\":[{\"startsAt\":\"%s\"}]}", t1);
    other_id = t_create_concert_json(body, other_ids, 1);
    if (concert_id < 0 || other_id < 0)
        bail_out("cannot create concerts through the admin API");
    active = t_active_user(concert_id, u[0]);
    waiting = t_queued_user(concert_id, u[1]);
    other_active = t_active_user(other_id, u[2]);
    other_waiting = t_queued_user(other_id, u[3]);

    setup |= t_move_show(ids[1], "1 day");   /* the past show: one day ago */
    /* +3d: seat 1 held (live), seat 2 sold -> 2 of 4 free.
     * +2d: both sold -> left out. +4d: both held, run out -> 2 of 2 free. */
    setup |= t_set_seat(ids[0], 1, "HELD", "10 minutes");
    setup |= t_set_seat(ids[0], 2, "SOLD", NULL);
    setup |= t_set_seat(ids[3], 1, "SOLD", NULL);
    setup |= t_set_seat(ids[3], 2, "SOLD", NULL);
    setup |= t_set_seat(ids[4], 1, "HELD", "-1 second");
    setup |= t_set_seat(ids[4], 2, "HELD", "-1 hour");
    ok(setup == 0 && active && waiting && other_active && other_waiting, "seats and tokens set up");

    snprintf(path, sizeof path, "/api/v1/concerts/%" PRId64 "/schedules", concert_id);
    t_get(path, active, &r);
    is_int(r.status, 200, "with an ACTIVE token of the concert: 200");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "answer is JSON");
    is_int(t_json_int(r.json, "concertId"), concert_id, "concertId");
    is_int(json_object_object_length(r.json), 2, "exactly concertId and schedules");
    ok(t_json_at(r.json, "schedules") && json_object_array_length(t_json_at(r.json, "schedules")) == 3,
       "three shows: the past and the sold-out ones are left out");
    is_int(t_json_int(r.json, "schedules.0.scheduleId"), ids[2], "first: the +1 day show");
    is(t_json_str(r.json, "schedules.0.startsAt"), t1, "its startsAt, in UTC");
    is_int(t_json_int(r.json, "schedules.0.totalSeats"), 3, "its totalSeats");
    is_int(t_json_int(r.json, "schedules.0.availableSeats"), 3, "all its seats free");
    is_int(json_object_object_length(t_json_at(r.json, "schedules.0")), 4,
           "each show has exactly scheduleId, startsAt, totalSeats, availableSeats");
    is_int(t_json_int(r.json, "schedules.1.scheduleId"), ids[0], "second: the +3 day show");
    is(t_json_str(r.json, "schedules.1.startsAt"), t3, "its startsAt");
    is_int(t_json_int(r.json, "schedules.1.totalSeats"), 4, "its totalSeats");
    is_int(t_json_int(r.json, "schedules.1.availableSeats"), 2, "a live hold and a sale are not available");
    is_int(t_json_int(r.json, "schedules.2.scheduleId"), ids[4], "third: the +4 day show, all holds run out");
    is_int(t_json_int(r.json, "schedules.2.availableSeats"), 2, "run-out holds count as available at once");
    t_resp_free(&r);

    /* The last free seat of +1 day sells: it drops out of the list. */
    t_set_seat(ids[2], 1, "SOLD", NULL);
    t_set_seat(ids[2], 2, "SOLD", NULL);
    t_set_seat(ids[2], 3, "HELD", "5 minutes");
    t_get(path, active, &r);
    ok(t_json_at(r.json, "schedules") && json_object_array_length(t_json_at(r.json, "schedules")) == 2 &&
       t_json_int(r.json, "schedules.0.scheduleId") == ids[0],
       "a show whose last seat is taken (sold or held) leaves the list");
    t_resp_free(&r);
    /* ... and comes back when that hold runs out. */
    t_set_seat(ids[2], 3, "HELD", "-1 second");
    t_get(path, active, &r);
    ok(t_json_int(r.json, "schedules.0.scheduleId") == ids[2] && t_json_int(r.json, "schedules.0.availableSeats") == 1,
       "and is back with 1 available once the hold has run out");
    t_resp_free(&r);

    /* A concert with nothing to sell: an empty list. */
    {
        char other_path[96];
        char sid[24];
        const char *p[] = {sid};
        snprintf(sid, sizeof sid, "%" PRId64, other_ids[0]);
        free(t_pg_value("UPDATE seats SET status = 'SOLD', reservation_id = 0, held_until = NULL"
                        " WHERE schedule_id = $1 RETURNING seat_no", 1, p));
        snprintf(other_path, sizeof other_path, "/api/v1/concerts/%" PRId64 "/schedules", other_id);
        t_get(other_path, other_active, &r);
        ok(r.status == 200 && t_json_at(r.json, "schedules") &&
           json_object_is_type(t_json_at(r.json, "schedules"), json_type_array) &&
           json_object_array_length(t_json_at(r.json, "schedules")) == 0,
           "a sold-out concert: 200 with schedules [] (%s)", r.body ? r.body : "");
        t_resp_free(&r);
    }

    /* --- who may look -------------------------------------------------- */
    expect_error(path, NULL, 401, "TOKEN_MISSING", "no token");
    expect_error(path, "garbage", 401, "TOKEN_INVALID", "a garbage token");
    {
        char forged[80];
        snprintf(forged, sizeof forged, "%" PRId64 ".00000000000000000000000000000000", concert_id);
        expect_error(path, forged, 401, "TOKEN_INVALID", "a forged token of the concert");
    }
    expect_error(path, waiting, 403, "TOKEN_NOT_ACTIVE", "a waiting token of the concert");
    expect_error(path, other_active, 403, "TOKEN_WRONG_CONCERT", "an ACTIVE token of another concert");
    expect_error(path, other_waiting, 403, "TOKEN_WRONG_CONCERT", "a waiting token of another concert");
    snprintf(path, sizeof path, "/api/v1/concerts/%" PRId64 "/schedules", (int64_t)INT64_MAX);
    expect_error(path, active, 403, "TOKEN_WRONG_CONCERT", "a concert that does not exist, with a token of another");
    expect_error("/api/v1/concerts/0/schedules", active, 400, "INVALID_REQUEST", "concert id 0");
    expect_error("/api/v1/concerts/-1/schedules", active, 400, "INVALID_REQUEST", "concert id -1");
    expect_error("/api/v1/concerts/abc/schedules", active, 400, "INVALID_REQUEST", "concert id abc");
    expect_error("/api/v1/concerts/01/schedules", active, 400, "INVALID_REQUEST", "concert id with a leading zero");
    expect_error("/api/v1/concerts/99999999999999999999/schedules", active, 400, "INVALID_REQUEST",
                 "concert id beyond 64 bits");
    expect_error("/api/v1/concerts/1.5/schedules", active, 400, "INVALID_REQUEST", "concert id 1.5");
    snprintf(path, sizeof path, "/api/v1/concerts/%" PRId64 "/schedules", concert_id);
    ok(t_answers_405("POST", path, active, "{}", "GET"), "POST to schedules: 405, Allow: GET");
    snprintf(path, sizeof path, "/api/v1/concerts/%" PRId64 "/schedules/1", concert_id);
    expect_error(path, active, 404, "NOT_FOUND", "a path below schedules");

    free(active);
    free(waiting);
    free(other_active);
    free(other_waiting);
    return done_testing();
}
