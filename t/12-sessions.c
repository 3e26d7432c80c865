/* 12-sessions: people log in and out.
 *
 * The story: a login is 201 with a session of 256 random bits (64 hex
 * digits), the account's userId and an expiresAt 30 minutes ahead. Redis
 * keeps it under the SHA-256 of the session with the user id as value and
 * a TTL of session_ttl_seconds, and holds the session itself nowhere, in
 * no key and no value. A guarded request (guard_session, what every
 * "(session)" endpoint calls) renews the TTL, and tells the session's own
 * user from another (403) and from a malformed userId (400). A wrong
 * password and an unknown email get the very same 401 LOGIN_FAILED, and
 * take about as long: an unknown email still costs one Argon2id verify.
 * Logout is 204 with no body and ends the session at once: Redis forgets
 * it, and both logout and guarded requests then answer 401 SESSION_INVALID.
 * No header is 401 TOKEN_MISSING; a made-up session is 401 SESSION_INVALID.
 * A hash stored at a cheaper (or dearer) cost than the configured one is
 * redone at the configured cost on the next login. No log holds a session
 * or a password. Failed logins come from an address of this test's own,
 * so the per-address limit they count toward is not shared. */
#include "tap.h"
#include "testlib.h"
#include "11-accounts.h"
#include "app.h"
#include "config.h"
#include "guard.h"
#include "session.h"
#include "valid.h"
#include "guard-call.h"

#include <stdio.h>
#include <time.h>

