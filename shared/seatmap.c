/* seatmap.c - the Redis seat map's C front; its scripts are
 * shared/lua/seatmap_*.lua (see seatmap.h). */
#include "seatmap.h"
#include "db_replica.h"
#include "keyspace.h"
#include "log.h"
#include "rds.h"
#include "seatlock.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEATMAP_KEYLEN KEYSPACE_CONCERT_KEY_SIZE

/* The map's scripts, shared/lua/seatmap_*.lua (how long a map is trusted
 * and kept: lib/seatmap_times.lua).
 * seatmap_get: KEYS the concert's active tokens, its token owners, the map;
 * ARGV the token id; answers enum get_field, or {'MISS'}. */
extern struct rds_script lua_seatmap_get;
enum get_field { GET_CODE, GET_SEATS, GET_VERSION, GET_FIELDS };
/* seatmap_load: KEYS the map, the concert's Redis holds and the show's
 * holds by end;
 * ARGV the version the load started from, then seat, value pairs; answers
 * {'STORED' or 'CHANGED', the seat list}. */
extern struct rds_script lua_seatmap_load;
enum load_field { LOAD_CODE, LOAD_SEATS, LOAD_FIELDS };
/* seatmap_mark: KEYS the map, then the seats' locks when a hold's are to
 * end with it; ARGV enum mark_arg, then the seat numbers; answers enum
 * mark_field. */
extern struct rds_script lua_seatmap_mark;
enum mark_arg { MARK_LETTER, MARK_UNTIL, MARK_OWNER, MARK_LOCK_OWNER, MARK_NARGS };
enum mark_field { MARK_CHANGED, MARK_VERSION, MARK_FIELDS };

static int reply_is_string(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

void seatmap_view_free(struct seatmap_view *v)
{
    free(v->seats);
    v->seats = NULL;
}

seatmap_rc seatmap_get(int64_t concert_id, int64_t schedule_id, const char *token, struct seatmap_view *v)
{
    char active[SEATMAP_KEYLEN], tokens[SEATMAP_KEYLEN], map[SEATMAP_KEYLEN];
    const char *argv[] = {active, tokens, map, token};
    redisReply *reply;
    seatmap_rc rc;

    v->seats = NULL;
    v->version[0] = '\0';
    keyspace_queue(active, sizeof active, concert_id, QUEUE_KEY_ACTIVE);
    keyspace_queue(tokens, sizeof tokens, concert_id, QUEUE_KEY_TOKENS);
    keyspace_seatmap(map, sizeof map, concert_id, schedule_id);
    reply = rds_eval(&lua_seatmap_get, 3, 4, argv);
    if (!reply)
        return SEATMAP_DOWN;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || !reply_is_string(reply->element[GET_CODE])) {
        log_error("seatmap_get: unexpected reply");
        freeReplyObject(reply);
        return SEATMAP_DOWN;
    }
    if (strcmp(reply->element[GET_CODE]->str, "MISS") == 0) {
        freeReplyObject(reply);
        return SEATMAP_TOKEN_MISS;
    }
    if (reply->elements != GET_FIELDS || !reply_is_string(reply->element[GET_SEATS]) ||
        !reply_is_string(reply->element[GET_VERSION])) {
        log_error("seatmap_get: unexpected reply");
        freeReplyObject(reply);
        return SEATMAP_DOWN;
    }
    snprintf(v->version, sizeof v->version, "%s", reply->element[GET_VERSION]->str);
    if (strcmp(reply->element[GET_CODE]->str, "ABSENT") == 0) {
        freeReplyObject(reply);
        return SEATMAP_ABSENT;
    }
    rc = strcmp(reply->element[GET_CODE]->str, "STALE") == 0 ? SEATMAP_STALE : SEATMAP_HIT;
    v->seats = strdup(reply->element[GET_SEATS]->str);
    freeReplyObject(reply);
    if (!v->seats) {
        log_error("seatmap_get: out of memory");
        return SEATMAP_DOWN;
    }
    return rc;
}

/* Stores what PostgreSQL said (rows of seat, value) and returns the seat
 * list; NULL when Redis did not answer. */
static char *seatmap_store(int64_t concert_id, int64_t schedule_id, const char *version, PGresult *res)
{
    char map[SEATMAP_KEYLEN], holds[SEATMAP_KEYLEN], ends[SEATMAP_KEYLEN];
    int rows = PQntuples(res), argc = 4;
    const char **argv = malloc(sizeof *argv * (size_t)(4 + 2 * rows));
    redisReply *reply;
    char *seats = NULL;

    if (!argv) {
        log_error("seatmap_load: out of memory for %d seats", rows);
        return NULL;
    }
    keyspace_seatmap(map, sizeof map, concert_id, schedule_id);
    keyspace_hold(holds, sizeof holds, concert_id, HOLD_KEY_HOLDS);
    keyspace_hold_show_ends(ends, sizeof ends, concert_id, schedule_id);
    argv[0] = map;
    argv[1] = holds;
    argv[2] = ends;
    argv[3] = version;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 1))
            continue;   /* a show without seats */
        argv[argc++] = PQgetvalue(res, i, 1);
        argv[argc++] = PQgetvalue(res, i, 2);
    }
    reply = rds_eval(&lua_seatmap_load, 3, argc, argv);
    free(argv);
    if (!reply)
        return NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == LOAD_FIELDS && reply_is_string(reply->element[LOAD_SEATS]))
        seats = strdup(reply->element[LOAD_SEATS]->str);
    else
        log_error("seatmap_load: unexpected reply");
    freeReplyObject(reply);
    return seats;
}

