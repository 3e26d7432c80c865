/* queue_bridge.c - per-concert event streams copied into the design's
 * topics (see queue_bridge.h). */
#include "queue_bridge.h"
#include "contract_limits.h"
#include "event_json.h"
#include "log.h"
#include "rds.h"
#include "stream_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GROUP "concert-relay"
#define READ_COUNT "200"
/* A new concert's stream is found within this; its group starts at the
 * stream's beginning, so nothing written before is missed. */
#define RESCAN_MS 1000
#define STREAM_NAME_SIZE 64
/* Below the relay's idle-transaction limit: the caller holds a lock. */
#define DELIVERY_WAIT_MS 3500
#define XREADGROUP_ARGC 9

/* A stream entry's id, "ms-seq", with room to spare. */
#define ENTRY_ID_SIZE 48

struct stream {
    char *name;
    int pending;    /* reading back this consumer's unacknowledged entries */
    int joined;     /* the group exists (as far as we know) */
    /* The last entry each destination stored (this process's memory): an
     * entry read again because its XACK failed (Redis stopped a moment) is
     * not sent there twice. *_round: the last one handed over this step. */
    char kafka_upto[ENTRY_ID_SIZE], stream_upto[ENTRY_ID_SIZE];
    char kafka_round[ENTRY_ID_SIZE], stream_round[ENTRY_ID_SIZE];
};

struct queue_bridge {
    struct kafka_sink *sink;
    queue_bridge_name_fn name_of;
    const char *registry, *topic, *stream;
    struct stream *streams;
    int n, cap;
    long long scanned_ms;
    char consumer[128];
};

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct queue_bridge *queue_bridge_new(struct kafka_sink *sink, queue_bridge_name_fn name_of, const char *registry,
                                      const char *topic, const char *stream)
{
    struct queue_bridge *b = calloc(1, sizeof *b);
    char host[64] = "";

    if (!b) {
        log_error("out of memory for a stream bridge");
        return NULL;
    }
    b->sink = sink;
    b->name_of = name_of;
    b->registry = registry;
    b->topic = topic;
    b->stream = stream;
    b->scanned_ms = -RESCAN_MS;
    /* One name a host: the relay that multiwatch starts after a crash reads
     * what the dead one was given and did not acknowledge. */
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "relay");
    host[sizeof host - 1] = '\0';
    snprintf(b->consumer, sizeof b->consumer, "relay-%s", host);
    return b;
}

void queue_bridge_free(struct queue_bridge *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++)
        free(b->streams[i].name);
    free(b->streams);
    free(b);
}

/* The group on a stream, from its first entry. Returns 0 or -1. */
static int join(struct stream *s)
{
    const char *create[] = {"XGROUP", "CREATE", s->name, GROUP, "0"};
    redisReply *reply = rds_command_reply(5, create);
    int ok;

    if (!reply)
        return -1;
    ok = reply->type != REDIS_REPLY_ERROR || strncmp(reply->str, "BUSYGROUP", 9) == 0;
    if (!ok)
        log_error("XGROUP CREATE %s: %s", s->name, reply->str);
    /* A group made now has no backlog of this consumer's: its entries are
     * read at once (in this step, before what the caller publishes next). */
    s->pending = reply->type == REDIS_REPLY_ERROR;
    freeReplyObject(reply);
    s->joined = ok;
    return ok ? 0 : -1;
}

static int found(const char *name, void *arg)
{
    struct queue_bridge *b = arg;

    for (int i = 0; i < b->n; i++)
        if (strcmp(b->streams[i].name, name) == 0)
            return b->streams[i].joined ? 0 : join(&b->streams[i]);
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        struct stream *bigger = realloc(b->streams, sizeof *bigger * (size_t)cap);

        if (!bigger)
            return -1;
        b->streams = bigger;
        b->cap = cap;
    }
    b->streams[b->n].name = strdup(name);
    if (!b->streams[b->n].name)
        return -1;
    b->streams[b->n].joined = 0;
    b->streams[b->n].kafka_upto[0] = b->streams[b->n].stream_upto[0] = '\0';
    b->streams[b->n].kafka_round[0] = b->streams[b->n].stream_round[0] = '\0';
    b->n++;
    return join(&b->streams[b->n - 1]);
}

