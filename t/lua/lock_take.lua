-- lock_take.lua - takes a lock if it is free (testlib's t_hold_cron_lock and
-- t/29: the test holds the cron program's lock to keep its runs away).
-- KEYS: the lock. ARGV: the owner, its lifetime in ms. 1 when taken, else 0.
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
