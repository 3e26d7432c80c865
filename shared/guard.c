/* guard.c - the queue-token, session and admin-key guards of the edge
 * (see guard.h). */
#include "guard.h"
#include "answer.h"
#include "config.h"
#include "valid.h"

#include <string.h>

const char *guard_queue_bearer(struct request *r)
{
    const char *token = http_bearer(r);

    if (!token)
        answer_refusal(r, "token_missing", NULL);
    return token;
}

void guard_queue_refusal(struct request *r, queue_rc rc)
{
    switch (rc) {
    case QUEUE_NO_CONCERT:
        http_error(r, 404, "NOT_FOUND", "no such concert");
        break;
    case QUEUE_TOKEN_INVALID:
        answer_refusal(r, "token_invalid", NULL);
        break;
    case QUEUE_NOT_ACTIVE:
        answer_refusal(r, "token_not_active", NULL);
        break;
    case QUEUE_WRONG_CONCERT:
        answer_refusal(r, "wrong_concert", NULL);
        break;
    case QUEUE_PG_DOWN:
        http_unavailable(r, "PostgreSQL");
        break;
    case QUEUE_ID_ENDED:
        guard_session_refusal(r, SESSION_INVALID);
        break;
    case QUEUE_REDIS_DOWN:
    default:
        http_unavailable(r, "Redis");
        break;
    }
}

int guard_queue_active(struct request *r, int64_t concert_id, struct queue_ticket *t)
{
    const char *token = guard_queue_bearer(r);
    queue_rc rc;

    if (!token)
        return -1;
    rc = queue_check(token, concert_id, t);
    /* These three found the token in Redis: its concert is real. */
    if (rc == QUEUE_OK || rc == QUEUE_WRONG_CONCERT || rc == QUEUE_NOT_ACTIVE)
        r->concert_id = t->concert_id;
    if (rc != QUEUE_OK) {
        guard_queue_refusal(r, rc);
        return -1;
    }
    return 0;
}

int guard_queue_token_open(struct request *r, char token_id[QUEUE_TOKEN_ID_MAX + 1], int64_t *concert_id)
{
    struct queue_ticket t;
    const char *token = guard_queue_bearer(r);

    if (!token)
        return -1;
    if (queue_token_open(token, token_id, concert_id) < 0) {
        guard_queue_active(r, 0, &t);   /* answers why the token is refused */
        return -1;
    }
    return 0;
}

int guard_queue_token_checked(struct request *r, int64_t concert_id, int (*cheap)(void *ctx, int again),
                              void *ctx)
{
    struct queue_ticket t;
    int verdict = cheap(ctx, 0);

    if (verdict != GUARD_TOKEN_MISS)
        return verdict;
    /* Waiting, just admitted, run out or unknown: the full check answers,
     * or admits and lets the read go on. */
    if (guard_queue_active(r, concert_id, &t) < 0)
        return -1;
    return cheap(ctx, 1);
}

const char *guard_session_bearer(struct request *r)
{
    const char *session = http_bearer(r);

    if (!session)
        http_error(r, 401, "TOKEN_MISSING", "an Authorization: Bearer <session> header is required");
    return session;
}

void guard_session_refusal(struct request *r, session_rc rc)
{
    if (rc == SESSION_INVALID)
        http_error(r, 401, "SESSION_INVALID", "the session is unknown, expired or ended; log in again");
    else
        http_unavailable(r, "Redis");
}

int guard_session(struct request *r, char user_id[37])
{
    const char *session = guard_session_bearer(r);
    session_rc rc;

    if (!session)
        return -1;
    rc = session_lookup(session, user_id);
    if (rc != SESSION_OK) {
        guard_session_refusal(r, rc);
        return -1;
    }
    return 0;
}

int guard_session_user(struct request *r, int param_index, char user_id[37])
{
    const char *path_user;

    if (guard_session(r, user_id) < 0 || http_param_uuid(r, param_index, &path_user) < 0)
        return -1;
    if (strcmp(path_user, user_id) != 0) {
        http_error(r, 403, "FORBIDDEN", "this session belongs to another user");
        return -1;
    }
    return 0;
}

int guard_admin(struct request *r)
{
    const char *key = http_bearer(r);

    if (!key) {
        http_error(r, 401, "TOKEN_MISSING", "an Authorization: Bearer <admin key> header is required");
        return -1;
    }
    if (!g_config.admin_key || !constant_time_equal(key, g_config.admin_key)) {
        http_error(r, 401, "TOKEN_INVALID", "the admin key is wrong");
        return -1;
    }
    return 0;
}
