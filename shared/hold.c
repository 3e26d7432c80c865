/* hold.c - a seat hold as one Redis script (see hold.h): the keys and
 * arguments of shared/lua/hold_take.lua, its answer read, and what it asks
 * for first (the concert's facts, the seat map, the user's bought seats)
 * read from PostgreSQL. */
#include "hold.h"
#include "booking.h"
#include "config.h"
#include "db.h"
#include "keyspace.h"
#include "log.h"
#include "outcome.h"
#include "queue.h"
#include "rds.h"
#include "replica.h"
#include "seatmap.h"
#include "utc.h"
#include "valid.h"

#include <json-c/json.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* shared/lua/hold_take.lua. KEYS: enum take_key, then the seat locks. */
extern struct rds_script lua_hold_take;
/* shared/lua/hold_mine_load.lua. KEYS: {c:C}:mine:S. ARGV: version, then
 * user, count pairs. */
extern struct rds_script lua_hold_mine_load;
enum take_key {
    TAKE_ACTIVE, TAKE_TOKENS, TAKE_CONF, TAKE_MAP, TAKE_HOLDS, TAKE_ENDS, TAKE_SEQ, TAKE_MINE, TAKE_EVENTS,
    TAKE_USERS, TAKE_SHOW_ENDS, TAKE_NKEYS
};
enum take_arg { ARG_TOKEN, ARG_OWNER, ARG_SCHEDULE, ARG_CLOSES, ARG_LIMIT, ARG_NFIXED };
enum held_field { HELD_CODE, HELD_USER, HELD_ID, HELD_UNTIL, HELD_AMOUNT, HELD_CREATED, HELD_FIRST, HELD_FIELDS };

/* The script runs at most this often for one hold: each missing piece
 * (facts, map, bought seats, the id counter) is read once. */
#define TAKE_TRIES 5
/* A show's first holds all find its seat map (or its buyers) missing at
 * once: one process reads it from PostgreSQL, under a claim that lapses
 * after LOAD_CLAIM_MS, and the rest look every LOAD_POLL_MS until it is
 * there (then run the script again), for LOAD_WAIT_MS at most before
 * reading it themselves. 64 readers at once held every hold of the bench's new
 * shows for a quarter of a second. */
#define LOAD_CLAIM_MS "2000"
#define LOAD_POLL_MS 2
#define LOAD_WAIT_MS 300

#define KEYLEN KEYSPACE_CONCERT_KEY_SIZE

/* What the script asked for before it could judge the hold. */
enum need { NEED_NOTHING, NEED_FACTS, NEED_MAP, NEED_MINE, NEED_SEQ };

struct take_call {
    char keys[TAKE_NKEYS + SEATLOCK_MAX][KEYLEN];
    char schedule[24], closes[24], limit[24], nums[SEATLOCK_MAX][16];
    const char *argv[TAKE_NKEYS + SEATLOCK_MAX + ARG_NFIXED + SEATLOCK_MAX];
    int nkeys, argc;
    char version[24];   /* the map's or the mine hash's, when missing */
};

static int reply_text(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING;
}

/* Runs a hold script whose answer is an array led by a word: the reply,
 * or NULL when Redis is away or the answer is not one (logged). */
