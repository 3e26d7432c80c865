-- session_attach_token.lua - remembers a queue token taken with a session,
-- which its logout ends.
-- KEYS: session, its overflow set. ARGV: the token id. Answers 1, or 0
-- (nothing kept) when the session is not there.
-- The ids ride in the session's own value, after the userId
-- ("<userId>,<id>,<id>"): one key a session instead of a second one (a set
-- cost about 350 bytes a session, a third of a waiting user's share of
-- Redis in a drop of a million). APPEND keeps the session's TTL. Past
-- SESSION_IDS_MAX ids (a session taking tokens for many concerts) the rest
-- go to the overflow set, so a lookup, which reads the whole value, stays
-- short.
--@include lib/session_times.lua
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local id = ARGV[1]
if string.find(v .. ',', ',' .. id .. ',', 37, true) then return 1 end
local _, ids = string.gsub(v, ',', ',')
if ids < SESSION_IDS_MAX then
  redis.call('APPEND', KEYS[1], ',' .. id)
else
  redis.call('SADD', KEYS[2], id)
  redis.call('EXPIRE', KEYS[2], SESSION_TOKENS_TTL)
end
return 1
