/* 13-login-limit: someone guesses passwords.
 *
 * The story: five wrong passwords for one email from one address
 * (login_email_max_failures) are each 401; the sixth try from that address
 * is 429 RATE_LIMITED with a Retry-After of what is left of the 15-minute
 * window, even with the right password, and it comes back without an
 * Argon2id verify (in far less time than one verify at the configured cost
 * takes); the owner, from an address that has not failed, logs in. Redis
 * counts under a hash of the email, never the email.
 *
 * Spellings: the email's ASCII capitals are one email with its lowercase
 * (one budget), but a spelling that PostgreSQL's lower() would fold and the
 * stored form does not (U+212A KELVIN SIGN for 'k', U+0130 for 'i') is
 * another email: with the owner's right password it finds no account
 * (401), after the owner's spelling is at its limit as before, and it
 * signs up as an account of its own.
 *
 * Spread: failures for one email from many addresses, none of them at its
 * own limit, reaching login_account_max_failures in all: then an address
 * that has failed for it is 429 even with the right password, a fresh one
 * gets one guess (401) and is 429 after it, and the owner from a fresh
 * address logs in.
 *
 * Per address: twenty failed logins for twenty emails
 * (login_address_max_failures) are allowed; a successful login in
 * between does not reset that count, and the next login from the address
 * is 429 whoever it is for, while the same account still logs in from
 * elsewhere. Behind nginx, the front also limits sign-up and login POSTs
 * per address (5 a second, a burst of 100; loopback 127.0.0.1 exempt): a
 * flood of them from one address meets nginx's JSON 429 with Retry-After,
 * on both paths, which share the allowance. Every address here is a
 * loopback address of the test's own (curl binds it), so counts are not
 * shared with other tests or runs. */
#include "tap.h"
#include "testlib.h"
#include "11-accounts.h"
#include "config.h"

#include <stdio.h>
#include <time.h>

#define FLOOD 160

static int is_rate_limited(const struct t_resp *r, long max_wait)
{
    long wait = atol(r->retry_after);

    return r->status == 429 && strcmp(t_error_code(r), "RATE_LIMITED") == 0 && wait >= 1 && wait <= max_wait;
}

/* The fastest of three Argon2id verifies (of a wrong password) at the
 * configured cost, here in the test: what a login that checks a password
 * costs at least. */
static double local_verify_ms(const struct config *conf)
{
    char hash[crypto_pwhash_STRBYTES];
    double best = 1e9;

    if (crypto_pwhash_str(hash, "the right one", 13, (unsigned long long)conf->password_ops_limit,
                          (size_t)conf->password_mem_kib * 1024) != 0)
        bail_out("crypto_pwhash_str failed");
    for (int i = 0; i < 3; i++) {
        struct timespec t0, t1;
        double ms;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (crypto_pwhash_str_verify(hash, "the wrong one", 13) == 0)
            bail_out("a wrong password verified");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (ms < best)
            best = ms;
    }
    return best;
}

/* The body of an answer for a diagnostic, unless it is a login's 201 (its
 * session is a secret, even in a test's output). */
static const char *no_session(const struct t_resp *r)
{
    return r->status == 201 || !r->body ? "" : r->body;
}

/* email with its ASCII letters lowercased (the stored form), done here
 * rather than by the code under test. */
