/* queue.c - the queue responder: POST /api/v1/queue/tokens and
 * GET /api/v1/queue/status.
 *
 * A token is issued to the user of the request's session (Authorization:
 * Bearer <session>), never to a user the body names: that is what keeps
 * one person from taking another's place in the queue. Polling takes the
 * queue token itself.
 *
 * Each is one queue script (shared/queue.c), an issue after one session
 * script (shared/session.c); neither writes to
 * PostgreSQL, which is read only when a concert's facts are not cached yet,
 * so a ticket drop's crowd polling here never turns into database writes. */
#include "app.h"
#include "guard.h"
#include "log.h"
#include "queue.h"
#include "session.h"
#include "valid.h"

#include <stdint.h>
#include <string.h>

static void answer_ticket(struct request *r, int status, const struct queue_ticket *t)
{
    struct json_object *o = queue_ticket_json(t);

    if (!o) {
        http_internal_error(r);
        return;
    }
    http_json(r, status, o);
}

/* Forgets an id the session was told before an issue that did not use it.
 * Left behind (Redis down), it only ends nothing at a logout. */
static void forget_unused_id(const char *session, const char *id)
{
    (void)session_attach_token(session, "", id);
}

/* POST /api/v1/queue/tokens (session) {"concertId"[, "userId"]}: 201 with a
 * new token, or 200 with the live token (same place) the session's user
 * already holds. A userId, if sent, must be the session's user: a client
 * that names someone else is told so (403) rather than silently served as
 * itself.
 *
 * Two Redis round trips for a new token: the session is looked up and told
 * the new token's id in one script (its keys and the concert's are in
 * different hash slots), then the queue issues it. So the body is read
 * before the session is checked (the id names the concert). Logout ends
 * the tokens taken with the session: an id it ends before the queue issued
 * it is refused there, so no token outlives a logout. */
/* A token issue's body: its fields, or -1 with r answered 400 (500 when
 * out of memory). */
static int issue_body(struct request *r, struct json_object **body, const char **named_user,
                      int64_t *concert_id)
{
    static const char *const fields[] = {"userId", "concertId", NULL};

    *named_user = NULL;
    *body = http_body_object(r);
    if (!*body)
        return -1;
    if (http_only_fields(r, *body, fields) < 0 ||
        http_get_string(r, *body, "userId", 0, 0, HTTP_MAX_BODY, named_user) < 0 ||
        http_get_int(r, *body, "concertId", 1, 1, INT64_MAX, concert_id) < 0)
        return -1;
    if (*named_user && !valid_uuid(*named_user)) {
        http_error(r, 400, "INVALID_REQUEST", "userId must be a lowercase canonical UUID");
        return -1;
    }
    return 0;
}

static void issue(struct request *r)
{
    const char *session = guard_session_bearer(r);
    struct request quiet;
    struct json_object *body;
    struct queue_ticket t;
    char user_id[37], id[QUEUE_TOKEN_ID_MAX + 1];
    const char *named_user = NULL;
    int64_t concert_id;
    int was_live;
    queue_rc rc;
    session_rc src;

    if (!session)
        return;
    /* The new token's id names its concert, so the body is read before
     * the session's one round trip; yet a bad session is refused before a
     * bad body, as on every door. The body is first judged on a copy that
     * answers nothing, and only a bad one costs a lookup of its own. */
    quiet = *r;
    quiet.fcgx = NULL;
    if (issue_body(&quiet, &body, &named_user, &concert_id) < 0) {
        json_object_put(body);
        src = session_lookup(session, user_id);
        if (src != SESSION_OK) {
            guard_session_refusal(r, src);
            return;
        }
        if (issue_body(r, &body, &named_user, &concert_id) == 0)
            http_internal_error(r);
        goto done;
    }
    if (queue_token_new_id(concert_id, id) < 0) {
        http_unavailable(r, "randomness");
        goto done;
    }
    src = session_take_token(session, id, user_id);
    if (src != SESSION_OK) {
        guard_session_refusal(r, src);
        goto done;
    }
    if (named_user && strcmp(named_user, user_id) != 0) {
        forget_unused_id(session, id);
        http_error(r, 403, "FORBIDDEN", "this session belongs to another user");
        goto done;
    }
    r->concert_id = concert_id;
    rc = queue_enter_as(concert_id, user_id, id, &t);
    if (rc != QUEUE_OK) {
        if (rc != QUEUE_ID_ENDED)
            forget_unused_id(session, id);
        guard_queue_refusal(r, rc);
        goto done;
    }
    /* The user's live token was another: the session keeps that one's id
     * instead. A logout meanwhile ends it here, as it would have. */
    if (strcmp(t.id, id) != 0) {
        src = session_attach_token(session, t.id, id);
        if (src != SESSION_OK) {
            if (src == SESSION_INVALID && queue_end(t.id, &was_live, user_id) != QUEUE_OK)
                log_error("queue: a token given to a session that ended meanwhile could not be ended");
            guard_session_refusal(r, src);
            goto done;
        }
    }
    answer_ticket(r, t.created ? 201 : 200, &t);
done:
    json_object_put(body);
}

/* GET /api/v1/queue/status with the bearer token: a poll, which also keeps a
 * waiting token from being dropped as idle. */
static void status(struct request *r)
{
    const char *token = guard_queue_bearer(r);
    struct queue_ticket t;
    queue_rc rc;

    if (!token)
        return;
    rc = queue_status(token, &t);
    if (rc != QUEUE_OK) {
        guard_queue_refusal(r, rc);
        return;
    }
    r->concert_id = t.concert_id;   /* found: a real concert's token */
    answer_ticket(r, 200, &t);
}

static const struct route routes[] = {
    {"POST", "/api/v1/queue/tokens", issue},
    {"GET", "/api/v1/queue/status", status},
};

int main(void)
{
    return app_run("concert-queue", routes, sizeof routes / sizeof routes[0]);
}
