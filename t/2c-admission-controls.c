/* 2c-admission-controls: an operator steers a concert's waiting room while
 * it runs, and every responder obeys within a second.
 *
 * A concert created paused admits nobody, however many slots are free: its
 * first users wait in line. GET shows its settings; PATCH unpauses it and,
 * within a second, the head of the line is ACTIVE on its next poll. An
 * admission cap of 2 a minute (on top of an activeLimit of 10) lets exactly
 * two more in and then holds the rest, poll as they may; raising it lets
 * them in. Shortening activeSeconds leaves the end time of a token already
 * ACTIVE as it was. The queue view counts what the users saw. A change made
 * in PostgreSQL behind the cache's back is in force within a second too
 * (PostgreSQL wins). PATCH refuses
 * the id, title and venue, unknown fields, values out of range, a wrong or
 * missing admin key and an unknown concert, and then changes nothing. */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>
#include <unistd.h>

static long admin(const char *method, int64_t concert, const char *suffix, const char *body, const char *key,
                  struct t_resp *r)
{
    char path[128], auth[400];
    const char *headers[] = {auth, NULL};

    snprintf(path, sizeof path, "/api/v1/admin/concerts/%" PRId64 "%s", concert, suffix);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    t_request(method, path, key ? headers : NULL, body, r);
    return r->status;
}

static const char *status_of(const char *token, int64_t *position, int64_t *expires)
{
    static char state[32];
    struct t_resp r;

    t_get("/api/v1/queue/status", token, &r);
    snprintf(state, sizeof state, "%s", r.status == 200 && t_json_str(r.json, "status") ?
             t_json_str(r.json, "status") : t_error_code(&r));
    if (position)
        *position = t_json_int(r.json, "position");
    if (expires && t_json_str(r.json, "expiresAt"))
        *expires = t_pg_int("SELECT extract(epoch FROM $1::timestamptz)::bigint", 1,
                            (const char *const[]){t_json_str(r.json, "expiresAt")});
    t_resp_free(&r);
    return state;
}

/* Polls token until it is ACTIVE or ms pass; the milliseconds it took, or -1. */
static long active_within(const char *token, long ms)
{
    for (long waited = 0; waited <= ms; waited += 100) {
        if (strcmp(status_of(token, NULL, NULL), "ACTIVE") == 0)
            return waited;
        usleep(100000);
    }
    return -1;
}

