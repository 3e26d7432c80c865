/* 2e-prequeue: tokens issued before a concert opens wait without a place,
 * and at the opening they are shuffled fairly into the line, once, ahead of
 * everyone who comes later.
 *
 * First the draw itself, through queue_open (what the responders and the
 * cron program run when they see the time has come), on 2,000 openings of
 * a pre-queue of 8, in one step and again in steps of 3 (the opening goes
 * in steps): a chi-square test over the 8 x 8 table of arrival slot
 * against place finds no slot favoured (statistic below 93.2, about the
 * 0.015% point of 49 degrees of freedom; a table past it is drawn again,
 * so a fair draw fails about once in 50 million). Opening again changes
 * nothing, and eight processes opening the same pre-queue at once put
 * each token in line once (the arrival counter moved by 8, not 64).
 *
 * Then through the API: a concert opening in 12 seconds, with an idle
 * limit of 10. Four users take tokens: WAITING, position null, opensAt the
 * opening time, a wait of at most 12 seconds. The operator's view counts 4
 * in the pre-queue. Nobody polls until the opening, longer than the idle
 * limit, and nobody is dropped for it. A fifth user, arriving after the
 * opening, opens it by asking: the four have places 1 to 4 (one admitted,
 * three waiting at 1, 2, 3) and the fifth waits behind all of them. Last,
 * a pre-queue of 24 looks at its places just after the opening: each is
 * told a random moment within its wait, so they do not all
 * come back together again. */
#include "tap.h"
#include "testlib.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 8
#define OPENINGS 2000

static const char *const names[] = {"conf", "waiting", "seen", "active", "tokens", "users", "seq",
                                    "admits", "recent", "pre", "opened", "admissions", "queue-events",
                                    "event-seq"};

static void key_of(char *out, size_t cap, int64_t concert, const char *name)
{
    snprintf(out, cap, "{c:%" PRId64 "}:%s", concert, name);
}

static void forget_concert(int64_t concert)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char key[64];
        const char *del[] = {"DEL", key};
        key_of(key, sizeof key, concert, names[i]);
        t_redis_cmd(2, del);
    }
}

/* A concert that exists only in Redis: facts pinned (nobody is admitted,
 * opened long ago), a pre-queue of tokens t0..t7. */
static void stage(int64_t concert)
{
    char key[64], pre[64];
    const char *hset[] = {"HSET", key, "limit", "0", "active_ms", "600000", "idle_ms", "600000", "per_minute", "0",
                          "paused", "0", "opens_ms", "1", "fresh_until", "99999999999999"};
    const char *zadd[2 + 2 * SLOTS];
    char tokens[SLOTS][8], scores[SLOTS][8];

    forget_concert(concert);
    key_of(key, sizeof key, concert, "conf");
    t_redis_cmd(16, hset);
    key_of(pre, sizeof pre, concert, "pre");
    zadd[0] = "ZADD";
    zadd[1] = pre;
    for (int i = 0; i < SLOTS; i++) {
        snprintf(tokens[i], sizeof tokens[i], "t%d", i);
        snprintf(scores[i], sizeof scores[i], "%d", i);
        zadd[2 + 2 * i] = scores[i];
        zadd[3 + 2 * i] = tokens[i];
    }
    t_redis_cmd(2 + 2 * SLOTS, zadd);
}

/* The line's order after opening: place[slot] = 0-based place of token t<slot>. */
static int line_order(int64_t concert, int place[SLOTS])
{
    char key[64];
    int found = 0;

    key_of(key, sizeof key, concert, "waiting");
    for (int slot = 0; slot < SLOTS; slot++) {
        char tok[8];
        const char *rank[] = {"ZRANK", key, tok};
        snprintf(tok, sizeof tok, "t%d", slot);
        place[slot] = (int)t_redis_int(3, rank);
        found += place[slot] >= 0 && place[slot] < SLOTS;
    }
    return found;
}

static int open_same(int i, void *arg)
{
    (void)i;
    rds_close();   /* the parent's connection is not this process's to use */
    return queue_open(*(int64_t *)arg) == QUEUE_OK ? 0 : 1;
}

/* GET /api/v1/admin/concerts/{concert}{suffix} with the admin key. */
static void admin_get(int64_t concert, const char *suffix, struct t_resp *r)
{
    char path[96], auth[300];
    const char *headers[] = {auth, NULL};

    snprintf(path, sizeof path, "/api/v1/admin/concerts/%" PRId64 "%s", concert, suffix);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    t_request("GET", path, headers, NULL, r);
}

static const char *field(struct json_object *o, const char *name)
{
    const char *s = t_json_str(o, name);
    return s ? s : "";
}

