/* catalog.c - the catalog responder: concerts, their upcoming shows and the
 * seat map of a show.
 *
 * The concerts and the shows are built by PostgreSQL as JSON in one
 * statement (the shows by show_list); the shows, read by every admitted
 * user, are kept in Redis for a second and read with the token check in one
 * script. These reads, and the seat map's loads, go to PostgreSQL's
 * standby when one is configured and has every acknowledged write
 * (db_replica.h).
 * The seat map, the hottest read of a drop, is one Redis script: the token
 * check and the map kept there (shared/seatmap.c). Which seats are free,
 * which shows are still on sale and how times are written are the rules of
 * sql/functions.sql (seat_is_free, sales_open, utc_text), the same ones holds
 * and payments obey: a HELD seat whose hold has run out reads AVAILABLE at
 * once, whether or not the cron program has released it yet. */
#include "app.h"
#include "answer.h"
#include "db.h"
#include "db_replica.h"
#include "guard.h"
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
    db_rc rc = db_read_replica(sql, 0, NULL, &res);

    if (rc != DB_OK) {
        answer_db_failure(r, rc);
        return;
    }
    reply_text(r, res, 0);
    PQclear(res);
}

/* A show list read: the list kept in the last second, with the token's
 * check in the same script. */
struct kept_list {
    const char *token;
    int64_t concert_id;
    char *kept;
    showlist_rc rc;
};

/* The cheap check of the token-check protocol (guard.h). Once the full
 * check has admitted the token, PostgreSQL answers: the list is not asked
 * for again. */
static int kept_list_try(void *ctx, int again)
{
    struct kept_list *k = ctx;
    char token_id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t token_concert;

    k->rc = SHOWLIST_TOKEN_MISS;
    if (again)
        return 0;
    /* The common case, one script: an ACTIVE token of this concert, and
     * the list kept in the last second. */
    if (queue_token_open(k->token, token_id, &token_concert) == 0 && token_concert == k->concert_id)
        k->rc = showlist_get(k->concert_id, token_id, &k->kept);
    return k->rc == SHOWLIST_TOKEN_MISS ? GUARD_TOKEN_MISS : 0;
}

/* GET /api/v1/concerts/{id}/schedules with an ACTIVE token of that concert:
 * the shows still to come that have a seat left, soonest first, as
 * PostgreSQL built them at most a second ago (shared/showlist.h says why). */
static void schedules(struct request *r)
{
    static const char sql[] = "SELECT concert_found, body FROM show_list($1::bigint)";
    struct kept_list k = {0};
    char idtext[24];
    const char *params[] = {idtext};
    PGresult *res;
    db_rc rc;

    if (http_param_id(r, 0, "concertId", &k.concert_id) < 0)
        return;
    r->concert_id = k.concert_id;
    k.token = guard_queue_bearer(r);
    if (!k.token || guard_queue_token_checked(r, k.concert_id, kept_list_try, &k) < 0)
        return;
    if (k.rc == SHOWLIST_HIT) {
        http_json_text(r, 200, k.kept, strlen(k.kept));
        free(k.kept);
        return;
    }
    if (k.rc == SHOWLIST_DOWN) {
        http_unavailable(r, "Redis");
        return;
    }
    snprintf(idtext, sizeof idtext, "%" PRId64, k.concert_id);
    rc = db_read_replica(sql, 1, params, &res);
    if (rc != DB_OK) {
        answer_db_failure(r, rc);
        return;
    }
    /* A live token implies its concert was found when the token was issued;
     * this only catches a concert removed since. */
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
        answer_refusal(r, "concert_not_found", NULL);
    } else {
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1))
            showlist_put(k.concert_id, PQgetvalue(res, 0, 1));
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

/* A seat map read, with the token's check in the same script. */
struct map_read {
    char token_id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t concert_id, schedule_id;
    struct seatmap_view view;
    seatmap_rc rc;
};

/* The cheap check of the token-check protocol (guard.h): the read itself. */
static int map_read_try(void *ctx, int again)
{
    struct map_read *m = ctx;

    (void)again;
    m->rc = seatmap_get(m->concert_id, m->schedule_id, m->token_id, &m->view);
    return m->rc == SEATMAP_TOKEN_MISS ? GUARD_TOKEN_MISS : 0;
}

/* GET /api/v1/schedules/{id}/seats with an ACTIVE token of the show's
 * concert: every seat by number, from the Redis seat map (shared/seatmap.c):
 * the token check and the map are one script. PostgreSQL is asked only
 * when the map is missing, and once a second to check it; when PostgreSQL
 * cannot answer that check, the map stands. */
static void seats(struct request *r)
{
    struct map_read m = {0};
    struct seatmap_view *v = &m.view;
    int64_t concert_id, owner;
    char *loaded = NULL;
    seatmap_rc rc;
    db_rc dbrc;

    if (http_param_id(r, 0, "scheduleId", &m.schedule_id) < 0 ||
        guard_queue_token_open(r, m.token_id, &m.concert_id) < 0 ||
        guard_queue_token_checked(r, m.concert_id, map_read_try, &m) < 0)
        return;
    concert_id = m.concert_id;
    rc = m.rc;
    if (rc == SEATMAP_TOKEN_MISS)
        rc = SEATMAP_ABSENT;   /* ended just now: it was ACTIVE a moment ago */
    if (rc == SEATMAP_DOWN) {
        http_unavailable(r, "Redis");
        return;
    }
    r->concert_id = concert_id;   /* the token was found ACTIVE for it */
    if (rc == SEATMAP_HIT) {
        reply_seat_map(r, concert_id, m.schedule_id, v->seats);
        seatmap_view_free(v);
        return;
    }
    dbrc = seatmap_load(concert_id, m.schedule_id, v->version, &owner, &loaded);
    if (dbrc != DB_OK && rc == SEATMAP_STALE)
        reply_seat_map(r, concert_id, m.schedule_id, v->seats);
    else if (dbrc != DB_OK)
        answer_db_failure(r, dbrc);
    else if (owner == 0)
        answer_refusal(r, "schedule_not_found", NULL);
    else if (owner != concert_id)
        answer_refusal(r, "wrong_concert", NULL);
    else if (!loaded)
        http_unavailable(r, "Redis");
    else
        reply_seat_map(r, concert_id, m.schedule_id, loaded);
    free(loaded);
    seatmap_view_free(v);
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
