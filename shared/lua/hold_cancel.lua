-- hold_cancel.lua - a user cancels their live hold (hold.h).
-- KEYS: the concert's holds, their ends, the schedule's per-user seats, its
-- seat map, the reservation stream, then the hold's seat locks (in the
-- order of its seats). ARGV: reservation id, the record as the caller read
-- it (hold_record.lua: the keys were chosen from it), the user, the
-- concert of the user's queue token.
-- Answers {'AGAIN'} when the record is no longer what the caller read
-- (read it again), {refusal} (hold_refusal.lua), or {'cancelled', record}:
-- the hold is CANCELLED, its seats free at once (hold_release.lua) and
-- reservation.cancelled is in the stream. Cancelling one's own cancelled
-- hold again answers the same, and changes nothing.
--@include lib/clock.lua
--@include lib/iso_time.lua
--@include lib/hold_record.lua
--@include lib/hold_mine.lua
--@include lib/hold_events.lua
--@include lib/hold_refusal.lua
--@include lib/hold_release.lua
local id, seen, user, token_concert = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local text = redis.call('HGET', KEYS[1], id)
if (text or '') ~= seen then return {'AGAIN'} end
local rec = hold_read(text)
local concert = string.match(KEYS[1], '^{c:(%d+)}')
local why = hold_refusal(rec, user, concert, token_concert, now)
if why == 'already_cancelled' then return {'cancelled', text} end
if why then return {why} end
-- A payment on its way (hold_pay_begin.lua) may yet sell it.
if tonumber(redis.call('HGET', KEYS[1], id .. ':paying') or '0') > now then return {'already_paid'} end
rec.status = 'CANCELLED'
text = hold_write(rec)
redis.call('HSET', KEYS[1], id, text)
redis.call('ZREM', KEYS[2], id)
hold_release(rec, id, KEYS[4], KEYS[3], {unpack(KEYS, 6)}, now)
hold_event(KEYS[5], 'cancelled', id, concert, rec, now)
return {'cancelled', text}
