/* kafkalib.c - the Kafka tests' helpers (see kafkalib.h). */
#include "kafkalib.h"
#include "faultlib.h"
#include "testlib.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define diag f_diag
#define bail_out f_bail_out

const char *kt_brokers;

int kt_init(void)
{
    kt_brokers = getenv("CONCERT_KAFKA_BROKERS");
    return kt_brokers && *kt_brokers;
}


static void kt_add_msg(struct kt_topic *t, struct kt_msg m)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->m = realloc(t->m, t->cap * sizeof *t->m);
        if (!t->m)
            bail_out("out of memory");
    }
    t->m[t->n++] = m;
}

/* Every message of a topic, read with kcat from the beginning to the end. */
void kt_read_topic(const char *topic, struct kt_topic *t)
{
    char cmd[512], *line = NULL;
    size_t cap = 0;
    FILE *p;

    memset(t, 0, sizeof *t);
    snprintf(cmd, sizeof cmd, "kcat -b '%s' -C -t '%s' -o beginning -e -q -f '%%p\\t%%o\\t%%k\\t%%s\\n' 2>/dev/null",
             kt_brokers, topic);
    p = popen(cmd, "r");
    if (!p)
        bail_out("cannot run kcat");
    while (getline(&line, &cap, p) > 0) {
        struct kt_msg m = {0};
        char *f1 = strchr(line, '\t'), *f2 = f1 ? strchr(f1 + 1, '\t') : NULL, *f3 = f2 ? strchr(f2 + 1, '\t') : NULL;
        const char *id;

        if (!f3)
            continue;
        *f1 = *f2 = *f3 = '\0';
        f3[strcspn(f3 + 1, "\n") + 1] = '\0';
        m.partition = atoi(line);
        m.offset = atoll(f1 + 1);
        m.key = strdup(f2 + 1);
        m.content = strdup(f3 + 1);
        m.value = json_tokener_parse(f3 + 1);
        id = t_json_str(m.value, "eventId");
        m.event_id = strdup(id ? id : "");
        if (!m.key || !m.content || !m.event_id)
            bail_out("out of memory");
        kt_add_msg(t, m);
    }
    free(line);
    pclose(p);
}

void kt_free_topic(struct kt_topic *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->m[i].key);
        free(t->m[i].event_id);
        free(t->m[i].content);
        json_object_put(t->m[i].value);
    }
    free(t->m);
}

/* The messages of a topic carrying eventId (first from index *from). */
const struct kt_msg *kt_find_event(const struct kt_topic *t, const char *event_id, size_t *from)
{
    for (size_t i = *from; i < t->n; i++)
        if (strcmp(t->m[i].event_id, event_id) == 0) {
            *from = i + 1;
            return &t->m[i];
        }
    return NULL;
}

/* Contents differ: the same eventId with other fields (the five fields of
 * the value, compared as JSON, so key order does not matter). */
static int kt_same_content(const struct kt_msg *a, const struct kt_msg *b)
{
    return json_object_equal(a->value, b->value);
}

static int kt_by_event_id(const void *a, const void *b)
{
    const struct kt_msg *x = *(const struct kt_msg *const *)a, *y = *(const struct kt_msg *const *)b;
    return strcmp(x->event_id, y->event_id);
}

/* Messages whose eventId came again with another content; dup counts the
 * redeliveries (same content). */
long kt_conflicts_in(const struct kt_topic *t, long *dup)
{
    const struct kt_msg **s = malloc((t->n + 1) * sizeof *s);
    long conflicts = 0;

    if (!s)
        bail_out("out of memory");
    for (size_t i = 0; i < t->n; i++)
        s[i] = &t->m[i];
    qsort(s, t->n, sizeof *s, kt_by_event_id);
    for (size_t i = 1; i < t->n; i++)
        if (strcmp(s[i]->event_id, s[i - 1]->event_id) == 0) {
            if (kt_same_content(s[i], s[i - 1]))
                (*dup)++;
            else
                conflicts++;
        }
    free(s);
    return conflicts;
}

struct kt_row *kt_story_rows(int64_t after, size_t *n)
{
    char after_text[24], *text;
    const char *p[] = {after_text};
    struct json_object *all;
    struct kt_row *rows;
    size_t count;