/* OPENINGS openings of a pre-queue of SLOTS, step tokens placed a step.
 * Returns the chi-square of the 8 x 8 table of arrival slot against place
 * (49 degrees of freedom: every opening is a permutation), or -1 when an
 * opening failed or did not put every token in line. */
static double draw_table(int64_t base, size_t step)
{
    static long counts[SLOTS][SLOTS];
    double chi = 0, expected = (double)OPENINGS / SLOTS;

    memset(counts, 0, sizeof counts);
    for (int round = 0; round < OPENINGS; round++) {
        int place[SLOTS];
        stage(base);
        if (queue_open_in_steps(base, step, 0, NULL) != QUEUE_OK || line_order(base, place) != SLOTS)
            return -1;
        for (int slot = 0; slot < SLOTS; slot++)
            counts[slot][place[slot]]++;
    }
    for (int slot = 0; slot < SLOTS; slot++)
        for (int p = 0; p < SLOTS; p++)
            chi += ((double)counts[slot][p] - expected) * ((double)counts[slot][p] - expected) / expected;
    diag("first arrival's places: %ld %ld %ld %ld %ld %ld %ld %ld", counts[0][0], counts[0][1], counts[0][2],
         counts[0][3], counts[0][4], counts[0][5], counts[0][6], counts[0][7]);
    return chi;
}

/* All in line each time, and no arrival slot favoured. 93.2 is about the
 * 0.015% point of chi-square with 49 degrees of freedom: a fair draw goes
 * past it about once in 7,000 tables, so a table past it is drawn again
 * and only two in a row fail (a fair draw: about once in 50 million; a
 * biased one stays past it). */
