/* 22-queue-fifo: a full concert admits its waiting users strictly in order.
 *
 * The story: a concert with activeLimit 2 admits the first two users at once
 * and lines the next five up at positions 1..5, each with the slowest-rate
 * estimate (position * activeSeconds / activeLimit); asking again keeps the
 * place. Never more than two are ACTIVE. When a user pays (queue_finish, the
 * call the payment responder makes) the head of the line sees ACTIVE on its
 * next poll, the paid token is 401, and everyone behind moves up; the
 * estimate now follows the observed admission rate. When a later user polls
 * first after a slot frees, the slot still goes to the head, not to them. */
#include "tap.h"
#include "testlib.h"
#include "db.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>

#define NUSERS 7

static char users[NUSERS][37];
static char *tokens[NUSERS];

/* Polls user i's token; fills *position; returns the status or "" / the
 * error code. */
static const char *poll_user(int i, int64_t *position, long *http, struct t_resp *r)
{
    const char *s;

    t_get("/api/v1/queue/status", tokens[i], r);
    *http = r->status;
    *position = t_json_int(r->json, "position");
    s = r->status == 200 ? t_json_str(r->json, "status") : t_error_code(r);
    return s ? s : "";
}

static int count_active(void)
{
    int n = 0;

    for (int i = 0; i < NUSERS; i++) {
        struct t_resp r;
        int64_t pos;
        long http;
        if (tokens[i] && strcmp(poll_user(i, &pos, &http, &r), "ACTIVE") == 0)
            n++;
        t_resp_free(&r);
    }
    return n;
}

int main(void)
{
    struct t_resp r;
    int64_t concert_id, pos;
    long http;
    char key[64];
    const char *port = getenv("CONCERT_REDIS_PORT");

    t_init();
    t_use_config();
    concert_id = t_create_concert_or_bail(2, 60, 600, 300, 1, 10, 1000, NULL);
    /* The library talks to the stack's Redis directly, as a responder does. */
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 2000);
    db_init(getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "");

    for (int i = 0; i < NUSERS; i++) {
        t_user(users[i]);
        tokens[i] = t_issue_token(concert_id, users[i], &r);
        if (i < 2) {
            ok(r.status == 201 && strcmp(t_json_str(r.json, "status") ? t_json_str(r.json, "status") : "", "ACTIVE") == 0,
               "user %d: 201 ACTIVE (room for two)", i + 1);
        } else {
            ok(r.status == 201 && strcmp(t_json_str(r.json, "status") ? t_json_str(r.json, "status") : "", "WAITING") == 0,
               "user %d: 201 WAITING", i + 1);
            is_int(t_json_int(r.json, "position"), i - 1, "user %d: position %d", i + 1, i - 1);
            is_int(t_json_int(r.json, "estimatedWaitSeconds"), (i - 1) * 60 / 2,
                   "user %d: estimate %d s (position * 60 s / 2)", i + 1, (i - 1) * 30);
        }
        t_resp_free(&r);
    }
    snprintf(key, sizeof key, "{c:%" PRId64 "}:active", concert_id);
    {
        const char *zcard[] = {"ZCARD", key};
        is_int(t_redis_int(2, zcard), 2, "Redis holds exactly activeLimit (2) active tokens");
    }
    is_int(count_active(), 2, "polling everyone: exactly two ACTIVE");

    {
        char *again = t_issue_token(concert_id, users[4], &r);
        is_int(r.status, 200, "user 5 asks again: 200");
        is(again, tokens[4], "user 5 keeps the token");
        is_int(t_json_int(r.json, "position"), 3, "user 5 keeps position 3 (no jump to the back)");
        free(again);
        t_resp_free(&r);
    }
    for (int i = 2; i < NUSERS; i++) {
        is_int(strcmp(poll_user(i, &pos, &http, &r), "WAITING") == 0 ? pos : -1, i - 1,
               "user %d polls: WAITING at %d", i + 1, i - 1);
        t_resp_free(&r);
    }

    /* --- user 1 pays: the head (user 3) is admitted ---------------------- */
    is_int(queue_finish(tokens[0]), QUEUE_OK, "queue_finish(user 1) as after a payment");
    is(poll_user(0, &pos, &http, &r), "TOKEN_INVALID", "user 1's token is now 401 TOKEN_INVALID");
    is_int(http, 401, "user 1: 401");
    t_resp_free(&r);
    is(poll_user(2, &pos, &http, &r), "ACTIVE", "user 3 (head) sees ACTIVE on the next poll");
    is_int(pos, 0, "user 3: position 0");
    ok(t_json_str(r.json, "expiresAt") != NULL, "user 3 has an expiresAt");
    t_resp_free(&r);
    for (int i = 3; i < NUSERS; i++) {
        is_int(strcmp(poll_user(i, &pos, &http, &r), "WAITING") == 0 ? pos : -1, i - 2,
               "user %d moved up to %d", i + 1, i - 2);
        /* One user admitted after waiting in ten minutes is slower than
         * the slowest the line can move (two slots of 60 s): that one
         * stands, 30 s a place, so the estimate only fell. */
        is_int(t_json_int(r.json, "estimatedWaitSeconds"), (i - 2) * 30,
               "user %d: estimate at no slower than the slots turn over, %d s", i + 1, (i - 2) * 30);
        t_resp_free(&r);
    }
    is_int(count_active(), 2, "still exactly two ACTIVE");
    {
        char *back = t_issue_token(concert_id, users[0], &r);
        is_int(r.status, 201, "user 1 asks again after paying: 201, a new token");
        ok(back && tokens[0] && strcmp(back, tokens[0]) != 0, "a different token");
        is_int(t_json_int(r.json, "position"), 5, "at the back of the line (position 5)");
        free(tokens[0]);
        tokens[0] = back;
        t_resp_free(&r);
    }

    /* --- a slot frees; a later user polls first -------------------------- */
    {
        const char *zrem[] = {"ZREM", key, t_token_id(tokens[1])};
        is_int(t_redis_int(3, zrem), 1, "user 2's active slot removed in Redis");
    }
    is(poll_user(4, &pos, &http, &r), "WAITING", "user 5 (second in line) polls first: still WAITING");
    is_int(pos, 1, "user 5 is now first in line: the slot went to user 4, the head");
    t_resp_free(&r);
    is(poll_user(3, &pos, &http, &r), "ACTIVE", "user 4 (the head) is ACTIVE");
    t_resp_free(&r);
    is(poll_user(1, &pos, &http, &r), "TOKEN_INVALID", "user 2's removed token is 401 TOKEN_INVALID");
    t_resp_free(&r);

    /* --- queue_finish of a waiting token leaves the line ----------------- */
    is_int(queue_finish(tokens[5]), QUEUE_OK, "queue_finish of a waiting token");
    is(poll_user(6, &pos, &http, &r), "WAITING", "user 7 still waits");
    is_int(pos, 2, "user 7 moved up past the finished user 6 (behind user 5)");
    t_resp_free(&r);
    is_int(queue_finish("12.nothex"), QUEUE_TOKEN_INVALID, "queue_finish of a malformed token: QUEUE_TOKEN_INVALID");
    is_int(count_active(), 2, "at the end still exactly two ACTIVE");

    for (int i = 0; i < NUSERS; i++)
        free(tokens[i]);
    rds_close();
    db_close();
    return done_testing();
}
