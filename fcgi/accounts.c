/* accounts.c - the accounts responder: sign-up (POST /api/v1/users), login
 * (POST /api/v1/sessions) and logout (DELETE /api/v1/sessions/current),
 * which also ends the queue tokens taken with the session.
 *
 * Passwords are Argon2id hashes in PostgreSQL (shared/password.c);
 * sessions live in Redis under a hash of themselves (shared/session.c);
 * failed logins are limited per address and per email before any password
 * is checked (shared/login_limit.c), keyed on the same stored form of the
 * email that finds the account. A password is copied once, out of the
 * request, and that copy and the request's own bytes are wiped as soon as
 * the answer is known. */
#include "app.h"
#include "account.h"
#include "booking.h"
#include "db.h"
#include "guard.h"
#include "hold.h"
#include "log.h"
#include "login_limit.h"
#include "password.h"
#include "queue.h"
#include "session.h"
#include "utc.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

/* What a sign-up or login body carries, checked: the email in its stored
 * form and a private copy of the password. */
struct credentials {
    char email[ACCOUNT_EMAIL_MAX_BYTES + 1];
    char password[ACCOUNT_PASSWORD_MAX_BYTES + 1];
    size_t password_len;
};

static void credentials_wipe(struct credentials *c)
{
    sodium_memzero(c, sizeof *c);
}

/* Reads {"email", "password"} from the body into c, then wipes the
 * password wherever the request had it (the body buffer, json-c's string).
 * Returns 0, or -1 after answering 400. */
static int read_credentials(struct request *r, struct credentials *c)
{
    static const char *const fields[] = {"email", "password", NULL};
    struct json_object *body = http_body_object(r);
    struct json_object *password_value = NULL;
    const char *email = NULL, *password = NULL, *problem;
    int rc = -1;

    memset(c, 0, sizeof *c);
    if (!body)
        goto wipe_body;
    json_object_object_get_ex(body, "password", &password_value);
    if (http_only_fields(r, body, fields) < 0 ||
        http_get_string(r, body, "email", 1, 1, ACCOUNT_EMAIL_MAX_BYTES, &email) < 0 ||
        http_get_string(r, body, "password", 1, 1, ACCOUNT_PASSWORD_MAX_BYTES, &password) < 0)
        goto done;
    problem = account_email_normalize(email, strlen(email), c->email);
    if (problem) {
        http_invalid(r, "email", problem);
        goto done;
    }
    c->password_len = strlen(password);
    problem = account_password_problem(password, c->password_len);
    if (problem) {
        http_invalid(r, "password", problem);
        goto done;
    }
    memcpy(c->password, password, c->password_len + 1);
    rc = 0;
done:
    /* json-c keeps the string in memory of its own that it frees without
     * clearing; it is writable, so it is cleared here first. */
    if (password_value && json_object_is_type(password_value, json_type_string))
        sodium_memzero((char *)json_object_get_string(password_value),
                       (size_t)json_object_get_string_len(password_value));
    json_object_put(body);
wipe_body:
    if (r->body)
        sodium_memzero(r->body, r->body_len);
    if (rc < 0)
        credentials_wipe(c);
    return rc;
}