db_rc seatmap_load(int64_t concert_id, int64_t schedule_id, const char *version, int64_t *owner, char **seats)
{
    static const char sql[] = "SELECT concert_id, seat_no, cached FROM seatmap_rows($1::bigint)";
    char idtext[24];
    const char *params[] = {idtext};
    PGresult *res;
    db_rc rc;

    *owner = 0;
    *seats = NULL;
    snprintf(idtext, sizeof idtext, "%" PRId64, schedule_id);
    rc = db_read_replica(sql, 1, params, &res);
    if (rc != DB_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return DB_OK;
    }
    if (valid_id(PQgetvalue(res, 0, 0), owner) < 0) {
        log_error("seatmap_load: schedule %" PRId64 " has no valid concert", schedule_id);
        PQclear(res);
        return DB_FAILED;
    }
    if (*owner == concert_id)
        *seats = seatmap_store(concert_id, schedule_id, version, res);
    PQclear(res);
    return DB_OK;
}

/* seatmap_mark's work: 1 when the map was changed, 0 when it was dropped
 * (or missing) and version is its version now, -1 when Redis did not take
 * it. */
static int mark(int64_t concert_id, int64_t schedule_id, char letter, int64_t until_ms, int64_t owner,
                const char *lock_owner, const int *seats, int n, char version[24])
{
    char map[SEATMAP_KEYLEN], letter_text[2] = {letter, '\0'}, until[24], owner_text[24], nums[SEATLOCK_MAX][16];
    char locks[SEATLOCK_MAX][KEYSPACE_CONCERT_KEY_SIZE];
    const char *argv[1 + SEATLOCK_MAX + MARK_NARGS + SEATLOCK_MAX];
    int nkeys = 0, argc, changed;
    redisReply *reply;

    if (n < 1 || n > SEATLOCK_MAX)
        return -1;
    keyspace_seatmap(map, sizeof map, concert_id, schedule_id);
    snprintf(until, sizeof until, "%" PRId64, until_ms);
    snprintf(owner_text, sizeof owner_text, "%" PRId64, owner);
    argv[nkeys++] = map;
    if (lock_owner && letter == 'H') {
        for (int i = 0; i < n; i++) {
            keyspace_seat_lock(locks[i], sizeof locks[i], concert_id, schedule_id, seats[i]);
            argv[nkeys++] = locks[i];
        }
    }
    argv[nkeys + MARK_LETTER] = letter_text;
    argv[nkeys + MARK_UNTIL] = until;
    argv[nkeys + MARK_OWNER] = owner_text;
    argv[nkeys + MARK_LOCK_OWNER] = nkeys > 1 ? lock_owner : "";
    argc = nkeys + MARK_NARGS;
    for (int i = 0; i < n; i++) {
        snprintf(nums[i], sizeof nums[i], "%d", seats[i]);
        argv[argc++] = nums[i];
    }
    reply = rds_eval(&lua_seatmap_mark, nkeys, argc, argv);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != MARK_FIELDS ||
        reply->element[MARK_CHANGED]->type != REDIS_REPLY_INTEGER ||
        reply->element[MARK_VERSION]->type != REDIS_REPLY_INTEGER) {
        log_error("seatmap_mark: unexpected reply");
        freeReplyObject(reply);
        return -1;
    }
    changed = reply->element[MARK_CHANGED]->integer == 1;
    snprintf(version, 24, "%lld", reply->element[MARK_VERSION]->integer);
    freeReplyObject(reply);
    return changed;
}

int seatmap_mark(int64_t concert_id, int64_t schedule_id, char letter, int64_t until_ms, int64_t owner,
                 const char *lock_owner, const int *seats, int n)
{
    char version[24];

    return mark(concert_id, schedule_id, letter, until_ms, owner, lock_owner, seats, n, version) < 0 ? -1 : 0;
}

int seatmap_note_sold(int64_t concert_id, int64_t schedule_id, const int *seats, int n)
{
    char version[24], *list = NULL;
    int64_t owner;
    int changed = mark(concert_id, schedule_id, 'S', 0, 0, NULL, seats, n, version);

    if (changed != 0)
        return changed < 0 ? -1 : 0;
    /* No map to tell: read it now (it has the sale; this refusal read it),
     * so the next crowd for these seats stops in Redis. */
    if (seatmap_load(concert_id, schedule_id, version, &owner, &list) != DB_OK)
        return -1;
    free(list);
    return 0;
}
