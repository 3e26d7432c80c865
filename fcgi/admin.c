/* admin.c - the operations responder: GET /healthz and the admin API.
 *
 * Health answers 200 only when both PostgreSQL and Redis answer a round trip
 * now, so a load balancer or a person can see at once which one is down.
 *
 * POST /api/v1/admin/concerts creates a concert with its schedules and every
 * seat in one PostgreSQL call (one transaction, one round trip), so a failure
 * half-way never leaves a concert without its seats: the request is parsed
 * and checked here, inserted by concert_create, and answered from its
 * outcome. */
#include "app.h"
#include "answer.h"
#include "config.h"
#include "contract_limits.h"
#include "db.h"
#include "db_replica.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "pg_standby.h"
#include "queue.h"
#include "rds.h"
#include "utc.h"
#include "valid.h"

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
static int sched_int(struct request *r, struct json_object *o, size_t i, enum concert_setting setting,
                     int64_t *out)
{
    const struct setting_bounds *b = &concert_settings[setting];
    struct json_object *v;
    char message[160];
    int64_t n;

    if (!json_object_object_get_ex(o, b->field, &v))
        return 0;   /* optional: the caller's default stays */
    if (json_body_int64(v, &n) == 0 && n >= b->min && n <= b->max) {
        *out = n;
        return 0;
    }
    snprintf(message, sizeof message, "schedules[%zu].%s must be an integer from %ld to %ld",
             i, b->field, b->min, b->max);
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

/* The settings a create or a PATCH may give. */
struct concert_settings_in {
    int64_t active_limit, active_seconds, idle_seconds, hold_seconds;
    int64_t admission_per_minute;
    int no_cap;                     /* admissionPerMinute null, or left out of a create */
    int paused;
    const char *opens_at;           /* NULL: open at once */
};

/* A create request, checked: the texts point into the request body; the
 * schedules travel as PostgreSQL array literals built only from validated
 * values, one entry per schedule in the order given. */
struct concert_request {
    const char *title, *venue;
    struct concert_settings_in values;
    char *starts, *seat_counts, *prices;
};

static int offset_too_large(const char *s);

/* opensAt: absent leaves *out alone; null sets it to NULL (open at once);
 * else an RFC 3339 time as startsAt takes. */
static int get_opens_at(struct request *r, struct json_object *body, const char **out)
{
    struct json_object *v;
    const char *s;

    if (!json_object_object_get_ex(body, "opensAt", &v))
        return 0;
    if (!v) {
        *out = NULL;
        return 0;
    }
    s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || strlen(s) != (size_t)json_object_get_string_len(v) || !valid_rfc3339(s) ||
        strncmp(s, "9999", 4) == 0 || offset_too_large(s)) {
        http_error(r, 400, "INVALID_REQUEST", "opensAt must be null or an RFC 3339 time such as 2026-12-24T10:00:00Z");
        return -1;
    }
    *out = s;
    return 0;
}

static void concert_request_free(struct concert_request *c)
{
    free(c->starts);
    free(c->seat_counts);
    free(c->prices);
}

/* Reads schedules[] into c's arrays. 0, or -1 after answering. */
static int parse_schedules(struct request *r, struct json_object *scheds, struct concert_request *c)
{
    static const char *const fields[] = {"startsAt", "seatCount", "price", NULL};
    size_t n = json_object_array_length(scheds), slen = 0, clen = 0, plen = 0;

    /* Worst cases: a 35-character time, a 4-digit count and a 10-digit price,
     * each with its comma, plus the braces. */
    c->starts = malloc(n * 40 + 3);
    c->seat_counts = malloc(n * 8 + 3);
    c->prices = malloc(n * 16 + 3);
    if (!c->starts || !c->seat_counts || !c->prices) {
        http_internal_error(r);
        return -1;
    }
    append(c->starts, &slen, "{");
    append(c->seat_counts, &clen, "{");
    append(c->prices, &plen, "{");
    for (size_t i = 0; i < n; i++) {
        struct json_object *s = json_object_array_get_idx(scheds, i);
        int64_t seat_count = g_config.seat_count, price = g_config.price;
        const char *starts_at;
        char number[24];

        if (!json_object_is_type(s, json_type_object)) {
            char message[96];
            snprintf(message, sizeof message, "schedules[%zu] must be an object", i);
            http_error(r, 400, "INVALID_REQUEST", message);
            return -1;
        }
        if (http_only_fields(r, s, fields) < 0 || sched_time(r, s, i, &starts_at) < 0 ||
            sched_int(r, s, i, SETTING_SEAT_COUNT, &seat_count) < 0 ||
            sched_int(r, s, i, SETTING_PRICE, &price) < 0)
            return -1;
        if (i > 0) {
            append(c->starts, &slen, ",");
            append(c->seat_counts, &clen, ",");
            append(c->prices, &plen, ",");
        }
        append(c->starts, &slen, starts_at);
        snprintf(number, sizeof number, "%" PRId64, seat_count);
        append(c->seat_counts, &clen, number);
        snprintf(number, sizeof number, "%" PRId64, price);
        append(c->prices, &plen, number);
    }
    append(c->starts, &slen, "}");
    append(c->seat_counts, &clen, "}");
    append(c->prices, &plen, "}");
    return 0;
}

