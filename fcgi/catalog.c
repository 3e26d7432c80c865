/* catalog.c - the catalog responder: concerts, their upcoming shows and the
 * seat map of a show.
 *
 * The concerts and the shows are built by PostgreSQL as JSON in one
 * statement; the shows, read by every admitted user, are kept in Redis for
 * a second and read with the token check in one script.
 * The seat map, the hottest read of a drop, is one Redis script: the token
 * check and the map kept there (shared/seatmap.c). Which seats are free,
 * which shows are still on sale and how times are written are the rules of
 * sql/functions.sql (seat_is_free, sales_open, utc_text), the same ones holds
 * and payments obey: a HELD seat whose hold has run out reads AVAILABLE at
 * once, whether or not the cron program has released it yet. */
#include "app.h"
#include "db.h"
#include "outcome.h"
#include "queue.h"
#include "seatmap.h"
#include "showlist.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers the JSON text in column col of row 0. */
static void reply_text(struct request *r, PGresult *res, int col)
{
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, col)) {
        http_internal_error(r);
        return;
    }
    http_json_text(r, 200, PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
}

/* GET /api/v1/concerts: every concert, by id; no token needed. */
static void concerts(struct request *r)
{
    static const char sql[] =
        "SELECT json_build_object('concerts', coalesce(json_agg(json_build_object("
        "  'concertId', id, 'title', title, 'venue', venue) ORDER BY id), '[]'::json))::text"
        " FROM concerts";
    PGresult *res;
    db_rc rc = db_read(sql, 0, NULL, &res);

    if (rc != DB_OK) {
        outcome_db_failure(r, rc);
        return;
    }
    reply_text(r, res, 0);
    PQclear(res);
}

/* GET /api/v1/concerts/{id}/schedules with an ACTIVE token of that concert:
 * the shows still to come that have a seat left, soonest first, as
 * PostgreSQL built them at most a second ago (shared/showlist.h says why). */
static void schedules(struct request *r)
{
    static const char sql[] =
        "SELECT EXISTS (SELECT 1 FROM concerts WHERE id = $1),"
        " json_build_object('concertId', $1::bigint, 'schedules', coalesce(json_agg(json_build_object("
        "   'scheduleId', x.id, 'startsAt', utc_text(x.starts_at),"
        "   'totalSeats', x.total, 'availableSeats', x.available) ORDER BY x.starts_at, x.id), '[]'::json))::text"
        " FROM (SELECT s.id, s.starts_at, count(*) AS total,"
        "              count(*) FILTER (WHERE seat_is_free(st.status, st.held_until)) AS available"
        "       FROM schedules s JOIN seats st ON st.schedule_id = s.id"
        "       WHERE s.concert_id = $1 AND sales_open(s.starts_at)"
        "       GROUP BY s.id, s.starts_at) x"
        " WHERE x.available > 0";
    struct queue_ticket t;
    char idtext[24], *kept;
    const char *params[] = {idtext};
    const char *token;
    char token_id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t concert_id, token_concert;
    PGresult *res;
    showlist_rc listrc = SHOWLIST_TOKEN_MISS;
    db_rc rc;

    if (http_param_id(r, 0, "concertId", &concert_id) < 0)
        return;
    r->concert_id = concert_id;
    token = queue_bearer(r);
    if (!token)
        return;
    /* The common case, one script: an ACTIVE token of this concert, and
     * the list kept in the last second. */
    if (queue_token_open(token, token_id, &token_concert) == 0 && token_concert == concert_id)
        listrc = showlist_get(concert_id, token_id, &kept);
    if (listrc == SHOWLIST_HIT) {
        http_json_text(r, 200, kept, strlen(kept));
        free(kept);
        return;
    }
    if (listrc == SHOWLIST_DOWN) {
        http_unavailable(r, "Redis");
        return;
    }
    if (listrc == SHOWLIST_TOKEN_MISS && queue_require_active(r, concert_id, &t) < 0)
        return;
    snprintf(idtext, sizeof idtext, "%" PRId64, concert_id);
    rc = db_read(sql, 1, params, &res);
    if (rc != DB_OK) {
        outcome_db_failure(r, rc);
        return;
    }
    /* A live token implies its concert was found when the token was issued;
     * this only catches a concert removed since. */
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
        outcome_answer(r, "concert_not_found", NULL);
    } else {
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1))
            showlist_put(concert_id, PQgetvalue(res, 0, 1));
        reply_text(r, res, 1);
    }
    PQclear(res);
}

