/* 24-queue-expiry: tokens end - by time, by idleness, or were never real.
 *
 * The story: an ACTIVE token ends activeSeconds after it was admitted (401
 * afterwards), and the slot goes to the head of the line on that user's next
 * poll, with no cron program involved. A WAITING token that is not polled
 * for waitingIdleSeconds is dropped (401) and the line closes up, while one
 * that keeps polling keeps its place and an ACTIVE token is never dropped
 * for idleness. A dropped user asking again starts at the back. Missing
 * tokens are 401 TOKEN_MISSING; forged, unknown, altered and malformed ones
 * are 401 TOKEN_INVALID. The sweep the cron program runs (queue_sweep)
 * drops and admits the same way.
 *
 * The admin API's minimum periods are 10 s; to keep the test quick it
 * shortens them by writing the concert's cached facts in Redis directly
 * (the cache the queue scripts read) right after creating the concert,
 * marked fresh for good so the scripts never read PostgreSQL's again. */
#include "tap.h"
#include "testlib.h"
#include "db.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>

/* Sets the cached facts the queue scripts read for a concert. */
static void set_conf(int64_t concert_id, const char *limit, const char *active_ms, const char *idle_ms)
{
    char key[64];

    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert_id);
    {
        const char *hset[] = {"HSET", key, "limit", limit, "active_ms", active_ms, "idle_ms", idle_ms,
                              "per_minute", "0", "paused", "0", "opens_ms", "0",
                          "fresh_until", "99999999999999"};
        const char *expire[] = {"EXPIRE", key, "600"};
        t_redis_cmd(16, hset);
        t_redis_cmd(3, expire);
    }
}

static const char *poll_tok(const char *tok, long *http, int64_t *position)
{
    static struct t_resp r;
    const char *s;

    t_resp_free(&r);
    t_get("/api/v1/queue/status", tok, &r);
    *http = r.status;
    *position = t_json_int(r.json, "position");
    s = r.status == 200 ? t_json_str(r.json, "status") : t_error_code(&r);
    return s ? s : "";
}

static void bad_auth(const char *header, const char *want, const char *what)
{
    struct t_resp r;
    const char *headers[] = {header, NULL};

    t_request("GET", "/api/v1/queue/status", header ? headers : NULL, NULL, &r);
    ok(r.status == 401 && strcmp(t_error_code(&r), want) == 0, "%s: 401 %s (%ld %s)", what, want, r.status, t_error_code(&r));
    t_resp_free(&r);
}

