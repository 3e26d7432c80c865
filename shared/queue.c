/* queue.c - the waiting room's C front; its Lua scripts are
 * shared/lua/queue_*.lua (see queue.h). */
#include "queue.h"
#include "db.h"
#include "keyspace.h"
#include "log.h"
#include "rand.h"
#include "rds.h"
#include "utc.h"
#include "valid.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The queue's scripts (shared/lua/queue_*.lua). The five that answer for
 * a token or a concert begin with shared/lua/lib/queue_prelude.lua and take
 * the concert's fifteen queue keys (enum queue_key, keyspace.h, in that
 * order) as KEYS, then their own ARGV. */
extern struct rds_script lua_queue_enter;    /* ARGV: userId, new token id */
extern struct rds_script lua_queue_status;   /* ARGV: token id */
extern struct rds_script lua_queue_end;      /* ARGV: token id, why it ends */
extern struct rds_script lua_queue_sweep;
extern struct rds_script lua_queue_view;
/* And those that take some keys of their own. */
extern struct rds_script lua_queue_open;
extern struct rds_script lua_queue_gauges;
extern struct rds_script lua_queue_active;
extern struct rds_script lua_queue_fill;

/* A ticket, as the prelude's describe() answers it with the token id
 * appended (queue_enter, queue_status). */
enum ticket_field {
    TICKET_CODE,         /* CREATED, FIRST, OK (or INVALID, alone) */
    TICKET_USER,
    TICKET_STATE,        /* ACTIVE, PRE, WAITING */
    TICKET_POSITION,     /* 1-based while WAITING */
    TICKET_EXPIRES,      /* end of the active period (ms) while ACTIVE */
    TICKET_ADMITTED,     /* admissions the wait estimate counts */
    TICKET_SINCE,        /* ... since then (ms); PRE: the first arrival */
    TICKET_NOW,          /* Redis's clock (ms) */
    TICKET_LIMIT,
    TICKET_ACTIVE_MS,
    TICKET_LINE,         /* WAITING: waiting users; PRE: pre-queued ones */
    TICKET_IDLE_MS,
    TICKET_OPENS,        /* the opening (ms) while it is ahead, else 0 */
    TICKET_TOKEN,        /* the token id */
    TICKET_FIELDS
};

/* queue_end.lua's answer. */
enum end_field { END_CODE, END_LIVE, END_ADMITTED, END_USER, END_FIELDS };

/* queue_sweep.lua's answer. */
enum sweep_field { SWEEP_CODE, SWEEP_DROPPED, SWEEP_ADMITTED, SWEEP_FIELDS };

/* queue_view.lua's answer. */
enum view_field {
    VIEW_CODE, VIEW_WAITING, VIEW_ACTIVE, VIEW_ADMITTED_LAST_MINUTE, VIEW_PAUSED, VIEW_PRE_QUEUE, VIEW_OPENS,
    VIEW_FIELDS
};

/* queue_gauges.lua: its KEYS and its answer, in one order. */
enum gauge_field { GAUGE_PRE, GAUGE_WAITING, GAUGE_ACTIVE, GAUGE_ADMISSIONS, GAUGE_FIELDS };

/* queue_active.lua's answer. */
enum active_field { ACTIVE_CODE, ACTIVE_USER, ACTIVE_EXPIRES, ACTIVE_FIELDS };

/* queue_open.lua's KEYS; its ARGV (the count drawn for, then the draws) follows. */
enum open_key { OPEN_WAITING, OPEN_SEEN, OPEN_SEQ, OPEN_PRE, OPEN_OPENED, OPEN_CONF, OPEN_NKEYS };

/* A concert's queue keys, and room behind them for a script's ARGV. */
struct queue_keys {
    char key[QUEUE_NKEYS][KEYSPACE_CONCERT_KEY_SIZE];
    const char *argv[QUEUE_NKEYS + 2];
};

static void queue_keys_for(int64_t concert_id, struct queue_keys *k)
{
    for (int i = 0; i < QUEUE_NKEYS; i++) {
        keyspace_queue(k->key[i], sizeof k->key[i], concert_id, (enum queue_key)i);
        k->argv[i] = k->key[i];
    }
}

