/* 2l-open-stall: opening a big pre-queue never stalls Redis.
 *
 * The story: 50,000 tokens wait in a concert's pre-queue (staged straight
 * into Redis), and the opening places them all in line (queue_open, what
 * the responders run when the time has come). Redis's own SLOWLOG, asked
 * to log every command of 5 ms or more, shows no command of that concert
 * taking 50 ms or more, so the crowd's polls are never held up behind the
 * opening for that long; and all 50,000 are in line afterwards, each once,
 * at places 1 to 50,000. */
#include "tap.h"
#include "testlib.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRE 50000
#define BATCH 1000

static void key_of(char *out, size_t cap, int64_t concert, const char *name)
{
    snprintf(out, cap, "{c:%" PRId64 "}:%s", concert, name);
}

/* The facts pinned (nobody admitted, opened long ago) and PRE tokens in
 * the pre-queue. */
static void stage(int64_t concert)
{
    static char tokens[BATCH][16], scores[BATCH][16];
    static const char *zadd[2 + 2 * BATCH];
    char key[64], pre[64];
    const char *hset[] = {"HSET", key, "limit", "0", "active_ms", "600000", "idle_ms", "600000", "per_minute", "0",
                          "paused", "0", "opens_ms", "1", "fresh_until", "99999999999999"};

    key_of(key, sizeof key, concert, "conf");
    t_redis_cmd(16, hset);
    key_of(pre, sizeof pre, concert, "pre");
    zadd[0] = "ZADD";
    zadd[1] = pre;
    for (int from = 0; from < PRE; from += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(tokens[i], sizeof tokens[i], "s%d", from + i);
            snprintf(scores[i], sizeof scores[i], "%d", from + i);
            zadd[2 + 2 * i] = scores[i];
            zadd[3 + 2 * i] = tokens[i];
        }
        t_redis_cmd(2 + 2 * BATCH, zadd);
    }
}

static void forget(int64_t concert)
{
    static const char *const names[] = {"conf", "waiting", "seen", "pre", "opened", "seq"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char key[64];
        const char *del[] = {"DEL", key};
        key_of(key, sizeof key, concert, names[i]);
        t_redis_cmd(2, del);
    }
}

/* The longest SLOWLOG entry (µs) whose arguments name the concert's keys. */
static long long longest_for(int64_t concert, long long *entries)
{
    const char *get[] = {"SLOWLOG", "GET", "1000"};
    char tag[32];
    redisReply *log = t_redis(3, get);
    long long longest = 0;

    *entries = 0;
    snprintf(tag, sizeof tag, "{c:%" PRId64 "}", concert);
    if (!log || log->type != REDIS_REPLY_ARRAY) {
        if (log)
            freeReplyObject(log);
        return -1;
    }
    for (size_t i = 0; i < log->elements; i++) {
        redisReply *e = log->element[i], *args;
        int ours = 0;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[2]->type != REDIS_REPLY_INTEGER)
            continue;
        args = e->element[3];
        for (size_t a = 0; args->type == REDIS_REPLY_ARRAY && a < args->elements; a++)
            if (args->element[a]->type == REDIS_REPLY_STRING && strstr(args->element[a]->str, tag))
                ours = 1;
        if (!ours)
            continue;
        (*entries)++;
        if (e->element[2]->integer > longest)
            longest = e->element[2]->integer;
    }
    freeReplyObject(log);
    return longest;
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");
    int64_t concert = 3100000000LL + (int64_t)getpid() * 10000;
    const char *cfg_get[] = {"CONFIG", "GET", "slowlog-log-slower-than"};
    const char *reset[] = {"SLOWLOG", "RESET"};
    char was[32] = "10000", key[64];
    long long longest, entries;
    redisReply *r;

    t_init();
    plan(3);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 10000);
    r = t_redis(3, cfg_get);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(was, sizeof was, "%s", r->element[1]->str);
    if (r)
        freeReplyObject(r);
    forget(concert);
    stage(concert);
    {
        const char *set[] = {"CONFIG", "SET", "slowlog-log-slower-than", "5000"};
        t_redis_cmd(4, set);
    }
    t_redis_cmd(2, reset);
    ok(queue_open(concert) == QUEUE_OK, "the opening of %d pre-queued tokens succeeds", PRE);
    longest = longest_for(concert, &entries);
    {
        const char *set[] = {"CONFIG", "SET", "slowlog-log-slower-than", was};
        t_redis_cmd(4, set);
    }
    diag("SLOWLOG: %lld commands of the concert took 5 ms or more, the longest %lld us", entries, longest);
    ok(longest >= 0 && longest < 50000, "no command of the opening took 50 ms or more (longest logged: %lld us)",
       longest);
    {
        char lo[16], hi[16];
        const char *count[] = {"ZCOUNT", key, lo, hi};
        const char *card[] = {"ZCARD", key};
        key_of(key, sizeof key, concert, "waiting");
        snprintf(lo, sizeof lo, "1");
        snprintf(hi, sizeof hi, "%d", PRE);
        ok(t_redis_int(2, card) == PRE && t_redis_int(4, count) == PRE,
           "all %d are in line once, at arrival numbers 1 to %d", PRE, PRE);
    }
    forget(concert);
    rds_close();
    return done_testing();
}