static redisReply *eval_answer(struct rds_script *script, int nkeys, int argc, const char **argv, const char *what)
{
    redisReply *reply = rds_eval(script, nkeys, argc, argv);

    if (reply && (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || !reply_text(reply->element[0]))) {
        log_error("%s: unexpected reply", what);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* Loads what each buyer of the schedule bought (booking_bought_all) into
 * Redis, unless the hash changed since version: 0, or -1 when PostgreSQL
 * or Redis failed. */
static int load_mine(const char *mine_key, int64_t schedule_id, const char *version)
{
    static const char sql[] = "SELECT user_id, bought FROM booking_bought_all($1::bigint)";
    char schedule[24];
    const char *params[] = {schedule};
    const char **argv;
    PGresult *res;
    redisReply *reply;
    int rows, argc = 0, rc = -1;

    snprintf(schedule, sizeof schedule, "%" PRId64, schedule_id);
    if (db_read(sql, 1, params, &res) != DB_OK)
        return -1;
    rows = PQntuples(res);
    argv = malloc(sizeof *argv * (size_t)(2 + 2 * rows));
    if (!argv) {
        log_error("hold: out of memory loading bought seats");
        PQclear(res);
        return -1;
    }
    argv[argc++] = mine_key;
    argv[argc++] = version;
    for (int i = 0; i < rows; i++) {
        argv[argc++] = PQgetvalue(res, i, 0);
        argv[argc++] = PQgetvalue(res, i, 1);
    }
    reply = rds_eval(&lua_hold_mine_load, 1, argc, argv);
    if (reply) {
        rc = reply->type == REDIS_REPLY_INTEGER ? 0 : -1;
        freeReplyObject(reply);
    }
    free(argv);
    PQclear(res);
    return rc;
}

/* Sets a concert's hold counter that Redis lost (NX: one setter wins) past
 * every id PostgreSQL has of the concert's holds (the paid ones), so no
 * paid hold's id is given again. HOLD_HELD to run the script again, or the
 * refusal. */
static hold_rc seed_seq(const char *seq_key, int64_t concert_id)
{
    static const char sql[] = "SELECT coalesce(max(id) - $1::bigint * 1000000000, 0) FROM reservations"
                              " WHERE id >= $1::bigint * 1000000000 AND id < ($1::bigint + 1) * 1000000000";
    char concert[24];
    const char *params[] = {concert};
    const char *argv[] = {"SET", seq_key, NULL, "NX"};
    redisReply *reply;
    PGresult *res;

    snprintf(concert, sizeof concert, "%" PRId64, concert_id);
    if (db_read(sql, 1, params, &res) != DB_OK)
        return HOLD_NO_BOUGHT;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return HOLD_NO_BOUGHT;
    }
    argv[2] = PQgetvalue(res, 0, 0);
    reply = rds_command(4, argv, NULL);
    PQclear(res);
    if (!reply)
        return HOLD_DOWN;
    freeReplyObject(reply);
    log_info("hold: concert %" PRId64 "'s hold counter was gone: set past PostgreSQL's ids", concert_id);
    return HOLD_HELD;
}

/* One run of the script: its verdict, or (rc HOLD_HELD with *need set) what
 * it needs first. */
static hold_rc take_once(struct take_call *c, struct hold_taken *out, enum need *need)
{
    redisReply *reply = eval_answer(&lua_hold_take, c->nkeys, c->argc, c->argv, "hold_take"), **e;
    const char *w;
    hold_rc rc = HOLD_DOWN;
    size_t n;

    *need = NEED_NOTHING;
    if (!reply)
        return HOLD_DOWN;
    e = reply->element;
    w = e[HELD_CODE]->str;
    n = reply->elements;
    if (n > 1 && reply_text(e[n - 1]) && strcmp(e[n - 1]->str, "LATE") == 0) {
        out->facts_late = 1;
        n--;
    }
    if (strcmp(w, "MISS") == 0) {
        rc = HOLD_TOKEN_MISS;
    } else if (strcmp(w, "NOCONF") == 0) {
        rc = HOLD_HELD, *need = NEED_FACTS;
    } else if ((strcmp(w, "NOMAP") == 0 || strcmp(w, "NOMINE") == 0) && n == 2 &&
               reply_text(e[1]) && strlen(e[1]->str) < sizeof c->version) {
        memcpy(c->version, e[1]->str, strlen(e[1]->str) + 1);
        rc = HOLD_HELD, *need = strcmp(w, "NOMAP") == 0 ? NEED_MAP : NEED_MINE;
    } else if (strcmp(w, "NOSEQ") == 0) {
        rc = HOLD_HELD, *need = NEED_SEQ;
    } else if (strcmp(w, "CLOSED") == 0) {
        rc = HOLD_CLOSED;
    } else if (strcmp(w, "LIMIT") == 0 && n == 2 && e[1]->type == REDIS_REPLY_INTEGER) {
        out->have = e[1]->integer;
        rc = HOLD_LIMIT;
    } else if (strcmp(w, "BUSY") == 0 && n == 2 && reply_text(e[1]) &&
               strlen(e[1]->str) < sizeof out->busy) {
        memcpy(out->busy, e[1]->str, strlen(e[1]->str) + 1);
        rc = HOLD_BUSY;
    } else if (strcmp(w, "HELD") == 0 && n == HELD_FIELDS && reply_text(e[HELD_USER]) &&
               valid_uuid(e[HELD_USER]->str) && reply_text(e[HELD_ID]) &&
               valid_id(e[HELD_ID]->str, &out->id) == 0 && reply_text(e[HELD_UNTIL]) &&
               valid_id(e[HELD_UNTIL]->str, &out->until_ms) == 0 && reply_text(e[HELD_AMOUNT]) &&
               (strcmp(e[HELD_AMOUNT]->str, "0") == 0 ? (out->amount = 0, 1)
                                                      : valid_id(e[HELD_AMOUNT]->str, &out->amount) == 0) &&
               reply_text(e[HELD_CREATED]) && valid_id(e[HELD_CREATED]->str, &out->created_ms) == 0 &&
               reply_text(e[HELD_FIRST])) {
        memcpy(out->user_id, e[HELD_USER]->str, 37);
        out->first_of_concert = strcmp(e[HELD_FIRST]->str, "1") == 0;
        rc = HOLD_HELD;
    } else {
        log_error("hold_take: unexpected answer %s", w);
    }
    freeReplyObject(reply);
    return rc;
}

/* Reads what the script needed from PostgreSQL into Redis (or the call's
 * arguments). HOLD_HELD to run it again, else the refusal to answer. */
static hold_rc fetch(struct take_call *c, const struct hold_show *show, enum need need)
{
    queue_rc qrc;
    int64_t owner;
    char *seats;
    db_rc rc;

    switch (need) {
    case NEED_FACTS:
        qrc = queue_reload_facts(show->concert_id);
        return qrc == QUEUE_OK ? HOLD_HELD : qrc == QUEUE_REDIS_DOWN ? HOLD_DOWN : HOLD_NO_FACTS;
    case NEED_MAP:
        rc = seatmap_load(show->concert_id, show->schedule_id, c->version, &owner, &seats);
        if (rc != DB_OK)
            return HOLD_NO_MAP;
        if (!seats)
            return owner == show->concert_id ? HOLD_DOWN : HOLD_NO_MAP;
        free(seats);
        return HOLD_HELD;
    case NEED_MINE:
        return load_mine(c->keys[TAKE_MINE], show->schedule_id, c->version) < 0 ? HOLD_NO_BOUGHT : HOLD_HELD;
    case NEED_SEQ:
        return seed_seq(c->keys[TAKE_SEQ], show->concert_id);
    default:
        return HOLD_DOWN;
    }
}

void hold_refresh_facts(int64_t concert_id)
{
    if (queue_reload_facts(concert_id) != QUEUE_OK)
        log_error("hold: concert %" PRId64 "'s facts could not be read again", concert_id);
}

/* Adds concert_id to the concerts user_id has held seats of, where the
 * reservation list looks for their holds: once, at the user's first hold
 * of the concert (a SADD a hold would cost a third of its time). A
 * failure is logged: the holds stand, can be paid and end with a logout,
 * but the list misses them until Redis loses the concert's holds. */
static void note_concert(const char *user_id, int64_t concert_id)
{
    char key[KEYLEN], concert[24];
    const char *argv[] = {"SADD", key, concert};
    redisReply *reply;

    keyspace_hold_concerts(key, sizeof key, user_id);
    snprintf(concert, sizeof concert, "%" PRId64, concert_id);
    reply = rds_command(3, argv, NULL);
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        log_error("hold: the user's concerts were not told of a hold (the reservation list misses it)");
    if (reply)
        freeReplyObject(reply);
}

/* Names the concert's reservation stream to the relay (a first hold, or the
 * first since Redis lost its data), before the hold is answered: the relay
 * then copies its events before any change made after it. A failure is
 * logged: the relay finds the stream from the concerts within a second. */
static void note_stream(const char *events_key)
{
    const char *argv[] = {"SADD", KEYSPACE_HOLD_STREAMS, events_key};
    redisReply *reply = rds_command(3, argv, NULL);

    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        log_error("hold: the relay was not told of a concert's reservation stream (it finds it within a second)");
    if (reply)
        freeReplyObject(reply);
}

/* 1 when this process may read key (a map or mine hash of concert_id) from
 * PostgreSQL, 0 when another one is reading it. Redis away: 1 (the read
 * then fails on its own). */
static int claim_load(int64_t concert_id, const char *key)
{
    char claim[KEYLEN];
    const char *argv[] = {"SET", claim, "1", "NX", "PX", LOAD_CLAIM_MS};
    redisReply *reply;
    int won;

    keyspace_loading(claim, sizeof claim, concert_id, key);
    reply = rds_command(6, argv, NULL);
    won = !reply || reply->type != REDIS_REPLY_NIL;
    if (reply)
        freeReplyObject(reply);
    return won;
}

/* The claim given up once the key is loaded, so that a later miss (a map
 * dropped by a change) does not wait for a load nobody makes. */
static void release_load(int64_t concert_id, const char *key)
{
    char claim[KEYLEN];
    const char *del[] = {"DEL", claim};
    const char **commands[] = {del};
    const int argc[] = {2};

    keyspace_loading(claim, sizeof claim, concert_id, key);
    (void)rds_pipeline_ok(1, argc, commands);   /* not given up: it lapses by itself */
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

/* Waits, LOAD_POLL_MS at a time, until key (a map or mine hash) is complete
 * (its "_ok" field) or *waited_ms reaches LOAD_WAIT_MS: one cheap command a
 * look, not the hold's script (64 waiters ran it 500 times a show). */
static void wait_loaded(const char *key, int *waited_ms)
{
    const char *argv[] = {"HEXISTS", key, "_ok"};

    while (*waited_ms < LOAD_WAIT_MS) {
        redisReply *reply;
        int done;

        sleep_ms(LOAD_POLL_MS);
        *waited_ms += LOAD_POLL_MS;
        reply = rds_command(3, argv, NULL);
        done = !reply || (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1);
        if (reply)
            freeReplyObject(reply);
        if (done)
            return;
    }
}

hold_rc hold_take(const char *token, const struct hold_show *show, const int *seats, int n, const char *owner,
                  struct hold_taken *out)
{
    int waited_ms = 0;
    struct take_call c;
    enum need need;
    hold_rc rc = HOLD_DOWN;
    int seeded = 0;

    memset(out, 0, sizeof *out);
    if (n < 1 || n > SEATLOCK_MAX)
        return HOLD_BUSY;
    keyspace_queue(c.keys[TAKE_ACTIVE], KEYLEN, show->concert_id, QUEUE_KEY_ACTIVE);
    keyspace_queue(c.keys[TAKE_TOKENS], KEYLEN, show->concert_id, QUEUE_KEY_TOKENS);
    keyspace_queue(c.keys[TAKE_CONF], KEYLEN, show->concert_id, QUEUE_KEY_CONF);
    keyspace_seatmap(c.keys[TAKE_MAP], KEYLEN, show->concert_id, show->schedule_id);
    keyspace_hold(c.keys[TAKE_HOLDS], KEYLEN, show->concert_id, HOLD_KEY_HOLDS);
    keyspace_hold(c.keys[TAKE_ENDS], KEYLEN, show->concert_id, HOLD_KEY_ENDS);
    keyspace_hold(c.keys[TAKE_SEQ], KEYLEN, show->concert_id, HOLD_KEY_SEQ);
    keyspace_hold_mine(c.keys[TAKE_MINE], KEYLEN, show->concert_id, show->schedule_id);
    keyspace_hold(c.keys[TAKE_EVENTS], KEYLEN, show->concert_id, HOLD_KEY_EVENTS);
    keyspace_hold(c.keys[TAKE_USERS], KEYLEN, show->concert_id, HOLD_KEY_USERS);
    keyspace_hold_show_ends(c.keys[TAKE_SHOW_ENDS], KEYLEN, show->concert_id, show->schedule_id);
    for (int i = 0; i < n; i++)
        keyspace_seat_lock(c.keys[TAKE_NKEYS + i], KEYLEN, show->concert_id, show->schedule_id, seats[i]);
    c.nkeys = TAKE_NKEYS + n;
    for (int i = 0; i < c.nkeys; i++)
        c.argv[i] = c.keys[i];
    snprintf(c.schedule, sizeof c.schedule, "%" PRId64, show->schedule_id);
    snprintf(c.closes, sizeof c.closes, "%" PRId64, show->closes_ms);
    snprintf(c.limit, sizeof c.limit, "%d", SEATS_PER_USER_MAX);
    c.argc = c.nkeys;
    c.argv[c.argc + ARG_TOKEN] = token;
    c.argv[c.argc + ARG_OWNER] = owner;
    c.argv[c.argc + ARG_SCHEDULE] = c.schedule;
    c.argv[c.argc + ARG_CLOSES] = c.closes;
    c.argv[c.argc + ARG_LIMIT] = c.limit;
    c.argc += ARG_NFIXED;
    for (int i = 0; i < n; i++) {
        snprintf(c.nums[i], sizeof c.nums[i], "%d", seats[i]);
        c.argv[c.argc++] = c.nums[i];
    }
    for (int tries = 0; tries < TAKE_TRIES; tries++) {
        rc = take_once(&c, out, &need);
        if (rc == HOLD_HELD && need == NEED_NOTHING) {
            /* Several hosts: a hold is answered once a replica has it too,
             * so a failover rarely loses one (not in time, it still stands).
             * The WAIT goes to the node of the last command, so it comes
             * first: the notes below may live on other shards. */
            if (g_config.hold_replica_wait_ms > 0)
                replica_wait(g_config.hold_replica_wait_ms, "a hold");
            if (seeded || out->id % HOLD_ID_SPAN == 1)
                note_stream(c.keys[TAKE_EVENTS]);
            if (out->first_of_concert)
                note_concert(out->user_id, show->concert_id);
        }
        if (need == NEED_NOTHING)
            return rc;
        seeded |= need == NEED_SEQ;
        if (need == NEED_MAP || need == NEED_MINE) {
            const char *key = c.keys[need == NEED_MAP ? TAKE_MAP : TAKE_MINE];

            if (waited_ms < LOAD_WAIT_MS && !claim_load(show->concert_id, key)) {
                wait_loaded(key, &waited_ms);
                tries--;   /* a wait is not a try */
                continue;
            }
            rc = fetch(&c, show, need);
            release_load(show->concert_id, key);
        } else {
            rc = fetch(&c, show, need);
        }
        if (rc != HOLD_HELD)
            return rc;
    }
    log_error("hold_take: still missing a piece after %d runs", TAKE_TRIES);
    return HOLD_DOWN;
}

/* --- A hold's record, and its cancellation ------------------------------- */

/* shared/lua/hold_cancel.lua. KEYS: enum cancel_key, then the seat locks.
 * ARGV: id, the record as read, user, the token's concert. */
extern struct rds_script lua_hold_cancel;
enum cancel_key { CANCEL_HOLDS, CANCEL_ENDS, CANCEL_MINE, CANCEL_MAP, CANCEL_EVENTS, CANCEL_NKEYS };

/* A cancellation whose record moved under it reads it again this often. */
#define CANCEL_TRIES 3

/* The next sep-separated field of *p into out (cap bytes): 0, or -1 (*p
 * then past it all the same). */
static int next_field_sep(const char **p, char sep, char *out, size_t cap)
{
    const char *bar = strchr(*p, sep);
    size_t len = bar ? (size_t)(bar - *p) : strlen(*p);

    if (len >= cap) {
        *p += len + (bar ? 1 : 0);
        return -1;
    }
    memcpy(out, *p, len);
    out[len] = '\0';
    *p += len + (bar ? 1 : 0);
    return 0;
}

/* The next '|'-separated field of a record. */
static int next_field(const char **p, char *out, size_t cap)
{
    return next_field_sep(p, '|', out, cap);
}

static int read_count(const char *text, int64_t *out)
{
    if (strcmp(text, "0") == 0) {
        *out = 0;
        return 0;
    }
    return valid_id(text, out);
}

int hold_record_parse(const char *text, int64_t id, struct hold_record *out)
{
    char f[8][64];
    const char *p = text;
    char *end;
    const char *s;

    memset(out, 0, sizeof *out);
    for (int i = 0; i < 8; i++)
        if (!p || next_field(&p, f[i], sizeof f[i]) < 0)
            return -1;
    if (*p || !valid_uuid(f[0]) || valid_id(f[1], &out->schedule_id) < 0 || read_count(f[3], &out->amount) < 0 ||
        valid_id(f[4], &out->ends_ms) < 0 || strlen(f[5]) >= sizeof out->owner || strlen(f[6]) >= sizeof out->status ||
        valid_id(f[7], &out->created_ms) < 0)
        return -1;
    for (s = f[2]; *s && out->n < SEATLOCK_MAX; s = *end == ',' ? end + 1 : end) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > INT32_MAX)
            return -1;
        out->seats[out->n++] = (int)v;
    }
    if (*s || out->n < 1)
        return -1;
    memcpy(out->user_id, f[0], 37);
    strcpy(out->owner, f[5]);
    strcpy(out->status, f[6]);
    out->id = id;
    out->concert_id = id / HOLD_ID_SPAN;
    return 0;
}

