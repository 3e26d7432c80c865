-- session_ids.lua - the queue token ids a session keeps, which its logout
-- ends (session.h): in the session's own value after the userId
-- ("<userId>,<id>,<id>"; one key a session instead of a second one, a set
-- cost about 350 bytes a session), and past SESSION_IDS_MAX of them in the
-- overflow set, so a lookup, which reads the whole value, stays short.
-- KEYS[1] is the session, KEYS[2] its overflow set; v the session's value
-- as read. The ids start at the first comma, whatever the userId's length.
--@include session_times.lua
local function session_has_id(v, id)
  local first = string.find(v, ',', 1, true)
  return first and string.find(v .. ',', ',' .. id .. ',', first, true)
end
-- APPEND and KEEPTTL keep the session's TTL.
local function session_attach(v, id)
  if session_has_id(v, id) then return end
  local _, ids = string.gsub(v, ',', ',')
  if ids < SESSION_IDS_MAX then
    redis.call('APPEND', KEYS[1], ',' .. id)
  else
    redis.call('SADD', KEYS[2], id)
    redis.call('EXPIRE', KEYS[2], SESSION_TOKENS_TTL)
  end
end
local function session_detach(v, id)
  local at = session_has_id(v, id)
  if at then
    redis.call('SET', KEYS[1], string.sub(v, 1, at - 1) .. string.sub(v, at + #id + 1), 'KEEPTTL')
  else
    redis.call('SREM', KEYS[2], id)
  end
end
