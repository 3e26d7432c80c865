/* 28-seatlock-retry: a seat-lock take whose reply is lost is not sent again,
 * and running it again would answer what the first run did.
 *
 * The story, told against seatlock.c and rds.c (the library the responders
 * link) and the stack's Redis. A take checks the queue token in the same
 * script: a token that is not ACTIVE takes nothing, an ACTIVE one's take
 * names its user. Taking locks you already own counts as taken:
 * the same take twice answers TAKEN both times (the expiry moves to the new
 * length), while another owner is turned away and takes nothing. A
 * connection Redis closed while idle is replaced before the next command,
 * which runs without error. Then a real timeout: Redis is kept busy (a
 * script of a second client) longer than the client's timeout. The take
 * answers SEATLOCK_DOWN, was sent once, and ran once, late, when Redis woke
 * up (MONITOR shows every run); the old client sent it again, the second run
 * found the first one's locks and said busy, and the locks stayed under an
 * owner stored nowhere. Now the locks of the unanswered take are given back,
 * so none is left under an owner nobody knows. Last, Redis paused (CLIENT
 * PAUSE) past the timeout: the take never runs at all, and nothing is
 * locked. */
#include "tap.h"
#include "testlib.h"
#include "rds.h"
#include "seatlock.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 300

static int redis_port;
static int64_t concert;

static void seat_key(int seat, char *out, size_t cap)
{
    snprintf(out, cap, "{c:%" PRId64 "}:seat:1:%d", concert, seat);
}

/* The owner of a seat's lock, malloc'd, or NULL when it is free. */
static char *lock_owner(int seat)
{
    char key[80];
    const char *argv[] = {"GET", key};
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    redisReply *r = NULL;
    char *owner = NULL;

    seat_key(seat, key, sizeof key);
    if (c && !c->err)
        r = redisCommandArgv(c, 2, argv, NULL);
    if (r && r->type == REDIS_REPLY_STRING)
        owner = strdup(r->str);
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return owner;
}

static int is_owner(int seat, const char *owner)
{
    char *held = lock_owner(seat);
    int same = held && strcmp(held, owner) == 0;

    free(held);
    return same;
}

/* 1 when Redis does not answer a PING within 50 ms. */
static int redis_busy(void)
{
    struct timeval tv = {0, 50000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    redisReply *r = NULL;
    int busy = 0;

    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK) {
        r = redisCommand(c, "PING");
        busy = r == NULL;
    }
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return busy;
}

/* Starts a child that keeps Redis busy for ms, and waits until it does. */
static pid_t keep_redis_busy(long ms)
{
    char micros[24];
    pid_t child;

    snprintf(micros, sizeof micros, "%ld", ms * 1000);
    fflush(stdout);
    child = fork();
    if (child == 0)
        _exit(t_redis_eval_cmd("busy", 0, micros, NULL) == 0 ? 0 : 1);
    for (int i = 0; i < 200 && !redis_busy(); i++)
        t_sleep_ms(5);
    return child;
}

static long now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1000L + tv.tv_usec / 1000;
}

#define USER "0f000000-0000-4000-8000-000000000028"

/* Stores token as the concert's queue would store an ACTIVE one (active
 * until now + life_ms) of USER. */
static void store_token(const char *token, long life_ms)
{
    char active[64], tokens[64], until[24];
    const char *zadd[] = {"ZADD", active, until, token};
    const char *hset[] = {"HSET", tokens, token, USER};

    snprintf(active, sizeof active, "{c:%" PRId64 "}:active", concert);
    snprintf(tokens, sizeof tokens, "{c:%" PRId64 "}:tokens", concert);
    snprintf(until, sizeof until, "%ld", now_ms() + life_ms);
    if (t_redis_cmd(4, zadd) < 0 || t_redis_cmd(4, hset) < 0)
        bail_out("cannot store a token");
}

/* Stores the concert's facts as the queue caches them, with a hold length
 * of hold_ms, fresh for an hour (the takes read the length there). */
static void store_hold_ms(long hold_ms)
{
    char conf[64], hold[24], fresh[24];
    const char *hset[] = {"HSET", conf, "hold_ms", hold, "fresh_until", fresh};

    snprintf(conf, sizeof conf, "{c:%" PRId64 "}:conf", concert);
    snprintf(hold, sizeof hold, "%ld", hold_ms);
    snprintf(fresh, sizeof fresh, "%ld", now_ms() + 3600000L);
    if (t_redis_cmd(6, hset) < 0)
        bail_out("cannot store the concert's facts");
}

/* Counts the EVALSHA calls MONITOR saw that carry both the token and the
 * argument marks[i] (a take's owner: its give-back does not carry the
 * token), reading until MONITOR has nothing more to say. */
static int monitored_runs(redisContext *mon, const char *token, const char *const *marks, int *counts, int n)
{
    char *line;

    for (int i = 0; i < n; i++)
        counts[i] = 0;
    while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
        for (int i = 0; i < n; i++) {
            char quoted[64];

            char quoted_token[96];

            snprintf(quoted, sizeof quoted, "\"%s\"", marks[i]);
            snprintf(quoted_token, sizeof quoted_token, "\"%s\"", token);
            if (strstr(line, "\"EVALSHA\"") && strstr(line, quoted) && strstr(line, quoted_token))
                counts[i]++;
        }
        free(line);
    }
    return 0;
}

