-- queue_status.lua - GET /api/v1/queue/status, polling with many distinct
-- live tokens (some ACTIVE, most WAITING), each thread from its own offset.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   local tokens = read_lines("status_tokens.txt")
   reqs = {}
   for i, t in ipairs(tokens) do
      reqs[i] = wrk.format("GET", "/api/v1/queue/status", { Authorization = "Bearer " .. t })
   end
   n = #reqs
   i = math.floor(n * (tid or 0) / 2)
end

function request()
   i = i % n + 1
   return reqs[i]
end