/* Joins the streams the registry set names (SMEMBERS); one that cannot be
 * joined (logged) is left to the look at the concerts. Returns 0, or -1
 * when Redis is away. */
static int named_streams(struct queue_bridge *b)
{
    const char *argv[] = {"SMEMBERS", b->registry};
    redisReply *reply = rds_command(2, argv, NULL);

    if (!reply)
        return -1;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            (void)found(reply->element[i]->str, b);
    freeReplyObject(reply);
    return 0;
}

/* A reply of XREADGROUP that holds entries: [[stream, [[id, fields]...]]]. */
static int has_entries(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
           r->element[0]->elements == 2 && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY;
}

/* XACK of every id of the replies' entries, one command a stream, in one
 * pipeline. Returns 0 or -1. */
static int acknowledge(struct queue_bridge *b, redisReply **replies)
{
    size_t cap = b->n > 0 ? (size_t)b->n : 1;
    const char ***argv_of = calloc(cap, sizeof *argv_of);
    int *argc_of = calloc(cap, sizeof *argc_of), k = 0, rc = -1;

    if (!argv_of || !argc_of)
        goto out;
    for (int i = 0; i < b->n; i++) {
        redisReply *entries;
        const char **argv;

        if (!has_entries(replies[i]))
            continue;
        entries = replies[i]->element[0]->element[1];
        if (entries->elements == 0)
            continue;
        argv = malloc(sizeof *argv * (entries->elements + 3));
        if (!argv)
            goto out;
        argv[0] = "XACK";
        argv[1] = b->streams[i].name;
        argv[2] = GROUP;
        argc_of[k] = 3;
        for (size_t e = 0; e < entries->elements; e++) {
            redisReply *entry = entries->element[e];
            if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 &&
                entry->element[0]->type == REDIS_REPLY_STRING)
                argv[argc_of[k]++] = entry->element[0]->str;
        }
        argv_of[k++] = argv;
    }
    rc = rds_pipeline_ok(k, argc_of, argv_of);
out:
    for (int i = 0; argv_of && i < k; i++)
        free((void *)argv_of[i]);
    free(argv_of);
    free(argc_of);
    return rc;
}

void event_minid(char out[32])
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(out, 32, "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - RETAIN_SECONDS * 1000LL);
}

void event_xadd_argv(const char **a, const char *stream, const char *minid, const struct event_fields *ev)
{
    a[0] = "XADD";
    a[1] = stream;
    a[2] = "MINID";
    a[3] = "~";
    a[4] = minid;
    a[5] = "*";
    a[6] = "eventId";
    a[7] = ev->event_id ? ev->event_id : "";
    a[8] = "type";
    a[9] = ev->type ? ev->type : "";
    a[10] = "occurredAt";
    a[11] = ev->occurred_at ? ev->occurred_at : "";
    a[12] = "concertId";
    a[13] = ev->concert_id ? ev->concert_id : "";
    a[14] = "data";
    a[15] = ev->data ? ev->data : "{}";
}

/* The XADDs of the entries sent, into b->stream, pipelined (applied in
 * order). Returns 0, or -1. */
static int add_to_stream(struct queue_bridge *b, const struct event_fields *evs, int n)
{
    const char **args = malloc(sizeof *args * (size_t)n * EVENT_XADD_ARGC);
    const char ***argv_of = malloc(sizeof *argv_of * (size_t)n);
    int *argc_of = malloc(sizeof *argc_of * (size_t)n), rc = -1;
    char minid[32];

    if (!args || !argv_of || !argc_of) {
        log_error("out of memory for %d events", n);
        goto out;
    }
    event_minid(minid);
    for (int i = 0; i < n; i++) {
        argv_of[i] = args + (size_t)i * EVENT_XADD_ARGC;
        event_xadd_argv(args + (size_t)i * EVENT_XADD_ARGC, b->stream, minid, &evs[i]);
        argc_of[i] = EVENT_XADD_ARGC;
    }
    rc = rds_pipeline_ok(n, argc_of, argv_of);
out:
    free(args);
    free(argv_of);
    free(argc_of);
    return rc;
}

