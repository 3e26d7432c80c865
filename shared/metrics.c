/* metrics.c - the host's shared counters (see metrics.h). */
#include "metrics.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define METRICS_MAGIC 0x33544d43u   /* "CMT3": a file of another layout is remade */
/* Concerts counted apart on a host until it boots again. Only concerts
 * known to exist are counted (a token found in Redis: see http.h), and
 * past this many they are counted together under concert="other", so the
 * series stay bounded and no concert goes uncounted. */
#define METRICS_CONCERTS 1024

static const char *const group_names[] = {"admin", "queue", "catalog", "reservations", "balance",
                                          "payments", "accounts", "other"};
#define METRICS_GROUPS (sizeof group_names / sizeof group_names[0])

/* The statuses the service answers with; anything else counts as "other". */
static const int statuses[] = {200, 201, 204, 400, 401, 402, 403, 404, 405, 409, 410, 413, 422, 429, 500, 503};
#define METRICS_STATUSES (sizeof statuses / sizeof statuses[0] + 1)

/* Upper bounds of the latency buckets, in seconds (and microseconds). */
static const char *const bucket_text[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                          "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"};
static const double bucket_ms[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define METRICS_BUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])

struct metrics_concert {
    int64_t concert_id;                        /* 0: a free slot */
    uint64_t holds[METRICS_STATUSES];
    uint64_t payments[METRICS_STATUSES];
};

struct metrics_file {
    uint32_t magic, size;
    uint64_t requests[METRICS_GROUPS][METRICS_STATUSES];
    uint64_t buckets[METRICS_GROUPS][METRICS_BUCKETS];
    uint64_t count[METRICS_GROUPS];
    uint64_t sum_us[METRICS_GROUPS];
    uint64_t store_errors[METRICS_STORES];
    uint64_t concerts_untracked;               /* outcomes counted under "other" */
    struct metrics_concert concerts[METRICS_CONCERTS];
    struct metrics_concert other;              /* concerts past the table's room */
};

static struct metrics_file *m;

static void add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_open(const char *path)
{
    struct stat st;
    void *map;
    int fd;

    if (m || !path)
        return;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("metrics: cannot open %s: %s; counting nothing", path, strerror(errno));
        return;
    }
    /* A new file, or one of another layout, starts from zero. Several
     * processes starting at once may both do it; zero is zero. */
    if (fstat(fd, &st) < 0 || (st.st_size != (off_t)sizeof *m && (ftruncate(fd, 0) < 0 ||
                                                                   ftruncate(fd, sizeof *m) < 0))) {
        log_error("metrics: cannot size %s: %s; counting nothing", path, strerror(errno));
        close(fd);
        return;
    }
    map = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        log_error("metrics: cannot map %s: %s; counting nothing", path, strerror(errno));
        return;
    }
    m = map;
    if (__atomic_load_n(&m->magic, __ATOMIC_ACQUIRE) != METRICS_MAGIC) {
        uint32_t none = 0;
        if (__atomic_compare_exchange_n(&m->magic, &none, METRICS_MAGIC, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            m->size = (uint32_t)sizeof *m;
    }
}

static size_t group_index(const char *group)
{
    for (size_t i = 0; i + 1 < METRICS_GROUPS; i++)
        if (strcmp(group, group_names[i]) == 0)
            return i;
    return METRICS_GROUPS - 1;
}

static size_t status_index(int status)
{
    for (size_t i = 0; i + 1 < METRICS_STATUSES; i++)
        if (statuses[i] == status)
            return i;
    return METRICS_STATUSES - 1;
}

void metrics_request(const char *group, int status, double ms)
{
    size_t g;

    if (!m)
        return;
    g = group_index(group);
    add(&m->requests[g][status_index(status)], 1);
    for (size_t b = 0; b < METRICS_BUCKETS; b++)
        if (ms <= bucket_ms[b])
            add(&m->buckets[g][b], 1);
    add(&m->count[g], 1);
    add(&m->sum_us[g], ms > 0 ? (uint64_t)(ms * 1000.0 + 0.5) : 0);
}

void metrics_store_error(enum metrics_store store)
{
    if (m)
        add(&m->store_errors[store < METRICS_STORES ? store : METRICS_POSTGRES], 1);
}

/* The slot of a concert, claimed on first use (open addressing). */
static struct metrics_concert *concert_slot(int64_t concert_id)
{
    size_t start = (size_t)((uint64_t)concert_id * 2654435761u % METRICS_CONCERTS);

    for (size_t k = 0; k < METRICS_CONCERTS; k++) {
        struct metrics_concert *c = &m->concerts[(start + k) % METRICS_CONCERTS];
        int64_t seen = __atomic_load_n(&c->concert_id, __ATOMIC_ACQUIRE);

        if (seen == concert_id)
            return c;
        if (seen == 0) {
            int64_t none = 0;
            if (__atomic_compare_exchange_n(&c->concert_id, &none, concert_id, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE) || none == concert_id)
                return c;
        }
    }
    return NULL;
}

void metrics_outcome(enum metrics_kind kind, int64_t concert_id, int status)
{
    struct metrics_concert *c;

    if (!m || kind == METRICS_NONE || concert_id <= 0)
        return;
    c = concert_slot(concert_id);
    if (!c) {
        add(&m->concerts_untracked, 1);
        c = &m->other;
    }
    add(kind == METRICS_HOLD ? &c->holds[status_index(status)] : &c->payments[status_index(status)], 1);
}

static void status_label(size_t s, char out[8])
{
    if (s + 1 < METRICS_STATUSES)
        snprintf(out, 8, "%d", statuses[s]);
    else
        snprintf(out, 8, "other");
}

/* One concert's series of one counter; concert is its label's value. */
static void write_concert(FILE *out, const char *name, const struct metrics_concert *c, const char *concert,
                          int holds)
{
    for (size_t s = 0; s < METRICS_STATUSES; s++) {
        uint64_t n = get(holds ? &c->holds[s] : &c->payments[s]);
        char label[8];
        if (!n)
            continue;
        status_label(s, label);
        fprintf(out, "%s{concert=\"%s\",status=\"%s\"} %" PRIu64 "\n", name, concert, label, n);
    }
}

static void write_outcomes(FILE *out, const char *name, const char *help, int holds)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < METRICS_CONCERTS; i++) {
        const struct metrics_concert *c = &m->concerts[i];
        int64_t id = __atomic_load_n(&c->concert_id, __ATOMIC_ACQUIRE);
        char concert[24];

        if (id <= 0)
            continue;
        snprintf(concert, sizeof concert, "%" PRId64, id);
        write_concert(out, name, c, concert, holds);
    }
    write_concert(out, name, &m->other, "other", holds);
}

