/* session.h - user sessions in Redis.
 *
 * A session is 32 bytes from getrandom(2), given to the client as 64
 * lowercase hex digits and sent back as "Authorization: Bearer <session>".
 * Redis keeps it as a string whose value is the user id and whose TTL is
 * session_ttl_seconds, renewed by every use (GETEX ... EX, or a token
 * issue's session_take_token script: one round trip);
 * logout deletes it. The key is not the session but its SHA-256:
 *
 *   session:<64 hex digits of SHA-256(session)>   STRING userId[,id...], EX ttl
 *
 * so a copy of Redis's data (a dump, a replica, MONITOR) holds no session
 * anyone could present. Checking a session reads nothing from PostgreSQL.
 *
 * A session keeps the ids of the queue tokens taken with it, because logout
 * ends them too: in its own value, after the userId, each after a comma
 * (one key a session: a drop's million sessions each with a set of their
 * own would cost Redis about 350 MB more), and past eight of them in the
 * session's own hash slot (the tag is the session key's whole name), kept
 * a week from the last token put there:
 *
 *   {session:<hex>}:tokens    SET more token ids (queue_token.h)
 *   {session:<hex>}:ending    SET token ids a logout has still to end
 *
 * A session that only runs out ends nothing else: a user waiting in a long
 * line polls with the token alone. */
#ifndef CONCERT_SESSION_H
#define CONCERT_SESSION_H

#include <time.h>

#include "digest.h"
#include "keyspace.h"

#define SESSION_BYTES 32
#define SESSION_TEXT_LEN (2 * SESSION_BYTES)
#define SESSION_KEY_SIZE (sizeof KEYSPACE_SESSION_PREFIX - 1 + DIGEST_HEX_LEN + 1)

typedef enum {
    SESSION_OK = 0,
    SESSION_INVALID,     /* unknown, expired or ended: 401 SESSION_INVALID */
    SESSION_DOWN         /* Redis unreachable (or no randomness): 503 */
} session_rc;

/* The Redis key of a session (see above). */
void session_key(const char *session, char key[SESSION_KEY_SIZE]);

/* Starts a session for user_id; fills session (64 hex digits and a NUL)
 * and *expires (when it ends unless used). */
session_rc session_create(const char *user_id, char session[SESSION_TEXT_LEN + 1], time_t *expires);

/* Looks a session up and renews its TTL; fills user_id on SESSION_OK. */
session_rc session_lookup(const char *session, char user_id[37]);

/* A token issue's one round trip to the session: session_lookup, and
 * records token_id, the id of the token about to be issued
 * (queue_token_new_id), as taken with it, so that its logout ends that
 * token once issued, or keeps the queue from issuing it (queue_enter_as).
 * An id whose issue fails ends nothing; session_attach_token forgets it. */
session_rc session_take_token(const char *session, const char *token_id, char user_id[37]);

/* Records that the queue token token_id ("" for none) was taken with
 * session, so that its logout ends it, and forgets instead_of (unless
 * NULL): an id session_take_token recorded that the issue did not use.
 * SESSION_INVALID when the session has ended (or run out) meanwhile: the
 * caller must end the token itself. */
session_rc session_attach_token(const char *session, const char *token_id, const char *instead_of);

/* Ends a session at once, then the queue tokens taken with it: end_token is
 * called with each one's id (and arg) and returns 0 once it is ended.
 * SESSION_INVALID when there was no session to end. SESSION_DOWN when Redis
 * could not be asked or a token could not be ended: the session has ended
 * all the same, and the same call again (a retried logout) ends what is
 * left. */
session_rc session_end(const char *session, int (*end_token)(const char *token_id, void *arg), void *arg);

#endif
