/* kafkalib.h - what the Kafka tests (t/94, t/a9-t/ad) share: a topic read
 * whole with kcat, the checks of its messages against the outbox (every
 * row there, one content per eventId, each user's order), a consumer
 * group's lag, and concert-events --kafka started in the background.
 * The brokers are $CONCERT_KAFKA_BROKERS (./dev test sets it). */
#ifndef CONCERT_T_KAFKALIB_H
#define CONCERT_T_KAFKALIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

/* The brokers, after kt_init. */
extern const char *kt_brokers;
/* Reads $CONCERT_KAFKA_BROKERS: 0 when none is set. */
int kt_init(void);

/* One message as kcat printed it. */
struct kt_msg {
    int partition;
    long long offset;
    char *key;
    char *event_id;
    char *content;          /* the value as kcat printed it */
    struct json_object *value;
};


struct kt_topic {
    struct kt_msg *m;
    size_t n, cap;
};


/* The story's outbox rows: id, event_id, topic and userId, in id order. */
struct kt_row {
    int64_t id;
    char event_id[40], topic[32], user[40];
};


/* Every message of a topic, read with kcat from the beginning to the end. */
void kt_read_topic(const char *topic, struct kt_topic *t);

void kt_free_topic(struct kt_topic *t);

/* The messages of a topic carrying eventId (first from index *from). */
const struct kt_msg *kt_find_event(const struct kt_topic *t, const char *event_id, size_t *from);

/* Messages whose eventId came again with another content; dup counts the
 * redeliveries (same content). */
long kt_conflicts_in(const struct kt_topic *t, long *dup);

struct kt_row *kt_story_rows(int64_t after, size_t *n);

/* Per-user order in one topic: for each message of a story row, in
 * partition order, a row seen for the first time comes after every row of
 * that user seen before it (a redelivery may repeat earlier ones), and all
 * of a user's messages share one partition. Returns the violations. */
long kt_order_violations(const struct kt_topic *t, const struct kt_row *rows, size_t nrows);

int64_t kt_unsent_after_wait(long max_ms);

/* The queue stream entries of a concert that Kafka's queue-events lacks or
 * holds with another content. */
long kt_queue_missing(int64_t concert, const struct kt_topic *q, long *entries);

/* The lag of a consumer group on a topic: the messages past its committed
 * offsets (a partition it never committed counts whole). -1 on failure. */
long long kt_group_lag(const char *group, const char *topic);

/* concert-events --kafka in the background, its lines to out (a file), or
 * to a pipe when pipe_fd is given. */
pid_t kt_start_events(const char *group, const char *out, int *pipe_fd, int from_start, const char *idle);

/* A fault under load on the several-hosts stack, told as the events see
 * it (t/a9-t/ad): CLIENTS journeys through lb, `./dev fault test FAULT`
 * 3 s in, `heal` hold_ms later, 4 s more load. Then: the outbox all sent;
 * every row of the story in its topic, no eventId with two contents, each
 * user's events in commit order; a new consumer group (concert-events
 * --kafka) at lag 0 on payment-events within 10 s; what clients saw (none
 * failed, or only the contract's 503 with Retry-After, and a 401 for a
 * session lost with a Redis primary, when errors_allowed); and
 * f_check_state. Prints the figures: publish delay (the slowest row from
 * commit to sent), duplicates sent, the clients' errors. Calls report
 * KT_STORY_CHECKS times. */
struct kt_story {
    const char *fault;     /* ./dev fault NAME */
    const char *what;      /* what it did, for the TAP line */
    long hold_ms;          /* from the fault to the heal */
    int errors_allowed;
};
#define KT_STORY_CHECKS 8

/* The slowest outbox row after id `after`, from commit to sent (s). */
double kt_publish_delay(int64_t after);
/* A new consumer group NAME-PID on payment-events from the start: the
 * seconds until its lag was 0, or -1 after max_s. */
double kt_group_catch_up(const char *name, double max_s);
/* The rows missing from their topics (the first few named). */
long kt_rows_missing(const struct kt_row *rows, size_t nrows, const struct kt_topic *res,
                     const struct kt_topic *pay);