/* One integer setting, within its bounds (contract_limits.h): absent
 * leaves *out alone. 0, or -1 after answering 400. */
static int get_setting(struct request *r, struct json_object *body, enum concert_setting setting, int64_t *out)
{
    const struct setting_bounds *b = &concert_settings[setting];

    return http_get_int(r, body, b->field, 0, b->min, b->max, out);
}

/* Reads the settings body gives into s; those left out keep what s holds.
 * 0, or -1 after answering 400. Create and PATCH check alike through this. */
static int get_settings(struct request *r, struct json_object *body, struct concert_settings_in *s)
{
    const struct setting_bounds *cap = &concert_settings[SETTING_ADMISSION_PER_MINUTE];

    if (get_setting(r, body, SETTING_ACTIVE_LIMIT, &s->active_limit) < 0 ||
        get_setting(r, body, SETTING_ACTIVE_SECONDS, &s->active_seconds) < 0 ||
        get_setting(r, body, SETTING_WAITING_IDLE_SECONDS, &s->idle_seconds) < 0 ||
        get_setting(r, body, SETTING_HOLD_SECONDS, &s->hold_seconds) < 0 ||
        http_get_int_or_null(r, body, cap->field, cap->min, cap->max, &s->admission_per_minute, &s->no_cap) < 0 ||
        http_get_bool(r, body, "paused", &s->paused) < 0 || get_opens_at(r, body, &s->opens_at) < 0)
        return -1;
    return 0;
}

/* Checks a create body into c (fields left out take the config's defaults).
 * 0, or -1 after answering 400 (or 503). Whether each show is still to come
 * is PostgreSQL's to judge (sales_open), by the clock holds are judged by. */
static int parse_concert(struct request *r, struct json_object *body, struct concert_request *c)
{
    static const char *const fields[] = {"title", "venue", "activeLimit", "activeSeconds",
                                         "waitingIdleSeconds", "holdSeconds", "admissionPerMinute",
                                         "opensAt", "paused", "schedules", NULL};
    struct json_object *scheds;

    c->venue = "";
    c->values.active_limit = g_config.active_limit;
    c->values.active_seconds = g_config.active_seconds;
    c->values.idle_seconds = g_config.waiting_idle_seconds;
    c->values.hold_seconds = g_config.hold_seconds;
    c->values.no_cap = 1;
    if (http_only_fields(r, body, fields) < 0 ||
        get_text(r, body, "title", 1, 1, ADMIN_TEXT_MAX_CHARS, &c->title) < 0 ||
        get_text(r, body, "venue", 0, 0, ADMIN_TEXT_MAX_CHARS, &c->venue) < 0 ||
        get_settings(r, body, &c->values) < 0)
        return -1;
    if (!json_object_object_get_ex(body, "schedules", &scheds)) {
        http_error(r, 400, "INVALID_REQUEST", "schedules is required");
        return -1;
    }
    if (!json_object_is_type(scheds, json_type_array) || json_object_array_length(scheds) < 1 ||
        json_object_array_length(scheds) > ADMIN_MAX_SCHEDULES) {
        http_error(r, 400, "INVALID_REQUEST", "schedules must be an array of 1 to 100 schedules");
        return -1;
    }
    return parse_schedules(r, scheds, c);
}

/* One call of concert_create (sql/functions.sql): the concert, its
 * schedules and every seat in one transaction, so a failure half-way never
 * leaves a concert without its seats. */