    snprintf(after_text, sizeof after_text, "%" PRId64, after);
    text = t_pg_value("SELECT coalesce(json_agg(json_build_array(id, event_id, topic, data->>'userId') ORDER BY id), "
                      "'[]')::text FROM outbox WHERE id > $1",
                      1, p);
    all = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (!all)
        bail_out("cannot read the outbox");
    count = json_object_array_length(all);
    rows = calloc(count + 1, sizeof *rows);
    if (!rows)
        bail_out("out of memory");
    for (size_t i = 0; i < count; i++) {
        struct json_object *r = json_object_array_get_idx(all, i);
        const char *user = json_object_get_string(json_object_array_get_idx(r, 3));

        rows[i].id = json_object_get_int64(json_object_array_get_idx(r, 0));
        snprintf(rows[i].event_id, sizeof rows[i].event_id, "%s", json_object_get_string(json_object_array_get_idx(r, 1)));
        snprintf(rows[i].topic, sizeof rows[i].topic, "%s", json_object_get_string(json_object_array_get_idx(r, 2)));
        snprintf(rows[i].user, sizeof rows[i].user, "%s", user ? user : "");
    }
    json_object_put(all);
    *n = count;
    return rows;
}

static int64_t kt_row_of(const struct kt_row *rows, size_t n, const char *event_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].event_id, event_id) == 0)
            return (int64_t)i;
    return -1;
}

/* Per-user order in one topic: for each message of a story row, in
 * partition order, a row seen for the first time comes after every row of
 * that user seen before it (a redelivery may repeat earlier ones), and all
 * of a user's messages share one partition. Returns the violations. */
long kt_order_violations(const struct kt_topic *t, const struct kt_row *rows, size_t nrows)
{
    int64_t *last_new = calloc(nrows + 1, sizeof *last_new);
    int *partition = calloc(nrows + 1, sizeof *partition);
    char *seen = calloc(nrows + 1, 1);
    long bad = 0;

    if (!last_new || !partition || !seen)
        bail_out("out of memory");
    /* kcat prints each partition in offset order; partitions interleave,
     * which does not matter: a user's messages are in one. */
    for (size_t i = 0; i < t->n; i++) {
        int64_t r = kt_row_of(rows, nrows, t->m[i].event_id);
        size_t first;

        if (r < 0)
            continue;
        /* The user's first row (its index) keys the user's state. */
        for (first = 0; first < nrows && strcmp(rows[first].user, rows[r].user) != 0; first++)
            ;
        if (partition[first] == 0) {
            partition[first] = t->m[i].partition + 1;
        } else if (partition[first] != t->m[i].partition + 1) {
            diag("%s: user %s in partitions %d and %d", t->m[i].event_id, rows[r].user, partition[first] - 1,
                 t->m[i].partition);
            bad++;
        }
        if (strcmp(t->m[i].key, rows[r].user) != 0) {
            diag("%s: key %s, not the userId %s", t->m[i].event_id, t->m[i].key, rows[r].user);
            bad++;
        }
        if (!seen[r]) {
            if (rows[r].id < last_new[first]) {
                diag("%s (outbox %" PRId64 ") after outbox %" PRId64 " of the same user", t->m[i].event_id,
                     rows[r].id, last_new[first]);
                bad++;
            }
            last_new[first] = rows[r].id;
            seen[r] = 1;
        }
    }
    free(last_new);
    free(partition);
    free(seen);
    return bad;
}

int64_t kt_unsent_after_wait(long max_ms)
{
    int64_t unsent = -1;

    for (long waited = 0; waited <= max_ms; waited += 100) {
        unsent = t_pg_int("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, NULL);
        if (unsent == 0)
            break;
        t_sleep_ms(100);
    }
    return unsent;
}

/* The queue stream entries of a concert that Kafka's queue-events lacks or
 * holds with another content. */
long kt_queue_missing(int64_t concert, const struct kt_topic *q, long *entries)
{
    char stream[64];
    const char *argv[] = {"XRANGE", stream, "-", "+"};
    redisReply *reply;
    long missing = 0;

    snprintf(stream, sizeof stream, "{c:%" PRId64 "}:queue-events", concert);
    reply = t_redis(4, argv);
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        bail_out("cannot read a queue stream");
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *f = reply->element[i]->element[1];
        struct json_object *want = json_object_new_object();
        const char *id = NULL;
        int found = 0;

        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            const char *name = f->element[k]->str, *v = f->element[k + 1]->str;
            if (strcmp(name, "eventId") == 0)
                id = v;
            if (strcmp(name, "data") == 0)
                json_object_object_add(want, name, json_tokener_parse(v));
            else if (strcmp(name, "concertId") == 0)
                json_object_object_add(want, name, json_object_new_int64(atoll(v)));
            else
                json_object_object_add(want, name, json_object_new_string(v));
        }
        (*entries)++;
        for (size_t from = 0; id;) {
            const struct kt_msg *m = kt_find_event(q, id, &from);
            if (!m)
                break;
            if (!json_object_equal(m->value, want)) {
                diag("%s differs: %s", id, m->content);
                found = 0;
                break;
            }
            found = 1;
        }
        if (!found) {
            missing++;
            if (missing <= 3)
                diag("queue entry %s not in queue-events", id ? id : "(no eventId)");
        }
        json_object_put(want);
    }
    freeReplyObject(reply);
    return missing;
}