static void ac_lower(const char *email, char out[128])
{
    snprintf(out, 128, "%s", email);
    for (char *p = out; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
}

/* Logs in from `from`: 1 when that gives a session of user (201 with its
 * userId), else a diag of what came. */
static int logs_in_as(const char *user, const char *from, const char *email, const char *password)
{
    struct t_resp r;
    int pass;

    ac_login_from(from, email, password, &r);
    pass = r.status == 201 && t_json_str(r.json, "userId") && strcmp(t_json_str(r.json, "userId"), user) == 0;
    if (!pass)
        diag("login of %s from %s: %ld %s", email, from ? from : "127.0.0.1", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return pass;
}

int main(void)
{
    const char *front = getenv("CONCERT_FRONT_NAME");
    struct config conf;
    struct t_resp r;
    char email[128], lower[128], from[32], elsewhere[32], key[192], hex[65];
    const char *password = "the right password";
    double t_wrong = 1e9, t_limited = 1e9;
    long st;
    char *user;
    int failed;

    t_init();
    plan(29);
    if (sodium_init() < 0 || config_load(&conf) < 0)
        bail_out("needs libsodium and the stack's config file (CONCERT_CONF)");

    /* --- per email from one address ----------------------------------------- */
    ac_address(from);
    ac_address(elsewhere);
    user = ac_new_account("Guessed", email, password);
    failed = 0;
    for (long i = 0; i < conf.login_email_max_failures; i++) {
        double t = ac_timed_login(from, email, "a wrong password", &st);
        failed += st == 401;
        if (st == 401 && t < t_wrong)
            t_wrong = t;
    }
    is_int(failed, conf.login_email_max_failures, "%ld wrong passwords for one email from one address are each 401",
           conf.login_email_max_failures);
    ac_login_from(from, email, password, &r);
    ok(is_rate_limited(&r, conf.login_email_window_seconds),
       "the next try from there, with the right password, is 429 RATE_LIMITED, Retry-After %s (%ld %s)",
       r.retry_after, r.status, r.body ? r.body : "");
    t_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        double t = ac_timed_login(from, email, password, &st);
        if (st == 429 && t < t_limited)
            t_limited = t;
    }
    {
        double verify = local_verify_ms(&conf);
        ok(t_limited < 0.3 * verify,
           "a limited login checks no password: %.1f ms, where one verify at the configured cost takes %.1f ms"
           " (a wrong password's login: %.1f ms)",
           t_limited, verify, t_wrong);
    }
    ok(logs_in_as(user, elsewhere, email, password), "the owner logs in from an address that has not failed");
    ac_lower(email, lower);
    ac_sha256_hex(lower, hex);
    snprintf(key, sizeof key, "{login}:failures:account:%s:address:%s", hex, from);
    {
        const char *ttl[2] = {"TTL", key};
        long long left = t_redis_int(2, ttl);
        ok(left > 0 && left <= conf.login_email_window_seconds,
           "Redis counts the email's failures from the address under a hash of the email, for the window (TTL %lld)",
           left);
    }
    is_int(ac_redis_mentions(lower), 0, "and holds the email itself nowhere");

    /* --- spellings ------------------------------------------------------------ */
    {
        char hexid[17], usual[128], kelvin[128], dotted[128];
        char *kelvin_user = NULL;

        ac_address(from);
        ac_random_hex(hexid, 8);
        snprintf(email, sizeof email, "kiki-%s@example.com", hexid);
        snprintf(usual, sizeof usual, "KiKi-%s@Example.com", hexid);
        snprintf(kelvin, sizeof kelvin, "\u212Aiki-%s@example.com", hexid);
        snprintf(dotted, sizeof dotted, "ki\u0130i-%s@example.com", hexid);
        free(user);
        user = ac_account(email, password);
        if (!user)
            bail_out("sign-up failed");
        failed = 0;
        for (long i = 0; i < conf.login_email_max_failures; i++)
            failed += ac_login_from(from, usual, "a wrong password", NULL) == 401;
        ac_login_from(from, email, password, &r);
        ok(failed == conf.login_email_max_failures && is_rate_limited(&r, conf.login_email_window_seconds),
           "%ld failures as %s, then 429 as %s: ASCII capitals are one email (%ld)", conf.login_email_max_failures,
           usual, email, r.status);
        t_resp_free(&r);
        ac_login_from(from, kelvin, password, &r);
        ok(r.status == 401 && strcmp(t_error_code(&r), "LOGIN_FAILED") == 0,
           "the Kelvin-sign spelling with the right password finds no account: 401 LOGIN_FAILED (%ld %s)",
           r.status, no_session(&r));
        t_resp_free(&r);
        ac_login_from(from, dotted, password, &r);
        ok(r.status == 401 && strcmp(t_error_code(&r), "LOGIN_FAILED") == 0,
           "nor the spelling with U+0130 for 'i' (%ld %s)", r.status, no_session(&r));
        t_resp_free(&r);
        ac_sign_up(kelvin, password, &r);
        ok(r.status == 201 && t_json_str(r.json, "userId") && strcmp(t_json_str(r.json, "userId"), user) != 0 &&
               t_json_str(r.json, "email") && strcmp(t_json_str(r.json, "email"), kelvin) == 0,
           "the Kelvin-sign spelling is another email: it signs up as an account of its own (%ld %s)", r.status,
           r.body ? r.body : "");
        if (t_json_str(r.json, "userId"))
            kelvin_user = strdup(t_json_str(r.json, "userId"));
        t_resp_free(&r);
        ac_address(elsewhere);
        ac_login_from(elsewhere, kelvin, password, &r);
        ok(r.status == 201 && kelvin_user && t_json_str(r.json, "userId") &&
               strcmp(t_json_str(r.json, "userId"), kelvin_user) == 0,
           "which is the one that spelling logs in to (%ld)", r.status);
        t_resp_free(&r);
        ok(logs_in_as(user, elsewhere, usual, password), "while the usual spelling still logs in to its own");
        free(kelvin_user);
    }

    /* --- per email from all addresses ----------------------------------------- */
    {
        long per = conf.login_email_max_failures > 1 ? conf.login_email_max_failures - 1 : 1;
        long left = conf.login_account_max_failures, spread = 0;
        char first[32] = "";

        free(user);
        user = ac_new_account("Spread", email, password);
        /* Each address stays under its own limit for the email. */
        failed = 0;
        while (left > 0) {
            ac_address(from);
            if (!first[0])
                snprintf(first, sizeof first, "%s", from);
            for (long i = 0; i < per && left > 0; i++, left--)
                failed += ac_login_from(from, email, "a wrong password", NULL) == 401;
            spread++;
        }
        is_int(failed, conf.login_account_max_failures, "%ld failures for one email from %ld addresses are each 401",
               conf.login_account_max_failures, spread);
        ac_login_from(first, email, password, &r);
        ok(is_rate_limited(&r, conf.login_account_window_seconds),
           "then an address that has failed for it is 429, right password and all (%ld, Retry-After %s)", r.status,
           r.retry_after);
        t_resp_free(&r);
        ac_address(from);
        ok(ac_login_from(from, email, "a wrong password", NULL) == 401, "a fresh address gets one guess (401)");
        ac_login_from(from, email, password, &r);
        ok(is_rate_limited(&r, conf.login_account_window_seconds), "and only one: 429 after it (%ld)", r.status);
        t_resp_free(&r);
        ac_address(elsewhere);
        ok(logs_in_as(user, elsewhere, email, password), "the owner, from an address that has not failed, logs in");
        ac_lower(email, lower);
        ac_sha256_hex(lower, hex);
        snprintf(key, sizeof key, "{login}:failures:account:%s", hex);
        is_int(t_redis_eval_int("key_number", 1, key, NULL),
               conf.login_account_max_failures + 1,
               "Redis counts every failure for the email from anywhere, and only failures, under %.40s...", key);
    }

    /* --- per address ------------------------------------------------------- */
    ac_address(from);
    free(user);
    user = ac_new_account("Address", email, password);
    failed = 0;
    for (long i = 0; i < conf.login_address_max_failures - 1; i++) {
        char nobody[128];
        ac_email("Nobody", nobody);
        failed += ac_login_from(from, nobody, password, NULL) == 401;
    }
    is_int(failed, conf.login_address_max_failures - 1, "%ld failed logins for as many emails from one address",
           conf.login_address_max_failures - 1);
    ok(ac_login_from(from, email, password, NULL) == 201, "a good login from it still passes");
    {
        char nobody[128];
        ac_email("Nobody", nobody);
        ok(ac_login_from(from, nobody, password, NULL) == 401, "and one more failure (the %ldth) is 401",
           conf.login_address_max_failures);
    }
    ac_login_from(from, email, password, &r);
    ok(is_rate_limited(&r, conf.login_address_window_seconds),
       "the success did not reset the count: the next login from the address is 429 (%ld, Retry-After %s)",
       r.status, r.retry_after);
    t_resp_free(&r);
    ok(ac_login_from(elsewhere, email, password, NULL) == 201, "while the account logs in from elsewhere");
    {
        const char *ttl[2] = {"TTL", key};
        snprintf(key, sizeof key, "{login}:failures:address:%s", from);
        ok(t_redis_int(2, ttl) > 0, "Redis counts the address's failures under %s", key);
    }

    /* --- nginx's per-address limit on the paths ------------------------------ */
    if (front && strcmp(front, "nginx") != 0) {
        for (int i = 0; i < 5; i++)
            ok(1, "# SKIP nginx only: Apache has no per-address rate limit here (see conf/apache)");
    } else {
        int passed = 0, limited = 0, other = 0;
        struct timespec t0, t1;
        double secs;

        ac_address(from);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < FLOOD; i++) {
            /* "{}" is a 400 at once: no password work, only the front's limit. */
            ac_request_from(from, "POST", i % 2 ? "/api/v1/sessions" : "/api/v1/users", NULL, "{}", &r);
            if (r.status == 400)
                passed++;
            else if (is_rate_limited(&r, 1))
                limited++;
            else
                other++;
            t_resp_free(&r);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        diag("%d sign-up and login POSTs from %s in %.2f s: %d passed, %d limited", FLOOD, from, secs, passed,
             limited);
        ok(limited > 0, "past the burst, nginx answers JSON 429 RATE_LIMITED with Retry-After (%d)", limited);
        ok(passed >= 100 && passed <= 100 + (int)(5 * secs) + 2, "the burst of 100 (+5/s over %.1f s) passed: %d",
           secs, passed);
        is_int(other, 0, "nothing else was answered");
        ac_request_from(from, "DELETE", "/api/v1/sessions/current", NULL, NULL, &r);
        ok(r.status == 401, "logout from the limited address is not limited (401 without a session: %ld)", r.status);
        t_resp_free(&r);
        ac_request_from(NULL, "POST", "/api/v1/sessions", NULL, "{}", &r);
        ok(r.status == 400, "POSTs from 127.0.0.1 (the host) are not limited (%ld)", r.status);
        t_resp_free(&r);
    }
    free(user);
    config_free(&conf);
    return done_testing();
}