struct json_object *hold_record_json(const struct hold_record *rec, int64_t now_ms)
{
    struct json_object *o = json_object_new_object(), *nos = json_object_new_array();
    char ends[UTC_TEXT_SIZE];
    const char *status = rec->status;

    if (!o || !nos) {
        json_object_put(o);
        json_object_put(nos);
        return NULL;
    }
    if (strcmp(status, "HELD") == 0 && rec->ends_ms <= now_ms)
        status = "EXPIRED";
    else if (strcmp(status, "PAID") == 0)
        status = "CONFIRMED";
    for (int i = 0; i < rec->n; i++)
        json_object_array_add(nos, json_object_new_int(rec->seats[i]));
    utc_text((time_t)(rec->ends_ms / 1000), ends);
    json_object_object_add(o, "reservationId", json_object_new_int64(rec->id));
    json_object_object_add(o, "concertId", json_object_new_int64(rec->concert_id));
    json_object_object_add(o, "scheduleId", json_object_new_int64(rec->schedule_id));
    json_object_object_add(o, "seatNos", nos);
    json_object_object_add(o, "amount", json_object_new_int64(rec->amount));
    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "expiresAt", json_object_new_string(ends));
    json_object_object_add(o, "paidAt", NULL);
    return o;
}

/* The record of hold id as Redis has it now: 1 and out, 0 when there is
 * none (or it cannot be read), -1 when Redis is away. */
