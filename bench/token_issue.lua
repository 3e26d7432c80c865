-- token_issue.lua - POST /api/v1/queue/tokens, every request a new user:
-- each carries the session of a user made in the stores beforehand
-- (users_token.txt, see bench/users.h), the threads taking turns, so no
-- user asks twice (a second ask is the cheaper "same token again" path).
-- wrk's arguments: where this run starts in the list (the warm-up and the
-- measured run use different users) and the number of threads. Should the
-- list run out, the run goes round again and says so.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   concert = read_value("token_concert.txt")
   body = '{"concertId":' .. concert .. '}'
   sessions = {}
   for _, line in ipairs(read_lines("users_token.txt")) do
      sessions[#sessions + 1] = line:match("^%S+ (%S+)$")
   end
   n = #sessions
   k = tonumber(args[1] or "0") + (tid or 0)
   stride = tonumber(args[2] or "2")
   wrapped = false
end

function request()
   k = k + stride
   if k > n then
      k = k % n + 1
      if not wrapped then
         wrapped = true
         io.stderr:write("token_issue: the users ran out; going round again (answers 200)\n")
      end
   end
   return wrk.format("POST", "/api/v1/queue/tokens", bearer(sessions[k]), body)
end
