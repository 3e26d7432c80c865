-- seat_map.lua - GET /api/v1/schedules/{id}/seats over many schedules of one
-- concert, with many ACTIVE tokens of that concert.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   local tokens = read_lines("seat_tokens.txt")
   local schedules = read_lines("seat_schedules.txt")
   local list = {}
   -- Pair each schedule with several tokens; 7 is prime to the sizes used.
   local nt, ns = #tokens, #schedules
   for k = 1, ns * 7 do
      local s = schedules[(k - 1) % ns + 1]
      local t = tokens[(k * 7 - 1) % nt + 1]
      list[k] = wrk.format("GET", "/api/v1/schedules/" .. s .. "/seats",
                           { Authorization = "Bearer " .. t })
   end
   replay_from(list)
end

request = replay_request
