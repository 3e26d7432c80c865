/* queue.c - the waiting room's Lua scripts and their C front (see queue.h). */
#include "queue.h"
#include "db.h"
#include "log.h"
#include "outcome.h"
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

#define QUEUE_NKEYS 15
#define QUEUE_SWEEP_BATCH "200"
/* A concert's cached facts are read again from PostgreSQL once they are a
 * second old (QUEUE_FACTS_FRESH_MS, by the first request that finds them
 * so), so an operator's change is in force everywhere within a second; they
 * are kept an hour, so the queue goes on by the facts it has while
 * PostgreSQL is down. */
#define QUEUE_FACTS_TTL_MS "3600000"

/* The queue's events (queue.joined, queue.admitted, queue.ended,
 * queue.dropped) go to the concert's stream {c:C}:queue-events from the
 * scripts that make the change, so an event is written if and only if its
 * change is, and stays in the concert's hash slot. Each entry has the
 * fields every event has (eventId, type, occurredAt, concertId, data); the
 * data names the user, never the token (a credential). eventId is the
 * concert, the time and a counter, unique even if Redis loses the counter.
 * The stream keeps 24 hours (trimmed by id, MINID). iso() is RFC 3339 with
 * milliseconds, from days to a civil date (Howard Hinnant's algorithm):
 * Redis's Lua has no date functions. */
#define QUEUE_LUA_EVENTS \
    "local concert_id = string.match(K_conf, '^{c:(%d+)}')\n" \
    "local function iso(ms)\n" \
    "  local s = math.floor(ms / 1000)\n" \
    "  local days, rem = math.floor(s / 86400), s % 86400\n" \
    "  local z = days + 719468\n" \
    "  local era = math.floor(z / 146097)\n" \
    "  local doe = z - era * 146097\n" \
    "  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)\n" \
    "  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))\n" \
    "  local mp = math.floor((5 * doy + 2) / 153)\n" \
    "  local d = doy - math.floor((153 * mp + 2) / 5) + 1\n" \
    "  local m = mp < 10 and mp + 3 or mp - 9\n" \
    "  local y = yoe + era * 400 + (m <= 2 and 1 or 0)\n" \
    "  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),\n" \
    "                       math.floor(rem / 60) % 60, rem % 60, ms % 1000)\n" \
    "end\n" \
    "local function emit(kind, tok, data)\n" \
    "  data.userId = redis.call('HGET', K_tok, tok)\n" \
    "  if not data.userId then return end\n" \
    "  local n = redis.call('INCR', K_eseq)\n" \
    "  redis.call('XADD', K_events, 'MINID', '~', now - 86400000, '*',\n" \
    "             'eventId', 'queue-' .. concert_id .. '-' .. now .. '-' .. n, 'type', kind,\n" \
    "             'occurredAt', iso(now), 'concertId', concert_id, 'data', cjson.encode(data))\n" \
    "end\n"

/* Shared head of every queue script: names the keys, reads the concert's
 * cached facts and Redis's clock, and defines sweep/admit/describe.
 *
 * A sweep ends at most QUEUE_SWEEP_BATCH run-out tokens and as many idle
 * waiters a call, so more may be stored than it reached: every reader
 * therefore compares end times itself. A token whose active period has ended
 * or a waiter idle past waitingIdleSeconds is over (over(), idle()) whether
 * or not a sweep has removed it yet: it is not ACTIVE, not "a live token",
 * holds no slot and is never admitted.
 *
 * So a poll need not pay for work that is not there. The cached facts keep
 * two times: sweep_at, when the first stored token can run out or go idle
 * (or the oldest admission leave the ten-minute window), and full_until,
 * before which no slot can free itself (the first live token ends, or the
 * per-minute cap's oldest admission leaves its minute) unless a token
 * leaves the active set (finish), which full_card (the set's size then)
 * tells. Before those a sweep or an admission has nothing to do and is
 * skipped. Adding a token lowers sweep_at when it ends sooner; and every
 * refresh of the facts (at least once a second) clears both, so a missed
 * case costs at most a second's delay of a sweep's events or of an
 * admission, never a wrong answer. Two more facts spare a waiting token's
 * poll its reads of keys that rarely change: gate, 'free' once there is no
 * pre-queue left to open (it cannot grow again after opensAt) or the
 * opening's mark once it happened; adm_n and adm_since, the admissions of
 * the last ten minutes that the wait estimate counts, dropped whenever an
 * admission or a sweep changes them. */
