-- key_number.lua - a counter's value (t/13: the failed logins Redis counted
-- for an email).
-- KEYS: the counter. Its value as a number, -1 when there is none.
return tonumber(redis.call('GET', KEYS[1]) or '-1')
