-- user_holds.lua - a concert's holds by user, {c:C}:user-holds: field the
-- userId, value the user's hold ids, newest first, comma-separated. The list
-- of a user's reservations and a logout's cancellations read it (hold.h).
-- user_holds_add(key, user, id) puts id first, and says whether it is the
-- user's first hold of the concert (the caller then names the concert to
-- the user's {user:U}:hold-concerts). It costs what a prepend costs, not a
-- walk of the ids: past USER_HOLDS_BYTES the oldest ids are dropped down to
-- half of that (some 180 ids of 11 digits: more than a buyer's limit makes
-- in a concert's shows), so the value stays small and is cut rarely.
local USER_HOLDS_BYTES = 4096
local function user_holds_add(key, user, id)
  local old = redis.call('HGET', key, user)
  if not old or old == '' then
    redis.call('HSET', key, user, id)
    return true
  end
  local ids = id .. ',' .. old
  if #ids > USER_HOLDS_BYTES then
    ids = string.match(string.sub(ids, 1, USER_HOLDS_BYTES / 2), '^(.*),')
  end
  redis.call('HSET', key, user, ids)
  return false
end
