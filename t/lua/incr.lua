-- incr.lua - adds one to a key and answers its value (t/2n: the script
-- whose EVALSHA is routed by its key's slot, timed one Redis against the
-- cluster, and sent again after SCRIPT FLUSH).
-- KEYS: the counter.
return redis.call('INCR', KEYS[1])
