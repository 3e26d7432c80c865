/* kafka_sink.c - the relay's Kafka producer (see kafka_sink.h). */
#include "kafka_sink.h"
#include "kafka_conf.h"
#include "log.h"
#include "metrics.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A message not stored within this is reported failed; below the
 * relay's idle-transaction limit (relay.c), so a batch whose broker is
 * gone ends in time to be rolled back and published again. */
#define MESSAGE_TIMEOUT_MS "3000"

struct kafka_sink {
    rd_kafka_t *rk;
    char *brokers;
    /* The current round: its number rides in each message's opaque, so a
     * report of an earlier round's message (one that came after its wait
     * gave up) is not counted in this one. */
    uintptr_t round;
    long sent, stored, failed;
    int refused;            /* a send of this round was refused at once */
    long errors;            /* failed messages since the sink opened */
    int down_logged;
    /* The topics' handles, held so their metadata stays known. */
    rd_kafka_topic_t *known[KAFKA_SINK_TOPICS];
    int nknown;
};

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka_sink *s = opaque;

    (void)rk;
    if (m->err) {
        s->errors++;
        metrics_store_error(METRICS_KAFKA);
    }
    if ((uintptr_t)m->_private != s->round)
        return;
    if (m->err) {
        if (!s->down_logged)
            log_error("Kafka did not store an event of %s: %s", rd_kafka_topic_name(m->rkt),
                      rd_kafka_err2str(m->err));
        s->down_logged = 1;
        s->failed++;
    } else {
        s->stored++;
    }
}

static rd_kafka_t *producer(struct kafka_sink *s)
{
    /* Idempotence brings acks=all and at most five requests in flight per
     * partition, which it keeps in order across retries. murmur2 places a
     * key where the Java clients place it, so their producers and ours
     * agree on a user's partition. */
    static const char *const settings[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "linger.ms", "5",
        "message.timeout.ms", MESSAGE_TIMEOUT_MS,
        "partitioner", "murmur2_random",
        "socket.keepalive.enable", "true",
        "reconnect.backoff.max.ms", "1000",
        /* A partition's new leader learned within a second of its
         * election, whatever else happens: after a leader's broker is
         * killed, the dead leader stays in the metadata until the quorum
         * fences it (seconds later), and the refresh that follows a lost
         * leader backs off exponentially from its first interval, so the
         * new one could be learned only after the next batch's wait had
         * run out. A metadata request a second to one broker is cheap.
         * Neither setting changes what counts as stored. */
        "topic.metadata.refresh.interval.ms", "1000",
        "topic.metadata.refresh.fast.interval.ms", "100",
        NULL,
    };
    rd_kafka_conf_t *conf = kafka_conf_new(s->brokers, settings);

    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    rd_kafka_conf_set_opaque(conf, s);
    return kafka_client_new(RD_KAFKA_PRODUCER, conf);
}

/* Learns the topics' partitions and leaders now: a producer that meets a
 * topic only with its first message makes that message wait for a
 * metadata round, up to a second, which the contract's second cannot
 * spare. A broker that does not answer yet is learned about later. */
static void learn_topics(struct kafka_sink *s, const char *const *topics, int n)
{
    for (int i = 0; i < n && s->nknown < KAFKA_SINK_TOPICS; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, topics[i], NULL);
        const struct rd_kafka_metadata *md;

        if (!rkt)
            continue;
        s->known[s->nknown++] = rkt;
        if (rd_kafka_metadata(s->rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
    }
}

static void forget_topics(struct kafka_sink *s)
{
    for (int i = 0; i < s->nknown; i++)
        rd_kafka_topic_destroy(s->known[i]);
    s->nknown = 0;
}

struct kafka_sink *kafka_sink_open(const char *brokers, const char *const *topics, int ntopics)
{
    struct kafka_sink *s = calloc(1, sizeof *s);

    if (!s || !(s->brokers = strdup(brokers))) {
        log_error("out of memory for the Kafka producer");
        free(s);
        return NULL;
    }
    s->rk = producer(s);
    if (!s->rk) {
        free(s->brokers);
        free(s);
        return NULL;
    }
    learn_topics(s, topics, ntopics);
    return s;
}

/* The message's key: the userId its data names (NULL when none: any
 * partition). */
static const char *user_of(struct json_object *event)
{
    struct json_object *data, *user;

    if (json_object_object_get_ex(event, "data", &data) && json_object_is_type(data, json_type_object) &&
        json_object_object_get_ex(data, "userId", &user) && json_object_is_type(user, json_type_string))
        return json_object_get_string(user);
    return NULL;
}

int kafka_sink_send(struct kafka_sink *s, const char *topic, const struct event_fields *ev)
{
    struct json_object *event = json_object_new_object();
    const char *value, *key;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (!s->rk || !event || event_json_add(event, ev) < 0) {
        json_object_put(event);
        s->refused = 1;
        return -1;
    }
    value = json_object_to_json_string_ext(event, JSON_C_TO_STRING_PLAIN);
    key = user_of(event);
    for (int tries = 0; tries < 50; tries++) {
        err = rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                                RD_KAFKA_V_OPAQUE((void *)s->round), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(s->rk, 20);   /* the local queue is full: let reports drain it */
    }
    json_object_put(event);
    if (err) {
        if (!s->down_logged)
            log_error("Kafka refused an event of %s: %s", topic, rd_kafka_err2str(err));
        s->down_logged = 1;
        s->refused = 1;
        s->errors++;
        metrics_store_error(METRICS_KAFKA);
        return -1;
    }
    s->sent++;
    return 0;
}

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* An idempotent producer that hit a fatal error (the broker fenced it, or
 * lost what it had stored) can send nothing more: a new one takes over. */
static void replace_if_fatal(struct kafka_sink *s)
{
    char why[256];

    if (!s->rk || rd_kafka_fatal_error(s->rk, why, sizeof why) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    log_error("the Kafka producer failed for good (%s): starting a new one", why);
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(s->rk, 0);
    forget_topics(s);
    rd_kafka_destroy(s->rk);
    s->rk = producer(s);
}

int kafka_sink_wait(struct kafka_sink *s, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    int all;

    while (s->rk && !s->refused && s->stored + s->failed < s->sent && now_ms() < deadline)
        rd_kafka_poll(s->rk, 10);
    all = !s->refused && s->failed == 0 && s->stored == s->sent;
    if (!all && !s->refused && s->stored + s->failed < s->sent && !s->down_logged) {
        /* No report in time: the caller sends these again. */
        log_error("Kafka reported on %ld of %ld events within %d ms", s->stored + s->failed, s->sent, timeout_ms);
        s->down_logged = 1;
    }
    if (all && s->sent > 0 && s->down_logged) {
        log_info("Kafka stores events again");
        s->down_logged = 0;
    }
    if (!all)
        replace_if_fatal(s);
    else if (!s->rk)
        all = 0;
    s->round++;
    s->sent = s->stored = s->failed = 0;
    s->refused = 0;
    if (!s->rk)
        s->rk = producer(s);
    return all ? 0 : -1;
}

long kafka_sink_errors(const struct kafka_sink *s)
{
    return s->errors;
}

void kafka_sink_close(struct kafka_sink *s)
{
    if (!s)
        return;
    if (s->rk) {
        rd_kafka_flush(s->rk, 2000);
        forget_topics(s);
        rd_kafka_destroy(s->rk);
    }
    free(s->brokers);
    free(s);
}