int metrics_write(FILE *out)
{
    if (!m)
        return -1;
    fprintf(out, "# HELP concert_http_requests_total Requests answered on this host, by responder group and status.\n"
                 "# TYPE concert_http_requests_total counter\n");
    for (size_t g = 0; g < METRICS_GROUPS; g++)
        for (size_t s = 0; s < METRICS_STATUSES; s++) {
            uint64_t n = get(&m->requests[g][s]);
            char label[8];
            if (!n)
                continue;
            status_label(s, label);
            fprintf(out, "concert_http_requests_total{group=\"%s\",status=\"%s\"} %" PRIu64 "\n", group_names[g],
                    label, n);
        }
    fprintf(out, "# HELP concert_http_request_duration_seconds Time a request spent in its responder on this host.\n"
                 "# TYPE concert_http_request_duration_seconds histogram\n");
    for (size_t g = 0; g < METRICS_GROUPS; g++) {
        uint64_t count = get(&m->count[g]);
        if (!count)
            continue;
        for (size_t b = 0; b < METRICS_BUCKETS; b++)
            fprintf(out, "concert_http_request_duration_seconds_bucket{group=\"%s\",le=\"%s\"} %" PRIu64 "\n",
                    group_names[g], bucket_text[b], get(&m->buckets[g][b]));
        fprintf(out, "concert_http_request_duration_seconds_bucket{group=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                group_names[g], count);
        fprintf(out, "concert_http_request_duration_seconds_sum{group=\"%s\"} %.6f\n", group_names[g],
                (double)get(&m->sum_us[g]) / 1e6);
        fprintf(out, "concert_http_request_duration_seconds_count{group=\"%s\"} %" PRIu64 "\n", group_names[g],
                count);
    }
    fprintf(out, "# HELP concert_store_errors_total Failed PostgreSQL and Redis calls on this host, and events "
                 "its relay could not get Kafka to store (publish errors).\n"
                 "# TYPE concert_store_errors_total counter\n"
                 "concert_store_errors_total{store=\"postgres\"} %" PRIu64 "\n"
                 "concert_store_errors_total{store=\"redis\"} %" PRIu64 "\n"
                 "concert_store_errors_total{store=\"kafka\"} %" PRIu64 "\n",
            get(&m->store_errors[METRICS_POSTGRES]), get(&m->store_errors[METRICS_REDIS]),
            get(&m->store_errors[METRICS_KAFKA]));
    write_outcomes(out, "concert_holds_total", "Hold requests on this host, by concert and answer status.", 1);
    write_outcomes(out, "concert_payments_total", "Payment requests on this host, by concert and answer status.", 0);
    fprintf(out, "# HELP concert_outcomes_untracked_total Holds and payments counted under concert=\"other\""
                 " (the table of concerts was full).\n"
                 "# TYPE concert_outcomes_untracked_total counter\n"
                 "concert_outcomes_untracked_total %" PRIu64 "\n", get(&m->concerts_untracked));
    return 0;
}
