-- seatlock_release.lua - gives back a hold's locks and remembers its sold
-- seats.
-- KEYS: the schedule's sold set, then the seat locks. ARGV: owner, sold seat
-- numbers. Deletes only the locks that still hold owner (compare and
-- delete: a lock taken again since has another owner); answers how many.
local n = 0
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]); n = n + 1 end
end
if #ARGV > 1 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 2))
  redis.call('EXPIRE', KEYS[1], 86400)
end
return n
