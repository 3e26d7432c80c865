/* login_limit.c - the failed-login counters' scripts (see login_limit.h). */
#include "login_limit.h"
#include "config.h"
#include "digest.h"
#include "log.h"
#include "rds.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* "{login}:failures:account:" (25) + a SHA-256 hex + ":address:" (9) + an
 * address as counted (with its NUL). */
#define LOGIN_LIMIT_KEY_SIZE (34 + DIGEST_HEX_LEN + LOGIN_LIMIT_ADDRESS_SIZE)

/* KEYS: the address's counter, the email's from that address, the email's
 * from all addresses. ARGV: each one's max and window (s), in that order.
 * Returns 0 after counting the attempt in all three, or the seconds until
 * a refusing window ends (at least 1), counting nothing. The address's or
 * the email-from-address counter at its max refuses; the email's counter
 * at its max refuses only an address that has failed for the email, until
 * either of those two ends. A counter is given its window as TTL when the
 * window starts (or if it somehow has none). */
static struct rds_script take_script = {"login_limit_take",
    "local function count(i) return tonumber(redis.call('GET', KEYS[i]) or '0') end\n"
    "local function left(i)\n"
    "  local ms = redis.call('PTTL', KEYS[i])\n"
    "  if ms < 0 then\n"
    "    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])\n"
    "    ms = tonumber(ARGV[2 * i]) * 1000\n"
    "  end\n"
    "  return math.max(math.ceil(ms / 1000), 1)\n"
    "end\n"
    "local wait = 0\n"
    "for i = 1, 2 do\n"
    "  if count(i) >= tonumber(ARGV[2 * i - 1]) then wait = math.max(wait, left(i)) end\n"
    "end\n"
    "if wait == 0 and count(2) > 0 and count(3) >= tonumber(ARGV[5]) then\n"
    "  wait = math.min(left(2), left(3))\n"
    "end\n"
    "if wait > 0 then return wait end\n"
    "for i = 1, 3 do\n"
    "  if redis.call('INCR', KEYS[i]) == 1 or redis.call('PTTL', KEYS[i]) < 0 then\n"
    "    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])\n"
    "  end\n"
    "end\n"
    "return 0\n", ""};

/* KEYS: the counters take_script counted in. Takes one back from each
 * counter that still counts something (a window that ended has nothing to
 * give back). */
static struct rds_script give_back_script = {"login_limit_give_back",
    "for i = 1, #KEYS do\n"
    "  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end\n"
    "end\n"
    "return 0\n", ""};

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

/* The three counters' keys, in take_script's order. */
static void login_limit_keys(const char *email, const char *address, char keys[3][LOGIN_LIMIT_KEY_SIZE])
{
    char hex[DIGEST_HEX_LEN + 1], counted[LOGIN_LIMIT_ADDRESS_SIZE];

    digest_hex(email, strlen(email), hex);
    login_limit_address(address, counted);
    snprintf(keys[0], LOGIN_LIMIT_KEY_SIZE, "{login}:failures:address:%s", counted);
    snprintf(keys[1], LOGIN_LIMIT_KEY_SIZE, "{login}:failures:account:%s:address:%s", hex, counted);
    snprintf(keys[2], LOGIN_LIMIT_KEY_SIZE, "{login}:failures:account:%s", hex);
}

login_limit_rc login_limit_take(const char *email, const char *address, long *retry_after)
{
    char keys[3][LOGIN_LIMIT_KEY_SIZE], num[6][24];
    const long limits[6] = {g_config.login_address_max_failures, g_config.login_address_window_seconds,
                            g_config.login_email_max_failures,   g_config.login_email_window_seconds,
                            g_config.login_account_max_failures, g_config.login_account_window_seconds};
    const char *argv[9];
    redisReply *reply;
    login_limit_rc rc;

    login_limit_keys(email, address, keys);
    for (int i = 0; i < 3; i++)
        argv[i] = keys[i];
    for (int i = 0; i < 6; i++) {
        snprintf(num[i], sizeof num[i], "%ld", limits[i]);
        argv[3 + i] = num[i];
    }
    *retry_after = 0;
    reply = rds_eval(&take_script, 3, 9, argv);
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
    char keys[3][LOGIN_LIMIT_KEY_SIZE];
    const char *argv[3] = {keys[0], keys[1], keys[2]};
    redisReply *reply;

    login_limit_keys(email, address, keys);
    reply = rds_eval(&give_back_script, 3, 3, argv);
    if (reply)
        freeReplyObject(reply);
}