#define QUEUE_LUA_PRELUDE \
    "local K_conf, K_wait, K_seen, K_act = KEYS[1], KEYS[2], KEYS[3], KEYS[4]\n" \
    "local K_tok, K_usr, K_seq, K_adm = KEYS[5], KEYS[6], KEYS[7], KEYS[8]\n" \
    "local K_recent, K_pre, K_opened, K_admissions = KEYS[9], KEYS[10], KEYS[11], KEYS[12]\n" \
    "local K_events, K_eseq, K_out = KEYS[13], KEYS[14], KEYS[15]\n" \
    "local conf = redis.call('HMGET', K_conf, 'limit', 'active_ms', 'idle_ms', 'missing', 'per_minute',\n" \
    "                        'paused', 'fresh_until', 'opens_ms', 'sweep_at', 'full_until',\n" \
    "                        'full_card', 'gate', 'adm_n', 'adm_since')\n" \
    "if conf[4] then return {'NOCONCERT'} end\n" \
    "if not conf[1] or not conf[6] or not conf[8] then return {'NOCONF'} end\n" \
    "local limit, active_ms, idle_ms = tonumber(conf[1]), tonumber(conf[2]), tonumber(conf[3])\n" \
    "local per_minute, paused, opens_ms = tonumber(conf[5]), conf[6] == '1', tonumber(conf[8])\n" \
    "local sweep_at, full_until = tonumber(conf[9] or '0'), tonumber(conf[10] or '0')\n" \
    "local full_card = tonumber(conf[11] or '0')\n" \
    "local adm_n, adm_since = tonumber(conf[13] or ''), tonumber(conf[14] or '')\n" \
    "local clock = redis.call('TIME')\n" \
    "local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)\n" \
    "local opened, before_open, opened_mark = false, false, nil\n" \
    "if conf[12] == 'free' then\n" \
    "elseif conf[12] then\n" \
    "  opened, opened_mark = true, tonumber(conf[12])\n" \
    "else\n" \
    "  local mark = redis.call('GET', K_opened)\n" \
    "  opened = mark ~= false\n" \
    "  before_open = not opened and opens_ms > 0 and now < opens_ms\n" \
    "  if opened then\n" \
    "    opened_mark = tonumber(mark); redis.call('HSET', K_conf, 'gate', mark)\n" \
    "  elseif not before_open then\n" \
    "    if redis.call('ZCARD', K_pre) > 0 then return {'OPEN'} end\n" \
    "    redis.call('HSET', K_conf, 'gate', 'free')\n" \
    "  end\n" \
    "end\n" \
    "local refresh = tonumber(conf[7] or '0') <= now\n" \
    "if refresh then redis.call('HSET', K_conf, 'fresh_until', now + " QUEUE_FACTS_FRESH_MS ") end\n" \
    "local function done(reply)\n" \
    "  if refresh then reply[1] = '+' .. reply[1] end\n" \
    "  return reply\n" \
    "end\n" \
    "local dropped = 0\n" \
    QUEUE_LUA_EVENTS \
    "local function forget(tok)\n" \
    "  local user = redis.call('HGET', K_tok, tok)\n" \
    "  if user then\n" \
    "    redis.call('HDEL', K_tok, tok)\n" \
    "    if redis.call('HGET', K_usr, user) == tok then redis.call('HDEL', K_usr, user) end\n" \
    "  end\n" \
    "end\n" \
    "local function drop(tok, why)\n" \
    "  emit(why == 'idle' and 'queue.dropped' or 'queue.ended', tok, {reason = why})\n" \
    "  redis.call('ZREM', K_act, tok); redis.call('ZREM', K_wait, tok); redis.call('ZREM', K_seen, tok)\n" \
    "  redis.call('ZREM', K_pre, tok)\n" \
    "  forget(tok); dropped = dropped + 1\n" \
    "end\n" \
    "local function idle(tok)\n" \
    "  local seen = redis.call('ZSCORE', K_seen, tok)\n" \
    "  return seen and tonumber(seen) <= now - idle_ms\n" \
    "end\n" \
    "local function over(tok)\n" \
    "  local exp = redis.call('ZSCORE', K_act, tok)\n" \
    "  if exp then return tonumber(exp) <= now and 'expired' or nil end\n" \
    "  return idle(tok) and 'idle' or nil\n" \
    "end\n" \
    "local function due(t)\n" \
    "  if t < sweep_at then sweep_at = t; redis.call('HSET', K_conf, 'sweep_at', t) end\n" \
    "end\n" \
    "local function first_score(key)\n" \
    "  local f = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')\n" \
    "  return f[2] and tonumber(f[2])\n" \
    "end\n" \
    "local function adm_moved()\n" \
    "  if adm_n then redis.call('HDEL', K_conf, 'adm_n', 'adm_since') end\n" \
    "  adm_n = nil\n" \
    "end\n" \
    "local function sweep(max, force)\n" \
    "  if now < sweep_at and not force then return end\n" \
    "  local gone = redis.call('ZRANGEBYSCORE', K_act, '-inf', now, 'LIMIT', 0, max)\n" \
    "  for _, tok in ipairs(gone) do drop(tok, 'expired') end\n" \
    "  local quiet = redis.call('ZRANGEBYSCORE', K_seen, '-inf', now - idle_ms, 'LIMIT', 0, max)\n" \
    "  for _, tok in ipairs(quiet) do drop(tok, 'idle') end\n" \
    "  if redis.call('ZREMRANGEBYSCORE', K_adm, '-inf', now - 600000) > 0 then adm_moved() end\n" \
    "  local nxt = now + 60000\n" \
    "  local a, s, d = first_score(K_act), first_score(K_seen), first_score(K_adm)\n" \
    "  if a then nxt = math.min(nxt, a) end\n" \
    "  if s then nxt = math.min(nxt, s + idle_ms) end\n" \
    "  if d then nxt = math.min(nxt, d + 600000) end\n" \
    "  sweep_at = nxt; redis.call('HSET', K_conf, 'sweep_at', nxt)\n" \
    "end\n" \
    "local function admit(fresh)\n" \
    "  if paused then return 0 end\n" \
    "  if now < full_until and redis.call('ZCARD', K_act) >= full_card then return 0 end\n" \
    "  local free = limit - redis.call('ZCOUNT', K_act, '(' .. now, '+inf')\n" \
    "  redis.call('ZREMRANGEBYSCORE', K_recent, '-inf', now - 60000)\n" \
    "  if per_minute > 0 then free = math.min(free, per_minute - redis.call('ZCARD', K_recent)) end\n" \
    "  local admitted, skipped = 0, 0\n" \
    "  while free > 0 and skipped < " QUEUE_SWEEP_BATCH " do\n" \
    "    local heads = redis.call('ZRANGE', K_wait, 0, free - 1)\n" \
    "    if #heads == 0 then break end\n" \
    "    for _, tok in ipairs(heads) do\n" \
    "      if idle(tok) then\n" \
    "        drop(tok, 'idle'); skipped = skipped + 1\n" \
    "      else\n" \
    "        redis.call('ZREM', K_wait, tok); redis.call('ZREM', K_seen, tok)\n" \
    "        redis.call('ZADD', K_act, now + active_ms, tok); due(now + active_ms)\n" \
    "        if tok ~= fresh then redis.call('ZADD', K_adm, now, tok); adm_moved() end\n" \
    "        redis.call('ZADD', K_recent, now, tok); redis.call('PEXPIRE', K_recent, 60000)\n" \
    "        emit('queue.admitted', tok, {expiresAt = iso(now + active_ms)})\n" \
    "        admitted = admitted + 1; free = free - 1\n" \
    "      end\n" \
    "    end\n" \
    "  end\n" \
    "  if admitted > 0 then redis.call('INCRBY', K_admissions, admitted) end\n" \
    "  if free <= 0 then\n" \
    "    local t = now + 60000\n" \
    "    local live = redis.call('ZRANGEBYSCORE', K_act, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)\n" \
    "    if live[2] then t = math.min(t, tonumber(live[2])) end\n" \
    "    local r = per_minute > 0 and first_score(K_recent)\n" \
    "    if r then t = math.min(t, r + 60000) end\n" \
    "    full_until = t\n" \
    "    redis.call('HSET', K_conf, 'full_until', t, 'full_card', redis.call('ZCARD', K_act))\n" \
    "  end\n" \
    "  return admitted\n" \
    "end\n" \
    "local function describe(code, tok)\n" \
    "  local user = redis.call('HGET', K_tok, tok)\n" \
    "  if not user then return {'INVALID'} end\n" \
    "  local shown_opens = before_open and opens_ms or 0\n" \
    "  local exp = redis.call('ZSCORE', K_act, tok)\n" \
    "  if exp then\n" \
    "    if tonumber(exp) <= now then return {'INVALID'} end\n" \
    "    return {code, user, 'ACTIVE', 0, tonumber(exp), 0, 0, now, limit, active_ms, 0, idle_ms, shown_opens}\n" \
    "  end\n" \
    "  if before_open and redis.call('ZSCORE', K_pre, tok) then\n" \
    "    local first = redis.call('ZRANGE', K_pre, 0, 0, 'WITHSCORES')\n" \
    "    return {code, user, 'PRE', 0, 0, 0, tonumber(first[2] or now), now, limit, active_ms,\n" \
    "            redis.call('ZCARD', K_pre), idle_ms, shown_opens}\n" \
    "  end\n" \
    "  local rank = redis.call('ZRANK', K_wait, tok)\n" \
    "  if not rank then return {'INVALID'} end\n" \
    "  if not adm_n then\n" \
    "    local first = redis.call('ZRANGE', K_adm, 0, 0, 'WITHSCORES')\n" \
    "    adm_n, adm_since = redis.call('ZCARD', K_adm), tonumber(first[2] or '0')\n" \
    "    redis.call('HSET', K_conf, 'adm_n', adm_n, 'adm_since', adm_since)\n" \
    "  end\n" \
    "  return {code, user, 'WAITING', rank + 1, 0, adm_n, adm_since, now, limit, active_ms,\n" \
    "          redis.call('ZCARD', K_wait), idle_ms, shown_opens}\n" \
    "end\n"

