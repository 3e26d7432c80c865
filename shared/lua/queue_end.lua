-- queue_end.lua - ends a token (paid for, or its session logged out) and
-- admits the next waiting user.
-- KEYS: the queue keys (queue_prelude.lua). ARGV: the token id, why it ends
-- ('paid', 'logout').
-- Answers {'OK', live, admitted, userId or ''}: live is 1 when the token was
-- waiting, pre-queued or ACTIVE within its period (ending one already over
-- changes nothing). A logout's end is remembered in {c:C}:logged-out until
-- queue_end_done, so a logout retried after PostgreSQL failed to cancel the
-- token's holds still hears that it was live. A logout's end of an id the
-- queue does not hold is remembered there too, with no user: a token issue
-- tells its session the id before it asks the queue for it
-- (session_take_token.lua), and queue_enter.lua refuses an id a logout has
-- already ended.
--@include lib/queue_prelude.lua
local user = redis.call('HGET', K_tok, ARGV[1])
local live = user and not over(ARGV[1]) and (redis.call('ZSCORE', K_act, ARGV[1]) or
  redis.call('ZSCORE', K_wait, ARGV[1]) or redis.call('ZSCORE', K_pre, ARGV[1])) and 1 or 0
if user then emit('queue.ended', ARGV[1], {reason = ARGV[2]}) end
redis.call('ZREM', K_act, ARGV[1]); redis.call('ZREM', K_wait, ARGV[1]); redis.call('ZREM', K_pre, ARGV[1])
redis.call('ZREM', K_seen, ARGV[1]); forget(ARGV[1])
if ARGV[2] == 'logout' then
  if live == 1 then
    redis.call('HSET', K_out, ARGV[1], user); redis.call('PEXPIRE', K_out, 86400000)
  else
    local was = redis.call('HGET', K_out, ARGV[1])
    if was and was ~= '' then
      live, user = 1, was
    elseif not was and not user then
      redis.call('HSET', K_out, ARGV[1], ''); redis.call('PEXPIRE', K_out, 86400000)
    end
  end
end
sweep(SWEEP_BATCH)
return done({'OK', live, admit(nil), user or ''})
