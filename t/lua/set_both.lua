-- set_both.lua - sets two keys in one script (t/2b: refused when the keys
-- live in two cluster slots, run when they share a hash tag).
-- KEYS: the two keys. Answers 1.
redis.call('SET', KEYS[1], 1)
redis.call('SET', KEYS[2], 1)
return 1
