-- queue_open.lua - the opening of the pre-queue: the pre-queued tokens, in
-- the order given (a uniformly random one, drawn in C from getrandom), go to
-- the line ahead of everyone who comes later, once. Refused when it already
-- happened, or when the pre-queue is not the set the order was drawn from.
-- Every token is marked seen a millisecond before the opening, and "opened"
-- keeps that mark: a token last seen at the mark has not looked at its place
-- yet (a poll in the opening's own millisecond is seen after it).
-- KEYS: waiting, seen, seq, pre, opened. ARGV: n, then the n tokens.
-- Answers {'OPENED', n}, {'ALREADY'} or {'CHANGED'}.
if redis.call('EXISTS', KEYS[5]) == 1 then return {'ALREADY'} end
local n = tonumber(ARGV[1])
if redis.call('ZCARD', KEYS[4]) ~= n or #ARGV ~= n + 1 then return {'CHANGED'} end
--@include lib/clock.lua
local mark = now - 1
local base = redis.call('INCRBY', KEYS[3], n) - n
for i = 1, n, 500 do
  local places, seen = {}, {}
  for k = i, math.min(i + 499, n) do
    local tok = ARGV[k + 1]
    if not redis.call('ZSCORE', KEYS[4], tok) then return redis.error_reply('not pre-queued: ' .. tok) end
    places[#places + 1] = base + k; places[#places + 1] = tok
    seen[#seen + 1] = mark; seen[#seen + 1] = tok
  end
  redis.call('ZADD', KEYS[1], unpack(places))
  redis.call('ZADD', KEYS[2], unpack(seen))
end
redis.call('DEL', KEYS[4])
redis.call('SET', KEYS[5], mark)
return {'OPENED', n}