/* Adds key: value (a string) to o; -1 when out of memory. */
static int add_string(struct json_object *o, const char *key, const char *value)
{
    struct json_object *v = json_object_new_string(value);

    if (!v || json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static void reply_db_error(struct request *r, db_rc rc)
{
    if (rc == DB_UNAVAILABLE || rc == DB_UNKNOWN)
        http_unavailable(r, "PostgreSQL");
    else
        http_internal_error(r);
}

/* POST /api/v1/users {"email", "password"}: 201 {"userId", "email"}, or
 * 409 EMAIL_TAKEN. */
static void sign_up(struct request *r)
{
    /* One statement: the account and its user row commit together or not at
     * all. The account goes in first, so an email already taken (in its
     * stored form, the only form there is) stops it with no user row made;
     * its reference to the user row is checked at commit. */
    static const char sql[] =
        "WITH account AS ("
        " INSERT INTO accounts (user_id, email, password_hash)"
        " VALUES (gen_random_uuid(), $1, $2)"
        " ON CONFLICT (email) DO NOTHING"
        " RETURNING user_id, email)"
        " INSERT INTO users (id) SELECT user_id FROM account"
        " RETURNING id::text, (SELECT email FROM account)";
    struct credentials c;
    char hash[PASSWORD_HASH_SIZE];
    const char *params[2];
    struct json_object *o;
    PGresult *res;
    db_rc rc;

    if (read_credentials(r, &c) < 0)
        return;
    if (password_hash(c.password, c.password_len, hash) < 0) {
        credentials_wipe(&c);
        http_internal_error(r);
        return;
    }
    params[0] = c.email;
    params[1] = hash;
    rc = db_query(sql, 2, params, &res);
    credentials_wipe(&c);
    if (rc != DB_OK) {
        reply_db_error(r, rc);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        http_error(r, 409, "EMAIL_TAKEN", "an account with this email already exists");
        return;
    }
    o = json_object_new_object();
    if (o && (add_string(o, "userId", PQgetvalue(res, 0, 0)) < 0 ||
              add_string(o, "email", PQgetvalue(res, 0, 1)) < 0)) {
        json_object_put(o);
        o = NULL;
    }
    PQclear(res);
    http_json(r, 201, o);   /* answers 503 itself when o is NULL */
}

/* After a successful login: a stored hash made with other settings than the
 * configured ones is replaced by one made now. Only if it is still the hash
 * that was checked (a password changed meanwhile is not undone). A failure
 * only leaves the old hash, which still works. */
static void rehash_if_needed(const char *user_id, const char *stored, const struct credentials *c)
{
    static const char sql[] =
        "UPDATE accounts SET password_hash = $3 WHERE user_id = $1::uuid AND password_hash = $2";
    char hash[PASSWORD_HASH_SIZE];
    const char *params[3];
    PGresult *res;

    if (!password_needs_rehash(stored) || password_hash(c->password, c->password_len, hash) < 0)
        return;
    params[0] = user_id;
    params[1] = stored;
    params[2] = hash;
    if (db_query(sql, 3, params, &res) == DB_OK)
        PQclear(res);
    else
        log_error("login: the password hash of a user could not be updated to the configured cost");
}

static void login_failed(struct request *r)
{
    http_error(r, 401, "LOGIN_FAILED", "wrong email or password");
}

/* POST /api/v1/sessions {"email", "password"}: 201 {"session", "userId",
 * "expiresAt"}; 401 LOGIN_FAILED for an unknown email and for a wrong
 * password alike; 429 once the address, or the email from this address,
 * has failed too often (see login_limit.h). */
static void login(struct request *r)
{
    /* Exact equality on the stored form, the same form the limit counts:
     * PostgreSQL's lower() would also fold non-ASCII letters (KELVIN SIGN to
     * 'k'), and every such spelling would find the account with a failure
     * budget of its own. */
    static const char sql[] =
        "SELECT user_id::text, password_hash FROM accounts WHERE email = $1";
    struct credentials c;
    const char *params[1];
    char session[SESSION_TEXT_LEN + 1], user_id[37], expires_text[UTC_TEXT_SIZE];
    time_t expires;
    long retry_after;
    struct json_object *o;
    PGresult *res;
    db_rc rc;
    session_rc src;

    if (read_credentials(r, &c) < 0)
        return;
    switch (login_limit_take(c.email, r->remote_addr, &retry_after)) {
    case LOGIN_LIMIT_OK:
        break;
    case LOGIN_LIMIT_REACHED:
        credentials_wipe(&c);
        http_rate_limited(r, retry_after, "too many failed logins from this address");
        return;
    case LOGIN_LIMIT_DOWN:
    default:
        credentials_wipe(&c);
        http_unavailable(r, "Redis");
        return;
    }
    params[0] = c.email;
    rc = db_query(sql, 1, params, &res);
    if (rc != DB_OK) {
        login_limit_give_back(c.email, r->remote_addr);
        credentials_wipe(&c);
        reply_db_error(r, rc);
        return;
    }
    if (PQntuples(res) != 1) {
        password_verify_nobody(c.password, c.password_len);
        PQclear(res);
        credentials_wipe(&c);
        login_failed(r);
        return;
    }
    if (!password_verify(PQgetvalue(res, 0, 1), c.password, c.password_len)) {
        PQclear(res);
        credentials_wipe(&c);
        login_failed(r);
        return;
    }
    login_limit_give_back(c.email, r->remote_addr);
    snprintf(user_id, sizeof user_id, "%s", PQgetvalue(res, 0, 0));
    rehash_if_needed(user_id, PQgetvalue(res, 0, 1), &c);
    PQclear(res);
    credentials_wipe(&c);

    src = session_create(user_id, session, &expires);
    if (src != SESSION_OK) {
        guard_session_refusal(r, src);
        return;
    }
    utc_text(expires, expires_text);
    o = json_object_new_object();
    if (o && (add_string(o, "session", session) < 0 || add_string(o, "userId", user_id) < 0 ||
              add_string(o, "expiresAt", expires_text) < 0)) {
        json_object_put(o);
        o = NULL;
    }
    sodium_memzero(session, sizeof session);
    http_json(r, 201, o);
}

/* Ends one queue token of a session that logged out: its place or slot
 * goes to the next waiting user and, when it was still live, its user's
 * HELD reservations of its concert are cancelled, their seats AVAILABLE at
 * once (booking_cancel_holds for PostgreSQL's, hold_cancel_user for those
 * Redis keeps). Returns 0, or -1 when Redis or PostgreSQL
 * could not be told: the logout answers 503 and its retry ends the rest. */
static int end_token(const char *token_id, void *arg)
{
    static const char sql[] = "SELECT * FROM booking_cancel_holds($1::uuid, $2::bigint)";
    char user_id[37], concert[24];
    const char *params[] = {user_id, concert};
    int64_t concert_id, reservation_id;
    int was_live;
    PGresult *res;

    (void)arg;
    switch (queue_end(token_id, &was_live, user_id)) {
    case QUEUE_OK:
        break;
    case QUEUE_TOKEN_INVALID:
        return 0;   /* not a token id: nothing to end */
    default:
        return -1;
    }
    if (!was_live || queue_token_concert(token_id, &concert_id) < 0)
        return 0;
    snprintf(concert, sizeof concert, "%" PRId64, concert_id);
    if (db_query(sql, 2, params, &res) != DB_OK)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        if (valid_id(PQgetvalue(res, i, 0), &reservation_id) == 0)
            booking_tell_cancelled(res, i, reservation_id);
    }
    PQclear(res);
    if (hold_cancel_user(concert_id, user_id, utc_now_ms()) < 0)
        return -1;
    queue_end_done(token_id);
    return 0;
}

/* DELETE /api/v1/sessions/current (session): 204, the session ends now,
 * and so does every queue token taken with it (end_token). */
static void logout(struct request *r)
{
    const char *session = guard_session_bearer(r);
    session_rc rc;

    if (!session)
        return;
    rc = session_end(session, end_token, NULL);
    if (rc == SESSION_OK)
        http_no_content(r);
    else
        guard_session_refusal(r, rc);
}

static const struct route routes[] = {
    {"POST", "/api/v1/users", sign_up},
    {"POST", "/api/v1/sessions", login},
    {"DELETE", "/api/v1/sessions/current", logout},
};

int main(void)
{
    return app_run("concert-accounts", routes, sizeof routes / sizeof routes[0]);
}
