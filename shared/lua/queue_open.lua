-- queue_open.lua - one step of the opening of the pre-queue. The opening
-- places every pre-queued token in a uniformly random order ahead of
-- everyone who comes later, in steps short enough that no script stalls
-- Redis however many were pre-queued. The first step reserves the arrival
-- numbers base+1..base+n for the n pre-queued tokens (later arrivals take
-- numbers after them); each step then takes tokens out of the pre-queue by
-- index, an index drawn in C from getrandom uniformly among those left, and
-- gives them the next reserved numbers: a place once given is final, and
-- every place is given in order, so a token placed and polling during the
-- opening already sees its true position. While it goes on, "opened" holds
-- "~mark:base:n:placed" (queue_prelude.lua reads it); the last step sets it
-- to the mark alone. Every token is marked seen a millisecond before the
-- opening began, and "opened" keeps that mark: a token last seen at the mark
-- has not looked at its place yet.
-- KEYS: waiting, seen, seq, pre, opened, conf. ARGV: the number of tokens
-- the draws were made for (-1 to ask), then the draws: the i-th is an index
-- among those left, 0 .. left - i.
-- Answers {'STEP', left} (the draws were for another number, or more are
-- left: draw again for that many), {'OPENED', placed} or {'ALREADY'}.
local state = redis.call('GET', KEYS[5])
if state and string.sub(state, 1, 1) ~= '~' then return {'ALREADY'} end
--@include lib/clock.lua
local mark, base, n, placed
if state then
  local m, b, c, p = string.match(state, '^~(%d+):(%d+):(%d+):(%d+)$')
  mark, base, n, placed = tonumber(m), tonumber(b), tonumber(c), tonumber(p)
else
  n = redis.call('ZCARD', KEYS[4])
  mark, placed = now - 1, 0
  base = redis.call('INCRBY', KEYS[3], n) - n
end
local left = redis.call('ZCARD', KEYS[4])
local draws = #ARGV - 1
if tonumber(ARGV[1]) ~= left or draws > left then draws = 0 end
local places, seen = {}, {}
for i = 1, draws do
  local tok = redis.call('ZRANGE', KEYS[4], ARGV[i + 1], ARGV[i + 1])[1]
  redis.call('ZREM', KEYS[4], tok)
  placed = placed + 1
  places[#places + 1] = base + placed; places[#places + 1] = tok
  seen[#seen + 1] = mark; seen[#seen + 1] = tok
end
if draws > 0 then
  redis.call('ZADD', KEYS[1], unpack(places))
  redis.call('ZADD', KEYS[2], unpack(seen))
end
left = left - draws
-- The step is over: the next request may be asked to help (queue_prelude.lua).
redis.call('HDEL', KEYS[6], 'opener')
if left == 0 then
  redis.call('SET', KEYS[5], mark)
  return {'OPENED', placed}
end
redis.call('SET', KEYS[5], '~' .. mark .. ':' .. base .. ':' .. n .. ':' .. placed)
return {'STEP', left}