/* Loads a concert's facts from PostgreSQL into its Redis cache. */
static queue_rc queue_fill(int64_t concert_id, const struct queue_keys *k)
{
    static const char sql[] =
        "SELECT active_limit, active_seconds::bigint * 1000, waiting_idle_seconds::bigint * 1000,"
        "       coalesce(admission_per_minute, 0), paused::integer,"
        "       coalesce(floor(extract(epoch FROM opens_at) * 1000)::bigint, 0),"
        "       hold_seconds::bigint * 1000"
        " FROM concerts WHERE id = $1";
    char idtext[24];
    const char *params[] = {idtext};
    const char *argv[8];
    PGresult *res;
    redisReply *reply;
    queue_rc rc = QUEUE_OK;
    db_rc dbrc;

    snprintf(idtext, sizeof idtext, "%" PRId64, concert_id);
    dbrc = db_read(sql, 1, params, &res);
    if (dbrc != DB_OK)
        return QUEUE_PG_DOWN;
    argv[0] = k->key[QUEUE_KEY_CONF];
    if (PQntuples(res) == 0) {
        argv[1] = "missing";
        reply = rds_eval(&lua_queue_fill, 1, 2, argv);
        rc = QUEUE_NO_CONCERT;
    } else {
        argv[1] = PQgetvalue(res, 0, 0);
        argv[2] = PQgetvalue(res, 0, 1);
        argv[3] = PQgetvalue(res, 0, 2);
        argv[4] = PQgetvalue(res, 0, 3);
        argv[5] = PQgetvalue(res, 0, 4);
        argv[6] = PQgetvalue(res, 0, 5);
        argv[7] = PQgetvalue(res, 0, 6);
        reply = rds_eval(&lua_queue_fill, 1, 8, argv);
    }
    PQclear(res);
    if (!reply)
        return QUEUE_REDIS_DOWN;
    freeReplyObject(reply);
    return rc;
}

/* One queue_open.lua call: the draws for *left tokens left (none when
 * *left is -1: it only asks, and begins the opening if it had not begun),
 * at most step of them. Sets *left to how many are left afterwards (0 once
 * open). */
static queue_rc queue_open_call(const struct queue_keys *k, size_t step, int64_t *left)
{
    size_t ndraws = *left > 0 ? ((uint64_t)*left < step ? (size_t)*left : step) : 0;
    const char **argv = malloc(sizeof *argv * (OPEN_NKEYS + 1 + ndraws));
    char (*draws)[24] = malloc(sizeof *draws * (ndraws + 1));
    redisReply *reply = NULL;
    queue_rc rc = QUEUE_REDIS_DOWN;

    if (!argv || !draws) {
        log_error("queue_open: out of memory for a step of %zu", ndraws);
        goto out;
    }
    argv[OPEN_WAITING] = k->key[QUEUE_KEY_WAITING];
    argv[OPEN_SEEN] = k->key[QUEUE_KEY_SEEN];
    argv[OPEN_SEQ] = k->key[QUEUE_KEY_SEQ];
    argv[OPEN_PRE] = k->key[QUEUE_KEY_PRE];
    argv[OPEN_OPENED] = k->key[QUEUE_KEY_OPENED];
    argv[OPEN_CONF] = k->key[QUEUE_KEY_CONF];
    snprintf(draws[ndraws], sizeof draws[ndraws], "%" PRId64, ndraws ? *left : (int64_t)-1);
    argv[OPEN_NKEYS] = draws[ndraws];
    /* The i-th draw picks among the *left - i tokens still left by then:
     * every order equally likely (rand_between draws without bias). */
    for (size_t i = 0; i < ndraws; i++) {
        int64_t index;
        if (rand_between(0, *left - 1 - (int64_t)i, &index) < 0) {
            log_error("queue_open: getrandom failed");
            goto out;
        }
        snprintf(draws[i], sizeof draws[i], "%" PRId64, index);
        argv[OPEN_NKEYS + 1 + i] = draws[i];
    }
    reply = rds_eval(&lua_queue_open, OPEN_NKEYS, (int)(OPEN_NKEYS + 1 + ndraws), argv);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        goto out;
    if (strcmp(reply->element[0]->str, "ALREADY") == 0) {
        *left = 0;
        rc = QUEUE_OK;
    } else if (reply->elements == 2 && reply->element[1]->type == REDIS_REPLY_INTEGER) {
        rc = QUEUE_OK;
        if (strcmp(reply->element[0]->str, "OPENED") == 0) {
            const char *pre_queue = k->key[QUEUE_KEY_PRE];
            *left = 0;
            log_info("queue: %s opened: %lld tokens in random order", pre_queue,
                     (long long)reply->element[1]->integer);
        } else {
            *left = reply->element[1]->integer;
        }
    }
out:
    if (reply)
        freeReplyObject(reply);
    free(argv);
    free(draws);
    return rc;
}

