/* 2s-issue-cost: a token issue asks Redis twice, once a store.
 *
 * The story: 40 users, each with a session, take a token for a concert
 * while a MONITOR client watches what Redis is sent. Each issue sends the
 * session's hash slot one command (the lookup, which also tells the
 * session the new token's id) and the concert's one (the queue's script):
 * 40 and 40, where the lookup and remembering the id had been two
 * round trips. The sessions keep exactly the ids their logouts must end:
 * a user who asks again three times (200, the same token) keeps one id,
 * and an issue for a concert that does not exist (404) or in another
 * user's name (403) leaves none behind. One of the 40 logs out: its token
 * is 401 at once. */
#include "tap.h"
#include "testlib.h"
#include "rds.h"
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 40

/* The session's value in Redis: "<userId>" and ",<id>" a token kept. */
static int ids_kept(const char *user_id, char *value, size_t size)
{
    char key[SESSION_KEY_SIZE];
    const char *get[] = {"GET", key};
    struct redisReply *reply;
    int ids = -1;

    session_key(t_session(user_id), key);
    reply = t_redis(2, get);
    value[0] = '\0';
    if (reply && reply->type == REDIS_REPLY_STRING) {
        snprintf(value, size, "%s", reply->str);
        ids = 0;
        for (const char *c = value; *c; c++)
            ids += *c == ',';
    }
    if (reply)
        freeReplyObject(reply);
    return ids;
}

int main(void)
{
    char users[USERS][37], hex[USERS][DIGEST_HEX_LEN + 1], tag[32], body[96], value[512];
    char *tokens[USERS], *again;
    long session_trips = 0, queue_trips = 0, seen = 0;
    int issued = 0;
    int64_t concert_id;
    struct redisContext *mon;
    struct t_resp r;
    char *line;

    t_init();
    t_use_config();
    plan(11);
    concert_id = t_create_concert_or_bail(1000, 600, 600, 300, 1, 10, 1000, NULL);
    for (int i = 0; i < USERS; i++) {
        char key[SESSION_KEY_SIZE];
        t_user(users[i]);
        session_key(t_session(users[i]), key);
        snprintf(hex[i], sizeof hex[i], "%s", key + sizeof KEYSPACE_SESSION_PREFIX - 1);
    }
    /* The responders' scripts loaded and the concert's facts cached. */
    {
        char warm[37];
        t_user(warm);
        free(t_issue_token(concert_id, warm, &r));
        t_resp_free(&r);
    }

    step("40 issues under MONITOR");
    mon = t_redis_monitor();
    for (int i = 0; i < USERS; i++) {
        tokens[i] = t_issue_token(concert_id, users[i], &r);
        issued += r.status == 201 && tokens[i] != NULL;
        t_resp_free(&r);
    }
    is_int(issued, USERS, "%d new tokens (201)", USERS);
    snprintf(tag, sizeof tag, "{c:%" PRId64 "}", concert_id);
    while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
        /* What a client sent, not a script's own commands ("[0 lua]"). */
        if (!strstr(line, " lua]")) {
            int ours = 0;
            for (int i = 0; i < USERS && !ours; i++)
                ours = strstr(line, hex[i]) != NULL;
            session_trips += ours;
            queue_trips += strstr(line, tag) && (strstr(line, "\"EVALSHA\"") || strstr(line, "\"EVAL\""));
            seen++;
        }
        free(line);
    }
    redisFree(mon);
    diag("%d issues: %ld commands to the sessions, %ld queue scripts (%ld commands in all)", USERS,
         session_trips, queue_trips, seen);
    is_int(session_trips, USERS, "one command a session an issue (%ld)", session_trips);
    is_int(queue_trips, USERS, "one queue script an issue (%ld)", queue_trips);

    step("each session keeps its token's id, and only that");
    ok(ids_kept(users[0], value, sizeof value) == 1 && tokens[0] &&
           strstr(value, t_token_id(tokens[0])) != NULL,
       "the first session keeps its token's id (%s)", value);
    for (int i = 0; i < 3; i++) {
        again = t_issue_token(concert_id, users[1], &r);
        ok(r.status == 200 && again && tokens[1] && strcmp(again, tokens[1]) == 0,
           "asked again: 200, the same token (%ld)", r.status);
        t_resp_free(&r);
        free(again);
    }
    ok(ids_kept(users[1], value, sizeof value) == 1 && strstr(value, t_token_id(tokens[1])) != NULL,
       "asked three times more, the session keeps one id, its token's (%s)", value);
    snprintf(body, sizeof body, "{\"concertId\":%" PRId64 "}", concert_id + 100000);
    t_post("/api/v1/queue/tokens", t_session(users[2]), body, &r);
    ok(r.status == 404 && ids_kept(users[2], value, sizeof value) == 1,
       "an issue for no concert is 404 and leaves no id (%ld: %s)", r.status, value);
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"concertId\":%" PRId64 ",\"userId\":\"%s\"}", concert_id, users[4]);
    t_post("/api/v1/queue/tokens", t_session(users[3]), body, &r);
    ok(r.status == 403 && ids_kept(users[3], value, sizeof value) == 1,
       "an issue in another's name is 403 and leaves no id (%ld: %s)", r.status, value);
    t_resp_free(&r);

    step("a logout ends the token");
    t_delete("/api/v1/sessions/current", t_session(users[5]), &r);
    t_resp_free(&r);
    t_get("/api/v1/queue/status", tokens[5], &r);
    ok(r.status == 401, "the logged out user's token is 401 (%ld)", r.status);
    t_resp_free(&r);
    for (int i = 0; i < USERS; i++)
        free(tokens[i]);
    return done_testing();
}
