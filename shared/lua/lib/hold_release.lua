-- hold_release.lua - hold_release(rec, id, map, mine, lock_keys, now): a
-- hold that ends unpaid (cancelled, expired) gives its seats back at once:
-- its locks still its owner's are deleted, its seats still its own read
-- AVAILABLE on the map, and it no longer counts toward its user's limit.
-- lock_keys are the seats' locks in the order of rec.seats. Needs
-- hold_mine.lua.
local function hold_release(rec, id, map, mine, lock_keys, now)
  local j = 0
  for seat in string.gmatch(rec.seats, '%d+') do
    j = j + 1
    if redis.call('GET', lock_keys[j]) == rec.owner then redis.call('DEL', lock_keys[j]) end
    local cur = redis.call('HGET', map, seat)
    local price, owner = string.match(cur or '', '^(%d+),%a,%d+,(%d+)$')
    if price and owner == id then redis.call('HSET', map, seat, price .. ',A,0,0') end
  end
  redis.call('HINCRBY', map, '_v', 1)
  redis.call('HDEL', map, '_json')
  local m = mine_read(redis.call('HGET', mine, rec.user))
  if m then
    for i, h in ipairs(m.holds) do
      if h.id == id then table.remove(m.holds, i) break end
    end
    redis.call('HSET', mine, rec.user, mine_write(m, now))
  end
end
