/* 18-token-at-rest: Redis keeps no queue token anyone could present.
 *
 * The story: Amy takes a queue token, gets in, reads the seat map, holds a
 * seat and polls, while Eve watches every command Redis runs (MONITOR).
 * Afterwards Eve reads every key of the concert and of Amy's session, as a
 * dump or a replica would give them to her. Neither holds Amy's token (nor
 * its MAC); every text Eve found, presented as a bearer, is 401 for a poll
 * and a hold, while Amy's own token still works. A token altered in its MAC
 * or in its id, or one id with another token's MAC, is 401 too. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "session.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOUND 4096

static char *found[MAX_FOUND];
static int nfound;

static void keep(const char *text, size_t len)
{
    if (nfound < MAX_FOUND && (found[nfound] = strndup(text, len)))
        nfound++;
}

static void keep_reply(const redisReply *r)
{
    if (!r)
        return;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        keep(r->str, r->len);
    else if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            keep_reply(r->element[i]);
}

/* Everything stored under the keys matching pattern, names included: each
 * key read with the command that returns all of a value of its type. */
static void read_keys(const char *pattern)
{
    static const struct {
        const char *type, *command, *from, *to;
    } reads[] = {
        {"string", "GET", NULL, NULL},
        {"hash", "HGETALL", NULL, NULL},
        {"zset", "ZRANGE", "0", "-1"},
        {"set", "SMEMBERS", NULL, NULL},
        {"stream", "XRANGE", "-", "+"},
    };
    const char *keys_cmd[] = {"KEYS", pattern};
    redisReply *keys = t_redis(2, keys_cmd);

    for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
        const char *key = keys->element[i]->str;
        const char *type_cmd[] = {"TYPE", key};
        redisReply *type = t_redis(2, type_cmd), *v = NULL;
        const char *t = type && type->type == REDIS_REPLY_STATUS ? type->str : "";

        keep(key, strlen(key));
        for (size_t k = 0; !v && k < sizeof reads / sizeof reads[0]; k++) {
            const char *c[] = {reads[k].command, key, reads[k].from, reads[k].to};
            if (strcmp(t, reads[k].type) == 0)
                v = t_redis(reads[k].from ? 4 : 2, c);
        }
        keep_reply(v);
        if (v)
            freeReplyObject(v);
        if (type)
            freeReplyObject(type);
    }
    if (keys)
        freeReplyObject(keys);
}

static long poll_status(const char *token)
{
    struct t_resp r;
    long status;

    t_get("/api/v1/queue/status", token, &r);
    status = r.status;
    t_resp_free(&r);
    return status;
}

int main(void)
{
    char amy[37], session_key_name[SESSION_KEY_SIZE], pattern[128], path[96];
    const char *mac;
    char *token, *other, altered[256];
    int64_t sched[1];
    int seat[] = {2}, seen_in_monitor = 0, seen_stored = 0, refused = 0, tried = 0;
    struct redisContext *mon;
    struct t_resp r;
    char *line;

    t_init();
    int64_t concert = t_create_concert_or_bail(5, 600, 600, 300, 1, 10, 1000, sched);
    mon = t_redis_monitor();
    token = t_active_user(concert, amy);
    if (!token)
        bail_out("no token for Amy");
    snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", sched[0]);
    t_get(path, token, &r);
    ok(r.status == 200, "Amy reads the seat map (%ld)", r.status);
    t_resp_free(&r);
    ok(bk_hold(token, sched[0], seat, 1, NULL) == 201, "Amy holds a seat");
    ok(poll_status(token) == 200, "Amy polls: 200");

    mac = strrchr(token, '.');
    ok(mac && strlen(mac + 1) == 32, "the token ends in a 128-bit MAC (%s)", mac ? "yes" : "no dot");
    mac = mac ? mac + 1 : token;
    while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
        if (strstr(line, mac))
            seen_in_monitor++;
        free(line);
    }
    redisFree(mon);
    is_int(seen_in_monitor, 0, "no command Redis ran carried the token's MAC");

    snprintf(pattern, sizeof pattern, "{c:%" PRId64 "}:*", concert);
    read_keys(pattern);
    session_key(t_session(amy), session_key_name);
    read_keys(session_key_name);
    snprintf(pattern, sizeof pattern, "{%s}:*", session_key_name);
    read_keys(pattern);
    ok(nfound > 10, "Eve read %d texts from the concert's keys and Amy's session", nfound);
    for (int i = 0; i < nfound; i++) {
        if (strstr(found[i], mac) || strstr(found[i], token))
            seen_stored++;
        /* Only texts a bearer header can carry. */
        if (strlen(found[i]) < 200 && !strpbrk(found[i], " \r\n\"{")) {
            tried++;
            if (poll_status(found[i]) == 401 && bk_hold(found[i], sched[0], (int[]){5}, 1, NULL) == 401)
                refused++;
        }
    }
    is_int(seen_stored, 0, "none of them is or holds the token or its MAC");
    ok(tried > 3 && refused == tried, "each of the %d that fit a header, presented as the token: 401 for a poll and a"
       " hold (%d refused)", tried, refused);
    ok(poll_status(token) == 200, "Amy's own token still polls: 200");

    /* --- altered tokens ----------------------------------------------------- */
    snprintf(altered, sizeof altered, "%s", token);
    altered[strlen(altered) - 1] = altered[strlen(altered) - 1] == '0' ? '1' : '0';
    is_int(poll_status(altered), 401, "the MAC's last digit changed: 401");
    snprintf(altered, sizeof altered, "%s", token);
    {
        char *dot = strchr(altered, '.');
        dot[1] = dot[1] == '0' ? '1' : '0';
    }
    is_int(poll_status(altered), 401, "a digit of the id changed: 401");
    {
        char bo[37];
        other = t_active_user(concert, bo);
        snprintf(altered, sizeof altered, "%.*s%s", (int)(strrchr(token, '.') - token), token,
                 other ? strrchr(other, '.') : ".x");
        is_int(poll_status(altered), 401, "Amy's id with Bo's MAC: 401");
        ok(other && poll_status(other) == 200, "Bo's own token: 200");
    }
    for (int i = 0; i < nfound; i++)
        free(found[i]);
    free(token);
    free(other);
    return done_testing();
}
