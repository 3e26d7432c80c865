-- showlist_get.lua - a concert's list of shows on sale for a token holder.
-- KEYS: the concert's active tokens, its token owners, the list. ARGV: the
-- token id. The queue's cheap token check ({'MISS'}), then {'HIT', list}
-- if it is kept, else {'ABSENT'}.
--@include lib/clock.lua
--@include lib/token_active.lua
local list = redis.call('GET', KEYS[3])
if not list then return {'ABSENT'} end
return {'HIT', list}
