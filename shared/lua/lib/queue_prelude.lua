-- queue_prelude.lua - the shared head of every queue script (queue_enter,
-- queue_status, queue_end, queue_sweep, queue_view): names the keys, reads
-- the concert's cached facts and Redis's clock, and defines sweep, admit and
-- describe. Answers {'NOCONCERT'} for an unknown concert, {'NOCONF'} when the
-- facts are not cached (the caller reads them and runs the script again) and
-- {'OPEN'} when the pre-queue is due to open (the caller opens it,
-- queue_open, and runs the script again); a reply whose first word starts
-- with '+' (done()) asks the caller to read the facts again.
--
-- KEYS, in this order (enum queue_key in shared/keyspace.h, which names
-- them; every key carries the concert's hash tag {c:C}):
--    1 conf        2 waiting     3 seen        4 active      5 tokens
--    6 users       7 seq         8 admits      9 recent     10 pre
--   11 opened     12 admissions 13 queue-events            14 event-seq
--   15 logged-out
-- then each script's own ARGV.
--
-- A sweep ends at most SWEEP_BATCH run-out tokens and as many idle waiters
-- a call, so more may be stored than it reached: every reader therefore
-- compares end times itself. A token whose active period has ended or a
-- waiter idle past waitingIdleSeconds is over (over(), idle()) whether or
-- not a sweep has removed it yet: it is not ACTIVE, not "a live token",
-- holds no slot and is never admitted.
--
-- So a poll need not pay for work that is not there. The cached facts keep
-- two times: sweep_at, when the first stored token can run out or go idle
-- (or the oldest admission leave the ten-minute window), and full_until,
-- before which no slot can free itself (the first live token ends, or the
-- per-minute cap's oldest admission leaves its minute) unless a token
-- leaves the active set (finish), which full_card (the set's size then)
-- tells. Before those a sweep or an admission has nothing to do and is
-- skipped. Adding a token lowers sweep_at when it ends sooner; and every
-- refresh of the facts (at least once a second) clears both, so a missed
-- case costs at most a second's delay of a sweep's events or of an
-- admission, never a wrong answer. Two more facts spare a waiting token's
-- poll its reads of keys that rarely change: gate, 'free' once there is no
-- pre-queue left to open (it cannot grow again after opensAt) or the
-- opening's mark once it happened; adm_n and adm_since, the admissions of
-- the last ten minutes that the wait estimate counts, dropped whenever an
-- admission or a sweep changes them.
--
-- describe(code, tok) answers a token's ticket, read by queue.c's
-- queue_ticket_from (enum ticket_field there), in this order:
--   code, userId, state ('ACTIVE', 'PRE', 'OPENING' or 'WAITING'),
--   position (0 but while WAITING), end of the active period (ms; 0 but while ACTIVE),
--   admissions counted for the estimate, since when (ms; while PRE: the
--   first pre-queued arrival), now, limit, active_ms, the line's length
--   (WAITING: the waiting set and the pre-queue not yet placed; PRE: the
--   pre-queue; OPENING, a pre-queued token not placed yet while the
--   opening's steps go on: those left to place), idle_ms, the opening
--   (ms, while it is ahead; else 0)
-- or {'INVALID'} for a token that is not live; the scripts that answer a
-- ticket append the token id.
local K_conf, K_wait, K_seen, K_act = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_tok, K_usr, K_seq, K_adm = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_recent, K_pre, K_opened, K_admissions = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local K_events, K_eseq, K_out = KEYS[13], KEYS[14], KEYS[15]
-- Run-out tokens and idle waiters a sweep ends at most, and idle heads an
-- admission skips at most, a call.
local SWEEP_BATCH = 200
local conf = redis.call('HMGET', K_conf, 'limit', 'active_ms', 'idle_ms', 'missing', 'per_minute',
                        'paused', 'fresh_until', 'opens_ms', 'sweep_at', 'full_until',
                        'full_card', 'gate', 'adm_n', 'adm_since', 'opener')
if conf[4] then return {'NOCONCERT'} end
if not conf[1] or not conf[6] or not conf[8] then return {'NOCONF'} end
local limit, active_ms, idle_ms = tonumber(conf[1]), tonumber(conf[2]), tonumber(conf[3])
local per_minute, paused, opens_ms = tonumber(conf[5]), conf[6] == '1', tonumber(conf[8])
local sweep_at, full_until = tonumber(conf[9] or '0'), tonumber(conf[10] or '0')
local full_card = tonumber(conf[11] or '0')
local adm_n, adm_since = tonumber(conf[13] or ''), tonumber(conf[14] or '')
--@include clock.lua
--@include queue_facts.lua
local opened, before_open, opened_mark = false, false, nil
-- While the opening's steps go on (queue_open.lua): the arrival number the
-- places given so far end at, and how many pre-queued tokens are left to
-- place (every one of them ahead of anyone who came later).
local opening_until, opening_left = nil, 0
if conf[12] == 'free' then
elseif conf[12] then
  opened, opened_mark = true, tonumber(conf[12])
else
  local mark = redis.call('GET', K_opened)
  opened = mark ~= false
  before_open = not opened and opens_ms > 0 and now < opens_ms
  if opened and string.sub(mark, 1, 1) == '~' then
    local m, base, _, placed = string.match(mark, '^~(%d+):(%d+):(%d+):(%d+)$')
    opened_mark, opening_until = tonumber(m), tonumber(base) + tonumber(placed)
    opening_left = redis.call('ZCARD', K_pre)
  elseif opened then
    opened_mark = tonumber(mark); redis.call('HSET', K_conf, 'gate', mark)
  elseif not before_open then
    if redis.call('ZCARD', K_pre) > 0 then return {'OPEN'} end
    redis.call('HSET', K_conf, 'gate', 'free')
  end
end
local refresh = tonumber(conf[7] or '0') <= now
if refresh then redis.call('HSET', K_conf, 'fresh_until', now + FACTS_FRESH_MS) end
-- While the opening goes on, one request at a time (a second at most, if
-- it never comes back) is asked, by a '~' before the first word, to place
-- the next step of it once it has its answer (queue.c).
local function done(reply)
  if opening_until and tonumber(conf[15] or '0') <= now then
    redis.call('HSET', K_conf, 'opener', now + 1000)
    reply[1] = '~' .. reply[1]
  end
  if refresh then reply[1] = '+' .. reply[1] end
  return reply
end
local dropped = 0
--@include queue_events.lua
local function forget(tok)
  local user = redis.call('HGET', K_tok, tok)
  if user then
    redis.call('HDEL', K_tok, tok)
    if redis.call('HGET', K_usr, user) == tok then redis.call('HDEL', K_usr, user) end
  end
end
local function drop(tok, why)
  emit(why == 'idle' and 'queue.dropped' or 'queue.ended', tok, {reason = why})
  redis.call('ZREM', K_act, tok); redis.call('ZREM', K_wait, tok); redis.call('ZREM', K_seen, tok)
  redis.call('ZREM', K_pre, tok)
  forget(tok); dropped = dropped + 1
end
local function idle(tok)
  local seen = redis.call('ZSCORE', K_seen, tok)
  return seen and tonumber(seen) <= now - idle_ms
end
local function over(tok)
  local exp = redis.call('ZSCORE', K_act, tok)
  if exp then return tonumber(exp) <= now and 'expired' or nil end
  return idle(tok) and 'idle' or nil
end
local function due(t)
  if t < sweep_at then sweep_at = t; redis.call('HSET', K_conf, 'sweep_at', t) end
end
local function first_score(key)
  local f = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return f[2] and tonumber(f[2])
end
local function adm_moved()
  if adm_n then redis.call('HDEL', K_conf, 'adm_n', 'adm_since') end
  adm_n = nil
end
local function sweep(max, force)
  if now < sweep_at and not force then return end
  local gone = redis.call('ZRANGEBYSCORE', K_act, '-inf', now, 'LIMIT', 0, max)
  for _, tok in ipairs(gone) do drop(tok, 'expired') end
  local quiet = redis.call('ZRANGEBYSCORE', K_seen, '-inf', now - idle_ms, 'LIMIT', 0, max)
  for _, tok in ipairs(quiet) do drop(tok, 'idle') end
  if redis.call('ZREMRANGEBYSCORE', K_adm, '-inf', now - 600000) > 0 then adm_moved() end
  local nxt = now + 60000
  local a, s, d = first_score(K_act), first_score(K_seen), first_score(K_adm)
  if a then nxt = math.min(nxt, a) end
  if s then nxt = math.min(nxt, s + idle_ms) end
  if d then nxt = math.min(nxt, d + 600000) end
  sweep_at = nxt; redis.call('HSET', K_conf, 'sweep_at', nxt)
end
local function admit(fresh)
  if paused then return 0 end
  if now < full_until and redis.call('ZCARD', K_act) >= full_card then return 0 end
  local free = limit - redis.call('ZCOUNT', K_act, '(' .. now, '+inf')
  redis.call('ZREMRANGEBYSCORE', K_recent, '-inf', now - 60000)
  if per_minute > 0 then free = math.min(free, per_minute - redis.call('ZCARD', K_recent)) end
  local admitted, skipped = 0, 0
  while free > 0 and skipped < SWEEP_BATCH do
    -- During the opening only those already placed: the rest of the
    -- pre-queue goes ahead of anyone who came later.
    local heads = opening_until and redis.call('ZRANGEBYSCORE', K_wait, '-inf', opening_until, 'LIMIT', 0, free)
                  or redis.call('ZRANGE', K_wait, 0, free - 1)
    if #heads == 0 then break end
    for _, tok in ipairs(heads) do
      if idle(tok) then
        drop(tok, 'idle'); skipped = skipped + 1
      else
        redis.call('ZREM', K_wait, tok); redis.call('ZREM', K_seen, tok)
        redis.call('ZADD', K_act, now + active_ms, tok); due(now + active_ms)
        if tok ~= fresh then redis.call('ZADD', K_adm, now, tok); adm_moved() end
        redis.call('ZADD', K_recent, now, tok); redis.call('PEXPIRE', K_recent, 60000)
        emit('queue.admitted', tok, {expiresAt = iso(now + active_ms)})
        admitted = admitted + 1; free = free - 1
      end
    end
  end
  if admitted > 0 then redis.call('INCRBY', K_admissions, admitted) end
  if free <= 0 then
    local t = now + 60000
    local live = redis.call('ZRANGEBYSCORE', K_act, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if live[2] then t = math.min(t, tonumber(live[2])) end
    local r = per_minute > 0 and first_score(K_recent)
    if r then t = math.min(t, r + 60000) end
    full_until = t
    redis.call('HSET', K_conf, 'full_until', t, 'full_card', redis.call('ZCARD', K_act))
  end
  return admitted
end
local function describe(code, tok)
  local user = redis.call('HGET', K_tok, tok)
  if not user then return {'INVALID'} end
  local shown_opens = before_open and opens_ms or 0
  local exp = redis.call('ZSCORE', K_act, tok)
  if exp then
    if tonumber(exp) <= now then return {'INVALID'} end
    return {code, user, 'ACTIVE', 0, tonumber(exp), 0, 0, now, limit, active_ms, 0, idle_ms, shown_opens}
  end
  if opening_until and redis.call('ZSCORE', K_pre, tok) then
    return {code, user, 'OPENING', 0, 0, 0, 0, now, limit, active_ms, opening_left, idle_ms, 0}
  end
  if before_open and redis.call('ZSCORE', K_pre, tok) then
    local first = redis.call('ZRANGE', K_pre, 0, 0, 'WITHSCORES')
    return {code, user, 'PRE', 0, 0, 0, tonumber(first[2] or now), now, limit, active_ms,
            redis.call('ZCARD', K_pre), idle_ms, shown_opens}
  end
  local rank = redis.call('ZRANK', K_wait, tok)
  if not rank then return {'INVALID'} end
  if not adm_n then
    local first = redis.call('ZRANGE', K_adm, 0, 0, 'WITHSCORES')
    adm_n, adm_since = redis.call('ZCARD', K_adm), tonumber(first[2] or '0')
    redis.call('HSET', K_conf, 'adm_n', adm_n, 'adm_since', adm_since)
  end
  local line = redis.call('ZCARD', K_wait)
  if opening_until then
    line = line + opening_left
    if tonumber(redis.call('ZSCORE', K_wait, tok)) > opening_until then rank = rank + opening_left end
  end
  return {code, user, 'WAITING', rank + 1, 0, adm_n, adm_since, now, limit, active_ms,
          line, idle_ms, shown_opens}
end
