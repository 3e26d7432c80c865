/* rds_cluster.c - the slot map, one lazy connection per primary, and the
 * redirections of a Redis Cluster (see rds_cluster.h). */
#include "rds_cluster.h"
#include "log.h"
#include "metrics.h"
#include "rds_link.h"
#include "text_copy.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RDS_CLUSTER_MAX_SEEDS 16
#define RDS_CLUSTER_MAX_NODES 64
/* Redirections one command may take (a move in progress: a MOVED, then
 * an ASK; a new map after a node that could not be reached). */
#define RDS_CLUSTER_MAX_HOPS 8
/* Pause before sending again after TRYAGAIN or CLUSTERDOWN, which are
 * retried until the context's timeout: a slot's move, a failover, ends. */
#define RDS_CLUSTER_PAUSE_MS 20
/* A node that did not answer for the map is asked after the others this
 * long (as rds.c does for Sentinels): one on a host cut off costs a whole
 * timeout, which the others can spare. */
#define RDS_CLUSTER_SILENT_MS 10000
/* Less than this left of a refresh's time is not worth a connection. */
#define RDS_CLUSTER_MIN_ASK_MS 10
/* A connection idle this long makes the map be asked for before a command
 * goes on it (as rds.c asks the Sentinels): see idle_check. */
#define RDS_CLUSTER_IDLE_CHECK_MS 1000
/* One node asked for the map gets at most this share of the refresh's
 * time: a node that accepts connections but never answers (its host
 * stalled) leaves time for the next one. */
#define RDS_CLUSTER_ASK_SHARE 2

struct rds_cluster_node {
    char host[256];
    int port;
    redisContext *ctx;
    int first_slot;     /* the lowest slot it owns: the order of a SCAN walk */
    int replicas;       /* how many replicas the map lists for it */
    long long used_ms;  /* when its connection last brought a reply */
};

/* An address asked for the map that did not answer, and when. */
struct rds_cluster_silent {
    char host[256];
    int port;
    long long since_ms;
};

struct rds_cluster {
    struct {
        char host[256];
        int port;
    } seed[RDS_CLUSTER_MAX_SEEDS];
    int nseeds;
    char *password;
    int timeout_ms;
    struct rds_cluster_node node[RDS_CLUSTER_MAX_NODES];
    int nnodes;
    int16_t slot_node[RDS_CLUSTER_SLOTS];   /* index into node, or -1 */
    int stale;          /* ask for the map before the next command */
    int last;           /* the node the last command went to, or -1 */
    struct rds_cluster_silent silent[RDS_CLUSTER_MAX_NODES + RDS_CLUSTER_MAX_SEEDS];
    int nsilent;
};

uint16_t rds_cluster_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int rds_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);

    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);

        if (close && close > open + 1)
            return rds_cluster_crc16(open + 1, (size_t)(close - open - 1)) % RDS_CLUSTER_SLOTS;
    }
    return rds_cluster_crc16(key, len) % RDS_CLUSTER_SLOTS;
}

/* Splits "host:port" of len bytes; 0, or -1 when it is not one. */
static int split_address(const char *text, size_t len, char *host, size_t cap, int *port)
{
    const char *colon = memrchr(text, ':', len);
    char digits[8];
    size_t ndigits;

    if (!colon || colon == text || (size_t)(colon - text) >= cap)
        return -1;
    ndigits = len - (size_t)(colon - text) - 1;
    if (ndigits == 0 || ndigits >= sizeof digits)
        return -1;
    memcpy(digits, colon + 1, ndigits);
    digits[ndigits] = '\0';
    *port = atoi(digits);
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    return *port > 0 && *port < 65536 ? 0 : -1;
}

struct rds_cluster *rds_cluster_new(const char *nodes, const char *password, int timeout_ms)
{
    struct rds_cluster *c = calloc(1, sizeof *c);

