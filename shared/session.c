/* session.c - sessions as hashed keys in Redis (see session.h). */
#include "session.h"
#include "config.h"
#include "keyspace.h"
#include "log.h"
#include "rand.h"
#include "rds.h"
#include "replica.h"
#include "valid.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

/* shared/lua/session_take_token.lua (KEYS: session, its tokens; ARGV:
 * TTL, token id; answers the userId, or nil when there is no session),
 * session_attach_token.lua (KEYS: session, its tokens; ARGV: token id, id
 * to forget; answers 1, or 0 when there is no session) and session_end.lua
 * (KEYS: session, its tokens, the tokens still to end; answers the tokens
 * to end, or nil). How long the token sets are kept:
 * shared/lua/lib/session_times.lua. */
extern struct rds_script lua_session_take_token, lua_session_attach_token, lua_session_end;

#define SESSION_SIDE_KEY_SIZE (SESSION_KEY_SIZE + sizeof "{}:tokens")

/* A key in the session's own hash slot (keyspace.h). */
static void session_side_key(const char *key, const char *what, char out[SESSION_SIDE_KEY_SIZE])
{
    keyspace_session_side(out, SESSION_SIDE_KEY_SIZE, key, what);
}

void session_key(const char *session, char key[SESSION_KEY_SIZE])
{
    char hex[DIGEST_HEX_LEN + 1];

    digest_hex(session, strlen(session), hex);
    keyspace_session(key, SESSION_KEY_SIZE, hex);
}

/* A session as sent must look like one we made: 64 lowercase hex digits.
 * Anything else is refused before Redis is asked. */
