-- queue_gauges.lua - what the metrics show of a concert's queue, read only.
-- KEYS: pre, waiting, active, admissions.
-- Answers {pre-queued, waiting, active within their period, admissions so far}.
--@include lib/clock.lua
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),
        redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf'), tonumber(redis.call('GET', KEYS[4]) or '0')}
