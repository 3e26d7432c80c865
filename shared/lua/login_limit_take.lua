-- login_limit_take.lua - counts a login attempt before its password is
-- checked.
-- KEYS: the address's counter, the email's from that address, the email's
-- from all addresses. ARGV: each one's max and window (s), in that order.
-- Answers 0 after counting the attempt in all three, or the seconds until a
-- refusing window ends (at least 1), counting nothing. The address's or the
-- email-from-address counter at its max refuses; the email's counter at its
-- max refuses only an address that has failed for the email, until either
-- of those two ends. A counter is given its window as TTL when the window
-- starts (or if it somehow has none).
local function count(i) return tonumber(redis.call('GET', KEYS[i]) or '0') end
local function left(i)
  local ms = redis.call('PTTL', KEYS[i])
  if ms < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
    ms = tonumber(ARGV[2 * i]) * 1000
  end
  return math.max(math.ceil(ms / 1000), 1)
end
local wait = 0
for i = 1, 2 do
  if count(i) >= tonumber(ARGV[2 * i - 1]) then wait = math.max(wait, left(i)) end
end
if wait == 0 and count(2) > 0 and count(3) >= tonumber(ARGV[5]) then
  wait = math.min(left(2), left(3))
end
if wait > 0 then return wait end
for i = 1, 3 do
  if redis.call('INCR', KEYS[i]) == 1 or redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return 0
