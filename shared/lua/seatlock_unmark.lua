-- seatlock_unmark.lua - the cron drops a seat map that has a seat SOLD
-- which PostgreSQL does not.
-- KEYS: the map. ARGV: its version when read. A map changed since (a load
-- or a mark moved the version) is left alone; answers 1 when dropped.
--@include lib/seatmap_times.lua
--@include lib/seatmap_drop.lua
if redis.call('HGET', KEYS[1], '_v') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], '_v', 1)
seatmap_drop(KEYS[1])
return 1
