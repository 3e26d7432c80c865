/* seatlock.c - the Redis seat locks' C front; their scripts are
 * shared/lua/seatlock_*.lua (see seatlock.h). */
#include "seatlock.h"
#include "keyspace.h"
#include "log.h"
#include "queue.h"
#include "rds.h"
#include "valid.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEATLOCK_KEYLEN KEYSPACE_CONCERT_KEY_SIZE
#define SEATLOCK_NUMLEN 24

/* shared/lua/seatlock_take.lua: checks the token and takes the locks, all
 * or nothing, refusing a seat the seat map reads SOLD. KEYS: enum take_key,
 * then the seat locks. ARGV: token id, owner, seat numbers. Answers
 * {'TAKEN', userId}, {'BUSY'}, {'MISS'} (the token is not simply ACTIVE) or
 * {'NOCONF'} (the hold length is not cached, or a second old). */
extern struct rds_script lua_seatlock_take;
enum take_key { TAKE_ACTIVE, TAKE_TOKENS, TAKE_CONF, TAKE_MAP, TAKE_NKEYS };
enum take_field { TAKE_CODE, TAKE_USER, TAKE_FIELDS };

/* shared/lua/seatlock_release.lua: gives back the locks still owner's.
 * KEYS: seat locks. ARGV: owner. */
extern struct rds_script lua_seatlock_release;

/* Key and argument texts for one call: SEATLOCK_MAX seat keys, then owner
 * and up to SEATLOCK_MAX seat numbers. */
struct seatlock_args {
    char key[SEATLOCK_MAX][SEATLOCK_KEYLEN];
    char num[SEATLOCK_MAX][SEATLOCK_NUMLEN];
    const char *argv[SEATLOCK_MAX + 1 + SEATLOCK_MAX];
    int nkeys, argc;
};

static int seatlock_keys(struct seatlock_args *a, int64_t concert_id, int64_t schedule_id,
                         const int *seats, int n)
{
    if (n < 1 || n > SEATLOCK_MAX)
        return -1;
    for (int i = 0; i < n; i++) {
        keyspace_seat_lock(a->key[i], SEATLOCK_KEYLEN, concert_id, schedule_id, seats[i]);
        a->argv[i] = a->key[i];
    }
    a->nkeys = n;
    a->argc = a->nkeys;
    return 0;
}

/* One run of the take script, and its verdict. */
static seatlock_rc take_once(int argc, const char **argv, int nkeys, int64_t concert_id, int64_t schedule_id,
                             const int *seats, int n, const char *owner, char *user_id)
{
    redisReply *reply, *word;
    const char *w;
    seatlock_rc rc = SEATLOCK_DOWN;

    reply = rds_eval(&lua_seatlock_take, nkeys, argc, argv);
    if (!reply) {
        /* The take may have run, or may yet run on a slow Redis, but the
         * hold will not go on: give back whatever it took under this owner,
         * which nobody else knows. Sent after the take, so a Redis that runs
         * both runs it after the take; if this fails too, the locks run out
         * by themselves. */
        if (rds_reply_lost() && seatlock_release(concert_id, schedule_id, seats, n, owner) < 0)
            log_error("seatlock_take: could not give back the locks of an unanswered take");
        return SEATLOCK_DOWN;
    }
    word = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 ? reply->element[TAKE_CODE] : NULL;
    if (!word || word->type != REDIS_REPLY_STRING) {
        log_error("seatlock_take: unexpected reply");
        freeReplyObject(reply);
        return SEATLOCK_DOWN;
    }
    w = word->str;
    if (strcmp(w, "MISS") == 0) {
        rc = SEATLOCK_TOKEN_MISS;
    } else if (strcmp(w, "NOCONF") == 0) {
        rc = SEATLOCK_NO_FACTS;
    } else if (strcmp(w, "BUSY") == 0) {
        rc = SEATLOCK_BUSY;
    } else if (strcmp(w, "TAKEN") == 0 && reply->elements == TAKE_FIELDS &&
               reply->element[TAKE_USER]->type == REDIS_REPLY_STRING && valid_uuid(reply->element[TAKE_USER]->str)) {
        memcpy(user_id, reply->element[TAKE_USER]->str, 37);
        rc = SEATLOCK_TAKEN;
    } else {
        /* Taken, but for a user this code cannot read: give them back. */
        log_error("seatlock_take: the token's user is not a UUID");
        if (seatlock_release(concert_id, schedule_id, seats, n, owner) < 0)
            log_error("seatlock_take: could not give back the locks (they run out by themselves)");
    }
    freeReplyObject(reply);
    return rc;
}