/* The lag of a consumer group on a topic: the messages past its committed
 * offsets (a partition it never committed counts whole). -1 on failure. */
long long kt_group_lag(const char *group, const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_partition_list_t *parts;
    long long lag = 0;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", kt_brokers, err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) != RD_KAFKA_CONF_OK)
        return -1;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        return -1;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_destroy(rk);
        return -1;
    }
    parts = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            for (int p = 0; p < md->topics[i].partition_cnt; p++)
                rd_kafka_topic_partition_list_add(parts, topic, md->topics[i].partitions[p].id);
    rd_kafka_metadata_destroy(md);
    if (rd_kafka_committed(rk, parts, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        lag = -1;
    for (int i = 0; lag >= 0 && i < parts->cnt; i++) {
        int64_t low, high;
        if (rd_kafka_query_watermark_offsets(rk, topic, parts->elems[i].partition, &low, &high, 5000))
            lag = -1;
        else
            lag += high - (parts->elems[i].offset >= 0 ? parts->elems[i].offset : low);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return lag;
}

/* concert-events --kafka in the background, its lines to out (a file), or
 * to a pipe when pipe_fd is given. */
pid_t kt_start_events(const char *group, const char *out, int *pipe_fd, int from_start, const char *idle)
{
    int fds[2] = {-1, -1};
    pid_t pid;

    if (pipe_fd && pipe(fds) < 0)
        bail_out("pipe");
    pid = fork();
    if (pid < 0)
        bail_out("fork");
    if (pid == 0) {
        const char *argv[16];
        int n = 0;

        if (pipe_fd) {
            dup2(fds[1], 1);
            close(fds[0]);
            close(fds[1]);
        } else if (!freopen(out, "a", stdout)) {
            _exit(127);
        }
        argv[n++] = getenv("CONCERT_EVENTS");
        argv[n++] = "--kafka";
        argv[n++] = kt_brokers;
        argv[n++] = "--topic";
        argv[n++] = "payment";
        argv[n++] = "--group";
        argv[n++] = group;
        if (from_start)
            argv[n++] = "--from-start";
        if (idle) {
            argv[n++] = "--idle";
            argv[n++] = idle;
        }
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pipe_fd) {
        close(fds[1]);
        *pipe_fd = fds[0];
    }
    return pid;
}

/* The slowest row of the story from its commit to its sent mark (s). */
double kt_publish_delay(int64_t after)
{
    char after_text[24], *text;
    const char *p[] = {after_text};
    double s;

    snprintf(after_text, sizeof after_text, "%" PRId64, after);
    text = t_pg_value("SELECT coalesce(extract(epoch FROM max(sent_at - occurred_at)), -1)::text FROM outbox "
                      "WHERE id > $1",
                      1, p);
    s = text ? atof(text) : -1;
    free(text);
    return s;
}

/* Starts a new consumer group on payment-events and waits for its lag to
 * be 0: the seconds it took, or -1 after max_s. */
double kt_group_catch_up(const char *name, double max_s)
{
    char group[64], out[512];
    double t0 = t_now_s(), took = -1;
    pid_t pid;

    snprintf(group, sizeof group, "%s-%d", name, (int)getpid());
    snprintf(out, sizeof out, "%s/%s.jsonl", getenv("CONCERT_VAR"), group);
    pid = kt_start_events(group, out, NULL, 1, NULL);
    while (t_now_s() - t0 < max_s) {
        if (kt_group_lag(group, "payment-events") == 0) {
            took = t_now_s() - t0;
            break;
        }
        t_sleep_ms(200);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return took;
}

/* The story's rows missing from their topics (the first few named). */
long kt_rows_missing(const struct kt_row *rows, size_t nrows, const struct kt_topic *res,
                         const struct kt_topic *pay)
{
    long missing = 0;

    for (size_t i = 0; i < nrows; i++) {
        size_t from = 0;
        const struct kt_topic *t = strcmp(rows[i].topic, "reservation-events") == 0 ? res : pay;
        if (!kt_find_event(t, rows[i].event_id, &from) && ++missing <= 3)
            diag("outbox %" PRId64 " (%s) not in %s", rows[i].id, rows[i].event_id, rows[i].topic);
    }
    return missing;
}
