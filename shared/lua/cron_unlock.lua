-- cron_unlock.lua - ends a cron run.
-- KEYS: the cron's lock. ARGV: the run's owner. Deletes the lock only while
-- it is the run's own (one that ran out may be another run's now).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