/* ARGV: userId, new token. */
static struct rds_script enter_script = {"queue_enter", QUEUE_LUA_PRELUDE
    "sweep(" QUEUE_SWEEP_BATCH ")\n"
    "local tok = redis.call('HGET', K_usr, ARGV[1])\n"
    "local why = tok and over(tok)\n"
    "if why then drop(tok, why); tok = nil end\n"
    "if tok and (redis.call('ZSCORE', K_act, tok) or redis.call('ZSCORE', K_wait, tok) or\n"
    "            redis.call('ZSCORE', K_pre, tok)) then\n"
    "  redis.call('ZADD', K_seen, 'XX', now, tok)\n"
    "  admit(nil)\n"
    "  local d = describe('OK', tok); table.insert(d, tok); return done(d)\n"
    "end\n"
    "if tok then forget(tok) end\n"
    "tok = ARGV[2]\n"
    "redis.call('HSET', K_tok, tok, ARGV[1])\n"
    "redis.call('HSET', K_usr, ARGV[1], tok)\n"
    "if before_open then\n"
    "  redis.call('ZADD', K_pre, now, tok)\n"
    "  emit('queue.joined', tok, {preQueue = true})\n"
    "  local d = describe('CREATED', tok); table.insert(d, tok); return done(d)\n"
    "end\n"
    "redis.call('ZADD', K_wait, redis.call('INCR', K_seq), tok)\n"
    "redis.call('ZADD', K_seen, now, tok); due(now + idle_ms)\n"
    "emit('queue.joined', tok, {preQueue = false})\n"
    "admit(tok)\n"
    "local d = describe('CREATED', tok); table.insert(d, tok); return done(d)\n", ""};

