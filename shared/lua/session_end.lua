-- session_end.lua - a logout.
-- KEYS: session, its overflow set of tokens, the tokens still to end. Ends
-- the session and moves its tokens (the ids after the userId in its value,
-- and those of the overflow set: session_attach_token.lua) to the ones
-- still to end, which it answers; nil when there was no session and
-- nothing left to end (a logout retried after an outage finishes its
-- work).
--@include lib/session_times.lua
local v = redis.call('GET', KEYS[1])
local ended = redis.call('DEL', KEYS[1]) == 1
local ids = {}
local first = v and string.find(v, ',', 1, true)
if first then
  for id in string.gmatch(string.sub(v, first + 1), '[^,]+') do ids[#ids + 1] = id end
end
if #ids > 0 then
  redis.call('SADD', KEYS[3], unpack(ids))
  redis.call('EXPIRE', KEYS[3], SESSION_TOKENS_TTL)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SUNIONSTORE', KEYS[3], KEYS[3], KEYS[2]); redis.call('DEL', KEYS[2])
  redis.call('EXPIRE', KEYS[3], SESSION_TOKENS_TTL)
end
if not ended and redis.call('EXISTS', KEYS[3]) == 0 then return false end
return redis.call('SMEMBERS', KEYS[3])
