/* admin.c - the operations responder: GET /healthz and the admin API.
 *
 * Health answers 200 only when both PostgreSQL and Redis answer a round trip
 * now, so a load balancer or a person can see at once which one is down.
 *
 * POST /api/v1/admin/concerts creates a concert with its schedules and every
 * seat in one SQL statement (one transaction, one round trip), so a failure
 * half-way never leaves a concert without its seats. */
#include "app.h"
#include "config.h"
#include "db.h"
#include "queue.h"
#include "rds.h"
#include "valid.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_MAX_SCHEDULES 100
#define ADMIN_TEXT_MAX_CHARS 200

static void health(struct request *r)
{
    int pg_ok = db_ping() == DB_OK;
    int redis_ok = rds_ping() == 0;
    struct json_object *o = json_object_new_object();

    if (!o) {
        http_internal_error(r);
        return;
    }
    json_object_object_add(o, "status", json_object_new_string(pg_ok && redis_ok ? "ok" : "unavailable"));
    json_object_object_add(o, "postgres", json_object_new_string(pg_ok ? "ok" : "down"));
    json_object_object_add(o, "redis", json_object_new_string(redis_ok ? "ok" : "down"));
    http_json(r, pg_ok && redis_ok ? 200 : 503, o);
}

/* The admin key must come as a bearer token. A missing key and a wrong one
 * are told apart (TOKEN_MISSING / TOKEN_INVALID) like queue tokens are; the
 * comparison takes the same time however much of the key matched. With no
 * admin key configured the admin API refuses everything. */
static int require_admin(struct request *r)
{
    const char *key = http_bearer(r);

    if (!key) {
        http_error(r, 401, "TOKEN_MISSING", "an Authorization: Bearer <admin key> header is required");
        return -1;
    }
    if (!g_config.admin_key || !constant_time_equal(key, g_config.admin_key)) {
        http_error(r, 401, "TOKEN_INVALID", "the admin key is wrong");
        return -1;
    }
    return 0;
}

/* A display text: at most maxchars characters (UTF-8 code points, as
 * PostgreSQL's length() counts them; the body parser has already checked
 * the UTF-8), no control characters, and when nonblank is set not only
 * spaces. Absent and optional leaves *out alone. */
static int get_text(struct request *r, struct json_object *obj, const char *field, int required,
                    int nonblank, size_t maxchars, const char **out)
{
    const char *s = NULL;
    size_t chars = 0;
    int blank = 1;
    char message[160];

    if (http_get_string(r, obj, field, required, 0, maxchars * 4, &s) < 0)
        return -1;
    if (!s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(message, sizeof message, "%s must not hold control characters", field);
            http_error(r, 400, "INVALID_REQUEST", message);
            return -1;
        }
        if ((*p & 0xc0) != 0x80)
            chars++;
        if (*p != ' ')
            blank = 0;
    }
    if (chars > maxchars || (nonblank && (chars == 0 || blank))) {
        snprintf(message, sizeof message, "%s must be %s%zu characters", field,
                 nonblank ? "1 to " : "at most ", maxchars);
        http_error(r, 400, "INVALID_REQUEST", message);
        return -1;
    }
    *out = s;
    return 0;
}

/* An integer field of schedules[i], with the element named in the message. */
static int sched_int(struct request *r, struct json_object *o, size_t i, const char *field,
                     int64_t min, int64_t max, int64_t *out)
{
    struct json_object *v;
    char message[160];
    int64_t n;

    if (!json_object_object_get_ex(o, field, &v))
        return 0;   /* optional: the caller's default stays */
    if (json_object_is_type(v, json_type_int)) {
        errno = 0;
        n = json_object_get_int64(v);
        if (errno != ERANGE && n >= min && n <= max) {
            *out = n;
            return 0;
        }
    }
    snprintf(message, sizeof message, "schedules[%zu].%s must be an integer from %" PRId64 " to %" PRId64,
             i, field, min, max);
    http_error(r, 400, "INVALID_REQUEST", message);
    return -1;
}

/* schedules[i].startsAt: an RFC 3339 time whose year is 1970 to 9998, so it
 * stays a four-digit year in UTC whatever its offset, and whose offset is
 * within +-15:59, the most PostgreSQL accepts (real ones are -12..+14). */
/* For a valid RFC 3339 time: whether its numeric offset exceeds 15:59. */
static int offset_too_large(const char *s)
{
    size_t n = strlen(s);

    if (s[n - 1] == 'Z' || s[n - 1] == 'z')
        return 0;
    /* ...+hh:mm: the hours are the 5th and 4th characters from the end. */
    return s[n - 5] > '1' || (s[n - 5] == '1' && s[n - 4] > '5');
}