static int read_record(int64_t id, char *holds_key, char *text, size_t cap, struct hold_record *out)
{
    char idtext[24];
    const char *argv[] = {"HGET", holds_key, idtext};
    redisReply *reply;
    int found = 0;

    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    reply = rds_command(3, argv, NULL);
    if (!reply)
        return -1;
    if (reply_text(reply) && strlen(reply->str) < cap && hold_record_parse(reply->str, id, out) == 0) {
        memcpy(text, reply->str, strlen(reply->str) + 1);
        found = 1;
    }
    freeReplyObject(reply);
    return found;
}

const char *hold_cancel(int64_t token_concert, const char *user_id, int64_t id, struct hold_record *out)
{
    static const char *const words[] = {"cancelled", "reservation_not_found", "wrong_concert", "already_paid",
                                        "hold_expired", NULL};
    char keys[CANCEL_NKEYS + SEATLOCK_MAX][KEYLEN], text[512], idtext[24], concert[24];
    const char *argv[CANCEL_NKEYS + SEATLOCK_MAX + 4];
    int64_t owner_concert = id / HOLD_ID_SPAN;

    keyspace_hold(keys[CANCEL_HOLDS], KEYLEN, owner_concert, HOLD_KEY_HOLDS);
    keyspace_hold(keys[CANCEL_ENDS], KEYLEN, owner_concert, HOLD_KEY_ENDS);
    keyspace_hold(keys[CANCEL_EVENTS], KEYLEN, owner_concert, HOLD_KEY_EVENTS);
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    snprintf(concert, sizeof concert, "%" PRId64, token_concert);
    for (int tries = 0; tries < CANCEL_TRIES; tries++) {
        redisReply *reply;
        const char *word = NULL;
        int found = read_record(id, keys[CANCEL_HOLDS], text, sizeof text, out), argc = 0;

        if (found < 0)
            return NULL;
        if (found == 0)
            return "reservation_not_found";
        keyspace_hold_mine(keys[CANCEL_MINE], KEYLEN, owner_concert, out->schedule_id);
        keyspace_seatmap(keys[CANCEL_MAP], KEYLEN, owner_concert, out->schedule_id);
        for (int i = 0; i < out->n; i++)
            keyspace_seat_lock(keys[CANCEL_NKEYS + i], KEYLEN, owner_concert, out->schedule_id, out->seats[i]);
        for (int i = 0; i < CANCEL_NKEYS + out->n; i++)
            argv[argc++] = keys[i];
        argv[argc++] = idtext;
        argv[argc++] = text;
        argv[argc++] = user_id;
        argv[argc++] = concert;
        reply = rds_eval(&lua_hold_cancel, CANCEL_NKEYS + out->n, argc, argv);
        if (!reply)
            return NULL;
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 && reply_text(reply->element[0])) {
            for (int i = 0; words[i]; i++)
                if (strcmp(reply->element[0]->str, words[i]) == 0)
                    word = words[i];
            if (strcmp(reply->element[0]->str, "already_cancelled") == 0)
                word = "cancelled";
            if (word == words[0] && (reply->elements != 2 || !reply_text(reply->element[1]) ||
                                     hold_record_parse(reply->element[1]->str, id, out) < 0))
                word = NULL;
        }
        if (!word && !(reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
                       reply_text(reply->element[0]) && strcmp(reply->element[0]->str, "AGAIN") == 0)) {
            log_error("hold_cancel: unexpected reply");
            freeReplyObject(reply);
            return NULL;
        }
        freeReplyObject(reply);
        if (word)
            return word;
    }
    log_error("hold_cancel: the hold kept changing");
    return NULL;
}

