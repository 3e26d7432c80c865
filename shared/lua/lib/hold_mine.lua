-- hold_mine.lua - what one user has of one schedule, for the per-user
-- limit (seats held or bought): {c:C}:mine:S, field the userId, value
-- "bought|id:n:until|..." (bought: seats paid for, as PostgreSQL counted
-- them when the field was made; then each hold of the user with its seat
-- count and end). mine_read(text) gives bought (nil: not known, the caller
-- asks PostgreSQL) and the holds; mine_seats(m, now) the seats the user
-- has now (bought, and holds not run out: one rule with hold_live);
-- mine_write(m, now) the string, without the holds that have run out.
local function mine_read(text)
  if not text then return nil end
  local parts = {}
  for p in string.gmatch(text, '[^|]+') do parts[#parts + 1] = p end
  local m = {bought = tonumber(parts[1] or ''), holds = {}}
  if not m.bought then return nil end
  for i = 2, #parts do
    local id, n, untl = string.match(parts[i], '^(%d+):(%d+):(%d+)$')
    if id then m.holds[#m.holds + 1] = {id = id, n = tonumber(n), ends = tonumber(untl)} end
  end
  return m
end
local function mine_seats(m, now)
  local n = m.bought
  for _, h in ipairs(m.holds) do
    if h.ends > now then n = n + h.n end
  end
  return n
end
local function mine_write(m, now)
  local parts = {tostring(m.bought)}
  for _, h in ipairs(m.holds) do
    if h.ends > now then parts[#parts + 1] = h.id .. ':' .. h.n .. ':' .. string.format('%d', h.ends) end
  end
  return table.concat(parts, '|')
end
