-- busy.lua - keeps Redis busy (t/28: the seat locks' retries while Redis
-- does not answer in time; t/2n: a reply lost to a busy cluster node).
-- ARGV: how long, in microseconds. It asks for the time only now and then,
-- so MONITOR is not flooded.
local t = redis.call('TIME')
local stop = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local x = 0
repeat
  for i = 1, 100000 do x = x + i end
  t = redis.call('TIME')
until tonumber(t[1]) * 1000000 + tonumber(t[2]) >= stop
return 1
