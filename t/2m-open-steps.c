/* 2m-open-steps: the opening of the pre-queue goes in steps, and strict
 * fairness holds through them.
 *
 * (The draw's fairness in steps is t/2e's.) A crowd: a concert
 * (activeLimit 1) opening a few seconds ahead, four users who take tokens
 * through the API before it, and 3,000 more
 * pre-queued tokens staged in Redis. After the opening time the test
 * places one step of 50. While the opening goes on: a user arriving now
 * is WAITING behind the whole pre-queue (position 3,004: the pre-queue
 * less the one admitted), not admitted though the line ahead is not all
 * placed; a pre-queued user's poll is 200 WAITING with either a place
 * among those placed so far, or no place yet and told to come back within
 * 2 seconds, never a later place. The rest is placed in steps of 100. Then
 * the 3,004 pre-queued tokens hold arrival numbers base+1..base+3,004,
 * each once (a permutation), every one ahead of the later arrival; the
 * pre-queue is empty, and each of the four polls a place or ACTIVE. */
#include "tap.h"
#include "testlib.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STAGED 3000

static void key_of(char *out, size_t cap, int64_t concert, const char *name)
{
    snprintf(out, cap, "{c:%" PRId64 "}:%s", concert, name);
}

static const char *field(struct json_object *o, const char *name)
{
    const char *s = t_json_str(o, name);
    return s ? s : "";
}

/* STAGED more pre-queued tokens f0.. of made-up users, straight into Redis. */
static void stage_crowd(int64_t concert)
{
    static char tokens[STAGED][16], users[STAGED][40];
    static const char *zadd[2 + 2 * STAGED], *hset[2 + 2 * STAGED];
    char pre[64], tok[64];

    key_of(pre, sizeof pre, concert, "pre");
    key_of(tok, sizeof tok, concert, "tokens");
    zadd[0] = "ZADD";
    zadd[1] = pre;
    hset[0] = "HSET";
    hset[1] = tok;
    for (int i = 0; i < STAGED; i++) {
        snprintf(tokens[i], sizeof tokens[i], "f%d", i);
        snprintf(users[i], sizeof users[i], "00000000-0000-4000-8000-%012d", i);
        zadd[2 + 2 * i] = "1";
        zadd[3 + 2 * i] = tokens[i];
        hset[2 + 2 * i] = tokens[i];
        hset[3 + 2 * i] = users[i];
    }
    t_redis_cmd(2 + 2 * STAGED, zadd);
    t_redis_cmd(2 + 2 * STAGED, hset);
}

