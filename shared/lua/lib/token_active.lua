-- token_active.lua - the queue's cheap token check, for the scripts whose
-- KEYS[1] is the concert's active set ({c:C}:active), KEYS[2] its token
-- owners ({c:C}:tokens) and ARGV[1] a token id. Returns {'MISS'} unless the
-- token is ACTIVE within its period (anything else goes to the full check:
-- guard_queue_active, queue_check), and sets `exp` (its end, ms) and
-- `user`. Needs `now` (clock.lua).
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp or tonumber(exp) <= now then return {'MISS'} end
local user = redis.call('HGET', KEYS[2], ARGV[1])
if not user then return {'MISS'} end
