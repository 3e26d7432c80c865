-- seatmap_load.lua - stores a seat map read from PostgreSQL.
-- KEYS: the map. ARGV: the version the load started from ('' none), then
-- seat, value pairs. Stores them unless the version moved; answers
-- {'STORED' or 'CHANGED', the seat list} either way.
--@include lib/clock.lua
--@include lib/seatmap_times.lua
--@include lib/seat_list.lua
local json, next_end = seat_list(ARGV, 2)
local v = redis.call('HGET', KEYS[1], '_v')
if (v or '') ~= ARGV[1] then return {'CHANGED', json} end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], '_ok', '1', '_v', tonumber(v or '0') + 1, '_fresh', now + MAP_FRESH_MS,
           '_json', json, '_next', next_end)
redis.call('PEXPIRE', KEYS[1], MAP_TTL_MS)
return {'STORED', json}