/* ARGV: token. A poll counts as activity only for a waiter not yet dropped:
 * one already idle past its limit is ended before the poll could revive it. */
static struct rds_script status_script = {"queue_status", QUEUE_LUA_PRELUDE
    "sweep(" QUEUE_SWEEP_BATCH ")\n"
    "local why = over(ARGV[1])\n"
    "if why then drop(ARGV[1], why) end\n"
    /* Last seen at the opening itself (the opening marks every pre-queued
     * token seen then): this is its first look at its place. */
    "local last = opened and redis.call('ZSCORE', K_seen, ARGV[1])\n"
    "local first_look = last and tonumber(last) == opened_mark\n"
    "redis.call('ZADD', K_seen, 'XX', now, ARGV[1])\n"
    "admit(nil)\n"
    "local d = describe(first_look and 'FIRST' or 'OK', ARGV[1]); table.insert(d, ARGV[1]); return done(d)\n", ""};

/* ARGV: token, why it ends ('paid', 'logout'). Returns {'OK', live,
 * admitted, user}: live is 1 when the token was waiting, pre-queued or
 * ACTIVE within its period (ending one already over changes nothing). A
 * logout's end is remembered in {c:C}:logged-out until queue_end_done, so a
 * logout retried after PostgreSQL failed to cancel the token's holds still
 * hears that it was live. */
static struct rds_script end_script = {"queue_end", QUEUE_LUA_PRELUDE
    "local user = redis.call('HGET', K_tok, ARGV[1])\n"
    "local live = user and not over(ARGV[1]) and (redis.call('ZSCORE', K_act, ARGV[1]) or\n"
    "  redis.call('ZSCORE', K_wait, ARGV[1]) or redis.call('ZSCORE', K_pre, ARGV[1])) and 1 or 0\n"
    "if user then emit('queue.ended', ARGV[1], {reason = ARGV[2]}) end\n"
    "redis.call('ZREM', K_act, ARGV[1]); redis.call('ZREM', K_wait, ARGV[1]); redis.call('ZREM', K_pre, ARGV[1])\n"
    "redis.call('ZREM', K_seen, ARGV[1]); forget(ARGV[1])\n"
    "if ARGV[2] == 'logout' then\n"
    "  if live == 1 then\n"
    "    redis.call('HSET', K_out, ARGV[1], user); redis.call('PEXPIRE', K_out, 86400000)\n"
    "  else\n"
    "    local was = redis.call('HGET', K_out, ARGV[1])\n"
    "    if was then live, user = 1, was end\n"
    "  end\n"
    "end\n"
    "sweep(" QUEUE_SWEEP_BATCH ")\n"
    "return done({'OK', live, admit(nil), user or ''})\n", ""};

/* ARGV: how many tokens to sweep at most. */
static struct rds_script sweep_script = {"queue_sweep", QUEUE_LUA_PRELUDE
    "sweep(tonumber(ARGV[1]), true)\n"
    "local admitted = admit(nil)\n"
    "return done({'OK', dropped, admitted})\n", ""};

/* What an operator watches: counts after a sweep and an admission, as any
 * poll would leave them. */
