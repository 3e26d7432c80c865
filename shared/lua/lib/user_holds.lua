-- user_holds.lua - a concert's holds by user, {c:C}:user-holds: field the
-- userId, value the user's hold ids, newest first, comma-separated (the
-- newest USER_HOLDS_MAX: the reservation list shows no more). The list of a
-- user's reservations and a logout's cancellations read it (hold.h).
-- user_holds_add(key, user, id) puts id first.
local USER_HOLDS_MAX = 200
local function user_holds_add(key, user, id)
  local ids, kept = {id}, 1
  for old in string.gmatch(redis.call('HGET', key, user) or '', '%d+') do
    if kept >= USER_HOLDS_MAX then break end
    ids[#ids + 1], kept = old, kept + 1
  end
  redis.call('HSET', key, user, table.concat(ids, ','))
end
