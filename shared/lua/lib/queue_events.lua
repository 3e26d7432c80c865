-- queue_events.lua - emit(): the queue's events (queue.joined,
-- queue.admitted, queue.ended, queue.dropped) go to the concert's stream
-- {c:C}:queue-events from the scripts that make the change, so an event is
-- written if and only if its change is, and stays in the concert's hash
-- slot. Each entry has the fields every event has (eventId, type,
-- occurredAt, concertId, data); the data names the user, never the token (a
-- credential). eventId is the concert, the time and a counter, unique even
-- if Redis loses the counter. The stream keeps 24 hours (trimmed by id,
-- MINID). iso() is in iso_time.lua.
-- Part of queue_prelude.lua (its keys and `now`).
local concert_id = string.match(K_conf, '^{c:(%d+)}')
--@include iso_time.lua
local function emit(kind, tok, data)
  data.userId = redis.call('HGET', K_tok, tok)
  if not data.userId then return end
  local n = redis.call('INCR', K_eseq)
  redis.call('XADD', K_events, 'MINID', '~', now - 86400000, '*',
             'eventId', 'queue-' .. concert_id .. '-' .. now .. '-' .. n, 'type', kind,
             'occurredAt', iso(now), 'concertId', concert_id, 'data', cjson.encode(data))
end
