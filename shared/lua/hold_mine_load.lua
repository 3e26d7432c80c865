-- hold_mine_load.lua - stores what each buyer of a schedule bought, read
-- from PostgreSQL (booking_bought_all), into {c:C}:mine:S (hold_mine.lua),
-- unless the hash changed since the load started (its _v moved): the
-- holds it knows are kept, each user's bought count set. KEYS: the hash.
-- ARGV: the version the load started from ('' none), then user, count
-- pairs. Answers 1 when stored, 0 when the version moved.
--@include lib/clock.lua
--@include lib/hold_mine.lua
local v = redis.call('HGET', KEYS[1], '_v')
if (v or '') ~= ARGV[1] then return 0 end
local bought = {}
for i = 2, #ARGV - 1, 2 do bought[ARGV[i]] = tonumber(ARGV[i + 1]) end
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat - 1, 2 do
  if string.sub(flat[i], 1, 1) ~= '_' then
    local m = mine_read(flat[i + 1]) or {holds = {}}
    m.bought = bought[flat[i]] or 0
    bought[flat[i]] = nil
    redis.call('HSET', KEYS[1], flat[i], mine_write(m, now))
  end
end
for user, n in pairs(bought) do redis.call('HSET', KEYS[1], user, tostring(n)) end
redis.call('HSET', KEYS[1], '_ok', '1', '_v', tonumber(v or '0') + 1)
return 1
