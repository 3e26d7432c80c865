/* rds.c - lazy, self-healing hiredis connections and script runner that send
 * each command at most once, each connection a context of its own (see
 * rds.h). */
#include "rds.h"
#include "log.h"
#include "rds_cluster.h"
#include "rds_link.h"
#include "metrics.h"
#include "text_copy.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define RDS_MAX_SENTINELS 16

struct rds {
    char *host;
    int port;
    int timeout_ms;
    /* With Sentinels: their addresses (split from the config's list once),
     * the primary's name, where to ask first (the one that answered last)
     * and the password every server asks for. */
    struct {
        char host[256];
        int port;
        long long silent_ms;   /* when it last did not answer; -1: it did */
    } sentinel[RDS_MAX_SENTINELS];
    int nsentinels;
    char *master;
    int sentinel_first;
    char *password;
    /* In cluster mode: the slot map and a connection per primary (then ctx
     * and the Sentinel settings are unused). */
    struct rds_cluster *cluster;
    redisContext *ctx;
    /* The address of the primary the connection was opened to. */
    char primary_host[256];
    int primary_port;
    /* When the connection last brought a reply (monotonic ms). */
    long long used_ms;
    enum rds_error err;
};

/* The responders' one connection: a single-threaded process needs no more. */
static struct rds rds_the_default = {.timeout_ms = 1000};

/* With Sentinels, a connection idle this long is asked whether its server
 * is still the primary before a command goes on it. */
#define RDS_IDLE_CHECK_MS 1000
/* A Sentinel that did not answer is asked after the others this long. */
#define RDS_SENTINEL_SILENT_MS 10000

long long rds_link_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rds_configure(struct rds *r, const char *host, int port, int timeout_ms)
{
    r->port = port;
    r->timeout_ms = timeout_ms;
    return text_copy_into(&r->host, host);
}

struct rds *rds_default(void)
{
    return &rds_the_default;
}

void rds_init(const char *host, int port, int timeout_ms)
{
    (void)rds_configure(&rds_the_default, host, port, timeout_ms);   /* logged */
}

struct rds *rds_new(const char *host, int port, int timeout_ms)
{
    struct rds *r = calloc(1, sizeof *r);

    if (!r) {
        log_error("redis: out of memory");
        return NULL;
    }
    if (rds_configure(r, host, port, timeout_ms) < 0) {
        free(r);
        return NULL;
    }
    return r;
}

int rds_set_sentinels(struct rds *r, const char *sentinels, const char *master_name, const char *password)
{
    r->sentinel_first = 0;
    r->nsentinels = 0;
    /* "host:port,host:port", as config.c has checked it. */
    while (sentinels && *sentinels && r->nsentinels < RDS_MAX_SENTINELS) {
        size_t len = strcspn(sentinels, ",");
        const char *colon = memrchr(sentinels, ':', len);

        if (colon && (size_t)(colon - sentinels) < sizeof r->sentinel[0].host) {
            snprintf(r->sentinel[r->nsentinels].host, sizeof r->sentinel[0].host, "%.*s",
                     (int)(colon - sentinels), sentinels);
            r->sentinel[r->nsentinels].silent_ms = -1;
            r->sentinel[r->nsentinels++].port = atoi(colon + 1);
        }
        sentinels += len + (sentinels[len] == ',');
    }
    if (text_copy_into(&r->master, master_name) < 0 || text_copy_into(&r->password, password) < 0)
        return -1;
    return 0;
}

int rds_use_sentinels(const char *sentinels, const char *master_name, const char *password)
{
    return rds_set_sentinels(&rds_the_default, sentinels, master_name, password);
}

int rds_set_cluster(struct rds *r, const char *nodes, const char *password)
{
    struct rds_cluster *cluster = rds_cluster_new(nodes, password, r->timeout_ms);

    if (!cluster)
        return -1;
    rds_cluster_free(r->cluster);
    r->cluster = cluster;
    return 0;
}

int rds_use_cluster(const char *nodes, const char *password)
{
    return rds_set_cluster(&rds_the_default, nodes, password);
}

int rds_cluster_mode(const struct rds *r)
{
    return r->cluster != NULL;
}

int rds_replicas_behind_on(const struct rds *r)
{
    if (r->cluster)
        return rds_cluster_last_replicas(r->cluster);
    return r->nsentinels > 0 ? 1 : 0;
}

int rds_replicas_behind(void)
{
    return rds_replicas_behind_on(&rds_the_default);
}

void rds_disconnect(struct rds *r)
{
    if (r->cluster)
        rds_cluster_disconnect(r->cluster);
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
}

void rds_free(struct rds *r)
{
    if (!r)
        return;
    rds_disconnect(r);
    rds_cluster_free(r->cluster);
    free(r->host);
    free(r->master);
    free(r->password);
    free(r);
}