static struct rds_script view_script = {"queue_view", QUEUE_LUA_PRELUDE
    "sweep(" QUEUE_SWEEP_BATCH ")\n"
    "admit(nil)\n"
    "redis.call('ZREMRANGEBYSCORE', K_recent, '-inf', now - 60000)\n"
    "return done({'OK', redis.call('ZCARD', K_wait), redis.call('ZCOUNT', K_act, '(' .. now, '+inf'),\n"
    "             redis.call('ZCARD', K_recent), paused and 1 or 0, redis.call('ZCARD', K_pre),\n"
    "             before_open and opens_ms or 0})\n", ""};

/* The opening of the pre-queue: the pre-queued tokens, in the order given
 * (a uniformly random one, drawn in C from getrandom), go to the line ahead
 * of everyone who comes later, once. Refused when it already happened, or
 * when the pre-queue is not the set the order was drawn from. Every token
 * is marked seen a millisecond before the opening, and "opened" keeps that
 * mark: a token last seen at the mark has not looked at its place yet (a
 * poll in the opening's own millisecond is seen after it).
 * KEYS: waiting, seen, seq, pre, opened. ARGV: n, then the n tokens. */
static struct rds_script open_script = {"queue_open",
    "if redis.call('EXISTS', KEYS[5]) == 1 then return {'ALREADY'} end\n"
    "local n = tonumber(ARGV[1])\n"
    "if redis.call('ZCARD', KEYS[4]) ~= n or #ARGV ~= n + 1 then return {'CHANGED'} end\n"
    "local clock = redis.call('TIME')\n"
    "local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)\n"
    "local mark = now - 1\n"
    "local base = redis.call('INCRBY', KEYS[3], n) - n\n"
    "for i = 1, n, 500 do\n"
    "  local places, seen = {}, {}\n"
    "  for k = i, math.min(i + 499, n) do\n"
    "    local tok = ARGV[k + 1]\n"
    "    if not redis.call('ZSCORE', KEYS[4], tok) then return redis.error_reply('not pre-queued: ' .. tok) end\n"
    "    places[#places + 1] = base + k; places[#places + 1] = tok\n"
    "    seen[#seen + 1] = mark; seen[#seen + 1] = tok\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[1], unpack(places))\n"
    "  redis.call('ZADD', KEYS[2], unpack(seen))\n"
    "end\n"
    "redis.call('DEL', KEYS[4])\n"
    "redis.call('SET', KEYS[5], mark)\n"
    "return {'OPENED', n}\n", ""};

/* What the metrics show of a concert's queue, read only.
 * KEYS: pre, waiting, active, admissions. */
static struct rds_script gauges_script = {"queue_gauges",
    "local clock = redis.call('TIME')\n"
    "local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)\n"
    "return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),\n"
    "        redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf'), tonumber(redis.call('GET', KEYS[4]) or '0')}\n", ""};

/* The cheap path of queue_require_active: an ACTIVE token within its period
 * is all a guarded request needs, so this reads two keys and sweeps nothing.
 * Anything else (waiting, run out, unknown) goes through the status script,
 * which sweeps, admits and answers with the full picture.
 * KEYS: active, tokens. ARGV: token. */
static struct rds_script active_script = {"queue_active",
    QUEUE_LUA_NOW
    QUEUE_LUA_ACTIVE_OR_MISS("KEYS[1]", "KEYS[2]", "ARGV[1]")
    "return {'ACTIVE', user, tonumber(exp)}\n", ""};

/* KEYS: conf. ARGV: 'missing', or limit, active_ms, idle_ms, per_minute
 * (0: no cap), paused (0/1), opens_ms (0: open at once), hold_ms. */
static struct rds_script fill_script = {"queue_fill",
    "redis.call('DEL', KEYS[1])\n"
    "if ARGV[1] == 'missing' then\n"
    "  redis.call('HSET', KEYS[1], 'missing', '1'); redis.call('PEXPIRE', KEYS[1], 10000)\n"
    "else\n"
    "  local clock = redis.call('TIME')\n"
    "  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)\n"
    "  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'active_ms', ARGV[2], 'idle_ms', ARGV[3],\n"
    "             'per_minute', ARGV[4], 'paused', ARGV[5], 'opens_ms', ARGV[6], 'hold_ms', ARGV[7],\n"
    "             'fresh_until', now + " QUEUE_FACTS_FRESH_MS ")\n"
    "  redis.call('PEXPIRE', KEYS[1], " QUEUE_FACTS_TTL_MS ")\n"
    "end\n"
    "return 1\n", ""};

struct queue_keys {
    char key[QUEUE_NKEYS][48];
    const char *argv[QUEUE_NKEYS + 2];
};

