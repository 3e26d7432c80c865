-- login.lua - POST /api/v1/sessions with the right password: each request
-- a real login, one Argon2id verify at the configured cost, by accounts the
-- setup step signed up (logins.txt: one login body a line).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args)
   bodies = read_lines("logins.txt")
   n = #bodies
   i = tid or 0
end

function request()
   i = i % n + 1
   return wrk.format("POST", "/api/v1/sessions", json_headers, bodies[i])
end