/* One step of the opening: asks how many are left (beginning it if need
 * be), then places up to step of them. */
static queue_rc queue_open_step(const struct queue_keys *k, size_t step, int64_t *left)
{
    queue_rc rc;

    *left = -1;
    rc = queue_open_call(k, step, left);
    if (rc == QUEUE_OK && *left > 0)
        rc = queue_open_call(k, step, left);
    return rc;
}

queue_rc queue_open_in_steps(int64_t concert_id, size_t step, int max_steps, int64_t *left)
{
    struct queue_keys k;
    int64_t still = -1;

    if (step < 1)
        step = 1;
    queue_keys_for(concert_id, &k);
    for (int done = 0; still != 0 && (max_steps <= 0 || done < max_steps); done++) {
        queue_rc rc = queue_open_step(&k, step, &still);
        if (rc != QUEUE_OK)
            return rc;
    }
    if (left)
        *left = still;
    return QUEUE_OK;
}

queue_rc queue_open(int64_t concert_id)
{
    return queue_open_in_steps(concert_id, QUEUE_OPEN_STEP, 0, NULL);
}

/* Runs a queue script, filling the concert cache first when it is cold and
 * opening the pre-queue first when its time has come. */
static queue_rc queue_run(struct rds_script *script, int64_t concert_id,
                          int nargs, const char **args, redisReply **out)
{
    struct queue_keys k;

    queue_keys_for(concert_id, &k);
    for (int i = 0; i < nargs; i++)
        k.argv[QUEUE_NKEYS + i] = args[i];
    for (int attempt = 0; attempt < 4; attempt++) {
        redisReply *reply = rds_eval(script, QUEUE_NKEYS, QUEUE_NKEYS + nargs, k.argv);
        queue_rc rc;

        if (!reply)
            return QUEUE_REDIS_DOWN;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
            reply->element[0]->type != REDIS_REPLY_STRING) {
            log_error("queue script %s: unexpected reply", script->name);
            freeReplyObject(reply);
            return QUEUE_REDIS_DOWN;
        }
        if (strcmp(reply->element[0]->str, "NOCONCERT") == 0) {
            freeReplyObject(reply);
            return QUEUE_NO_CONCERT;
        }
        if (strcmp(reply->element[0]->str, "OPEN") == 0) {
            int64_t left;
            freeReplyObject(reply);
            /* Begins the opening and places its first step; the script
             * then answers with the opening under way. */
            rc = queue_open_step(&k, QUEUE_OPEN_STEP, &left);
            if (rc != QUEUE_OK)
                return rc;
            continue;
        }
        if (strcmp(reply->element[0]->str, "NOCONF") != 0) {
            /* "+OK": the answer stands, and the facts it used were a second
             * old; this request reads them again for everyone. With
             * PostgreSQL down the old ones stay in use. */
            if (reply->element[0]->str[0] == '+') {
                memmove(reply->element[0]->str, reply->element[0]->str + 1, reply->element[0]->len);
                reply->element[0]->len--;
                if (queue_fill(concert_id, &k) != QUEUE_OK)
                    log_info("queue: the facts of concert %" PRId64 " could not be read again; the cached ones stay",
                             concert_id);
            }
            /* "~OK": the opening is under way and this request places its
             * next step (one request at a time is asked). */
            if (reply->element[0]->str[0] == '~') {
                int64_t left;
                memmove(reply->element[0]->str, reply->element[0]->str + 1, reply->element[0]->len);
                reply->element[0]->len--;
                if (queue_open_step(&k, QUEUE_OPEN_STEP, &left) != QUEUE_OK)
                    log_info("queue: a step of concert %" PRId64 "'s opening failed; the next request retries",
                             concert_id);
            }
            *out = reply;
            return QUEUE_OK;
        }
        freeReplyObject(reply);
        rc = queue_fill(concert_id, &k);
        if (rc != QUEUE_OK)
            return rc;
    }
    return QUEUE_REDIS_DOWN;
}

