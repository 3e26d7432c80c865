-- seat_list.lua - seat_list(flat, first): the seat list from flat
-- field/value pairs starting at index first: sorted by seat number, each
-- seat as the contract writes it, a held seat AVAILABLE from its until on;
-- with the first hold end it depends on (0: none). Fields starting with '_'
-- are the map's own. A seat's value is "price,letter,until,owner" (letter
-- A, H or S). Needs `now` (clock.lua).
local function seat_list(flat, first)
  local seats = {}
  for i = first, #flat - 1, 2 do
    if string.sub(flat[i], 1, 1) ~= '_' then
      local price, letter, untl = string.match(flat[i + 1], '^(%d+),(%a),(%d+),')
      seats[#seats + 1] = {tonumber(flat[i]), price, letter, tonumber(untl)}
    end
  end
  table.sort(seats, function(a, b) return a[1] < b[1] end)
  local parts, next_end = {}, 0
  for i, s in ipairs(seats) do
    local status = 'AVAILABLE'
    if s[3] == 'S' then status = 'SOLD'
    elseif s[3] == 'H' and s[4] > now then
      status = 'HELD'
      if next_end == 0 or s[4] < next_end then next_end = s[4] end
    end
    parts[i] = '{"seatNo":' .. s[1] .. ',"price":' .. s[2] .. ',"status":"' .. status .. '"}'
  end
  return table.concat(parts, ','), next_end
end
