/* login_limit.c - the failed-login counters' scripts (see login_limit.h). */
#include "login_limit.h"
#include "config.h"
#include "digest.h"
#include "keyspace.h"
#include "log.h"
#include "rds.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* The fixed part of the longest counter's name, a SHA-256 hex and an
 * address as counted (with its NUL). */
#define LOGIN_LIMIT_KEY_SIZE (KEYSPACE_LOGIN_FIXED_LEN + DIGEST_HEX_LEN + LOGIN_LIMIT_ADDRESS_SIZE)

/* shared/lua/login_limit_take.lua. KEYS: enum counter. ARGV: each one's
 * max and window (s), in that order. Answers 0 after counting the attempt
 * in all three, or the seconds until a refusing window ends, counting
 * nothing. */
extern struct rds_script lua_login_limit_take;
enum counter { COUNTER_ADDRESS, COUNTER_EMAIL_ADDRESS, COUNTER_EMAIL, COUNTERS };

/* shared/lua/login_limit_give_back.lua. KEYS: the counters the take
 * counted in; takes one back from each that still counts something. */
extern struct rds_script lua_login_limit_give_back;

void login_limit_address(const char *address, char out[LOGIN_LIMIT_ADDRESS_SIZE])
{
    unsigned char a[16];

    snprintf(out, LOGIN_LIMIT_ADDRESS_SIZE, "unknown");
    if (!address || strlen(address) >= INET6_ADDRSTRLEN)
        return;
    if (inet_pton(AF_INET, address, a) == 1) {
        inet_ntop(AF_INET, a, out, LOGIN_LIMIT_ADDRESS_SIZE);
        return;
    }
    if (inet_pton(AF_INET6, address, a) != 1)
        return;
    /* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket. */
    if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        inet_ntop(AF_INET, a + 12, out, LOGIN_LIMIT_ADDRESS_SIZE);
        return;
    }
    memset(a + 8, 0, 8);
    if (inet_ntop(AF_INET6, a, out, LOGIN_LIMIT_ADDRESS_SIZE - 3))
        strcat(out, "/64");
    else
        snprintf(out, LOGIN_LIMIT_ADDRESS_SIZE, "unknown");
}

/* The three counters' keys, in enum counter's order. */
static void login_limit_keys(const char *email, const char *address, char keys[COUNTERS][LOGIN_LIMIT_KEY_SIZE])
{
    char hex[DIGEST_HEX_LEN + 1], counted[LOGIN_LIMIT_ADDRESS_SIZE];

    digest_hex(email, strlen(email), hex);
    login_limit_address(address, counted);
    keyspace_login_address(keys[COUNTER_ADDRESS], LOGIN_LIMIT_KEY_SIZE, counted);
    keyspace_login_email_address(keys[COUNTER_EMAIL_ADDRESS], LOGIN_LIMIT_KEY_SIZE, hex, counted);
    keyspace_login_email(keys[COUNTER_EMAIL], LOGIN_LIMIT_KEY_SIZE, hex);
}

login_limit_rc login_limit_take(const char *email, const char *address, long *retry_after)
{
    char keys[COUNTERS][LOGIN_LIMIT_KEY_SIZE], num[2 * COUNTERS][24];
    const long limits[2 * COUNTERS] = {g_config.login_address_max_failures, g_config.login_address_window_seconds,
                            g_config.login_email_max_failures,   g_config.login_email_window_seconds,
                            g_config.login_account_max_failures, g_config.login_account_window_seconds};
    const char *argv[3 * COUNTERS];
    redisReply *reply;
    login_limit_rc rc;

    login_limit_keys(email, address, keys);
    for (int i = 0; i < COUNTERS; i++)
        argv[i] = keys[i];
    for (int i = 0; i < 2 * COUNTERS; i++) {
        snprintf(num[i], sizeof num[i], "%ld", limits[i]);
        argv[COUNTERS + i] = num[i];
    }
    *retry_after = 0;
    reply = rds_eval(&lua_login_limit_take, COUNTERS, 3 * COUNTERS, argv);
    if (!reply)
        return LOGIN_LIMIT_DOWN;
    if (reply->type != REDIS_REPLY_INTEGER) {
        log_error("login_limit_take: unexpected reply type %d", reply->type);
        rc = LOGIN_LIMIT_DOWN;
    } else if (reply->integer > 0) {
        *retry_after = (long)reply->integer;
        rc = LOGIN_LIMIT_REACHED;
    } else {
        rc = LOGIN_LIMIT_OK;
    }
    freeReplyObject(reply);
    return rc;
}

void login_limit_give_back(const char *email, const char *address)
{
    char keys[COUNTERS][LOGIN_LIMIT_KEY_SIZE];
    const char *argv[COUNTERS] = {keys[COUNTER_ADDRESS], keys[COUNTER_EMAIL_ADDRESS], keys[COUNTER_EMAIL]};
    redisReply *reply;

    login_limit_keys(email, address, keys);
    reply = rds_eval(&lua_login_limit_give_back, COUNTERS, COUNTERS, argv);
    if (reply)
        freeReplyObject(reply);
}