/* --- Payment -------------------------------------------------------------- */

/* shared/lua/hold_pay_begin.lua (KEYS: holds; ARGV: id, user, the token's
 * concert, lease) and hold_pay_end.lua (KEYS: enum pay_end_key, then the
 * seat locks; ARGV: id, 'paid' or 'refused'). */
extern struct rds_script lua_hold_pay_begin, lua_hold_pay_end;
enum pay_end_key { END_HOLDS, END_ENDS, END_MINE, END_MAP, END_NKEYS };

/* The words hold_pay_begin.lua may refuse with. */
static const char *refusal_word(const char *w)
{
    static const char *const words[] = {"reservation_not_found", "wrong_concert", "already_paid",
                                        "already_cancelled", "hold_expired", NULL};

    for (int i = 0; words[i]; i++)
        if (strcmp(w, words[i]) == 0)
            return words[i];
    return NULL;
}

/* Tells Redis how the payment of rec ended. A failure is logged: the mark
 * runs out by itself, and a paid hold's seats are SOLD in PostgreSQL,
 * which the seat map learns on its next load. */
static void pay_end(const struct hold_record *rec, const char *how)
{
    char keys[END_NKEYS + SEATLOCK_MAX][KEYLEN], idtext[24];
    const char *argv[END_NKEYS + SEATLOCK_MAX + 2];
    redisReply *reply;
    int argc = 0;

    keyspace_hold(keys[END_HOLDS], KEYLEN, rec->concert_id, HOLD_KEY_HOLDS);
    keyspace_hold(keys[END_ENDS], KEYLEN, rec->concert_id, HOLD_KEY_ENDS);
    keyspace_hold_mine(keys[END_MINE], KEYLEN, rec->concert_id, rec->schedule_id);
    keyspace_seatmap(keys[END_MAP], KEYLEN, rec->concert_id, rec->schedule_id);
    for (int i = 0; i < rec->n; i++)
        keyspace_seat_lock(keys[END_NKEYS + i], KEYLEN, rec->concert_id, rec->schedule_id, rec->seats[i]);
    for (int i = 0; i < END_NKEYS + rec->n; i++)
        argv[argc++] = keys[i];
    snprintf(idtext, sizeof idtext, "%" PRId64, rec->id);
    argv[argc++] = idtext;
    argv[argc++] = how;
    reply = rds_eval(&lua_hold_pay_end, END_NKEYS + rec->n, argc, argv);
    if (!reply)
        log_error("hold_pay: Redis was not told the payment's end (its mark runs out by itself)");
    else
        freeReplyObject(reply);
}