static int is_hex64(const char *s)
{
    size_t n = 0;

    for (; s && s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

/* Stores a hash made here with libsodium at (ops, mem KiB) for user. */
static void store_hash(const char *user, const char *password, unsigned long long ops, size_t mem_kib)
{
    char hash[crypto_pwhash_STRBYTES];
    const char *params[2] = {user, hash};

    if (crypto_pwhash_str(hash, password, strlen(password), ops, mem_kib * 1024) != 0)
        bail_out("crypto_pwhash_str failed");
    free(t_pg_value("UPDATE accounts SET password_hash = $2 WHERE user_id = $1::uuid RETURNING 1", 2, params));
}

static char *stored_hash(const char *user)
{
    const char *params[1] = {user};
    return t_pg_value("SELECT password_hash FROM accounts WHERE user_id = $1::uuid", 1, params);
}

int main(void)
{
    struct t_resp r, wrong, unknown;
    char email[128], other_email[128], from[32], key[80], hex[65], user_seen[37], prefix[64], other_user[37];
    const char *password = "ticket-drop secret 1";
    char *user, *session, *hash;
    const char *ttl_argv[2] = {"TTL", key};
    long long ttl;
    double t_wrong = 1e9, t_unknown = 1e9;
    long st;

    t_init();
    plan(39);
    if (!getenv("CONCERT_CONF") || app_setup("12-sessions") < 0)
        bail_out("needs the ./dev test stack's config file (CONCERT_CONF) for its Redis");
    ac_address(from);
    user = ac_new_account("Jisoo", email, password);

    /* --- login ------------------------------------------------------------- */
    ac_login_from(NULL, email, password, &r);
    ok(r.status == 201, "login is 201 (%ld %s)", r.status, r.body ? r.body : "");
    session = strdup(t_json_str(r.json, "session") ? t_json_str(r.json, "session") : "");
    ok(is_hex64(session), "the session is 64 hex digits: 256 bits");
    is(t_json_str(r.json, "userId"), user, "userId is the account's");
    {
        long long exp = t_utc_seconds(t_json_str(r.json, "expiresAt"));
        long long want = (long long)time(NULL) + g_config.session_ttl_seconds;
        ok(exp > 0 && exp >= want - 10 && exp <= want + 2, "expiresAt is session_ttl_seconds (%ld) ahead: %s",
           g_config.session_ttl_seconds, t_json_str(r.json, "expiresAt"));
    }
    ok(r.json && json_object_object_length(r.json) == 3 && !strstr(r.body, password),
       "and the answer holds nothing else, no password");
    t_resp_free(&r);

    /* --- what Redis holds ---------------------------------------------------- */
    ac_sha256_hex(session, hex);
    snprintf(key, sizeof key, "session:%s", hex);
    is_int(t_redis_eval_int("key_holds", 1, key, user, NULL), 1,
           "Redis keeps session:<SHA-256 of the session> = userId");
    ttl = t_redis_int(2, ttl_argv);
    ok(ttl > g_config.session_ttl_seconds - 10 && ttl <= g_config.session_ttl_seconds,
       "with a TTL of session_ttl_seconds (%lld)", ttl);
    is_int(ac_redis_mentions(session), 0, "no Redis key or string value holds the session itself");

    /* --- guarded requests renew it and know their user ------------------------ */
    {
        const char *expire[3] = {"EXPIRE", key, "100"};
        t_redis_cmd(3, expire);
    }
    ok(guard_status_of_session(session, user, user_seen) == 0 && strcmp(user_seen, user) == 0,
       "a guarded request with the session passes as its user");
    ttl = t_redis_int(2, ttl_argv);
    ok(ttl > g_config.session_ttl_seconds - 10, "and renews the TTL (cut to 100 s, now %lld)", ttl);
    t_uuid(other_user);
    is_int(guard_status_of_session(session, other_user, user_seen), 403, "another user's userId in the path: 403");
    is_int(guard_status_of_session(session, "not-a-uuid", user_seen), 400, "a malformed userId in the path: 400");
    {
        char made_up[65];
        ac_random_hex(made_up, 32);
        is_int(guard_status_of_session(made_up, user, user_seen), 401, "a made-up session: 401");
    }

    /* --- failed logins ----------------------------------------------------- */
    ac_login_from(from, email, "wrong password!", &wrong);
    ac_email("Nobody", other_email);
    ac_login_from(from, other_email, password, &unknown);
    ok(wrong.status == 401 && strcmp(t_error_code(&wrong), "LOGIN_FAILED") == 0,
       "a wrong password is 401 LOGIN_FAILED (%ld %s)", wrong.status, wrong.body ? wrong.body : "");
    ok(unknown.status == 401 && strcmp(t_error_code(&unknown), "LOGIN_FAILED") == 0,
       "an unknown email is 401 LOGIN_FAILED (%ld)", unknown.status);
    ok(wrong.body && unknown.body && strcmp(wrong.body, unknown.body) == 0,
       "with the very same body: %s", unknown.body ? unknown.body : "");
    t_resp_free(&wrong);
    t_resp_free(&unknown);
    /* Interleaved, so load on the machine weighs on both alike; the fastest
     * of each is its cost. Another account's email, so this one's failures
     * stay few. */
    {
        char timing_email[128];
        char *timing_user;

        ac_email("Timing", timing_email);
        timing_user = ac_account(timing_email, password);
        free(timing_user);
        for (int i = 0; i < 3; i++) {
            double t;
            ac_email("Nobody", other_email);
            t = ac_timed_login(from, other_email, password, &st);
            if (st == 401 && t < t_unknown)
                t_unknown = t;
            t = ac_timed_login(from, timing_email, "wrong password!", &st);
            if (st == 401 && t < t_wrong)
                t_wrong = t;
        }
    }
    ok(t_wrong < 1e9 && t_unknown < 1e9 && t_unknown > 0.5 * t_wrong,
       "an unknown email takes about as long as a wrong password (fastest %.1f ms vs %.1f ms)", t_unknown, t_wrong);

    /* --- logout ------------------------------------------------------------------ */
    t_delete("/api/v1/sessions/current", session, &r);
    ok(r.status == 204, "logout is 204 (%ld %s)", r.status, r.body ? r.body : "");
    ok(r.len == 0, "with no body (%zu bytes)", r.len);
    t_resp_free(&r);
    ttl = t_redis_int(2, ttl_argv);
    is_int(ttl, -2, "the session's key is gone from Redis");
    t_delete("/api/v1/sessions/current", session, &r);
    ok(r.status == 401 && strcmp(t_error_code(&r), "SESSION_INVALID") == 0,
       "the ended session is 401 SESSION_INVALID (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    is_int(guard_status_of_session(session, user, user_seen), 401, "for guarded requests too");

    t_delete("/api/v1/sessions/current", NULL, &r);
    ok(r.status == 401 && strcmp(t_error_code(&r), "TOKEN_MISSING") == 0,
       "logout without Authorization is 401 TOKEN_MISSING (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    {
        char made_up[65];
        ac_random_hex(made_up, 32);
        ok(t_answers_error("DELETE", "/api/v1/sessions/current", made_up, NULL, 401, "SESSION_INVALID"),
           "a made-up session is 401 SESSION_INVALID");
        /* The queue's door reads its body before it asks Redis for the
         * session (one round trip), yet a bad session is still refused
         * before a bad body, as on every other door. */
        ok(t_answers_error("POST", "/api/v1/queue/tokens", made_up, "{\"concertId\":\"one\"}", 401,
                           "SESSION_INVALID"),
           "and asking for a queue token with a bad body too: 401, not 400");
        ok(t_answers_error("POST", "/api/v1/queue/tokens", made_up, "not json", 401, "SESSION_INVALID"),
           "so is one whose body is no JSON");
    }
    ok(t_answers_error("DELETE", "/api/v1/sessions/current", "not-hex-at-all", NULL, 401, "SESSION_INVALID"),
       "so is a malformed one");
    t_get("/api/v1/sessions", NULL, &r);
    ok(r.status == 405 && strstr(r.allow, "POST"), "GET /api/v1/sessions is 405 (Allow: %s)", r.allow);
    t_resp_free(&r);
    ok(t_answers_error("GET", "/api/v1/sessions/other", NULL, NULL, 404, "NOT_FOUND"), "/api/v1/sessions/other is 404");
    ok(t_answers_error("POST", "/api/v1/sessions", NULL, "{\"email\":\"x@example.com\"}", 400, "INVALID_REQUEST"),
       "a login without password is 400");

    /* --- a hash at another cost is redone at login ---------------------------- */
    snprintf(prefix, sizeof prefix, "$argon2id$v=19$m=%ld,t=%ld,p=1$", g_config.password_mem_kib,
             g_config.password_ops_limit);
    store_hash(user, password, 1, 8192);
    hash = stored_hash(user);
    ok(hash && strncmp(hash, "$argon2id$v=19$m=8192,t=1,p=1$", 30) == 0, "a cheaper hash is stored (%.34s)",
       hash ? hash : "none");
    free(hash);
    ok(ac_login_from(NULL, email, password, NULL) == 201, "login with it works");
    hash = stored_hash(user);
    ok(hash && strncmp(hash, prefix, strlen(prefix)) == 0, "and leaves a hash at the configured cost %s (%.34s)",
       prefix, hash ? hash : "none");
    ok(hash && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0, "of the same password");
    free(hash);
    ok(ac_login_from(NULL, email, password, NULL) == 201, "which logs in as well");
    store_hash(user, password, (unsigned long long)g_config.password_ops_limit + 1, (size_t)g_config.password_mem_kib);
    ok(ac_login_from(NULL, email, password, NULL) == 201, "a dearer stored hash logs in");
    hash = stored_hash(user);
    ok(hash && strncmp(hash, prefix, strlen(prefix)) == 0, "and is redone at the configured cost too (%.34s)",
       hash ? hash : "none");
    free(hash);
    ok(ac_login_from(from, email, "ticket-drop secret 2", NULL) == 401, "a wrong password still fails after");

    /* --- nothing secret in the logs ------------------------------------------- */
    if (getenv("CONCERT_VAR")) {
        char logdir[600], found[2048] = "";
        snprintf(logdir, sizeof logdir, "%s/log", getenv("CONCERT_VAR"));
        t_sleep_ms(200);
        t_grep_logs(logdir, password, found, sizeof found);
        t_grep_logs(logdir, "wrong password!", found, sizeof found);
        t_grep_logs(logdir, session, found, sizeof found);
        t_grep_logs(logdir, hex, found, sizeof found);
        ok(found[0] == '\0', "no log holds a password, a session or its key%s", found);
    } else {
        ok(1, "# SKIP needs the ./dev test stack's logs");
    }
    free(session);
    free(user);
    return done_testing();
}
