-- login_limit_give_back.lua - a login that succeeded, or could not check
-- the password, gives its attempt back.
-- KEYS: the counters login_limit_take counted in. Takes one back from each
-- counter that still counts something (a window that ended has nothing to
-- give back). Answers 0.
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
