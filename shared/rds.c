/* rds.c - lazy, self-healing hiredis connection and script runner that sends
 * each command at most once (see rds.h). */
#include "rds.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static char *rds_host;
static int rds_port;
/* With Sentinels: their addresses (split from the config's list once), the
 * primary's name, where to ask first (the one that answered last) and the
 * password every server asks for. */
#define RDS_MAX_SENTINELS 16
static struct {
    char host[256];
    int port;
} rds_sentinel[RDS_MAX_SENTINELS];
static int rds_nsentinels;
static char *rds_master;
static int rds_sentinel_first;
static char *rds_password;
static int rds_timeout_ms = 1000;
static redisContext *rds_ctx;
/* Whether the last command was sent and its reply never came. */
static int rds_lost;
/* When the connection last brought a reply (monotonic ms). */
static long long rds_used_ms;

/* With Sentinels, a connection idle this long is asked whether its server
 * is still the primary before a command goes on it. */
#define RDS_IDLE_CHECK_MS 1000

static long long rds_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rds_init(const char *host, int port, int timeout_ms)
{
    free(rds_host);
    rds_host = host ? strdup(host) : NULL;
    if (host && !rds_host)
        log_error("rds_init: out of memory");
    rds_port = port;
    rds_timeout_ms = timeout_ms;
}

static int rds_set_copy(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? strdup(value) : NULL;
    if (value && !*slot) {
        log_error("redis: out of memory");
        return -1;
    }
    return 0;
}

int rds_use_sentinels(const char *sentinels, const char *master_name, const char *password)
{
    rds_sentinel_first = 0;
    rds_nsentinels = 0;
    /* "host:port,host:port", as config.c has checked it. */
    while (sentinels && *sentinels && rds_nsentinels < RDS_MAX_SENTINELS) {
        size_t len = strcspn(sentinels, ",");
        const char *colon = memrchr(sentinels, ':', len);

        if (colon && (size_t)(colon - sentinels) < sizeof rds_sentinel[0].host) {
            snprintf(rds_sentinel[rds_nsentinels].host, sizeof rds_sentinel[0].host, "%.*s",
                     (int)(colon - sentinels), sentinels);
            rds_sentinel[rds_nsentinels++].port = atoi(colon + 1);
        }
        sentinels += len + (sentinels[len] == ',');
    }
    if (rds_set_copy(&rds_master, master_name) < 0 || rds_set_copy(&rds_password, password) < 0)
        return -1;
    return 0;
}

void rds_close(void)
{
    if (rds_ctx)
        redisFree(rds_ctx);
    rds_ctx = NULL;
}

/* Whether the open connection can take a command. Between commands Redis
 * sends nothing, so input waiting on the socket (end of stream, most often)
 * means Redis closed it: restarted, or dropped it as idle. Seen before
 * sending, that costs nothing: the command goes to a fresh connection. */
static int rds_idle_connection_usable(void)
{
    struct pollfd pfd;
    int ready;

    if (rds_ctx->err || rds_ctx->fd < 0)
        return 0;
    pfd.fd = rds_ctx->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    do
        ready = poll(&pfd, 1, 0);
    while (ready < 0 && errno == EINTR);
    return ready == 0;
}

