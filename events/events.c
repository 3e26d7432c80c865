/* events.c - concert-events, a consumer of the service's events: follows
 * one topic or all of them through a Redis consumer group and prints each
 * event as one JSON object a line, acknowledging it (XACK) only once the
 * line is written, so a consumer killed at any moment starts again where
 * it stopped: first what it was given and never acknowledged, then what
 * is new.
 *
 *   concert-events [--topic reservation|payment|queue|all] [--concert ID]
 *                  [--group NAME] [--consumer NAME] [--from-start]
 *                  [--count N] [--idle SECONDS] [--kafka BROKERS]
 *
 * --topic      reservation-events, payment-events, the queue streams
 *              ({c:C}:queue-events: of --concert, else of every concert,
 *              looked for again every few seconds) or all (the default);
 * --group      the consumer group (default concert-events): consumers in
 *              one group share the events, each group gets all of them;
 * --consumer   this consumer's name in the group (default the host name):
 *              the same name resumes the same unacknowledged events;
 * --from-start the group reads each stream again from its start (replay);
 * --count N    exit after N events; --idle S: exit after S seconds without
 *              one (both for scripts and tests; by default it follows on);
 * --kafka B    read the Kafka topics of the same names instead, from the
 *              brokers B ("host:port,...", or "config": kafka_brokers of
 *              the config file) through a Kafka consumer group (see
 *              kafka_source.h; --consumer is then the group's static
 *              member id).
 *
 * Each line: {"stream", "id", "eventId", "type", "occurredAt", "concertId",
 * "data"} ({"topic", "partition", "offset", "key", ...} with --kafka). Redis comes from the config file (CONCERT_CONF), through the
 * same client as the other programs (Sentinel included). The streams are read one by one (never several keys in
 * one command: on a Redis Cluster they lie in different slots). Exit
 * status: 0, 1 on bad arguments or config, 2 when stdout fails. */
#include "app.h"
#include "config.h"
#include "event_json.h"
#include "kafka_source.h"
#include "keyspace.h"
#include "log.h"
#include "rds.h"
#include "stream_scan.h"
#include "valid.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_COUNT "100"
#define MAX_STREAMS 1024
#define RESCAN_SECONDS 5

struct options {
    int reservation, payment, queue;
    int64_t concert;            /* queue streams of this concert only (0: all) */
    const char *group;
    char consumer[256];
    int from_start;
    long count;                 /* exit after this many (0: never) */
    long idle_s;                /* exit after this long without one (0: never) */
    const char *kafka;          /* --kafka: the brokers, or "config" */
};

struct follower {
    char *streams[MAX_STREAMS];
    int pending[MAX_STREAMS];   /* still reading back this consumer's unacknowledged ones */
    int nstreams;
    time_t scanned;
    long printed;
};

static void usage(void)
{
    fprintf(stderr, "usage: concert-events [--topic reservation|payment|queue|all] [--concert ID] [--group NAME]\n"
                    "                      [--consumer NAME] [--from-start] [--count N] [--idle SECONDS]\n"
                    "                      [--kafka host:port,...|config]\n");
}

static int parse_long(const char *text, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(text, &end, 10);
    return errno == 0 && end != text && *end == '\0' && *out > 0 ? 0 : -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->reservation = o->payment = o->queue = 1;
    o->group = "concert-events";
    if (gethostname(o->consumer, sizeof o->consumer) != 0 || !o->consumer[0])
        snprintf(o->consumer, sizeof o->consumer, "consumer");
    o->consumer[sizeof o->consumer - 1] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--from-start") == 0) {
            o->from_start = 1;
            continue;
        }
        if (!v) {
            usage();
            return -1;
        }
        i++;
        if (strcmp(a, "--topic") == 0) {
            o->reservation = strcmp(v, "reservation") == 0 || strcmp(v, "all") == 0;
            o->payment = strcmp(v, "payment") == 0 || strcmp(v, "all") == 0;
            o->queue = strcmp(v, "queue") == 0 || strcmp(v, "all") == 0;
            if (!o->reservation && !o->payment && !o->queue) {
                fprintf(stderr, "concert-events: --topic is reservation, payment, queue or all\n");
                return -1;
            }
        } else if (strcmp(a, "--concert") == 0) {
            if (valid_id(v, &o->concert) < 0) {
                fprintf(stderr, "concert-events: --concert takes a concert id\n");
                return -1;
            }
        } else if (strcmp(a, "--group") == 0 || strcmp(a, "--consumer") == 0) {
            if (!*v || strlen(v) > 200) {
                fprintf(stderr, "concert-events: %s takes a name of 1 to 200 characters\n", a);
                return -1;
            }
            if (strcmp(a, "--group") == 0)
                o->group = v;
            else
                snprintf(o->consumer, sizeof o->consumer, "%s", v);
        } else if (strcmp(a, "--count") == 0) {
            if (parse_long(v, &o->count) < 0) {
                fprintf(stderr, "concert-events: --count takes a positive number\n");
                return -1;
            }
        } else if (strcmp(a, "--kafka") == 0) {
            if (!*v || strlen(v) > 1000) {
                fprintf(stderr, "concert-events: --kafka takes the brokers (host:port,...) or config\n");
                return -1;
            }
            o->kafka = v;
        } else if (strcmp(a, "--idle") == 0) {
            if (parse_long(v, &o->idle_s) < 0) {
                fprintf(stderr, "concert-events: --idle takes a positive number of seconds\n");
                return -1;
            }
        } else {
            usage();
            return -1;
        }
    }
    return 0;
}

