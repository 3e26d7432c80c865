-- redis_now_ms.lua - Redis's clock, in Unix milliseconds (t/46: when a hold's
-- seat locks end, measured on the clock that ends them).
local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000)
