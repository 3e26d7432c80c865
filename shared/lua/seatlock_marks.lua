-- seatlock_marks.lua - the cron's read of a sold set.
-- KEYS: one sold set. Answers its members; none when it is not a set.
local m = redis.pcall('SMEMBERS', KEYS[1])
if m.err then return {} end
return m
