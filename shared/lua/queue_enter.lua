-- queue_enter.lua - issues a token for (user, concert), or answers the live
-- one the user has (asking again counts as a poll).
-- KEYS: the queue keys (queue_prelude.lua). ARGV: userId, a new token id.
-- Answers describe()'s ticket ('CREATED' for a new token, else 'OK') with
-- the token id appended, or {'ENDED'} when a logout has already ended the
-- new id (its session learnt it first: queue_end.lua).
--@include lib/queue_prelude.lua
sweep(SWEEP_BATCH)
local tok = redis.call('HGET', K_usr, ARGV[1])
local why = tok and over(tok)
if why then drop(tok, why); tok = nil end
if tok and (redis.call('ZSCORE', K_act, tok) or redis.call('ZSCORE', K_wait, tok) or
            redis.call('ZSCORE', K_pre, tok)) then
  redis.call('ZADD', K_seen, 'XX', now, tok)
  admit(nil)
  local d = describe('OK', tok); table.insert(d, tok); return done(d)
end
if tok then forget(tok) end
tok = ARGV[2]
if redis.call('HEXISTS', K_out, tok) == 1 then return done({'ENDED'}) end
redis.call('HSET', K_tok, tok, ARGV[1])
redis.call('HSET', K_usr, ARGV[1], tok)
if before_open then
  redis.call('ZADD', K_pre, now, tok)
  emit('queue.joined', tok, {preQueue = true})
  local d = describe('CREATED', tok); table.insert(d, tok); return done(d)
end
redis.call('ZADD', K_wait, redis.call('INCR', K_seq), tok)
redis.call('ZADD', K_seen, now, tok); due(now + idle_ms)
emit('queue.joined', tok, {preQueue = false})
admit(tok)
local d = describe('CREATED', tok); table.insert(d, tok); return done(d)
