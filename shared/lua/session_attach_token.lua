-- session_attach_token.lua - remembers a queue token taken with a session,
-- which its logout ends.
-- KEYS: session, its tokens. ARGV: the token id. Answers 1, or 0 (nothing
-- kept) when the session is not there.
--@include lib/session_times.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], SESSION_TOKENS_TTL)
return 1
