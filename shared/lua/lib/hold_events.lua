-- hold_events.lua - hold_event(key, kind, id, concert, rec, now): appends a
-- reservation event (reservation.held, .cancelled, .expired) to the
-- concert's in-slot stream {c:C}:reservation-events, in the script that
-- makes the change, so the event is written if and only if the change is.
-- The entry has the fields every event has (eventId, type, occurredAt,
-- concertId, data) and its data the fields the outbox's reservation events
-- carry (outbox_reservation in sql/functions.sql). eventId is a UUID made
-- from the reservation, when it was made and the change (name-based,
-- SHA-1: the form of the outbox's ids): unique, even for an id given again
-- after Redis lost the hold that had it, and the same on every
-- redelivery. The
-- stream keeps 24 hours (trimmed by id, MINID), as the queue's. rec is a
-- hold's record (hold_record.lua). Needs iso_time.lua.
local function hold_event_id(id, created, kind)
  local h = redis.sha1hex('reservation-' .. id .. '-' .. created .. '-' .. kind)
  local variant = string.format('%x', tonumber(string.sub(h, 17, 17), 16) % 4 + 8)
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) .. '-' .. variant ..
         string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end
local function hold_event(key, kind, id, concert, rec, now)
  local status = ({held = 'HELD', cancelled = 'CANCELLED', expired = 'EXPIRED'})[kind]
  local data = '{"reservationId":' .. id .. ',"userId":"' .. rec.user .. '","scheduleId":' .. rec.schedule ..
               ',"seatNos":[' .. rec.seats .. '],"amount":' .. rec.amount .. ',"status":"' .. status ..
               '","expiresAt":"' .. iso_seconds(rec.ends) .. '"}'
  redis.call('XADD', key, 'MINID', '~', now - 86400000, '*',
             'eventId', hold_event_id(id, rec.created, kind), 'type', 'reservation.' .. kind,
             'occurredAt', iso(now), 'concertId', concert, 'data', data)
end
