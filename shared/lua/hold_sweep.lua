-- hold_sweep.lua - ends up to ARGV[1] holds of the concert whose end has
-- come (hold.h): each reads EXPIRED and reservation.expired goes to the
-- stream. A hold reads as run out from its end on whether or not this has
-- run (hold_live, hold_refusal.lua); its locks end with it (PXAT), its
-- seats read AVAILABLE on the map from then on (seat_list.lua) and its
-- user's count drops it (hold_mine.lua), so nothing else is left to free.
-- A hold being paid (hold_pay_begin.lua) is left to its payment until its
-- lease ends. KEYS: the concert's holds, their ends, the reservation
-- stream. Answers {expired, left} (left: run-out holds still waiting).
--@include lib/clock.lua
--@include lib/iso_time.lua
--@include lib/hold_record.lua
--@include lib/hold_events.lua
local concert = string.match(KEYS[1], '^{c:(%d+)}')
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local expired, left = 0, 0
for _, id in ipairs(due) do
  local rec = hold_read(redis.call('HGET', KEYS[1], id))
  if tonumber(redis.call('HGET', KEYS[1], id .. ':paying') or '0') > now then
    left = left + 1
  else
    redis.call('ZREM', KEYS[2], id)
    if rec and rec.status == 'HELD' then
      rec.status = 'EXPIRED'
      redis.call('HSET', KEYS[1], id, hold_write(rec))
      hold_event(KEYS[3], 'expired', id, concert, rec, now)
      expired = expired + 1
    end
  end
end
return {expired, left}
