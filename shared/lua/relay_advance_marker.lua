-- relay_advance_marker.lua - moves a stream's marker on to a batch.
-- A batch moves a marker on only from where PostgreSQL says the topic's
-- last sent batch was (or beyond: a batch whose commit failed after its
-- XADDs). A marker behind it means Redis has lost entries since, and moving
-- it on would hide that from the next check (a failover to a replica
-- without the last XADDs, then a batch before the check): it stays, and the
-- check publishes those rows again.
-- KEYS: the marker. ARGV: the last batch sent (-1: none), this batch.
-- Answers 1 when moved, else 0.
local at = tonumber(redis.call('GET', KEYS[1]) or '-2')
if at and at >= tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
