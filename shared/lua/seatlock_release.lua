-- seatlock_release.lua - gives back a hold's locks.
-- KEYS: the seat locks. ARGV: owner. Deletes only the locks that still hold
-- owner (compare and delete: a lock taken again since has another owner);
-- answers how many.
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]); n = n + 1 end
end
return n
