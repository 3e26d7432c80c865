-- clock.lua - `now`: Redis's own clock (TIME) in milliseconds, so
-- responders on hosts with skewed clocks still agree.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