/* One command through the shared client (shared/rds.c): Redis at
 * redis_host, or the primary the Sentinels name. */
static redisReply *command(struct follower *f, int argc, const char **argv)
{
    (void)f;
    return rds_command_reply(argc, argv);
}

static int has_stream(struct follower *f, const char *name)
{
    for (int i = 0; i < f->nstreams; i++)
        if (strcmp(f->streams[i], name) == 0)
            return 1;
    return 0;
}

/* Makes the group on a stream (the stream too, when missing). A new group
 * starts at the stream's end, or its start with --from-start; an existing
 * one is moved back to the start with --from-start, else left where it
 * stopped. after_loss: the stream came back empty (Redis lost it): read it
 * all. Returns 0 or -1. */
static int join_group(struct follower *f, const struct options *o, const char *stream, int after_loss)
{
    const char *create[] = {"XGROUP", "CREATE", stream, o->group, o->from_start || after_loss ? "0" : "$",
                            "MKSTREAM"};
    const char *setid[] = {"XGROUP", "SETID", stream, o->group, "0"};
    redisReply *reply = command(f, 6, create);
    int busy;

    if (!reply)
        return -1;
    busy = reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) == 0;
    if (reply->type == REDIS_REPLY_ERROR && !busy) {
        log_error("XGROUP CREATE %s: %s", stream, reply->str);
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);
    if (busy && o->from_start) {
        reply = command(f, 5, setid);
        if (!reply)
            return -1;
        freeReplyObject(reply);
    }
    return 0;
}

static int add_stream(struct follower *f, const struct options *o, const char *name)
{
    if (has_stream(f, name) || f->nstreams == MAX_STREAMS)
        return 0;
    if (join_group(f, o, name, 0) < 0)
        return -1;
    f->streams[f->nstreams] = strdup(name);
    if (!f->streams[f->nstreams])
        return -1;
    f->pending[f->nstreams++] = 1;
    return 0;
}

struct scan_ctx {
    struct follower *f;
    const struct options *o;
};

static int found_queue_stream(const char *name, void *arg)
{
    struct scan_ctx *ctx = arg;

    return add_stream(ctx->f, ctx->o, name);
}

/* The queue streams of every concert, by SCAN. */
static int find_queue_streams(struct follower *f, const struct options *o)
{
    struct scan_ctx ctx = {f, o};

    return stream_scan(KEYSPACE_QUEUE_EVENTS_MATCH, found_queue_stream, &ctx);
}

static int find_streams(struct follower *f, const struct options *o)
{
    if (o->reservation && add_stream(f, o, KEYSPACE_STREAM_RESERVATIONS) < 0)
        return -1;
    if (o->payment && add_stream(f, o, KEYSPACE_STREAM_PAYMENTS) < 0)
        return -1;
    if (o->queue && o->concert) {
        char name[KEYSPACE_CONCERT_KEY_SIZE];
        keyspace_queue(name, sizeof name, o->concert, QUEUE_KEY_EVENTS);
        if (add_stream(f, o, name) < 0)
            return -1;
    } else if (o->queue && find_queue_streams(f, o) < 0) {
        return -1;
    }
    f->scanned = time(NULL);
    return 0;
}

/* Prints line (where the event came from) with the event's five fields
 * added, as one JSON line, and frees it. Returns 0, or -1 when stdout
 * failed or memory ran out. */
static int print_event(struct json_object *line, const struct event_fields *ev)
{
    int rc = 0;

    if (!line)
        return -1;
    if (event_json_add(line, ev) < 0 ||
        printf("%s\n", json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN)) < 0 || fflush(stdout) != 0)
        rc = -1;
    json_object_put(line);
    return rc;
}

/* Prints one stream entry as a JSON line. */
static int print_entry(const char *stream, redisReply *entry)
{
    struct json_object *line = json_object_new_object();
    struct event_fields ev;

    if (!line)
        return -1;
    stream_event_fields(entry->element[1], &ev);
    json_object_object_add(line, "stream", json_object_new_string(stream));
    json_object_object_add(line, "id", json_object_new_string(entry->element[0]->str));
    return print_event(line, &ev);
}

