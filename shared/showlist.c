/* showlist.c - a concert's list of shows on sale, kept in Redis for a
 * second (see showlist.h). */
#include "showlist.h"
#include "keyspace.h"
#include "log.h"
#include "rds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOWLIST_KEYLEN KEYSPACE_CONCERT_KEY_SIZE
#define SHOWLIST_TTL_MS "1000"

/* shared/lua/showlist_get.lua. KEYS: the concert's active tokens, its
 * token owners, the list. ARGV: token id. The queue's cheap token check
 * ({'MISS'}), then enum get_field if the list is kept, else {'ABSENT'}. */
extern struct rds_script lua_showlist_get;
enum get_field { GET_CODE, GET_LIST, GET_FIELDS };

static void showlist_key(int64_t concert_id, char *out)
{
    keyspace_shows(out, SHOWLIST_KEYLEN, concert_id);
}

showlist_rc showlist_get(int64_t concert_id, const char *token, char **json)
{
    char active[SHOWLIST_KEYLEN], tokens[SHOWLIST_KEYLEN], list[SHOWLIST_KEYLEN];
    const char *argv[] = {active, tokens, list, token};
    redisReply *reply;
    showlist_rc rc = SHOWLIST_DOWN;

    *json = NULL;
    keyspace_queue(active, sizeof active, concert_id, QUEUE_KEY_ACTIVE);
    keyspace_queue(tokens, sizeof tokens, concert_id, QUEUE_KEY_TOKENS);
    showlist_key(concert_id, list);
    reply = rds_eval(&lua_showlist_get, 3, 4, argv);
    if (!reply)
        return SHOWLIST_DOWN;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || reply->element[GET_CODE]->type != REDIS_REPLY_STRING) {
        log_error("showlist_get: unexpected reply");
    } else if (strcmp(reply->element[GET_CODE]->str, "MISS") == 0) {
        rc = SHOWLIST_TOKEN_MISS;
    } else if (strcmp(reply->element[GET_CODE]->str, "ABSENT") == 0) {
        rc = SHOWLIST_ABSENT;
    } else if (reply->elements == GET_FIELDS && reply->element[GET_LIST]->type == REDIS_REPLY_STRING) {
        *json = strdup(reply->element[GET_LIST]->str);
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