static db_rc insert_concert(const struct concert_request *c, PGresult **res)
{
    static const char sql[] =
        "SELECT * FROM concert_create($1, $2, $3::integer, $4::integer, $5::integer, $6::integer,"
        " $7::timestamptz[], $8::integer[], $9::bigint[], $10::integer, $11::boolean, $12::timestamptz)";
    char limit_text[24], active_text[24], idle_text[24], hold_text[24], cap_text[24];
    const char *params[] = {c->title, c->venue, limit_text, active_text, idle_text, hold_text,
                            c->starts, c->seat_counts, c->prices,
                            c->values.no_cap ? NULL : cap_text, c->values.paused ? "true" : "false",
                            c->values.opens_at};

    snprintf(limit_text, sizeof limit_text, "%" PRId64, c->values.active_limit);
    snprintf(active_text, sizeof active_text, "%" PRId64, c->values.active_seconds);
    snprintf(idle_text, sizeof idle_text, "%" PRId64, c->values.idle_seconds);
    snprintf(hold_text, sizeof hold_text, "%" PRId64, c->values.hold_seconds);
    snprintf(cap_text, sizeof cap_text, "%" PRId64, c->values.admission_per_minute);
    return db_query(sql, 12, params, res);
}

/* 201 {"concertId", "scheduleIds"}, or the refusal (a show in the past). */
static void answer_concert(struct request *r, db_rc rc, const PGresult *res)
{
    const char *word = outcome_word(rc, res);
    int col;
    int64_t concert_id;

    if (word && strcmp(word, "created") == 0) {
        col = PQfnumber(res, "new_concert_id");
        if (col < 0 || valid_id(PQgetvalue(res, 0, col), &concert_id) < 0) {
            log_error("concert_create returned no concert id");
            http_internal_error(r);
            return;
        }
        /* A poll for this id before it existed may have cached "no such
         * concert" in Redis for a few seconds: drop it so the queue opens
         * now. Best effort: with Redis down the queue answers 503 anyway. */
        queue_forget_concert(concert_id);
    }
    answer_outcome(r, rc, res);
}

/* POST /api/v1/admin/concerts with the admin key. */
static void create_concert(struct request *r)
{
    struct concert_request c = {0};
    struct json_object *body;
    PGresult *res = NULL;

    if (guard_admin(r) < 0)
        return;
    body = http_body_object(r);
    if (!body)
        return;
    if (parse_concert(r, body, &c) == 0) {
        db_rc rc = insert_concert(&c, &res);
        answer_concert(r, rc, res);
        PQclear(res);
    }
    concert_request_free(&c);
    json_object_put(body);
}

/* The admin key and the {concertId} of /api/v1/admin/concerts/{concertId}...
 * 0, or -1 after answering 401 or 400. */
static int admin_concert(struct request *r, int64_t *concert_id)
{
    if (guard_admin(r) < 0 || http_param_id(r, 0, "concertId", concert_id) < 0)
        return -1;
    r->concert_id = *concert_id;
    return 0;
}

/* GET /api/v1/admin/concerts/{concertId}: the concert's settings. */
static void read_settings(struct request *r)
{
    static const char sql[] = "SELECT * FROM concert_settings($1)";
    char idtext[24];
    const char *params[] = {idtext};
    int64_t concert_id;
    PGresult *res = NULL;
    db_rc rc;

    if (admin_concert(r, &concert_id) < 0)
        return;
    snprintf(idtext, sizeof idtext, "%" PRId64, concert_id);
    rc = db_read_replica(sql, 1, params, &res);
    answer_outcome(r, rc, res);
    PQclear(res);
}

/* A PATCH body, checked: which settings it names (a PostgreSQL text array
 * of the field names, built only from the names below) and their values. */
struct settings_change {
    char set[160];
    struct concert_settings_in values;
};

static int parse_change(struct request *r, struct json_object *body, struct settings_change *c)
{
    static const char *const fields[] = {"activeLimit", "activeSeconds", "waitingIdleSeconds", "holdSeconds",
                                         "admissionPerMinute", "opensAt", "paused", NULL};
    static const char *const fixed[] = {"concertId", "title", "venue", NULL};
    size_t len = 0;

    for (int i = 0; fixed[i]; i++) {
        if (json_object_object_get_ex(body, fixed[i], NULL)) {
            char message[96];
            snprintf(message, sizeof message, "%s cannot be changed", fixed[i]);
            http_error(r, 400, "INVALID_REQUEST", message);
            return -1;
        }
    }
    if (http_only_fields(r, body, fields) < 0 || get_settings(r, body, &c->values) < 0)
        return -1;
    append(c->set, &len, "{");
    for (int i = 0; fields[i]; i++) {
        if (!json_object_object_get_ex(body, fields[i], NULL))
            continue;
        if (len > 1)
            append(c->set, &len, ",");
        append(c->set, &len, fields[i]);
    }
    append(c->set, &len, "}");
    return 0;
}