seatlock_rc seatlock_take(const char *token, int64_t concert_id, int64_t schedule_id, const int *seats, int n,
                          const char *owner, char *user_id)
{
    struct seatlock_args a;
    char active[SEATLOCK_KEYLEN], tokens[SEATLOCK_KEYLEN], conf[SEATLOCK_KEYLEN], map[SEATLOCK_KEYLEN];
    const char *argv[TAKE_NKEYS + SEATLOCK_MAX + 2 + SEATLOCK_MAX];
    int argc, nkeys;
    seatlock_rc rc;
    queue_rc qrc;

    if (seatlock_keys(&a, concert_id, schedule_id, seats, n) < 0)
        return SEATLOCK_BUSY;
    keyspace_queue(active, sizeof active, concert_id, QUEUE_KEY_ACTIVE);
    keyspace_queue(tokens, sizeof tokens, concert_id, QUEUE_KEY_TOKENS);
    keyspace_queue(conf, sizeof conf, concert_id, QUEUE_KEY_CONF);
    keyspace_seatmap(map, sizeof map, concert_id, schedule_id);
    argv[TAKE_ACTIVE] = active;
    argv[TAKE_TOKENS] = tokens;
    argv[TAKE_CONF] = conf;
    argv[TAKE_MAP] = map;
    argc = TAKE_NKEYS;   /* then the locks */
    for (int i = 0; i < a.nkeys; i++)
        argv[argc++] = a.argv[i];
    nkeys = argc;
    argv[argc++] = token;
    argv[argc++] = owner;
    for (int i = 0; i < n; i++) {
        snprintf(a.num[i], SEATLOCK_NUMLEN, "%d", seats[i]);
        argv[argc++] = a.num[i];
    }
    rc = take_once(argc, argv, nkeys, concert_id, schedule_id, seats, n, owner, user_id);
    if (rc != SEATLOCK_NO_FACTS)
        return rc;
    /* Not cached, or a second old: read them, then take again. */
    qrc = queue_reload_facts(concert_id);
    if (qrc == QUEUE_REDIS_DOWN)
        return SEATLOCK_DOWN;
    if (qrc != QUEUE_OK)
        return SEATLOCK_NO_FACTS;
    return take_once(argc, argv, nkeys, concert_id, schedule_id, seats, n, owner, user_id);
}

int seatlock_release(int64_t concert_id, int64_t schedule_id, const int *seats, int n, const char *owner)
{
    struct seatlock_args a;
    redisReply *reply;

    if (seatlock_keys(&a, concert_id, schedule_id, seats, n) < 0 || !owner)
        return 0;
    a.argv[a.argc++] = owner;
    reply = rds_eval(&lua_seatlock_release, a.nkeys, a.argc, a.argv);
    if (!reply)
        return -1;
    freeReplyObject(reply);
    return 0;
}

/* --- Agreeing with PostgreSQL (see seatlock.h) --------------------------- */

/* shared/lua/seatlock_peek.lua (KEYS: locks; answers each one's owner and
 * remaining life, in pairs), seatlock_drop.lua (KEYS: locks, ARGV: the
 * owner seen in each; deletes those that still hold it),
 * seatlock_marks.lua (KEYS: a seat map; answers {its version, the seats it
 * reads SOLD...}, or {} when it is not complete) and seatlock_unmark.lua
 * (KEYS: a seat map, ARGV: its version when read; drops it unless it has
 * changed since). */
