-- seatlock_drop.lua - the cron's removal of stale locks (one concert's).
-- KEYS: locks. ARGV: the owner seen in each. Deletes the ones that still
-- hold it (a lock taken again since has another owner); answers how many.
local n = 0
for i, key in ipairs(KEYS) do
  if redis.pcall('GET', key) == ARGV[i] then redis.call('DEL', key); n = n + 1 end
end
return n
