/* seatmap.c - the Redis seat map's scripts and their C front (see seatmap.h). */
#include "seatmap.h"
#include "log.h"
#include "queue.h"
#include "rds.h"
#include "seatlock.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a map is trusted before PostgreSQL is asked again, and kept. */
#define SEATMAP_FRESH_MS "1000"
#define SEATMAP_TTL_MS "3600000"
/* A map that was dropped, or never made, keeps its version this long, so a
 * load that started before a change cannot store what it read. */
#define SEATMAP_GONE_TTL_MS "60000"
#define SEATMAP_KEYLEN 64

/* The clock, and the seat list from flat field/value pairs starting at
 * index first: sorted by seat number, each seat as the contract writes it,
 * a held seat AVAILABLE from its until on; with the first hold end it
 * depends on (0: none). Fields starting with '_' are the map's own. */
#define SEATMAP_LUA_LIST \
    QUEUE_LUA_NOW \
    "local function seat_list(flat, first)\n" \
    "  local seats = {}\n" \
    "  for i = first, #flat - 1, 2 do\n" \
    "    if string.sub(flat[i], 1, 1) ~= '_' then\n" \
    "      local price, letter, untl = string.match(flat[i + 1], '^(%d+),(%a),(%d+),')\n" \
    "      seats[#seats + 1] = {tonumber(flat[i]), price, letter, tonumber(untl)}\n" \
    "    end\n" \
    "  end\n" \
    "  table.sort(seats, function(a, b) return a[1] < b[1] end)\n" \
    "  local parts, next_end = {}, 0\n" \
    "  for i, s in ipairs(seats) do\n" \
    "    local status = 'AVAILABLE'\n" \
    "    if s[3] == 'S' then status = 'SOLD'\n" \
    "    elseif s[3] == 'H' and s[4] > now then\n" \
    "      status = 'HELD'\n" \
    "      if next_end == 0 or s[4] < next_end then next_end = s[4] end\n" \
    "    end\n" \
    "    parts[i] = '{\"seatNo\":' .. s[1] .. ',\"price\":' .. s[2] .. ',\"status\":\"' .. status .. '\"}'\n" \
    "  end\n" \
    "  return table.concat(parts, ','), next_end\n" \
    "end\n"

/* KEYS: the concert's active tokens, its token owners, the map. ARGV: token.
 * The token check is the queue's cheap one (an ACTIVE token within its
 * period); anything else is a MISS for the full check. */
static struct rds_script get_script = {"seatmap_get", SEATMAP_LUA_LIST
    QUEUE_LUA_ACTIVE_OR_MISS("KEYS[1]", "KEYS[2]", "ARGV[1]")
    "local m = redis.call('HMGET', KEYS[3], '_ok', '_json', '_next', '_fresh', '_v')\n"
    "if not m[1] then return {'ABSENT', '', m[5] or ''} end\n"
    "local answer = 'HIT'\n"
    "if tonumber(m[4] or '0') <= now then\n"
    "  redis.call('HSET', KEYS[3], '_fresh', now + " SEATMAP_FRESH_MS ")\n"
    "  answer = 'STALE'\n"
    "end\n"
    "local json, next_end = m[2], tonumber(m[3] or '0')\n"
    "if not json or (next_end > 0 and next_end <= now) then\n"
    "  json, next_end = seat_list(redis.call('HGETALL', KEYS[3]), 1)\n"
    "  redis.call('HSET', KEYS[3], '_json', json, '_next', next_end)\n"
    "end\n"
    "return {answer, json, m[5] or ''}\n", ""};

/* KEYS: the map. ARGV: the version the load started from ('' none), then
 * seat, value pairs from PostgreSQL. Stores them unless the version moved;
 * the seat list either way. */
static struct rds_script load_script = {"seatmap_load", SEATMAP_LUA_LIST
    "local json, next_end = seat_list(ARGV, 2)\n"
    "local v = redis.call('HGET', KEYS[1], '_v')\n"
    "if (v or '') ~= ARGV[1] then return {'CHANGED', json} end\n"
    "redis.call('DEL', KEYS[1])\n"
    "for i = 2, #ARGV, 1000 do\n"
    "  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))\n"
    "end\n"
    "redis.call('HSET', KEYS[1], '_ok', '1', '_v', tonumber(v or '0') + 1, '_fresh', now + " SEATMAP_FRESH_MS ",\n"
    "           '_json', json, '_next', next_end)\n"
    "redis.call('PEXPIRE', KEYS[1], " SEATMAP_TTL_MS ")\n"
    "return {'STORED', json}\n", ""};

/* KEYS: the map, then the seats' locks when a hold's are to end with it.
 * ARGV: letter, until, owner, the locks' owner ('' none), seat numbers.
 * The locks still the hold's are set to end when the hold does, first (the
 * map may be missing; the locks are not the map's). */