static int64_t reply_int(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* Admissions a second: those observed over the last ten minutes (at least
 * one minute of it), or, before any user has been admitted after waiting,
 * the slowest rate the concert allows: every slot turning over once per
 * active period. */
static double queue_admission_rate(int64_t admitted, int64_t since_ms, int64_t now_ms, int64_t limit,
                                   int64_t active_ms)
{
    if (admitted > 0) {
        int64_t span = now_ms - since_ms;
        if (span < 60000)
            span = 60000;
        return (double)admitted * 1000.0 / (double)span;
    }
    return (double)limit * 1000.0 / (double)(active_ms > 0 ? active_ms : 1);
}

/* Users ahead divided by the admission rate, at most a week. */
static int64_t queue_estimate(int64_t position, double per_second)
{
    double wait;

    if (position <= 0)
        return 0;
    wait = (double)position / per_second;
    if (wait > 7 * 86400.0)
        wait = 7 * 86400.0;
    return (int64_t)(wait + 0.999);
}

int64_t queue_wait_estimate(int64_t position, int64_t admitted, int64_t limit, int64_t active_ms)
{
    /* Not the pacing's rate (over at least a minute): a sale that admits a
     * burst at its opening and then sells out would show every waiting user
     * a wait growing tenfold as that minute stretches to ten. Over the
     * whole ten minutes the rate starts low and only climbs while
     * admissions go on; and no lower than every slot turning over once an
     * active period, which the line moves at however stalled. */
    double slowest = (double)limit * 1000.0 / (double)(active_ms > 0 ? active_ms : 1);
    double observed = (double)admitted * 1000.0 / 600000.0;

    return queue_estimate(position, observed > slowest ? observed : slowest);
}

int64_t queue_poll_longest(int64_t idle_ms)
{
    int64_t longest = idle_ms / 2000;

    if (longest > QUEUE_POLL_MAX_S)
        longest = QUEUE_POLL_MAX_S;
    return longest < 1 ? 1 : longest;
}

int64_t queue_poll_after(int64_t position, int64_t waiting, double per_second, int64_t idle_ms)
{
    int64_t longest = queue_poll_longest(idle_ms);
    double head_budget, seconds_per_place, after;

    if (position <= 0)
        return longest;
    /* Waiters told to wait the longest poll waiting / longest times a
     * second; what is left of the budget goes to those nearer the head,
     * who are told to wait about half their expected wait, but never so
     * little that the head alone (about (1 + ln longest) / seconds_per_place
     * polls a second) would spend more than what is left. */
    head_budget = QUEUE_POLL_BUDGET - (double)waiting / (double)longest;
    if (head_budget < QUEUE_POLL_BUDGET / 4)
        head_budget = QUEUE_POLL_BUDGET / 4;
    seconds_per_place = 0.5 / (per_second > 0 ? per_second : 1.0);
    if (seconds_per_place < (1.0 + log((double)longest)) / head_budget)
        seconds_per_place = (1.0 + log((double)longest)) / head_budget;
    after = ceil((double)position * seconds_per_place);
    /* The first in line poll every second or so however slow the line:
     * they are few, and the one admitted next sees it at once. */
    if (after > (double)position)
        after = (double)position;
    if (after < 1)
        after = 1;
    return after > (double)longest ? longest : (int64_t)after;
}

int queue_pre_poll_window(int64_t until_s, int64_t pre_count, int64_t arriving_ms, int64_t idle_ms,
                          int64_t *low, int64_t *high)
{
    int64_t longest = queue_poll_longest(idle_ms), spread;
    double expected;

    /* Everyone told before the opening shares the seconds after it, so the
     * window is sized for the crowd there will be by then: those already
     * here, and as many more as have been arriving a second (counted over
     * at least a second) until the opening. Sized for fewer, the first
     * arrivals would all come back in the first second or two. */
    if (pre_count < 0)
        pre_count = 0;
    if (arriving_ms < 1000)
        arriving_ms = 1000;
    expected = (double)pre_count * (1.0 + (double)(until_s > 0 ? until_s : 0) * 1000.0 / (double)arriving_ms);
    /* Seconds over which that many polls keep within the budget. */
    spread = (int64_t)ceil(expected / QUEUE_POLL_BUDGET);
    if (until_s >= 1 && until_s + spread <= longest) {
        *low = until_s;
        *high = until_s + spread;
        return 1;
    }
    *low = 1;
    *high = longest;
    return 0;
}

/* Reads a ticket (enum ticket_field) into t. */
static queue_rc queue_ticket_from(redisReply *reply, int64_t concert_id, struct queue_ticket *t)
{
    redisReply **e = reply->element;
    int64_t now;

    if (strcmp(e[TICKET_CODE]->str, "INVALID") == 0)
        return QUEUE_TOKEN_INVALID;
    if (reply->elements != TICKET_FIELDS || e[TICKET_USER]->type != REDIS_REPLY_STRING ||
        e[TICKET_STATE]->type != REDIS_REPLY_STRING || e[TICKET_TOKEN]->type != REDIS_REPLY_STRING ||
        e[TICKET_USER]->len >= sizeof t->user_id || e[TICKET_TOKEN]->len > QUEUE_TOKEN_ID_MAX) {
        log_error("queue: malformed ticket reply");
        return QUEUE_REDIS_DOWN;
    }
    memset(t, 0, sizeof *t);
    t->created = strcmp(e[TICKET_CODE]->str, "CREATED") == 0;
    t->first_look = t->created || strcmp(e[TICKET_CODE]->str, "FIRST") == 0;
    memcpy(t->user_id, e[TICKET_USER]->str, e[TICKET_USER]->len);
    memcpy(t->id, e[TICKET_TOKEN]->str, e[TICKET_TOKEN]->len);
    if (queue_token_sign(t->id, t->token) < 0)
        return QUEUE_REDIS_DOWN;
    t->concert_id = concert_id;
    t->state = strcmp(e[TICKET_STATE]->str, "ACTIVE") == 0 ? QUEUE_ACTIVE : QUEUE_WAITING;
    t->position = reply_int(e[TICKET_POSITION]);
    t->expires_ms = reply_int(e[TICKET_EXPIRES]);
    t->opens_ms = reply_int(e[TICKET_OPENS]);
    now = reply_int(e[TICKET_NOW]);
    if (strcmp(e[TICKET_STATE]->str, "OPENING") == 0) {
        /* Pre-queued, and the opening is placing the pre-queue right now:
         * its place comes within a second or two. */
        t->position = -1;
        t->estimated_wait_s = 0;
        if (rand_between(1, 2, &t->poll_after_s) < 0)
            t->poll_after_s = 1;
    } else if (strcmp(e[TICKET_STATE]->str, "PRE") == 0) {
        /* In the pre-queue: no place yet; a random moment in the window
         * (queue_pre_poll_window), so the crowd's polls spread over it.
         * A user told the longest wait keeps that rhythm until the opening
         * comes within reach. */
        int64_t until = (t->opens_ms - now + 999) / 1000, low, high;
        int near = queue_pre_poll_window(until, reply_int(e[TICKET_LINE]), now - reply_int(e[TICKET_SINCE]),
                                         reply_int(e[TICKET_IDLE_MS]), &low, &high);
        t->position = -1;
        t->estimated_wait_s = until > 0 ? until : 0;
        if (!near && !t->created)
            t->poll_after_s = high;
        else if (rand_between(low, high, &t->poll_after_s) < 0)
            t->poll_after_s = high;
    } else if (t->state == QUEUE_ACTIVE) {
        /* Nothing to wait for: a poll only notices the end sooner. */
        int64_t left_s = (t->expires_ms - now) / 1000;
        t->estimated_wait_s = 0;
        t->poll_after_s = left_s < 1 ? 1 : left_s > QUEUE_POLL_MAX_S ? QUEUE_POLL_MAX_S : left_s;
    } else {
        double rate = queue_admission_rate(reply_int(e[TICKET_ADMITTED]), reply_int(e[TICKET_SINCE]), now,
                                           reply_int(e[TICKET_LIMIT]), reply_int(e[TICKET_ACTIVE_MS]));
        int64_t spread;
        t->estimated_wait_s = queue_wait_estimate(t->position, reply_int(e[TICKET_ADMITTED]),
                                                  reply_int(e[TICKET_LIMIT]), reply_int(e[TICKET_ACTIVE_MS]));
        t->poll_after_s = queue_poll_after(t->position, reply_int(e[TICKET_LINE]), rate, reply_int(e[TICKET_IDLE_MS]));
        /* A first look at one's place (a new token, or a pre-queued one's
         * first poll after the opening) is told a random moment within its
         * wait: a burst of them (the crowd arriving, the pre-queue just
         * after the opening) would otherwise come back as the same burst
         * one wait later, and again each wait after. The whole wait, not
         * its second half: 200,000 arriving in 37 s then come back over
         * about 60 s rather than 30, and the crowd's polls peaked at 6,300
         * a second in the benchmark's drop with half the wait. */
        if (t->first_look && t->poll_after_s > 1 && rand_between(1, t->poll_after_s, &spread) == 0)
            t->poll_after_s = spread;
    }
    return QUEUE_OK;
}

queue_rc queue_enter_as(int64_t concert_id, const char *user_id, const char *id, struct queue_ticket *out)
{
    const char *args[2];
    redisReply *reply;
    queue_rc rc;

    args[0] = user_id;
    args[1] = id;
    rc = queue_run(&lua_queue_enter, concert_id, 2, args, &reply);
    if (rc != QUEUE_OK)
        return rc;
    if (strcmp(reply->element[TICKET_CODE]->str, "ENDED") == 0)
        rc = QUEUE_ID_ENDED;
    else
        rc = queue_ticket_from(reply, concert_id, out);
    freeReplyObject(reply);
    return rc;
}

queue_rc queue_enter(int64_t concert_id, const char *user_id, struct queue_ticket *out)
{
    char id[QUEUE_TOKEN_ID_MAX + 1];

    if (queue_token_new_id(concert_id, id) < 0)
        return QUEUE_REDIS_DOWN;
    return queue_enter_as(concert_id, user_id, id, out);
}

queue_rc queue_status(const char *token, struct queue_ticket *out)
{
    char id[QUEUE_TOKEN_ID_MAX + 1];
    const char *args[] = {id};
    int64_t concert_id;
    redisReply *reply;
    queue_rc rc;

    if (queue_token_open(token, id, &concert_id) < 0)
        return QUEUE_TOKEN_INVALID;
    rc = queue_run(&lua_queue_status, concert_id, 1, args, &reply);
    if (rc == QUEUE_NO_CONCERT)
        return QUEUE_TOKEN_INVALID;
    if (rc != QUEUE_OK)
        return rc;
    rc = queue_ticket_from(reply, concert_id, out);
    freeReplyObject(reply);
    return rc;
}

static queue_rc queue_end_as(const char *id, const char *why, int *was_live, char user_id[37])
{
    const char *args[] = {id, why};
    int64_t concert_id;
    redisReply *reply;
    redisReply **e;
    queue_rc rc;

    if (was_live)
        *was_live = 0;
    if (queue_token_concert(id, &concert_id) < 0)
        return QUEUE_TOKEN_INVALID;
    rc = queue_run(&lua_queue_end, concert_id, 2, args, &reply);
    if (rc == QUEUE_NO_CONCERT)
        return QUEUE_OK;   /* nothing of it left to end */
    if (rc != QUEUE_OK)
        return rc;
    e = reply->element;
    if (reply->elements != END_FIELDS || e[END_USER]->type != REDIS_REPLY_STRING || e[END_USER]->len > 36) {
        log_error("queue_end: unexpected reply");
        freeReplyObject(reply);
        return QUEUE_REDIS_DOWN;
    }
    if (was_live && reply_int(e[END_LIVE]) == 1 && e[END_USER]->len == 36) {
        *was_live = 1;
        memcpy(user_id, e[END_USER]->str, 37);
    }
    freeReplyObject(reply);
    return QUEUE_OK;
}

queue_rc queue_finish(const char *token)
{
    char id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t concert_id;

    if (queue_token_open(token, id, &concert_id) < 0)
        return QUEUE_TOKEN_INVALID;
    return queue_end_as(id, "paid", NULL, NULL);
}

queue_rc queue_end(const char *id, int *was_live, char user_id[37])
{
    return queue_end_as(id, "logout", was_live, user_id);
}

void queue_end_done(const char *id)
{
    char key[KEYSPACE_CONCERT_KEY_SIZE];
    const char *argv[] = {"HDEL", key, id};
    int64_t concert_id;
    redisReply *reply;

    if (queue_token_concert(id, &concert_id) < 0)
        return;
    keyspace_queue(key, sizeof key, concert_id, QUEUE_KEY_LOGGED_OUT);
    reply = rds_command(3, argv, NULL);
    if (reply)
        freeReplyObject(reply);
}

queue_rc queue_sweep(int64_t concert_id, int64_t *dropped, int64_t *admitted)
{
    redisReply *reply;
    queue_rc rc = queue_run(&lua_queue_sweep, concert_id, 0, NULL, &reply);

    *dropped = *admitted = 0;
    if (rc != QUEUE_OK)
        return rc;
    if (reply->elements == SWEEP_FIELDS) {
        *dropped = reply_int(reply->element[SWEEP_DROPPED]);
        *admitted = reply_int(reply->element[SWEEP_ADMITTED]);
    }
    freeReplyObject(reply);
    return QUEUE_OK;
}

queue_rc queue_view(int64_t concert_id, struct queue_counts *out)
{
    redisReply *reply;
    queue_rc rc = queue_run(&lua_queue_view, concert_id, 0, NULL, &reply);

    memset(out, 0, sizeof *out);
    if (rc != QUEUE_OK)
        return rc;
    if (reply->elements != VIEW_FIELDS) {
        log_error("queue_view: unexpected reply");
        freeReplyObject(reply);
        return QUEUE_REDIS_DOWN;
    }
    out->waiting = reply_int(reply->element[VIEW_WAITING]);
    out->active = reply_int(reply->element[VIEW_ACTIVE]);
    out->admitted_last_minute = reply_int(reply->element[VIEW_ADMITTED_LAST_MINUTE]);
    out->paused = reply_int(reply->element[VIEW_PAUSED]) != 0;
    out->pre_queue = reply_int(reply->element[VIEW_PRE_QUEUE]);
    out->opens_ms = reply_int(reply->element[VIEW_OPENS]);
    freeReplyObject(reply);
    return QUEUE_OK;
}

queue_rc queue_gauges(int64_t concert_id, struct queue_gauges *out)
{
    struct queue_keys k;
    const char *argv[GAUGE_FIELDS];
    redisReply *reply;

    memset(out, 0, sizeof *out);
    queue_keys_for(concert_id, &k);
    argv[GAUGE_PRE] = k.key[QUEUE_KEY_PRE];
    argv[GAUGE_WAITING] = k.key[QUEUE_KEY_WAITING];
    argv[GAUGE_ACTIVE] = k.key[QUEUE_KEY_ACTIVE];
    argv[GAUGE_ADMISSIONS] = k.key[QUEUE_KEY_ADMISSIONS];
    reply = rds_eval(&lua_queue_gauges, GAUGE_FIELDS, GAUGE_FIELDS, argv);
    if (!reply)
        return QUEUE_REDIS_DOWN;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != GAUGE_FIELDS) {
        freeReplyObject(reply);
        return QUEUE_REDIS_DOWN;
    }
    out->pre_queue = reply_int(reply->element[GAUGE_PRE]);
    out->waiting = reply_int(reply->element[GAUGE_WAITING]);
    out->active = reply_int(reply->element[GAUGE_ACTIVE]);
    out->admissions = reply_int(reply->element[GAUGE_ADMISSIONS]);
    freeReplyObject(reply);
    return QUEUE_OK;
}

