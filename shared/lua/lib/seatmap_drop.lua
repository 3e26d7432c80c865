-- seatmap_drop.lua - seatmap_drop(key): the map is no longer trusted (a
-- mark for a seat it does not know, or the cron found it disagreeing with
-- PostgreSQL). It stops reading as complete and goes after a while, its
-- version kept meanwhile so no load that started before can store what it
-- read. Needs MAP_GONE_TTL_MS (seatmap_times.lua).
local function seatmap_drop(key)
  redis.call('HDEL', key, '_ok')
  redis.call('PEXPIRE', key, MAP_GONE_TTL_MS)
end
