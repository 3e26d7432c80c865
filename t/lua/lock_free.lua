-- lock_free.lua - gives a lock back if it is still the owner's (testlib's
-- t_free_cron_lock, t/29 and t/70: compare-and-delete, so a lock another
-- run took since is left alone).
-- KEYS: the lock. ARGV: the owner. 1 when deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0
