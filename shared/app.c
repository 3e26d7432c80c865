/* app.c - config, connections and the FastCGI accept loop (see app.h). */
#include "app.h"
#include "config.h"
#include "db.h"
#include "db_replica.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "rds.h"
#include "request_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcgiapp.h>
#include <sodium.h>

static volatile sig_atomic_t app_stopping;

/* libfcgi retries an interrupted accept() unless told that shutdown is
 * pending, so both flags are set: a process waiting for work leaves its
 * accept() at once, a busy one finishes its request first. The listening
 * socket is closed too: a signal that lands after the loop's check but
 * before accept() would otherwise wait for the next connection. */
static void app_on_term(int sig)
{
    (void)sig;
    app_stopping = 1;
    FCGX_ShutdownPending();
    close(0);
}

int app_setup(const char *program)
{
    log_init(program);
    if (config_load(&g_config) < 0)
        return -1;
    password_set_cost(g_config.password_ops_limit, g_config.password_mem_kib);
    if (sodium_init() < 0) {
        log_error("libsodium cannot be initialised");
        return -1;
    }
    metrics_open(g_config.metrics_file);
    db_init(g_config.pg_conninfo);
    if (db_replica_init(g_config.pg_read_conninfo) < 0)
        return -1;
    return app_redis_setup();
}

int app_redis_setup(void)
{
    rds_init(g_config.redis_host, g_config.redis_port, g_config.redis_timeout_ms);
    if (g_config.redis_cluster_nodes)
        return rds_use_cluster(g_config.redis_cluster_nodes, g_config.redis_password);
    if ((g_config.redis_sentinels || g_config.redis_password) &&
        rds_use_sentinels(g_config.redis_sentinels, g_config.redis_master_name, g_config.redis_password) < 0)
        return -1;
    return 0;
}

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig)
{
    (void)sig;
    stop_asked = 1;
}

/* TERM and INT to handler, without SA_RESTART (a blocking call returns, so
 * a loop sees the request to stop); a closed peer is an error, not a death. */
static void catch_stop_with(void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void app_catch_stop(void)
{
    catch_stop_with(on_stop);
}

int app_stop_asked(void)
{
    return stop_asked;
}

int app_run(const char *program, const struct route *routes, size_t nroutes)
{
    FCGX_Request fcgx;
    const char *group;

    if (app_setup(program) < 0)
        return 1;
    /* "concert-queue" logs its requests as the group "queue". */
    group = strncmp(program, "concert-", 8) == 0 ? program + 8 : program;

    /* SIGTERM interrupts accept() so the loop ends between requests; a
     * request in progress is finished first. */
    catch_stop_with(app_on_term);

    if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("cannot initialise FastCGI");
        return 1;
    }
    while (!app_stopping && FCGX_Accept_r(&fcgx) >= 0) {
        struct request r;
        struct timespec began, ended;
        char method[16];
        double ms;

        db_replica_new_request();
        clock_gettime(CLOCK_MONOTONIC, &began);
        if (http_read_request(&r, &fcgx) < 0) {
            log_error("out of memory reading a request");
            r.fcgx = &fcgx;
            r.answered = 0;
            http_internal_error(&r);
        } else {
            http_dispatch(&r, routes, nroutes);
        }
        /* A request read to its end leaves the web server nothing more to
         * send, so its connection is closed outright (FCGX_Detach) rather
         * than with libfcgi's lingering close, which shuts down, then waits
         * for the server to hang up: a sleep and a wake-up per request in
         * the benchmark's profile. A body cut short keeps the lingering
         * close, so the server still reads the whole answer (the 413). */
        if (r.body && !r.body_too_large)
            FCGX_Detach(&fcgx);
        /* The method points into the request's parameters, which
         * FCGX_Finish_r frees. */
        snprintf(method, sizeof method, "%s", r.method ? r.method : "-");
        r.method = method;
        /* Counted before the answer leaves (a few additions in shared
         * memory): a client that has its answer and scrapes /metrics next
         * finds its request there, whichever process answers the scrape. */
        clock_gettime(CLOCK_MONOTONIC, &ended);
        ms = (double)(ended.tv_sec - began.tv_sec) * 1e3 + (double)(ended.tv_nsec - began.tv_nsec) / 1e6;
        metrics_request(group, r.answered ? r.status : 500, ms);
        metrics_outcome((enum metrics_kind)r.outcome_kind, r.concert_id, r.status);
        FCGX_Finish_r(&fcgx);
        /* Logged once the answer is on its way: the client does not wait
         * for the line, nor for the work the handler left for later. */
        request_log(&r, group, ms);
        if (r.after_answer)
            r.after_answer(r.after_answer_arg);
        http_free_request(&r);
    }
    db_close();
    db_replica_close();
    rds_close();
    config_free(&g_config);
    return 0;
}
