-- hold_pay_end.lua - a payment begun by hold_pay_begin.lua ended (hold.h).
-- KEYS: the concert's holds, their ends, the schedule's per-user seats, its
-- seat map, then the hold's seat locks (in the order of its seats). ARGV:
-- reservation id, 'paid' (PostgreSQL committed the sale) or 'refused'.
-- Paid: the hold reads PAID, leaves the sweep's list and its user's holds
-- for their bought seats, its seats read SOLD on the map and its locks go
-- (the seats are sold: PostgreSQL's unique seat rows keep them). Refused:
-- the hold is live again, as it was. Either way the mark goes. Answers 1.
--@include lib/clock.lua
--@include lib/hold_record.lua
--@include lib/hold_mine.lua
local id = ARGV[1]
redis.call('HDEL', KEYS[1], id .. ':paying')
local rec = hold_read(redis.call('HGET', KEYS[1], id))
if ARGV[2] ~= 'paid' or not rec or rec.status == 'PAID' then return 1 end
rec.status = 'PAID'
redis.call('HSET', KEYS[1], id, hold_write(rec))
redis.call('ZREM', KEYS[2], id)
local n, j = 0, 0
for seat in string.gmatch(rec.seats, '%d+') do
  j = j + 1
  n = n + 1
  if redis.call('GET', KEYS[4 + j]) == rec.owner then redis.call('DEL', KEYS[4 + j]) end
  local price = string.match(redis.call('HGET', KEYS[4], seat) or '', '^(%d+),')
  if price then redis.call('HSET', KEYS[4], seat, price .. ',S,0,' .. id) end
end
redis.call('HINCRBY', KEYS[4], '_v', 1)
redis.call('HDEL', KEYS[4], '_json')
if redis.call('HEXISTS', KEYS[3], '_ok') == 1 then
  local m = mine_read(redis.call('HGET', KEYS[3], rec.user) or '0')
  for i, h in ipairs(m.holds) do
    if h.id == id then table.remove(m.holds, i) break end
  end
  m.bought = m.bought + n
  redis.call('HSET', KEYS[3], rec.user, mine_write(m, now))
end
redis.call('HINCRBY', KEYS[3], '_v', 1)
return 1
