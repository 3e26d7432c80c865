/* 40-hold: users hold seats, see their reservations and cancel them.
 *
 * The story: user A holds two seats (given out of order) and gets 201 with
 * the seats sorted, their summed price and an expiry holdSeconds ahead;
 * both seats read HELD by that reservation (kept in Redis until it is paid,
 * shared/hold.h) and Redis holds a lock per seat. User B asking for one of them plus a free one gets 409
 * SEAT_UNAVAILABLE and holds nothing (all or nothing). A may hold 4 seats of
 * a schedule (HOLD_LIMIT beyond) but more on another. Every malformed or
 * unauthorised hold is refused with its contract code and changes nothing.
 * A's list shows the holds newest first. Cancelling is for the owner only
 * (404 for others): the seats are AVAILABLE at once and B can hold one
 * straight away; a second cancel answers the same 200 again (and leaves B's
 * seat alone: t/63 tells that story). With a seat's Redis lock wiped, the
 * hold's mark on the seat map still refuses to hold it twice. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

static int64_t count_reservations(int64_t schedule_id)
{
    return bk_reservation_count(schedule_id);
}

static int64_t count_held(int64_t schedule_id)
{
    return bk_held_count(schedule_id, 10);
}

/* Posts a raw hold body and expects status and code. */
static void refused(const char *token, const char *body, long status, const char *code, const char *what)
{
    struct t_resp r;

    t_post("/api/v1/reservations", token, body, &r);
    ok(r.status == status && strcmp(t_error_code(&r), code) == 0, "%s: %ld %s (%ld %.160s)", what, status,
       code, r.status, r.body ? r.body : "");
    t_resp_free(&r);
}

static long long redis_exists(const char *key)
{
    const char *argv[] = {"EXISTS", key};

    return t_redis_int(2, argv);
}

