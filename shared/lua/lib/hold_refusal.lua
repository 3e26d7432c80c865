-- hold_refusal.lua - hold_refusal(rec, user, concert, token_concert, now):
-- why user, acting with a queue token of token_concert, cannot treat the
-- hold rec (nil: none) of concert as a live hold of theirs: nil when it is
-- one, else the refusal, in the order PostgreSQL's booking_refusal gives
-- them for the reservations it keeps. Cancellation and payment both start
-- here. Needs hold_record.lua.
local function hold_refusal(rec, user, concert, token_concert, now)
  if not rec or rec.user ~= user then return 'reservation_not_found' end
  if concert ~= token_concert then return 'wrong_concert' end
  if rec.status == 'PAID' then return 'already_paid' end
  if rec.status == 'CANCELLED' then return 'already_cancelled' end
  if rec.status == 'EXPIRED' or rec.ends <= now then return 'hold_expired' end
  return nil
end