int main(void)
{
    struct t_resp r;
    char u[4][37], *tok[4], header[2048];
    int64_t a, b, pos;
    long http;
    const char *port = getenv("CONCERT_REDIS_PORT");

    t_init();
    a = t_create_concert_or_bail(1, 600, 600, 300, 1, 10, 1000, NULL);
    b = t_create_concert_or_bail(1, 600, 600, 300, 1, 10, 1000, NULL);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 2000);
    db_init(getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "");
    for (int i = 0; i < 4; i++)
        t_user(u[i]);

    /* --- an ACTIVE token runs out ----------------------------------------- */
    set_conf(a, "1", "1500", "60000");
    tok[0] = t_active_token(a, u[0]);
    ok(tok[0] != NULL, "user 1 ACTIVE (active period 1.5 s)");
    tok[1] = t_issue_token(a, u[1], &r);
    ok(r.status == 201 && t_json_int(r.json, "position") == 1, "user 2 waits at position 1");
    t_resp_free(&r);
    is(poll_tok(tok[0], &http, &pos), "ACTIVE", "user 1 still ACTIVE before the period ends");
    t_sleep_ms(1700);
    is(poll_tok(tok[1], &http, &pos), "ACTIVE", "after the period, user 2's next poll is ACTIVE (admitted in the request path)");
    is(poll_tok(tok[0], &http, &pos), "TOKEN_INVALID", "user 1's run-out token: TOKEN_INVALID");
    is_int(http, 401, "user 1: 401");
    {
        char *again = t_issue_token(a, u[0], &r);
        ok(r.status == 201 && again && strcmp(again, tok[0]) != 0, "user 1 asks again: 201 and a new token");
        is(t_json_str(r.json, "status"), "WAITING", "behind user 2: WAITING");
        free(again);
        t_resp_free(&r);
    }
    free(tok[0]);
    free(tok[1]);

    /* --- idle waiters are dropped ---------------------------------------- */
    set_conf(b, "1", "600000", "1500");
    tok[0] = t_active_token(b, u[0]);
    for (int i = 1; i < 4; i++) {
        tok[i] = t_issue_token(b, u[i], &r);
        t_resp_free(&r);
    }
    is(poll_tok(tok[3], &http, &pos), "WAITING", "user 4 waits");
    is_int(pos, 3, "at position 3");
    /* User 3 keeps polling; users 2 and 4 go quiet; user 1 is active. */
    for (int i = 0; i < 5; i++) {
        t_sleep_ms(450);
        poll_tok(tok[2], &http, &pos);
    }
    is(poll_tok(tok[1], &http, &pos), "TOKEN_INVALID", "user 2, silent past waitingIdleSeconds: dropped, TOKEN_INVALID");
    is_int(http, 401, "user 2: 401");
    is(poll_tok(tok[3], &http, &pos), "TOKEN_INVALID", "user 4, silent too: dropped");
    is(poll_tok(tok[2], &http, &pos), "WAITING", "user 3, who kept polling, still waits");
    is_int(pos, 1, "and moved up to position 1");
    is(poll_tok(tok[0], &http, &pos), "ACTIVE", "the active user 1 is not dropped for not polling");
    {
        char *again = t_issue_token(b, u[1], &r);
        is_int(r.status, 201, "dropped user 2 asks again: 201");
        ok(again && strcmp(again, tok[1]) != 0, "with a new token");
        is_int(t_json_int(r.json, "position"), 2, "at the back, behind user 3");
        free(tok[1]);
        tok[1] = again;
        t_resp_free(&r);
    }

    /* --- the cron program's sweep ----------------------------------------- */
    {
        int64_t dropped = -1, admitted = -1;
        set_conf(b, "1", "600000", "200");
        t_sleep_ms(300);
        is_int(queue_sweep(b, &dropped, &admitted), QUEUE_OK, "queue_sweep runs");
        is_int(dropped, 2, "it dropped the two idle waiters");
        is_int(admitted, 0, "and admitted nobody (the one slot is taken)");
        {
            /* User 1's active period ends: its end time moves into the past. */
            char key[64];
            const char *zadd[] = {"ZADD", key, "XX", "1", t_token_id(tok[0])};
            snprintf(key, sizeof key, "{c:%" PRId64 "}:active", b);
            is_int(t_redis_int(5, zadd), 0, "user 1's active period set to have ended");
        }
        is_int(queue_sweep(b, &dropped, &admitted), QUEUE_OK, "queue_sweep runs again");
        is_int(dropped, 1, "it ended the run-out active token");
        is_int(admitted, 0, "nobody left waiting to admit");
        is_int(queue_sweep(INT64_MAX, &dropped, &admitted), QUEUE_NO_CONCERT, "queue_sweep of an unknown concert: QUEUE_NO_CONCERT");
    }
    for (int i = 0; i < 4; i++)
        free(tok[i]);

    /* --- tokens that were never valid -------------------------------------- */
    {
        int64_t c = t_create_concert(5, 600, 600, 300, 1, 10, 1000, NULL);
        tok[0] = c > 0 ? t_active_token(c, u[3]) : NULL;
    }
    bad_auth(NULL, "TOKEN_MISSING", "no Authorization header");
    bad_auth("Authorization: Bearer ", "TOKEN_MISSING", "an empty bearer token");
    bad_auth("Authorization: Basic dXNlcjpwYXNz", "TOKEN_MISSING", "Basic credentials");
    bad_auth("Authorization: Bearer abc", "TOKEN_INVALID", "a short garbage token");
    snprintf(header, sizeof header, "Authorization: Bearer %" PRId64 ".0123456789abcdef0123456789abcdef", a);
    bad_auth(header, "TOKEN_INVALID", "a forged token of the right shape");
    bad_auth("Authorization: Bearer 987654321987.0123456789abcdef0123456789abcdef", "TOKEN_INVALID",
             "a token of a concert that does not exist");
    bad_auth("Authorization: Bearer 99999999999999999999.0123456789abcdef0123456789abcdef", "TOKEN_INVALID",
             "a concert id beyond 64 bits");
    if (tok[0]) {
        char altered[80];
        size_t n = strlen(tok[0]);
        snprintf(altered, sizeof altered, "%s", tok[0]);
        altered[n - 1] = altered[n - 1] == '0' ? '1' : '0';
        snprintf(header, sizeof header, "Authorization: Bearer %s", altered);
        bad_auth(header, "TOKEN_INVALID", "a real token with its last digit changed");
        snprintf(altered, sizeof altered, "%s", tok[0]);
        for (char *p = strchr(altered, '.'); p && *p; p++)
            if (*p >= 'a' && *p <= 'f')
                *p = (char)(*p - 'a' + 'A');
        snprintf(header, sizeof header, "Authorization: Bearer %s", altered);
        bad_auth(header, "TOKEN_INVALID", "a real token in upper case");
        snprintf(header, sizeof header, "Authorization: Bearer %s0", tok[0]);
        bad_auth(header, "TOKEN_INVALID", "a real token with a digit added");
        snprintf(header, sizeof header, "Authorization: Bearer 0%s", tok[0]);
        bad_auth(header, "TOKEN_INVALID", "a real token with a leading zero on the concert id");
        snprintf(header, sizeof header, "Authorization: Bearer %s extra", tok[0]);
        bad_auth(header, "TOKEN_INVALID", "a real token followed by more words");
        snprintf(header, sizeof header, "Authorization: Bearer %" PRId64 "%s", b, strchr(tok[0], '.'));
        bad_auth(header, "TOKEN_INVALID", "a real token's secret under another concert's id");
        snprintf(header, sizeof header, "Authorization: bearer %s", tok[0]);
        {
            const char *headers[] = {header, NULL};
            t_request("GET", "/api/v1/queue/status", headers, NULL, &r);
            is_int(r.status, 200, "the scheme name is case-insensitive (bearer): 200");
            t_resp_free(&r);
        }
    } else {
        for (int i = 0; i < 7; i++)
            ok(0, "no active token to alter");
    }
    memset(header, 0, sizeof header);
    strcpy(header, "Authorization: Bearer ");
    memset(header + strlen(header), '7', 1500);
    bad_auth(header, "TOKEN_INVALID", "a 1500-character token");
    bad_auth("Authorization: Bearer 1.", "TOKEN_INVALID", "a concert id and a dot");
    bad_auth("Authorization: Bearer .0123456789abcdef0123456789abcdef", "TOKEN_INVALID", "no concert id");
    free(tok[0]);
    rds_close();
    db_close();
    return done_testing();
}
