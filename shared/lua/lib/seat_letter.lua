-- seat_letter.lua - seat_letter(value): the letter (A, H or S) of a seat
-- map's field "price,letter,until,owner" (seatmap.h), nil when value is not
-- one. The hold's take and the cron's walk read "sold" by it.
local function seat_letter(value)
  return string.match(value or '', '^%d+,(%a),%d+,%d+$')
end
