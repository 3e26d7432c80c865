-- seatmap_get.lua - a schedule's seat map for a token holder.
-- KEYS: the concert's active tokens, its token owners, the map. ARGV: the
-- token id. The token check is the queue's cheap one (an ACTIVE token within
-- its period); anything else is {'MISS'} for the full check. Then {'ABSENT',
-- '', version} when the map is not stored, else {'HIT' or 'STALE', the seat
-- list (JSON), version}; STALE marks the map fresh for everyone else while
-- its caller reads PostgreSQL again.
--@include lib/clock.lua
--@include lib/seatmap_times.lua
--@include lib/seat_list.lua
--@include lib/token_active.lua
local m = redis.call('HMGET', KEYS[3], '_ok', '_json', '_next', '_fresh', '_v')
if not m[1] then return {'ABSENT', '', m[5] or ''} end
local answer = 'HIT'
if tonumber(m[4] or '0') <= now then
  redis.call('HSET', KEYS[3], '_fresh', now + MAP_FRESH_MS)
  answer = 'STALE'
end
local json, next_end = m[2], tonumber(m[3] or '0')
if not json or (next_end > 0 and next_end <= now) then
  json, next_end = seat_list(redis.call('HGETALL', KEYS[3]), 1)
  redis.call('HSET', KEYS[3], '_json', json, '_next', next_end)
end
return {answer, json, m[5] or ''}
