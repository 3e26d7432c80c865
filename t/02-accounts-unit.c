/* 02-accounts-unit: the rules behind sign-up, login and sessions, without a
 * stack.
 *
 * The story: the config file takes the new keys with their defaults and
 * refuses an Argon2id cost below OWASP's minimum (19 MiB, 2 passes) and
 * other out-of-range values. An email is 3..254 characters (not bytes) with
 * one '@' between a name and a domain, no spaces or control characters, and
 * is stored with its ASCII letters lowercased; a password is 10..128
 * characters. A password hash is Argon2id at the configured cost, verifies
 * only the right password, and asks to be redone once the configured cost
 * changes; a login for an unknown email costs the same one verify, against
 * a hash no password has. A failed login counts against an IPv4 address
 * as it is and against an IPv6 address's /64 (an IPv4-mapped one as IPv4);
 * anything else is "unknown". A
 * session's Redis key is "session:" and the SHA-256 of the session, never
 * the session. A session that is missing or malformed is refused before
 * Redis is asked (no Redis is configured here: asking it would be a 503). */
#include "tap.h"
#include "account.h"
#include "config.h"
#include "digest.h"
#include "http.h"
#include "login_limit.h"
#include "password.h"
#include "guard.h"
#include "session.h"
#include "guard-call.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int parses(const char *extra, struct config *c)
{
    char text[512], err[256];
    int rc;

    snprintf(text, sizeof text, "pg_conninfo = x\nredis_host = h\n%s", extra);
    rc = config_parse(text, strlen(text), c, err, sizeof err);
    if (rc < 0)
        diag("refused: %s", err);
    return rc;
}

static const char *normalized(const char *email, char out[ACCOUNT_EMAIL_MAX_BYTES + 1])
{
    return account_email_normalize(email, strlen(email), out) ? NULL : out;
}

