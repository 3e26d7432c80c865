/* fuzz_responder_<group>: one responder's own route table and handlers on
 * fuzzed requests. The responder's source (fcgi/<group>.c) is included here
 * with its main renamed, so its static routes[] and handlers are the real
 * ones. No PostgreSQL or Redis is configured: every store call fails at once
 * (DB_UNAVAILABLE, no Redis reply), which drives the handlers through their
 * input checks and their outage paths. Every request must get exactly one
 * answer with a status the contract knows, and nothing may leak
 * (LeakSanitizer runs after each input).
 * Input: "<method>\n<uri>\n<authorization>\n<idempotency key>\n<body>". */
#include "fuzz.h"
#include "config.h"

#include <sodium.h>

#define main responder_main
#include RESPONDER_SOURCE
#undef main

#define FUZZ_ADMIN_KEY "fuzz-admin-key-0123456789abcdef"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The config every handler reads: defaults and a known admin key; no
     * conninfo or Redis host, so the stores are "down". */
    memset(&g_config, 0, sizeof g_config);
    g_config.redis_port = 6379;
    g_config.redis_timeout_ms = 10;
    g_config.admin_key = strdup(FUZZ_ADMIN_KEY);
    g_config.active_limit = 100;
    g_config.active_seconds = 1800;
    g_config.waiting_idle_seconds = 600;
    g_config.hold_seconds = 300;
    g_config.seat_count = 50;
    g_config.price = 50000;
    g_config.password_ops_limit = 2;
    g_config.password_mem_kib = 19456;
    g_config.session_ttl_seconds = 1800;
    g_config.login_email_max_failures = 5;
    g_config.login_email_window_seconds = 900;
    g_config.login_address_max_failures = 20;
    g_config.login_address_window_seconds = 900;
    g_config.login_account_max_failures = 20;
    g_config.login_account_window_seconds = 900;
    if (sodium_init() < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[5];
    size_t lens[5];
    struct request r;

    if (size > HTTP_MAX_BODY + 1024)
        return 0;
    fuzz_fields(data, size, 5, f, lens);
    if (fuzz_request(&r, f[0], f[1], f[2], f[3], f[4], lens[4]) < 0)
        abort();
    http_dispatch(&r, routes, sizeof routes / sizeof routes[0]);
    if (!r.answered || !fuzz_known_status(r.status)) {
        fprintf(stderr, "%s: %s %s answered %d (status %d)\n", RESPONDER_NAME, f[0], r.path,
                r.answered, r.status);
        abort();
    }
    http_free_request(&r);
    fuzz_free_fields(5, f);
    return 0;
}