/* PostgreSQL's answer to a payment of id it may know (booking_pay, with
 * the token and key): a reservation PostgreSQL keeps (a paid Redis hold),
 * the key's earlier use (its stored answer, 422 for another reservation;
 * a concurrent repeat waits for the first), or reservation_not_found,
 * changing nothing. */
static db_rc pay_in_postgres(int64_t token_concert, const char *user_id, int64_t id, const char *token,
                             const char *key, PGresult **res)
{
    static const char sql[] = "SELECT * FROM booking_pay($1::uuid, $2::bigint, $3::bigint, $4, $5)";
    char concert[24], idtext[24];
    const char *params[] = {user_id, concert, idtext, token, key};

    snprintf(concert, sizeof concert, "%" PRId64, token_concert);
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    return db_query(sql, 5, params, res);
}

/* Redis refused a payment with word: PostgreSQL speaks first when it may
 * know better (Redis has no hold of the id, or a key was given: the key's
 * earlier use comes before the reservation's state). */
static db_rc pay_refused(int64_t token_concert, const char *user_id, int64_t id, const char *token,
                         const char *key, const char **refusal, PGresult **res)
{
    const char *w;
    db_rc rc;

    if (!key && strcmp(*refusal, "reservation_not_found") != 0)
        return DB_OK;
    rc = pay_in_postgres(token_concert, user_id, id, token, key, res);
    w = outcome_word(rc, *res);
    if (strcmp(*refusal, "reservation_not_found") == 0 ||
        (w && (strcmp(w, "paid") == 0 || strcmp(w, "key_reused") == 0)) || rc != DB_OK) {
        *refusal = NULL;
        return rc;
    }
    PQclear(*res);
    *res = NULL;
    return DB_OK;
}

