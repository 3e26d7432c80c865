/* ceiling.c - the benchmark's yardstick: a FastCGI responder that answers
 * every request with the same small JSON body and touches neither Redis nor
 * PostgreSQL. ./dev bench runs it exactly like a real responder group (two
 * spawn-fcgi instances, multiwatch children) behind the same nginx, so the
 * req/s it reaches is what the FastCGI path alone allows on this machine;
 * every scenario is reported as a ratio to it.
 *
 * Plain libfcgi, the same accept loop as shared/app.c, and like a real
 * responder it reads the request's parameters and body before answering,
 * and closes the connection the way app.c does.
 *
 * With CEILING_REDIS set (a Unix socket's path, or host:port) it also sends
 * Redis one GET per request before answering: the floor of every path that
 * asks Redis once (queue_status, seat_map), measured beside the ceiling. A
 * request Redis does not answer gets a 503 and a new connection. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcgiapp.h>
#include <hiredis/hiredis.h>

static volatile sig_atomic_t stopping;

/* One GET on a lazily (re)made connection; 0 when Redis answered. */
static int redis_round_trip(const char *where)
{
    static redisContext *c;
    redisReply *r;
    int ok;

    if (!c) {
        const char *colon = strrchr(where, ':');
        c = where[0] == '/' || !colon ? redisConnectUnix(where) : redisConnect("127.0.0.1", atoi(colon + 1));
        if (!c || c->err) {
            redisFree(c);
            c = NULL;
            return -1;
        }
    }
    r = redisCommand(c, "GET bench:floor");
    ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    if (!r) {
        redisFree(c);
        c = NULL;
    }
    return ok ? 0 : -1;
}

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();   /* else libfcgi retries the interrupted accept() */
}

int main(void)
{
    static const char body[] = "{\"status\":\"ok\",\"ceiling\":true}";
    static const char unavailable[] = "Status: 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
    const char *redis = getenv("CEILING_REDIS");
    static char head[256];
    FCGX_Request req;
    struct sigaction sa;
    char sink[4096];
    int headlen;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    headlen = snprintf(head, sizeof head,
                       "Status: 200 OK\r\n"
                       "Content-Type: application/json; charset=utf-8\r\n"
                       "Cache-Control: no-store\r\n"
                       "Content-Length: %zu\r\n\r\n",
                       sizeof body - 1);
    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
        return 1;
    while (!stopping && FCGX_Accept_r(&req) >= 0) {
        /* Look at what a real responder looks at, and drain the body. */
        (void)FCGX_GetParam("REQUEST_METHOD", req.envp);
        (void)FCGX_GetParam("REQUEST_URI", req.envp);
        (void)FCGX_GetParam("HTTP_AUTHORIZATION", req.envp);
        while (FCGX_GetStr(sink, sizeof sink, req.in) > 0)
            ;
        if (redis && redis[0] && redis_round_trip(redis) < 0) {
            FCGX_PutStr(unavailable, (int)sizeof unavailable - 1, req.out);
        } else {
            FCGX_PutStr(head, headlen, req.out);
            FCGX_PutStr(body, (int)sizeof body - 1, req.out);
        }
        /* Read to its end: close outright, as shared/app.c does. */
        FCGX_Detach(&req);
        FCGX_Finish_r(&req);
    }
    return 0;
}
