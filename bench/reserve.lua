-- reserve.lua - POST /api/v1/reservations, each request a new one-seat hold
-- on a seat nobody has asked for yet, across many schedules.
--
-- reserve_plan.txt (from the setup step) lists the concerts' ACTIVE tokens
-- and schedules. Seat k of the plan is seat (k % S) + 1 of schedule k / S of
-- its concert, held with token k % T: T >= S/4 keeps each user within the
-- four-seats-a-schedule limit. wrk's argument is the first k of this run
-- (the warm-up and the measured run take different seats); the threads
-- interleave.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   concerts = {}
   local by_id = {}
   for _, line in ipairs(read_lines("reserve_plan.txt")) do
      local kind, c, v = line:match("^(%S+) (%S+) (%S+)$")
      if kind == "seats" then
         seats = tonumber(v)
      else
         local entry = by_id[c]
         if not entry then
            entry = { tokens = {}, schedules = {} }
            by_id[c] = entry
            concerts[#concerts + 1] = entry
         end
         if kind == "token" then
            entry.tokens[#entry.tokens + 1] = "Bearer " .. v
         else
            entry.schedules[#entry.schedules + 1] = v
         end
      end
   end
   per_concert = #concerts[1].schedules * seats
   total = per_concert * #concerts
   k = tonumber(args[1] or "0") + (tid or 0)
   stride = tonumber(args[2] or "2")
end

function request()
   local kk = k % total
   k = k + stride
   local c = concerts[math.floor(kk / per_concert) + 1]
   local j = kk % per_concert
   local sched = c.schedules[math.floor(j / seats) + 1]
   local token = c.tokens[j % #c.tokens + 1]
   return wrk.format("POST", "/api/v1/reservations",
                     { Authorization = token, ["Content-Type"] = "application/json" },
                     '{"scheduleId":' .. sched .. ',"seatNos":[' .. (j % seats + 1) .. ']}')
end
