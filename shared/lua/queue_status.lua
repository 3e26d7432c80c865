-- queue_status.lua - a poll: looks a token up. A poll counts as activity
-- only for a waiter not yet dropped: one already idle past its limit is
-- ended before the poll could revive it.
-- KEYS: the queue keys (queue_prelude.lua). ARGV: the token id.
-- Answers describe()'s ticket ('FIRST' on a pre-queued token's first look at
-- its place, else 'OK') with the token id appended.
--@include lib/queue_prelude.lua
sweep(SWEEP_BATCH)
local why = over(ARGV[1])
if why then drop(ARGV[1], why) end
-- Last seen at the opening itself (the opening marks every pre-queued token
-- seen then): this is its first look at its place.
local last = opened and redis.call('ZSCORE', K_seen, ARGV[1])
local first_look = last and tonumber(last) == opened_mark
redis.call('ZADD', K_seen, 'XX', now, ARGV[1])
admit(nil)
local d = describe(first_look and 'FIRST' or 'OK', ARGV[1]); table.insert(d, ARGV[1]); return done(d)
