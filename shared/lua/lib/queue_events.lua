-- queue_events.lua - emit(): the queue's events (queue.joined,
-- queue.admitted, queue.ended, queue.dropped) go to the concert's stream
-- {c:C}:queue-events from the scripts that make the change, so an event is
-- written if and only if its change is, and stays in the concert's hash
-- slot. Each entry has the fields every event has (eventId, type,
-- occurredAt, concertId, data); the data names the user, never the token (a
-- credential). eventId is the concert, the time and a counter, unique even
-- if Redis loses the counter. The stream keeps 24 hours (trimmed by id,
-- MINID). iso() is RFC 3339 with milliseconds, from days to a civil date
-- (Howard Hinnant's algorithm): Redis's Lua has no date functions.
-- Part of queue_prelude.lua (its keys and `now`).
local concert_id = string.match(K_conf, '^{c:(%d+)}')
local function iso(ms)
  local s = math.floor(ms / 1000)
  local days, rem = math.floor(s / 86400), s % 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
                       math.floor(rem / 60) % 60, rem % 60, ms % 1000)
end
local function emit(kind, tok, data)
  data.userId = redis.call('HGET', K_tok, tok)
  if not data.userId then return end
  local n = redis.call('INCR', K_eseq)
  redis.call('XADD', K_events, 'MINID', '~', now - 86400000, '*',
             'eventId', 'queue-' .. concert_id .. '-' .. now .. '-' .. n, 'type', kind,
             'occurredAt', iso(now), 'concertId', concert_id, 'data', cjson.encode(data))
end