/* Whether entry id a is b or an earlier one ("" is before every id). */
static int entry_at_or_before(const char *a, const char *b)
{
    unsigned long long am = 0, as = 0, bm = 0, bs = 0;

    if (!*b || sscanf(a, "%llu-%llu", &am, &as) != 2 || sscanf(b, "%llu-%llu", &bm, &bs) != 2)
        return 0;
    return am < bm || (am == bm && as <= bs);
}

static void keep_id(char out[ENTRY_ID_SIZE], const char *id)
{
    snprintf(out, ENTRY_ID_SIZE, "%s", id);
}

/* Sends the entries of every reply to Kafka (with a sink) and the stream
 * (with one), each where it was not stored yet. Returns how many were read,
 * or -1. */
static int send_entries(struct queue_bridge *b, redisReply **replies)
{
    struct event_fields *evs = NULL;
    int sent = 0, nevs = 0, cap = 0;

    for (int i = 0; i < b->n; i++) {
        redisReply *entries;

        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR) {
            /* NOGROUP: the stream or its group is gone (Redis lost it):
             * forgotten, and joined again if a scan finds it again. */
            b->streams[i].joined = 0;
            continue;
        }
        if (!has_entries(replies[i]))
            continue;
        entries = replies[i]->element[0]->element[1];
        if (entries->elements == 0)
            b->streams[i].pending = 0;   /* its own backlog is done */
        for (size_t e = 0; e < entries->elements; e++) {
            redisReply *entry = entries->element[e];
            struct stream *s = &b->streams[i];
            struct event_fields ev;
            const char *id;

            if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
                entry->element[0]->type != REDIS_REPLY_STRING || entry->element[1]->type != REDIS_REPLY_ARRAY)
                continue;   /* trimmed while pending: nothing to send, only to acknowledge */
            id = entry->element[0]->str;
            stream_event_fields(entry->element[1], &ev);
            sent++;
            if (b->sink && !entry_at_or_before(id, s->kafka_upto)) {
                if (kafka_sink_send(b->sink, b->topic, &ev) < 0) {
                    free(evs);
                    return -1;
                }
                keep_id(s->kafka_round, id);
            }
            if (!b->stream || entry_at_or_before(id, s->stream_upto))
                continue;
            keep_id(s->stream_round, id);
            if (nevs == cap) {
                struct event_fields *bigger = realloc(evs, sizeof *bigger * (size_t)(cap ? cap * 2 : 64));

                if (!bigger) {
                    log_error("out of memory bridging events");
                    free(evs);
                    return -1;
                }
                evs = bigger;
                cap = cap ? cap * 2 : 64;
            }
            evs[nevs++] = ev;
        }
    }
    if (nevs > 0) {
        if (add_to_stream(b, evs, nevs) < 0)
            sent = -1;
        else
            for (int i = 0; i < b->n; i++)
                keep_id(b->streams[i].stream_upto, b->streams[i].stream_round);
    }
    free(evs);
    return sent;
}

/* Forgets the streams whose group is gone (see send_entries). */
static void forget_unjoined(struct queue_bridge *b)
{
    int kept = 0;

    for (int i = 0; i < b->n; i++) {
        if (b->streams[i].joined)
            b->streams[kept++] = b->streams[i];
        else
            free(b->streams[i].name);
    }
    b->n = kept;
}

/* One pipeline's buffers: n commands of at most argc arguments each, and
 * their replies. */
struct pipe {
    const char **args, ***argv_of;
    int *argc_of;
    redisReply **replies;
    int n;
};

static int pipe_new(struct pipe *p, int n, int argc)
{
    size_t cap = n > 0 ? (size_t)n : 1;

    p->n = n;
    p->args = malloc(sizeof *p->args * cap * (size_t)argc);
    p->argv_of = malloc(sizeof *p->argv_of * cap);
    p->argc_of = malloc(sizeof *p->argc_of * cap);
    p->replies = calloc(cap, sizeof *p->replies);
    return p->args && p->argv_of && p->argc_of && p->replies ? 0 : -1;
}

