-- key_holds.lua - whether a string key holds a value (t/12: the session's
-- key names its user; t/70: a seat lock's owner).
-- KEYS: the key. ARGV: the value. 1 when the key holds it, else 0.
return redis.call('GET', KEYS[1]) == ARGV[1] and 1 or 0
