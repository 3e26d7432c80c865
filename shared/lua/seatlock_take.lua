-- seatlock_take.lua - checks a hold's token and takes its seats' locks.
-- KEYS: the concert's active tokens, its token owners, its cached facts, the
-- schedule's seat map, then the seat locks. ARGV: token id, owner, seat
-- numbers.
-- The token is checked first, as the queue's cheap check does (an ACTIVE
-- token within its period, else {'MISS'} and nothing is taken), so a hold
-- makes one Redis round trip before PostgreSQL. A lock lasts the concert's
-- hold length as its cached facts say; {'NOCONF'}, nothing taken, when they
-- are not there or a second old, and the caller reads them from PostgreSQL
-- and takes again. They are dropped when an operator changes the concert,
-- so a new holdSeconds reaches the locks at once, and within a second
-- whatever happens. The take that finds them a second old marks them fresh
-- for everyone first, so only it goes to PostgreSQL (the others go on, for
-- the moment that takes, by the length read a second ago). After the hold
-- commits, the seat map's mark sets the locks' end to the hold's own
-- (seatmap_mark.lua), so the two agree whatever the length was here.
-- A seat the seat map (when complete) reads SOLD is refused first: the map
-- is Redis's one copy of "sold" (sold is final), so a crowd for a sold seat
-- stops here without PostgreSQL.
-- Then {'TAKEN', userId} when every lock was taken, {'BUSY'} when none was
-- (a seat is sold or locked by another owner). Locks taken before a busy one
-- are given back before returning, inside the same atomic script, so the
-- outcome is all or nothing. A lock that already holds this owner counts as
-- taken (its expiry set anew), so running the script again for the same
-- hold, by a caller who never heard the first run's answer, answers what the
-- first run did.
--@include lib/clock.lua
--@include lib/token_active.lua
--@include lib/queue_facts.lua
--@include lib/seat_letter.lua
local FACTS_LATE_OK = false
--@include lib/hold_length.lua
local map = redis.call('HMGET', KEYS[4], '_ok', unpack(ARGV, 3))
if map[1] then
  for i = 2, #map do
    if seat_letter(map[i]) == 'S' then return {'BUSY'} end
  end
end
for i = 5, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if held and held ~= ARGV[2] then
    for j = 5, i - 1 do
      if redis.call('GET', KEYS[j]) == ARGV[2] then redis.call('DEL', KEYS[j]) end
    end
    return {'BUSY'}
  end
  redis.call('SET', KEYS[i], ARGV[2], 'PX', hold_ms)
end
return {'TAKEN', user}
