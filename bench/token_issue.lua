-- token_issue.lua - POST /api/v1/queue/tokens, every request a new user.
-- wrk's argument (after --) tells runs apart so the warm-up's users are
-- never reused.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   concert = read_value("token_concert.txt")
   run = tonumber(args[1] or "1")
   count = 0
end

function request()
   count = count + 1
   local user = string.format("%08x-%04x-4000-8000-%012x", run, tid or 0, count)
   return wrk.format("POST", "/api/v1/queue/tokens", json_headers,
                     '{"userId":"' .. user .. '","concertId":' .. concert .. '}')
end