static void pipe_free(struct pipe *p)
{
    for (int i = 0; p->replies && i < p->n; i++)
        if (p->replies[i])
            freeReplyObject(p->replies[i]);
    free(p->args);
    free(p->argv_of);
    free(p->argc_of);
    free(p->replies);
}

int queue_bridge_wants_concerts(const struct queue_bridge *b)
{
    return now_ms() - b->scanned_ms >= RESCAN_MS;
}

static int known(const struct queue_bridge *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->streams[i].name, name) == 0)
            return 1;
    return 0;
}

int queue_bridge_concerts(struct queue_bridge *b, const int64_t *concerts, int n)
{
    char (*names)[STREAM_NAME_SIZE] = malloc(sizeof *names * (size_t)(n > 0 ? n : 1));
    struct pipe p;
    int k = 0, rc = -1;

    if (pipe_new(&p, n, 2) < 0 || !names) {
        log_error("out of memory looking at %d concerts' streams", n);
        goto out;
    }
    forget_unjoined(b);
    /* The streams not joined yet: does each exist? (A concert whose
     * queue or holds never wrote has none, and joining would need one.) */
    for (int i = 0; i < n; i++) {
        b->name_of(names[k], STREAM_NAME_SIZE, concerts[i]);
        if (known(b, names[k]))
            continue;
        p.args[2 * k] = "EXISTS";
        p.args[2 * k + 1] = names[k];
        p.argv_of[k] = p.args + 2 * k;
        p.argc_of[k] = 2;
        k++;
    }
    if (k > 0 && rds_pipeline(k, p.argc_of, p.argv_of, p.replies) != k)
        goto out;
    rc = 0;
    for (int i = 0; i < k && rc == 0; i++)
        if (p.replies[i] && p.replies[i]->type == REDIS_REPLY_INTEGER && p.replies[i]->integer == 1)
            rc = found(names[i], b);
    if (rc == 0)
        b->scanned_ms = now_ms();
out:
    pipe_free(&p);
    free(names);
    return rc;
}

int queue_bridge_step(struct queue_bridge *b)
{
    struct pipe p;
    int got, sent = -1, delivered;
    redisReply **replies;

    forget_unjoined(b);
    if (b->registry && named_streams(b) < 0)
        return -1;
    if (b->n == 0)
        return 0;
    if (pipe_new(&p, b->n, XREADGROUP_ARGC) < 0) {
        log_error("out of memory reading %d streams", b->n);
        goto out;
    }
    replies = p.replies;
    for (int i = 0; i < b->n; i++) {
        const char **a = p.args + (size_t)i * XREADGROUP_ARGC;

        a[0] = "XREADGROUP";
        a[1] = "GROUP";
        a[2] = GROUP;
        a[3] = b->consumer;
        a[4] = "COUNT";
        a[5] = READ_COUNT;
        a[6] = "STREAMS";
        a[7] = b->streams[i].name;
        a[8] = b->streams[i].pending ? "0" : ">";
        p.argv_of[i] = a;
        p.argc_of[i] = XREADGROUP_ARGC;
    }
    got = rds_pipeline(b->n, p.argc_of, p.argv_of, replies);
    if (got != b->n)
        goto out;
    sent = send_entries(b, replies);
    /* The wait ends the round even after a refused send, so no report of
     * this round is counted in the next. Even with nothing sent, trimmed
     * pending entries are acknowledged. */
    delivered = b->sink ? kafka_sink_wait(b->sink, DELIVERY_WAIT_MS) : 0;
    if (b->sink && delivered >= 0)
        for (int i = 0; i < b->n; i++)
            keep_id(b->streams[i].kafka_upto, b->streams[i].kafka_round);
    if (sent < 0 || delivered < 0 || acknowledge(b, replies) < 0) {
        /* What was read stays pending: read again from this consumer's
         * backlog next time, and sent again. */
        for (int i = 0; i < b->n; i++)
            if (has_entries(replies[i]))
                b->streams[i].pending = 1;
        sent = -1;
    }
out:
    pipe_free(&p);
    return sent;
}
