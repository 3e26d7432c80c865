-- hold_pay_begin.lua - a payment of a hold kept in Redis starts (hold.h).
-- KEYS: the concert's holds. ARGV: reservation id, the user, the concert of
-- the user's queue token, how long the payment may take (ms).
-- Answers {refusal} (hold_refusal.lua), {'PAYING', record} while another
-- payment of it is on its way (a repeat with its Idempotency-Key then
-- waits for it in PostgreSQL, and replays its answer), or {'PAY', record}:
-- the hold is marked as being paid until then (field "<id>:paying", its
-- end in ms), so neither a cancellation nor the expiry sweep ends it under
-- the payment.
-- PostgreSQL then decides, by the hold's own end (hold_ran_out).
--@include lib/clock.lua
--@include lib/hold_record.lua
--@include lib/hold_refusal.lua
local id, user, token_concert, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local text = redis.call('HGET', KEYS[1], id)
local rec = hold_read(text)
local concert = string.match(KEYS[1], '^{c:(%d+)}')
local why = hold_refusal(rec, user, concert, token_concert, now)
if why then return {why} end
if tonumber(redis.call('HGET', KEYS[1], id .. ':paying') or '0') > now then return {'PAYING', text} end
redis.call('HSET', KEYS[1], id .. ':paying', now + lease)
return {'PAY', text}