static struct rds_script mark_script = {"seatmap_mark",
    "for i = 2, #KEYS do\n"
    "  if redis.call('GET', KEYS[i]) == ARGV[4] then redis.call('PEXPIREAT', KEYS[i], ARGV[2]) end\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[1], '_v', 1)\n"
    "if redis.call('HEXISTS', KEYS[1], '_ok') == 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], " SEATMAP_GONE_TTL_MS ")\n"
    "  return 0\n"
    "end\n"
    "for i = 5, #ARGV do\n"
    "  local cur = redis.call('HGET', KEYS[1], ARGV[i])\n"
    "  local price, owner = string.match(cur or '', '^(%d+),%a,%d+,(%d+)$')\n"
    "  if not price then\n"
    "    redis.call('HDEL', KEYS[1], '_ok')\n"
    "    redis.call('PEXPIRE', KEYS[1], " SEATMAP_GONE_TTL_MS ")\n"
    "    return 0\n"
    "  end\n"
    "  if ARGV[1] ~= 'A' then\n"
    "    redis.call('HSET', KEYS[1], ARGV[i], price .. ',' .. ARGV[1] .. ',' .. ARGV[2] .. ',' .. ARGV[3])\n"
    "  elseif owner == ARGV[3] then\n"
    "    redis.call('HSET', KEYS[1], ARGV[i], price .. ',A,0,0')\n"
    "  end\n"
    "end\n"
    "redis.call('HDEL', KEYS[1], '_json')\n"
    "return 1\n", ""};

static void seatmap_key(int64_t concert_id, int64_t schedule_id, char *out)
{
    snprintf(out, SEATMAP_KEYLEN, "{c:%" PRId64 "}:seatmap:%" PRId64, concert_id, schedule_id);
}

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
    queue_key_name(concert_id, "active", active, sizeof active);
    queue_key_name(concert_id, "tokens", tokens, sizeof tokens);
    seatmap_key(concert_id, schedule_id, map);
    reply = rds_eval(&get_script, 3, 4, argv);
    if (!reply)
        return SEATMAP_DOWN;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || !reply_is_string(reply->element[0])) {
        log_error("seatmap_get: unexpected reply");
        freeReplyObject(reply);
        return SEATMAP_DOWN;
    }
    if (strcmp(reply->element[0]->str, "MISS") == 0) {
        freeReplyObject(reply);
        return SEATMAP_TOKEN_MISS;
    }
    if (reply->elements != 3 || !reply_is_string(reply->element[1]) || !reply_is_string(reply->element[2])) {
        log_error("seatmap_get: unexpected reply");
        freeReplyObject(reply);
        return SEATMAP_DOWN;
    }
    snprintf(v->version, sizeof v->version, "%s", reply->element[2]->str);
    if (strcmp(reply->element[0]->str, "ABSENT") == 0) {
        freeReplyObject(reply);
        return SEATMAP_ABSENT;
    }
    rc = strcmp(reply->element[0]->str, "STALE") == 0 ? SEATMAP_STALE : SEATMAP_HIT;
    v->seats = strdup(reply->element[1]->str);
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
    char map[SEATMAP_KEYLEN];
    int rows = PQntuples(res), argc = 2;
    const char **argv = malloc(sizeof *argv * (size_t)(2 + 2 * rows));
    redisReply *reply;
    char *seats = NULL;

    if (!argv) {
        log_error("seatmap_load: out of memory for %d seats", rows);
        return NULL;
    }
    seatmap_key(concert_id, schedule_id, map);
    argv[0] = map;
    argv[1] = version;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 1))
            continue;   /* a show without seats */
        argv[argc++] = PQgetvalue(res, i, 1);
        argv[argc++] = PQgetvalue(res, i, 2);
    }
    reply = rds_eval(&load_script, 1, argc, argv);
    free(argv);
    if (!reply)
        return NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply_is_string(reply->element[1]))
        seats = strdup(reply->element[1]->str);
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
    rc = db_read(sql, 1, params, &res);
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

int seatmap_mark(int64_t concert_id, int64_t schedule_id, char letter, int64_t until_ms, int64_t owner,
                 const char *lock_owner, const int *seats, int n)
{
    char map[SEATMAP_KEYLEN], letter_text[2] = {letter, '\0'}, until[24], owner_text[24], nums[SEATLOCK_MAX][16];
    char locks[SEATLOCK_MAX][80];
    const char *argv[1 + SEATLOCK_MAX + 4 + SEATLOCK_MAX];
    int nkeys = 0, argc;
    redisReply *reply;

    if (n < 1 || n > SEATLOCK_MAX)
        return -1;
    seatmap_key(concert_id, schedule_id, map);
    snprintf(until, sizeof until, "%" PRId64, until_ms);
    snprintf(owner_text, sizeof owner_text, "%" PRId64, owner);
    argv[nkeys++] = map;
    if (lock_owner && letter == 'H') {
        for (int i = 0; i < n; i++) {
            seatlock_key(concert_id, schedule_id, seats[i], locks[i], sizeof locks[i]);
            argv[nkeys++] = locks[i];
        }
    }
    argc = nkeys;
    argv[argc++] = letter_text;
    argv[argc++] = until;
    argv[argc++] = owner_text;
    argv[argc++] = nkeys > 1 ? lock_owner : "";
    for (int i = 0; i < n; i++) {
        snprintf(nums[i], sizeof nums[i], "%d", seats[i]);
        argv[argc++] = nums[i];
    }
    reply = rds_eval(&mark_script, nkeys, argc, argv);
    if (!reply)
        return -1;
    freeReplyObject(reply);
    return 0;
}
