/* 94-kafka-events: with a Kafka broker, every event is in its Kafka topic,
 * in order for each user, with one content, through a relay killed with -9
 * mid-batch; the queue streams are bridged; concert-events reads Kafka
 * through a consumer group that resumes after a kill -9.
 *
 * The story (./dev test runs one broker for the events tests and points
 * the relay at it): A buys (token, hold, charge, pay) and B holds and
 * cancels, while a load of journeys runs and the relay is killed with -9
 * twice (multiwatch starts another). Once the outbox is all sent:
 *   - every outbox row of the story is in its topic (reservation-events or
 *     payment-events), and no eventId was ever sent with two contents;
 *   - /metrics shows the relay's lag (nothing waiting) and its Kafka
 *     publish errors;
 *   - each user's messages are in one partition (the key is the userId),
 *     in the order their changes committed (outbox ids);
 *   - every entry of the story's queue streams is in queue-events, with
 *     the same content;
 *   - concert-events --kafka, killed with -9 part-way through
 *     payment-events and started again in the same group, printed every
 *     message, and the group's lag is then 0;
 *   - a charge reaches a Kafka consumer within a second of its commit
 *     (p50 and p99 measured under a small load of charges). */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "faultlib.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *brokers;

/* One message as kcat printed it. */
struct msg {
    int partition;
    long long offset;
    char *key;
    char *event_id;
    char *content;          /* the value as kcat printed it */
    struct json_object *value;
};

struct topic_read {
    struct msg *m;
    size_t n, cap;
};

static void add_msg(struct topic_read *t, struct msg m)
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
static void read_topic(const char *topic, struct topic_read *t)
{
    char cmd[512], *line = NULL;
    size_t cap = 0;
    FILE *p;

    memset(t, 0, sizeof *t);
    snprintf(cmd, sizeof cmd, "kcat -b '%s' -C -t '%s' -o beginning -e -q -f '%%p\\t%%o\\t%%k\\t%%s\\n' 2>/dev/null",
             brokers, topic);
    p = popen(cmd, "r");
    if (!p)
        bail_out("cannot run kcat");
    while (getline(&line, &cap, p) > 0) {
        struct msg m = {0};
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
        add_msg(t, m);
    }
    free(line);
    pclose(p);
}

static void free_topic(struct topic_read *t)
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
static const struct msg *find_event(const struct topic_read *t, const char *event_id, size_t *from)
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
static int same_content(const struct msg *a, const struct msg *b)
{
    return json_object_equal(a->value, b->value);
}

static int by_event_id(const void *a, const void *b)
{
    const struct msg *x = *(const struct msg *const *)a, *y = *(const struct msg *const *)b;
    return strcmp(x->event_id, y->event_id);
}

/* Messages whose eventId came again with another content; dup counts the
 * redeliveries (same content). */
static long conflicts_in(const struct topic_read *t, long *dup)
{
    const struct msg **s = malloc((t->n + 1) * sizeof *s);
    long conflicts = 0;

    if (!s)
        bail_out("out of memory");
    for (size_t i = 0; i < t->n; i++)
        s[i] = &t->m[i];
    qsort(s, t->n, sizeof *s, by_event_id);
    for (size_t i = 1; i < t->n; i++)
        if (strcmp(s[i]->event_id, s[i - 1]->event_id) == 0) {
            if (same_content(s[i], s[i - 1]))
                (*dup)++;
            else
                conflicts++;
        }
    free(s);
    return conflicts;
}

/* The story's outbox rows: id, event_id, topic and userId, in id order. */
struct row {
    int64_t id;
    char event_id[40], topic[32], user[40];
};

