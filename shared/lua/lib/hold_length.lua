-- hold_length.lua - `hold_ms`: the concert's hold length from its cached
-- facts, for the scripts whose KEYS[3] is the concert's facts ({c:C}:conf).
-- Returns {'NOCONF'} when they are not there. When they are a second old,
-- the script that finds them so marks them fresh for everyone first, so
-- only its caller goes to PostgreSQL (queue_facts.lua): a script that set
-- FACTS_LATE_OK false returns {'NOCONF'} and its caller reads them before
-- running it again; one that set it true goes on by the length read a
-- second ago, with `facts_late` true, and its caller reads them once it
-- has answered (a hold: no PostgreSQL on its way). Needs `now` (clock.lua)
-- and FACTS_FRESH_MS (queue_facts.lua).
local facts = redis.call('HMGET', KEYS[3], 'hold_ms', 'fresh_until', 'missing')
local hold_ms = tonumber(facts[1] or '')
local facts_late = false
if facts[3] or not hold_ms or hold_ms < 1 then return {'NOCONF'} end
if tonumber(facts[2] or '0') <= now then
  redis.call('HSET', KEYS[3], 'fresh_until', now + FACTS_FRESH_MS)
  if not FACTS_LATE_OK then return {'NOCONF'} end
  facts_late = true
end