/* PATCH /api/v1/admin/concerts/{concertId}: changes the settings named, in
 * force on every responder within a second (the queue's cache of them is
 * dropped now, and lives a second anyway). */
static void change_settings(struct request *r)
{
    static const char sql[] =
        "SELECT * FROM concert_update($1, $2::text[], $3::integer, $4::integer, $5::integer, $6::integer,"
        " $7::integer, $8::boolean, $9::timestamptz)";
    struct settings_change c = {.values.no_cap = 1};
    char idtext[24], texts[5][24];
    const char *params[9];
    struct json_object *body;
    int64_t concert_id;
    PGresult *res = NULL;
    db_rc rc;

    if (admin_concert(r, &concert_id) < 0)
        return;
    body = http_body_object(r);
    if (!body)
        return;
    if (parse_change(r, body, &c) < 0) {
        json_object_put(body);
        return;
    }
    snprintf(idtext, sizeof idtext, "%" PRId64, concert_id);
    snprintf(texts[0], sizeof texts[0], "%" PRId64, c.values.active_limit);
    snprintf(texts[1], sizeof texts[1], "%" PRId64, c.values.active_seconds);
    snprintf(texts[2], sizeof texts[2], "%" PRId64, c.values.idle_seconds);
    snprintf(texts[3], sizeof texts[3], "%" PRId64, c.values.hold_seconds);
    snprintf(texts[4], sizeof texts[4], "%" PRId64, c.values.admission_per_minute);
    params[0] = idtext;
    params[1] = c.set;
    for (int i = 0; i < 4; i++)
        params[2 + i] = texts[i];
    params[6] = c.values.no_cap ? NULL : texts[4];
    params[7] = c.values.paused ? "true" : "false";
    params[8] = c.values.opens_at;
    rc = db_query(sql, 9, params, &res);
    json_object_put(body);
    if (outcome_word(rc, res) && strcmp(outcome_word(rc, res), "updated") == 0)
        queue_forget_concert(concert_id);
    answer_outcome(r, rc, res);
    PQclear(res);
}

/* GET /api/v1/admin/concerts/{concertId}/queue: the waiting room now. */
static void read_queue(struct request *r)
{
    char opens[UTC_TEXT_SIZE];
    struct queue_counts q;
    struct json_object *o;
    int64_t concert_id;
    queue_rc rc;

    if (admin_concert(r, &concert_id) < 0)
        return;
    rc = queue_view(concert_id, &q);
    if (rc != QUEUE_OK) {
        guard_queue_refusal(r, rc);
        return;
    }
    utc_text((time_t)(q.opens_ms / 1000), opens);
    o = json_object_new_object();
    if (!o) {
        http_internal_error(r);
        return;
    }
    if (json_object_object_add(o, "concertId", json_object_new_int64(concert_id)) < 0 ||
        json_object_object_add(o, "preQueue", json_object_new_int64(q.pre_queue)) < 0 ||
        json_object_object_add(o, "waiting", json_object_new_int64(q.waiting)) < 0 ||
        json_object_object_add(o, "active", json_object_new_int64(q.active)) < 0 ||
        json_object_object_add(o, "admittedLastMinute", json_object_new_int64(q.admitted_last_minute)) < 0 ||
        json_object_object_add(o, "paused", json_object_new_boolean(q.paused)) < 0 ||
        json_object_object_add(o, "opensAt", q.opens_ms > 0 ? json_object_new_string(opens) : NULL) < 0) {
        json_object_put(o);
        http_internal_error(r);
        return;
    }
    http_json(r, 200, o);
}

/* The queue sizes and admissions of every concert still on sale, from
 * Redis (the same for every host). 0, or -1 when a store did not answer. */
