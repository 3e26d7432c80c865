-- hold_record.lua - a hold's record in {c:C}:holds (field: the reservation
-- id), one string "user|schedule|seats|amount|until|owner|status|created":
-- seats comma-separated, until and created Unix ms, status HELD, CANCELLED,
-- EXPIRED or PAID. hold_read(text) gives a table (nil for anything else),
-- hold_write(rec) the string. A HELD hold whose until has come reads as run
-- out wherever it is read (hold_live), whether or not the sweep has been.
local function hold_read(text)
  local u, sc, se, a, un, o, st, cr =
    string.match(text or '', '^([%x-]+)|(%d+)|([%d,]+)|(%d+)|(%d+)|(%x*)|(%u+)|(%d+)$')
  if not u then return nil end
  return {user = u, schedule = sc, seats = se, amount = a, ends = tonumber(un), owner = o, status = st,
          created = cr}
end
local function hold_write(r)
  return table.concat({r.user, r.schedule, r.seats, r.amount, string.format('%d', r.ends), r.owner, r.status,
                       r.created}, '|')
end
local function hold_live(r, now)
  return r.status == 'HELD' and r.ends > now
end