int main(void)
{
    struct t_resp r, cancelled;
    int64_t sched[2], osched[1], concert, other, waiting_concert, wsched[1];
    int64_t a1, a2, a3, b1, before_res, before_held;
    char userA[37], userB[37], userX[37], userY[37], body[512], path[160], key[128];
    char *tokA, *tokB, *tokO, *tokAO, *tokX, *tokY;

    t_init();

    concert = t_create_concert_or_bail(50, 600, 600, 300, 2, 10, 1000, sched);
    other = t_create_concert_or_bail(50, 600, 600, 300, 1, 5, 500, osched);
    waiting_concert = t_create_concert_or_bail(1, 600, 600, 300, 1, 5, 500, wsched);
    tokA = t_active_user(concert, userA);
    tokB = t_active_user(concert, userB);
    tokO = t_active_token(other, userB);
    tokAO = t_active_token(other, userA);
    tokX = t_active_user(waiting_concert, userX);
    tokY = t_queued_user(waiting_concert, userY);
    if (!tokA || !tokB || !tokO || !tokAO || !tokX || !tokY)
        bail_out("cannot get queue tokens (queue API)");

    step("A holds two seats");
    /* A holds seats 3 and 1. */
    {
        int seats[] = {3, 1};
        long st = bk_hold(tokA, sched[0], seats, 2, &r);
        ok(st == 201, "A holds seats 3 and 1: 201 (%ld %s)", st, r.body ? r.body : "");
        a1 = t_json_int(r.json, "reservationId");
        ok(a1 > 0, "reservationId %" PRId64, a1);
        is_int(t_json_int(r.json, "scheduleId"), sched[0], "scheduleId echoed");
        is_int(t_json_int(r.json, "seatNos.0"), 1, "seatNos sorted: 1 first");
        is_int(t_json_int(r.json, "seatNos.1"), 3, "then 3");
        ok(t_json_at(r.json, "seatNos.2") == NULL, "two seats");
        is_int(t_json_int(r.json, "amount"), 2000, "amount is the seats' summed price");
        is(t_json_str(r.json, "status"), "HELD", "status HELD");
        ok(t_json_str(r.json, "expiresAt") && strlen(t_json_str(r.json, "expiresAt")) == 20,
           "expiresAt is an RFC 3339 UTC time (%s)", t_json_str(r.json, "expiresAt"));
        ok(strncmp(r.content_type, "application/json", 16) == 0, "JSON content type");
        t_resp_free(&r);
    }
    /* A hold lives in Redis until it is paid (shared/hold.h). */
    bk_is(bk_seat(sched[0], 1), "HELD", "seat 1 HELD");
    bk_is(bk_seat(sched[0], 3), "HELD", "seat 3 HELD");
    ok(bk_seat_holder(sched[0], 1) == a1 && bk_seat_holder(sched[0], 3) == a1, "both seats belong to the reservation");
    {
        char *rec = bk_hold_record(a1), f[40];
        struct timespec now;
        int64_t secs = -1;

        clock_gettime(CLOCK_REALTIME, &now);
        if (rec) {
            bk_record_field(rec, 4, f, sizeof f);
            secs = (atoll(f) - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000)) / 1000;
        }
        ok(secs >= 298 && secs <= 301, "the hold lasts holdSeconds (%" PRId64 " s left)", secs);
        if (rec)
            bk_record_field(rec, 0, f, sizeof f);
        is(rec ? f : "", userA, "the reservation is A's");
        if (rec)
            bk_record_field(rec, 5, f, sizeof f);
        ok(rec && strlen(f) == 32, "the Redis lock owner is stored with the reservation");
        free(rec);
    }
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":1", concert, sched[0]);
    is_int(redis_exists(key), 1, "Redis holds a lock for seat 1");

    step("B: one seat taken, one free");
    /* B: one seat taken, one free: nothing held. */
    {
        int seats[] = {3, 4};
        long st = bk_hold(tokB, sched[0], seats, 2, &r);
        ok(st == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0, "B asking for 3 and 4: 409 SEAT_UNAVAILABLE (%ld)", st);
        t_resp_free(&r);
    }
    bk_is(bk_seat(sched[0], 4), "AVAILABLE", "seat 4 stays AVAILABLE (all or nothing)");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":4", concert, sched[0]);
    is_int(redis_exists(key), 0, "and unlocked in Redis");
    {
        int seats[] = {4, 5};
        b1 = bk_hold_id(tokB, sched[0], seats, 2);
        ok(b1 > 0, "B holds 4 and 5");
    }

    step("the per-user limit");
    /* The per-user limit: 4 seats per schedule. */
    {
        int six[] = {6, 7}, eight[] = {8}, other_show[] = {1};
        a2 = bk_hold_id(tokA, sched[0], six, 2);
        ok(a2 > 0, "A holds 6 and 7 (4 seats now)");
        long st = bk_hold(tokA, sched[0], eight, 1, &r);
        ok(st == 409 && strcmp(t_error_code(&r), "HOLD_LIMIT") == 0,
           "a fifth seat: 409 HOLD_LIMIT (%ld %s)", st, t_error_code(&r));
        t_resp_free(&r);
        bk_is(bk_seat(sched[0], 8), "AVAILABLE", "seat 8 stays AVAILABLE");
        a3 = bk_hold_id(tokA, sched[1], other_show, 1);
        ok(a3 > 0, "the limit is per schedule: A holds a seat of the other show");
    }

    step("refusals change nothing");
    before_res = count_reservations(sched[0]);
    before_held = count_held(sched[0]);
    snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[9]}", sched[0]);
    refused(NULL, body, 401, "TOKEN_MISSING", "no token");
    refused("1.00000000000000000000000000000000", body, 401, "TOKEN_INVALID", "unknown token");
    refused("forged", body, 401, "TOKEN_INVALID", "malformed token");
    refused(tokO, body, 403, "TOKEN_WRONG_CONCERT", "token of another concert");
    snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[1]}", wsched[0]);
    refused(tokY, body, 403, "TOKEN_NOT_ACTIVE", "waiting token");
    refused(tokA, "{\"scheduleId\":999999999,\"seatNos\":[1]}", 404, "NOT_FOUND", "unknown schedule");
    refused(tokY, "{\"scheduleId\":999999999,\"seatNos\":[1]}", 403, "TOKEN_NOT_ACTIVE",
            "waiting token, unknown schedule: the token is refused first");
    snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[9,11]}", sched[0]);
    refused(tokB, body, 404, "NOT_FOUND", "seat 11 of a 10-seat show");
    snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[9223372036854775807]}", sched[0]);
    refused(tokB, body, 404, "NOT_FOUND", "seat 2^63-1");
    {
        static const char *const bad_seats[] = {
            "[0]", "[-1]", "[99999999999999999999]", "[9,9]", "[]", "[1,2,8,9,10]", "\"9\"", "[\"9\"]", "[9.5]", "[null]", "{}", "null",
        };
        for (size_t i = 0; i < sizeof bad_seats / sizeof bad_seats[0]; i++) {
            char what[96];
            snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":%s}", sched[0], bad_seats[i]);
            snprintf(what, sizeof what, "seatNos %s", bad_seats[i]);
            refused(tokB, body, 400, "INVALID_REQUEST", what);
        }
    }
    refused(tokB, "{\"seatNos\":[9]}", 400, "INVALID_REQUEST", "no scheduleId");
    refused(tokB, "{\"scheduleId\":0,\"seatNos\":[9]}", 400, "INVALID_REQUEST", "scheduleId 0");
    snprintf(body, sizeof body, "{\"scheduleId\":\"%" PRId64 "\",\"seatNos\":[9]}", sched[0]);
    refused(tokB, body, 400, "INVALID_REQUEST", "scheduleId as a string");
    snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 "}", sched[0]);
    refused(tokB, body, 400, "INVALID_REQUEST", "no seatNos");
    snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[9],\"userId\":\"%s\"}", sched[0], userA);
    refused(tokB, body, 400, "INVALID_REQUEST", "unknown field");
    refused(tokB, "{\"scheduleId\":1,", 400, "INVALID_REQUEST", "malformed JSON");
    refused(tokB, "[1,2]", 400, "INVALID_REQUEST", "a JSON array body");
    refused(tokB, NULL, 400, "INVALID_REQUEST", "no body");
    is_int(count_reservations(sched[0]), before_res, "refused holds created no reservation");
    is_int(count_held(sched[0]), before_held, "and held no seat");
    bk_is(bk_seat(sched[0], 9), "AVAILABLE", "seat 9 is still AVAILABLE");

    ok(t_answers_error("GET", "/api/v1/reservations", tokA, NULL, 405, "METHOD_NOT_ALLOWED"), "GET /reservations: 405");
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, a1);
    t_request("PUT", path, NULL, "{}", &r);
    ok(r.status == 405, "PUT /reservations/{id}: 405 (%ld)", r.status);
    t_resp_free(&r);

    step("A's list");
    /* A's list, newest first. */
    snprintf(path, sizeof path, "/api/v1/users/%s/reservations", userA);
    ok(t_get_as(userA, path, &r) == 0 && r.status == 200, "A's reservations, with A's session: 200");
    is_int(t_json_int(r.json, "reservations.0.reservationId"), a3, "newest first");
    is_int(t_json_int(r.json, "reservations.1.reservationId"), a2, "then the one before");
    is_int(t_json_int(r.json, "reservations.2.reservationId"), a1, "then the first");
    ok(t_json_at(r.json, "reservations.3") == NULL, "three in all");
    is_int(t_json_int(r.json, "reservations.2.concertId"), concert, "concertId");
    is_int(t_json_int(r.json, "reservations.2.scheduleId"), sched[0], "scheduleId");
    is_int(t_json_int(r.json, "reservations.2.seatNos.1"), 3, "seatNos");
    is_int(t_json_int(r.json, "reservations.2.amount"), 2000, "amount");
    is(t_json_str(r.json, "reservations.2.status"), "HELD", "status HELD");
    ok(t_json_str(r.json, "reservations.2.expiresAt") != NULL, "expiresAt");
    ok(t_json_at(r.json, "reservations.2.paidAt") == NULL &&
       json_object_object_get_ex(t_json_at(r.json, "reservations.2"), "paidAt", NULL), "paidAt is null");
    t_resp_free(&r);
    {
        char nobody[37];
        t_user(nobody);
        snprintf(path, sizeof path, "/api/v1/users/%s/reservations", nobody);
        t_get_as(nobody, path, &r);
        ok(r.status == 200 && t_json_at(r.json, "reservations") &&
           json_object_array_length(t_json_at(r.json, "reservations")) == 0, "a user with none: empty list (%s)", r.body);
        t_resp_free(&r);
    }
    ok(t_answers_error("GET", "/api/v1/users/NOT-A-UUID/reservations", t_session(userA), NULL, 400, "INVALID_REQUEST"),
       "bad userId: 400");

    step("cancelling");
    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, a1);
    ok(t_answers_error("DELETE", path, tokB, NULL, 404, "NOT_FOUND"), "B cancelling A's hold: 404");
    ok(t_answers_error("DELETE", path, tokAO, NULL, 403, "TOKEN_WRONG_CONCERT"),
       "A cancelling with a token of another concert: 403 TOKEN_WRONG_CONCERT");
    ok(t_answers_error("DELETE", path, NULL, NULL, 401, "TOKEN_MISSING"), "cancelling without a token: 401");
    ok(t_answers_error("DELETE", "/api/v1/reservations/999999999", tokA, NULL, 404, "NOT_FOUND"),
       "unknown reservation: 404");
    ok(t_answers_error("DELETE", "/api/v1/reservations/abc", tokA, NULL, 400, "INVALID_REQUEST"),
       "bad reservation id: 400");
    bk_is(bk_status(a1), "HELD", "still HELD after refused cancels");

    t_delete(path, tokA, &cancelled);
    ok(cancelled.status == 200, "A cancels: 200 (%ld %s)", cancelled.status, cancelled.body ? cancelled.body : "");
    is(t_json_str(cancelled.json, "status"), "CANCELLED", "status CANCELLED");
    is_int(t_json_int(cancelled.json, "reservationId"), a1, "the cancelled reservation");
    bk_is(bk_status(a1), "CANCELLED", "CANCELLED where it is kept");
    bk_is(bk_seat(sched[0], 1), "AVAILABLE", "seat 1 AVAILABLE at once");
    bk_is(bk_seat(sched[0], 3), "AVAILABLE", "seat 3 AVAILABLE at once");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":1", concert, sched[0]);
    is_int(redis_exists(key), 0, "seat 1's Redis lock is released");
    {
        int one[] = {1};
        ok(bk_hold_id(tokB, sched[0], one, 1) > 0, "B holds seat 1 right away");
    }
    t_delete(path, tokA, &r);
    ok(r.status == 200 && r.body && cancelled.body && strcmp(r.body, cancelled.body) == 0,
       "cancelling again: the same 200 (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    t_resp_free(&cancelled);
    {
        int eight[] = {8};
        ok(bk_hold_id(tokA, sched[0], eight, 1) > 0, "the cancelled seats no longer count against A's limit");
    }
    snprintf(path, sizeof path, "/api/v1/users/%s/reservations", userA);
    t_get_as(userA, path, &r);
    is(t_json_str(r.json, "reservations.3.status"), "CANCELLED", "A's list shows the cancelled hold");
    t_resp_free(&r);

    step("Redis loses a lock");
    /* Redis loses a lock: the hold's mark still guards the seat. */
    snprintf(key, sizeof key, "{c:%" PRId64 "}:seat:%" PRId64 ":6", concert, sched[0]);
    {
        const char *del[] = {"DEL", key};
        int six[] = {6};
        long st;
        t_redis_cmd(2, del);
        st = bk_hold(tokB, sched[0], six, 1, &r);
        ok(st == 409 && strcmp(t_error_code(&r), "SEAT_UNAVAILABLE") == 0,
           "seat 6 with its Redis lock gone: still 409, from its hold's mark on the seat map (%ld)", st);
        t_resp_free(&r);
        is_int(bk_seat_holder(sched[0], 6), a2, "seat 6 still A's");
        is_int(redis_exists(key), 0, "B's lock on seat 6 was given back");
    }

    free(tokA);
    free(tokB);
    free(tokO);
    free(tokAO);
    free(tokX);
    free(tokY);
    return done_testing();
}
