/* catalog.c - the catalog responder: concerts, their upcoming shows and the
 * seat map of a show.
 *
 * Each answer is built by PostgreSQL as JSON in one statement, so a request
 * costs one PostgreSQL round trip (plus, for the token-guarded two, the one
 * Redis script that checks the token). Which seats are free, which shows are
 * still on sale and how times are written are the rules of
 * sql/functions.sql (seat_is_free, sales_open, utc_text), the same ones holds
 * and payments obey: a HELD seat whose hold has run out reads AVAILABLE at
 * once, whether or not the cron program has released it yet. */
#include "app.h"
#include "db.h"
#include "outcome.h"
#include "queue.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
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
 * the shows still to come that have a seat left, soonest first. */
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
    char idtext[24];
    const char *params[] = {idtext};
    int64_t concert_id;
    PGresult *res;
    db_rc rc;

    if (http_param_id(r, 0, "concertId", &concert_id) < 0)
        return;
    r->concert_id = concert_id;
    if (queue_require_active(r, concert_id, &t) < 0)
        return;
    snprintf(idtext, sizeof idtext, "%" PRId64, concert_id);
    rc = db_read(sql, 1, params, &res);
    if (rc != DB_OK) {
        outcome_db_failure(r, rc);
        return;
    }
    /* A live token implies its concert was found when the token was issued;
     * this only catches a concert removed since. */
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0)
        outcome_answer(r, "concert_not_found", NULL);
    else
        reply_text(r, res, 1);
    PQclear(res);
}

/* GET /api/v1/schedules/{id}/seats with an ACTIVE token of the show's
 * concert: every seat by number. The statement returns the show's concert
 * always and the seat map only when it is the token's concert, so a token of
 * another concert costs no seat reads. */
static void seats(struct request *r)
{
    static const char sql[] =
        "SELECT s.concert_id,"
        /* Built by concatenation: every value is a number or one of three
         * fixed words, and this is the hottest read of a drop (a
         * json_build_object per seat cost a fifth of its throughput). */
        " CASE WHEN s.concert_id = $2 THEN"
        "   '{\"scheduleId\":' || s.id || ',\"concertId\":' || s.concert_id || ',\"seats\":[' ||"
        "   coalesce((SELECT string_agg('{\"seatNo\":' || st.seat_no || ',\"price\":' || st.price ||"
        "      ',\"status\":\"' || CASE WHEN seat_is_free(st.status, st.held_until) THEN 'AVAILABLE' ELSE st.status END || '\"}',"
        "      ',' ORDER BY st.seat_no)"
        "    FROM seats st WHERE st.schedule_id = s.id), '') || ']}' END"
        " FROM schedules s WHERE s.id = $1";
    struct queue_ticket t;
    char idtext[24], concerttext[24];
    const char *params[] = {idtext, concerttext};
    int64_t schedule_id, owner;
    PGresult *res;
    db_rc rc;

    if (http_param_id(r, 0, "scheduleId", &schedule_id) < 0)
        return;
    if (queue_require_active(r, 0, &t) < 0)
        return;
    snprintf(idtext, sizeof idtext, "%" PRId64, schedule_id);
    snprintf(concerttext, sizeof concerttext, "%" PRId64, t.concert_id);
    rc = db_read(sql, 2, params, &res);
    if (rc != DB_OK) {
        outcome_db_failure(r, rc);
        return;
    }
    if (PQntuples(res) == 0)
        outcome_answer(r, "schedule_not_found", NULL);
    else if (valid_id(PQgetvalue(res, 0, 0), &owner) < 0)
        http_internal_error(r);
    else if (owner != t.concert_id)
        outcome_answer(r, "wrong_concert", NULL);
    else
        reply_text(r, res, 1);
    PQclear(res);
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