/* For a test program, which includes tap.h and faultlib.h first: the
 * story under its plan (f_check_state's checks included). */
#if defined(CONCERT_TAP_H) && defined(CONCERT_T_FAULTLIB_H)
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void kt_story(const struct kt_story *s, int clients)
{
    struct f_load L;
    struct kt_topic res, pay;
    struct kt_row *rows;
    size_t nrows;
    char host[64] = "", healed[256] = "";
    long begin, bad = 0, clean = 0, dup = 0, dup_before = 0, conflicts, order;
    int64_t start_id, unsent;
    double delay, catch_up;

    if (kt_unsent_after_wait(60000) != 0)
        bail_out("the relays did not catch up with the outbox");
    start_id = t_pg_int("SELECT coalesce(max(id), 0) FROM outbox", 0, NULL);
    /* The redeliveries earlier stories left, so that this one counts its own. */
    kt_read_topic("reservation-events", &res);
    kt_read_topic("payment-events", &pay);
    conflicts = kt_conflicts_in(&res, &dup_before) + kt_conflicts_in(&pay, &dup_before);
    kt_free_topic(&res);
    kt_free_topic(&pay);
    if (f_load_start(&L, s->fault, clients, 1000, 1) < 0)
        bail_out("cannot start the load");
    t_sleep_ms(3000);
    begin = f_load_ms(&L);
    ok(f_ha_fault(s->fault, host, sizeof host) == 0 && *host, "%s: %s", s->what, host);
    t_sleep_ms(s->hold_ms);
    ok(f_ha_fault("heal", healed, sizeof healed) == 0, "healed (%s)", healed);
    t_sleep_ms(4000);
    f_load_stop(&L);

    for (size_t i = 0; i < L.nrecs; i++) {
        const struct f_rec *x = &L.recs[i];
        if (x->t0 < begin || f_succeeded(x))
            continue;
        bad++;
        clean += (x->status == 503 && x->retry_after && x->json_error) || x->status == 401;
    }
    f_diag_tally(&L, "from the fault on", begin, f_load_ms(&L));
    f_diag_errors(&L, begin);
    if (s->errors_allowed)
        ok(bad == clean, "clients saw %ld errors, each a 503 with Retry-After (or 401 for a lost session)", bad);
    else
        ok(bad == 0, "clients saw no error (%ld)", bad);

    unsent = kt_unsent_after_wait(30000);
    ok(unsent == 0, "the relays sent the whole outbox (%" PRId64 " left)", unsent);
    delay = kt_publish_delay(start_id);
    kt_read_topic("reservation-events", &res);
    kt_read_topic("payment-events", &pay);
    rows = kt_story_rows(start_id, &nrows);
    ok(nrows > 20 && kt_rows_missing(rows, nrows, &res, &pay) == 0, "every outbox row of the story (%zu) is in its topic",
       nrows);
    conflicts = kt_conflicts_in(&res, &dup) + kt_conflicts_in(&pay, &dup);
    ok(conflicts == 0, "no eventId with two contents (%ld)", conflicts);
    order = kt_order_violations(&res, rows, nrows) + kt_order_violations(&pay, rows, nrows);
    ok(order == 0, "each user's events in commit order, in one partition (%ld wrong)", order);
    catch_up = kt_group_catch_up(s->fault, 10);
    ok(catch_up >= 0, "a new consumer group reached lag 0 on payment-events in %.1f s", catch_up);
    diag("figures for %s: publish delay %.1f s (slowest row, commit to sent), duplicates sent %ld, "
         "client errors %ld", s->fault, delay, dup - dup_before, bad);
    free(rows);
    kt_free_topic(&res);
    kt_free_topic(&pay);
    t_pg_reset();
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
}

static int kt_story_test(const struct kt_story *s) __attribute__((unused));
static int kt_story_test(const struct kt_story *s)
{
    f_require_ha();
    if (!kt_init())
        bail_out("no Kafka brokers: ./dev test --ha runs three");
    plan(KT_STORY_CHECKS + F_CHECKS);
    kt_story(s, 8);
    return done_testing();
}
#endif

#endif
