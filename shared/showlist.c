/* showlist.c - a concert's list of shows on sale, kept in Redis for a
 * second (see showlist.h). */
#include "showlist.h"
#include "log.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOWLIST_KEYLEN 64
#define SHOWLIST_TTL_MS "1000"

/* KEYS: the concert's active tokens, its token owners, the list. ARGV:
 * token. The queue's cheap token check, then the list if it is kept. */
static struct rds_script get_script = {"showlist_get",
    QUEUE_LUA_NOW
    QUEUE_LUA_ACTIVE_OR_MISS("KEYS[1]", "KEYS[2]", "ARGV[1]")
    "local list = redis.call('GET', KEYS[3])\n"
    "if not list then return {'ABSENT'} end\n"
    "return {'HIT', list}\n", ""};

static void showlist_key(int64_t concert_id, char *out)
{
    queue_key_name(concert_id, "shows", out, SHOWLIST_KEYLEN);
}

showlist_rc showlist_get(int64_t concert_id, const char *token, char **json)
{
    char active[SHOWLIST_KEYLEN], tokens[SHOWLIST_KEYLEN], list[SHOWLIST_KEYLEN];
    const char *argv[] = {active, tokens, list, token};
    redisReply *reply;
    showlist_rc rc = SHOWLIST_DOWN;

    *json = NULL;
    queue_key_name(concert_id, "active", active, sizeof active);
    queue_key_name(concert_id, "tokens", tokens, sizeof tokens);
    showlist_key(concert_id, list);
    reply = rds_eval(&get_script, 3, 4, argv);
    if (!reply)
        return SHOWLIST_DOWN;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || reply->element[0]->type != REDIS_REPLY_STRING) {
        log_error("showlist_get: unexpected reply");
    } else if (strcmp(reply->element[0]->str, "MISS") == 0) {
        rc = SHOWLIST_TOKEN_MISS;
    } else if (strcmp(reply->element[0]->str, "ABSENT") == 0) {
        rc = SHOWLIST_ABSENT;
    } else if (reply->elements == 2 && reply->element[1]->type == REDIS_REPLY_STRING) {
        *json = strdup(reply->element[1]->str);
        if (*json)
            rc = SHOWLIST_HIT;
        else
            log_error("showlist_get: out of memory");
    } else {
        log_error("showlist_get: unexpected reply");
    }
    freeReplyObject(reply);
    return rc;
}

void showlist_put(int64_t concert_id, const char *json)
{
    char key[SHOWLIST_KEYLEN];
    const char *argv[] = {"SET", key, json, "PX", SHOWLIST_TTL_MS};
    redisReply *reply;

    showlist_key(concert_id, key);
    reply = rds_command(5, argv, NULL);
    if (reply)
        freeReplyObject(reply);
}