static void crowd(void)
{
    char opens[32], users[5][37];
    char *tokens[5] = {NULL};
    struct t_resp r;
    int64_t concert, left = 0;
    int pre = 0, sensible = 0, placed_after = 0;
    time_t opening = time(NULL) + 3;
    const int total = STAGED + 4;

    concert = t_create_opening_concert(3, 600, opens);
    for (int i = 0; i < 4; i++) {
        t_user(users[i]);
        tokens[i] = t_issue_token(concert, users[i], &r);
        pre += r.status == 201 && json_object_object_get_ex(r.json, "position", NULL) &&
               !json_object_object_get(r.json, "position");
        t_resp_free(&r);
    }
    stage_crowd(concert);
    ok(pre == 4, "four users in the pre-queue, and %d more staged", STAGED);
    while (time(NULL) <= opening)
        t_sleep_ms(100);
    t_sleep_ms(200);

    ok(queue_open_in_steps(concert, 50, 1, &left) == QUEUE_OK && left > 0 && left <= total - 50,
       "one step of 50 placed: %lld left to place", (long long)left);
    t_user(users[4]);
    tokens[4] = t_issue_token(concert, users[4], &r);
    ok(r.status == 201 && strcmp(field(r.json, "status"), "WAITING") == 0 && t_json_int(r.json, "position") == total,
       "a user arriving during the opening waits behind the whole pre-queue, less the one admitted (position %lld)",
       (long long)t_json_int(r.json, "position"));
    t_resp_free(&r);
    for (int i = 0; i < 4; i++) {
        int64_t after;
        t_get("/api/v1/queue/status", tokens[i], &r);
        after = t_json_int(r.json, "pollAfterSeconds");
        if (r.status == 200 && strcmp(field(r.json, "status"), "ACTIVE") == 0)
            sensible++;
        else if (r.status == 200 && json_object_object_get_ex(r.json, "position", NULL) &&
                 !json_object_object_get(r.json, "position"))
            sensible += after >= 1 && after <= 2 && json_object_object_get_ex(r.json, "opensAt", NULL) &&
                        !json_object_object_get(r.json, "opensAt");
        else if (r.status == 200)
            sensible += t_json_int(r.json, "position") >= 1 && t_json_int(r.json, "position") < total;
        t_resp_free(&r);
    }
    ok(sensible == 4, "polls during the opening: ACTIVE, a place ahead of the later arrival, or no place yet and "
                      "told 1-2 s (%d of 4)", sensible);

    ok(queue_open_in_steps(concert, 100, 0, &left) == QUEUE_OK && left == 0, "the rest placed in steps of 100");
    {
        char lo[24], hi[24], seq[64], waiting[64], active[64], later[64], pre_key[64];
        const char *get[] = {"GET", seq};
        const char *card_pre[] = {"ZCARD", pre_key};
        long long top = 0, count_in, later_score;
        redisReply *rep;
        key_of(seq, sizeof seq, concert, "seq");
        key_of(waiting, sizeof waiting, concert, "waiting");
        key_of(active, sizeof active, concert, "active");
        key_of(pre_key, sizeof pre_key, concert, "pre");
        rep = t_redis(2, get);
        if (rep && rep->type == REDIS_REPLY_STRING)
            top = atoll(rep->str);
        if (rep)
            freeReplyObject(rep);
        /* The later arrival took the last number; the pre-queue the ones before. */
        snprintf(lo, sizeof lo, "%lld", top - total);
        snprintf(hi, sizeof hi, "%lld", top - 1);
        {
            const char *cnt[] = {"ZCOUNT", waiting, lo, hi};
            const char *act[] = {"ZCARD", active};
            count_in = t_redis_int(4, cnt) + t_redis_int(2, act);
        }
        {
            char users_key[64], id[128] = "";
            const char *who[] = {"HGET", users_key, users[4]};
            const char *score[] = {"ZSCORE", waiting, id};
            later_score = -1;
            key_of(users_key, sizeof users_key, concert, "users");
            rep = t_redis(3, who);
            if (rep && rep->type == REDIS_REPLY_STRING)
                snprintf(id, sizeof id, "%s", rep->str);
            if (rep)
                freeReplyObject(rep);
            rep = t_redis(3, score);
            if (rep && rep->type == REDIS_REPLY_STRING)
                later_score = atoll(rep->str);
            if (rep)
                freeReplyObject(rep);
            snprintf(later, sizeof later, "%lld", later_score);
        }
        {
            const char *behind[] = {"ZCOUNT", waiting, later, "+inf"};
            ok(t_redis_int(2, card_pre) == 0 && count_in == total && later_score == top &&
                   t_redis_int(4, behind) == 1,
               "the %d pre-queued hold the %d numbers before the later arrival's, each once; nobody behind it (%lld; "
               "the later arrival %lld of %lld)", total, total, count_in, later_score, top);
        }
    }
    for (int i = 0; i < 4; i++) {
        t_get("/api/v1/queue/status", tokens[i], &r);
        placed_after += r.status == 200 && (strcmp(field(r.json, "status"), "ACTIVE") == 0 ||
                                            (t_json_int(r.json, "position") >= 1 &&
                                             t_json_int(r.json, "position") < total));
        t_resp_free(&r);
    }
    ok(placed_after == 4, "afterwards each of the four has a place ahead of the later arrival, or is ACTIVE");
    t_get("/api/v1/queue/status", tokens[4], &r);
    ok(r.status == 200 && t_json_int(r.json, "position") == total, "and the later arrival stays last (%lld)",
       (long long)t_json_int(r.json, "position"));
    t_resp_free(&r);
    for (int i = 0; i < 5; i++)
        free(tokens[i]);
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");

    t_init();
    plan(8);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 10000);
    crowd();
    rds_close();
    return done_testing();
}