/* A connection with the timeout set, or NULL (logged). */
static redisContext *rds_open(const char *host, int port, struct timeval tv)
{
    /* A host that is a path names Redis's unix socket: on one host it
     * spares both sides the TCP stack on every command. */
    redisContext *c = host[0] == '/' ? redisConnectUnixWithTimeout(host, tv) : redisConnectWithTimeout(host, port, tv);

    if (!c) {
        log_error("redis: out of memory");
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        log_error("redis %s:%d: %s", host, port, c->err ? c->errstr : "cannot set the timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

/* One command on a connection of its own making (AUTH, ROLE, SENTINEL):
 * 1 when the reply is an array whose first element is the string want (or
 * any reply but an error when want is NULL). */
static int rds_expect(redisContext *c, int argc, const char **argv, const char *want, redisReply **keep)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok;

    if (!r)
        return 0;
    ok = r->type != REDIS_REPLY_ERROR;
    if (ok && want)
        ok = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING &&
             strcmp(r->element[0]->str, want) == 0;
    if (ok && keep)
        *keep = r;
    else
        freeReplyObject(r);
    return ok;
}

static int rds_auth(redisContext *c)
{
    const char *auth[] = {"AUTH", rds_password};

    if (!rds_password)
        return 1;
    if (!rds_expect(c, 2, auth, NULL, NULL)) {
        log_error("redis: AUTH refused");
        return 0;
    }
    return 1;
}

/* Asks Sentinel i for the primary's address: 1 and host, port, or 0. */
static int rds_ask_sentinel(int i, struct timeval tv, char *host, size_t cap, int *port)
{
    const char *sentinel = rds_sentinel[i].host;
    const char *ask[] = {"SENTINEL", "get-master-addr-by-name", rds_master};
    redisContext *s = rds_open(sentinel, rds_sentinel[i].port, tv);
    redisReply *addr = NULL;
    int ok;

    if (!s)
        return 0;
    if (rds_password) {
        /* Sentinels that ask for a password get the same one; those that
         * do not refuse AUTH, which is harmless. */
        const char *auth[] = {"AUTH", rds_password};
        rds_expect(s, 2, auth, NULL, NULL);
    }
    ok = rds_expect(s, 3, ask, NULL, &addr) && addr->type == REDIS_REPLY_ARRAY && addr->elements == 2 &&
         addr->element[0]->type == REDIS_REPLY_STRING && addr->element[1]->type == REDIS_REPLY_STRING;
    if (ok) {
        snprintf(host, cap, "%s", addr->element[0]->str);
        *port = atoi(addr->element[1]->str);
    } else {
        log_error("redis: Sentinel %s:%d does not know the primary %s", sentinel, rds_sentinel[i].port, rds_master);
    }
    if (addr)
        freeReplyObject(addr);
    redisFree(s);
    return ok;
}

/* The address of the primary the connection was opened to. */
static char rds_primary_host[256];
static int rds_primary_port;

/* Asks the Sentinels in turn (the last one that answered first) for the
 * primary, and connects to it if it says it is the primary: just after a
 * failover a Sentinel can still name the old one. */
static redisContext *rds_open_primary(struct timeval tv)
{
    for (int k = 0; k < rds_nsentinels; k++) {
        int i = (rds_sentinel_first + k) % rds_nsentinels;
        const char *role[] = {"ROLE"};
        char host[256];
        redisContext *c;
        int port;

        if (!rds_ask_sentinel(i, tv, host, sizeof host, &port))
            continue;
        c = rds_open(host, port, tv);
        if (c && rds_auth(c) && rds_expect(c, 1, role, "master", NULL)) {
            rds_sentinel_first = i;
            snprintf(rds_primary_host, sizeof rds_primary_host, "%s", host);
            rds_primary_port = port;
            return c;
        }
        log_error("redis: %s:%d, named primary by a Sentinel, is not one (yet)", host, port);
        if (c)
            redisFree(c);
    }
    return NULL;
}

/* Whether the server of a connection idle for a while is still the
 * primary the Sentinels name. Two cases the liveness check cannot see,
 * because nothing is closed: a primary cut off the network, whose
 * replacement the Sentinels have promoted meanwhile (the first command on
 * the old connection would wait out the timeout and fail); and that old
 * primary once its link is back, which goes on calling itself primary, with
 * what it had before the cut, until the Sentinels turn it into a replica,
 * seconds later (a command on it would read tokens and sessions as they
 * were, and write what the replica-to-be will drop). So the Sentinels are
 * asked first, then the server itself (ROLE, read only, safe to ask a
 * server that no longer answers: a Sentinel can name a primary a moment
 * after it stopped answering). The command, not sent yet, then
 * goes to the primary the Sentinels name. Under load a connection is never
 * idle that long, so this costs nothing there. */
static int rds_still_primary(void)
{
    struct timeval tv = {rds_timeout_ms / 1000, (rds_timeout_ms % 1000) * 1000};
    const char *role[] = {"ROLE"};

    if (rds_nsentinels == 0 || rds_now_ms() - rds_used_ms < RDS_IDLE_CHECK_MS)
        return 1;
    for (int k = 0; k < rds_nsentinels; k++) {
        int i = (rds_sentinel_first + k) % rds_nsentinels;
        char host[256];
        int port;

        if (rds_ask_sentinel(i, tv, host, sizeof host, &port)) {
            if (strcmp(host, rds_primary_host) != 0 || port != rds_primary_port)
                return 0;
            break;
        }
    }
    if (!rds_expect(rds_ctx, 1, role, "master", NULL))
        return 0;
    rds_used_ms = rds_now_ms();
    return 1;
}

static int rds_connect(void)
{
    struct timeval tv = {rds_timeout_ms / 1000, (rds_timeout_ms % 1000) * 1000};

    if (rds_ctx) {
        if (!rds_idle_connection_usable()) {
            if (!rds_ctx->err)
                log_info("redis: the server closed the idle connection; reconnecting");
        } else if (rds_still_primary()) {
            return 0;
        } else {
            log_info("redis: the idle connection's server is not the primary or does not answer; asking the Sentinels");
        }
    }
    rds_close();
    if (rds_nsentinels > 0 && rds_master) {
        rds_ctx = rds_open_primary(tv);
    } else if (rds_host) {
        rds_ctx = rds_open(rds_host, rds_port, tv);
        if (rds_ctx && !rds_auth(rds_ctx))
            rds_close();
    }
    if (!rds_ctx) {
        metrics_store_error(METRICS_REDIS);
        return -1;
    }
    rds_used_ms = rds_now_ms();
    return 0;
}

/* Sends one command, once. A reply that does not come (timeout, a connection
 * that broke) leaves it unknown whether Redis ran the command, so it is never
 * sent again: the caller answers 503. */
static redisReply *rds_run(int argc, const char **argv, const size_t *argvlen)
{
    redisReply *reply;

    rds_lost = 0;
    if (rds_connect() < 0)
        return NULL;
    reply = redisCommandArgv(rds_ctx, argc, argv, argvlen);
    if (!reply) {
        log_error("redis %s: %s", argv[0], rds_ctx->errstr[0] ? rds_ctx->errstr : "no reply");
        metrics_store_error(METRICS_REDIS);
        rds_close();
        rds_lost = 1;
        return NULL;
    }
    rds_used_ms = rds_now_ms();
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "READONLY", 8) == 0) {
        /* A replica now (a failover made another server the primary): the
         * command was refused, not run. The next command asks again. */
        log_error("redis: the server became a replica; asking for the primary again");
        rds_close();
    }
    return reply;
}