int main(void)
{
    static const char owner_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char owner_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    static const char owner_c[] = "cccccccccccccccccccccccccccccccc";
    static const char owner_d[] = "dddddddddddddddddddddddddddddddd";
    const char *port = getenv("CONCERT_REDIS_PORT");
    redisContext *mon;
    char key[80], token[64], ended[64], user[37];
    pid_t child;
    long began, took;
    int status, rc;

    t_init();
    redis_port = port ? atoi(port) : 6379;
    concert = 2000000000 + (int64_t)getpid();   /* keys of this run only */
    snprintf(token, sizeof token, "%" PRId64 ".%032d", concert, 28);
    snprintf(ended, sizeof ended, "%" PRId64 ".%032d", concert, 29);
    rds_init("127.0.0.1", redis_port, 2000);
    store_hold_ms(60000);

    /* --- the token, checked in the take's script -------------------------- */
    {
        const int seats7[] = {7};

        store_token(ended, -1000);
        is_int(seatlock_take(token, concert, 1, seats7, 1, owner_a, user), SEATLOCK_TOKEN_MISS,
               "a token the queue does not know takes nothing");
        is_int(seatlock_take(ended, concert, 1, seats7, 1, owner_a, user), SEATLOCK_TOKEN_MISS,
               "nor does one whose active period has ended");
        ok(lock_owner(7) == NULL, "seat 7 is free");
        store_token(token, 600000);
        user[0] = '\0';
        is_int(seatlock_take(token, concert, 1, seats7, 1, owner_a, user), SEATLOCK_TAKEN,
               "an ACTIVE token takes seat 7");
        is(user, USER, "and the take names the token's user");
        is_int(seatlock_release(concert, 1, seats7, 1, owner_a), 0, "seat 7 given back");
    }

    /* --- the same take twice ---------------------------------------------- */
    {
        const int seats12[] = {1, 2}, seats23[] = {2, 3};
        char pttl_key[80];
        const char *argv[] = {"PTTL", pttl_key};

        is_int(seatlock_take(token, concert, 1, seats12, 2, owner_a, user), SEATLOCK_TAKEN, "owner A takes seats 1 and 2");
        seat_key(1, pttl_key, sizeof pttl_key);
        ok(t_redis_int(2, argv) <= 60000, "for the concert's hold length (60 s in its facts)");
        store_hold_ms(120000);
        is_int(seatlock_take(token, concert, 1, seats12, 2, owner_a, user), SEATLOCK_TAKEN,
               "the same take again (A, seats 1 and 2), the hold length now 120 s, counts as taken");
        ok(t_redis_int(2, argv) > 60000, "and the lock now lasts the new length");
        store_hold_ms(60000);
        is_int(seatlock_take(token, concert, 1, seats23, 2, owner_b, user), SEATLOCK_BUSY,
               "owner B asking for seats 2 and 3 is turned away");
        ok(is_owner(2, owner_a), "seat 2 is still A's");
        ok(lock_owner(3) == NULL, "and B took nothing (seat 3 is free: all or nothing)");
        {
            const char *kill_others[] = {"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"};

            ok(t_redis_int(6, kill_others) >= 1, "Redis closes this process's idle connection (CLIENT KILL)");
            t_sleep_ms(50);   /* let the end of the stream arrive */
        }
        is_int(seatlock_release(concert, 1, seats12, 2, owner_a), 0,
               "A releases its locks: the closed connection is replaced before sending, no error");
        ok(lock_owner(1) == NULL && lock_owner(2) == NULL, "seats 1 and 2 are free");
    }

    /* --- a take whose reply does not come in time ------------------------- */
    mon = t_redis_monitor();
    rds_close();
    rds_init("127.0.0.1", redis_port, TIMEOUT_MS);
    is_int(rds_ping(), 0, "a client with a %d ms timeout", TIMEOUT_MS);
    {
        const int seats45[] = {4, 5};

        child = keep_redis_busy(1200);
        ok(redis_busy(), "Redis is kept busy for 1.2 s by another client");
        began = now_ms();
        rc = seatlock_take(token, concert, 1, seats45, 2, owner_c, user);
        took = now_ms() - began;
        is_int(rc, SEATLOCK_DOWN, "the take's reply did not come: SEATLOCK_DOWN after %ld ms", took);
        waitpid(child, &status, 0);
        ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "Redis woke up");
        is_int(rds_ping(), 0, "and answers again");
        ok(lock_owner(4) == NULL && lock_owner(5) == NULL,
           "no lock is left under the owner nobody knows (the unanswered take was given back)");
    }

    /* --- a take that Redis never runs ------------------------------------- */
    {
        const int seats6[] = {6};
        const char *pause[] = {"CLIENT", "PAUSE", "1000", "ALL"};

        is_int(t_redis_cmd(4, pause), 0, "Redis paused for 1 s");
        began = now_ms();
        rc = seatlock_take(token, concert, 1, seats6, 1, owner_d, user);
        is_int(rc, SEATLOCK_DOWN, "a take during the pause: SEATLOCK_DOWN");
        took = now_ms() - began;
        if (took < 1100)
            t_sleep_ms(1100 - took);
        is_int(rds_ping(), 0, "the pause is over");
        ok(lock_owner(6) == NULL, "seat 6 is free: the take's connection was gone when Redis resumed");
    }

    {
        static const char *const marks[] = {owner_c, owner_d};   /* the two takes' owners */
        int runs[2];

        ok(monitored_runs(mon, token, marks, runs, 2) == 0, "MONITOR read");
        is_int(runs[0], 1, "the unanswered take ran exactly once, late (MONITOR saw %d runs)", runs[0]);
        is_int(runs[1], 0, "the take sent during the pause never ran");
    }
    redisFree(mon);

    for (int seat = 1; seat <= 7; seat++) {
        const char *del[] = {"DEL", key};

        seat_key(seat, key, sizeof key);
        t_redis_cmd(2, del);
    }
    {
        const char *del[] = {"DEL", key};

        snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert);
        t_redis_cmd(2, del);
    }
    rds_close();
    return done_testing();
}