/* Whether the open connection can take a command. Between commands Redis
 * sends nothing, so input waiting on the socket (end of stream, most often)
 * means Redis closed it: restarted, or dropped it as idle. Seen before
 * sending, that costs nothing: the command goes to a fresh connection. */
int rds_link_usable(const redisContext *c)
{
    struct pollfd pfd;
    int ready;

    if (c->err || c->fd < 0)
        return 0;
    pfd.fd = c->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    do
        ready = poll(&pfd, 1, 0);
    while (ready < 0 && errno == EINTR);
    return ready == 0;
}

struct timeval rds_link_timeout(int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    return tv;
}

redisContext *rds_link_open(const char *host, int port, struct timeval tv)
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

int rds_link_auth(redisContext *c, const char *password)
{
    const char *auth[] = {"AUTH", password};

    if (!password)
        return 1;
    if (!rds_expect(c, 2, auth, NULL, NULL)) {
        log_error("redis: AUTH refused");
        return 0;
    }
    return 1;
}

/* Asks Sentinel i for the primary's address: 1 and host, port, or 0. */
static int rds_ask_sentinel(const struct rds *r, int i, struct timeval tv, char *host, size_t cap, int *port)
{
    const char *sentinel = r->sentinel[i].host;
    const char *ask[] = {"SENTINEL", "get-master-addr-by-name", r->master};
    redisContext *s = rds_link_open(sentinel, r->sentinel[i].port, tv);
    redisReply *addr = NULL;
    int ok;

    if (!s)
        return 0;
    if (r->password) {
        /* Sentinels that ask for a password get the same one; those that
         * do not refuse AUTH, which is harmless. */
        const char *auth[] = {"AUTH", r->password};
        rds_expect(s, 2, auth, NULL, NULL);
    }
    ok = rds_expect(s, 3, ask, NULL, &addr) && addr->type == REDIS_REPLY_ARRAY && addr->elements == 2 &&
         addr->element[0]->type == REDIS_REPLY_STRING && addr->element[1]->type == REDIS_REPLY_STRING;
    if (ok) {
        snprintf(host, cap, "%s", addr->element[0]->str);
        *port = atoi(addr->element[1]->str);
    } else {
        log_error("redis: Sentinel %s:%d does not know the primary %s", sentinel, r->sentinel[i].port, r->master);
    }
    if (addr)
        freeReplyObject(addr);
    redisFree(s);
    return ok;
}

/* Asks the Sentinels, from the one that answered last, which server is the
 * primary, until more than half of those configured name the same one: 1
 * and its address. One Sentinel can be stale: cut off with the old
 * primary, it names that server until it hears from the others, and the
 * old primary calls itself primary until the Sentinels demote it, which
 * drops whatever was written to it meanwhile. So the first answer is not
 * enough while most Sentinels can be asked. When fewer than half answer at
 * all (most of them down), the first answer is taken, as a client of one
 * Sentinel would: 1 too. 0 when none answered, or most answered but did
 * not agree (a failover under way: the next command asks again). */
static int rds_sentinels_agree(struct rds *r, struct timeval tv, char *host, size_t cap, int *port)
{
    struct {
        char host[256];
        int port, votes, first;
    } seen[RDS_MAX_SENTINELS];
    int nseen = 0, answered = 0, need = r->nsentinels / 2 + 1, lately_silent[RDS_MAX_SENTINELS];

    /* Those that did not answer lately are asked last: one on a host cut
     * off costs a whole timeout, which the others can spare. */
    for (int i = 0; i < r->nsentinels; i++)
        lately_silent[i] = r->sentinel[i].silent_ms >= 0 &&
                           rds_link_now_ms() - r->sentinel[i].silent_ms < RDS_SENTINEL_SILENT_MS;
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < r->nsentinels; k++) {
            int i = (r->sentinel_first + k) % r->nsentinels, j;
            char h[256];
            int p;

            if (lately_silent[i] != pass)
                continue;
            if (!rds_ask_sentinel(r, i, tv, h, sizeof h, &p)) {
                r->sentinel[i].silent_ms = rds_link_now_ms();
                continue;
            }
            r->sentinel[i].silent_ms = -1;
            answered++;
            for (j = 0; j < nseen && (seen[j].port != p || strcmp(seen[j].host, h) != 0); j++)
                ;
            if (j == nseen) {
                snprintf(seen[j].host, sizeof seen[j].host, "%s", h);
                seen[j].port = p;
                seen[j].votes = 0;
                seen[j].first = i;
                nseen++;
            }
            if (++seen[j].votes >= need) {
                snprintf(host, cap, "%s", seen[j].host);
                *port = seen[j].port;
                r->sentinel_first = seen[j].first;
                return 1;
            }
        }
    }
    if (answered > 0 && answered < need) {
        snprintf(host, cap, "%s", seen[0].host);
        *port = seen[0].port;
        r->sentinel_first = seen[0].first;
        return 1;
    }
    if (answered > 0)
        log_error("redis: the Sentinels do not agree on the primary %s (a failover under way?)", r->master);
    return 0;
}