db_rc hold_pay(int64_t token_concert, const char *user_id, int64_t id, const char *token, const char *key,
               const char **refusal, PGresult **res)
{
    static const char sql[] = "SELECT * FROM booking_pay_hold($1::uuid, $2::bigint, $3::bigint, $4, $5,"
                              " $6::bigint, $7::integer[], $8::bigint, $9::bigint, $10::bigint)";
    char holds[KEYLEN], idtext[24], concert[24], lease[24], schedule[24], seats[96], amount[24], ends[24],
        created[24];
    const char *argv[] = {holds, idtext, user_id, concert, lease};
    const char *params[10];
    struct hold_record rec;
    redisReply *reply;
    const char *w;
    int paying;
    db_rc rc;

    *refusal = NULL;
    *res = NULL;
    keyspace_hold(holds, KEYLEN, id / HOLD_ID_SPAN, HOLD_KEY_HOLDS);
    snprintf(idtext, sizeof idtext, "%" PRId64, id);
    snprintf(concert, sizeof concert, "%" PRId64, token_concert);
    snprintf(lease, sizeof lease, "%d", HOLD_PAY_LEASE_MS);
    reply = eval_answer(&lua_hold_pay_begin, 1, 5, argv, "hold_pay");
    if (!reply)
        return DB_UNAVAILABLE;
    w = reply->element[0]->str;
    /* Another payment of it is on its way: without a key, already paid;
     * with one, this repeat pays too, by the hold's facts, and PostgreSQL's
     * key claim makes one of them wait and replay the other's answer. */
    paying = strcmp(w, "PAYING") == 0;
    if (paying && !key) {
        freeReplyObject(reply);
        *refusal = "already_paid";
        return DB_OK;
    }
    if (strcmp(w, "PAY") != 0 && !paying) {
        *refusal = refusal_word(w);
        freeReplyObject(reply);
        if (!*refusal)
            return DB_UNAVAILABLE;
        return pay_refused(token_concert, user_id, id, token, key, refusal, res);
    }
    if (reply->elements != 2 || !reply_text(reply->element[1]) ||
        hold_record_parse(reply->element[1]->str, id, &rec) < 0) {
        log_error("hold_pay: the hold's record cannot be read");
        freeReplyObject(reply);
        return DB_UNAVAILABLE;
    }
    freeReplyObject(reply);

    if (booking_array_text(rec.seats, rec.n, seats, sizeof seats) < 0) {
        pay_end(&rec, "refused");
        return DB_FAILED;
    }
    snprintf(schedule, sizeof schedule, "%" PRId64, rec.schedule_id);
    snprintf(amount, sizeof amount, "%" PRId64, rec.amount);
    snprintf(ends, sizeof ends, "%" PRId64, rec.ends_ms);
    snprintf(created, sizeof created, "%" PRId64, rec.created_ms);
    params[0] = user_id;
    params[1] = concert;
    params[2] = idtext;
    params[3] = token;
    params[4] = key;
    params[5] = schedule;
    params[6] = seats;
    params[7] = amount;
    params[8] = ends;
    params[9] = created;
    rc = db_query(sql, 10, params, res);
    w = outcome_word(rc, *res);
    if (w && strcmp(w, "paid") == 0)
        pay_end(&rec, "paid");
    else if (rc != DB_UNKNOWN && !paying)
        pay_end(&rec, "refused");   /* the other payment's mark is its own */
    return rc;
}

/* --- Expiry ------------------------------------------------------------- */

/* shared/lua/hold_sweep.lua. KEYS: holds, their ends, the stream. ARGV:
 * how many at most. Answers {expired, left}. */
extern struct rds_script lua_hold_sweep;

int hold_sweep(int64_t concert_id, int max, int64_t *expired)
{
    char holds[KEYLEN], ends[KEYLEN], events[KEYLEN], maxtext[16];
    const char *argv[] = {holds, ends, events, maxtext};
    redisReply *reply;
    int rc = -1;

    *expired = 0;
    keyspace_hold(holds, KEYLEN, concert_id, HOLD_KEY_HOLDS);
    keyspace_hold(ends, KEYLEN, concert_id, HOLD_KEY_ENDS);
    keyspace_hold(events, KEYLEN, concert_id, HOLD_KEY_EVENTS);
    snprintf(maxtext, sizeof maxtext, "%d", max);
    reply = rds_eval(&lua_hold_sweep, 3, 4, argv);
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_INTEGER &&
        reply->element[1]->type == REDIS_REPLY_INTEGER) {
        *expired = reply->element[0]->integer;
        rc = reply->element[1]->integer > 0;
    } else {
        log_error("hold_sweep: unexpected reply");
    }
    freeReplyObject(reply);
    return rc;
}

/* --- A user's holds: the reservation list, a logout --------------------- */

/* The ids user_id holds (held) of concert_id, newest first, as
 * {c:C}:user-holds keeps them: a malloc'd "id,id,..." ("" none), or NULL
 * when Redis is away or memory ran out. */
static char *user_hold_ids(int64_t concert_id, const char *user_id)
{
    char key[KEYLEN];
    const char *argv[] = {"HGET", key, user_id};
    redisReply *reply;
    char *ids;

    keyspace_hold(key, sizeof key, concert_id, HOLD_KEY_USERS);
    reply = rds_command(3, argv, NULL);
    if (!reply)
        return NULL;
    ids = strdup(reply_text(reply) ? reply->str : "");
    freeReplyObject(reply);
    if (!ids)
        log_error("hold: out of memory reading a user's holds");
    return ids;
}

/* Appends the records of ids (user_hold_ids) of concert_id to *list (one
 * HMGET). Returns 0, or -1 when Redis is away or memory ran out. */
