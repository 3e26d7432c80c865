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
#include "kafkalib.h"

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
    events = kt_start_events(group, NULL, &fd, 0, NULL);
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
    struct kt_topic res, pay, queue;
    struct kt_row *rows;
    size_t nrows;
    struct f_load L;
    struct t_resp r;
    int64_t concert, sched[1], start_id, unsent;
    long missing = 0, conflicts, dup = 0, bad, queue_entries = 0, qmissing;
    long long p50 = -1, p99 = -1;
    int seats[2] = {3, 4}, seat_b[1] = {7};

    f_require_stack();
    if (!kt_init())
        bail_out("no Kafka broker: ./dev test runs one for the events tests (t/9*)");
    plan(13);

    step("the relay idle, then A buys and B cancels");
    if (kt_unsent_after_wait(60000) != 0)
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
    unsent = kt_unsent_after_wait(15000);
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
    kt_read_topic("reservation-events", &res);
    kt_read_topic("payment-events", &pay);
    rows = kt_story_rows(start_id, &nrows);
    for (size_t i = 0; i < nrows; i++) {
        size_t from = 0;
        const struct kt_topic *t = strcmp(rows[i].topic, "reservation-events") == 0 ? &res : &pay;
        if (!kt_find_event(t, rows[i].event_id, &from)) {
            if (++missing <= 3)
                diag("outbox %" PRId64 " (%s) not in %s", rows[i].id, rows[i].event_id, rows[i].topic);
        }
    }
    ok(nrows > 20 && missing == 0, "all %zu outbox rows of the story are in their topics (%ld missing)", nrows,
       missing);
    conflicts = kt_conflicts_in(&res, &dup) + kt_conflicts_in(&pay, &dup);
    ok(conflicts == 0, "no eventId sent with two contents (%ld; %ld redeliveries with the same content)", conflicts,
       dup);
    diag("duplicates sent (same eventId and content, across both topics): %ld", dup);
    bad = kt_order_violations(&res, rows, nrows) + kt_order_violations(&pay, rows, nrows);
    ok(bad == 0, "each user's messages: keyed by the userId, in one partition, in commit order (%ld wrong)", bad);

    step("the queue streams bridged into queue-events");
    qmissing = -1;
    for (int tries = 0; tries < 50 && qmissing != 0; tries++) {
        if (tries)
            t_sleep_ms(200);
        kt_read_topic("queue-events", &queue);
        queue_entries = 0;
        qmissing = kt_queue_missing(concert, &queue, &queue_entries) + kt_queue_missing(L.concert, &queue, &queue_entries);
        if (qmissing != 0)
            kt_free_topic(&queue);
    }
    ok(queue_entries > 10 && qmissing == 0, "every queue entry of the story (%ld) is in queue-events, same content",
       queue_entries);
    kt_free_topic(&queue);

    step("concert-events --kafka killed with -9 resumes in its group");
    snprintf(group, sizeof group, "t94-%d", (int)getpid());
    snprintf(first_path, sizeof first_path, "%s/t94-first.jsonl", getenv("CONCERT_VAR"));
    snprintf(second_path, sizeof second_path, "%s/t94-second.jsonl", getenv("CONCERT_VAR"));
    unlink(first_path);
    unlink(second_path);
    {
        int fd;
        pid_t first = kt_start_events(group, NULL, &fd, 1, NULL), second;
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
        second = kt_start_events(group, second_path, NULL, 0, "3");
        waitpid(second, &status, 0);
        second_lines = count_lines(second_path);
        for (int i = 0; i < 100 && (lag = kt_group_lag(group, "payment-events")) != 0; i++)
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
    kt_free_topic(&res);
    kt_free_topic(&pay);
    f_load_free(&L);
    free(tok_a);
    free(tok_b);
    return done_testing();
}