/* Answers {"scheduleId","concertId","seats":[<seats>]}. */
static void reply_seat_map(struct request *r, int64_t concert_id, int64_t schedule_id, const char *seats)
{
    size_t len = strlen(seats) + 96;
    char *text = malloc(len);
    int n;

    if (!text) {
        http_internal_error(r);
        return;
    }
    n = snprintf(text, len, "{\"scheduleId\":%" PRId64 ",\"concertId\":%" PRId64 ",\"seats\":[%s]}",
                 schedule_id, concert_id, seats);
    if (n < 0 || (size_t)n >= len)
        http_internal_error(r);
    else
        http_json_text(r, 200, text, (size_t)n);
    free(text);
}

/* GET /api/v1/schedules/{id}/seats with an ACTIVE token of the show's
 * concert: every seat by number, from the Redis seat map (shared/seatmap.c):
 * the token check and the map are one script. PostgreSQL is asked only
 * when the map is missing, and once a second to check it; when PostgreSQL
 * cannot answer that check, the map stands. */
static void seats(struct request *r)
{
    struct queue_ticket t;
    struct seatmap_view v;
    int64_t schedule_id, concert_id, owner;
    const char *token;
    char token_id[QUEUE_TOKEN_ID_MAX + 1];
    char *loaded = NULL;
    seatmap_rc rc;
    db_rc dbrc;

    if (http_param_id(r, 0, "scheduleId", &schedule_id) < 0)
        return;
    token = queue_bearer(r);
    if (!token)
        return;
    if (queue_token_open(token, token_id, &concert_id) < 0) {
        queue_require_active(r, 0, &t);   /* answers why the token is refused */
        return;
    }
    rc = seatmap_get(concert_id, schedule_id, token_id, &v);
    if (rc == SEATMAP_TOKEN_MISS) {
        /* Waiting, just admitted, run out or unknown: the full check
         * answers, or admits and lets the read go on. */
        if (queue_require_active(r, concert_id, &t) < 0)
            return;
        rc = seatmap_get(concert_id, schedule_id, token_id, &v);
        if (rc == SEATMAP_TOKEN_MISS)
            rc = SEATMAP_ABSENT;   /* ended just now: it was ACTIVE a moment ago */
    }
    if (rc == SEATMAP_DOWN) {
        http_unavailable(r, "Redis");
        return;
    }
    r->concert_id = concert_id;   /* the token was found ACTIVE for it */
    if (rc == SEATMAP_HIT) {
        reply_seat_map(r, concert_id, schedule_id, v.seats);
        seatmap_view_free(&v);
        return;
    }
    dbrc = seatmap_load(concert_id, schedule_id, v.version, &owner, &loaded);
    if (dbrc != DB_OK && rc == SEATMAP_STALE)
        reply_seat_map(r, concert_id, schedule_id, v.seats);
    else if (dbrc != DB_OK)
        outcome_db_failure(r, dbrc);
    else if (owner == 0)
        outcome_answer(r, "schedule_not_found", NULL);
    else if (owner != concert_id)
        outcome_answer(r, "wrong_concert", NULL);
    else if (!loaded)
        http_unavailable(r, "Redis");
    else
        reply_seat_map(r, concert_id, schedule_id, loaded);
    free(loaded);
    seatmap_view_free(&v);
}

static const struct route routes[] = {
    {"GET", "/api/v1/concerts", concerts},
    {"GET", "/api/v1/concerts/{}/schedules", schedules},
    {"GET", "/api/v1/schedules/{}/seats", seats},
};

int main(void)
{
    return app_run("concert-catalog", routes, sizeof routes / sizeof routes[0]);
}
