-- seatlock_peek.lua - the cron's look at locks (one concert's).
-- KEYS: locks. Answers each one's value (nil when gone or not a string) and
-- remaining life in milliseconds, in pairs.
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.pcall('GET', key)
  if type(v) ~= 'string' then v = false end
  out[2 * i - 1] = v
  out[2 * i] = redis.call('PTTL', key)
end
return out