    if (!c) {
        log_error("redis: out of memory");
        return NULL;
    }
    c->timeout_ms = timeout_ms;
    c->last = -1;
    c->stale = 1;
    for (int i = 0; i < RDS_CLUSTER_SLOTS; i++)
        c->slot_node[i] = -1;
    while (nodes && *nodes && c->nseeds < RDS_CLUSTER_MAX_SEEDS) {
        size_t len = strcspn(nodes, ",");

        if (split_address(nodes, len, c->seed[c->nseeds].host, sizeof c->seed[0].host, &c->seed[c->nseeds].port) == 0)
            c->nseeds++;
        nodes += len + (nodes[len] == ',');
    }
    if (text_copy_into(&c->password, password) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

void rds_cluster_disconnect(struct rds_cluster *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        if (c->node[i].ctx)
            redisFree(c->node[i].ctx);
        c->node[i].ctx = NULL;
    }
}

void rds_cluster_free(struct rds_cluster *c)
{
    if (!c)
        return;
    rds_cluster_disconnect(c);
    free(c->password);
    free(c);
}

/* The node at host:port, added to the table when new: its index, or -1
 * when the table is full. */
static int node_at(struct rds_cluster *c, const char *host, int port)
{
    for (int i = 0; i < c->nnodes; i++)
        if (c->node[i].port == port && strcmp(c->node[i].host, host) == 0)
            return i;
    if (c->nnodes == RDS_CLUSTER_MAX_NODES || strlen(host) >= sizeof c->node[0].host)
        return -1;
    memset(&c->node[c->nnodes], 0, sizeof c->node[0]);
    snprintf(c->node[c->nnodes].host, sizeof c->node[0].host, "%s", host);
    c->node[c->nnodes].port = port;
    c->node[c->nnodes].first_slot = RDS_CLUSTER_SLOTS;
    return c->nnodes++;
}

/* A connection of its own to host:port, authenticated, each command
 * bounded by timeout_ms, or NULL. */
static redisContext *open_authenticated(const struct rds_cluster *c, const char *host, int port, int timeout_ms)
{
    redisContext *ctx = rds_link_open(host, port, rds_link_timeout(timeout_ms));

    if (ctx && !rds_link_auth(ctx, c->password)) {
        redisFree(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* Whether a CLUSTER SLOTS reply is an array of [start, end, [host, port,
 * ...], replicas...] ranges, each in bounds. */
static int slots_reply_sane(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *range = r->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER || range->element[1]->type != REDIS_REPLY_INTEGER ||
            range->element[0]->integer < 0 || range->element[1]->integer >= RDS_CLUSTER_SLOTS ||
            range->element[0]->integer > range->element[1]->integer ||
            range->element[2]->type != REDIS_REPLY_ARRAY || range->element[2]->elements < 2 ||
            range->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            range->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            return 0;
    }
    return 1;
}

/* Makes the map from a sane CLUSTER SLOTS reply, asked of asked_host (the
 * address given for a primary whose own is unknown, "" or "?"). Nodes that
 * stay primaries keep their connections; the others are closed. */
static void take_map(struct rds_cluster *c, const redisReply *slots, const char *asked_host)
{
    struct rds_cluster_node old[RDS_CLUSTER_MAX_NODES];
    int nold = c->nnodes;

    memcpy(old, c->node, sizeof old);
    c->nnodes = 0;
    for (int i = 0; i < RDS_CLUSTER_SLOTS; i++)
        c->slot_node[i] = -1;
    for (size_t i = 0; i < slots->elements; i++) {
        const redisReply *range = slots->element[i];
        const char *host = range->element[2]->element[0]->str;
        int start = (int)range->element[0]->integer, end = (int)range->element[1]->integer;
        int n = node_at(c, host[0] && strcmp(host, "?") != 0 ? host : asked_host,
                        (int)range->element[2]->element[1]->integer);

        if (n < 0)
            continue;
        if (start < c->node[n].first_slot)
            c->node[n].first_slot = start;
        c->node[n].replicas = (int)range->elements - 3;
        for (int s = start; s <= end; s++)
            c->slot_node[s] = (int16_t)n;
    }
    for (int i = 0; i < nold; i++) {
        int kept = 0;

        for (int j = 0; j < c->nnodes && !kept; j++) {
            if (c->node[j].port == old[i].port && strcmp(c->node[j].host, old[i].host) == 0) {
                c->node[j].ctx = old[i].ctx;
                c->node[j].used_ms = old[i].used_ms;
                kept = 1;
            }
        }
        if (!kept && old[i].ctx)
            redisFree(old[i].ctx);
    }
    c->last = -1;
}

/* The entry of host:port among those that did not answer lately, or -1;
 * entries older than RDS_CLUSTER_SILENT_MS are forgotten on the way. */
static int silent_index(struct rds_cluster *c, const char *host, int port, long long now)
{
    for (int i = 0; i < c->nsilent;) {
        if (now - c->silent[i].since_ms >= RDS_CLUSTER_SILENT_MS) {
            c->silent[i] = c->silent[--c->nsilent];
            continue;
        }
        if (c->silent[i].port == port && strcmp(c->silent[i].host, host) == 0)
            return i;
        i++;
    }
    return -1;
}

static void note_silent(struct rds_cluster *c, const char *host, int port)
{
    long long now = rds_link_now_ms();
    int i = silent_index(c, host, port, now);

    if (i < 0) {
        if (c->nsilent == (int)(sizeof c->silent / sizeof c->silent[0]))
            return;
        i = c->nsilent++;
        snprintf(c->silent[i].host, sizeof c->silent[0].host, "%s", host);
        c->silent[i].port = port;
    }
    c->silent[i].since_ms = now;
}

static void note_answered(struct rds_cluster *c, const char *host, int port)
{
    int i = silent_index(c, host, port, rds_link_now_ms());

    if (i >= 0)
        c->silent[i] = c->silent[--c->nsilent];
}

/* The addresses a refresh asks, each once: the known primaries, then the
 * configured nodes, those that did not answer lately last. */
static int map_candidates(struct rds_cluster *c, char (*host)[256], int *port)
{
    long long now = rds_link_now_ms();
    int n = 0;

    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < c->nnodes + c->nseeds; i++) {
            const char *h = i < c->nnodes ? c->node[i].host : c->seed[i - c->nnodes].host;
            int p = i < c->nnodes ? c->node[i].port : c->seed[i - c->nnodes].port, dup = 0;

            if ((silent_index(c, h, p, now) >= 0) != pass)
                continue;
            for (int j = 0; j < n && !dup; j++)
                dup = port[j] == p && strcmp(host[j], h) == 0;
            if (dup)
                continue;
            snprintf(host[n], 256, "%s", h);
            port[n++] = p;
        }
    }
    return n;
}

/* Asks the known primaries, then the configured nodes (those silent
 * lately last), for the map, all within one timeout and each within half
 * of it: a host cut off costs one timeout a refresh at most, however many
 * of its nodes are listed, and then nothing while its nodes are known to
 * be silent. 0 when one answered. */
static int refresh_map(struct rds_cluster *c)
{
    char host[RDS_CLUSTER_MAX_NODES + RDS_CLUSTER_MAX_SEEDS][256];
    int port[RDS_CLUSTER_MAX_NODES + RDS_CLUSTER_MAX_SEEDS], n;
    const char *argv[] = {"CLUSTER", "SLOTS"};
    long long deadline = rds_link_now_ms() + c->timeout_ms;

    n = map_candidates(c, host, port);
    for (int i = 0; i < n; i++) {
        long long left = deadline - rds_link_now_ms();
        redisContext *ctx;
        redisReply *slots;

        if (left < RDS_CLUSTER_MIN_ASK_MS) {
            log_error("redis cluster: no slot map within %d ms (%d of %d nodes asked)", c->timeout_ms, i, n);
            return -1;
        }
        if (left > c->timeout_ms / RDS_CLUSTER_ASK_SHARE && c->timeout_ms / RDS_CLUSTER_ASK_SHARE >= RDS_CLUSTER_MIN_ASK_MS)
            left = c->timeout_ms / RDS_CLUSTER_ASK_SHARE;
        ctx = open_authenticated(c, host[i], port[i], (int)left);
        if (!ctx) {
            note_silent(c, host[i], port[i]);
            continue;
        }
        slots = redisCommandArgv(ctx, 2, argv, NULL);
        if (slots)
            note_answered(c, host[i], port[i]);
        else
            note_silent(c, host[i], port[i]);
        if (slots && slots_reply_sane(slots)) {
            take_map(c, slots, host[i]);
            c->stale = 0;
            /* The open connections go to the primaries the map names now:
             * none needs idle_check's look until it idles again. */
            for (int k = 0; k < c->nnodes; k++)
                if (c->node[k].ctx)
                    c->node[k].used_ms = rds_link_now_ms();
            freeReplyObject(slots);
            redisFree(ctx);
            return 0;
        }
        log_error("redis cluster: %s:%d gave no slot map", host[i], port[i]);
        if (slots)
            freeReplyObject(slots);
        redisFree(ctx);
    }
    log_error("redis cluster: no node answered CLUSTER SLOTS");
    return -1;
}

/* The command's key and its length; 0 for a command without one. */
static int command_key(int argc, const char **argv, const size_t *argvlen, const char **key, size_t *len)
{
    static const char *const keyless[] = {"PING", "WAIT", "SCAN", "SCRIPT", "INFO", "ASKING", "CLUSTER", "ROLE",
                                          "TIME", "DBSIZE", "FLUSHALL", "FLUSHDB", "AUTH", "ECHO", "CONFIG",
                                          "CLIENT", "DEBUG"};
    int at = 1;

    for (size_t i = 0; i < sizeof keyless / sizeof keyless[0]; i++)
        if (strcasecmp(argv[0], keyless[i]) == 0)
            return 0;
    if (strncasecmp(argv[0], "EVAL", 4) == 0) {
        if (argc < 4 || atoi(argv[2]) < 1)
            return 0;
        at = 3;
    } else if (strcasecmp(argv[0], "XREAD") == 0 || strcasecmp(argv[0], "XREADGROUP") == 0) {
        for (at = 1; at < argc - 1 && strcasecmp(argv[at], "STREAMS") != 0; at++)
            ;
        at++;
    }
    if (at >= argc)
        return 0;
    *key = argv[at];
    *len = argvlen ? argvlen[at] : strlen(argv[at]);
    return 1;
}

/* The open connection of node n, opening it if need be; NULL (logged). */
static redisContext *node_connection(struct rds_cluster *c, int n)
{
    struct rds_cluster_node *node = &c->node[n];

    if (node->ctx && !rds_link_usable(node->ctx)) {
        log_info("redis cluster: %s:%d closed the idle connection; reconnecting", node->host, node->port);
        redisFree(node->ctx);
        node->ctx = NULL;
    }
    if (!node->ctx)
        node->ctx = open_authenticated(c, node->host, node->port, c->timeout_ms);
    return node->ctx;
}

/* A MOVED or ASK reply's slot and node: the node's index, or -1. */
static int redirect_target(struct rds_cluster *c, const char *text, int *slot)
{
    const char *sp1 = strchr(text, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    char host[256];
    int port;

    if (!sp2)
        return -1;
    *slot = atoi(sp1 + 1);
    if (*slot < 0 || *slot >= RDS_CLUSTER_SLOTS ||
        split_address(sp2 + 1, strlen(sp2 + 1), host, sizeof host, &port) < 0)
        return -1;
    return node_at(c, host, port);
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The node a command goes to first: its slot's, the last one's for a
 * command without a key, else any; -1 when the map has none. */
static int first_node(struct rds_cluster *c, int slot)
{
    if (slot >= 0)
        return c->slot_node[slot];
    if (c->last >= 0 && c->last < c->nnodes)
        return c->last;
    return c->nnodes > 0 ? 0 : -1;
}

/* Sends argv to node n (after ASKING when asking), once. NULL when the
 * reply did not come: *sent then says whether the command itself left. */
static redisReply *send_to(struct rds_cluster *c, int n, int asking, int argc, const char **argv,
                           const size_t *argvlen, int *sent)
{
    redisContext *ctx;
    redisReply *reply;

    *sent = 0;
    ctx = node_connection(c, n);
    if (!ctx) {
        note_silent(c, c->node[n].host, c->node[n].port);
        return NULL;
    }
    if (asking) {
        const char *ask[] = {"ASKING"};

        reply = redisCommandArgv(ctx, 1, ask, NULL);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            /* ASKING alone changes nothing: the command has not left. */
            if (reply)
                freeReplyObject(reply);
            redisFree(ctx);
            c->node[n].ctx = NULL;
            return NULL;
        }
        freeReplyObject(reply);
    }
    *sent = 1;
    reply = redisCommandArgv(ctx, argc, argv, argvlen);
    if (reply)
        c->node[n].used_ms = rds_link_now_ms();
    if (!reply) {
        log_error("redis cluster %s:%d %s: %s", c->node[n].host, c->node[n].port, argv[0],
                  ctx->errstr[0] ? ctx->errstr : "no reply");
        note_silent(c, c->node[n].host, c->node[n].port);
        redisFree(ctx);
        c->node[n].ctx = NULL;
    }
    return reply;
}

/* One page of a SCAN over every primary, in the order of their first
 * slots. The cursor is node_cursor * primaries + the primary's place: the
 * caller sees one walk. A slot moved during the walk can make it see a key
 * twice or miss it, which a periodic sweep (cron's) can bear. */
static redisReply *scan_walk(struct rds_cluster *c, int argc, const char **argv, enum rds_error *err)
{
    int order[RDS_CLUSTER_MAX_NODES], nn, at, sent;
    unsigned long long cursor, node_cursor, next;
    char node_cursor_text[24], next_text[24];
    const char *page[16];
    redisReply *reply;
    char *copy;

    if ((c->stale || c->nnodes == 0) && refresh_map(c) < 0) {
        *err = RDS_UNREACHABLE;
        return NULL;
    }
    nn = c->nnodes;
    for (int i = 0; i < nn; i++) {
        int j = i;

        for (; j > 0 && c->node[order[j - 1]].first_slot > c->node[i].first_slot; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    if (argc < 2 || argc > (int)(sizeof page / sizeof page[0])) {
        *err = RDS_UNREACHABLE;
        return NULL;
    }
    cursor = strtoull(argv[1], NULL, 10);
    at = (int)(cursor % (unsigned long long)nn);
    node_cursor = cursor / (unsigned long long)nn;
    snprintf(node_cursor_text, sizeof node_cursor_text, "%llu", node_cursor);
    memcpy(page, argv, sizeof *argv * (size_t)argc);
    page[1] = node_cursor_text;
    reply = send_to(c, order[at], 0, argc, page, NULL, &sent);
    if (!reply) {
        c->stale = 1;
        *err = sent ? RDS_REPLY_LOST : RDS_UNREACHABLE;
        metrics_store_error(METRICS_REDIS);
        return NULL;
    }
    c->last = order[at];
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_STRING) {
        *err = reply->type == REDIS_REPLY_ERROR ? RDS_SERVER_ERROR : RDS_OK;
        return reply;
    }
    node_cursor = strtoull(reply->element[0]->str, NULL, 10);
    if (node_cursor == 0) {
        next = at + 1 < nn ? (unsigned long long)(at + 1) : 0;
    } else if (node_cursor > (ULLONG_MAX - (unsigned long long)at) / (unsigned long long)nn) {
        log_error("redis cluster: a SCAN cursor too large to carry the primary's place");
        freeReplyObject(reply);
        *err = RDS_SERVER_ERROR;
        return NULL;
    } else {
        next = node_cursor * (unsigned long long)nn + (unsigned long long)at;
    }
    snprintf(next_text, sizeof next_text, "%llu", next);
    copy = strdup(next_text);
    if (!copy) {
        log_error("redis: out of memory");
        freeReplyObject(reply);
        *err = RDS_SERVER_ERROR;
        return NULL;
    }
    /* hiredis 0.14 frees a reply's strings with free(). */
    free(reply->element[0]->str);
    reply->element[0]->str = copy;
    reply->element[0]->len = strlen(copy);
    return reply;
}

int rds_cluster_last_replicas(const struct rds_cluster *c)
{
    return c->last >= 0 && c->last < c->nnodes ? c->node[c->last].replicas : 0;
}

/* Whether node n's open connection has been idle so long that the map was
 * asked for again first: 1 when it was and answered. A primary cut off
 * the network closes nothing, so its connection looks usable; the first
 * command on it after its replica was promoted would wait out the timeout
 * and answer 503, in every process that had not noticed, one by one, for
 * as long as they stay idle. Under load no connection is idle that long,
 * so this costs nothing there; a process woken after a while pays one
 * CLUSTER SLOTS. */
static int idle_check(struct rds_cluster *c, int n)
{
    if (!c->node[n].ctx || rds_link_now_ms() - c->node[n].used_ms < RDS_CLUSTER_IDLE_CHECK_MS)
        return 0;
    return refresh_map(c) == 0;
}

redisReply *rds_cluster_run(struct rds_cluster *c, int argc, const char **argv, const size_t *argvlen,
                            enum rds_error *err)
{
    const char *key;
    size_t key_len;
    int slot = command_key(argc, argv, argvlen, &key, &key_len) ? rds_cluster_key_slot(key, key_len) : -1;
    int n, asking = 0;
    long long deadline = rds_link_now_ms() + c->timeout_ms;

    *err = RDS_OK;
    if (strcasecmp(argv[0], "SCAN") == 0)
        return scan_walk(c, argc, argv, err);
    if (c->stale)
        (void)refresh_map(c);   /* logged; the old map, if any, is tried */
    n = first_node(c, slot);
    if (n >= 0 && idle_check(c, n))
        n = first_node(c, slot);
    for (int hop = 0; hop < RDS_CLUSTER_MAX_HOPS;) {
        redisReply *reply;
        int sent, target, moved_slot, asked;

        if (n < 0 && (refresh_map(c) < 0 || (n = first_node(c, slot)) < 0))
            break;
        reply = send_to(c, n, asking, argc, argv, argvlen, &sent);
        if (!reply && sent) {
            /* It may have run: never sent again. Its primary may be gone. */
            c->stale = 1;
            *err = RDS_REPLY_LOST;
            metrics_store_error(METRICS_REDIS);
            return NULL;
        }
        if (!reply) {
            /* Not sent: the map may name a primary replaced by a failover. */
            int was = n;

            if (refresh_map(c) < 0 || (n = first_node(c, slot)) < 0 || (n == was && !asking))
                break;
            asking = 0;
            hop++;
            continue;
        }
        c->last = n;
        asked = asking;
        asking = 0;
        if (reply->type != REDIS_REPLY_ERROR)
            return reply;
        if (strncmp(reply->str, "MOVED ", 6) == 0 && (target = redirect_target(c, reply->str, &moved_slot)) >= 0) {
            c->slot_node[moved_slot] = (int16_t)target;
            c->stale = 1;
            n = target;
            hop++;
        } else if (strncmp(reply->str, "ASK ", 4) == 0 && (target = redirect_target(c, reply->str, &moved_slot)) >= 0) {
            n = target;
            asking = 1;
            hop++;
        } else if (strncmp(reply->str, "TRYAGAIN", 8) == 0 || strncmp(reply->str, "CLUSTERDOWN", 11) == 0) {
            if (rds_link_now_ms() + RDS_CLUSTER_PAUSE_MS >= deadline) {
                *err = RDS_SERVER_ERROR;
                return reply;
            }
            pause_ms(RDS_CLUSTER_PAUSE_MS);
            /* TRYAGAIN: the same node again (with ASKING if it was asked),
             * once the keys have moved on; CLUSTERDOWN: a new map. */
            if (reply->str[0] == 'C') {
                c->stale = 1;
                n = first_node(c, slot);
            } else {
                asking = asked;
            }
        } else {
            *err = RDS_SERVER_ERROR;
            return reply;
        }
        freeReplyObject(reply);
        if (c->stale && refresh_map(c) == 0 && !asking)
            n = first_node(c, slot);
        if (rds_link_now_ms() >= deadline)
            break;
    }
    log_error("redis cluster %s: no primary took it (slot %d)", argv[0], slot);
    metrics_store_error(METRICS_REDIS);
    *err = RDS_UNREACHABLE;
    return NULL;
}