/* Connects to the primary the Sentinels name, if it says it is the primary:
 * just after a failover the Sentinels can still name the old one. */
static redisContext *rds_open_primary(struct rds *r, struct timeval tv)
{
    const char *role[] = {"ROLE"};
    char host[256];
    redisContext *c;
    int port;

    if (!rds_sentinels_agree(r, tv, host, sizeof host, &port))
        return NULL;
    c = rds_link_open(host, port, tv);
    if (c && rds_link_auth(c, r->password) && rds_expect(c, 1, role, "master", NULL)) {
        snprintf(r->primary_host, sizeof r->primary_host, "%s", host);
        r->primary_port = port;
        return c;
    }
    log_error("redis: %s:%d, named primary by the Sentinels, is not one (yet)", host, port);
    if (c)
        redisFree(c);
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
static int rds_still_primary(struct rds *r)
{
    struct timeval tv = rds_link_timeout(r->timeout_ms);
    const char *role[] = {"ROLE"};
    char host[256];
    int port;

    if (r->nsentinels == 0 || rds_link_now_ms() - r->used_ms < RDS_IDLE_CHECK_MS)
        return 1;
    /* Sentinels that cannot say leave it to the server's own answer. */
    if (rds_sentinels_agree(r, tv, host, sizeof host, &port) &&
        (strcmp(host, r->primary_host) != 0 || port != r->primary_port))
        return 0;
    if (!rds_expect(r->ctx, 1, role, "master", NULL))
        return 0;
    r->used_ms = rds_link_now_ms();
    return 1;
}

static int rds_connect(struct rds *r)
{
    struct timeval tv = rds_link_timeout(r->timeout_ms);

    if (r->ctx) {
        if (!rds_link_usable(r->ctx)) {
            if (!r->ctx->err)
                log_info("redis: the server closed the idle connection; reconnecting");
        } else if (rds_still_primary(r)) {
            return 0;
        } else {
            log_info("redis: the idle connection's server is not the primary or does not answer; asking the Sentinels");
        }
    }
    rds_disconnect(r);
    if (r->nsentinels > 0 && r->master) {
        r->ctx = rds_open_primary(r, tv);
    } else if (r->host) {
        r->ctx = rds_link_open(r->host, r->port, tv);
        if (r->ctx && !rds_link_auth(r->ctx, r->password))
            rds_disconnect(r);
    }
    if (!r->ctx) {
        metrics_store_error(METRICS_REDIS);
        r->err = RDS_UNREACHABLE;
        return -1;
    }
    r->used_ms = rds_link_now_ms();
    return 0;
}

/* Sends one command, once. A reply that does not come (timeout, a connection
 * that broke) leaves it unknown whether Redis ran the command, so it is never
 * sent again: the caller answers 503. */
static redisReply *rds_run(struct rds *r, int argc, const char **argv, const size_t *argvlen)
{
    redisReply *reply;

    r->err = RDS_OK;
    if (r->cluster)
        return rds_cluster_run(r->cluster, argc, argv, argvlen, &r->err);
    if (rds_connect(r) < 0)
        return NULL;
    reply = redisCommandArgv(r->ctx, argc, argv, argvlen);
    if (!reply) {
        log_error("redis %s: %s", argv[0], r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
        metrics_store_error(METRICS_REDIS);
        rds_disconnect(r);
        r->err = RDS_REPLY_LOST;
        return NULL;
    }
    r->used_ms = rds_link_now_ms();
    if (reply->type == REDIS_REPLY_ERROR)
        r->err = RDS_SERVER_ERROR;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "READONLY", 8) == 0) {
        /* A replica now (a failover made another server the primary): the
         * command was refused, not run. The next command asks again. */
        log_error("redis: the server became a replica; asking for the primary again");
        rds_disconnect(r);
    }
    return reply;
}

