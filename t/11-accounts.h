/* 11-accounts.h - helpers the account and session tests (t/11-t/14) share:
 * fresh emails and loopback source addresses, sign-up and login in one call
 * each (optionally from another 127.x address, through t_request_from, so
 * failed logins count against an address of the test's own),
 * and Redis reads the testlib has no call for. Header-only (static functions), included once per test program
 * after tap.h and testlib.h. */
#ifndef CONCERT_T_ACCOUNTS_H
#define CONCERT_T_ACCOUNTS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <sodium.h>
#include <sys/random.h>

static void ac_random_hex(char *out, size_t nbytes) __attribute__((unused));
static void ac_random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];

    if (nbytes > sizeof b || getrandom(b, nbytes, 0) != (ssize_t)nbytes)
        abort();
    sodium_bin2hex(out, 2 * nbytes + 1, b, nbytes);
}

/* "<tag>-<16 hex>@Example.com": a new email each call, with capitals so
 * that lowercasing is exercised. */
static void ac_email(const char *tag, char out[128]) __attribute__((unused));
static void ac_email(const char *tag, char out[128])
{
    char hex[17];

    ac_random_hex(hex, 8);
    snprintf(out, 128, "%s-%s@Example.com", tag, hex);
}

/* A loopback address that is not 127.0.0.1 (which nginx exempts from its
 * limit), random so runs and fronts do not share counters. */
static void ac_address(char out[32]) __attribute__((unused));
static void ac_address(char out[32])
{
    unsigned char b[3];

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        abort();
    snprintf(out, 32, "127.%d.%d.%d", 1 + b[0] % 250, b[1], 2 + b[2] % 250);
}

/* {"email": email, "password": password}, escaped by json-c; malloc'd. */
static char *ac_body(const char *email, const char *password) __attribute__((unused));
static char *ac_body(const char *email, const char *password)
{
    struct json_object *o = json_object_new_object();
    char *text;

    json_object_object_add(o, "email", json_object_new_string(email));
    json_object_object_add(o, "password", json_object_new_string(password));
    text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

/* A request from the loopback address `from` (NULL: the default, 127.0.0.1)
 * with an optional bearer token and JSON body, as t_request_from. */
static int ac_request_from(const char *from, const char *method, const char *path, const char *token,
                           const char *body, struct t_resp *out) __attribute__((unused));
static int ac_request_from(const char *from, const char *method, const char *path, const char *token,
                           const char *body, struct t_resp *out)
{
    char auth[256];
    const char *headers[] = {auth, NULL};

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    return t_request_from(from, method, path, token ? headers : NULL, body, out);
}

/* POST path with {"email", "password"} from `from`; returns the status. */
static long ac_post_credentials(const char *from, const char *path, const char *email, const char *password,
                                struct t_resp *out) __attribute__((unused));
static long ac_post_credentials(const char *from, const char *path, const char *email, const char *password,
                                struct t_resp *out)
{
    char *body = ac_body(email, password);
    struct t_resp local;

    if (!out)
        out = &local;
    ac_request_from(from, "POST", path, NULL, body, out);
    free(body);
    if (out == &local) {
        long status = local.status;
        t_resp_free(&local);
        return status;
    }
    return out->status;
}

static long ac_sign_up(const char *email, const char *password, struct t_resp *out) __attribute__((unused));
static long ac_sign_up(const char *email, const char *password, struct t_resp *out)
{
    return ac_post_credentials(NULL, "/api/v1/users", email, password, out);
}

static long ac_login_from(const char *from, const char *email, const char *password,
                          struct t_resp *out) __attribute__((unused));
static long ac_login_from(const char *from, const char *email, const char *password, struct t_resp *out)
{
    return ac_post_credentials(from, "/api/v1/sessions", email, password, out);
}

/* Signs up (email, password) and returns the new userId (malloc'd) or
 * NULL with a diag. */
static char *ac_account(const char *email, const char *password) __attribute__((unused));
static char *ac_account(const char *email, const char *password)
{
    struct t_resp r;
    char *id = NULL;

    if (ac_sign_up(email, password, &r) == 201 && t_json_str(r.json, "userId"))
        id = strdup(t_json_str(r.json, "userId"));
    else
        diag("sign-up of %s: %ld %s", email, r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return id;
}

/* A new account under a fresh email made from tag (ac_email, into email):
 * its userId (malloc'd). Bails out when sign-up fails: the story needs it. */
static char *ac_new_account(const char *tag, char email[128], const char *password) __attribute__((unused));
static char *ac_new_account(const char *tag, char email[128], const char *password)
{
    char *id;

    ac_email(tag, email);
    id = ac_account(email, password);
    if (!id)
        bail_out("sign-up failed");
    return id;
}

/* Logs in and returns the session (malloc'd) or NULL with a diag. */
static char *ac_session(const char *email, const char *password) __attribute__((unused));
static char *ac_session(const char *email, const char *password)
{
    struct t_resp r;
    char *s = NULL;

    if (ac_login_from(NULL, email, password, &r) == 201 && t_json_str(r.json, "session"))
        s = strdup(t_json_str(r.json, "session"));
    else
        diag("login of %s: %ld %s", email, r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return s;
}

/* Hex SHA-256 of text, computed here with libsodium (not with the code
 * under test). */
static void ac_sha256_hex(const char *text, char out[65]) __attribute__((unused));
static void ac_sha256_hex(const char *text, char out[65])
{
    unsigned char sum[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(sum, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(out, 65, sum, sizeof sum);
}

/* Runs a Lua script against the stack's Redis that returns an integer. */
/* How many Redis keys have `text` in their name or, for strings, in their
 * value. */
static long long ac_redis_mentions(const char *text) __attribute__((unused));
static long long ac_redis_mentions(const char *text)
{
    return t_redis_eval_int("keys_mentioning", 0, text, NULL);
}

/* Milliseconds a login takes, from `from`; stores the status. */
static double ac_timed_login(const char *from, const char *email, const char *password,
                             long *status) __attribute__((unused));
static double ac_timed_login(const char *from, const char *email, const char *password, long *status)
{
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    *status = ac_login_from(from, email, password, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

#endif
