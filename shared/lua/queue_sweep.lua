-- queue_sweep.lua - the cron's sweep of one concert: drops run-out and idle
-- tokens, admits into free slots, whether or not a sweep is due.
-- KEYS: the queue keys (queue_prelude.lua). No ARGV.
-- Answers {'OK', tokens dropped, tokens admitted}.
--@include lib/queue_prelude.lua
sweep(SWEEP_BATCH, true)
local admitted = admit(nil)
return done({'OK', dropped, admitted})
