/* 20-admin: an operator creates concerts through POST /api/v1/admin/concerts.
 *
 * The story: without the admin key, or with a wrong one, nothing happens
 * (401 TOKEN_MISSING / TOKEN_INVALID). With it, a concert with three shows
 * comes back 201 with its schedule ids in the order given, and PostgreSQL
 * holds exactly the concert, the shows (times in UTC, cut to whole seconds)
 * and every seat at its price. Fields left out take the config file's
 * defaults. Every malformed field is a 400 that creates nothing, and a
 * concert id polled before it existed opens its queue as soon as it is
 * created (the cached "no such concert" is dropped). PostgreSQL holds a
 * stored concert to the very bounds the API checks (shared/contract_limits.h),
 * so nothing written behind the API's back can hold what it refuses. */
#include "tap.h"
#include "testlib.h"
#include "config.h"
#include "contract_limits.h"

#include <inttypes.h>

static int admin_post(const char *key, const char *body, struct t_resp *r)
{
    char auth[400];
    const char *headers[] = {auth, NULL};

    if (!key)
        return t_request("POST", "/api/v1/admin/concerts", NULL, body, r);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    return t_request("POST", "/api/v1/admin/concerts", headers, body, r);
}

static int64_t concert_count(void)
{
    return t_pg_int("SELECT count(*) FROM concerts", 0, NULL);
}

/* Posts a body with the right key and expects 400 INVALID_REQUEST. */
static void bad(const char *body, const char *what)
{
    struct t_resp r;

    admin_post(t_admin_key(), body, &r);
    ok(r.status == 400 && strcmp(t_error_code(&r), "INVALID_REQUEST") == 0,
       "400 INVALID_REQUEST: %s (%ld %.200s)", what, r.status, r.body ? r.body : "");
    t_resp_free(&r);
}

/* A body with one schedule at the given startsAt and extra top fields. */
static void bad_with(const char *fields, const char *what)
{
    char body[1024], when[32];

    t_time_from_now(86400, when);
    snprintf(body, sizeof body, "{\"title\":\"t\",%s\"schedules\":[{\"startsAt\":\"%s\"}]}", fields, when);
    bad(body, what);
}

/* A body with one schedule whose fields are given. */
static void bad_schedule(const char *schedule, const char *what)
{
    char body[1024];

    snprintf(body, sizeof body, "{\"title\":\"t\",\"schedules\":[%s]}", schedule);
    bad(body, what);
}

static char *sched_value(const char *sql, int64_t schedule_id)
{
    char sid[24];
    const char *p[] = {sid};

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    return t_pg_value(sql, 1, p);
}

/* Checks one value sched_value reads (and frees it). */
static int sched_is(const char *sql, int64_t schedule_id, const char *want, const char *what)
{
    char *v = sched_value(sql, schedule_id);
    int pass = is(v, want, "%s", what);

    free(v);
    return pass;
}

