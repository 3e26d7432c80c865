-- seatlock_marks.lua - the cron's read of the seats a seat map has SOLD.
-- KEYS: one seat map. Answers {version, seat numbers read S...}, or {} when
-- the map is not complete (not trusted by the take) or not a hash.
--@include lib/seat_letter.lua
local m = redis.pcall('HGETALL', KEYS[1])
if m.err then return {} end
local out, complete = {''}, false
for i = 1, #m - 1, 2 do
  if m[i] == '_ok' then complete = true
  elseif m[i] == '_v' then out[1] = m[i + 1]
  elseif seat_letter(m[i + 1]) == 'S' then out[#out + 1] = m[i] end
end
if not complete then return {} end
return out
