-- session_attach_token.lua - remembers a queue token taken with a session,
-- which its logout ends, in place of one it was remembered by before.
-- KEYS: session, its overflow set. ARGV: the token id, and an id to forget
-- ('' for none: the id a token issue attached before it learnt that the
-- user's live token was another, session_take_token.lua). Answers 1, or 0
-- (nothing kept) when the session is not there.
--@include lib/session_ids.lua
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if ARGV[2] ~= '' and ARGV[2] ~= ARGV[1] then
  session_detach(v, ARGV[2])
  v = redis.call('GET', KEYS[1])
end
if ARGV[1] ~= '' then session_attach(v, ARGV[1]) end
return 1