static int sched_time(struct request *r, struct json_object *o, size_t i, const char **out)
{
    struct json_object *v;
    char message[160];
    const char *s;

    if (!json_object_object_get_ex(o, "startsAt", &v)) {
        snprintf(message, sizeof message, "schedules[%zu].startsAt is required", i);
        http_error(r, 400, "INVALID_REQUEST", message);
        return -1;
    }
    s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || strlen(s) != (size_t)json_object_get_string_len(v) || !valid_rfc3339(s) ||
        strncmp(s, "9999", 4) == 0 || offset_too_large(s)) {
        snprintf(message, sizeof message,
                 "schedules[%zu].startsAt must be an RFC 3339 time such as 2026-12-24T19:30:00Z", i);
        http_error(r, 400, "INVALID_REQUEST", message);
        return -1;
    }
    *out = s;
    return 0;
}

/* Appends text to a buffer sized by the caller for the worst case. */
static void append(char *buf, size_t *len, const char *text)
{
    size_t n = strlen(text);

    memcpy(buf + *len, text, n + 1);
    *len += n;
}

static void create_concert(struct request *r)
{
    /* One statement: the concert, then its schedules with ids drawn up front
     * (so each schedule's seats can be written in the same statement), then
     * the seats. The arrays arrive as PostgreSQL array literals built only
     * from validated values; the rows come back in the order given. */
    static const char sql[] =
        "WITH c AS ("
        " INSERT INTO concerts (title, venue, active_limit, active_seconds, waiting_idle_seconds, hold_seconds)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
        "), src AS MATERIALIZED ("
        " SELECT nextval(pg_get_serial_sequence('schedules', 'id')) AS id, u.ord,"
        "        date_trunc('second', u.starts_at) AS starts_at, u.seat_count, u.price"
        " FROM unnest($7::timestamptz[], $8::integer[], $9::bigint[])"
        "      WITH ORDINALITY AS u(starts_at, seat_count, price, ord)"
        "), s AS ("
        " INSERT INTO schedules (id, concert_id, starts_at, seat_count)"
        " SELECT src.id, c.id, src.starts_at, src.seat_count FROM src CROSS JOIN c"
        "), seat_rows AS ("
        " INSERT INTO seats (schedule_id, seat_no, price)"
        " SELECT src.id, n, src.price FROM src CROSS JOIN LATERAL generate_series(1, src.seat_count) AS n"
        ")"
        " SELECT c.id, src.id FROM c CROSS JOIN src ORDER BY src.ord";
    static const char *const fields[] = {"title", "venue", "activeLimit", "activeSeconds",
                                         "waitingIdleSeconds", "holdSeconds", "schedules", NULL};
    static const char *const sched_fields[] = {"startsAt", "seatCount", "price", NULL};
    struct json_object *body, *scheds, *out = NULL, *ids = NULL;
    const char *title = NULL, *venue = "";
    int64_t active_limit = g_config.active_limit, active_seconds = g_config.active_seconds;
    int64_t idle_seconds = g_config.waiting_idle_seconds, hold_seconds = g_config.hold_seconds;
    char limit_text[24], active_text[24], idle_text[24], hold_text[24];
    char *times = NULL, *counts = NULL, *prices = NULL;
    size_t n, tlen = 0, clen = 0, plen = 0;
    PGresult *res = NULL;
    db_rc rc;
    int64_t concert_id;

    if (require_admin(r) < 0)
        return;
    body = http_body_object(r);
    if (!body)
        return;
    if (http_only_fields(r, body, fields) < 0 ||
        get_text(r, body, "title", 1, 1, ADMIN_TEXT_MAX_CHARS, &title) < 0 ||
        get_text(r, body, "venue", 0, 0, ADMIN_TEXT_MAX_CHARS, &venue) < 0 ||
        http_get_int(r, body, "activeLimit", 0, 1, 1000000, &active_limit) < 0 ||
        http_get_int(r, body, "activeSeconds", 0, 10, 86400, &active_seconds) < 0 ||
        http_get_int(r, body, "waitingIdleSeconds", 0, 10, 86400, &idle_seconds) < 0 ||
        http_get_int(r, body, "holdSeconds", 0, 1, 3600, &hold_seconds) < 0)
        goto done;
    if (!json_object_object_get_ex(body, "schedules", &scheds)) {
        http_error(r, 400, "INVALID_REQUEST", "schedules is required");
        goto done;
    }
    if (!json_object_is_type(scheds, json_type_array) || json_object_array_length(scheds) < 1 ||
        json_object_array_length(scheds) > ADMIN_MAX_SCHEDULES) {
        http_error(r, 400, "INVALID_REQUEST", "schedules must be an array of 1 to 100 schedules");
        goto done;
    }
    n = json_object_array_length(scheds);
    /* Worst cases: a 35-character time, a 4-digit count and a 10-digit price,
     * each with its comma, plus the braces. */
    times = malloc(n * 40 + 3);
    counts = malloc(n * 8 + 3);
    prices = malloc(n * 16 + 3);
    if (!times || !counts || !prices) {
        http_internal_error(r);
        goto done;
    }
    append(times, &tlen, "{");
    append(counts, &clen, "{");
    append(prices, &plen, "{");
    for (size_t i = 0; i < n; i++) {
        struct json_object *s = json_object_array_get_idx(scheds, i);
        int64_t seat_count = g_config.seat_count, price = g_config.price;
        const char *starts_at;
        char number[24];

        if (!json_object_is_type(s, json_type_object)) {
            char message[96];
            snprintf(message, sizeof message, "schedules[%zu] must be an object", i);
            http_error(r, 400, "INVALID_REQUEST", message);
            goto done;
        }
        if (http_only_fields(r, s, sched_fields) < 0 || sched_time(r, s, i, &starts_at) < 0 ||
            sched_int(r, s, i, "seatCount", 1, 1000, &seat_count) < 0 ||
            sched_int(r, s, i, "price", 0, 1000000000, &price) < 0)
            goto done;
        if (i > 0) {
            append(times, &tlen, ",");
            append(counts, &clen, ",");
            append(prices, &plen, ",");
        }
        append(times, &tlen, starts_at);
        snprintf(number, sizeof number, "%" PRId64, seat_count);
        append(counts, &clen, number);
        snprintf(number, sizeof number, "%" PRId64, price);
        append(prices, &plen, number);
    }
    append(times, &tlen, "}");
    append(counts, &clen, "}");
    append(prices, &plen, "}");

    snprintf(limit_text, sizeof limit_text, "%" PRId64, active_limit);
    snprintf(active_text, sizeof active_text, "%" PRId64, active_seconds);
    snprintf(idle_text, sizeof idle_text, "%" PRId64, idle_seconds);
    snprintf(hold_text, sizeof hold_text, "%" PRId64, hold_seconds);
    {
        const char *params[] = {title, venue, limit_text, active_text, idle_text, hold_text,
                                times, counts, prices};
        rc = db_query(sql, 9, params, &res);
    }
    if (rc != DB_OK) {
        if (rc == DB_UNAVAILABLE)
            http_unavailable(r, "PostgreSQL");
        else
            http_internal_error(r);
        goto done;
    }
    if ((size_t)PQntuples(res) != n || PQnfields(res) != 2 ||
        valid_id(PQgetvalue(res, 0, 0), &concert_id) < 0) {
        http_internal_error(r);
        goto done;
    }
    out = json_object_new_object();
    ids = json_object_new_array();
    if (!out || !ids) {
        http_internal_error(r);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = NULL;
        int64_t id;
        if (valid_id(PQgetvalue(res, (int)i, 1), &id) < 0 || !(v = json_object_new_int64(id)) ||
            json_object_array_add(ids, v) != 0) {
            json_object_put(v);
            http_internal_error(r);
            goto done;
        }
    }
    if (json_object_object_add(out, "concertId", json_object_new_int64(concert_id)) != 0 ||
        json_object_object_add(out, "scheduleIds", ids) != 0) {
        http_internal_error(r);
        goto done;
    }
    ids = NULL;
    /* A poll for this id before it existed may have cached "no such
     * concert" in Redis for a few seconds: drop it so the queue opens now.
     * Best effort: with Redis down the queue answers 503 anyway. */
    queue_forget_concert(concert_id);
    http_json(r, 201, out);
    out = NULL;
done:
    json_object_put(ids);
    json_object_put(out);
    PQclear(res);
    free(times);
    free(counts);
    free(prices);
    json_object_put(body);
}

static const struct route routes[] = {
    {"GET", "/healthz", health},
    {"POST", "/api/v1/admin/concerts", create_concert},
};

int main(void)
{
    return app_run("concert-admin", routes, sizeof routes / sizeof routes[0]);
}
