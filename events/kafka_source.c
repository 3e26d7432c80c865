/* kafka_source.c - concert-events reading Kafka (see kafka_source.h). */
#include "kafka_source.h"
#include "app.h"
#include "kafka_conf.h"
#include "log.h"

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* With --from-start, the group's first assignment starts every partition
 * at its beginning (a replay, as XGROUP SETID 0 does on the streams);
 * later ones (another consumer joined or left) go on from the commits. */
static int replay_pending;

/* Where each assigned partition starts, committed at once: the group's
 * own commit, else its end (a new group, as XGROUP CREATE $), or its
 * beginning with --from-start. Committed now, a partition this consumer
 * never gets to read before a kill -9 still has the group's position, and
 * the next consumer starts there (not at the end it would find then). */
static void start_positions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, 5000);
    int fresh = 0;

    if (err) {
        log_error("the group's committed offsets: %s", rd_kafka_err2str(err));
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t low, high;

        if (!replay_pending && p->offset >= 0)
            continue;
        err = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &low, &high, 5000);
        if (err) {
            log_error("the offsets of %s [%d]: %s", p->topic, (int)p->partition, rd_kafka_err2str(err));
            p->offset = replay_pending ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_INVALID;
            continue;
        }
        p->offset = replay_pending ? low : high;
        fresh = 1;
    }
    replay_pending = 0;
    if (fresh) {
        err = rd_kafka_commit(rk, parts, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_error("committing the group's start: %s", rd_kafka_err2str(err));
    }
}
/* When partitions were last assigned: --idle counts from then too, so a
 * consumer waiting for its group to make room does not give up first. */
static time_t assigned_at;

static void rebalanced(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        start_positions(rk, parts);
        rd_kafka_assign(rk, parts);
        assigned_at = time(NULL);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* A queue event of another concert than --concert names. */
static int other_concert(const struct kafka_follow *k, const char *topic, struct json_object *value)
{
    struct json_object *concert;

    if (!k->concert || strcmp(topic, "queue-events") != 0)
        return 0;
    return !json_object_object_get_ex(value, "concertId", &concert) || json_object_get_int64(concert) != k->concert;
}

/* Prints one message. Returns 1 printed, 0 skipped, -1 stdout failed. */
static int print_message(const struct kafka_follow *k, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct json_object *value = NULL, *line;
    int rc = 1;

    if (m->payload) {
        struct json_tokener *tok = json_tokener_new();
        if (tok) {
            value = json_tokener_parse_ex(tok, m->payload, (int)m->len);
            json_tokener_free(tok);
        }
    }
    if (!value || !json_object_is_type(value, json_type_object)) {
        log_error("%s [%d] offset %lld is not an event; skipped", topic, (int)m->partition, (long long)m->offset);
        json_object_put(value);
        return 0;
    }
    if (other_concert(k, topic, value)) {
        json_object_put(value);
        return 0;
    }
    line = json_object_new_object();
    if (!line) {
        json_object_put(value);
        return -1;
    }
    json_object_object_add(line, "topic", json_object_new_string(topic));
    json_object_object_add(line, "partition", json_object_new_int(m->partition));
    json_object_object_add(line, "offset", json_object_new_int64(m->offset));
    json_object_object_add(line, "key", m->key ? json_object_new_string_len(m->key, (int)m->key_len) : NULL);
    json_object_object_foreach(value, name, field) {
        json_object_object_add(line, name, json_object_get(field));
    }
    if (printf("%s\n", json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN)) < 0 || fflush(stdout) != 0)
        rc = -1;
    json_object_put(line);
    json_object_put(value);
    return rc;
}

/* The message's offset is stored (committed with the next commit) only
 * now that its line is written. */
static void store_offset(rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *done = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    if (!done) {
        log_error("out of memory storing an offset");
        return;
    }
    rd_kafka_topic_partition_list_add(done, rd_kafka_topic_name(m->rkt), m->partition)->offset = m->offset + 1;
    err = rd_kafka_offsets_store(rk, done);
    if (err)
        log_error("storing the offset of %s [%d]: %s", rd_kafka_topic_name(m->rkt), (int)m->partition,
                  rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(done);
}

static rd_kafka_t *consumer(const struct kafka_follow *k)
{
    const char *const settings[] = {
        "group.id", k->group,
        "client.id", k->consumer,
        /* Static membership: a consumer started again under the same name
         * (after a kill -9 too) takes its partitions back at once, instead
         * of the group waiting out the dead one's session. */
        "group.instance.id", k->consumer,
        "session.timeout.ms", "10000",
        "auto.offset.reset", k->from_start ? "earliest" : "latest",
        "enable.auto.commit", "true",
        "auto.commit.interval.ms", "200",
        "enable.auto.offset.store", "false",
        "partition.assignment.strategy", "range,roundrobin",
        NULL,
    };
    rd_kafka_conf_t *conf = kafka_conf_new(k->brokers, settings);
    rd_kafka_t *rk;

    if (!conf)
        return NULL;
    rd_kafka_conf_set_rebalance_cb(conf, rebalanced);
    rk = kafka_client_new(RD_KAFKA_CONSUMER, conf);
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

int kafka_follow_run(const struct kafka_follow *k)
{
    rd_kafka_t *rk = consumer(k);
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t err;
    time_t last_event = time(NULL);
    long printed = 0;
    int rc = 0;

    if (!rk)
        return 1;
    replay_pending = k->from_start;
    topics = rd_kafka_topic_partition_list_new(k->ntopics);
    if (!topics) {
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < k->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, k->topics[i], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        log_error("Kafka subscribe: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return 1;
    }
    while (!app_stop_asked()) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        int printed_now;

        if (!m) {
            time_t since = last_event > assigned_at ? last_event : assigned_at;
            if (k->idle_s && assigned_at && time(NULL) - since >= k->idle_s)
                break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_error("Kafka: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        printed_now = print_message(k, m);
        if (printed_now >= 0)
            store_offset(rk, m);   /* a skipped message is done with too */
        rd_kafka_message_destroy(m);
        if (printed_now < 0) {
            rc = 2;
            break;
        }
        last_event = time(NULL);
        if (printed_now && k->count && ++printed >= k->count)
            break;
    }
    /* Commits what was stored, and leaves the group at once. */
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
