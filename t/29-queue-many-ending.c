/* 29-queue-many-ending: more tokens end at once than one sweep takes.
 *
 * Every queue script first sweeps out at most 200 run-out tokens and 200
 * idle waiters; what it does not reach must still count as ended.
 *
 * The story: concert A (activeLimit 300, activeSeconds 10, the shortest the
 * admin API takes) admits 300 users at once and 300 more queue behind them;
 * concert B (activeLimit 201) admits 201. Nobody polls while the active
 * periods run out together. The first request to A is a poll from the last
 * of its 300 to be admitted, a token that poll's own sweep does not reach:
 * it is 401 TOKEN_INVALID all the same, and that one poll admits all 300
 * waiting users (a token past its end holds no slot, swept or not). The
 * first request to B is the last-admitted user asking for a token again:
 * the run-out token is not "a live token" to hand back, so it is 201 with a
 * new token, ACTIVE.
 *
 * Concert C (activeLimit 1) has one ACTIVE user, 402 waiters who then go
 * quiet past waitingIdleSeconds and one more who does not. The first poll
 * comes from a quiet waiter the sweep does not reach: 401, not revived by
 * its own poll. Then the slot frees and the live waiter polls: after its
 * sweep one quiet waiter is still ahead of it in line; it is dropped, not
 * admitted, and the live waiter is ACTIVE.
 *
 * The cron program's lock is held throughout, so only the requests of the
 * story run the queue scripts; C's idle period is shortened by writing the
 * concert's cached facts in Redis (the cache the queue scripts read). */
#include "tap.h"
#include "testlib.h"
#include "queue_token.h"
#include "rds.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define CRON_LOCK "concert:cron:lock"
#define PROCS 30
#define A_LIMIT 300
#define B_LIMIT 201
#define C_QUIET 402
#define MAX_USERS (2 * A_LIMIT + C_QUIET)

struct issued {
    char user[37];
    char token[QUEUE_TOKEN_MAX + 1];
    long http;
    char status[8];      /* ACTIVE or WAITING */
};

/* What the racing processes issue, in memory they share with the test. */
struct batch {
    int64_t concert_id;
    int first, count;    /* users[first .. first + count) */
    struct issued users[MAX_USERS];
};

static struct batch *sh;

static int issue_slice(int proc, void *arg)
{
    (void)arg;
    for (int k = sh->first + proc; k < sh->first + sh->count; k += PROCS) {
        struct issued *u = &sh->users[k];
        struct t_resp r;
        char *tok;
        const char *status;

        tok = t_issue_token(sh->concert_id, u->user, &r);
        status = t_json_str(r.json, "status");
        u->http = r.status;
        snprintf(u->status, sizeof u->status, "%s", status ? status : "");
        snprintf(u->token, sizeof u->token, "%s", tok ? tok : "");
        free(tok);
        t_resp_free(&r);
    }
    return 0;
}

/* Issues tokens for count new users of a concert from PROCS processes;
 * returns how many came back 201 with the wanted status. */
static int issue(int64_t concert_id, int first, int count, const char *want)
{
    int results[PROCS], good = 0;

    sh->concert_id = concert_id;
    sh->first = first;
    sh->count = count;
    for (int k = first; k < first + count; k++)
        t_user(sh->users[k].user);   /* before the race: only issuing races */
    if (t_race(PROCS, issue_slice, NULL, results) < 0)
        diag("a racing process failed");
    for (int k = first; k < first + count; k++)
        good += sh->users[k].http == 201 && strcmp(sh->users[k].status, want) == 0;
    return good;
}

static void key_of(char *out, size_t cap, int64_t concert_id, const char *name)
{
    snprintf(out, cap, "{c:%" PRId64 "}:%s", concert_id, name);
}

/* Redis's clock in milliseconds (the queue scripts' clock). */
static int64_t redis_now_ms(void)
{
    const char *argv[] = {"TIME"};
    redisReply *r = rds_command(1, argv, NULL);
    int64_t ms = 0;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        ms = strtoll(r->element[0]->str, NULL, 10) * 1000 + strtoll(r->element[1]->str, NULL, 10) / 1000;
    if (r)
        freeReplyObject(r);
    return ms;
}