redisReply *rds_command(int argc, const char **argv, const size_t *argvlen)
{
    redisReply *reply = rds_run(argc, argv, argvlen);

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_error("redis %s: %s", argv[0], reply->str);
        metrics_store_error(METRICS_REDIS);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *rds_command_reply(int argc, const char **argv)
{
    return rds_run(argc, argv, NULL);
}

int rds_pipeline(int n, const int *argc, const char **const *argv, redisReply **replies)
{
    int got = 0, readonly = 0;

    rds_lost = 0;
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    if (n <= 0)
        return 0;
    if (rds_connect() < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (redisAppendCommandArgv(rds_ctx, argc[i], argv[i], NULL) != REDIS_OK) {
            /* Only buffered so far: nothing of the batch has left. */
            log_error("redis %s: %s", argv[i][0], rds_ctx->errstr[0] ? rds_ctx->errstr : "out of memory");
            rds_close();
            return -1;
        }
    }
    for (; got < n; got++) {
        void *r = NULL;

        if (redisGetReply(rds_ctx, &r) != REDIS_OK || !r) {
            log_error("redis %s: %s (%d of %d replies came)", argv[got][0],
                      rds_ctx->errstr[0] ? rds_ctx->errstr : "no reply", got, n);
            metrics_store_error(METRICS_REDIS);
            rds_close();
            rds_lost = 1;
            break;
        }
        replies[got] = r;
        if (replies[got]->type == REDIS_REPLY_ERROR) {
            log_error("redis %s: %s", argv[got][0], replies[got]->str);
            metrics_store_error(METRICS_REDIS);
            readonly |= strncmp(replies[got]->str, "READONLY", 8) == 0;
        }
    }
    if (got == n)
        rds_used_ms = rds_now_ms();
    /* Closed only once every reply of the pipeline has been read. */
    if (readonly) {
        log_error("redis: the server became a replica; asking for the primary again");
        rds_close();
    }
    return got;
}

int rds_pipeline_ok(int n, const int *argc, const char **const *argv)
{
    redisReply **replies = calloc((size_t)(n > 0 ? n : 1), sizeof *replies);
    int got, rc;

    if (!replies)
        return -1;
    got = n > 0 ? rds_pipeline(n, argc, argv, replies) : 0;
    rc = got == n ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR)
            rc = -1;
        if (replies[i])
            freeReplyObject(replies[i]);
    }
    free(replies);
    return rc;
}

