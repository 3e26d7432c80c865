-- hold_lock_live.lua - whether a seat lock is a live Redis hold's (hold.h),
-- for the cron's reconciliation, which asks PostgreSQL about every lock:
-- PostgreSQL does not know a hold until it is paid, and such a lock must
-- stay. KEYS: the concert's holds, their ends, the show's holds by end
-- ({c:C}:hold-ends:S), the show's seat map. ARGV: schedule, seat, the
-- lock's owner. Answers 1 when a live hold of that seat has that owner,
-- else 0.
-- The seat map's mark names the seat's hold: one record read. Failing
-- that, the show's live holds are walked; the concert's, only when the
-- show has no index (its holds were made before there was one). Walking
-- the concert's for every lock, as it once did, took the cron seconds of
-- Redis on a busy concert (each lock read every live hold).
--@include lib/clock.lua
--@include lib/hold_record.lua
local schedule, seat, owner = ARGV[1], ARGV[2], ARGV[3]
local function holds_it(id)
  local rec = hold_read(redis.call('HGET', KEYS[1], id))
  if rec and hold_live(rec, now) and rec.schedule == schedule and rec.owner == owner then
    for s in string.gmatch(rec.seats, '%d+') do
      if s == seat then return true end
    end
  end
  return false
end
local marked = string.match(redis.call('HGET', KEYS[4], seat) or '', '^%d+,H,%d+,(%d+)$')
if marked and holds_it(marked) then return 1 end
local index = KEYS[3]
if redis.call('EXISTS', index) == 0 then index = KEYS[2] end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', index, '(' .. now, '+inf')) do
  if id ~= marked and holds_it(id) then return 1 end
end
return 0
