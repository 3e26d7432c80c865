-- queue_view.lua - what an operator watches: counts after a sweep and an
-- admission, as any poll would leave them.
-- KEYS: the queue keys (queue_prelude.lua). No ARGV.
-- Answers {'OK', waiting, active, admitted in the last minute, paused (0/1),
-- pre-queued, the opening (ms, while it is ahead; else 0)}.
--@include lib/queue_prelude.lua
sweep(SWEEP_BATCH)
admit(nil)
redis.call('ZREMRANGEBYSCORE', K_recent, '-inf', now - 60000)
return done({'OK', redis.call('ZCARD', K_wait), redis.call('ZCOUNT', K_act, '(' .. now, '+inf'),
             redis.call('ZCARD', K_recent), paused and 1 or 0, redis.call('ZCARD', K_pre),
             before_open and opens_ms or 0})
