-- common.lua - shared by the wrk scripts of ./dev bench (loaded with dofile).
--
-- The scripts read what the setup step wrote into $BENCH_DATA (one value a
-- line) and report through done(): one line "BENCH_RESULT {json}" that
-- bench/run picks out of wrk's output.

data_dir = os.getenv("BENCH_DATA") or "."

-- The lines of a data file, as a table of strings.
function read_lines(name)
   local t = {}
   local f = assert(io.open(data_dir .. "/" .. name, "r"))
   for line in f:lines() do
      if line ~= "" then t[#t + 1] = line end
   end
   f:close()
   return t
end

-- The first line of a data file.
function read_value(name)
   return read_lines(name)[1]
end

json_headers = { ["Content-Type"] = "application/json" }

function bearer(token)
   return { Authorization = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

-- Number the threads so each can take its own share of the data.
local thread_count = 0
function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   threads_total = thread_count
end

-- For scripts that replay requests prepared in init: replay_from(list)
-- starts this thread at its own offset of the list (./dev bench runs two
-- threads), and `request = replay_request` hands them out in turn.
function replay_from(list)
   reqs = list
   n = #reqs
   i = math.floor(n * (tid or 0) / 2)
end

function replay_request()
   i = i % n + 1
   return reqs[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   local socket = e.connect + e.read + e.write + e.timeout
   local secs = summary.duration / 1e6
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
      '"p99_ms":%.3f,"max_ms":%.3f,"errors":%d,"non_2xx":%d,"socket_errors":%d,"timeouts":%d}\n',
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      e.status + socket, e.status, socket, e.timeout))
end
