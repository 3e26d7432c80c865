-- redis_floor.lua - GET /bench/redis-floor: the trivial FastCGI responder
-- with one Redis GET per request (the floor of one Redis round trip).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
