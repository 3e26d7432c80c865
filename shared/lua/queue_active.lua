-- queue_active.lua - the cheap path of the token guard (guard_queue_active): an ACTIVE token
-- within its period is all a guarded request needs, so this reads two keys
-- and sweeps nothing. Anything else (waiting, run out, unknown) goes through
-- queue_status, which sweeps, admits and answers with the full picture.
-- KEYS: active, tokens. ARGV: the token id.
-- Answers {'ACTIVE', userId, end of its period (ms)} or {'MISS'}.
--@include lib/clock.lua
--@include lib/token_active.lua
return {'ACTIVE', user, tonumber(exp)}