static int write_queue_gauges(FILE *out)
{
    static const char sql[] =
        "SELECT c.id FROM concerts c WHERE EXISTS"
        " (SELECT 1 FROM schedules s WHERE s.concert_id = c.id AND sales_open(s.starts_at))"
        " ORDER BY c.id LIMIT 1000";
    static const char *const names[] = {"concert_queue_prequeue", "concert_queue_waiting", "concert_queue_active",
                                        "concert_queue_admissions_total"};
    static const char *const helps[] = {"Tokens in a concert's pre-queue, waiting for its opening.",
                                        "Tokens waiting in a concert's line.",
                                        "ACTIVE tokens of a concert within their period.",
                                        "Admissions of a concert so far (kept in Redis, the same for every host)."};
    struct queue_gauges *g;
    PGresult *res;
    int n, rc = 0;

    if (db_read_replica(sql, 0, NULL, &res) != DB_OK)
        return -1;
    n = PQntuples(res);
    g = calloc((size_t)(n ? n : 1), sizeof *g);
    if (!g) {
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int64_t id = 0;
        if (valid_id(PQgetvalue(res, i, 0), &id) < 0 || queue_gauges(id, &g[i]) != QUEUE_OK) {
            rc = -1;
            n = i;
            break;
        }
    }
    for (int k = 0; k < 4; k++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", names[k], helps[k], names[k], k == 3 ? "counter" : "gauge");
        for (int i = 0; i < n; i++) {
            int64_t v = k == 0 ? g[i].pre_queue : k == 1 ? g[i].waiting : k == 2 ? g[i].active : g[i].admissions;
            fprintf(out, "%s{concert=\"%s\"} %" PRId64 "\n", names[k], PQgetvalue(res, i, 0), v);
        }
    }
    free(g);
    PQclear(res);
    return rc;
}

/* The relay's lag: the outbox rows waiting to be published (to Redis
 * Streams, and Kafka when the relay has brokers) and the oldest's age.
 * Returns 0, or -1 when PostgreSQL could not say. */
static int write_relay_lag(FILE *out)
{
    PGresult *res;
    int one_row;

    if (db_read_replica("SELECT unsent, oldest_seconds FROM outbox_lag()", 0, NULL, &res) != DB_OK)
        return -1;
    one_row = PQntuples(res) == 1 && PQnfields(res) == 2;
    if (one_row)
        fprintf(out,
                "# HELP concert_relay_unsent_events Outbox events committed and not yet published by a relay.\n"
                "# TYPE concert_relay_unsent_events gauge\nconcert_relay_unsent_events %ld\n"
                "# HELP concert_relay_lag_seconds How long the oldest unpublished outbox event has waited.\n"
                "# TYPE concert_relay_lag_seconds gauge\nconcert_relay_lag_seconds %.3f\n",
                strtol(PQgetvalue(res, 0, 0), NULL, 10), strtod(PQgetvalue(res, 0, 1), NULL));
    PQclear(res);
    return one_row ? 0 : -1;
}

/* GET /metrics (admin key): the Prometheus text format. This host's
 * counters come from its shared file (metrics.h), the queues from Redis,
 * the primary's standby and the relay's lag from PostgreSQL (pg_standby.h);
 * concert_metrics_complete says whether all could be read. */
static void metrics(struct request *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out;
    int host, queues, standby, lag;

    if (guard_admin(r) < 0)
        return;
    out = open_memstream(&text, &len);
    if (!out) {
        http_internal_error(r);
        return;
    }
    host = metrics_write(out);
    queues = write_queue_gauges(out);
    standby = pg_standby_write_metrics(out);
    lag = write_relay_lag(out);
    fprintf(out, "# HELP concert_metrics_complete 1 when this host's counters, every queue, the PostgreSQL "
                 "primary's standby and the relay's lag could be read.\n"
                 "# TYPE concert_metrics_complete gauge\nconcert_metrics_complete %d\n",
            host == 0 && queues == 0 && standby == 0 && lag == 0);
    if (fclose(out) != 0 || !text) {
        free(text);
        http_internal_error(r);
        return;
    }
    http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static const struct route routes[] = {
    {"GET", "/healthz", health},
    {"GET", "/metrics", metrics},
    {"POST", "/api/v1/admin/concerts", create_concert},
    {"GET", "/api/v1/admin/concerts/{}", read_settings},
    {"PATCH", "/api/v1/admin/concerts/{}", change_settings},
    {"GET", "/api/v1/admin/concerts/{}/queue", read_queue},
};

int main(void)
{
    return app_run("concert-admin", routes, sizeof routes / sizeof routes[0]);
}
