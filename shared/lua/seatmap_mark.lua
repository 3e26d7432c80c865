-- seatmap_mark.lua - a hold, cancel, payment or expiry changes seats in the
-- map.
-- KEYS: the map, then the seats' locks when a hold's are to end with it.
-- ARGV: letter, until, owner, the locks' owner ('' none), seat numbers.
-- The locks still the hold's are set to end when the hold does, first (the
-- map may be missing; the locks are not the map's). A map that is missing,
-- or that does not know a seat, is dropped (its version kept); answers
-- {1 when the map was changed else 0, the map's version after}.
--@include lib/seatmap_times.lua
--@include lib/seatmap_drop.lua
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[4] then redis.call('PEXPIREAT', KEYS[i], ARGV[2]) end
end
local v = redis.call('HINCRBY', KEYS[1], '_v', 1)
if redis.call('HEXISTS', KEYS[1], '_ok') == 0 then
  seatmap_drop(KEYS[1])
  return {0, v}
end
for i = 5, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local price, owner = string.match(cur or '', '^(%d+),%a,%d+,(%d+)$')
  if not price then
    seatmap_drop(KEYS[1])
    return {0, v}
  end
  if ARGV[1] ~= 'A' then
    redis.call('HSET', KEYS[1], ARGV[i], price .. ',' .. ARGV[1] .. ',' .. ARGV[2] .. ',' .. ARGV[3])
  elseif owner == ARGV[3] then
    redis.call('HSET', KEYS[1], ARGV[i], price .. ',A,0,0')
  end
end
redis.call('HDEL', KEYS[1], '_json')
return {1, v}