static void draws(int64_t base, size_t step)
{
    double chi = draw_table(base, step);

    if (chi >= 93.2) {
        diag("chi-square %.1f: past the 0.015%% point, drawn again", chi);
        chi = draw_table(base, step);
    }
    ok(chi >= 0, "%d openings of a pre-queue of %d, %zu a step, each put all %d in line", OPENINGS, SLOTS, step,
       SLOTS);
    ok(chi >= 0 && chi < 93.2, "no arrival slot is favoured: chi-square %.1f over 49 degrees of freedom", chi);
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");
    int64_t base = 3000000000LL + (int64_t)getpid() * 10000;

    t_init();
    plan(17);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 5000);

    draws(base, QUEUE_OPEN_STEP);
    draws(base, 3);

    {
        int before[SLOTS], after[SLOTS], same = 1;
        char seq[64];
        const char *get[] = {"GET", seq};

        stage(base);
        queue_open(base);
        line_order(base, before);
        ok(queue_open(base) == QUEUE_OK, "opening again is harmless");
        line_order(base, after);
        for (int slot = 0; slot < SLOTS; slot++)
            same = same && before[slot] == after[slot];
        ok(same, "and changes no place");

        stage(base);
        {
            int results[8], failed = 0;
            t_race(8, open_same, &base, results);
            for (int i = 0; i < 8; i++)
                failed += results[i] != 0;
            ok(failed == 0, "eight processes open one pre-queue at once, none failing (%d failed)", failed);
        }
        key_of(seq, sizeof seq, base, "seq");
        {
            char *s = NULL;
            redisReply *reply = rds_command(2, get, NULL);
            if (reply && reply->type == REDIS_REPLY_STRING)
                s = strdup(reply->str);
            if (reply)
                freeReplyObject(reply);
            ok(s && strcmp(s, "8") == 0 && line_order(base, after) == SLOTS,
               "each token is placed once: the arrival counter moved by 8 (%s)", s ? s : "none");
            free(s);
        }
        forget_concert(base);
    }
    rds_close();

    /* Through the API. */
    {
        char opens[32], users[5][37];
        char *tokens[5] = {NULL};
        struct t_resp r;
        int64_t concert;
        int pre = 0, not_dropped = 1, active = 0, places = 0;
        time_t opening = time(NULL) + 12;

        concert = t_create_opening_concert(12, 10, opens);
        for (int i = 0; i < 4; i++) {
            t_user(users[i]);
            tokens[i] = t_issue_token(concert, users[i], &r);
            pre += r.status == 201 && strcmp(field(r.json, "status"), "WAITING") == 0 &&
                   json_object_object_get_ex(r.json, "position", NULL) && !json_object_object_get(r.json, "position") &&
                   strcmp(field(r.json, "opensAt"), opens) == 0 && t_json_int(r.json, "estimatedWaitSeconds") <= 12 &&
                   t_json_int(r.json, "pollAfterSeconds") >= 1 && t_json_int(r.json, "pollAfterSeconds") <= 5;
            t_resp_free(&r);
        }
        ok(pre == 4, "four users before the opening: WAITING, position null, opensAt %s, told to poll within 5 s",
           opens);
        {
            admin_get(concert, "/queue", &r);
            ok(t_json_int(r.json, "preQueue") == 4 && t_json_int(r.json, "waiting") == 0 &&
                   strcmp(field(r.json, "opensAt"), opens) == 0,
               "the operator sees 4 in the pre-queue, none in line, the opening time");
            t_resp_free(&r);
        }
        while (time(NULL) <= opening)
            t_sleep_ms(200);
        t_sleep_ms(300);
        t_user(users[4]);
        tokens[4] = t_issue_token(concert, users[4], &r);
        ok(r.status == 201 && strcmp(field(r.json, "status"), "WAITING") == 0 && t_json_int(r.json, "position") == 4 &&
               json_object_object_get_ex(r.json, "opensAt", NULL) && !json_object_object_get(r.json, "opensAt"),
           "a user arriving after the opening waits behind all four (position %lld)",
           (long long)t_json_int(r.json, "position"));
        t_resp_free(&r);
        for (int i = 0; i < 4; i++) {
            t_get("/api/v1/queue/status", tokens[i], &r);
            if (r.status != 200)
                not_dropped = 0;
            else if (strcmp(field(r.json, "status"), "ACTIVE") == 0)
                active++;
            else
                places |= 1 << t_json_int(r.json, "position");
            t_resp_free(&r);
        }
        ok(not_dropped, "no pre-queued user was dropped for 12 silent seconds (idle limit 10)");
        ok(active == 1, "one of them is admitted (activeLimit 1)");
        ok(places == (1 << 1 | 1 << 2 | 1 << 3), "the other three hold places 1, 2 and 3");
        {
            admin_get(concert, "/queue", &r);
            ok(t_json_int(r.json, "preQueue") == 0 && t_json_int(r.json, "waiting") == 4 &&
                   t_json_int(r.json, "active") == 1 && json_object_object_get_ex(r.json, "opensAt", NULL) &&
                   !json_object_object_get(r.json, "opensAt"),
               "the view after the opening: pre-queue empty, 4 in line, 1 active, opensAt null");
            t_resp_free(&r);
        }
        {
            admin_get(concert, "", &r);
            ok(strcmp(field(r.json, "opensAt"), opens) == 0, "the settings keep the opening time (%s)",
               field(r.json, "opensAt"));
            t_resp_free(&r);
        }
        for (int i = 0; i < 5; i++)
            free(tokens[i]);
    }

    /* The pre-queue comes back together just after the opening: each one's
     * first look at its place is told a random moment within its wait
     * (what it is told at its next poll), so the crowd does not come back
     * together again one wait later. The concert is paused,
     * so no admission changes the rate the waits come from between the two
     * looks. */
    {
        enum { CROWD = 24 };
        char body[512], opens[32], when[32], id[37];
        char *crowd[CROWD];
        int64_t first[CROWD], place[CROWD], later, concert, sched[1];
        int within = 1, first_half = 0, looked = 0;
        struct t_resp r;
        time_t opening = time(NULL) + 3;

        t_time_from_now(3, opens);
        t_time_from_now(86400, when);
        snprintf(body, sizeof body,
                 "{\"title\":\"echo\",\"activeLimit\":1,\"paused\":true,\"waitingIdleSeconds\":600,\"opensAt\":\"%s\","
                 "\"schedules\":[{\"startsAt\":\"%s\",\"seatCount\":5}]}", opens, when);
        concert = t_create_concert_json(body, sched, 1);
        for (int i = 0; i < CROWD; i++) {
            crowd[i] = t_queued_user(concert, id);
        }
        while (time(NULL) <= opening)
            t_sleep_ms(200);
        for (int i = 0; i < CROWD; i++) {
            t_get("/api/v1/queue/status", crowd[i], &r);
            first[i] = t_json_int(r.json, "position") > 0 ? t_json_int(r.json, "pollAfterSeconds") : 0;
            place[i] = t_json_int(r.json, "position");
            t_resp_free(&r);
        }
        for (int i = 0; i < CROWD; i++) {
            if (first[i] == 0)
                continue;
            looked++;
            t_get("/api/v1/queue/status", crowd[i], &r);
            later = t_json_int(r.json, "pollAfterSeconds");
            if (first[i] < 1 || first[i] > later) {
                diag("user %d: first told %lld at place %lld, then %lld at %lld", i, (long long)first[i],
                     (long long)place[i], (long long)later, (long long)t_json_int(r.json, "position"));
                within = 0;
            }
            first_half += 2 * first[i] <= later;
            t_resp_free(&r);
        }
        ok(looked == CROWD && within && first_half > 0 && first_half < looked,
           "after the opening, each first look is told a moment within its wait, over the whole of it (%d of %d in"
           " its first half)", first_half, looked);
        for (int i = 0; i < CROWD; i++)
            free(crowd[i]);
    }
    return done_testing();
}