extern struct rds_script lua_seatlock_peek, lua_seatlock_drop, lua_seatlock_marks, lua_seatlock_unmark;

/* A positive decimal without sign or leading zeros, at most max, read from
 * *p (not past end); *p moves past it. */
static int read_number(const char **p, const char *end, int64_t max, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (s == end || *s < '1' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

static int read_word(const char **p, const char *end, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(end - *p) < n || memcmp(*p, word, n) != 0)
        return -1;
    *p += n;
    return 0;
}

enum seatlock_kind seatlock_parse_key(const char *key, size_t len, struct seatlock_at *at)
{
    const char *p = key, *end = key + len;
    int64_t concert, schedule, seat = 0;
    enum seatlock_kind kind;

    if (read_word(&p, end, KEYSPACE_CONCERT_TAG) < 0 || read_number(&p, end, INT64_MAX, &concert) < 0)
        return SEATLOCK_OTHER;
    if (read_word(&p, end, KEYSPACE_SEAT_LOCK_WORD) == 0)
        kind = SEATLOCK_LOCK;
    else if (read_word(&p, end, KEYSPACE_SEATMAP_WORD) == 0)
        kind = SEATLOCK_MAP;
    else
        return SEATLOCK_OTHER;
    if (read_number(&p, end, INT64_MAX, &schedule) < 0)
        return SEATLOCK_OTHER;
    if (kind == SEATLOCK_LOCK &&
        (read_word(&p, end, ":") < 0 || read_number(&p, end, INT_MAX, &seat) < 0))
        return SEATLOCK_OTHER;
    if (p != end)
        return SEATLOCK_OTHER;
    at->concert_id = concert;
    at->schedule_id = schedule;
    at->seat_no = (int)seat;
    return kind;
}

int seatlock_owner_valid(const char *text)
{
    size_t n = 0;

    for (; text[n]; n++) {
        if (!((text[n] >= '0' && text[n] <= '9') || (text[n] >= 'a' && text[n] <= 'f')))
            return 0;
    }
    return n == 2 * SEATLOCK_OWNER_BYTES;
}

/* A copy of len bytes as a C string; NULL when out of memory or when the
 * bytes hold a NUL (no key or owner of ours does). */
static char *copy_text(const char *s, size_t len)
{
    char *out;

    if (memchr(s, '\0', len))
        return NULL;
    out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* Grows *items (of size bytes each, *cap of them) to hold one more. */
static int grow(void **items, size_t size, size_t used, size_t *cap)
{
    void *bigger;
    size_t want;

    if (used < *cap)
        return 0;
    want = *cap ? *cap * 2 : 64;
    bigger = realloc(*items, want * size);
    if (!bigger)
        return -1;
    *items = bigger;
    *cap = want;
    return 0;
}

void seatlock_page_free(struct seatlock_page *page)
{
    for (size_t i = 0; i < page->nlocks; i++) {
        free(page->locks[i].key);
        free(page->locks[i].owner);
    }
    for (size_t i = 0; i < page->nmarks; i++) {
        free(page->marks[i].key);
        free(page->marks[i].version);
    }
    free(page->locks);
    free(page->marks);
    memset(page, 0, sizeof *page);
}

/* Reads the seats the seat map key reads SOLD into the page, with the
 * map's version. */
static int read_marks(const char *key, const struct seatlock_at *at, struct seatlock_page *page, size_t *cap)
{
    const char *argv[] = {key};
    redisReply *reply = rds_eval(&lua_seatlock_marks, 1, 1, argv);
    int rc = 0;

    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_error("seatlock_scan: unexpected reply type %d for a seat map", reply->type);
        freeReplyObject(reply);
        return -1;
    }
    if (reply->elements < 1 || reply->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(reply);     /* not complete: the take does not trust it */
        return 0;
    }
    for (size_t i = 1; i < reply->elements && rc == 0; i++) {
        redisReply *m = reply->element[i];
        struct seatlock_mark *mark;
        const char *p = m->str;
        int64_t seat;

        if (m->type != REDIS_REPLY_STRING || read_number(&p, m->str + m->len, INT_MAX, &seat) < 0 ||
            p != m->str + m->len)
            continue;   /* the map's fields are seat numbers; nothing else reads S */
        if (grow((void **)&page->marks, sizeof *page->marks, page->nmarks, cap) < 0) {
            rc = -1;
            break;
        }
        mark = &page->marks[page->nmarks];
        memset(mark, 0, sizeof *mark);
        mark->at = *at;
        mark->at.seat_no = (int)seat;
        mark->key = strdup(key);
        mark->version = copy_text(reply->element[0]->str, reply->element[0]->len);
        if (!mark->key || !mark->version) {
            free(mark->key);
            free(mark->version);
            rc = -1;
            break;
        }
        page->nmarks++;
    }
    freeReplyObject(reply);
    if (rc < 0)
        log_error("seatlock_scan: out of memory");
    return rc;
}

static int by_concert(const void *a, const void *b)
{
    const struct seatlock_found *x = a, *y = b;

    if (x->at.concert_id != y->at.concert_id)
        return x->at.concert_id < y->at.concert_id ? -1 : 1;
    if (x->at.schedule_id != y->at.schedule_id)
        return x->at.schedule_id < y->at.schedule_id ? -1 : 1;
    return (x->at.seat_no > y->at.seat_no) - (x->at.seat_no < y->at.seat_no);
}

/* How many locks from locks[0] on share its concert: one script call each,
 * so every call touches one hash tag. */
static size_t same_concert(const struct seatlock_found *locks, size_t n)
{
    size_t j = 1;

    while (j < n && locks[j].at.concert_id == locks[0].at.concert_id)
        j++;
    return j;
}

/* Reads the owner and remaining life of locks[0..n) (one concert). */
static int peek(struct seatlock_found *locks, size_t n)
{
    const char **argv = malloc(n * sizeof *argv);
    redisReply *reply;
    int rc = -1;

    if (!argv) {
        log_error("seatlock_scan: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        argv[i] = locks[i].key;
    reply = rds_eval(&lua_seatlock_peek, (int)n, (int)n, argv);
    free(argv);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 * n) {
        log_error("seatlock_scan: unexpected reply to a lock read");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *value = reply->element[2 * i], *ttl = reply->element[2 * i + 1];

        if (value->type != REDIS_REPLY_STRING || ttl->type != REDIS_REPLY_INTEGER)
            continue;           /* gone since the scan: nothing to settle */
        locks[i].ttl_ms = ttl->integer;
        if (memchr(value->str, '\0', value->len))
            continue;           /* no owner of ours; it can only run out */
        locks[i].owner = copy_text(value->str, value->len);
        if (!locks[i].owner) {
            log_error("seatlock_scan: out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    freeReplyObject(reply);
    return rc;
}

int seatlock_scan(char *cursor, size_t cursor_cap, int count, struct seatlock_page *page)
{
    char count_text[16];
    const char *argv[] = {"SCAN", cursor, "MATCH", KEYSPACE_SEAT_SCAN_MATCH, "COUNT", count_text};
    redisReply *reply, *keys;
    size_t lock_cap = 0, mark_cap = 0;
    int rc = -1;

    memset(page, 0, sizeof *page);
    snprintf(count_text, sizeof count_text, "%d", count > 0 ? count : 100);
    reply = rds_command(6, argv, NULL);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING || reply->element[0]->len >= cursor_cap ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        log_error("seatlock_scan: unexpected reply to SCAN");
        goto out;
    }
    keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];
        struct seatlock_at at;
        enum seatlock_kind kind;

        if (k->type != REDIS_REPLY_STRING)
            continue;
        kind = seatlock_parse_key(k->str, k->len, &at);
        if (kind == SEATLOCK_MAP) {
            if (read_marks(k->str, &at, page, &mark_cap) < 0)
                goto out;
        } else if (kind == SEATLOCK_LOCK) {
            struct seatlock_found *lock;

            if (grow((void **)&page->locks, sizeof *page->locks, page->nlocks, &lock_cap) < 0) {
                log_error("seatlock_scan: out of memory");
                goto out;
            }
            lock = &page->locks[page->nlocks];
            memset(lock, 0, sizeof *lock);
            lock->at = at;
            lock->key = copy_text(k->str, k->len);
            if (!lock->key) {
                log_error("seatlock_scan: out of memory");
                goto out;
            }
            page->nlocks++;
        }
    }
    /* A page without locks has no array at all (qsort may not take NULL). */
    if (page->nlocks > 1)
        qsort(page->locks, page->nlocks, sizeof *page->locks, by_concert);
    for (size_t i = 0, n; i < page->nlocks; i += n) {
        n = same_concert(page->locks + i, page->nlocks - i);
        if (peek(page->locks + i, n) < 0)
            goto out;
    }
    memcpy(cursor, reply->element[0]->str, reply->element[0]->len);
    cursor[reply->element[0]->len] = '\0';
    rc = 0;
out:
    freeReplyObject(reply);
    if (rc < 0)
        seatlock_page_free(page);
    return rc;
}

/* Whether a lock that PostgreSQL does not back is to go: it had an owner
 * when read and was old enough then, or outlives any hold the concert
 * makes now (or can have no hold on its way). */
static int lock_stale(const struct seatlock_found *lock)
{
    if (lock->held || !lock->owner)
        return 0;
    if (lock->hold_ms < 0 || lock->ttl_ms < 0)
        return 1;
    return lock->ttl_ms > lock->hold_ms || lock->hold_ms - lock->ttl_ms >= SEATLOCK_GRACE_MS;
}

/* Deletes the stale ones of locks[0..n) (one concert). */
static int drop_stale(const struct seatlock_found *locks, size_t n, int64_t *deleted)
{
    const char **argv = malloc(2 * n * sizeof *argv);
    size_t nstale = 0;
    redisReply *reply;

    if (!argv) {
        log_error("seatlock_settle: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (lock_stale(&locks[i]))
            argv[nstale++] = locks[i].key;
    for (size_t i = 0, j = nstale; i < n; i++)
        if (lock_stale(&locks[i]))
            argv[j++] = locks[i].owner;
    if (nstale == 0) {
        free(argv);
        return 0;
    }
    reply = rds_eval(&lua_seatlock_drop, (int)nstale, (int)(2 * nstale), argv);
    free(argv);
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        *deleted += reply->integer;
    freeReplyObject(reply);
    return 0;
}

/* Drops the seat map of marks[0..n) (one map's) when PostgreSQL does not
 * have one of them SOLD: the map is read from PostgreSQL again on its next
 * read, so a seat is never refused for a sale that is not there. */
static int unmark(const struct seatlock_mark *marks, size_t n, int64_t *dropped)
{
    const char *argv[2];
    redisReply *reply;
    size_t i = 0;

    while (i < n && marks[i].sold)
        i++;
    if (i == n)
        return 0;
    argv[0] = marks[0].key;
    argv[1] = marks[0].version;
    reply = rds_eval(&lua_seatlock_unmark, 1, 2, argv);
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        *dropped += reply->integer;
    freeReplyObject(reply);
    return 0;
}

int seatlock_settle(const struct seatlock_page *page, int64_t *locks_deleted, int64_t *maps_dropped)
{
    for (size_t i = 0, n; i < page->nlocks; i += n) {
        n = same_concert(page->locks + i, page->nlocks - i);
        if (drop_stale(page->locks + i, n, locks_deleted) < 0)
            return -1;
    }
    for (size_t i = 0, n; i < page->nmarks; i += n) {
        for (n = 1; i + n < page->nmarks && strcmp(page->marks[i + n].key, page->marks[i].key) == 0; n++)
            ;
        if (unmark(page->marks + i, n, maps_dropped) < 0)
            return -1;
    }
    return 0;
}
