-- hold_events.lua - hold_event(key, kind, id, concert, rec, now): appends a
-- reservation event (reservation.held, .cancelled, .expired) to the
-- concert's in-slot stream {c:C}:reservation-events, in the script that
-- makes the change, so the event is written if and only if the change is.
-- The entry has the fields every event has (eventId, type, occurredAt,
-- concertId, data) and its data the fields the outbox's reservation events
-- carry (outbox_reservation in sql/functions.sql). eventId is the
-- reservation and the change, unique because reservation ids are. The
-- stream keeps 24 hours (trimmed by id, MINID), as the queue's. rec is a
-- hold's record (hold_record.lua). Needs iso_time.lua.
local function hold_event(key, kind, id, concert, rec, now)
  local status = ({held = 'HELD', cancelled = 'CANCELLED', expired = 'EXPIRED'})[kind]
  local data = '{"reservationId":' .. id .. ',"userId":"' .. rec.user .. '","scheduleId":' .. rec.schedule ..
               ',"seatNos":[' .. rec.seats .. '],"amount":' .. rec.amount .. ',"status":"' .. status ..
               '","expiresAt":"' .. iso_seconds(rec.ends) .. '"}'
  redis.call('XADD', key, 'MINID', '~', now - 86400000, '*',
             'eventId', 'reservation-' .. id .. '-' .. kind, 'type', 'reservation.' .. kind,
             'occurredAt', iso(now), 'concertId', concert, 'data', data)
end
