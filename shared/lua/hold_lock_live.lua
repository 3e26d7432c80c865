-- hold_lock_live.lua - whether a seat lock is a live Redis hold's (hold.h),
-- for the cron's reconciliation, which asks PostgreSQL about every lock:
-- PostgreSQL does not know a hold until it is paid, and such a lock must
-- stay. KEYS: the concert's holds, their ends. ARGV: schedule, seat, the
-- lock's owner. Answers 1 when a live hold of that seat has that owner,
-- else 0.
--@include lib/clock.lua
--@include lib/hold_record.lua
local schedule, seat, owner = ARGV[1], ARGV[2], ARGV[3]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')) do
  local rec = hold_read(redis.call('HGET', KEYS[1], id))
  if rec and hold_live(rec, now) and rec.schedule == schedule and rec.owner == owner then
    for s in string.gmatch(rec.seats, '%d+') do
      if s == seat then return 1 end
    end
  end
end
return 0
