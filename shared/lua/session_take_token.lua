-- session_take_token.lua - a token issue's one round trip to the session:
-- looks it up, renews its TTL (as session_lookup's GETEX) and remembers
-- the id the token about to be issued will have, so that a logout from
-- now on ends it (the session's keys and the concert's are in different
-- hash slots: one script cannot do both). A logout that ends the id before
-- the queue has issued it leaves a mark there that refuses it
-- (queue_end.lua, queue_enter.lua); an id whose issue fails is forgotten
-- again (session_attach_token.lua) or, left behind, ends nothing.
-- KEYS: session, its overflow set. ARGV: the session's TTL (s), the new
-- token id. Answers the userId, or nil when there is no session.
--@include lib/session_ids.lua
local v = redis.call('GET', KEYS[1])
if not v then return false end
redis.call('EXPIRE', KEYS[1], ARGV[1])
session_attach(v, ARGV[2])
local first = string.find(v, ',', 1, true)
return first and string.sub(v, 1, first - 1) or v