static int read_records(int64_t concert_id, const char *ids, struct hold_list *list)
{
    char key[KEYLEN];
    const char **argv;
    int64_t *idv;
    redisReply *reply = NULL;
    int n = 0, rc = -1;
    size_t commas = 1;

    for (const char *p = ids; *p; p++)
        commas += *p == ',';
    argv = malloc(sizeof *argv * (commas + 2));
    idv = malloc(sizeof *idv * commas);
    if (!argv || !idv)
        goto out;
    keyspace_hold(key, sizeof key, concert_id, HOLD_KEY_HOLDS);
    argv[0] = "HMGET";
    argv[1] = key;
    for (const char *p = ids; *p;) {
        char one[24];

        if (next_field_sep(&p, ',', one, sizeof one) < 0 || valid_id(one, &idv[n]) < 0)
            continue;
        n++;
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    {
        char (*texts)[24] = malloc(sizeof *texts * (size_t)n);

        if (!texts)
            goto out;
        for (int i = 0; i < n; i++) {
            snprintf(texts[i], sizeof texts[i], "%" PRId64, idv[i]);
            argv[2 + i] = texts[i];
        }
        reply = rds_command(2 + n, argv, NULL);
        free(texts);
    }
    if (!reply)
        goto out;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == (size_t)n) {
        struct hold_record *bigger = realloc(list->recs, sizeof *bigger * (list->n + (size_t)n));

        if (bigger) {
            list->recs = bigger;
            for (int i = 0; i < n; i++)
                if (reply_text(reply->element[i]) &&
                    hold_record_parse(reply->element[i]->str, idv[i], &list->recs[list->n]) == 0)
                    list->n++;
            rc = 0;
        }
    } else {
        log_error("hold: unexpected reply reading a user's holds");
    }
    freeReplyObject(reply);
out:
    if (rc < 0 && (!argv || !idv))
        log_error("hold: out of memory reading a user's holds");
    free(argv);
    free(idv);
    return rc;
}

static int newer_first(const void *a, const void *b)
{
    const struct hold_record *x = a, *y = b;

    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? 1 : -1;
    return (x->id < y->id) - (x->id > y->id);
}

int hold_user_list(const char *user_id, struct hold_list *list)
{
    char key[KEYLEN];
    const char *argv[] = {"SMEMBERS", key};
    redisReply *reply;
    int rc = 0;

    list->recs = NULL;
    list->n = 0;
    keyspace_hold_concerts(key, sizeof key, user_id);
    reply = rds_command(2, argv, NULL);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_error("hold: unexpected reply listing a user's concerts");
        freeReplyObject(reply);
        return -1;
    }
    for (size_t i = 0; i < reply->elements && rc == 0; i++) {
        int64_t concert_id;
        char *ids;

        if (!reply_text(reply->element[i]) || valid_id(reply->element[i]->str, &concert_id) < 0)
            continue;
        ids = user_hold_ids(concert_id, user_id);
        rc = ids ? read_records(concert_id, ids, list) : -1;
        free(ids);
    }
    freeReplyObject(reply);
    if (rc < 0) {
        hold_list_free(list);
        return -1;
    }
    if (list->n > 1)
        qsort(list->recs, list->n, sizeof *list->recs, newer_first);
    return 0;
}

void hold_list_free(struct hold_list *list)
{
    free(list->recs);
    list->recs = NULL;
    list->n = 0;
}

int hold_cancel_user(int64_t concert_id, const char *user_id, int64_t now_ms)
{
    struct hold_list list = {NULL, 0};
    char *ids = user_hold_ids(concert_id, user_id);
    int rc = ids ? read_records(concert_id, ids, &list) : -1;

    free(ids);
    for (size_t i = 0; rc == 0 && i < list.n; i++) {
        struct hold_record rec;

        if (strcmp(list.recs[i].status, "HELD") != 0 || list.recs[i].ends_ms <= now_ms)
            continue;   /* ended already: nothing to give back */
        if (!hold_cancel(concert_id, user_id, list.recs[i].id, &rec))
            rc = -1;
    }
    hold_list_free(&list);
    return rc;
}

/* shared/lua/hold_lock_live.lua. KEYS: holds, their ends, the show's by
 * end, the show's map. ARGV: schedule, seat, owner. */
extern struct rds_script lua_hold_lock_live;

int hold_lock_live(int64_t concert_id, int64_t schedule_id, int seat_no, const char *owner)
{
    char holds[KEYLEN], ends[KEYLEN], show_ends[KEYLEN], map[KEYLEN], schedule[24], seat[16];
    const char *argv[] = {holds, ends, show_ends, map, schedule, seat, owner};
    redisReply *reply;
    int rc = -1;

    keyspace_hold(holds, KEYLEN, concert_id, HOLD_KEY_HOLDS);
    keyspace_hold(ends, KEYLEN, concert_id, HOLD_KEY_ENDS);
    keyspace_hold_show_ends(show_ends, KEYLEN, concert_id, schedule_id);
    keyspace_seatmap(map, KEYLEN, concert_id, schedule_id);
    snprintf(schedule, sizeof schedule, "%" PRId64, schedule_id);
    snprintf(seat, sizeof seat, "%d", seat_no);
    reply = rds_eval(&lua_hold_lock_live, 4, 7, argv);
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        rc = reply->integer == 1;
    else
        log_error("hold_lock_live: unexpected reply");
    freeReplyObject(reply);
    return rc;
}

void hold_bought_changed(int64_t concert_id, int64_t schedule_id)
{
    char key[KEYLEN];
    const char *argv[] = {"HDEL", key, "_ok"};
    redisReply *reply;

    keyspace_hold_mine(key, sizeof key, concert_id, schedule_id);
    reply = rds_command(3, argv, NULL);
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        log_error("hold: the per-user counts were not told of a sale (they count it at their next load)");
    if (reply)
        freeReplyObject(reply);
}