int main(void)
{
    struct t_resp r;
    char body[24000], when1[32], when2[32], when3[32], idtext[24], key[300], *v;
    int64_t before, concert_id, ids[3];
    const char *params[1];

    t_init();
    if (config_load(&g_config) < 0)
        bail_out("cannot read the stack's config file (CONCERT_CONF)");

    t_time_from_now(3 * 86400, when1);
    t_time_from_now(1 * 86400, when2);
    t_time_from_now(2 * 86400, when3);
    snprintf(body, sizeof body,
             "{\"title\":\"Story concert\",\"venue\":\"Hall A\",\"activeLimit\":7,\"activeSeconds\":60,"
             "\"waitingIdleSeconds\":30,\"holdSeconds\":5,\"schedules\":["
             "{\"startsAt\":\"%s\",\"seatCount\":3,\"price\":1000},"
             "{\"startsAt\":\"%s\",\"seatCount\":2,\"price\":0},"
             "{\"startsAt\":\"%s\"}]}", when1, when2, when3);

    step("the key");
    before = concert_count();
    admin_post(NULL, body, &r);
    is_int(r.status, 401, "no key: 401");
    is(t_error_code(&r), "TOKEN_MISSING", "no key: TOKEN_MISSING");
    t_resp_free(&r);
    admin_post("not-the-admin-key", body, &r);
    is_int(r.status, 401, "wrong key: 401");
    is(t_error_code(&r), "TOKEN_INVALID", "wrong key: TOKEN_INVALID");
    t_resp_free(&r);
    snprintf(key, sizeof key, "%sx", t_admin_key());
    admin_post(key, body, &r);
    ok(r.status == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0, "the key plus one character: 401 TOKEN_INVALID");
    t_resp_free(&r);
    snprintf(key, sizeof key, "%.*s", (int)strlen(t_admin_key()) - 1, t_admin_key());
    admin_post(key, body, &r);
    ok(r.status == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0, "the key less one character: 401 TOKEN_INVALID");
    t_resp_free(&r);
    {
        char auth[400];
        const char *headers[] = {auth, NULL};
        snprintf(auth, sizeof auth, "Authorization: Basic %s", t_admin_key());
        t_request("POST", "/api/v1/admin/concerts", headers, body, &r);
        ok(r.status == 401 && strcmp(t_error_code(&r), "TOKEN_MISSING") == 0,
           "a non-Bearer Authorization: 401 TOKEN_MISSING");
        t_resp_free(&r);
    }
    admin_post(NULL, "{not json", &r);
    is_int(r.status, 401, "the key is checked before the body: 401 for bad JSON without a key");
    t_resp_free(&r);
    is_int(concert_count(), before, "refused requests created nothing");

    step("a full concert");
    admin_post(t_admin_key(), body, &r);
    is_int(r.status, 201, "with the key: 201");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "answer is JSON");
    concert_id = t_json_int(r.json, "concertId");
    ok(concert_id > 0, "concertId is a positive integer (%" PRId64 ")", concert_id);
    ok(t_json_at(r.json, "scheduleIds") && json_object_array_length(t_json_at(r.json, "scheduleIds")) == 3,
       "three scheduleIds");
    ids[0] = t_json_int(r.json, "scheduleIds.0");
    ids[1] = t_json_int(r.json, "scheduleIds.1");
    ids[2] = t_json_int(r.json, "scheduleIds.2");
    t_resp_free(&r);
    ok(ids[0] > 0 && ids[1] > ids[0] && ids[2] > ids[1], "schedule ids rise in the order given");
    snprintf(idtext, sizeof idtext, "%" PRId64, concert_id);
    params[0] = idtext;
    is_int(t_pg_int("SELECT count(*) FROM concerts WHERE id = $1 AND title = 'Story concert' AND venue = 'Hall A'"
                    " AND active_limit = 7 AND active_seconds = 60 AND waiting_idle_seconds = 30 AND hold_seconds = 5",
                    1, params), 1, "the concert row holds every field");
#define STARTS "SELECT to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM schedules WHERE id = $1"
    sched_is(STARTS, ids[0], when1, "the first schedule is the first given");
    sched_is(STARTS, ids[1], when2, "the second schedule is the second given");
    sched_is(STARTS, ids[2], when3, "the third schedule is the third given");
    is_int(t_pg_int("SELECT count(*) FROM schedules WHERE concert_id = $1", 1, params), 3, "three schedules stored");
    is_int(t_pg_int("SELECT count(*) FROM seats JOIN schedules s ON s.id = schedule_id WHERE s.concert_id = $1",
                    1, params), 3 + 2 + g_config.seat_count, "every seat stored (3 + 2 + the default count)");
    is_int(t_pg_int("SELECT count(*) FROM seats JOIN schedules s ON s.id = schedule_id WHERE s.concert_id = $1"
                    " AND status = 'AVAILABLE' AND reservation_id IS NULL AND held_until IS NULL", 1, params),
           3 + 2 + g_config.seat_count, "every seat starts AVAILABLE");
