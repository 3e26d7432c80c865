-- seat_letter.lua - seat_letter(value): the letter (A, H or S) of a seat
-- map's field "price,letter,until,owner" (seatmap.h), nil when value is not
-- one. The hold's take and the cron's walk read "sold" by it.
-- seat_held_until(value): until (ms) when the letter is H, else 0: a hold
-- holds its seat while it is later than now.
local function seat_letter(value)
  return string.match(value or '', '^%d+,(%a),%d+,%d+$')
end
local function seat_held_until(value)
  local untl = string.match(value or '', '^%d+,H,(%d+),%d+$')
  return tonumber(untl or '0')
end
