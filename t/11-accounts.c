/* 11-accounts: people sign up.
 *
 * The story: a sign-up with a mixed-case email is 201 with a server-made
 * userId and the email lowercased, and nothing else (no password, no hash).
 * PostgreSQL now holds the account and a users row with balance 0; the
 * account's password is an Argon2id hash at the configured cost, never the
 * password. The same email again, in other letter case, is 409 EMAIL_TAKEN
 * and makes no user; eight people racing for one email get one account and
 * one user between them. Emails and passwords at their length limits pass,
 * counted in characters; every malformed body is a JSON 400; other methods
 * are 405. No log of the stack holds a password that was sent. */
#include "tap.h"
#include "testlib.h"
#include "11-accounts.h"
#include "config.h"
#include "valid.h"

#include <stdio.h>

#define RACERS 8

static char race_email[128];

static int race_sign_up(int i, void *arg)
{
    char password[32];

    (void)arg;
    snprintf(password, sizeof password, "racer-password-%d", i);
    return (int)ac_sign_up(race_email, password, NULL);
}

static void bad(const char *body, const char *what)
{
    ok(t_answers_error("POST", "/api/v1/users", NULL, body, 400, "INVALID_REQUEST"), "400 INVALID_REQUEST: %s", what);
}

static int64_t users_count(void)
{
    return t_pg_int("SELECT count(*) FROM users", 0, NULL);
}

int main(void)
{
    struct config conf;
    struct t_resp r;
    char email[128], lower[128], password[64], upper_again[128], expected[64], marker[17];
    const char *params[1];
    char *user, *stored;
    int64_t before;
    int results[RACERS], created = 0, taken = 0;

    t_init();
    plan(26);
    if (sodium_init() < 0 || config_load(&conf) < 0)
        bail_out("needs libsodium and the stack's config file (CONCERT_CONF)");

    /* --- a sign-up ---------------------------------------------------------- */
    ac_email("Minji", email);
    snprintf(lower, sizeof lower, "%s", email);
    for (char *p = lower; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    ac_random_hex(marker, 8);
    snprintf(password, sizeof password, "pw-marker-%s", marker);
    before = users_count();
    ac_sign_up(email, password, &r);
    ok(r.status == 201, "sign-up is 201 (%ld %s)", r.status, r.body ? r.body : "");
    ok(t_json_str(r.json, "userId") && valid_uuid(t_json_str(r.json, "userId")),
       "the server made a canonical lowercase userId");
    is(t_json_str(r.json, "email"), lower, "the email comes back lowercased");
    ok(r.json && json_object_object_length(r.json) == 2 && r.body && !strstr(r.body, password) &&
       !strstr(r.body, "argon2"),
       "and nothing else: no password, no hash (%s)", r.body ? r.body : "");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "JSON (%s)", r.content_type);
    user = strdup(t_json_str(r.json, "userId") ? t_json_str(r.json, "userId") : "none");
    t_resp_free(&r);

    params[0] = user;
    is_int(users_count() - before, 1, "one users row was made");
    is_int(t_pg_int("SELECT balance FROM users WHERE id = $1::uuid", 1, params), 0, "with balance 0");
    stored = t_pg_value("SELECT email FROM accounts WHERE user_id = $1::uuid", 1, params);
    is(stored, lower, "the account stores the lowercased email");
    free(stored);
    stored = t_pg_value("SELECT password_hash FROM accounts WHERE user_id = $1::uuid", 1, params);
    snprintf(expected, sizeof expected, "$argon2id$v=19$m=%ld,t=%ld,p=1$", conf.password_mem_kib,
             conf.password_ops_limit);
    ok(stored && strncmp(stored, expected, strlen(expected)) == 0,
       "the stored password is Argon2id at the configured cost %s (%.48s)", expected, stored ? stored : "none");
    ok(stored && !strstr(stored, password), "and not the password");
    free(stored);

    /* --- the same email again ---------------------------------------------- */
    snprintf(upper_again, sizeof upper_again, "%s", lower);
    for (char *p = upper_again; *p && *p != '@'; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    before = users_count();
    ac_sign_up(upper_again, "another password", &r);
    ok(r.status == 409 && strcmp(t_error_code(&r), "EMAIL_TAKEN") == 0,
       "the same email in capitals is 409 EMAIL_TAKEN (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    is_int(users_count() - before, 0, "and makes no users row");

    ac_email("Race", race_email);
    before = users_count();
    t_race(RACERS, race_sign_up, NULL, results);
    for (int i = 0; i < RACERS; i++) {
        created += results[i] == 201;
        taken += results[i] == 409;
    }
    ok(created == 1 && taken == RACERS - 1, "%d racers for one email: %d account, %d EMAIL_TAKEN", RACERS, created,
       taken);
    is_int(users_count() - before, 1, "and exactly one users row between them");

    /* --- limits, counted in characters ------------------------------------- */
    {
        char long_email[1024], korean_password[600];
        size_t n = 0;
        char suffix[17];

        ac_random_hex(suffix, 8);
        /* 254 characters: 16 hex, 233 Korean syllables (3 bytes each), "@a.kr". */
        n += (size_t)snprintf(long_email, sizeof long_email, "%s", suffix);
        for (int i = 0; i < 233; i++)
            n += (size_t)snprintf(long_email + n, sizeof long_email - n, "가");
        snprintf(long_email + n, sizeof long_email - n, "@a.kr");
        korean_password[0] = '\0';
        for (int i = 0; i < 128; i++)
            strcat(korean_password, "비");
        ok(ac_sign_up(long_email, korean_password, NULL) == 201,
           "a 254-character email and a 128-character password (in Korean: %zu and %zu bytes) are taken",
           strlen(long_email), strlen(korean_password));
        ac_email("Ten", email);
        ok(ac_sign_up(email, "0123456789", NULL) == 201, "a 10-character password is taken");
    }

    /* --- bad input ----------------------------------------------------------- */
    bad("{\"password\":\"long enough password\"}", "no email");
    bad("{\"email\":\"x@example.com\"}", "no password");
    bad("{\"email\":\"no-at.example.com\",\"password\":\"long enough password\"}", "an email without '@'");
    bad("{\"email\":\"a@b@example.com\",\"password\":\"long enough password\"}", "an email with two '@'");
    bad("{\"email\":\"a@example.com\",\"password\":\"123456789\"}", "a 9-character password");
    bad("{\"email\":\"a@example.com\",\"password\":1234567890}", "a password that is not a string");
    bad("{\"email\":\"a@example.com\",\"password\":\"long enough password\",\"userId\":\"x\"}",
        "a userId sent by the client (the server makes it)");
    bad("{\"email\":\"a@example.com\",", "malformed JSON");

    t_get("/api/v1/users", NULL, &r);
    ok(r.status == 405 && strcmp(t_error_code(&r), "METHOD_NOT_ALLOWED") == 0 && strstr(r.allow, "POST"),
       "GET /api/v1/users is 405 with Allow: POST (%ld %s)", r.status, r.allow);
    t_resp_free(&r);

    /* --- no password in any log ---------------------------------------------- */
    if (getenv("CONCERT_VAR")) {
        char logdir[600], found[2048] = "";
        t_sleep_ms(200);
        snprintf(logdir, sizeof logdir, "%s/log", getenv("CONCERT_VAR"));
        t_grep_logs(logdir, password, found, sizeof found);
        ok(found[0] == '\0', "the password is in no log of the stack%s", found);
    } else {
        ok(1, "# SKIP needs the ./dev test stack's logs");
    }
    free(user);
    config_free(&conf);
    return done_testing();
}