/* Reads one batch of stream i: its own unacknowledged entries first, then
 * new ones. Prints and acknowledges each. Returns the entries handled, -1
 * on a Redis failure, -2 when stdout failed. */
static int read_stream(struct follower *f, const struct options *o, int i)
{
    const char *argv[] = {"XREADGROUP", "GROUP", o->group, o->consumer, "COUNT", READ_COUNT, "STREAMS",
                          f->streams[i], f->pending[i] ? "0" : ">"};
    redisReply *reply = command(f, 9, argv), *entries;
    int handled = 0;

    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* The stream or its group is gone (Redis restarted without them):
         * join again and read it all. */
        int lost = strncmp(reply->str, "NOGROUP", 7) == 0;
        if (!lost)
            log_error("XREADGROUP %s: %s", f->streams[i], reply->str);
        freeReplyObject(reply);
        if (lost && join_group(f, o, f->streams[i], 1) == 0)
            f->pending[i] = 1;
        return lost ? 0 : -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2 ||
        reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        /* Nothing new (a nil reply). */
        freeReplyObject(reply);
        return 0;
    }
    entries = reply->element[0]->element[1];
    if (entries->elements == 0 && f->pending[i])
        f->pending[i] = 0;   /* its own backlog is done: new ones from now on */
    for (size_t k = 0; k < entries->elements && !app_stop_asked(); k++) {
        redisReply *e = entries->element[k], *ack;
        const char *xack[4];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;   /* an entry trimmed while pending: nothing to print */
        if (print_entry(f->streams[i], e) < 0) {
            freeReplyObject(reply);
            return -2;
        }
        xack[0] = "XACK";
        xack[1] = f->streams[i];
        xack[2] = o->group;
        xack[3] = e->element[0]->str;
        ack = command(f, 4, xack);
        if (!ack) {
            freeReplyObject(reply);
            return -1;
        }
        freeReplyObject(ack);
        handled++;
        f->printed++;
        if (o->count && f->printed >= o->count)
            break;
    }
    freeReplyObject(reply);
    return handled;
}

/* Follows the streams until told to stop, a --count or --idle end, or a
 * failed stdout (2). */
static int follow(struct follower *f, const struct options *o)
{
    time_t last_event = time(NULL);

    while (!app_stop_asked()) {
        int round = 0, failed = 0;

        if ((f->nstreams == 0 || (o->queue && !o->concert && time(NULL) - f->scanned >= RESCAN_SECONDS)) &&
            find_streams(f, o) < 0)
            failed = 1;
        for (int i = 0; i < f->nstreams && !app_stop_asked() && !failed; i++) {
            int n = read_stream(f, o, i);
            if (n == -2)
                return 2;
            if (n < 0)
                failed = 1;
            else
                round += n;
            if (o->count && f->printed >= o->count)
                return 0;
        }
        if (round > 0) {
            last_event = time(NULL);
            continue;
        }
        if (o->idle_s && time(NULL) - last_event >= o->idle_s)
            return 0;
        usleep(failed ? 1000000 : 200000);
    }
    return 0;
}

/* --kafka: the same topics from Kafka (kafka_source.c). */
static int follow_kafka(const struct options *o)
{
    struct kafka_follow k = {
        .brokers = strcmp(o->kafka, "config") == 0 ? g_config.kafka_brokers : o->kafka,
        .group = o->group,
        .consumer = o->consumer,
        .concert = o->concert,
        .from_start = o->from_start,
        .count = o->count,
        .idle_s = o->idle_s,
    };

    if (!k.brokers) {
        fprintf(stderr, "concert-events: --kafka config, but the config file names no kafka_brokers\n");
        return 1;
    }
    if (o->reservation)
        k.topics[k.ntopics++] = KEYSPACE_STREAM_RESERVATIONS;
    if (o->payment)
        k.topics[k.ntopics++] = KEYSPACE_STREAM_PAYMENTS;
    if (o->queue)
        k.topics[k.ntopics++] = "queue-events";
    return kafka_follow_run(&k);
}

int main(int argc, char **argv)
{
    struct options o;
    struct follower f;
    int rc;

    log_init("concert-events");
    if (parse_options(argc, argv, &o) < 0)
        return 1;
    if (config_load(&g_config) < 0)
        return 1;
    if (app_redis_setup() < 0)
        return 1;
    app_catch_stop();
    if (o.kafka) {
        rc = follow_kafka(&o);
        rds_close();
        config_free(&g_config);
        return rc;
    }
    memset(&f, 0, sizeof f);
    rc = follow(&f, &o);
    for (int i = 0; i < f.nstreams; i++)
        free(f.streams[i]);
    rds_close();
    config_free(&g_config);
    return rc;
}