/* The member at rank `rank` (by score) of a sorted set, and its score;
 * "" when there is none. */
/* The token a user of this test holds whose id (what Redis keeps) is id:
 * Redis's sets name ids, and only the token itself can be presented. */
static const char *token_of(const char *id)
{
    for (int k = 0; k < MAX_USERS; k++)
        if (sh->users[k].token[0] && strcmp(t_token_id(sh->users[k].token), id) == 0)
            return sh->users[k].token;
    return id;
}

static void member_at(const char *key, int rank, char *out, size_t cap, int64_t *score)
{
    char at[16];
    const char *argv[] = {"ZRANGE", key, at, at, "WITHSCORES"};
    redisReply *r;

    snprintf(at, sizeof at, "%d", rank);
    out[0] = '\0';
    *score = 0;
    r = rds_command(5, argv, NULL);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        snprintf(out, cap, "%s", r->element[0]->str);
        *score = strtoll(r->element[1]->str, NULL, 10);
    }
    if (r)
        freeReplyObject(r);
}

static long long zcount_live(int64_t concert_id)
{
    char key[64], from[32];
    const char *argv[] = {"ZCOUNT", key, from, "+inf"};

    key_of(key, sizeof key, concert_id, "active");
    snprintf(from, sizeof from, "(%" PRId64, redis_now_ms());
    return t_redis_int(4, argv);
}

static long long zcard(int64_t concert_id, const char *name)
{
    char key[64];
    const char *argv[] = {"ZCARD", key};

    key_of(key, sizeof key, concert_id, name);
    return t_redis_int(2, argv);
}

/* Waits until Redis's clock has passed ms. */
static void wait_past(int64_t ms)
{
    int64_t now;

    while ((now = redis_now_ms()) > 0 && now <= ms)
        t_sleep_ms(ms - now + 20 > 1000 ? 1000 : ms - now + 20);
}

/* The times the scripts derive from the stored ones (sweep_at, full_until,
 * full_card; queue.c), cleared as every refresh of the facts clears them. */
static void forget_derived(int64_t concert_id)
{
    char key[64];
    const char *hdel[] = {"HDEL", key, "sweep_at", "full_until", "full_card"};

    key_of(key, sizeof key, concert_id, "conf");
    t_redis_cmd(5, hdel);
}