redisReply *rds_command_on(struct rds *r, int argc, const char **argv, const size_t *argvlen)
{
    redisReply *reply = rds_run(r, argc, argv, argvlen);

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_error("redis %s: %s", argv[0], reply->str);
        metrics_store_error(METRICS_REDIS);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *rds_command_reply_on(struct rds *r, int argc, const char **argv)
{
    return rds_run(r, argc, argv, NULL);
}

/* A pipeline over a cluster: its commands may live on several primaries,
 * so each is routed (and redirected) on its own, in order, which costs a
 * round trip per command. As in one pipeline, a command that could not be
 * sent or whose reply did not come ends the batch: those after it are not
 * sent and get NULL. */
static int rds_cluster_pipeline(struct rds *r, int n, const int *argc, const char **const *argv, redisReply **replies)
{
    enum rds_error err = RDS_OK;
    int got;

    for (got = 0; got < n; got++) {
        replies[got] = rds_cluster_run(r->cluster, argc[got], argv[got], NULL, &err);
        if (!replies[got])
            break;
        if (replies[got]->type == REDIS_REPLY_ERROR) {
            log_error("redis %s: %s", argv[got][0], replies[got]->str);
            metrics_store_error(METRICS_REDIS);
            if (r->err == RDS_OK)
                r->err = RDS_SERVER_ERROR;
        }
    }
    if (got < n)
        r->err = err;
    return got == 0 && err == RDS_UNREACHABLE ? -1 : got;
}

int rds_pipeline_on(struct rds *r, int n, const int *argc, const char **const *argv, redisReply **replies)
{
    int got = 0, readonly = 0;

    r->err = RDS_OK;
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    if (n <= 0)
        return 0;
    if (r->cluster)
        return rds_cluster_pipeline(r, n, argc, argv, replies);
    if (rds_connect(r) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (redisAppendCommandArgv(r->ctx, argc[i], argv[i], NULL) != REDIS_OK) {
            /* Only buffered so far: nothing of the batch has left. */
            log_error("redis %s: %s", argv[i][0], r->ctx->errstr[0] ? r->ctx->errstr : "out of memory");
            rds_disconnect(r);
            r->err = RDS_UNREACHABLE;
            return -1;
        }
    }
    for (; got < n; got++) {
        void *reply = NULL;

        if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
            log_error("redis %s: %s (%d of %d replies came)", argv[got][0],
                      r->ctx->errstr[0] ? r->ctx->errstr : "no reply", got, n);
            metrics_store_error(METRICS_REDIS);
            rds_disconnect(r);
            r->err = RDS_REPLY_LOST;
            break;
        }
        replies[got] = reply;
        if (replies[got]->type == REDIS_REPLY_ERROR) {
            log_error("redis %s: %s", argv[got][0], replies[got]->str);
            metrics_store_error(METRICS_REDIS);
            readonly |= strncmp(replies[got]->str, "READONLY", 8) == 0;
            if (r->err == RDS_OK)
                r->err = RDS_SERVER_ERROR;
        }
    }
    if (got == n)
        r->used_ms = rds_link_now_ms();
    /* Closed only once every reply of the pipeline has been read. */
    if (readonly) {
        log_error("redis: the server became a replica; asking for the primary again");
        rds_disconnect(r);
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

static int rds_load(struct rds *r, struct rds_script *s)
{
    char *text = rds_script_text(s);
    const char *argv[3] = {"SCRIPT", "LOAD", text};
    redisReply *reply;

    if (!text)
        return -1;
    reply = rds_command_on(r, 3, argv, NULL);
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

redisReply *rds_eval_on(struct rds *r, struct rds_script *script, int nkeys, int argc, const char **argv)
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
        if (!script->sha[0] && rds_load(r, script) < 0)
            break;
        full[1] = script->sha;
        reply = rds_run(r, argc + 3, full, NULL);
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

enum rds_error rds_last_error(const struct rds *r)
{
    return r->err;
}

int rds_ping_on(struct rds *r)
{
    const char *argv[] = {"PING"};
    redisReply *reply = rds_command_on(r, 1, argv, NULL);
    int ok = reply && reply->type == REDIS_REPLY_STATUS;

    if (reply)
        freeReplyObject(reply);
    return ok ? 0 : -1;
}

/* The default connection's calls, as the responders make them. */

redisReply *rds_command(int argc, const char **argv, const size_t *argvlen)
{
    return rds_command_on(&rds_the_default, argc, argv, argvlen);
}

redisReply *rds_command_reply(int argc, const char **argv)
{
    return rds_command_reply_on(&rds_the_default, argc, argv);
}

int rds_pipeline(int n, const int *argc, const char **const *argv, redisReply **replies)
{
    return rds_pipeline_on(&rds_the_default, n, argc, argv, replies);
}

redisReply *rds_eval(struct rds_script *script, int nkeys, int argc, const char **argv)
{
    return rds_eval_on(&rds_the_default, script, nkeys, argc, argv);
}

int rds_reply_lost(void)
{
    return rds_the_default.err == RDS_REPLY_LOST;
}

int rds_ping(void)
{
    return rds_ping_on(&rds_the_default);
}

void rds_close(void)
{
    rds_disconnect(&rds_the_default);
}
