-- queue_status.lua - GET /api/v1/queue/status, polling with many distinct
-- live tokens (some ACTIVE, most WAITING), each thread from its own offset.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   local list = {}
   for k, t in ipairs(read_lines("status_tokens.txt")) do
      list[k] = wrk.format("GET", "/api/v1/queue/status", { Authorization = "Bearer " .. t })
   end
   replay_from(list)
end

request = replay_request