/* Every script is loaded with a "#!lua" shebang line. Redis then refuses
 * any call in it to a key outside the hash slot of its KEYS, whether it was
 * given that key or made the name itself: a one-node Redis Cluster (the
 * test stack's) catches what a real cluster would. */
char *rds_script_text(const struct rds_script *script)
{
    static const char shebang[] = "#!lua\n";
    size_t len = strlen(script->source);
    char *text = malloc(sizeof shebang + len);

    if (!text) {
        log_error("redis: out of memory");
        return NULL;
    }
    memcpy(text, shebang, sizeof shebang - 1);
    memcpy(text + sizeof shebang - 1, script->source, len + 1);
    return text;
}

static int rds_load(struct rds_script *s)
{
    char *text = rds_script_text(s);
    const char *argv[3] = {"SCRIPT", "LOAD", text};
    redisReply *reply;

    if (!text)
        return -1;
    reply = rds_command(3, argv, NULL);
    free(text);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        log_error("redis: SCRIPT LOAD %s gave no sha", s->name);
        freeReplyObject(reply);
        return -1;
    }
    memcpy(s->sha, reply->str, 40);
    s->sha[40] = '\0';
    freeReplyObject(reply);
    return 0;
}

redisReply *rds_eval(struct rds_script *script, int nkeys, int argc, const char **argv)
{
    char nkeys_text[16];
    const char **full;
    redisReply *reply = NULL;

    full = malloc(sizeof *full * (size_t)(argc + 3));
    if (!full) {
        log_error("redis: out of memory");
        return NULL;
    }
    snprintf(nkeys_text, sizeof nkeys_text, "%d", nkeys);
    full[0] = "EVALSHA";
    full[2] = nkeys_text;
    memcpy(full + 3, argv, sizeof *argv * (size_t)argc);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!script->sha[0] && rds_load(script) < 0)
            break;
        full[1] = script->sha;
        reply = rds_run(argc + 3, full, NULL);
        if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            /* Redis restarted or its scripts were flushed: the script did
             * not run, so it is the one command that may be sent again. */
            freeReplyObject(reply);
            reply = NULL;
            script->sha[0] = '\0';
            continue;
        }
        break;
    }
    free(full);
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_error("redis script %s: %s", script->name, reply->str);
        metrics_store_error(METRICS_REDIS);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

int rds_reply_lost(void)
{
    return rds_lost;
}

int rds_ping(void)
{
    const char *argv[] = {"PING"};
    redisReply *reply = rds_command(1, argv, NULL);
    int ok = reply && reply->type == REDIS_REPLY_STATUS;

    if (reply)
        freeReplyObject(reply);
    return ok ? 0 : -1;
}
