-- keys_mentioning.lua - how many keys mention a text in their name or, for
-- strings, in their value (t/12, t/13 through 11-accounts.h: no session
-- and no email is kept in the clear).
-- ARGV: the text. Walks the whole keyspace: the test stack's is small.
local n = 0
for _, k in ipairs(redis.call('KEYS', '*')) do
  if string.find(k, ARGV[1], 1, true) then n = n + 1
  elseif redis.call('TYPE', k).ok == 'string' and
         string.find(redis.call('GET', k), ARGV[1], 1, true) then n = n + 1 end
end
return n