static int session_well_formed(const char *session)
{
    size_t n = 0;

    for (; session[n]; n++) {
        char c = session[n];
        if (n == SESSION_TEXT_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return n == SESSION_TEXT_LEN;
}

/* A session's key and its overflow set of token ids; -1 when the session
 * is not one we made (nothing is asked of Redis then). */
static int session_keys(const char *session, char key[SESSION_KEY_SIZE], char tokens[SESSION_SIDE_KEY_SIZE])
{
    if (!session_well_formed(session))
        return -1;
    session_key(session, key);
    session_side_key(key, "tokens", tokens);
    return 0;
}

session_rc session_create(const char *user_id, char session[SESSION_TEXT_LEN + 1], time_t *expires)
{
    char key[SESSION_KEY_SIZE], ttl[24];
    const char *argv[6];
    redisReply *reply;
    session_rc rc;

    if (rand_hex(session, SESSION_BYTES) < 0) {
        log_error("session: getrandom failed");
        return SESSION_DOWN;
    }
    session_key(session, key);
    snprintf(ttl, sizeof ttl, "%ld", g_config.session_ttl_seconds);
    argv[0] = "SET";
    argv[1] = key;
    argv[2] = user_id;
    argv[3] = "EX";
    argv[4] = ttl;
    argv[5] = "NX";   /* 256 random bits never collide; if they did, no takeover */
    *expires = time(NULL) + g_config.session_ttl_seconds;
    reply = rds_command(6, argv, NULL);
    if (!reply)
        rc = SESSION_DOWN;
    else if (reply->type == REDIS_REPLY_STATUS)
        rc = SESSION_OK;
    else {
        log_error("session: SET answered type %d", reply->type);
        rc = SESSION_DOWN;
    }
    if (reply)
        freeReplyObject(reply);
    if (rc != SESSION_OK)
        sodium_memzero(session, SESSION_TEXT_LEN + 1);
    return rc;
}

/* A session's value is "<userId>", then ",<id>" for each queue token
 * taken with it (shared/lua/session_attach_token.lua): fills user_id from
 * it. Returns 0, or -1 when the value is not one. */
static int session_value_user(const char *value, size_t len, char user_id[37])
{
    if (len < 36 || (len > 36 && value[36] != ','))
        return -1;
    memcpy(user_id, value, 36);
    user_id[36] = '\0';
    return valid_uuid(user_id) ? 0 : -1;
}

/* Reads a session's user out of a reply: SESSION_OK (user_id filled),
 * SESSION_INVALID for nil (no session), else logged. */
static session_rc session_reply_user(const redisReply *reply, char user_id[37])
{
    if (reply->type == REDIS_REPLY_NIL)
        return SESSION_INVALID;
    if (reply->type == REDIS_REPLY_STRING && session_value_user(reply->str, reply->len, user_id) == 0)
        return SESSION_OK;
    log_error("session: a session key holds no user id (type %d)", reply->type);
    return SESSION_INVALID;
}

session_rc session_lookup(const char *session, char user_id[37])
{
    char key[SESSION_KEY_SIZE], ttl[24];
    const char *argv[4];
    redisReply *reply;
    session_rc rc;

    if (!session_well_formed(session))
        return SESSION_INVALID;
    session_key(session, key);
    snprintf(ttl, sizeof ttl, "%ld", g_config.session_ttl_seconds);
    argv[0] = "GETEX";
    argv[1] = key;
    argv[2] = "EX";
    argv[3] = ttl;
    reply = rds_command(4, argv, NULL);
    if (!reply)
        return SESSION_DOWN;
    rc = session_reply_user(reply, user_id);
    freeReplyObject(reply);
    return rc;
}

session_rc session_take_token(const char *session, const char *token_id, char user_id[37])
{
    char key[SESSION_KEY_SIZE], tokens[SESSION_SIDE_KEY_SIZE], ttl[24];
    const char *argv[4] = {key, tokens, ttl, token_id};
    redisReply *reply;
    session_rc rc;

    if (session_keys(session, key, tokens) < 0)
        return SESSION_INVALID;
    snprintf(ttl, sizeof ttl, "%ld", g_config.session_ttl_seconds);
    reply = rds_eval(&lua_session_take_token, 2, 4, argv);
    if (!reply)
        return SESSION_DOWN;
    rc = session_reply_user(reply, user_id);
    freeReplyObject(reply);
    return rc;
}

session_rc session_attach_token(const char *session, const char *token_id, const char *instead_of)
{
    char key[SESSION_KEY_SIZE], tokens[SESSION_SIDE_KEY_SIZE];
    const char *argv[4] = {key, tokens, token_id, instead_of ? instead_of : ""};
    redisReply *reply;
    session_rc rc;

    if (session_keys(session, key, tokens) < 0)
        return SESSION_INVALID;
    reply = rds_eval(&lua_session_attach_token, 2, 4, argv);
    if (!reply)
        return SESSION_DOWN;
    if (reply->type != REDIS_REPLY_INTEGER) {
        log_error("session: attaching a token answered type %d", reply->type);
        rc = SESSION_DOWN;
    } else {
        rc = reply->integer == 1 ? SESSION_OK : SESSION_INVALID;
    }
    freeReplyObject(reply);
    return rc;
}

/* With Sentinels, or on a Redis Cluster whose shards have replicas, the
 * session's primary has a replica, which a failover promotes: a logout
 * waits (half the timeout at most) until it has the deletion too, so that
 * the session does not come back with a new primary. The WAIT goes where
 * the logout's script ran (on a cluster, the primary of the session's
 * slot: rds_cluster.h sends a keyless command after the last one). Not
 * acknowledged in time, the logout still stands on the primary. */
static void session_wait_replica(void)
{
    if (rds_replicas_behind() < 1)
        return;
    replica_wait(g_config.redis_timeout_ms > 1 ? g_config.redis_timeout_ms / 2 : 1, "a logout");
}

session_rc session_end(const char *session, int (*end_token)(const char *token_id, void *arg), void *arg)
{
    char key[SESSION_KEY_SIZE], tokens[SESSION_SIDE_KEY_SIZE], ending[SESSION_SIDE_KEY_SIZE];
    const char *argv[3] = {key, tokens, ending};
    redisReply *reply;
    session_rc rc = SESSION_OK;

    if (session_keys(session, key, tokens) < 0)
        return SESSION_INVALID;
    session_side_key(key, "ending", ending);
    reply = rds_eval(&lua_session_end, 3, 3, argv);
    if (!reply)
        return SESSION_DOWN;
    if (reply->type == REDIS_REPLY_NIL) {
        freeReplyObject(reply);
        return SESSION_INVALID;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_error("session: ending a session answered type %d", reply->type);
        freeReplyObject(reply);
        return SESSION_DOWN;
    }
    session_wait_replica();
    for (size_t i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING || end_token(reply->element[i]->str, arg) < 0)
            rc = SESSION_DOWN;
    }
    freeReplyObject(reply);
    if (rc == SESSION_OK) {
        const char *del[2] = {"DEL", ending};

        reply = rds_command(2, del, NULL);
        if (reply)
            freeReplyObject(reply);
        /* Left behind, the list only makes a repeated logout end ended
         * tokens again, which changes nothing. */
    }
    return rc;
}
