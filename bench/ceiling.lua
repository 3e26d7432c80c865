-- ceiling.lua - GET /bench/ceiling: the trivial FastCGI responder.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