#define SEATS "SELECT string_agg(seat_no || ':' || price, ',' ORDER BY seat_no) FROM seats WHERE schedule_id = $1"
    v = sched_value(SEATS, ids[0]);
    is(v, "1:1000,2:1000,3:1000", "seats 1..3 of the first show at its price");
    free(v);
    v = sched_value(SEATS, ids[1]);
    is(v, "1:0,2:0", "a price of 0 is allowed");
    free(v);
    v = sched_value("SELECT count(*) || '/' || min(seat_no) || '-' || max(seat_no) || '/' || min(price) || '-' || max(price)"
                    " FROM seats WHERE schedule_id = $1", ids[2]);
    {
        char want[96];
        snprintf(want, sizeof want, "%ld/1-%ld/%ld-%ld", g_config.seat_count, g_config.seat_count,
                 g_config.price, g_config.price);
        is(v, want, "a schedule without seatCount and price takes the defaults (%s)", want);
    }
    free(v);

    step("defaults and edge values");
    snprintf(body, sizeof body, "{\"title\":\"Defaults\",\"schedules\":[{\"startsAt\":\"%s\"}]}", when1);
    admin_post(t_admin_key(), body, &r);
    is_int(r.status, 201, "only title and one schedule: 201");
    snprintf(idtext, sizeof idtext, "%" PRId64, t_json_int(r.json, "concertId"));
    t_resp_free(&r);
    {
        char sql[] = "SELECT venue || '|' || active_limit || '|' || active_seconds || '|' || waiting_idle_seconds"
                     " || '|' || hold_seconds FROM concerts WHERE id = $1";
        char want[128];
        snprintf(want, sizeof want, "|%ld|%ld|%ld|%ld", g_config.active_limit, g_config.active_seconds,
                 g_config.waiting_idle_seconds, g_config.hold_seconds);
        v = t_pg_value(sql, 1, params);
        is(v, want, "venue is empty and the queue settings are the config defaults (%s)", want);
        free(v);
    }

    snprintf(body, sizeof body,
             "{\"title\":\"Offsets\",\"activeLimit\":1000000,\"activeSeconds\":86400,\"waitingIdleSeconds\":10,"
             "\"holdSeconds\":3600,\"schedules\":[{\"startsAt\":\"2031-05-01T09:30:00.75+09:00\",\"seatCount\":1000,"
             "\"price\":1000000000},{\"startsAt\":\"2031-05-01T00:30:00-01:30\",\"seatCount\":1},"
             "{\"startsAt\":\"2031-05-01t00:30:00-15:59\",\"seatCount\":1}]}");
    admin_post(t_admin_key(), body, &r);
    is_int(r.status, 201, "extreme but allowed values: 201");
    ids[0] = t_json_int(r.json, "scheduleIds.0");
    ids[1] = t_json_int(r.json, "scheduleIds.1");
    ids[2] = t_json_int(r.json, "scheduleIds.2");
    t_resp_free(&r);
    sched_is(STARTS, ids[0], "2031-05-01T00:30:00Z",
             "a +09:00 time with a fraction is stored in UTC, cut to whole seconds");
    sched_is(STARTS, ids[1], "2031-05-01T02:00:00Z", "a -01:30 time is stored in UTC");
    sched_is(STARTS, ids[2], "2031-05-01T16:29:00Z", "a -15:59 time in lower case (t) is stored in UTC");
    sched_is("SELECT count(*) FROM seats WHERE schedule_id = $1 AND price = 1000000000", ids[0], "1000",
             "1000 seats at the top price");

    {
        /* 200 Korean characters are 600 bytes but 200 characters. */
        char title[700] = "";
        for (int i = 0; i < 200; i++)
            strcat(title, "가");
        snprintf(body, sizeof body, "{\"title\":\"%s\",\"venue\":\"%s\",\"schedules\":[{\"startsAt\":\"%s\"}]}",
                 title, title, when1);
        admin_post(t_admin_key(), body, &r);
        is_int(r.status, 201, "a 200-character Korean title and venue: 201");
        t_resp_free(&r);
        strcat(title, "가");
        snprintf(body, sizeof body, "{\"title\":\"%s\",\"schedules\":[{\"startsAt\":\"%s\"}]}", title, when1);
        bad(body, "a 201-character title");
    }
    {
        /* The most schedules allowed, and one more. */
        size_t len;
        snprintf(body, sizeof body, "{\"title\":\"Hundred\",\"schedules\":[");
        for (int i = 0; i < 100; i++) {
            len = strlen(body);
            snprintf(body + len, sizeof body - len, "%s{\"startsAt\":\"%s\",\"seatCount\":1}", i ? "," : "", when1);
        }
        len = strlen(body);
        snprintf(body + len, sizeof body - len, "]}");
        admin_post(t_admin_key(), body, &r);
        is_int(r.status, 201, "100 schedules: 201");
        ok(t_json_at(r.json, "scheduleIds") && json_object_array_length(t_json_at(r.json, "scheduleIds")) == 100,
           "100 schedule ids");
        t_resp_free(&r);
        body[strlen(body) - 2] = '\0';
        len = strlen(body);
        snprintf(body + len, sizeof body - len, ",{\"startsAt\":\"%s\",\"seatCount\":1}]}", when1);
        bad(body, "101 schedules");
    }

    step("every malformed field: 400 and nothing created");
    before = concert_count();
    bad("{not json", "malformed JSON");
    bad("[]", "an array body");
    bad("", "an empty body");
    bad("{\"title\":\"t\",\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]} x", "data after the JSON");
    bad_with("\"extra\":1,", "an unknown field");
    bad("{\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "no title");
    bad("{\"title\":\"\",\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "an empty title");
    bad("{\"title\":\"   \",\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "a blank title");
    bad("{\"title\":\"a\\nb\",\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "a control character in title");
    bad("{\"title\":\"a\\u0000b\",\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "a NUL in title");
    bad("{\"title\":5,\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "a number as title");
    bad("{\"title\":null,\"schedules\":[{\"startsAt\":\"2030-01-01T00:00:00Z\"}]}", "a null title");
    bad_with("\"venue\":7,", "a number as venue");
    {
        char fields[300];
        snprintf(fields, sizeof fields, "\"venue\":\"%0201d\",", 0);
        bad_with(fields, "a 201-character venue");
    }
    bad_with("\"activeLimit\":0,", "activeLimit 0");
    bad_with("\"activeLimit\":1000001,", "activeLimit 1000001");
    bad_with("\"activeLimit\":\"5\",", "activeLimit as a string");
    bad_with("\"activeLimit\":1.5,", "activeLimit 1.5");
    bad_with("\"activeLimit\":99999999999999999999999,", "a huge activeLimit");
    bad_with("\"activeSeconds\":9,", "activeSeconds 9");
    bad_with("\"activeSeconds\":86401,", "activeSeconds 86401");
    bad_with("\"waitingIdleSeconds\":9,", "waitingIdleSeconds 9");
    bad_with("\"waitingIdleSeconds\":86401,", "waitingIdleSeconds 86401");
    bad_with("\"holdSeconds\":0,", "holdSeconds 0");
    bad_with("\"holdSeconds\":3601,", "holdSeconds 3601");
    bad_with("\"holdSeconds\":true,", "holdSeconds true");
    bad("{\"title\":\"t\"}", "no schedules");
    bad("{\"title\":\"t\",\"schedules\":[]}", "an empty schedules array");
    bad("{\"title\":\"t\",\"schedules\":{\"startsAt\":\"2030-01-01T00:00:00Z\"}}", "schedules as an object");
    bad_schedule("5", "a schedule that is a number");
    bad_schedule("{}", "a schedule without startsAt");
    bad_schedule("{\"startsAt\":\"2030-13-01T00:00:00Z\"}", "month 13");
    bad_schedule("{\"startsAt\":\"2030-02-30T00:00:00Z\"}", "30 February");
    bad_schedule("{\"startsAt\":\"2030-01-01 00:00:00\"}", "a time without T and offset");
    bad_schedule("{\"startsAt\":\"tomorrow\"}", "startsAt 'tomorrow'");
    bad_schedule("{\"startsAt\":1893456000}", "startsAt as a number");
    bad_schedule("{\"startsAt\":\"9999-12-31T23:59:59-10:00\"}", "a time past year 9999 in UTC");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00+16:00\"}", "an offset of +16:00");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00-23:59\"}", "an offset of -23:59");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"seatCount\":0}", "seatCount 0");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"seatCount\":1001}", "seatCount 1001");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"seatCount\":\"50\"}", "seatCount as a string");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"price\":-1}", "price -1");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"price\":1000000001}", "price 1000000001");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"price\":1e3}", "price 1e3");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\",\"room\":1}", "an unknown schedule field");
    bad_schedule("{\"startsAt\":\"2030-01-01T00:00:00Z\"},{\"startsAt\":\"x\"}", "a bad second schedule");
    is_int(concert_count(), before, "none of the malformed requests created a concert");

    step("paths, methods and size");
    ok(t_answers_405("GET", "/api/v1/admin/concerts", NULL, NULL, "POST"),
       "GET /api/v1/admin/concerts: 405 with Allow: POST");
    ok(t_answers_error("POST", "/api/v1/admin/nothing", NULL, "{}", 404, "NOT_FOUND"), "unknown admin path: JSON 404");
    {
        static char big[16 * 1024 + 64];
        memset(big, ' ', sizeof big - 1);
        big[0] = '{';
        big[sizeof big - 2] = '}';
        admin_post(t_admin_key(), big, &r);
        ok(r.status == 413 && strcmp(t_error_code(&r), "PAYLOAD_TOO_LARGE") == 0,
           "a body over 16 KiB: 413 PAYLOAD_TOO_LARGE (%ld)", r.status);
        t_resp_free(&r);
    }

    step("a concert id polled before it existed");
    {
        int64_t next = t_pg_int("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM concerts_id_seq",
                                0, NULL);
        char user[37], *tok;
        t_user(user);
        tok = t_issue_token(next, user, &r);
        ok(r.status == 404 && strcmp(t_error_code(&r), "NOT_FOUND") == 0, "a token for a concert not yet created: 404");
        free(tok);
        t_resp_free(&r);
        snprintf(body, sizeof body, "{\"title\":\"Late\",\"schedules\":[{\"startsAt\":\"%s\"}]}", when1);
        admin_post(t_admin_key(), body, &r);
        is_int(t_json_int(r.json, "concertId"), next, "the concert gets the id polled for");
        t_resp_free(&r);
        tok = t_issue_token(next, user, &r);
        is_int(r.status, 201, "its queue opens at once after creation (not after the cached miss runs out)");
        free(tok);
        t_resp_free(&r);
    }

    step("the database's bounds are the API's");
    {
        static const struct {
            enum concert_setting setting;
            const char *sql;   /* $1 the concert, $2 the value; a row when stored */
        } stored[] = {
            {SETTING_ACTIVE_LIMIT, "UPDATE concerts SET active_limit = $2 WHERE id = $1 RETURNING id"},
            {SETTING_ACTIVE_SECONDS, "UPDATE concerts SET active_seconds = $2 WHERE id = $1 RETURNING id"},
            {SETTING_WAITING_IDLE_SECONDS,
             "UPDATE concerts SET waiting_idle_seconds = $2 WHERE id = $1 RETURNING id"},
            {SETTING_HOLD_SECONDS, "UPDATE concerts SET hold_seconds = $2 WHERE id = $1 RETURNING id"},
            {SETTING_ADMISSION_PER_MINUTE,
             "UPDATE concerts SET admission_per_minute = $2 WHERE id = $1 RETURNING id"},
            {SETTING_SEAT_COUNT, "UPDATE schedules SET seat_count = $2 WHERE concert_id = $1 RETURNING concert_id"},
            {SETTING_PRICE, "UPDATE seats SET price = $2 WHERE schedule_id IN"
                            " (SELECT id FROM schedules WHERE concert_id = $1) RETURNING 1"},
        };
        int64_t id;

        snprintf(body, sizeof body, "{\"title\":\"Bounds\",\"schedules\":[{\"startsAt\":\"%s\",\"seatCount\":1}]}",
                 when1);
        admin_post(t_admin_key(), body, &r);
        id = t_json_int(r.json, "concertId");
        t_resp_free(&r);
        ok(id > 0, "a concert to store values in");
        is_int((int64_t)(sizeof stored / sizeof stored[0]), CONCERT_SETTING_COUNT, "every setting is tried");
        for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
            const struct setting_bounds *b = &concert_settings[stored[i].setting];
            long tries[4] = {b->min - 1, b->min, b->max, b->max + 1};

            for (int k = 0; k < 4; k++) {
                char concert_text[24], value[24], *got;
                const char *args[] = {concert_text, value};
                int within = k == 1 || k == 2;

                snprintf(concert_text, sizeof concert_text, "%" PRId64, id);
                snprintf(value, sizeof value, "%ld", tries[k]);
                got = t_pg_value(stored[i].sql, 2, args);   /* a refusal is diagnosed */
                ok((got != NULL) == within, "PostgreSQL %s %s %ld (the API's range %ld..%ld)",
                   within ? "stores" : "refuses", b->field, tries[k], b->min, b->max);
                free(got);
            }
        }
    }
    return done_testing();
}