int main(void)
{
    char body[1024], when[32], users[6][37];
    char *tokens[6];
    struct t_resp r;
    int64_t concert, sched[1], pos = 0, exp_before = 0, exp_after = 0;
    int waiting = 0;

    t_init();
    plan(23);

    t_time_from_now(86400, when);
    snprintf(body, sizeof body,
             "{\"title\":\"steered\",\"activeLimit\":10,\"activeSeconds\":600,\"paused\":true,"
             "\"schedules\":[{\"startsAt\":\"%s\",\"seatCount\":5}]}", when);
    concert = t_create_concert_json(body, sched, 1);
    ok(concert > 0, "a concert created paused (%" PRId64 ")", concert);

    admin("GET", concert, "", NULL, t_admin_key(), &r);
    ok(r.status == 200 && t_json_int(r.json, "concertId") == concert && t_json_int(r.json, "activeLimit") == 10 &&
           json_object_get_boolean(json_object_object_get(r.json, "paused")) &&
           json_object_object_get_ex(r.json, "admissionPerMinute", NULL) &&
           !json_object_object_get(r.json, "admissionPerMinute") &&
           strcmp(t_json_str(r.json, "title") ? t_json_str(r.json, "title") : "", "steered") == 0,
       "GET shows its settings: paused, activeLimit 10, no admission cap (%ld)", r.status);
    t_resp_free(&r);

    for (int i = 0; i < 6; i++) {
        t_user(users[i]);
        tokens[i] = t_issue_token(concert, users[i], &r);
        waiting += r.status == 201 && strcmp(t_json_str(r.json, "status") ? t_json_str(r.json, "status") : "",
                                             "WAITING") == 0;
        t_resp_free(&r);
    }
    ok(waiting == 6, "paused, with ten free slots: all six new users wait (%d)", waiting);
    ok(strcmp(status_of(tokens[0], &pos, NULL), "WAITING") == 0 && pos == 1, "and polling admits nobody");
    admin("GET", concert, "/queue", NULL, t_admin_key(), &r);
    ok(r.status == 200 && t_json_int(r.json, "waiting") == 6 && t_json_int(r.json, "active") == 0 &&
           json_object_get_boolean(json_object_object_get(r.json, "paused")),
       "the queue view: 6 waiting, 0 active, paused");
    t_resp_free(&r);

    /* Unpause with a cap of 2 a minute. */
    admin("PATCH", concert, "", "{\"paused\":false,\"admissionPerMinute\":2}", t_admin_key(), &r);
    ok(r.status == 200 && !json_object_get_boolean(json_object_object_get(r.json, "paused")) &&
           t_json_int(r.json, "admissionPerMinute") == 2 && t_json_int(r.json, "activeLimit") == 10,
       "PATCH unpauses with a cap of 2 a minute and answers the new settings (%ld)", r.status);
    t_resp_free(&r);
    {
        long ms = active_within(tokens[0], 1500);
        ok(ms >= 0, "the head of the line is ACTIVE within a second or so (%ld ms)", ms);
    }
    ok(strcmp(status_of(tokens[1], NULL, NULL), "ACTIVE") == 0, "so is the second");
    {
        int still = 0;
        for (int round = 0; round < 3; round++) {
            for (int i = 2; i < 6; i++)
                still += strcmp(status_of(tokens[i], NULL, NULL), "WAITING") == 0;
            usleep(300000);
        }
        ok(still == 12, "the cap holds the other four however often they poll (%d of 12 polls WAITING)", still);
    }
    admin("GET", concert, "/queue", NULL, t_admin_key(), &r);
    ok(r.status == 200 && t_json_int(r.json, "waiting") == 4 && t_json_int(r.json, "active") == 2 &&
           t_json_int(r.json, "admittedLastMinute") == 2,
       "the view: 4 waiting, 2 active, 2 admitted in the last minute");
    t_resp_free(&r);

    /* A token's end stays where it was when activeSeconds changes. */
    status_of(tokens[0], NULL, &exp_before);
    admin("PATCH", concert, "", "{\"activeSeconds\":60,\"admissionPerMinute\":3}", t_admin_key(), &r);
    ok(r.status == 200 && t_json_int(r.json, "activeSeconds") == 60 && t_json_int(r.json, "admissionPerMinute") == 3,
       "PATCH shortens activeSeconds and raises the cap to 3");
    t_resp_free(&r);
    status_of(tokens[0], NULL, &exp_after);
    ok(exp_before > 0 && exp_before == exp_after, "an ACTIVE token keeps its end time (%" PRId64 ")", exp_after);
    ok(active_within(tokens[2], 1500) >= 0, "one more is admitted under the raised cap");
    ok(strcmp(status_of(tokens[3], &pos, NULL), "WAITING") == 0 && pos == 1, "and the next waits first in line");
    admin("PATCH", concert, "", "{\"admissionPerMinute\":null}", t_admin_key(), &r);
    ok(r.status == 200 && json_object_object_get_ex(r.json, "admissionPerMinute", NULL) &&
           !json_object_object_get(r.json, "admissionPerMinute"),
       "admissionPerMinute null removes the cap");
    t_resp_free(&r);
    ok(active_within(tokens[5], 1500) >= 0 && strcmp(status_of(tokens[3], NULL, NULL), "ACTIVE") == 0,
       "and the rest are admitted");

    /* PostgreSQL wins within a second, even changed behind the cache's back
     * (as if the write that drops the cache after a PATCH was lost). */
    {
        char idtext[24];
        const char *params[] = {idtext};
        long waited = -1;

        snprintf(idtext, sizeof idtext, "%" PRId64, concert);
        free(t_pg_value("UPDATE concerts SET paused = true WHERE id = $1 RETURNING paused", 1, params));
        for (long ms = 0; ms <= 2000 && waited < 0; ms += 100) {
            admin("GET", concert, "/queue", NULL, t_admin_key(), &r);
            if (json_object_get_boolean(json_object_object_get(r.json, "paused")))
                waited = ms;
            t_resp_free(&r);
            if (waited < 0)
                usleep(100000);
        }
        ok(waited >= 0 && waited <= 1500, "paused in PostgreSQL alone is in force within a second or so (%ld ms)",
           waited);
        free(t_pg_value("UPDATE concerts SET paused = false WHERE id = $1 RETURNING paused", 1, params));
    }

    /* Refusals change nothing. */
    {
        static const struct { const char *body, *what; } bad[] = {
            {"{\"title\":\"renamed\"}", "the title cannot be changed"},
            {"{\"activeLimit\":0}", "activeLimit 0"},
            {"{\"paused\":\"yes\"}", "paused that is not a boolean"},
            {"{\"admissionPerMinute\":1000001}", "an admission cap over 1,000,000"},
            {"{\"limit\":5}", "an unknown field"},
        };
        int refused = 0;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            refused += admin("PATCH", concert, "", bad[i].body, t_admin_key(), &r) == 400 &&
                       strcmp(t_error_code(&r), "INVALID_REQUEST") == 0;
            if (r.status != 400)
                diag("%s: %ld", bad[i].what, r.status);
            t_resp_free(&r);
        }
        ok(refused == 5, "400 for the title, activeLimit 0, a non-boolean, a cap too high, an unknown field");
    }
    ok(admin("PATCH", concert, "", "{\"paused\":true}", NULL, &r) == 401, "401 without the admin key");
    t_resp_free(&r);
    ok(admin("PATCH", concert, "", "{\"paused\":true}", "wrong-key-wrong-key", &r) == 401, "401 with a wrong one");
    t_resp_free(&r);
    ok(admin("PATCH", 999999999, "", "{\"paused\":true}", t_admin_key(), &r) == 404 &&
           strcmp(t_error_code(&r), "NOT_FOUND") == 0, "404 for an unknown concert");
    t_resp_free(&r);
    admin("GET", concert, "", NULL, t_admin_key(), &r);
    ok(r.status == 200 && !json_object_get_boolean(json_object_object_get(r.json, "paused")) &&
           t_json_int(r.json, "activeLimit") == 10 && t_json_int(r.json, "activeSeconds") == 60 &&
           strcmp(t_json_str(r.json, "title") ? t_json_str(r.json, "title") : "", "steered") == 0,
       "after the refusals the settings are as they were");
    t_resp_free(&r);
    ok(admin("DELETE", concert, "", NULL, t_admin_key(), &r) == 405, "DELETE is 405");
    t_resp_free(&r);
    for (int i = 0; i < 6; i++)
        free(tokens[i]);
    return done_testing();
}