static void queue_keys_for(int64_t concert_id, struct queue_keys *k)
{
    static const char *const names[QUEUE_NKEYS] = {
        "conf", "waiting", "seen", "active", "tokens", "users", "seq", "admits", "recent", "pre", "opened",
        "admissions", "queue-events", "event-seq", "logged-out"};

    for (int i = 0; i < QUEUE_NKEYS; i++) {
        queue_key_name(concert_id, names[i], k->key[i], sizeof k->key[i]);
        k->argv[i] = k->key[i];
    }
}

void queue_key_name(int64_t concert_id, const char *what, char *out, size_t size)
{
    snprintf(out, size, "{c:%" PRId64 "}:%s", concert_id, what);
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
    argv[0] = k->key[0];
    if (PQntuples(res) == 0) {
        argv[1] = "missing";
        reply = rds_eval(&fill_script, 1, 2, argv);
        rc = QUEUE_NO_CONCERT;
    } else {
        argv[1] = PQgetvalue(res, 0, 0);
        argv[2] = PQgetvalue(res, 0, 1);
        argv[3] = PQgetvalue(res, 0, 2);
        argv[4] = PQgetvalue(res, 0, 3);
        argv[5] = PQgetvalue(res, 0, 4);
        argv[6] = PQgetvalue(res, 0, 5);
        argv[7] = PQgetvalue(res, 0, 6);
        reply = rds_eval(&fill_script, 1, 8, argv);
    }
    PQclear(res);
    if (!reply)
        return QUEUE_REDIS_DOWN;
    freeReplyObject(reply);
    return rc;
}

/* Opens the pre-queue: reads the pre-queued tokens, shuffles them with
 * getrandom and hands the order to the open script, which applies it once.
 * A run that finds the pre-queue changed under it (it cannot grow once the
 * opening time has come, so this is rare) draws again. */
static queue_rc queue_open_keys(const struct queue_keys *k)
{
    const char *pre_queue = k->key[9];

    for (int attempt = 0; attempt < 3; attempt++) {
        const char *range[] = {"ZRANGE", k->key[9], "0", "-1"};
        redisReply *pre = rds_command(4, range, NULL);
        redisReply *reply;
        const char **argv;
        char count[24];
        size_t n;
        int changed;

        if (!pre)
            return QUEUE_REDIS_DOWN;
        if (pre->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(pre);
            return QUEUE_REDIS_DOWN;
        }
        n = pre->elements;
        argv = malloc(sizeof *argv * (n + 6));
        if (!argv) {
            log_error("queue_open: out of memory for %zu tokens", n);
            freeReplyObject(pre);
            return QUEUE_REDIS_DOWN;
        }
        argv[0] = k->key[1];   /* waiting */
        argv[1] = k->key[2];   /* seen */
        argv[2] = k->key[6];   /* seq */
        argv[3] = k->key[9];   /* pre */
        argv[4] = k->key[10];  /* opened */
        snprintf(count, sizeof count, "%zu", n);
        argv[5] = count;
        for (size_t i = 0; i < n; i++)
            argv[6 + i] = pre->element[i]->type == REDIS_REPLY_STRING ? pre->element[i]->str : "";
        if (rand_shuffle(argv + 6, n) < 0) {
            log_error("queue_open: getrandom failed");
            free(argv);
            freeReplyObject(pre);
            return QUEUE_REDIS_DOWN;
        }
        reply = rds_eval(&open_script, 5, (int)(n + 6), argv);
        free(argv);
        freeReplyObject(pre);
        if (!reply)
            return QUEUE_REDIS_DOWN;
        changed = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                  reply->element[0]->type == REDIS_REPLY_STRING && strcmp(reply->element[0]->str, "CHANGED") == 0;
        if (!changed && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply->element[1]->type == REDIS_REPLY_INTEGER)
            log_info("queue: %s opened: %lld tokens in random order", pre_queue,
                     (long long)reply->element[1]->integer);
        freeReplyObject(reply);
        if (!changed)
            return QUEUE_OK;
    }
    log_error("queue_open: the pre-queue kept changing");
    return QUEUE_REDIS_DOWN;
}

