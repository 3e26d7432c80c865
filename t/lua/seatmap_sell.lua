-- seatmap_sell.lua - makes the cached seat map read one seat SOLD, its price
-- kept (t/70: a map that disagrees with PostgreSQL, for cron to mend).
-- KEYS: the seat map. ARGV: the seat. 1 when set, 0 when the seat is not in
-- the map.
local v = redis.call('HGET', KEYS[1], ARGV[1])
local price = string.match(v or '', '^(%d+),')
if not price then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], price .. ',S,0,0')
return 1