static struct row *story_rows(int64_t after, size_t *n)
{
    char after_text[24], *text;
    const char *p[] = {after_text};
    struct json_object *all;
    struct row *rows;
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

static int64_t row_of(const struct row *rows, size_t n, const char *event_id)
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
static long order_violations(const struct topic_read *t, const struct row *rows, size_t nrows)
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
        int64_t r = row_of(rows, nrows, t->m[i].event_id);
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

static int64_t unsent_after_wait(long max_ms)
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
static long queue_missing(int64_t concert, const struct topic_read *q, long *entries)
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
            const struct msg *m = find_event(q, id, &from);
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
static long long group_lag(const char *group, const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_partition_list_t *parts;
    long long lag = 0;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK ||
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
static pid_t start_events(const char *group, const char *out, int *pipe_fd, int from_start, const char *idle)
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
        argv[n++] = brokers;
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

/* Copies lines from fd to the file path (appending), up to max lines (-1:
 * to the end). Returns the lines copied. */
static long copy_lines(int fd, const char *path, long max)
{
    FILE *out = fopen(path, "a");
    long n = 0;
    char c;

    if (!out)
        bail_out("cannot write a consumer's output");
    while ((max < 0 || n < max) && read(fd, &c, 1) == 1) {
        fputc(c, out);
        n += c == '\n';
    }
    fclose(out);
    return n;
}

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int c;

    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* The eventIds printed in a file, and whether the text has one. */
static int file_has(const char *text, const char *event_id)
{
    char needle[64];

    snprintf(needle, sizeof needle, "\"eventId\":\"%s\"", event_id);
    return strstr(text, needle) != NULL;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text;
    long len;

    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
        bail_out("cannot read a consumer's output");
    text[len] = '\0';
    fclose(f);
    return text;
}

static long long wall_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long long iso_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

static int by_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

#define LATENCY_CHARGES 60

/* Commit to consumer: a consumer group of its own follows payment-events
 * through concert-events --kafka while a child charges a user 60 times,
 * 20 a second; each charge's latency is when its line came minus its
 * occurredAt (the commit's clock). Fills p50 and p99; returns the lines
 * seen. */
static int measure_latency(long long *p50, long long *p99)
{
    char user[37], group[64];
    long long lat[LATENCY_CHARGES];
    int fd, n = 0, ready = 0;
    pid_t events, charger;
    FILE *in;
    char *line = NULL;
    size_t cap = 0;
    long long deadline;

    t_user(user);
    snprintf(group, sizeof group, "t94-latency-%d", (int)getpid());
    events = start_events(group, NULL, &fd, 0, NULL);
    in = fdopen(fd, "r");
    if (!in)
        bail_out("fdopen");
    /* The group has its partitions once a charge made now comes through. */
    deadline = wall_ms() + 20000;
    while (!ready && wall_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        bk_charge(user, 1, NULL, NULL);
        while (poll(&p, 1, 500) > 0 && getline(&line, &cap, in) > 0)
            if (strstr(line, user)) {
                ready = 1;
                break;
            }
    }
    if (!ready) {
        kill(events, SIGKILL);
        waitpid(events, NULL, 0);
        fclose(in);
        free(line);
        return 0;
    }
    charger = fork();
    if (charger == 0) {
        for (int i = 0; i < LATENCY_CHARGES; i++) {
            bk_charge(user, 100, NULL, NULL);
            t_sleep_ms(50);
        }
        _exit(0);
    }
    deadline = wall_ms() + 30000;
    while (n < LATENCY_CHARGES && wall_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        struct json_object *ev;

        if (poll(&p, 1, 1000) <= 0 || getline(&line, &cap, in) <= 0)
            continue;
        ev = json_tokener_parse(line);
        if (ev && t_json_str(ev, "data.userId") && strcmp(t_json_str(ev, "data.userId"), user) == 0 &&
            t_json_int(ev, "data.amount") == 100)
            lat[n++] = wall_ms() - iso_ms(t_json_str(ev, "occurredAt"));
        json_object_put(ev);
    }
    waitpid(charger, NULL, 0);
    kill(events, SIGTERM);
    waitpid(events, NULL, 0);
    fclose(in);
    free(line);
    if (n == 0)
        return 0;
    qsort(lat, (size_t)n, sizeof lat[0], by_ll);
    *p50 = lat[n / 2];
    *p99 = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    return n;
}

int main(void)
{
    char a[37], b[37], *tok_a, *tok_b, first_path[512], second_path[512], group[64];
    struct topic_read res, pay, queue;
    struct row *rows;
    size_t nrows;
    struct f_load L;
    struct t_resp r;
    int64_t concert, sched[1], start_id, unsent;
    long missing = 0, conflicts, dup = 0, bad, queue_entries = 0, qmissing;
    long long p50 = -1, p99 = -1;
    int seats[2] = {3, 4}, seat_b[1] = {7};

    f_require_stack();
    brokers = getenv("CONCERT_KAFKA_BROKERS");
    if (!brokers || !*brokers)
        bail_out("no Kafka broker: ./dev test runs one for the events tests (t/9*)");
    plan(13);

    step("the relay idle, then A buys and B cancels");
    if (unsent_after_wait(60000) != 0)
        bail_out("the relay did not catch up with the outbox");
    start_id = t_pg_int("SELECT coalesce(max(id), 0) FROM outbox", 0, NULL);
    concert = bk_two_active(sched, a, &tok_a, b, &tok_b);
    {
        int64_t held = bk_hold_id(tok_a, sched[0], seats, 2), rid_b;
        char path[64];

        bk_charge(a, 2000, NULL, NULL);
        ok(held > 0 && bk_pay(tok_a, held, NULL, NULL) == 201, "A held two seats, charged and paid");
        rid_b = bk_hold_id(tok_b, sched[0], seat_b, 1);
        snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, rid_b);
        t_delete(path, tok_b, &r);
        ok(rid_b > 0 && r.status / 100 == 2, "B held a seat and cancelled (%ld)", r.status);
        t_resp_free(&r);
    }

    step("journeys while the relay is killed with -9 twice");
    if (f_load_start(&L, "kafka", 6, 1000, 1) < 0)
        bail_out("cannot start the load");
    t_sleep_ms(1500);
    {
        int first = f_kill_relay();
        t_sleep_ms(1500);
        ok(first == 1 && f_kill_relay() == 1, "the relay killed with -9 twice under load (multiwatch restarts it)");
    }
    t_sleep_ms(1500);
    f_load_stop(&L);
    {
        struct f_tally tally;
        long ms = f_load_ms(&L);
        f_tally(&L, F_PAY, 0, ms, &tally);
        diag("the load paid %ld journeys in %.1f s (%.1f journeys/s, with Kafka)", tally.ok, ms / 1000.0,
             ms > 0 ? tally.ok * 1000.0 / ms : 0.0);
    }
    unsent = unsent_after_wait(15000);
    ok(unsent == 0, "the relay caught up: no outbox row unsent (%" PRId64 ")", unsent);
    {
        long status = 0;
        char *text = t_metrics(&status, NULL);
        ok(status == 200 && text && strstr(text, "\nconcert_relay_unsent_events 0\n") &&
               strstr(text, "\nconcert_relay_lag_seconds 0.000\n") &&
               strstr(text, "\nconcert_store_errors_total{store=\"kafka\"} ") &&
               t_metrics_sample(text, "concert_metrics_complete") == 1,
           "/metrics shows the relay's lag (0 events, 0 s) and its Kafka publish errors (%.0f)",
           text ? t_metrics_sample(text, "concert_store_errors_total{store=\"kafka\"}") : -1.0);
        free(text);
    }

    step("every outbox row in its topic, once in content, in each user's order");
    read_topic("reservation-events", &res);
    read_topic("payment-events", &pay);
    rows = story_rows(start_id, &nrows);
    for (size_t i = 0; i < nrows; i++) {
        size_t from = 0;
        const struct topic_read *t = strcmp(rows[i].topic, "reservation-events") == 0 ? &res : &pay;
        if (!find_event(t, rows[i].event_id, &from)) {
            if (++missing <= 3)
                diag("outbox %" PRId64 " (%s) not in %s", rows[i].id, rows[i].event_id, rows[i].topic);
        }
    }
    ok(nrows > 20 && missing == 0, "all %zu outbox rows of the story are in their topics (%ld missing)", nrows,
       missing);
    conflicts = conflicts_in(&res, &dup) + conflicts_in(&pay, &dup);
    ok(conflicts == 0, "no eventId sent with two contents (%ld; %ld redeliveries with the same content)", conflicts,
       dup);
    diag("duplicates sent (same eventId and content, across both topics): %ld", dup);
    bad = order_violations(&res, rows, nrows) + order_violations(&pay, rows, nrows);
    ok(bad == 0, "each user's messages: keyed by the userId, in one partition, in commit order (%ld wrong)", bad);

    step("the queue streams bridged into queue-events");
    qmissing = -1;
    for (int tries = 0; tries < 50 && qmissing != 0; tries++) {
        if (tries)
            t_sleep_ms(200);
        read_topic("queue-events", &queue);
        queue_entries = 0;
        qmissing = queue_missing(concert, &queue, &queue_entries) + queue_missing(L.concert, &queue, &queue_entries);
        if (qmissing != 0)
            free_topic(&queue);
    }
    ok(queue_entries > 10 && qmissing == 0, "every queue entry of the story (%ld) is in queue-events, same content",
       queue_entries);
    free_topic(&queue);

    step("concert-events --kafka killed with -9 resumes in its group");
    snprintf(group, sizeof group, "t94-%d", (int)getpid());
    snprintf(first_path, sizeof first_path, "%s/t94-first.jsonl", getenv("CONCERT_VAR"));
    snprintf(second_path, sizeof second_path, "%s/t94-second.jsonl", getenv("CONCERT_VAR"));
    unlink(first_path);
    unlink(second_path);
    {
        int fd;
        pid_t first = start_events(group, NULL, &fd, 1, NULL), second;
        long printed = 0, total = (long)pay.n, second_lines;
        int status = -1;
        double t0;
        char *one, *two;
        long lost = 0;
        long long lag = -1;

        /* Its output is a pipe the test reads slowly: once the pipe is
         * full the consumer waits to print, part-way through the topic,
         * and is killed there. What it printed before the kill is all
         * read, the rest of the pipe included. */
        printed = copy_lines(fd, first_path, 100);
        t_sleep_ms(1000);   /* it commits what it printed (every 200 ms) */
        kill(first, SIGKILL);
        waitpid(first, NULL, 0);
        printed += copy_lines(fd, first_path, -1);
        close(fd);
        t0 = t_now_s();
        second = start_events(group, second_path, NULL, 0, "3");
        waitpid(second, &status, 0);
        second_lines = count_lines(second_path);
        for (int i = 0; i < 100 && (lag = group_lag(group, "payment-events")) != 0; i++)
            t_sleep_ms(100);
        ok(printed > 0 && printed < total && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the first consumer printed %ld of %ld and was killed; the second ran to its idle end", printed, total);
        one = slurp(first_path);
        two = slurp(second_path);
        for (size_t i = 0; i < pay.n; i++)
            if (!file_has(one, pay.m[i].event_id) && !file_has(two, pay.m[i].event_id) && ++lost <= 3)
                diag("%s never printed", pay.m[i].event_id);
        ok(lost == 0 && second_lines < total, "between them every message was printed (%ld lost), the second "
           "resumed where the first committed (%ld lines, not %ld)", lost, second_lines, total);
        ok(lag == 0, "the group's lag is 0 (%lld), %.1f s after the restart", lag, t_now_s() - t0);
        free(one);
        free(two);
    }

    step("commit to consumer, under a small load of charges");
    {
        int n = measure_latency(&p50, &p99);
        diag("commit to Kafka consumer over %d charges: p50 %lld ms, p99 %lld ms", n, p50, p99);
        ok(n == LATENCY_CHARGES && p99 >= 0 && p99 < 1000, "every charge reached the consumer, p99 %lld ms < 1 s",
           p99);
    }

    free(rows);
    free_topic(&res);
    free_topic(&pay);
    f_load_free(&L);
    free(tok_a);
    free(tok_b);
    return done_testing();
}