queue_rc queue_open(int64_t concert_id)
{
    struct queue_keys k;

    queue_keys_for(concert_id, &k);
    return queue_open_keys(&k);
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
            freeReplyObject(reply);
            rc = queue_open_keys(&k);
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

/* Reads a describe() reply (with the token appended) into a ticket. */
static queue_rc queue_ticket_from(redisReply *reply, int64_t concert_id, struct queue_ticket *t)
{
    redisReply **e = reply->element;

    if (strcmp(e[0]->str, "INVALID") == 0)
        return QUEUE_TOKEN_INVALID;
    if (reply->elements != 14 || e[1]->type != REDIS_REPLY_STRING || e[2]->type != REDIS_REPLY_STRING ||
        e[13]->type != REDIS_REPLY_STRING || e[1]->len >= sizeof t->user_id ||
        e[13]->len > QUEUE_TOKEN_ID_MAX) {
        log_error("queue: malformed ticket reply");
        return QUEUE_REDIS_DOWN;
    }
    memset(t, 0, sizeof *t);
    t->created = strcmp(e[0]->str, "CREATED") == 0;
    t->first_look = t->created || strcmp(e[0]->str, "FIRST") == 0;
    memcpy(t->user_id, e[1]->str, e[1]->len);
    memcpy(t->id, e[13]->str, e[13]->len);
    if (queue_token_sign(t->id, t->token) < 0)
        return QUEUE_REDIS_DOWN;
    t->concert_id = concert_id;
    t->state = strcmp(e[2]->str, "ACTIVE") == 0 ? QUEUE_ACTIVE : QUEUE_WAITING;
    t->position = reply_int(e[3]);
    t->expires_ms = reply_int(e[4]);
    t->opens_ms = reply_int(e[12]);
    if (strcmp(e[2]->str, "PRE") == 0) {
        /* In the pre-queue: no place yet; a random moment in the window
         * (queue_pre_poll_window), so the crowd's polls spread over it.
         * A user told the longest wait keeps that rhythm until the opening
         * comes within reach. */
        int64_t until = (t->opens_ms - reply_int(e[7]) + 999) / 1000, low, high;
        int near = queue_pre_poll_window(until, reply_int(e[10]), reply_int(e[7]) - reply_int(e[6]),
                                         reply_int(e[11]), &low, &high);
        t->position = -1;
        t->estimated_wait_s = until > 0 ? until : 0;
        if (!near && !t->created)
            t->poll_after_s = high;
        else if (rand_between(low, high, &t->poll_after_s) < 0)
            t->poll_after_s = high;
    } else if (t->state == QUEUE_ACTIVE) {
        /* Nothing to wait for: a poll only notices the end sooner. */
        int64_t left_s = (t->expires_ms - reply_int(e[7])) / 1000;
        t->estimated_wait_s = 0;
        t->poll_after_s = left_s < 1 ? 1 : left_s > QUEUE_POLL_MAX_S ? QUEUE_POLL_MAX_S : left_s;
    } else {
        double rate = queue_admission_rate(reply_int(e[5]), reply_int(e[6]), reply_int(e[7]), reply_int(e[8]),
                                           reply_int(e[9]));
        int64_t spread;
        t->estimated_wait_s = queue_estimate(t->position, rate);
        t->poll_after_s = queue_poll_after(t->position, reply_int(e[10]), rate, reply_int(e[11]));
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

queue_rc queue_enter(int64_t concert_id, const char *user_id, struct queue_ticket *out)
{
    char id[QUEUE_TOKEN_ID_MAX + 1];
    const char *args[2];
    redisReply *reply;
    queue_rc rc;

    if (queue_token_new_id(concert_id, id) < 0)
        return QUEUE_REDIS_DOWN;
    args[0] = user_id;
    args[1] = id;
    rc = queue_run(&enter_script, concert_id, 2, args, &reply);
    if (rc != QUEUE_OK)
        return rc;
    rc = queue_ticket_from(reply, concert_id, out);
    freeReplyObject(reply);
    return rc;
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
    rc = queue_run(&status_script, concert_id, 1, args, &reply);
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
    rc = queue_run(&end_script, concert_id, 2, args, &reply);
    if (rc == QUEUE_NO_CONCERT)
        return QUEUE_OK;   /* nothing of it left to end */
    if (rc != QUEUE_OK)
        return rc;
    e = reply->element;
    if (reply->elements != 4 || e[3]->type != REDIS_REPLY_STRING || e[3]->len > 36) {
        log_error("queue_end: unexpected reply");
        freeReplyObject(reply);
        return QUEUE_REDIS_DOWN;
    }
    if (was_live && reply_int(e[1]) == 1 && e[3]->len == 36) {
        *was_live = 1;
        memcpy(user_id, e[3]->str, 37);
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
    char key[48];
    const char *argv[] = {"HDEL", key, id};
    int64_t concert_id;
    redisReply *reply;

    if (queue_token_concert(id, &concert_id) < 0)
        return;
    queue_key_name(concert_id, "logged-out", key, sizeof key);
    reply = rds_command(3, argv, NULL);
    if (reply)
        freeReplyObject(reply);
}

queue_rc queue_sweep(int64_t concert_id, int64_t *dropped, int64_t *admitted)
{
    const char *args[] = {QUEUE_SWEEP_BATCH};
    redisReply *reply;
    queue_rc rc = queue_run(&sweep_script, concert_id, 1, args, &reply);

    *dropped = *admitted = 0;
    if (rc != QUEUE_OK)
        return rc;
    if (reply->elements == 3) {
        *dropped = reply_int(reply->element[1]);
        *admitted = reply_int(reply->element[2]);
    }
    freeReplyObject(reply);
    return QUEUE_OK;
}

queue_rc queue_view(int64_t concert_id, struct queue_counts *out)
{
    redisReply *reply;
    queue_rc rc = queue_run(&view_script, concert_id, 0, NULL, &reply);

    memset(out, 0, sizeof *out);
    if (rc != QUEUE_OK)
        return rc;
    if (reply->elements != 7) {
        log_error("queue_view: unexpected reply");
        freeReplyObject(reply);
        return QUEUE_REDIS_DOWN;
    }
    out->waiting = reply_int(reply->element[1]);
    out->active = reply_int(reply->element[2]);
    out->admitted_last_minute = reply_int(reply->element[3]);
    out->paused = reply_int(reply->element[4]) != 0;
    out->pre_queue = reply_int(reply->element[5]);
    out->opens_ms = reply_int(reply->element[6]);
    freeReplyObject(reply);
    return QUEUE_OK;
}

queue_rc queue_gauges(int64_t concert_id, struct queue_gauges *out)
{
    struct queue_keys k;
    const char *argv[4];
    redisReply *reply;

    memset(out, 0, sizeof *out);
    queue_keys_for(concert_id, &k);
    argv[0] = k.key[9];    /* pre */
    argv[1] = k.key[1];    /* waiting */
    argv[2] = k.key[3];    /* active */
    argv[3] = k.key[11];   /* admissions */
    reply = rds_eval(&gauges_script, 4, 4, argv);
    if (!reply)
        return QUEUE_REDIS_DOWN;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        freeReplyObject(reply);
        return QUEUE_REDIS_DOWN;
    }
    out->pre_queue = reply_int(reply->element[0]);
    out->waiting = reply_int(reply->element[1]);
    out->active = reply_int(reply->element[2]);
    out->admissions = reply_int(reply->element[3]);
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
    char key[48];
    const char *argv[] = {"DEL", key};
    redisReply *reply;

    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert_id);
    reply = rds_command(2, argv, NULL);
    if (reply)
        freeReplyObject(reply);
}

void queue_reply_error(struct request *r, queue_rc rc)
{
    switch (rc) {
    case QUEUE_NO_CONCERT:
        http_error(r, 404, "NOT_FOUND", "no such concert");
        break;
    case QUEUE_TOKEN_INVALID:
        outcome_answer(r, "token_invalid", NULL);
        break;
    case QUEUE_NOT_ACTIVE:
        outcome_answer(r, "token_not_active", NULL);
        break;
    case QUEUE_WRONG_CONCERT:
        outcome_answer(r, "wrong_concert", NULL);
        break;
    case QUEUE_PG_DOWN:
        http_unavailable(r, "PostgreSQL");
        break;
    case QUEUE_REDIS_DOWN:
    default:
        http_unavailable(r, "Redis");
        break;
    }
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
    argv[0] = k.key[3];   /* active */
    argv[1] = k.key[4];   /* tokens */
    argv[2] = id;
    reply = rds_eval(&active_script, 2, 3, argv);
    if (!reply)
        return QUEUE_REDIS_DOWN;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
        reply->element[0]->type == REDIS_REPLY_STRING && strcmp(reply->element[0]->str, "ACTIVE") == 0 &&
        reply->element[1]->type == REDIS_REPLY_STRING && reply->element[1]->len < sizeof t->user_id &&
        strlen(token) <= QUEUE_TOKEN_MAX) {
        memset(t, 0, sizeof *t);
        memcpy(t->user_id, reply->element[1]->str, reply->element[1]->len);
        memcpy(t->token, token, strlen(token));
        memcpy(t->id, id, strlen(id) + 1);
        t->concert_id = concert_id;
        t->state = QUEUE_ACTIVE;
        t->expires_ms = reply_int(reply->element[2]);
        rc = QUEUE_OK;
    }
    freeReplyObject(reply);
    return rc;
}

const char *queue_bearer(struct request *r)
{
    const char *token = http_bearer(r);

    if (!token)
        outcome_answer(r, "token_missing", NULL);
    return token;
}

int queue_require_active(struct request *r, int64_t concert_id, struct queue_ticket *t)
{
    const char *token = queue_bearer(r);
    queue_rc rc;

    if (!token)
        return -1;
    rc = queue_active(token, t);
    if (rc == QUEUE_TOKEN_INVALID)
        rc = queue_status(token, t);
    /* Found in Redis: its concert is real, and the request is about it (the
     * metrics' label, the request log). Never the text of a token not
     * found: anyone can write any concert there. */
    if (rc == QUEUE_OK)
        r->concert_id = t->concert_id;
    if (rc == QUEUE_OK && concert_id != 0 && t->concert_id != concert_id)
        rc = QUEUE_WRONG_CONCERT;
    if (rc == QUEUE_OK && t->state != QUEUE_ACTIVE)
        rc = QUEUE_NOT_ACTIVE;
    if (rc != QUEUE_OK) {
        queue_reply_error(r, rc);
        return -1;
    }
    return 0;
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