queue_rc queue_reload_facts(int64_t concert_id)
{
    struct queue_keys k;

    queue_keys_for(concert_id, &k);
    return queue_fill(concert_id, &k);
}

void queue_forget_concert(int64_t concert_id)
{
    char key[KEYSPACE_CONCERT_KEY_SIZE];
    const char *argv[] = {"DEL", key};
    redisReply *reply;

    keyspace_queue(key, sizeof key, concert_id, QUEUE_KEY_CONF);
    reply = rds_command(2, argv, NULL);
    if (reply)
        freeReplyObject(reply);
}

/* QUEUE_OK with an ACTIVE ticket, QUEUE_TOKEN_INVALID when the token is not
 * simply active (the caller asks the status script), or QUEUE_REDIS_DOWN. */
static queue_rc queue_active(const char *token, struct queue_ticket *t)
{
    char id[QUEUE_TOKEN_ID_MAX + 1];
    int64_t concert_id;
    struct queue_keys k;
    const char *argv[3];
    redisReply *reply;
    queue_rc rc = QUEUE_TOKEN_INVALID;

    if (queue_token_open(token, id, &concert_id) < 0)
        return QUEUE_TOKEN_INVALID;
    queue_keys_for(concert_id, &k);
    argv[0] = k.key[QUEUE_KEY_ACTIVE];
    argv[1] = k.key[QUEUE_KEY_TOKENS];
    argv[2] = id;
    reply = rds_eval(&lua_queue_active, 2, 3, argv);
    if (!reply)
        return QUEUE_REDIS_DOWN;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == ACTIVE_FIELDS &&
        reply->element[ACTIVE_CODE]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[ACTIVE_CODE]->str, "ACTIVE") == 0 &&
        reply->element[ACTIVE_USER]->type == REDIS_REPLY_STRING &&
        reply->element[ACTIVE_USER]->len < sizeof t->user_id &&
        strlen(token) <= QUEUE_TOKEN_MAX) {
        memset(t, 0, sizeof *t);
        memcpy(t->user_id, reply->element[ACTIVE_USER]->str, reply->element[ACTIVE_USER]->len);
        memcpy(t->token, token, strlen(token));
        memcpy(t->id, id, strlen(id) + 1);
        t->concert_id = concert_id;
        t->state = QUEUE_ACTIVE;
        t->expires_ms = reply_int(reply->element[ACTIVE_EXPIRES]);
        rc = QUEUE_OK;
    }
    freeReplyObject(reply);
    return rc;
}

