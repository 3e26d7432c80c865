-- hold_take.lua - a seat hold, whole, in the concert's slot: the token's
-- check, the seats, the per-user limit, sales being open; then the hold's
-- record, its seats' locks and marks, and its reservation.held event, all
-- or nothing. No PostgreSQL: a hold is Redis's until it is paid (hold.h).
-- KEYS: the concert's active tokens, its token owners, its cached facts,
-- the schedule's seat map, its holds, their ends, the id counter, the
-- schedule's per-user seats, the reservation stream, its users' holds, the
-- show's holds by end (for its seat map's loads), then the seat locks.
-- ARGV: token id, lock owner, schedule id, when sales close (ms: the show's
-- start), the per-user limit, then the seat numbers (sorted, distinct,
-- known to exist).
-- Answers, in the order the refusals always came (the seats' Redis check
-- first, then the show, the limit):
--   {'MISS'}            the token is not simply ACTIVE (the full check says why)
--   {'NOCONF'}          the hold length is not cached (hold_length.lua)
--   {'NOMAP', version}  the seat map is not complete: load it, run again
--   {'BUSY', 'a, b'}    those seats are sold or held (a lock, or a live
--                       hold's mark on the map), a hold of one's own included
--   {'CLOSED'}          the show has started
--   {'NOMINE', version} what the schedule's buyers bought is not known
--                       (hold_mine.lua): load it from PostgreSQL, run again
--   {'LIMIT', n}        n seats already held or bought
--   {'NOSEQ'}           the id counter is gone (Redis lost its data): set
--                       it from the ids PostgreSQL has (SET NX), run again
--   {'HELD', user, id, until, amount, created, first}  first: '1' when
--                       it is the user's first hold of the concert
-- each of those from NOMAP on with 'LATE' after it when the cached facts
-- were a second old (hold_length.lua: the caller reads them again after
-- answering, and no hold waits for PostgreSQL).
-- The hold ends on a whole second (rounded up) holdSeconds on, as
-- PostgreSQL's did, so the expiresAt clients see is exact. Its id is the
-- concert's id times 10^9 plus the concert's counter: unique across
-- concerts, never one of PostgreSQL's older ids (below 10^9), and exact as
-- a JSON number while concert ids stay below 9,000,000.
--@include lib/clock.lua
--@include lib/token_active.lua
--@include lib/queue_facts.lua
--@include lib/seat_letter.lua
--@include lib/iso_time.lua
--@include lib/hold_record.lua
--@include lib/hold_mine.lua
--@include lib/hold_events.lua
--@include lib/user_holds.lua
local K_map, K_holds, K_ends, K_seq, K_mine, K_events, K_users, K_show_ends = KEYS[4], KEYS[5], KEYS[6], KEYS[7],
                                                                              KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local owner, schedule, closes, limit = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
-- Seat j (1..n) is ARGV[5 + j], its lock KEYS[11 + j].
local n = #ARGV - 5
local seats = {unpack(ARGV, 6)}
local FACTS_LATE_OK = true
--@include lib/hold_length.lua
-- Every answer from here on ends with 'LATE' when the facts were a second
-- old: the caller reads them again once it has answered.
local function answer(t)
  if facts_late then t[#t + 1] = 'LATE' end
  return t
end
local map = redis.call('HMGET', K_map, '_ok', unpack(seats))
if not map[1] then return answer({'NOMAP', redis.call('HGET', K_map, '_v') or ''}) end
local busy, amount, prices = {}, 0, {}
for j = 1, n do
  local value = map[1 + j]
  local price = string.match(value or '', '^(%d+),')
  local held = redis.call('GET', KEYS[11 + j])
  if not price then return answer({'NOMAP', redis.call('HGET', K_map, '_v') or ''}) end
  if seat_letter(value) == 'S' or (held and held ~= owner) or seat_held_until(value) > now then
    busy[#busy + 1] = seats[j]
  end
  amount, prices[j] = amount + tonumber(price), price
end
if #busy > 0 then return answer({'BUSY', table.concat(busy, ', ')}) end
if now >= closes then return answer({'CLOSED'}) end
local known = redis.call('HMGET', K_mine, '_ok', user, '_v')
if not known[1] then return answer({'NOMINE', known[3] or ''}) end
local mine = mine_read(known[2] or '0')
local have = mine_seats(mine, now)
if have + n > limit then return answer({'LIMIT', have}) end

local concert = string.match(K_map, '^{c:(%d+)}')
if redis.call('EXISTS', K_seq) == 0 then return answer({'NOSEQ'}) end
local seq = redis.call('INCR', K_seq)
if seq > 999999999 then return redis.error_reply('hold_take: the concert has used up its reservation ids') end
local id = concert .. string.format('%09d', seq)
local ends = (math.floor((now + 999) / 1000) * 1000) + hold_ms
local ends_text = string.format('%d', ends)
local rec = {user = user, schedule = schedule, seats = table.concat(seats, ','), amount = string.format('%d', amount),
             ends = ends, owner = owner, status = 'HELD', created = string.format('%d', now)}
redis.call('HSET', K_holds, id, hold_write(rec))
redis.call('ZADD', K_ends, ends, id)
redis.call('ZREMRANGEBYSCORE', K_show_ends, '-inf', now)
redis.call('ZADD', K_show_ends, ends, id)
mine.holds[#mine.holds + 1] = {id = id, n = n, ends = ends}
redis.call('HSET', K_mine, user, mine_write(mine, now))
for j = 1, n do
  redis.call('SET', KEYS[11 + j], owner, 'PXAT', ends)
  redis.call('HSET', K_map, seats[j], prices[j] .. ',H,' .. ends_text .. ',' .. id)
end
redis.call('HINCRBY', K_map, '_v', 1)
redis.call('HDEL', K_map, '_json')
hold_event(K_events, 'held', id, concert, rec, now)
local first = user_holds_add(K_users, user, id)
return answer({'HELD', user, id, ends_text, rec.amount, rec.created, first and '1' or '0'})