static void set_conf(int64_t concert_id, const char *limit, const char *active_ms, const char *idle_ms)
{
    char key[64];
    const char *hset[] = {"HSET", key, "limit", limit, "active_ms", active_ms, "idle_ms", idle_ms,
                              "per_minute", "0", "paused", "0", "opens_ms", "0",
                          "fresh_until", "99999999999999"};
    const char *expire[] = {"EXPIRE", key, "600"};

    key_of(key, sizeof key, concert_id, "conf");
    t_redis_cmd(16, hset);
    t_redis_cmd(3, expire);
    forget_derived(concert_id);
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");
    char owner[64], key[64], last_a[80], last_b[80], user_b[37] = "", quiet[80], last_quiet[80];
    int64_t a, b, c, end_a, end_b, score;
    long http;
    int taken = 0;

    t_init();
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 5000);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        bail_out("mmap failed");
    a = t_create_concert_or_bail(A_LIMIT, 10, 600, 300, 1, 10, 1000, NULL);
    b = t_create_concert_or_bail(B_LIMIT, 10, 600, 300, 1, 10, 1000, NULL);
    c = t_create_concert_or_bail(1, 600, 600, 300, 1, 10, 1000, NULL);

    /* Keep the cron program's sweeps out of the story. */
    snprintf(owner, sizeof owner, "test-29-%d", (int)getpid());
    for (int i = 0; i < 120 && !taken; i++) {
        taken = t_redis_eval_int("lock_take", 1, CRON_LOCK, owner, "120000", NULL) == 1;
        if (!taken)
            t_sleep_ms(500);
    }
    if (!taken)
        bail_out("cannot take the cron program's lock");

    /* --- 300 run out together, 300 wait ----------------------------------- */
    is_int(issue(a, 0, A_LIMIT, "ACTIVE"), A_LIMIT, "concert A: 300 users at once, all ACTIVE");
    is_int(issue(b, 2 * A_LIMIT, B_LIMIT, "ACTIVE"), B_LIMIT, "concert B: 201 users at once, all ACTIVE");
    is_int(issue(a, A_LIMIT, A_LIMIT, "WAITING"), A_LIMIT, "concert A: 300 more users WAITING");
    is_int(zcard(a, "waiting"), A_LIMIT, "Redis holds 300 waiting tokens for A");

    key_of(key, sizeof key, a, "active");
    member_at(key, -1, last_a, sizeof last_a, &end_a);
    key_of(key, sizeof key, b, "active");
    member_at(key, -1, last_b, sizeof last_b, &end_b);
    for (int k = 2 * A_LIMIT; k < 2 * A_LIMIT + B_LIMIT; k++)
        if (strcmp(t_token_id(sh->users[k].token), last_b) == 0)
            snprintf(user_b, sizeof user_b, "%s", sh->users[k].user);
    ok(last_a[0] && last_b[0] && user_b[0], "the last token admitted to A and to B are known");
    wait_past(end_a > end_b ? end_a : end_b);

    is(t_poll(token_of(last_a), &http, NULL), "TOKEN_INVALID",
       "A's last-admitted token, past its end but beyond its poll's 200-token sweep: TOKEN_INVALID");
    is_int(http, 401, "401");
    is_int(zcard(a, "waiting"), 0, "that one poll admitted every waiting user of A");
    is_int(zcount_live(a), A_LIMIT, "A has 300 ACTIVE tokens, all of them the waiters");
    {
        struct t_resp r;
        char *tok = t_issue_token(b, user_b, &r);

        is_int(r.status, 201, "B's last-admitted user, run out, asks again: 201 (a new token)");
        ok(tok && strcmp(t_token_id(tok), last_b) != 0, "not the run-out token");
        is(t_json_str(r.json, "status"), "ACTIVE", "ACTIVE (B's slots are all free)");
        free(tok);
        t_resp_free(&r);
    }

    /* --- 402 waiters go quiet --------------------------------------------- */
    {
        char holder[37], live_user[37], *held, *live;
        struct t_resp r;
        const char *end[] = {"ZADD", key, "XX", "1", NULL};

        held = t_active_user(c, holder);
        ok(held != NULL, "concert C: one user holds the only slot");
        is_int(issue(c, 0, C_QUIET, "WAITING"), C_QUIET, "402 users wait behind");
        t_sleep_ms(3000);
        t_user(live_user);
        live = t_issue_token(c, live_user, &r);
        ok(r.status == 201 && live && t_json_int(r.json, "position") == C_QUIET + 1,
           "three seconds later one more user waits, at position 403");
        t_resp_free(&r);
        /* Idle after 1.5 s: the 402 are past it, the last one is not. */
        set_conf(c, "1", "600000", "1500");

        key_of(key, sizeof key, c, "seen");
        member_at(key, 300, quiet, sizeof quiet, &score);
        is(t_poll(token_of(quiet), &http, NULL), "TOKEN_INVALID",
           "a quiet waiter beyond its poll's 200-token sweep: TOKEN_INVALID, not revived by the poll");
        member_at(key, 200, last_quiet, sizeof last_quiet, &score);
        ok(last_quiet[0] && strcmp(last_quiet, live ? t_token_id(live) : "") != 0,
           "after two sweeps of 200 one quiet waiter will still be ahead of the live one");

        key_of(key, sizeof key, c, "active");
        end[4] = t_token_id(held);
        is_int(t_redis_int(5, end), 0, "the holder's active period set to have ended");
        /* Time moved behind the scripts' back, and the conf is pinned: clear
         * what they derived from the old times, as a refresh does. */
        forget_derived(c);
        is(t_poll(live, &http, NULL), "ACTIVE", "the live waiter polls: ACTIVE (the quiet one ahead was dropped)");
        is(t_poll(token_of(last_quiet), &http, NULL), "TOKEN_INVALID", "the quiet one: TOKEN_INVALID, not admitted");
        free(held);
        free(live);
    }

    t_redis_eval_int("lock_free", 1, CRON_LOCK, owner, NULL);
    rds_close();
    munmap(sh, sizeof *sh);
    return done_testing();
}
