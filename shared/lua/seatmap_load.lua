-- seatmap_load.lua - stores a seat map read from PostgreSQL.
-- KEYS: the map, the concert's holds kept in Redis ({c:C}:holds) and the
-- show's among them by end ({c:C}:hold-ends:S: its own live holds, not
-- every one of the concert's, which took a busy concert's Redis a quarter
-- of a second). ARGV: the version the load started from ('' none),
-- then seat, value pairs. PostgreSQL does not know a hold until it is paid
-- (hold.h): each seat of a live Redis hold of this show reads HELD, with
-- its hold's end and id, unless PostgreSQL has it SOLD. Stores them unless
-- the version moved; answers {'STORED' or 'CHANGED', the seat list} either
-- way.
--@include lib/clock.lua
--@include lib/seatmap_times.lua
--@include lib/seat_list.lua
--@include lib/hold_record.lua
local schedule = string.match(KEYS[1], ':seatmap:(%d+)$')
local live = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf')) do
  local rec = hold_read(redis.call('HGET', KEYS[2], id))
  if rec and hold_live(rec, now) and rec.schedule == schedule then
    for seat in string.gmatch(rec.seats, '%d+') do live[seat] = string.format('%d', rec.ends) .. ',' .. id end
  end
end
if next(live) then
  for i = 2, #ARGV - 1, 2 do
    local held = live[ARGV[i]]
    local price, letter = string.match(ARGV[i + 1], '^(%d+),(%a),')
    if held and price and letter ~= 'S' then ARGV[i + 1] = price .. ',H,' .. held end
  end
end
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
