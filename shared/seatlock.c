/* seatlock.c - the Redis seat-lock scripts and their C front (see seatlock.h). */
#include "seatlock.h"
#include "log.h"
#include "rds.h"

#include <inttypes.h>
#include <stdio.h>

#define SEATLOCK_KEYLEN 80
#define SEATLOCK_NUMLEN 24

/* KEYS: sold set, seat locks. ARGV: owner, ttl ms, seat numbers.
 * Returns 1 when every lock was taken, 0 when none was (a seat is sold or
 * locked by another owner). Locks taken before a busy one are given back
 * before returning, inside the same atomic script, so the outcome is all or
 * nothing. A lock that already holds this owner counts as taken (its expiry
 * set anew), so running the script again for the same hold, by a caller who
 * never heard the first run's answer, answers what the first run did. */
static struct rds_script take_script = {"seatlock_take",
    "for i = 3, #ARGV do\n"
    "  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then return 0 end\n"
    "end\n"
    "for i = 2, #KEYS do\n"
    "  local held = redis.call('GET', KEYS[i])\n"
    "  if held and held ~= ARGV[1] then\n"
    "    for j = 2, i - 1 do\n"
    "      if redis.call('GET', KEYS[j]) == ARGV[1] then redis.call('DEL', KEYS[j]) end\n"
    "    end\n"
    "    return 0\n"
    "  end\n"
    "  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])\n"
    "end\n"
    "return 1\n", ""};

/* KEYS: sold set, seat locks. ARGV: owner, sold seat numbers.
 * Deletes only the locks that still hold owner; returns how many. */
static struct rds_script release_script = {"seatlock_release",
    "local n = 0\n"
    "for i = 2, #KEYS do\n"
    "  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]); n = n + 1 end\n"
    "end\n"
    "if #ARGV > 1 then\n"
    "  redis.call('SADD', KEYS[1], unpack(ARGV, 2))\n"
    "  redis.call('EXPIRE', KEYS[1], 86400)\n"
    "end\n"
    "return n\n", ""};

/* Key and argument texts for one call: 1 sold set + SEATLOCK_MAX seat keys,
 * then owner, ttl and up to SEATLOCK_MAX seat numbers. */
struct seatlock_args {
    char key[1 + SEATLOCK_MAX][SEATLOCK_KEYLEN];
    char num[1 + SEATLOCK_MAX][SEATLOCK_NUMLEN];
    const char *argv[(1 + SEATLOCK_MAX) + 2 + SEATLOCK_MAX];
    int nkeys, argc;
};

static int seatlock_keys(struct seatlock_args *a, int64_t concert_id, int64_t schedule_id,
                         const int *seats, int n)
{
    if (n < 1 || n > SEATLOCK_MAX)
        return -1;
    snprintf(a->key[0], SEATLOCK_KEYLEN, "{c:%" PRId64 "}:sold:%" PRId64, concert_id, schedule_id);
    a->argv[0] = a->key[0];
    for (int i = 0; i < n; i++) {
        snprintf(a->key[i + 1], SEATLOCK_KEYLEN, "{c:%" PRId64 "}:seat:%" PRId64 ":%d",
                 concert_id, schedule_id, seats[i]);
        a->argv[i + 1] = a->key[i + 1];
    }
    a->nkeys = n + 1;
    a->argc = a->nkeys;
    return 0;
}

seatlock_rc seatlock_take(int64_t concert_id, int64_t schedule_id, const int *seats, int n,
                          const char *owner, int64_t ttl_ms)
{
    struct seatlock_args a;
    redisReply *reply;
    seatlock_rc rc;

    if (seatlock_keys(&a, concert_id, schedule_id, seats, n) < 0)
        return SEATLOCK_BUSY;
    a.argv[a.argc++] = owner;
    snprintf(a.num[0], SEATLOCK_NUMLEN, "%" PRId64, ttl_ms > 0 ? ttl_ms : 1);
    a.argv[a.argc++] = a.num[0];
    for (int i = 0; i < n; i++) {
        snprintf(a.num[i + 1], SEATLOCK_NUMLEN, "%d", seats[i]);
        a.argv[a.argc++] = a.num[i + 1];
    }
    reply = rds_eval(&take_script, a.nkeys, a.argc, a.argv);
    if (!reply) {
        /* The take may have run, or may yet run on a slow Redis, but the
         * hold will not go on: give back whatever it took under this owner,
         * which nobody else knows. Sent after the take, so a Redis that runs
         * both runs it after the take; if this fails too, the locks run out
         * by themselves. */
        if (rds_reply_lost() && seatlock_release(concert_id, schedule_id, seats, n, owner, NULL, 0) < 0)
            log_error("seatlock_take: could not give back the locks of an unanswered take");
        return SEATLOCK_DOWN;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
        log_error("seatlock_take: unexpected reply type %d", reply->type);
        rc = SEATLOCK_DOWN;
    } else {
        rc = reply->integer == 1 ? SEATLOCK_TAKEN : SEATLOCK_BUSY;
    }
    freeReplyObject(reply);
    return rc;
}

int seatlock_release(int64_t concert_id, int64_t schedule_id, const int *seats, int n,
                     const char *owner, const int *sold, int nsold)
{
    struct seatlock_args a;
    redisReply *reply;

    if (seatlock_keys(&a, concert_id, schedule_id, seats, n) < 0 || !owner)
        return 0;
    a.argv[a.argc++] = owner;
    if (nsold > SEATLOCK_MAX)   /* sold seats are some of the requested ones */
        nsold = SEATLOCK_MAX;
    for (int i = 0; i < nsold; i++) {
        snprintf(a.num[i], SEATLOCK_NUMLEN, "%d", sold[i]);
        a.argv[a.argc++] = a.num[i];
    }
    reply = rds_eval(&release_script, a.nkeys, a.argc, a.argv);
    if (!reply)
        return -1;
    freeReplyObject(reply);
    return 0;
}
