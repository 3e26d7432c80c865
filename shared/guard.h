/* guard.h - the edge's guards: the queue token, the session and the admin
 * key a request presents, checked before a handler does its work.
 *
 * The domain (queue.h, session.h) returns verdicts; these turn them into
 * the contract's 401/403/503 (queue-token refusals by outcome.c's table,
 * like every other refusal), so no domain module writes HTTP. Each guard
 * returns 0 to go on, or -1 after answering. */
#ifndef CONCERT_GUARD_H
#define CONCERT_GUARD_H

#include <stdint.h>

#include "http.h"
#include "queue.h"
#include "session.h"

/* --- Queue tokens ---------------------------------------------------------- */

/* The queue token of "Authorization: Bearer <token>", or NULL after
 * answering 401 TOKEN_MISSING. */
const char *guard_queue_bearer(struct request *r);

/* Answers the refusal a non-OK queue_rc stands for: 404 (no such concert),
 * 401/403 (the token), 503 (PostgreSQL or Redis). */
void guard_queue_refusal(struct request *r, queue_rc rc);

/* Requires an ACTIVE bearer token of concert_id (0: any concert, the
 * caller compares it later), by the queue's full check (queue_check). A
 * token found in Redis makes its concert the request's (the metrics'
 * label, the request log): never the text of a token not found, since
 * anyone can write any concert there. */
int guard_queue_active(struct request *r, int64_t concert_id, struct queue_ticket *t);

/* The bearer token's form: its id and the concert its text names (not yet
 * proof the token is real). A missing token is 401 TOKEN_MISSING; a
 * malformed one is answered by the full check. */
int guard_queue_token_open(struct request *r, char token_id[QUEUE_TOKEN_ID_MAX + 1], int64_t *concert_id);

/* The token-check protocol, written once. A hot read checks the token in
 * its own script (one round trip); cheap(ctx, again) runs it and returns
 * GUARD_TOKEN_MISS when the script did not find the token simply ACTIVE,
 * anything else when it decided. On a miss the queue's full check runs
 * (guard_queue_active: it answers why the token is refused, or admits it)
 * and cheap runs once more with again set. Returns cheap's last verdict,
 * or -1 after the full check answered. */
#define GUARD_TOKEN_MISS 1
int guard_queue_token_checked(struct request *r, int64_t concert_id, int (*cheap)(void *ctx, int again),
                              void *ctx);

/* --- Sessions -------------------------------------------------------------- */

/* The session the request presents (Authorization: Bearer <session>), or
 * NULL after answering 401 TOKEN_MISSING. */
const char *guard_session_bearer(struct request *r);

/* Answers what a session_rc other than SESSION_OK stands for: 401
 * SESSION_INVALID, or 503 with Retry-After. */
void guard_session_refusal(struct request *r, session_rc rc);

/* For "(session)" endpoints: the user of the request's session. Refuses
 * with 401 TOKEN_MISSING (no Authorization: Bearer), 401 SESSION_INVALID
 * or 503 (with Retry-After). */
int guard_session(struct request *r, char user_id[37]);

/* As guard_session, and the path parameter param_index (a {userId}) must
 * be the session's user: 400 when it is not a UUID, 403 FORBIDDEN when it
 * is someone else's. */
int guard_session_user(struct request *r, int param_index, char user_id[37]);

/* --- The admin key --------------------------------------------------------- */

/* The admin key must come as a bearer token. A missing key and a wrong one
 * are told apart (TOKEN_MISSING / TOKEN_INVALID) like queue tokens are; the
 * comparison takes the same time however much of the key matched. With no
 * admin key configured the admin API refuses everything. */
int guard_admin(struct request *r);

#endif