queue_rc queue_check(const char *token, int64_t concert_id, struct queue_ticket *t)
{
    queue_rc rc = queue_active(token, t);

    if (rc == QUEUE_TOKEN_INVALID)
        rc = queue_status(token, t);
    if (rc == QUEUE_OK && concert_id != 0 && t->concert_id != concert_id)
        rc = QUEUE_WRONG_CONCERT;
    if (rc == QUEUE_OK && t->state != QUEUE_ACTIVE)
        rc = QUEUE_NOT_ACTIVE;
    return rc;
}

static struct json_object *iso_time_ms(int64_t ms)
{
    char text[UTC_TEXT_SIZE];

    utc_text((time_t)(ms / 1000), text);
    return json_object_new_string(text);
}

struct json_object *queue_ticket_json(const struct queue_ticket *t)
{
    struct json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    if (json_object_object_add(o, "token", json_object_new_string(t->token)) ||
        json_object_object_add(o, "userId", json_object_new_string(t->user_id)) ||
        json_object_object_add(o, "concertId", json_object_new_int64(t->concert_id)) ||
        json_object_object_add(o, "status", json_object_new_string(t->state == QUEUE_ACTIVE ? "ACTIVE" : "WAITING")) ||
        json_object_object_add(o, "position", t->position < 0 ? NULL : json_object_new_int64(t->position)) ||
        json_object_object_add(o, "estimatedWaitSeconds", json_object_new_int64(t->estimated_wait_s)) ||
        json_object_object_add(o, "expiresAt", t->state == QUEUE_ACTIVE ? iso_time_ms(t->expires_ms) : NULL) ||
        json_object_object_add(o, "opensAt", t->opens_ms > 0 ? iso_time_ms(t->opens_ms) : NULL) ||
        json_object_object_add(o, "pollAfterSeconds", json_object_new_int64(t->poll_after_s))) {
        json_object_put(o);
        return NULL;
    }
    return o;
}
