-- queue_fill.lua - caches a concert's facts from PostgreSQL in {c:C}:conf.
-- They are kept an hour, so the queue goes on by the facts it has while
-- PostgreSQL is down, and read again once a second (FACTS_FRESH_MS).
-- KEYS: conf. ARGV: 'missing' (no such concert: kept 10 s), or limit,
-- active_ms, idle_ms, per_minute (0: no cap), paused (0/1), opens_ms (0:
-- open at once), hold_ms. Answers 1.
local FACTS_TTL_MS = 3600000
redis.call('DEL', KEYS[1])
if ARGV[1] == 'missing' then
  redis.call('HSET', KEYS[1], 'missing', '1'); redis.call('PEXPIRE', KEYS[1], 10000)
else
  --@include lib/clock.lua
  --@include lib/queue_facts.lua
  redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'active_ms', ARGV[2], 'idle_ms', ARGV[3],
             'per_minute', ARGV[4], 'paused', ARGV[5], 'opens_ms', ARGV[6], 'hold_ms', ARGV[7],
             'fresh_until', now + FACTS_FRESH_MS)
  redis.call('PEXPIRE', KEYS[1], FACTS_TTL_MS)
end
return 1
