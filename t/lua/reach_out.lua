-- reach_out.lua - sets its key, then one it was not given (t/2b: a service
-- script reaching for a key of another slot is refused).
-- KEYS: the key. ARGV: the key it reaches for.
redis.call('SET', KEYS[1], 1)
return redis.call('SET', ARGV[1], 1)