/* A string of n copies of unit (a UTF-8 character) then tail. */
static char *repeat(const char *unit, int n, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * (size_t)n + t + 1), *p = s;

    for (int i = 0; i < n; i++, p += u)
        memcpy(p, unit, u);
    memcpy(p, tail, t + 1);
    return s;
}

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(void)
{
    struct config c;
    char out[ACCOUNT_EMAIL_MAX_BYTES + 1], hash[PASSWORD_HASH_SIZE], key[SESSION_KEY_SIZE], hex[65];
    char user[37];
    char *s;

    plan(41);
    if (sodium_init() < 0)
        bail_out("libsodium cannot be initialised");

    /* --- config ---------------------------------------------------------- */
    ok(parses("", &c) == 0 && c.password_ops_limit == 2 && c.password_mem_kib == 19456 &&
       c.session_ttl_seconds == 1800 && c.login_email_max_failures == 5 && c.login_email_window_seconds == 900 &&
       c.login_address_max_failures == 20 && c.login_address_window_seconds == 900 &&
       c.login_account_max_failures == 20 && c.login_account_window_seconds == 900,
       "defaults: Argon2id t=2 over 19456 KiB, sessions 1800 s, 5 failures per email from one address, 20 per"
       " address and 20 per email from all addresses in 900 s");
    config_free(&c);
    ok(parses("password_ops_limit = 3\npassword_mem_kib = 65536\nsession_ttl_seconds = 2\n"
              "login_email_max_failures = 3\nlogin_address_window_seconds = 60\n"
              "login_account_max_failures = 50\nlogin_account_window_seconds = 3600\n", &c) == 0 &&
       c.password_ops_limit == 3 && c.password_mem_kib == 65536 && c.session_ttl_seconds == 2 &&
       c.login_email_max_failures == 3 && c.login_address_window_seconds == 60 &&
       c.login_account_max_failures == 50 && c.login_account_window_seconds == 3600,
       "the new keys are read");
    config_free(&c);
    ok(parses("password_mem_kib = 19455\n", &c) < 0, "less memory than OWASP's 19 MiB is refused");
    ok(parses("password_ops_limit = 1\n", &c) < 0, "fewer than 2 passes is refused");
    ok(parses("session_ttl_seconds = 0\n", &c) < 0 && parses("login_email_max_failures = 0\n", &c) < 0 &&
       parses("login_address_window_seconds = 86401\n", &c) < 0 && parses("password_mem_kib = 1048577\n", &c) < 0 &&
       parses("login_account_max_failures = 0\n", &c) < 0 && parses("login_account_window_seconds = 86401\n", &c) < 0,
       "a zero TTL or limit, a window over a day and over 1 GiB of memory are refused");

    /* --- emails and passwords -------------------------------------------- */
    is(normalized("Minji.Kim@Example.COM", out), "minji.kim@example.com", "ASCII letters are lowercased");
    is(normalized("a@b", out), "a@b", "3 characters with one '@' is an email");
    is(normalized("지민@Example.com", out), "지민@example.com", "other characters are kept as sent");
    ok(!normalized("ab", out) && !normalized("a@b@c", out) && !normalized("@ab", out) && !normalized("ab@", out),
       "no '@', two, or nothing before or after it: refused");
    ok(!normalized("a b@c", out) && !normalized("a\t@bc", out) && !normalized("ab@c\x7f", out),
       "spaces and control characters are refused");
    s = repeat("a", 250, "@b.cd");   /* 255 characters */
    ok(!normalized(s, out), "255 characters is too long");
    free(s);
    s = repeat("가", 250, "@b.c");   /* 254 characters, 754 bytes */
    ok(normalized(s, out) != NULL, "254 characters is allowed, counted as characters (%zu bytes)", strlen(s));
    free(s);
    s = repeat("가", 251, "@b.c");
    ok(!normalized(s, out), "255 Korean characters is too long");
    free(s);
    ok(account_password_problem("123456789", 9) != NULL && account_password_problem("1234567890", 10) == NULL,
       "passwords: 9 characters refused, 10 allowed");
    s = repeat("비", 128, "");
    ok(account_password_problem(s, strlen(s)) == NULL, "128 Korean characters (384 bytes) allowed");
    free(s);
    s = repeat("x", 129, "");
    ok(account_password_problem(s, strlen(s)) != NULL, "129 characters refused");
    free(s);

    /* --- password hashes --------------------------------------------------- */
    ok(parses("", &c) == 0, "the configured cost: the defaults");
    password_set_cost(c.password_ops_limit, c.password_mem_kib);
    ok(password_hash("correct horse", 13, hash) == 0, "a password is hashed");
    ok(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "as Argon2id at the configured cost: %.40s", hash);
    ok(password_verify(hash, "correct horse", 13) == 1, "the right password verifies");
    ok(password_verify(hash, "correct horsf", 13) == 0 && password_verify(hash, "correct hors", 12) == 0,
       "a wrong or shorter password does not");
    ok(password_verify("not a hash", "correct horse", 13) == 0 && password_verify("", "x", 1) == 0,
       "stored text that is no hash verifies nothing");
    ok(password_needs_rehash(hash) == 0, "a hash at the configured cost needs no rehash");
    password_set_cost(3, 19456);
    ok(password_needs_rehash(hash) == 1, "once the configured passes rise, it does");
    password_set_cost(2, 32768);
    ok(password_needs_rehash(hash) == 1, "and once the configured memory rises");
    password_set_cost(c.password_ops_limit, c.password_mem_kib);
    ok(password_verify_nobody("correct horse", 13) == 0, "a login for nobody never matches");
    {
        double wrong = 1e9, nobody = 1e9;
        /* The least of five of each, and a wide band: the point is that
         * nobody's login runs a whole verify (skipping it would take next to
         * no time), on a machine that may be busy with other work. */
        for (int i = 0; i < 5; i++) {
            double t0 = now_ms(), t1;
            password_verify(hash, "correct horsf", 13);
            t1 = now_ms();
            password_verify_nobody("correct horsf", 13);
            if (t1 - t0 < wrong)
                wrong = t1 - t0;
            if (now_ms() - t1 < nobody)
                nobody = now_ms() - t1;
        }
        ok(nobody > 0.25 * wrong && nobody < 4 * wrong,
           "but costs one verify at the configured cost, as a wrong password does (%.1f ms vs %.1f ms)", nobody,
           wrong);
    }
    config_free(&c);

    /* --- session keys -------------------------------------------------- */
    digest_hex("abc", 3, hex);
    is(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "digest_hex is SHA-256");
    session_key("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", key);
    digest_hex("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64, hex);
    ok(strncmp(key, "session:", 8) == 0 && strcmp(key + 8, hex) == 0 && !strstr(key, "0123456789abcdef0123"),
       "a session's key is session:<SHA-256 of it>, not the session (%s)", key);

    /* --- the address a failed login counts against ------------------------ */
    {
        char a[LOGIN_LIMIT_ADDRESS_SIZE], b[LOGIN_LIMIT_ADDRESS_SIZE];

        login_limit_address("203.0.113.7", a);
        is(a, "203.0.113.7", "an IPv4 address counts as itself");
        login_limit_address("::ffff:203.0.113.7", a);
        is(a, "203.0.113.7", "so does one seen as IPv4-mapped IPv6");
        login_limit_address("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a);
        login_limit_address("2001:DB8:1:2::1", b);
        ok(strcmp(a, "2001:db8:1:2::/64") == 0 && strcmp(b, a) == 0,
           "two IPv6 addresses in one /64 count as that /64 (%s, %s)", a, b);
        login_limit_address("2001:db8:1:3::1", b);
        is(b, "2001:db8:1:3::/64", "the next /64 is another");
        login_limit_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", a);
        is(a, "ffff:ffff:ffff:ffff::/64", "the longest /64 fits");
        login_limit_address(NULL, a);
        login_limit_address("fe80::1%eth0", b);
        ok(strcmp(a, "unknown") == 0 && strcmp(b, "unknown") == 0, "no address, or one with a zone: unknown");
        login_limit_address("203.0.113.7:80", a);
        login_limit_address("{login}:x", b);
        ok(strcmp(a, "unknown") == 0 && strcmp(b, "unknown") == 0, "anything else that is no IP address: unknown");
    }

    /* --- guarded requests, no Redis --------------------------------------- */
    parses("", &g_config);
    is_int(guard_status(NULL, "0f8fad5b-d9cb-469f-a165-70867728950e", user), 401, "no Authorization: 401");
    is_int(guard_status("Basic abc", "0f8fad5b-d9cb-469f-a165-70867728950e", user), 401, "not Bearer: 401");
    is_int(guard_status("Bearer 0123", "0f8fad5b-d9cb-469f-a165-70867728950e", user), 401,
           "a malformed session: 401 without asking Redis (which would be 503 here)");
    is_int(guard_status("Bearer 0123456789abcdef0123456789abcdef0123456789abcdeF0123456789abcdef",
                        "0f8fad5b-d9cb-469f-a165-70867728950e", user),
           401, "upper-case hex is no session of ours either");
    is_int(guard_status("Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                        "0f8fad5b-d9cb-469f-a165-70867728950e", user),
           503, "a well-formed session is looked up in Redis (down here: 503)");
    config_free(&g_config);
    return done_testing();
}
