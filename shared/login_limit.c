/* login_limit.c - the failed-login counters' scripts (see login_limit.h). */
#include "login_limit.h"
#include "config.h"
#include "digest.h"
#include "log.h"
#include "rds.h"

#include <stdio.h>
#include <string.h>

#define LOGIN_LIMIT_KEY_SIZE 96
#define LOGIN_LIMIT_ADDRESS_MAX 45   /* the longest IPv6 text (INET6_ADDRSTRLEN - 1) */

/* KEYS: email counter, address counter. ARGV: email max, email window (s),
 * address max, address window (s). Returns 0 after counting the attempt in
 * both, or the seconds until the fuller window ends (at least 1) when
 * either counter is at its max, counting nothing. A counter is given its
 * window as TTL when the window starts (or if it somehow has none). */
static struct rds_script take_script = {"login_limit_take",
    "local wait = 0\n"
    "for i = 1, 2 do\n"
    "  local n = tonumber(redis.call('GET', KEYS[i]) or '0')\n"
    "  if n >= tonumber(ARGV[2 * i - 1]) then\n"
    "    local ms = redis.call('PTTL', KEYS[i])\n"
    "    if ms < 0 then\n"
    "      redis.call('EXPIRE', KEYS[i], ARGV[2 * i])\n"
    "      ms = tonumber(ARGV[2 * i]) * 1000\n"
    "    end\n"
    "    wait = math.max(wait, math.ceil(ms / 1000), 1)\n"
    "  end\n"
    "end\n"
    "if wait > 0 then return wait end\n"
    "for i = 1, 2 do\n"
    "  if redis.call('INCR', KEYS[i]) == 1 or redis.call('PTTL', KEYS[i]) < 0 then\n"
    "    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])\n"
    "  end\n"
    "end\n"
    "return 0\n", ""};

/* KEYS: email counter, address counter. Takes one back from each counter
 * that still counts something (a window that ended has nothing to give
 * back). */
static struct rds_script give_back_script = {"login_limit_give_back",
    "for i = 1, #KEYS do\n"
    "  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end\n"
    "end\n"
    "return 0\n", ""};

/* An address from the web server, used in a key only when it is plainly an
 * IPv4 or IPv6 text. */
static const char *login_limit_address(const char *address)
{
    size_t n = 0;

    if (!address)
        return "unknown";
    for (; address[n]; n++) {
        char c = address[n];
        if (n == LOGIN_LIMIT_ADDRESS_MAX ||
            !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':'))
            return "unknown";
    }
    return n ? address : "unknown";
}

static void login_limit_keys(const char *email, const char *address, char email_key[LOGIN_LIMIT_KEY_SIZE],
                             char address_key[LOGIN_LIMIT_KEY_SIZE])
{
    char hex[DIGEST_HEX_LEN + 1];

    digest_hex(email, strlen(email), hex);
    snprintf(email_key, LOGIN_LIMIT_KEY_SIZE, "{login}:failures:email:%s", hex);
    snprintf(address_key, LOGIN_LIMIT_KEY_SIZE, "{login}:failures:address:%s", login_limit_address(address));
}

login_limit_rc login_limit_take(const char *email, const char *address, long *retry_after)
{
    char email_key[LOGIN_LIMIT_KEY_SIZE], address_key[LOGIN_LIMIT_KEY_SIZE], num[4][24];
    const char *argv[6];
    redisReply *reply;
    login_limit_rc rc;

    login_limit_keys(email, address, email_key, address_key);
    snprintf(num[0], sizeof num[0], "%ld", g_config.login_email_max_failures);
    snprintf(num[1], sizeof num[1], "%ld", g_config.login_email_window_seconds);
    snprintf(num[2], sizeof num[2], "%ld", g_config.login_address_max_failures);
    snprintf(num[3], sizeof num[3], "%ld", g_config.login_address_window_seconds);
    argv[0] = email_key;
    argv[1] = address_key;
    for (int i = 0; i < 4; i++)
        argv[2 + i] = num[i];
    *retry_after = 0;
    reply = rds_eval(&take_script, 2, 6, argv);
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
    char email_key[LOGIN_LIMIT_KEY_SIZE], address_key[LOGIN_LIMIT_KEY_SIZE];
    const char *argv[2] = {email_key, address_key};
    redisReply *reply;

    login_limit_keys(email, address, email_key, address_key);
    reply = rds_eval(&give_back_script, 2, 2, argv);
    if (reply)
        freeReplyObject(reply);
}
