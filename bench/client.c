/* client.c - concert-bench, the benchmark's own HTTP client, for what wrk
 * cannot do well: seeding data through the API, multi-step user journeys and
 * the ticket drop, and writing the report.
 *
 *   concert-bench users   DATADIR TTL_S DROP_USERS TOKEN_USERS
 *   concert-bench setup   BASE KEYFILE DATADIR
 *   concert-bench journey BASE DATADIR CONNS WARMUP_S SECONDS OUTFILE
 *   concert-bench drop    BASE KEYFILE DATADIR USERS CONNS TIMEOUT_S OUTFILE [NAME]
 *   concert-bench users-split   DATADIR TTL_S COUNT NAME SLOTMAP
 *   concert-bench drop-concerts BASE KEYFILE DATADIR NAME COUNT SLOTMAP
 *   concert-bench report  DATADIR OUTFILE
 *
 * One process, one thread: libcurl's multi interface drives CONNS keep-alive
 * connections at once, each a small state machine, so the client spends
 * little of the two cores the server needs. Only talks to BASE (loopback). */
#include <curl/curl.h>
#include <json-c/json.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "keyspace.h"
#include "slotmap.h"
#include "users.h"

/* --- small helpers ----------------------------------------------------------- */

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("concert-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);

    if (!p)
        die("out of memory");
    return p;
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: plenty for picking seats. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void new_uuid(char out[37])
{
    unsigned char b[16];

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        die("getrandom: %s", strerror(errno));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static FILE *open_data(const char *dir, const char *name, const char *mode)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, mode);
    if (!f && mode[0] != 'r')
        die("%s: %s", path, strerror(errno));
    return f;
}

/* Reads one value a line; returns the count. */
static int read_lines(const char *dir, const char *name, char ***out)
{
    FILE *f = open_data(dir, name, "r");
    char line[512];
    int n = 0, cap = 64;
    char **v;

    if (!f)
        die("%s/%s: %s (run setup first)", dir, name, strerror(errno));
    v = xmalloc(sizeof *v * (size_t)cap);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (n == cap) {
            cap *= 2;
            v = realloc(v, sizeof *v * (size_t)cap);
            if (!v)
                die("out of memory");
        }
        v[n] = strdup(line);
        if (!v[n])
            die("out of memory");
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

/* --- latency samples ------------------------------------------------------------- */

struct samples {
    int32_t *us;
    size_t n, cap;
};

static void sample_add(struct samples *s, int64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->us = realloc(s->us, sizeof *s->us * s->cap);
        if (!s->us)
            die("out of memory");
    }
    s->us[s->n++] = us > INT32_MAX ? INT32_MAX : (int32_t)us;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Percentile in ms (samples sorted first). */
static double pct_ms(struct samples *s, double p)
{
    size_t i;

    if (!s->n)
        return 0;
    i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->us[i] / 1000.0;
}

/* --- the HTTP engine --------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    struct buf resp;
    char post[1024];
    int64_t t0;
    int busy;
    int kind;       /* what the request was, for the mode */
    long who;       /* whose request (a user index), for the mode */
};

struct engine;
typedef void (*done_fn)(struct engine *e, struct slot *s, long status, int64_t us);
typedef int (*fill_fn)(struct engine *e, struct slot *s);

struct engine {
    CURLM *multi;
    struct slot *slots;
    int n;
    int inflight;
    const char *base;
    done_fn done;
    fill_fn fill;
    int stop;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t n = size * nmemb;

    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static void slot_init(struct slot *s)
{
    s->easy = curl_easy_init();
    if (!s->easy)
        die("curl_easy_init failed");
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http");
}

/* Prepares a request on s: GET when json is NULL, else POST with that body. */
static void slot_prepare(struct slot *s, const char *base, const char *path, const char *token,
                         const char *json)
{
    char url[1024], auth[512];

    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_slist_free_all(s->hdrs);
    s->hdrs = curl_slist_append(NULL, "Expect:");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        s->hdrs = curl_slist_append(s->hdrs, auth);
    }
    if (json) {
        s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
        snprintf(s->post, sizeof s->post, "%s", json);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->post);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->post));
    } else {
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    s->resp.len = 0;
    if (s->resp.p)
        s->resp.p[0] = '\0';
}

static void engine_start(struct engine *e, struct slot *s, int kind, long who, const char *path,
                         const char *token, const char *json)
{
    slot_prepare(s, e->base, path, token, json);
    s->kind = kind;
    s->who = who;
    s->busy = 1;
    s->t0 = now_us();
    e->inflight++;
    curl_multi_add_handle(e->multi, s->easy);
}

static void engine_init(struct engine *e, const char *base, int n, done_fn done, fill_fn fill)
{
    memset(e, 0, sizeof *e);
    e->multi = curl_multi_init();
    if (!e->multi)
        die("curl_multi_init failed");
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)n + 8);
    curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
    e->slots = xmalloc(sizeof *e->slots * (size_t)n);
    e->n = n;
    e->base = base;
    e->done = done;
    e->fill = fill;
    for (int i = 0; i < n; i++)
        slot_init(&e->slots[i]);
}

/* Runs until e->stop is set and nothing is in flight (or deadline passes). */
static void engine_run(struct engine *e, int64_t deadline)
{
    int running;

    for (;;) {
        CURLMsg *msg;
        int left;

        if (!e->stop) {
            for (int i = 0; i < e->n; i++)
                if (!e->slots[i].busy)
                    e->fill(e, &e->slots[i]);
        }
        if (e->stop && e->inflight == 0)
            break;
        if (deadline && now_us() > deadline) {
            for (int i = 0; i < e->n; i++)
                if (e->slots[i].busy) {
                    curl_multi_remove_handle(e->multi, e->slots[i].easy);
                    e->slots[i].busy = 0;
                }
            e->inflight = 0;
            break;
        }
        curl_multi_perform(e->multi, &running);
        while ((msg = curl_multi_info_read(e->multi, &left))) {
            struct slot *s;
            long status = 0;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(e->multi, s->easy);
            s->busy = 0;
            e->inflight--;
            e->done(e, s, status, now_us() - s->t0);
            if (!s->busy && !e->stop)
                e->fill(e, s);
        }
        if (e->inflight)
            curl_multi_poll(e->multi, NULL, 0, 5, NULL);
        else if (!e->stop)
            usleep(2000);
    }
}

/* A blocking request on its own handle (setup and checks). Returns the
 * status (0 when no answer); the body stays in s->resp. */
static long sync_request(struct slot *s, const char *base, const char *path, const char *token,
                         const char *json)
{
    long status = 0;

    slot_prepare(s, base, path, token, json);
    if (curl_easy_perform(s->easy) == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* --- JSON helpers ---------------------------------------------------------------- */

static struct json_object *parse(const struct buf *b)
{
    return b->len ? json_tokener_parse(b->p) : NULL;
}

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;

    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
        ? json_object_get_string(v) : NULL;
}

static int64_t jint(struct json_object *o, const char *key, int64_t dflt)
{
    struct json_object *v;

    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
        ? json_object_get_int64(v) : dflt;
}

static double jnum(struct json_object *o, const char *key, double dflt)
{
    struct json_object *v;

    return o && json_object_object_get_ex(o, key, &v) &&
        (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
        ? json_object_get_double(v) : dflt;
}

static const char *error_code(const struct buf *b)
{
    static char code[64];
    struct json_object *o = parse(b), *err;
    const char *c = NULL;

    code[0] = '\0';
    if (o && json_object_object_get_ex(o, "error", &err))
        c = jstr(err, "code");
    if (c)
        snprintf(code, sizeof code, "%s", c);
    json_object_put(o);
    return code;
}

/* Available seat numbers of a seat map body into out (at most max). */
static int available_seats(const struct buf *b, int *out, int max, int *sold)
{
    struct json_object *o = parse(b), *seats;
    int n = 0;

    if (sold)
        *sold = 0;
    if (!o || !json_object_object_get_ex(o, "seats", &seats) ||
        !json_object_is_type(seats, json_type_array)) {
        json_object_put(o);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(seats); i++) {
        struct json_object *seat = json_object_array_get_idx(seats, i);
        const char *st = jstr(seat, "status");
        if (st && strcmp(st, "AVAILABLE") == 0 && n < max)
            out[n++] = (int)jint(seat, "seatNo", 0);
        else if (st && sold && strcmp(st, "SOLD") == 0)
            (*sold)++;
    }
    json_object_put(o);
    return n;
}

/* --- setup: concerts through the admin API, live tokens through the queue --------- */

struct concert {
    int64_t id;
    int64_t *sched;
    int nsched;
};

static struct concert create_concert(struct slot *s, const char *base, const char *key,
                                     const char *title, int active_limit, int active_seconds,
                                     int nsched, int seats, int price)
{
    struct json_object *body = json_object_new_object(), *arr = json_object_new_array(), *o, *ids;
    struct concert c;
    char when[32];
    long status;

    json_object_object_add(body, "title", json_object_new_string(title));
    json_object_object_add(body, "venue", json_object_new_string("Bench Hall"));
    json_object_object_add(body, "activeLimit", json_object_new_int(active_limit));
    json_object_object_add(body, "activeSeconds", json_object_new_int(active_seconds));
    json_object_object_add(body, "waitingIdleSeconds", json_object_new_int(1800));
    json_object_object_add(body, "holdSeconds", json_object_new_int(600));
    for (int i = 0; i < nsched; i++) {
        struct json_object *sc = json_object_new_object();
        snprintf(when, sizeof when, "2099-%02d-%02dT%02d:00:00Z", 1 + i / 600, 1 + (i / 24) % 25, i % 24);
        json_object_object_add(sc, "startsAt", json_object_new_string(when));
        json_object_object_add(sc, "seatCount", json_object_new_int(seats));
        json_object_object_add(sc, "price", json_object_new_int(price));
        json_object_array_add(arr, sc);
    }
    json_object_object_add(body, "schedules", arr);
    {
        const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        /* The body can exceed the slot's post buffer: send it directly. */
        char url[1024], auth[512];
        struct curl_slist *h = NULL;

        snprintf(url, sizeof url, "%s/api/v1/admin/concerts", base);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(s->easy, CURLOPT_URL, url);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
        s->resp.len = 0;
        status = 0;
        if (curl_easy_perform(s->easy) == CURLE_OK)
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
    }
    json_object_put(body);
    if (status != 201)
        die("creating concert '%s': HTTP %ld %s", title, status, s->resp.len ? s->resp.p : "");
    o = parse(&s->resp);
    c.id = jint(o, "concertId", 0);
    if (!o || !json_object_object_get_ex(o, "scheduleIds", &ids) || c.id <= 0)
        die("creating concert '%s': unexpected answer %s", title, s->resp.p);
    c.nsched = (int)json_object_array_length(ids);
    c.sched = xmalloc(sizeof *c.sched * (size_t)c.nsched);
    for (int i = 0; i < c.nsched; i++)
        c.sched[i] = json_object_get_int64(json_object_array_get_idx(ids, (size_t)i));
    json_object_put(o);
    return c;
}

/* --- users: made in the stores beforehand (users.h) ----------------------------- */

static struct bench_pool setup_pool, journey_pool, drop_pool;

static const struct bench_user *pool_user(struct bench_pool *pool)
{
    const struct bench_user *u = users_next(pool);

    if (!u)
        die("the %d users of %s ran out: make more with concert-bench users", pool->count, pool->name);
    return u;
}

static void pool_load(const char *dir, const char *name, struct bench_pool *pool)
{
    if (users_load(dir, name, pool) < 0 || pool->count == 0)
        die("%s/%s: no users (concert-bench users makes them)", dir, name);
}

#define JOURNEY_USERS 40000
/* What the setup makes (cmd_setup), and so how many users it takes. */
#define STATUS_TOKENS 10000
#define SEAT_MAP_TOKENS 200
#define RESERVE_CONCERTS 4
#define RESERVE_TOKENS 250
#define LOGIN_ACCOUNTS 16
static int setup_users(void);

static int cmd_users(const char *dir, long ttl, int drop_users, int token_users)
{
    char path[4096];
    FILE *resp;
    int rc;

    snprintf(path, sizeof path, "%s/sessions.resp", dir);
    resp = fopen(path, "w");
    if (!resp)
        die("%s: %s", path, strerror(errno));
    rc = users_make(dir, "users_setup.txt", setup_users(), ttl, resp) |
         users_make(dir, "users_journey.txt", JOURNEY_USERS, ttl, resp) |
         users_make(dir, "users_drop.txt", drop_users, ttl, resp) |
         users_make(dir, "users_token.txt", token_users, ttl, resp);
    if (fclose(resp) != 0 || rc != 0)
        die("could not make the users in %s", dir);
    printf("users: %d made, their sessions in %s\n", setup_users() + JOURNEY_USERS + drop_users + token_users, path);
    return 0;
}

/* Issuing many tokens for one concert. */
static struct {
    int64_t concert;
    int want, issued, done, failed, active;
    char **tokens;
} iss;

static int issue_fill(struct engine *e, struct slot *s)
{
    const struct bench_user *user;
    char json[128];

    if (iss.issued >= iss.want)
        return 0;
    user = pool_user(&setup_pool);
    snprintf(json, sizeof json, "{\"concertId\":%" PRId64 "}", iss.concert);
    engine_start(e, s, 0, iss.issued++, "/api/v1/queue/tokens", user->session, json);
    return 1;
}

static void issue_done(struct engine *e, struct slot *s, long status, int64_t us)
{
    struct json_object *o;
    const char *tok, *st;

    (void)us;
    o = status == 201 ? parse(&s->resp) : NULL;
    tok = jstr(o, "token");
    st = jstr(o, "status");
    if (tok) {
        iss.tokens[s->who] = strdup(tok);
        if (st && strcmp(st, "ACTIVE") == 0)
            iss.active++;
    } else if (iss.failed++ < 3) {
        fprintf(stderr, "concert-bench: token issue: HTTP %ld %.200s\n", status, s->resp.p ? s->resp.p : "");
    }
    json_object_put(o);
    if (++iss.done >= iss.want)
        e->stop = 1;
}

/* Issues count tokens for concert, writes them to name; returns how many
 * came back ACTIVE. */
static int issue_tokens(const char *base, const char *dir, const char *name, int64_t concert, int count)
{
    struct engine e;
    FILE *f;
    int written = 0;

    memset(&iss, 0, sizeof iss);
    iss.concert = concert;
    iss.want = count;
    iss.tokens = xmalloc(sizeof *iss.tokens * (size_t)count);
    engine_init(&e, base, 32, issue_done, issue_fill);
    engine_run(&e, now_us() + 120 * 1000000LL);
    f = open_data(dir, name, "w");
    for (int i = 0; i < count; i++)
        if (iss.tokens[i]) {
            fprintf(f, "%s\n", iss.tokens[i]);
            written++;
        }
    fclose(f);
    if (written < count)
        die("%s: only %d of %d tokens issued", name, written, count);
    return iss.active;
}

static void write_ids(const char *dir, const char *name, const int64_t *ids, int n)
{
    FILE *f = open_data(dir, name, "w");

    for (int i = 0; i < n; i++)
        fprintf(f, "%" PRId64 "\n", ids[i]);
    fclose(f);
}

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);

    return v && *v ? atoi(v) : dflt;
}

/* The setup's users, each taking one token or login: the queue_status
 * tokens, the seat map's, each reserve concert's and the login accounts. */
static int setup_users(void)
{
    return env_int("BENCH_STATUS_TOKENS", STATUS_TOKENS) + SEAT_MAP_TOKENS +
           RESERVE_TOKENS * env_int("BENCH_RESERVE_CONCERTS", RESERVE_CONCERTS) + LOGIN_ACCOUNTS;
}

/* login: accounts signed up through the API (each one Argon2id hash), whose
 * login bodies bench/login.lua sends again and again. */
static void make_login_accounts(struct slot *s, const char *base, const char *dir, int count)
{
    FILE *f = open_data(dir, "logins.txt", "w");

    for (int i = 0; i < count; i++) {
        char id[37], body[200];
        long status;

        new_uuid(id);
        snprintf(body, sizeof body, "{\"email\":\"bench-%s@example.com\",\"password\":\"bench password %d\"}", id, i);
        status = sync_request(s, base, "/api/v1/users", NULL, body);
        if (status != 201)
            die("login accounts: sign-up answered %ld %.200s", status, s->resp.p ? s->resp.p : "");
        fprintf(f, "%s\n", body);
    }
    fclose(f);
}

static void read_admin_key(const char *keyfile, char *key, size_t size)
{
    FILE *kf = fopen(keyfile, "r");

    if (!kf || !fgets(key, (int)size, kf))
        die("cannot read the admin key from %s", keyfile);
    fclose(kf);
    key[strcspn(key, "\r\n")] = '\0';
}

/* The drop's concert, as the issue's ticket drop has it: 10 shows x 50
 * seats, activeLimit 500. */
static struct concert make_drop_concert(struct slot *s, const char *base, const char *key)
{
    return create_concert(s, base, key, "bench drop", 500, 600, 10, 50, 50000);
}

static int cmd_setup(const char *base, const char *keyfile, const char *dir)
{
    char key[300] = "";
    struct slot s = {0};
    struct concert c;
    int active;
    int64_t t0 = now_us();
    int status_tokens = env_int("BENCH_STATUS_TOKENS", STATUS_TOKENS);
    int reserve_concerts = env_int("BENCH_RESERVE_CONCERTS", RESERVE_CONCERTS);
    FILE *plan;

    read_admin_key(keyfile, key, sizeof key);
    slot_init(&s);
    pool_load(dir, "users_setup.txt", &setup_pool);
    make_login_accounts(&s, base, dir, LOGIN_ACCOUNTS);

    /* queue_status: many live tokens of one concert; the default active
     * limit (100) leaves most of them WAITING, as in a real drop. */
    c = create_concert(&s, base, key, "bench queue_status", 100, 3600, 1, 50, 50000);
    active = issue_tokens(base, dir, "status_tokens.txt", c.id, status_tokens);
    printf("setup: queue_status concert %" PRId64 ", %d tokens (%d active)\n", c.id, status_tokens, active);

    /* token_issue: a concert of its own, every request a new user. */
    c = create_concert(&s, base, key, "bench token_issue", 100, 3600, 1, 50, 50000);
    write_ids(dir, "token_concert.txt", &c.id, 1);

    /* seat_map: 100 shows of 50 seats, 200 ACTIVE users. */
    c = create_concert(&s, base, key, "bench seat_map", 1000, 3600, 100, 50, 50000);
    write_ids(dir, "seat_schedules.txt", c.sched, c.nsched);
    active = issue_tokens(base, dir, "seat_tokens.txt", c.id, SEAT_MAP_TOKENS);
    if (active < SEAT_MAP_TOKENS)
        die("seat_map: only %d of %d tokens are ACTIVE", active, SEAT_MAP_TOKENS);

    /* reserve: concerts of 100 shows x 500 seats, 250 ACTIVE users each:
     * with seat k held by user k % 250, nobody holds more than 2 seats a show. */
    plan = open_data(dir, "reserve_plan.txt", "w");
    fprintf(plan, "seats - 500\n");
    for (int i = 0; i < reserve_concerts; i++) {
        char title[64], name[64], **toks;
        int n;

        snprintf(title, sizeof title, "bench reserve %d", i + 1);
        c = create_concert(&s, base, key, title, 1000, 3600, 100, 500, 1000);
        snprintf(name, sizeof name, "reserve_tokens_%d.txt", i + 1);
        active = issue_tokens(base, dir, name, c.id, RESERVE_TOKENS);
        if (active < RESERVE_TOKENS)
            die("reserve: only %d of %d tokens are ACTIVE", active, RESERVE_TOKENS);
        n = read_lines(dir, name, &toks);
        for (int k = 0; k < n; k++)
            fprintf(plan, "token %" PRId64 " %s\n", c.id, toks[k]);
        for (int k = 0; k < c.nsched; k++)
            fprintf(plan, "schedule %" PRId64 " %" PRId64 "\n", c.id, c.sched[k]);
    }
    fclose(plan);

    /* journey: every user admitted at once, 100 shows x 150 seats (enough
     * for the five runs of BENCH_OUTBOX_COMPARE=1 without running short). */
    c = create_concert(&s, base, key, "bench journey", 1000000, 3600, 100, 150, 1000);
    write_ids(dir, "journey_concert.txt", &c.id, 1);
    write_ids(dir, "journey_schedules.txt", c.sched, c.nsched);

    /* drop: the issue's ticket drop. */
    c = make_drop_concert(&s, base, key);
    write_ids(dir, "drop_concert.txt", &c.id, 1);
    write_ids(dir, "drop_schedules.txt", c.sched, c.nsched);

    printf("setup: done in %.1f s\n", (now_us() - t0) / 1e6);
    return 0;
}

/* --- journey: token, seats, hold, charge, pay; one user at a time per connection --- */

enum { J_TOKEN, J_POLL, J_SEATS, J_HOLD, J_CHARGE, J_PAY };

struct juser {
    char uuid[37];
    char session[65];
    char token[96];
    int64_t sched;
    int64_t reservation;
    int64_t amount;
    int seat;
    int tries;
    int state;
};

static struct {
    int64_t concert;
    int64_t *sched;
    int nsched;
    struct juser *u;
    int64_t t_measure, t_end;
    struct samples lat;
    long requests, errors, conflicts, journeys, exhausted;
    char first_error[256];
} jy;

static void journey_error(struct slot *s, long status)
{
    if (!jy.first_error[0])
        snprintf(jy.first_error, sizeof jy.first_error, "step %d: HTTP %ld %.180s", s->kind, status,
                 s->resp.p ? s->resp.p : "");
}

static int journey_fill(struct engine *e, struct slot *s)
{
    struct juser *u = &jy.u[s - e->slots];
    char path[160], json[200];

    if (now_us() >= jy.t_end) {
        e->stop = 1;
        return 0;
    }
    switch (u->state) {
    case J_TOKEN: {
        const struct bench_user *user = pool_user(&journey_pool);
        memcpy(u->uuid, user->id, sizeof u->uuid);
        memcpy(u->session, user->session, sizeof u->session);
        u->tries = 0;
        snprintf(json, sizeof json, "{\"concertId\":%" PRId64 "}", jy.concert);
        engine_start(e, s, J_TOKEN, 0, "/api/v1/queue/tokens", u->session, json);
        break;
    }
    case J_POLL:
        engine_start(e, s, J_POLL, 0, "/api/v1/queue/status", u->token, NULL);
        break;
    case J_SEATS:
        u->sched = jy.sched[rnd() % (uint64_t)jy.nsched];
        snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", u->sched);
        engine_start(e, s, J_SEATS, 0, path, u->token, NULL);
        break;
    case J_HOLD:
        snprintf(json, sizeof json, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[%d]}", u->sched, u->seat);
        engine_start(e, s, J_HOLD, 0, "/api/v1/reservations", u->token, json);
        break;
    case J_CHARGE:
        snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", u->uuid);
        snprintf(json, sizeof json, "{\"amount\":%" PRId64 "}", u->amount);
        engine_start(e, s, J_CHARGE, 0, path, u->session, json);
        break;
    case J_PAY:
        snprintf(json, sizeof json, "{\"reservationId\":%" PRId64 "}", u->reservation);
        engine_start(e, s, J_PAY, 0, "/api/v1/payments", u->token, json);
        break;
    }
    return 1;
}

static void journey_done(struct engine *e, struct slot *s, long status, int64_t us)
{
    struct juser *u = &jy.u[s - e->slots];
    int64_t now = now_us();
    int measured = s->t0 >= jy.t_measure && now <= jy.t_end;
    struct json_object *o = NULL;
    int ok = 0;

    if (measured) {
        jy.requests++;
        sample_add(&jy.lat, us);
    }
    switch (s->kind) {
    case J_TOKEN:
    case J_POLL:
        if (status == 200 || status == 201) {
            const char *tok, *st;
            o = parse(&s->resp);
            tok = jstr(o, "token");
            st = jstr(o, "status");
            if (tok && st) {
                snprintf(u->token, sizeof u->token, "%s", tok);
                u->state = strcmp(st, "ACTIVE") == 0 ? J_SEATS : J_POLL;
                ok = 1;
            }
        }
        break;
    case J_SEATS:
        if (status == 200) {
            int avail[1000];
            int n = available_seats(&s->resp, avail, 1000, NULL);
            if (n > 0) {
                u->seat = avail[rnd() % (uint64_t)n];
                u->state = J_HOLD;
                ok = 1;
            } else if (n == 0) {
                ok = 1;   /* that show is sold out: look at another */
                if (++u->tries > 50) {
                    jy.exhausted++;
                    u->state = J_TOKEN;
                }
            }
        }
        break;
    case J_HOLD:
        if (status == 201) {
            o = parse(&s->resp);
            u->reservation = jint(o, "reservationId", 0);
            u->amount = jint(o, "amount", 0);
            if (u->reservation > 0) {
                u->state = u->amount > 0 ? J_CHARGE : J_PAY;
                ok = 1;
            }
        } else if (status == 409 && strcmp(error_code(&s->resp), "SEAT_UNAVAILABLE") == 0) {
            /* Another user took it first: a normal race, look again. */
            ok = 1;
            if (measured)
                jy.conflicts++;
            u->state = J_SEATS;
        }
        break;
    case J_CHARGE:
        if (status == 200) {
            u->state = J_PAY;
            ok = 1;
        }
        break;
    case J_PAY:
        if (status == 201) {
            if (measured)
                jy.journeys++;
            u->state = J_TOKEN;
            ok = 1;
        }
        break;
    }
    json_object_put(o);
    if (!ok) {
        if (measured)
            jy.errors++;
        journey_error(s, status);
        u->state = J_TOKEN;   /* start over as a new user */
    }
}

static int cmd_journey(const char *base, const char *dir, int conns, int warmup, int seconds,
                       const char *outfile)
{
    struct engine e;
    char **lines;
    int n;
    FILE *f;
    double secs;

    pool_load(dir, "users_journey.txt", &journey_pool);
    n = read_lines(dir, "journey_concert.txt", &lines);
    if (n < 1)
        die("journey_concert.txt is empty");
    jy.concert = strtoll(lines[0], NULL, 10);
    n = read_lines(dir, "journey_schedules.txt", &lines);
    jy.nsched = n;
    jy.sched = xmalloc(sizeof *jy.sched * (size_t)n);
    for (int i = 0; i < n; i++)
        jy.sched[i] = strtoll(lines[i], NULL, 10);
    jy.u = xmalloc(sizeof *jy.u * (size_t)conns);
    engine_init(&e, base, conns, journey_done, journey_fill);
    jy.t_measure = now_us() + (int64_t)warmup * 1000000;
    jy.t_end = jy.t_measure + (int64_t)seconds * 1000000;
    engine_run(&e, jy.t_end + 20 * 1000000LL);
    qsort(jy.lat.us, jy.lat.n, sizeof *jy.lat.us, cmp_i32);
    secs = seconds;
    f = fopen(outfile, "w");
    if (!f)
        die("%s: %s", outfile, strerror(errno));
    fprintf(f,
            "{\"requests\":%ld,\"seconds\":%.3f,\"rps\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
            "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%ld,\"journeys\":%ld,\"journeys_per_s\":%.1f,"
            "\"seat_conflicts\":%ld,\"connections\":%d}\n",
            jy.requests, secs, jy.requests / secs, pct_ms(&jy.lat, 50), pct_ms(&jy.lat, 90),
            pct_ms(&jy.lat, 99), pct_ms(&jy.lat, 100), jy.errors, jy.journeys, jy.journeys / secs,
            jy.conflicts, conns);
    fclose(f);
    if (jy.first_error[0])
        fprintf(stderr, "journey: first failure: %s\n", jy.first_error);
    return 0;
}

/* --- drop: 200,000 users, a pre-queue, one concert, race until sold out ----------- *
 *
 * The crowd starts arriving a few seconds before the sale opens (opensAt):
 * the first arrivals wait in the pre-queue and are shuffled at the opening,
 * the rest queue behind them. Every waiting user polls when the server says
 * (pollAfterSeconds). The run goes on until the seats are sold, everyone has
 * arrived and then BENCH_DROP_SETTLE seconds more, so the polling of the
 * whole crowd waiting at once is measured too. */

enum { D_NEW, D_WAITING, D_ACTIVE, D_SEATS, D_HOLD, D_CHARGE, D_PAY, D_BOUGHT, D_GONE, D_FAILED };
enum { K_ISSUE, K_POLL, K_LIST, K_SEATS, K_HOLD, K_CHARGE, K_PAY };


struct duser {
    char uuid[37];
    char session[65];
    char token[96];
    int state;
    int waited;          /* was WAITING at some point */
    int want;            /* seats wanted: 1 or 2 */
    int nseats;
    int seats[4];
    int64_t sched;
    int64_t reservation;
    int64_t amount;
    int concert;         /* which of the drop's concerts (an index) */
    int64_t next_poll;   /* when the server said to poll again (pollAfterSeconds) */
    int32_t estimate;    /* the last estimatedWaitSeconds with a place, -1 before one */
    int tries;
};

static struct {
    int64_t *concerts;                   /* the drop's concerts: the crowd split over them */
    int nconcerts;
    int *sold_in;                        /* seats sold by payments, per concert */
    int64_t *sched;
    int *sched_concert;                  /* each show's concert (an index) */
    int nsched;
    int total_seats;
    int users;
    struct duser *u;
    int *ready, rhead, rtail, rcount;    /* users with a step to take now */
    int next_arrival;                    /* the next user to arrive */
    int arrival_conns;                   /* connections that carry arrivals first */
    int *wait, wcount;                   /* waiting users: a heap, soonest next poll first */
    long *polls_in_second;               /* polls sent in each second of the run */
    long *issues_in_second;              /* tokens issued (answered) in each second */
    int seconds;
    double poll_after_sum;
    long poll_afters;
    int64_t t0, t_open, settle_us;
    int waiting, waiting_peak;           /* users whose last answer was WAITING */
    long polls_settled;                  /* polls once everyone had arrived */
    int sold, buyers, sold_twice, gone, failed;
    int64_t t_sold_out, t_last_issue;
    int issued;
    int admitted, admitted_after_wait;
    int64_t t_first_admit, t_last_admit;
    int64_t t_first_pay;                 /* the first slot freed by a payment */
    long requests, errors, polls, conflicts;
    long requests_arriving;              /* answered while the crowd still arrived */
    long estimates_compared, estimates_grew;  /* polls with a place after one with a place; grew > 20% */
    struct samples poll_lat;             /* each poll's answer time */
    struct samples issue_lat;            /* each token issue's */
    struct samples all_lat;              /* every request's */
    int64_t t_first_issue;
    unsigned char *sold_map;             /* per (schedule index, seat) */
    int max_seats;
    char first_error[256];
} dr;

static void ring_push(int *ring, int *tail, int *count, int cap, int v)
{
    ring[*tail] = v;
    *tail = (*tail + 1) % cap;
    (*count)++;
}

static int ring_pop(int *ring, int *head, int *count, int cap)
{
    int v = ring[*head];

    *head = (*head + 1) % cap;
    (*count)--;
    return v;
}

static void drop_ready(int i)
{
    ring_push(dr.ready, &dr.rtail, &dr.rcount, dr.users, i);
}

static int64_t wait_key(int k)
{
    return dr.u[dr.wait[k]].next_poll;
}

static void wait_swap(int a, int b)
{
    int t = dr.wait[a];

    dr.wait[a] = dr.wait[b];
    dr.wait[b] = t;
}

/* A waiting user polls again when the server said (pollAfterSeconds), as
 * the booking page does. */
static void drop_waiting(int i, int64_t poll_after_s)
{
    int k = dr.wcount++;

    dr.u[i].next_poll = now_us() + poll_after_s * 1000000;
    dr.poll_after_sum += (double)poll_after_s;
    dr.poll_afters++;
    dr.wait[k] = i;
    while (k > 0 && wait_key((k - 1) / 2) > wait_key(k)) {
        wait_swap(k, (k - 1) / 2);
        k = (k - 1) / 2;
    }
}

static int wait_pop(void)
{
    int top = dr.wait[0], k = 0;

    dr.wait[0] = dr.wait[--dr.wcount];
    for (;;) {
        int l = 2 * k + 1, r = l + 1, m = k;
        if (l < dr.wcount && wait_key(l) < wait_key(m))
            m = l;
        if (r < dr.wcount && wait_key(r) < wait_key(m))
            m = r;
        if (m == k)
            break;
        wait_swap(k, m);
        k = m;
    }
    return top;
}

static int sched_index(int64_t id)
{
    for (int i = 0; i < dr.nsched; i++)
        if (dr.sched[i] == id)
            return i;
    return -1;
}

/* A user with a step to take now (a poll that is due, a buyer's next
 * step) starts it on s; returns 0 when nobody has one. Waiting users rejoin
 * the line when the server said to poll again, like the booking page. */
static int drop_step(struct engine *e, struct slot *s, int64_t now)
{
    char path[160], json[200];

    while (dr.wcount && wait_key(0) <= now) {
        int i = wait_pop();
        if (dr.u[i].state == D_WAITING)
            drop_ready(i);
    }
    while (dr.rcount) {
        int i = ring_pop(dr.ready, &dr.rhead, &dr.rcount, dr.users);
        struct duser *u = &dr.u[i];

        switch (u->state) {
        case D_WAITING: {
            int second = (int)((now - dr.t0) / 1000000);
            if (second >= 0 && second < dr.seconds)
                dr.polls_in_second[second]++;
            if (dr.issued >= dr.users)
                dr.polls_settled++;
            engine_start(e, s, K_POLL, i, "/api/v1/queue/status", u->token, NULL);
            return 1;
        }
        case D_ACTIVE:
            snprintf(path, sizeof path, "/api/v1/concerts/%" PRId64 "/schedules", dr.concerts[u->concert]);
            engine_start(e, s, K_LIST, i, path, u->token, NULL);
            return 1;
        case D_SEATS:
            snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", u->sched);
            engine_start(e, s, K_SEATS, i, path, u->token, NULL);
            return 1;
        case D_HOLD: {
            int len = snprintf(json, sizeof json, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[", u->sched);
            for (int k = 0; k < u->nseats; k++)
                len += snprintf(json + len, sizeof json - (size_t)len, "%s%d", k ? "," : "", u->seats[k]);
            snprintf(json + len, sizeof json - (size_t)len, "]}");
            engine_start(e, s, K_HOLD, i, "/api/v1/reservations", u->token, json);
            return 1;
        }
        case D_CHARGE:
            snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", u->uuid);
            snprintf(json, sizeof json, "{\"amount\":%" PRId64 "}", u->amount);
            engine_start(e, s, K_CHARGE, i, path, u->session, json);
            return 1;
        case D_PAY:
            snprintf(json, sizeof json, "{\"reservationId\":%" PRId64 "}", u->reservation);
            engine_start(e, s, K_PAY, i, "/api/v1/payments", u->token, json);
            return 1;
        default:
            break;
        }
    }
    return 0;
}

/* The next user arrives on s and asks for a token; returns 0 when all
 * have arrived. */
static int drop_arrive(struct engine *e, struct slot *s)
{
    char json[64];
    int i;
    struct duser *u;
    const struct bench_user *user;

    if (dr.next_arrival >= dr.users)
        return 0;
    i = dr.next_arrival++;
    u = &dr.u[i];
    user = pool_user(&drop_pool);
    memcpy(u->uuid, user->id, sizeof u->uuid);
    memcpy(u->session, user->session, sizeof u->session);
    u->estimate = -1;
    u->want = (i % 4 == 3) ? 2 : 1;
    u->concert = i % dr.nconcerts;
    snprintf(json, sizeof json, "{\"concertId\":%" PRId64 "}", dr.concerts[u->concert]);
    engine_start(e, s, K_ISSUE, i, "/api/v1/queue/tokens", u->session, json);
    return 1;
}

/* Each user has a browser of their own, so the crowd still arriving and
 * those already in line do not wait for each other, only for the server.
 * The first dr.arrival_conns connections carry arrivals first (then, once
 * everyone has arrived, steps like the rest); the others carry the steps
 * of those already in (due polls, buyers) first and an arrival only when
 * nobody has a step to take. Arrivals thus go at the rate the server takes
 * them on their own connections, and a due poll never waits behind them;
 * one line for both would give arrivals only what the polls leave. */
static int drop_fill(struct engine *e, struct slot *s)
{
    int64_t now = now_us();

    if (dr.sold >= dr.total_seats && dr.issued >= dr.users &&
        now >= dr.t_last_issue + dr.settle_us) {
        e->stop = 1;
        return 0;
    }
    if (s - e->slots < dr.arrival_conns && drop_arrive(e, s))
        return 1;
    return drop_step(e, s, now) || drop_arrive(e, s);
}

static void drop_fail(struct slot *s, long status, struct duser *u)
{
    dr.errors++;
    if (!dr.first_error[0])
        snprintf(dr.first_error, sizeof dr.first_error, "step %d: HTTP %ld %.180s", s->kind, status,
                 s->resp.p ? s->resp.p : "");
    u->state = D_FAILED;
    dr.failed++;
}

static void drop_done(struct engine *e, struct slot *s, long status, int64_t us)
{
    int i = (int)s->who;
    struct duser *u = &dr.u[i];
    struct json_object *o = NULL;
    int64_t now = now_us();

    (void)e;
    dr.requests++;
    if (dr.issued < dr.users)
        dr.requests_arriving++;
    sample_add(&dr.all_lat, us);
    switch (s->kind) {
    case K_ISSUE:
    case K_POLL: {
        const char *tok, *st;
        if (s->kind == K_POLL) {
            dr.polls++;
            dr.waiting--;        /* counted again below if still waiting */
            sample_add(&dr.poll_lat, us);
        } else {
            int second = (int)((now - dr.t0) / 1000000);
            sample_add(&dr.issue_lat, us);
            if (second >= 0 && second < dr.seconds)
                dr.issues_in_second[second]++;
            dr.issued++;
            if (!dr.t_first_issue)
                dr.t_first_issue = now - us;
            dr.t_last_issue = now;
        }
        if (status != 200 && status != 201) {
            drop_fail(s, status, u);
            break;
        }
        o = parse(&s->resp);
        tok = jstr(o, "token");
        st = jstr(o, "status");
        if (!tok || !st) {
            drop_fail(s, status, u);
            break;
        }
        snprintf(u->token, sizeof u->token, "%s", tok);
        if (strcmp(st, "ACTIVE") == 0) {
            dr.admitted++;
            if (u->waited) {
                dr.admitted_after_wait++;
                if (!dr.t_first_admit)
                    dr.t_first_admit = now;
                dr.t_last_admit = now;
            }
            u->state = D_ACTIVE;
            drop_ready(i);
        } else {
            int64_t after = jint(o, "pollAfterSeconds", 2);
            struct json_object *place;
            /* Does the wait the user is shown jump back up? Only between
             * two answers with a place (the pre-queue's is the time to the
             * opening). */
            if (json_object_object_get_ex(o, "position", &place) && place) {
                int64_t est = jint(o, "estimatedWaitSeconds", 0);
                if (u->estimate >= 0) {
                    dr.estimates_compared++;
                    if ((double)est > 1.2 * (double)u->estimate)
                        dr.estimates_grew++;
                }
                u->estimate = (int32_t)(est > INT32_MAX ? INT32_MAX : est);
            }
            u->waited = 1;
            u->state = D_WAITING;
            if (++dr.waiting > dr.waiting_peak)
                dr.waiting_peak = dr.waiting;
            drop_waiting(i, after >= 1 && after <= 300 ? after : 2);
        }
        break;
    }
    case K_LIST: {
        struct json_object *arr;
        size_t n;
        if (status != 200) {
            drop_fail(s, status, u);
            break;
        }
        o = parse(&s->resp);
        if (!o || !json_object_object_get_ex(o, "schedules", &arr) ||
            !json_object_is_type(arr, json_type_array)) {
            drop_fail(s, status, u);
            break;
        }
        n = json_object_array_length(arr);
        if (n == 0) {
            u->state = D_GONE;   /* sold out: this user leaves */
            dr.gone++;
            break;
        }
        u->sched = jint(json_object_array_get_idx(arr, rnd() % n), "scheduleId", 0);
        u->state = D_SEATS;
        drop_ready(i);
        break;
    }
    case K_SEATS: {
        int avail[1000], n;
        if (status != 200 || (n = available_seats(&s->resp, avail, 1000, NULL)) < 0) {
            drop_fail(s, status, u);
            break;
        }
        if (n == 0) {
            u->state = D_ACTIVE;   /* that show went: back to the list */
        } else {
            /* Neighbouring seats when one wants two, as people do. */
            int k = (int)(rnd() % (uint64_t)n);
            u->nseats = 1;
            u->seats[0] = avail[k];
            if (u->want > 1 && n > 1) {
                u->seats[1] = avail[k + 1 < n ? k + 1 : k - 1];
                u->nseats = 2;
            }
            u->state = D_HOLD;
        }
        drop_ready(i);
        break;
    }
    case K_HOLD:
        if (status == 201) {
            o = parse(&s->resp);
            u->reservation = jint(o, "reservationId", 0);
            u->amount = jint(o, "amount", 0);
            if (u->reservation <= 0) {
                drop_fail(s, status, u);
                break;
            }
            u->state = u->amount > 0 ? D_CHARGE : D_PAY;
            drop_ready(i);
        } else if (status == 409 && strcmp(error_code(&s->resp), "SEAT_UNAVAILABLE") == 0) {
            dr.conflicts++;
            if (++u->tries > 200) {
                drop_fail(s, status, u);
                break;
            }
            u->state = D_SEATS;
            drop_ready(i);
        } else {
            drop_fail(s, status, u);
        }
        break;
    case K_CHARGE:
        if (status != 200) {
            drop_fail(s, status, u);
            break;
        }
        u->state = D_PAY;
        drop_ready(i);
        break;
    case K_PAY: {
        int si;
        if (status != 201) {
            drop_fail(s, status, u);
            break;
        }
        u->state = D_BOUGHT;
        dr.buyers++;
        if (!dr.t_first_pay)
            dr.t_first_pay = now;
        si = sched_index(u->sched);
        if (si >= 0)
            dr.sold_in[dr.sched_concert[si]] += u->nseats;
        for (int k = 0; k < u->nseats; k++) {
            int seat = u->seats[k];
            if (si >= 0 && seat >= 1 && seat <= dr.max_seats) {
                unsigned char *m = &dr.sold_map[(size_t)si * (size_t)dr.max_seats + (size_t)seat - 1];
                if (*m)
                    dr.sold_twice++;
                *m = 1;
            }
            dr.sold++;
        }
        if (dr.sold >= dr.total_seats && !dr.t_sold_out)
            dr.t_sold_out = now;
        break;
    }
    }
    json_object_put(o);
}

/* After the run: count the SOLD seats of concert c (an index) through its
 * seat maps, with any ACTIVE token of it (a user who left at sold-out
 * still has one; else a waiting user who has been admitted since).
 * Returns the count, or -1. */
static int drop_count_sold(struct slot *s, const char *base, int c)
{
    const char *token = NULL;
    int total = 0, asked = 0;

    for (int i = 0; i < dr.users && !token; i++)
        if (dr.u[i].concert == c &&
            (dr.u[i].state == D_GONE || dr.u[i].state == D_ACTIVE || dr.u[i].state == D_SEATS))
            token = dr.u[i].token;
    for (int i = 0; i < dr.users && !token && asked < 2000; i++) {
        if (dr.u[i].concert != c || dr.u[i].state != D_WAITING)
            continue;
        asked++;
        if (sync_request(s, base, "/api/v1/queue/status", dr.u[i].token, NULL) == 200) {
            struct json_object *o = parse(&s->resp);
            const char *st = jstr(o, "status");
            if (st && strcmp(st, "ACTIVE") == 0)
                token = dr.u[i].token;
            json_object_put(o);
        }
    }
    if (!token)
        return -1;
    for (int k = 0; k < dr.nsched; k++) {
        char path[128];
        int avail[1000], sold;
        if (dr.sched_concert[k] != c)
            continue;
        snprintf(path, sizeof path, "/api/v1/schedules/%" PRId64 "/seats", dr.sched[k]);
        if (sync_request(s, base, path, token, NULL) != 200 ||
            available_seats(&s->resp, avail, 1000, &sold) < 0)
            return -1;
        total += sold;
    }
    return total;
}

/* Sets a drop concert's opensAt to opens_in seconds from now through the
 * admin API; returns the opening in microseconds of now_us(). */
static int64_t drop_open_at(struct slot *s, const char *base, const char *keyfile, int64_t concert, int opens_in)
{
    char key[512], json[96], url[1024], auth[600];
    struct curl_slist *h = NULL;
    time_t at = time(NULL) + opens_in;
    struct tm tm;
    long status = 0;

    read_admin_key(keyfile, key, sizeof key);
    gmtime_r(&at, &tm);
    strftime(json, sizeof json, "{\"opensAt\":\"%Y-%m-%dT%H:%M:%SZ\"}", &tm);
    snprintf(url, sizeof url, "%s/api/v1/admin/concerts/%" PRId64, base, concert);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    s->resp.len = 0;
    if (curl_easy_perform(s->easy) == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (status != 200)
        die("drop: setting opensAt: HTTP %ld %s", status, s->resp.len ? s->resp.p : "");
    /* The opening on now_us()'s clock (the server shares this machine's). */
    {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        return now_us() + (int64_t)at * 1000000 - ((int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000);
    }
}

/* The drop's concerts (NAME_concert.txt, an id first on each line) and
 * their shows (NAME_schedules.txt: "scheduleId [concertId]" lines, the
 * first concert's when none is named). */
static void drop_load_concerts(const char *dir, const char *name)
{
    char file[256], **lines;

    snprintf(file, sizeof file, "%s_concert.txt", name);
    dr.nconcerts = read_lines(dir, file, &lines);
    if (dr.nconcerts < 1)
        die("%s is empty", file);
    dr.concerts = xmalloc(sizeof *dr.concerts * (size_t)dr.nconcerts);
    dr.sold_in = xmalloc(sizeof *dr.sold_in * (size_t)dr.nconcerts);
    for (int c = 0; c < dr.nconcerts; c++)
        dr.concerts[c] = strtoll(lines[c], NULL, 10);
    snprintf(file, sizeof file, "%s_schedules.txt", name);
    dr.nsched = read_lines(dir, file, &lines);
    dr.sched = xmalloc(sizeof *dr.sched * (size_t)dr.nsched);
    dr.sched_concert = xmalloc(sizeof *dr.sched_concert * (size_t)dr.nsched);
    for (int i = 0; i < dr.nsched; i++) {
        char *rest;
        int64_t concert;

        dr.sched[i] = strtoll(lines[i], &rest, 10);
        concert = strtoll(rest, NULL, 10);
        for (int c = 0; c < dr.nconcerts; c++)
            if (dr.concerts[c] == concert)
                dr.sched_concert[i] = c;
    }
}

static int cmd_drop(const char *base, const char *keyfile, const char *dir, int users, int conns,
                    int timeout, const char *outfile, const char *name)
{
    struct engine e;
    int api_sold = 0, *api_sold_in;
    FILE *f;
    double sell_out, admit_span, rate, mean = 0, settled_s, arriving_s;
    long peak = 0, issue_peak = 0, over_2s = 0;
    struct slot s = {0};
    int opens_in = env_int("BENCH_DROP_OPENS_IN", 5);
    char file[256];

    snprintf(file, sizeof file, "users_%s.txt", name);
    pool_load(dir, file, &drop_pool);
    drop_load_concerts(dir, name);
    api_sold_in = xmalloc(sizeof *api_sold_in * (size_t)dr.nconcerts);

    /* How many seats there are: from the first seat map (needs a token). */
    dr.max_seats = 1000;
    dr.total_seats = 0;
    dr.users = users;
    dr.u = xmalloc(sizeof *dr.u * (size_t)users);
    memset(dr.u, 0, sizeof *dr.u * (size_t)users);
    dr.ready = xmalloc(sizeof *dr.ready * (size_t)users);
    dr.wait = xmalloc(sizeof *dr.wait * (size_t)users);
    dr.seconds = timeout + 5;
    dr.polls_in_second = xmalloc(sizeof *dr.polls_in_second * (size_t)dr.seconds);
    dr.issues_in_second = xmalloc(sizeof *dr.issues_in_second * (size_t)dr.seconds);
    dr.sold_map = xmalloc((size_t)dr.nsched * (size_t)dr.max_seats);
    dr.total_seats = env_int("BENCH_DROP_SEATS", dr.nsched * 50);

    dr.settle_us = (int64_t)env_int("BENCH_DROP_SETTLE", 30) * 1000000;
    dr.arrival_conns = env_int("BENCH_DROP_ARRIVAL_CONNS", conns / 2);
    if (dr.arrival_conns < 0 || dr.arrival_conns > conns)
        die("BENCH_DROP_ARRIVAL_CONNS must be 0 to the %d connections", conns);

    slot_init(&s);
    engine_init(&e, base, conns, drop_done, drop_fill);
    /* The whole crowd heads for the door at once, a few seconds before the
     * sale opens: as many arrive as the server takes (drop_fill). Every
     * concert opens at the same second. */
    for (int c = dr.nconcerts - 1; c >= 0; c--)
        dr.t_open = drop_open_at(&s, base, keyfile, dr.concerts[c], opens_in);
    dr.t0 = now_us();
    engine_run(&e, dr.t0 + (int64_t)timeout * 1000000);
    settled_s = dr.issued >= users && dr.t_last_issue ? (now_us() - dr.t_last_issue) / 1e6 : 0.0;
    for (int c = 0; c < dr.nconcerts; c++) {
        api_sold_in[c] = drop_count_sold(&s, base, c);
        if (api_sold_in[c] < 0 || api_sold < 0) {
            if (api_sold >= 0)
                fprintf(stderr, "drop: could not read the seat maps of concert %" PRId64 " afterwards\n",
                        dr.concerts[c]);
            api_sold = -1;
        } else {
            api_sold += api_sold_in[c];
        }
    }

    sell_out = dr.t_sold_out ? (dr.t_sold_out - dr.t_open) / 1e6 : -1;
    /* The queue can let a waiting user in only once a payment has freed a
     * slot: the rate counts from the first payment to the last admission a
     * waiting user saw (a user sees it at its next poll). */
    admit_span = dr.t_first_pay && dr.t_last_admit > dr.t_first_pay ?
        (dr.t_last_admit - dr.t_first_pay) / 1e6 : 0;
    rate = admit_span > 0 ? dr.admitted_after_wait / admit_span : 0;
    qsort(dr.poll_lat.us, dr.poll_lat.n, sizeof *dr.poll_lat.us, cmp_i32);
    qsort(dr.issue_lat.us, dr.issue_lat.n, sizeof *dr.issue_lat.us, cmp_i32);
    qsort(dr.all_lat.us, dr.all_lat.n, sizeof *dr.all_lat.us, cmp_i32);
    arriving_s = dr.t_last_issue > dr.t_first_issue ? (dr.t_last_issue - dr.t_first_issue) / 1e6 : 0.0;
    for (size_t k = 0; k < dr.poll_lat.n; k++)
        over_2s += dr.poll_lat.us[k] > 2000000;
    f = fopen(outfile, "w");
    if (!f)
        die("%s: %s", outfile, strerror(errno));
    /* Polls a second, over the seconds the run lasted: the peak, and the
     * mean from the first second with a poll to the last. */
    {
        int first = -1, last = -1, last_issue = -1;
        long total = 0;
        for (int k = 0; k < dr.seconds; k++) {
            if (dr.issues_in_second[k]) {
                last_issue = k;
                if (dr.issues_in_second[k] > issue_peak)
                    issue_peak = dr.issues_in_second[k];
            }
            if (!dr.polls_in_second[k])
                continue;
            if (first < 0)
                first = k;
            last = k;
            total += dr.polls_in_second[k];
            if (dr.polls_in_second[k] > peak)
                peak = dr.polls_in_second[k];
        }
        mean = first >= 0 ? (double)total / (double)(last - first + 1) : 0.0;
        /* Second by second beside the report: "second polls issued", the
         * opening at opens_after_s. */
        {
            FILE *pf;
            snprintf(file, sizeof file, "%s_polls.txt", name);
            pf = open_data(dir, file, "w");
            for (int k = 0; k <= last || k <= last_issue; k++)
                fprintf(pf, "%d %ld %ld\n", k, dr.polls_in_second[k], dr.issues_in_second[k]);
            fclose(pf);
        }
    }
    fprintf(f, "{\"users\":%d,\"seats\":%d,\"sold\":%d,\"sold_twice\":%d,", users, dr.total_seats,
            api_sold >= 0 ? api_sold : dr.sold, dr.sold_twice);
    if (sell_out >= 0)
        fprintf(f, "\"seconds_to_sell_out\":%.3f,", sell_out);
    else
        fprintf(f, "\"seconds_to_sell_out\":null,");
    fprintf(f,
            "\"sold_by_payments\":%d,\"sold_by_seat_maps\":%d,\"buyers\":%d,\"tokens_issued\":%d,"
            "\"seconds_to_issue_all\":%.3f,\"admitted\":%d,\"admitted_after_waiting\":%d,"
            "\"admission_rate_per_s\":%.1f,\"seconds_to_first_payment\":%.3f,"
            "\"left_at_sold_out\":%d,\"polls\":%ld,\"polls_peak_per_s\":%ld,\"polls_mean_per_s\":%.1f,"
            "\"poll_after_mean_s\":%.2f,\"waiting_peak\":%d,\"polls_per_s_all_arrived\":%.1f,"
            "\"seconds_all_arrived\":%.1f,\"opens_after_s\":%.1f,"
            "\"seat_conflicts\":%ld,\"requests\":%ld,\"errors\":%ld,\"connections\":%d,\"arrival_connections\":%d,"
            "\"issue_rate_per_s\":%.1f,\"issue_peak_per_s\":%ld,\"poll_p50_ms\":%.1f,\"poll_p99_ms\":%.1f,\"poll_max_ms\":%.1f,"
            "\"polls_over_2s\":%ld,\"estimates_compared\":%ld,\"estimate_grew_20pct_share\":%.5f,",
            dr.sold, api_sold, dr.buyers, dr.issued,
            dr.t_last_issue ? (dr.t_last_issue - dr.t0) / 1e6 : 0.0, dr.admitted,
            dr.admitted_after_wait, rate, dr.t_first_pay ? (dr.t_first_pay - dr.t_open) / 1e6 : 0.0,
            dr.gone, dr.polls, peak, mean, dr.poll_afters ? dr.poll_after_sum / (double)dr.poll_afters : 0.0,
            dr.waiting_peak, settled_s > 0 ? (double)dr.polls_settled / settled_s : 0.0, settled_s,
            (dr.t_open - dr.t0) / 1e6, dr.conflicts, dr.requests, dr.errors, conns, dr.arrival_conns,
            dr.t_last_issue > dr.t_first_issue ? dr.issued / ((dr.t_last_issue - dr.t_first_issue) / 1e6) : 0.0,
            issue_peak,
            pct_ms(&dr.poll_lat, 50), pct_ms(&dr.poll_lat, 99), pct_ms(&dr.poll_lat, 100), over_2s,
            dr.estimates_compared,
            dr.estimates_compared ? (double)dr.estimates_grew / (double)dr.estimates_compared : 0.0);
    /* What each request costs while the server is busiest: the requests
     * answered while the crowd arrived, a second, and every request's and
     * each token issue's time. */
    fprintf(f,
            "\"requests_while_arriving\":%ld,\"requests_per_s_while_arriving\":%.1f,\"issue_p50_ms\":%.1f,"
            "\"issue_p99_ms\":%.1f,\"request_p50_ms\":%.1f,\"request_p99_ms\":%.1f,\"concerts\":[",
            dr.requests_arriving, arriving_s > 0 ? dr.requests_arriving / arriving_s : 0.0,
            pct_ms(&dr.issue_lat, 50), pct_ms(&dr.issue_lat, 99), pct_ms(&dr.all_lat, 50), pct_ms(&dr.all_lat, 99));
    for (int c = 0; c < dr.nconcerts; c++) {
        int seats = 0;
        for (int k = 0; k < dr.nsched; k++)
            seats += dr.sched_concert[k] == c ? dr.total_seats / dr.nsched : 0;
        fprintf(f, "%s{\"concert\":%" PRId64 ",\"seats\":%d,\"sold_by_payments\":%d,\"sold_by_seat_maps\":%d}",
                c ? "," : "", dr.concerts[c], seats, dr.sold_in[c], api_sold_in[c]);
    }
    fputs("]}\n", f);
    fclose(f);
    if (dr.first_error[0])
        fprintf(stderr, "drop: first failure: %s\n", dr.first_error);
    return 0;
}

/* --- the drop over several concerts, one a primary (BENCH_CLUSTER=1) -------------- *
 *
 * bench/run gives each drop a NAME (drop_cluster on the three-primary
 * cluster's front, drop_one on the single Redis's) and a slot map of the
 * Redis it runs on (slotmap.h); its users, concerts and shows are in files
 * named after it, which `drop ... NAME` reads. */

/* NAME as a part of a file name: letters, digits and _ only. */
static const char *drop_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
        die("%s: a drop's name is 1 to 64 of a-z, 0-9 and _", name);
    return name;
}

static void load_slotmap(const char *dir, const char *name, struct slotmap *map)
{
    if (slotmap_load(dir, name, map) < 0)
        die("no slot map of every slot in %s/%s", dir, name);
}

/* users-split: COUNT users into users_NAME.txt, each one's session SET
 * into sessions_NAME_PORT.resp of the node that owns its key. */
static int cmd_users_split(const char *dir, long ttl, int count, const char *name, const char *mapfile)
{
    static struct slotmap map;
    FILE *by_node[SLOTMAP_MAX_NODES];
    char file[256];
    int rc = 0;

    load_slotmap(dir, mapfile, &map);
    for (int i = 0; i < map.nodes; i++) {
        snprintf(file, sizeof file, "sessions_%s_%d.resp", name, map.port[i]);
        by_node[i] = open_data(dir, file, "w");
    }
    snprintf(file, sizeof file, "users_%s.txt", name);
    rc = users_make_split(dir, file, count, ttl, &map, by_node);
    for (int i = 0; i < map.nodes; i++)
        rc |= fclose(by_node[i]) != 0 ? -1 : 0;
    if (rc != 0)
        die("could not make the users of %s in %s", name, dir);
    printf("users: %d made for %s, their sessions over %d node(s)\n", count, name, map.nodes);
    return 0;
}

/* drop-concerts: COUNT drop concerts, made until each node of the slot
 * map owns as many (COUNT / its nodes; the node of a concert is its queue
 * keys': keyspace.h gives a concert's keys one hash tag). Writes
 * NAME_concert.txt ("concertId port" a line) and NAME_schedules.txt
 * ("scheduleId concertId"). */
static int cmd_drop_concerts(const char *base, const char *keyfile, const char *dir, const char *name, int count,
                             const char *mapfile)
{
    static struct slotmap map;
    struct concert *kept;
    int *port, per_node, on_node[SLOTMAP_MAX_NODES] = {0};
    char key[300], file[256], qkey[KEYSPACE_CONCERT_KEY_SIZE];
    struct slot s = {0};
    int have = 0, made = 0;
    FILE *cf, *sf;

    load_slotmap(dir, mapfile, &map);
    if (count < 1 || count > 1000 || count % map.nodes != 0)
        die("%s: %d concerts do not split evenly over %d node(s)", name, count, map.nodes);
    per_node = count / map.nodes;
    kept = xmalloc(sizeof *kept * (size_t)count);
    port = xmalloc(sizeof *port * (size_t)count);
    read_admin_key(keyfile, key, sizeof key);
    slot_init(&s);
    /* A concert lands on a node by its id's slot, on each about as often:
     * twenty tries a concert leave nothing to chance. */
    while (have < count && made < 20 * count) {
        struct concert c = make_drop_concert(&s, base, key);
        int node;

        made++;
        keyspace_queue(qkey, sizeof qkey, c.id, QUEUE_KEY_CONF);
        node = slotmap_node(&map, qkey, strlen(qkey));
        if (on_node[node] < per_node) {
            on_node[node]++;
            port[have] = map.port[node];
            kept[have++] = c;
        }
    }
    if (have < count)
        die("%s: %d concerts made, and still a node owns fewer than %d", name, made, per_node);
    snprintf(file, sizeof file, "%s_concert.txt", name);
    cf = open_data(dir, file, "w");
    snprintf(file, sizeof file, "%s_schedules.txt", name);
    sf = open_data(dir, file, "w");
    for (int i = 0; i < count; i++) {
        fprintf(cf, "%" PRId64 " %d\n", kept[i].id, port[i]);
        for (int k = 0; k < kept[i].nsched; k++)
            fprintf(sf, "%" PRId64 " %" PRId64 "\n", kept[i].sched[k], kept[i].id);
    }
    if (fclose(cf) != 0 || fclose(sf) != 0)
        die("%s: could not write its concerts in %s", name, dir);
    printf("%s: %d concerts made, %d on each of %d node(s)\n", name, made, per_node, map.nodes);
    return 0;
}

/* --- slowlog: the longest Redis command of a run ------------------------------------ *
 *
 * Reads `redis-cli --json SLOWLOG GET` (entries of id, time, microseconds,
 * arguments, ...) and prints {"redis_longest_command_ms", "redis_longest_command",
 * "redis_commands_over_50ms"}: what no script may reach (issue 27). */
static int cmd_slowlog(const char *path)
{
    struct json_object *log = json_object_from_file(path);
    int64_t longest = 0, over = 0;
    const char *name = "";

    if (!log || !json_object_is_type(log, json_type_array)) {
        printf("{\"redis_longest_command_ms\": null, \"redis_longest_command\": null, "
               "\"redis_commands_over_50ms\": null}\n");
        return 0;
    }
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        struct json_object *e = json_object_array_get_idx(log, i), *args;
        int64_t us;
        if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) < 4)
            continue;
        us = json_object_get_int64(json_object_array_get_idx(e, 2));
        over += us >= 50000;
        if (us <= longest)
            continue;
        longest = us;
        args = json_object_array_get_idx(e, 3);
        name = json_object_is_type(args, json_type_array) && json_object_array_length(args) > 0 ?
            json_object_get_string(json_object_array_get_idx(args, 0)) : "";
    }
    /* EVALSHA names a script only by its digest: say which kind it was. */
    printf("{\"redis_longest_command_ms\": %.1f, \"redis_longest_command\": \"%s\", \"redis_commands_over_50ms\": %"
           PRId64 "}\n", (double)longest / 1000.0, name && strlen(name) < 40 && !strchr(name, '"') ? name : "?",
           over);
    json_object_put(log);
    return 0;
}

/* --- report ------------------------------------------------------------------------ */

static struct json_object *load_json(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, R_OK) != 0)
        return NULL;
    return json_object_from_file(path);
}

static const struct {
    const char *name;
    double ratio;     /* target ratio to the ceiling (0: none) */
    double p99_ms;    /* target p99 (0: none) */
} scenarios[] = {
    {"redis_floor", 0, 0},   /* the ceiling plus one Redis GET: no target, a yardstick */
    {"queue_status", 0.60, 25},
    {"token_issue", 0.40, 25},
    {"seat_map", 0.50, 25},
    {"reserve", 0.18, 0},
    {"journey", 0.20, 0},
    {"login", 0, 0},
};

/* The cluster drop's rows: per request, the cluster beside one primary. */
static void write_cluster_drop_markdown(FILE *f, struct json_object *drop)
{
    static const struct {
        const char *key, *title;
    } rows[] = {
        {"requests_per_s_while_arriving", "requests/s while the crowd arrives"},
        {"request_p50_ms", "request p50 (ms)"}, {"request_p99_ms", "request p99 (ms)"},
        {"issue_p50_ms", "token issue p50 (ms)"}, {"issue_p99_ms", "token issue p99 (ms)"},
        {"poll_p50_ms", "poll p50 (ms)"}, {"poll_p99_ms", "poll p99 (ms)"},
        {"responder_cpu_us_per_request", "responder CPU per request (us)"},
        {"redis_cpu_us_per_request", "Redis CPU per request (us)"},
        {"seconds_to_sell_out", "opening to sold out (s)"},
    };
    struct json_object *cluster, *one, *ratios;

    json_object_object_get_ex(drop, "cluster", &cluster);
    json_object_object_get_ex(drop, "one_primary", &one);
    json_object_object_get_ex(drop, "cluster_to_one_primary", &ratios);
    fputs("\n| drop over three concerts | three primaries | one primary | ratio |\n|---|---|---|---|\n", f);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(f, "| %s | %.1f | %.1f | %.3f |\n", rows[i].title, jnum(cluster, rows[i].key, 0),
                jnum(one, rows[i].key, 0), jnum(ratios, rows[i].key, 0));
    fprintf(f, "| users, seats, sold, sold twice | %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 " | %" PRId64
            ", %" PRId64 ", %" PRId64 ", %" PRId64 " | |\n",
            jint(cluster, "users", 0), jint(cluster, "seats", 0), jint(cluster, "sold", 0),
            jint(cluster, "sold_twice", 0), jint(one, "users", 0), jint(one, "seats", 0), jint(one, "sold", 0),
            jint(one, "sold_twice", 0));
    fprintf(f, "| each concert's seats, sold three ways, none twice | %s | %s | |\n",
            json_object_get_boolean(json_object_object_get(cluster, "correct")) ? "yes" : "**no**",
            json_object_get_boolean(json_object_object_get(one, "correct")) ? "yes" : "**no**");
}

/* The same report as a Markdown table (latest.md beside latest.json), for
 * the README. */
static void write_markdown(struct json_object *out, const char *jsonfile)
{
    char path[4096];
    struct json_object *c, *sc, *drop, *v;
    FILE *f;
    size_t n = strlen(jsonfile);

    if (n < 5 || strcmp(jsonfile + n - 5, ".json") != 0)
        return;
    snprintf(path, sizeof path, "%.*s.md", (int)(n - 5), jsonfile);
    f = fopen(path, "w");
    if (!f)
        return;
    json_object_object_get_ex(out, "ceiling", &c);
    json_object_object_get_ex(out, "scenarios", &sc);
    fprintf(f, "| scenario | req/s | p50 ms | p99 ms | errors | ratio | target |\n");
    fprintf(f, "|---|---|---|---|---|---|---|\n");
    fprintf(f, "| ceiling | %.0f | %.2f | %.2f | %" PRId64 " | 1.00 | |\n", jnum(c, "rps", 0),
            jnum(c, "p50_ms", 0), jnum(c, "p99_ms", 0), jint(c, "errors", 0));
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        struct json_object *r;
        char target[96] = "";

        if (!json_object_object_get_ex(sc, scenarios[i].name, &r) ||
            json_object_object_get_ex(r, "skipped", NULL)) {
            fprintf(f, "| %s | skipped | | | | | |\n", scenarios[i].name);
            continue;
        }
        if (scenarios[i].ratio > 0) {
            int len = snprintf(target, sizeof target, "%.2f", scenarios[i].ratio);
            if (scenarios[i].p99_ms > 0)
                len += snprintf(target + len, sizeof target - (size_t)len, ", p99 < %.0f ms", scenarios[i].p99_ms);
            snprintf(target + len, sizeof target - (size_t)len, ": %s",
                     json_object_object_get_ex(r, "target_met", &v) && json_object_get_boolean(v)
                     ? "met" : "**not met**");
        }
        fprintf(f, "| %s | %.0f | %.2f | %.2f | %" PRId64 " | %.3f | %s |\n", scenarios[i].name,
                jnum(r, "rps", 0), jnum(r, "p50_ms", 0), jnum(r, "p99_ms", 0), jint(r, "errors", 0),
                jnum(r, "ratio", 0), target);
    }
    if (json_object_object_get_ex(out, "drop", &drop) && drop) {
        fputs("\n| drop | users | waiting at most | seats | sold | sold twice | opening to sold out (s) "
              "| polls/s peak | polls/s mean | polls/s all waiting | Redis memory peak (MB) "
              "| issued/s | longest Redis command (ms) | poll p99 (ms) | estimates up >20% |\n",
              f);
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        fprintf(f, "| | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | ", jint(drop, "users", 0),
                jint(drop, "waiting_peak", 0), jint(drop, "seats", 0), jint(drop, "sold", 0),
                jint(drop, "sold_twice", 0));
        if (json_object_object_get_ex(drop, "seconds_to_sell_out", &v) && v)
            fprintf(f, "%.2f", json_object_get_double(v));
        else
            fprintf(f, "not sold out");
        fprintf(f, " | %" PRId64 " | %.0f | %.0f | %.1f | %.0f | %.1f | %.1f | %.3f%% |\n",
                jint(drop, "polls_peak_per_s", 0), jnum(drop, "polls_mean_per_s", 0),
                jnum(drop, "polls_per_s_all_arrived", 0), jnum(drop, "redis_used_memory_peak_mb", 0),
                jnum(drop, "issue_rate_per_s", 0), jnum(drop, "redis_longest_command_ms", 0),
                jnum(drop, "poll_p99_ms", 0), 100 * jnum(drop, "estimate_grew_20pct_share", 0));
    }
    if (json_object_object_get_ex(out, "drop_cluster", &drop) && drop)
        write_cluster_drop_markdown(f, drop);
    fprintf(f, "\nResponder RSS at most: %" PRId64 " kB.\n", jint(out, "responder_rss_kb", 0));
    fclose(f);
}

/* The mean of metric over the runs result_NAME<suffix>.json of the two
 * suffixes that exist and measured it; *runs says how many did. */
static double mean_of_runs(const char *dir, const char *name, const char *const suffixes[2], const char *metric,
                           int *runs)
{
    double sum = 0;

    *runs = 0;
    for (int k = 0; k < 2; k++) {
        char file[96];
        struct json_object *run;

        snprintf(file, sizeof file, "result_%s%s.json", name, suffixes[k]);
        run = load_json(dir, file);
        if (run && jnum(run, metric, 0) > 0) {
            sum += jnum(run, metric, 0);
            (*runs)++;
        }
        json_object_put(run);
    }
    return *runs ? sum / *runs : 0;
}

/* Kafka's cost (bench/run with BENCH_KAFKA=1): journeys a second with the
 * relay publishing to Kafka as well and to the streams alone, in the
 * order off, on, off, on after the journey run; and the relay's lag to Kafka
 * (kafka_lag.json). NULL when the run did not measure it. */
static struct json_object *kafka_cost(const char *dir)
{
    static const char *const with[2] = {"_kafka_2", "_kafka_3"}, *const without[2] = {"_no_kafka", "_no_kafka_2"};
    struct json_object *o, *lag = load_json(dir, "kafka_lag.json");
    int runs_with, runs_without;
    double on = mean_of_runs(dir, "journey", with, "journeys_per_s", &runs_with);
    double off = mean_of_runs(dir, "journey", without, "journeys_per_s", &runs_without);

    if (runs_with == 0 || runs_without == 0) {
        json_object_put(lag);
        return NULL;
    }
    o = json_object_new_object();
    json_object_object_add(o, "measure", json_object_new_string("journeys_per_s"));
    json_object_object_add(o, "without", json_object_new_double(off));
    json_object_object_add(o, "with", json_object_new_double(on));
    json_object_object_add(o, "runs", json_object_new_int(runs_with + runs_without));
    json_object_object_add(o, "cost", json_object_new_double((double)(int64_t)((1 - on / off) * 1000) / 1000));
    printf("\nKafka's cost (journeys with the relay publishing to Kafka as well and to the streams alone, "
           "off-on-off-on):\n  %9.1f journeys a second without, %9.1f with (means of %d and %d runs): %+.1f%%\n",
           off, on, runs_without, runs_with, (on / off - 1) * 100);
    if (lag) {
        printf("  the relay's lag to Kafka (change to delivery report) over %" PRId64 " events: p50 %.1f ms, "
               "p99 %.1f ms, at most %.1f ms\n", jint(lag, "rows", 0), jnum(lag, "p50_ms", 0),
               jnum(lag, "p99_ms", 0), jnum(lag, "max_ms", 0));
        json_object_object_add(o, "relay_lag_ms", lag);
    }
    return o;
}

static double tenths(double x)
{
    return (double)(int64_t)(x * 10 + 0.5) / 10;
}

/* One side of the cluster drop (NAME: drop_cluster or drop_one): the
 * drop's figures, PostgreSQL's count of each concert's seats (NAME_db.json,
 * by concert id) and the CPU the responders and Redis spent in it
 * (NAME_cpu.json), per request. *correct is cleared unless every concert
 * sold every seat, the same number counted three ways, none twice. NULL
 * when the side did not run. */
static struct json_object *cluster_drop_side(const char *dir, const char *name, int *correct)
{
    char file[256];
    struct json_object *side, *db, *cpu, *concerts;
    double requests;

    snprintf(file, sizeof file, "%s.json", name);
    if (!(side = load_json(dir, file)))
        return NULL;
    snprintf(file, sizeof file, "%s_db.json", name);
    db = load_json(dir, file);
    snprintf(file, sizeof file, "%s_cpu.json", name);
    cpu = load_json(dir, file);
    requests = jnum(side, "requests", 0);
    if (cpu && requests > 0) {
        json_object_object_add(side, "responder_cpu_us_per_request",
                               json_object_new_double(tenths(jnum(cpu, "responder_cpu_s", 0) * 1e6 / requests)));
        json_object_object_add(side, "redis_cpu_us_per_request",
                               json_object_new_double(tenths(jnum(cpu, "redis_cpu_s", 0) * 1e6 / requests)));
    }
    if (jint(side, "errors", 1) != 0 || jint(side, "sold_twice", 1) != 0)
        *correct = 0;
    if (!json_object_object_get_ex(side, "concerts", &concerts) || !json_object_is_type(concerts, json_type_array))
        *correct = 0;
    for (size_t i = 0; *correct && i < json_object_array_length(concerts); i++) {
        struct json_object *c = json_object_array_get_idx(concerts, i), *counted;
        char id[32];
        int64_t seats = jint(c, "seats", -1);

        snprintf(id, sizeof id, "%" PRId64, jint(c, "concert", 0));
        if (db && json_object_object_get_ex(db, id, &counted)) {
            json_object_object_add(c, "sold_db", json_object_new_int64(jint(counted, "sold_db", -1)));
            json_object_object_add(c, "sold_twice_db", json_object_new_int64(jint(counted, "sold_twice_db", -1)));
        }
        if (jint(c, "sold_by_payments", -1) != seats || jint(c, "sold_by_seat_maps", -1) != seats ||
            jint(c, "sold_db", -1) != seats || jint(c, "sold_twice_db", -1) != 0)
            *correct = 0;
    }
    json_object_object_add(side, "correct", json_object_new_boolean(*correct));
    json_object_put(db);
    json_object_put(cpu);
    return side;
}

/* The cluster drop (bench/run with BENCH_CLUSTER=1): the same drop over
 * three concerts on the three-primary cluster and on the single Redis, in
 * the same run, and the ratio of each per-request figure (cluster / one
 * primary): the routing's cost. NULL when it did not run. */
static struct json_object *cluster_drop(const char *dir)
{
    static const char *const measures[] = {
        "request_p50_ms", "request_p99_ms", "issue_p50_ms", "issue_p99_ms", "poll_p50_ms", "poll_p99_ms",
        "requests_per_s_while_arriving", "issue_rate_per_s", "responder_cpu_us_per_request",
        "redis_cpu_us_per_request", "seconds_to_sell_out",
    };
    int ok_cluster = 1, ok_one = 1;
    struct json_object *cluster = cluster_drop_side(dir, "drop_cluster", &ok_cluster);
    struct json_object *one = cluster_drop_side(dir, "drop_one", &ok_one), *o, *ratios;

    if (!cluster && !one)
        return NULL;
    o = json_object_new_object();
    ratios = json_object_new_object();
    printf("\ndrop over three concerts, on a three-primary cluster and on one primary (the routing's cost):\n");
    printf("  %-30s %12s %12s %8s\n", "", "cluster", "one primary", "ratio");
    for (size_t i = 0; i < sizeof measures / sizeof measures[0]; i++) {
        double a = jnum(cluster, measures[i], 0), b = jnum(one, measures[i], 0);

        printf("  %-30s %12.1f %12.1f", measures[i], a, b);
        if (a > 0 && b > 0) {
            json_object_object_add(ratios, measures[i], json_object_new_double((double)(int64_t)(a / b * 1000 + 0.5) / 1000));
            printf(" %8.3f\n", a / b);
        } else {
            printf(" %8s\n", "-");
        }
    }
    printf("  seats sold (payments, seat maps, PostgreSQL), none twice, no error: cluster %s, one primary %s\n",
           cluster ? (ok_cluster ? "met" : "NOT met") : "skipped", one ? (ok_one ? "met" : "NOT met") : "skipped");
    json_object_object_add(o, "cluster", cluster);
    json_object_object_add(o, "one_primary", one);
    json_object_object_add(o, "cluster_to_one_primary", ratios);
    json_object_object_add(o, "correct", json_object_new_boolean(cluster && one && ok_cluster && ok_one));
    return o;
}

static int cmd_report(const char *dir, const char *outfile)
{
    struct json_object *out = json_object_new_object(), *sc = json_object_new_object();
    struct json_object *ceiling = load_json(dir, "result_ceiling.json"), *c = json_object_new_object();
    struct json_object *drop = load_json(dir, "drop.json"), *machine = load_json(dir, "machine.json");
    double crps = jnum(ceiling, "rps", 0);
    long rss = 0;
    FILE *f;

    if (!ceiling)
        die("no ceiling result in %s", dir);
    json_object_object_add(c, "rps", json_object_new_double(crps));
    json_object_object_add(c, "p50_ms", json_object_new_double(jnum(ceiling, "p50_ms", 0)));
    json_object_object_add(c, "p99_ms", json_object_new_double(jnum(ceiling, "p99_ms", 0)));
    json_object_object_add(c, "errors", json_object_new_int64(jint(ceiling, "errors", 0)));
    json_object_object_add(out, "ceiling", c);

    printf("\n%-14s %9s %8s %8s %8s %7s  %s\n", "scenario", "req/s", "p50 ms", "p99 ms", "errors",
           "ratio", "target");
    printf("%-14s %9.0f %8.2f %8.2f %8" PRId64 " %7s\n", "ceiling", crps, jnum(ceiling, "p50_ms", 0),
           jnum(ceiling, "p99_ms", 0), jint(ceiling, "errors", 0), "1.00");
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        char name[96], target[96] = "", verdict[16] = "";
        struct json_object *r, *o = json_object_new_object();
        double rps, ratio, p99;
        int met = 1;

        snprintf(name, sizeof name, "result_%s.json", scenarios[i].name);
        r = load_json(dir, name);
        if (!r) {
            json_object_object_add(o, "skipped", json_object_new_boolean(1));
            json_object_object_add(sc, scenarios[i].name, o);
            printf("%-14s %9s\n", scenarios[i].name, "skipped");
            continue;
        }
        rps = jnum(r, "rps", 0);
        p99 = jnum(r, "p99_ms", 0);
        ratio = crps > 0 ? rps / crps : 0;
        json_object_object_add(o, "rps", json_object_new_double(rps));
        json_object_object_add(o, "p50_ms", json_object_new_double(jnum(r, "p50_ms", 0)));
        json_object_object_add(o, "p99_ms", json_object_new_double(p99));
        json_object_object_add(o, "errors", json_object_new_int64(jint(r, "errors", 0)));
        json_object_object_add(o, "ratio", json_object_new_double((double)(int64_t)(ratio * 1000 + 0.5) / 1000));
        /* Everything else the run measured comes along. */
        json_object_object_foreach(r, key, val) {
            if (!json_object_object_get_ex(o, key, NULL))
                json_object_object_add(o, key, json_object_get(val));
        }
        if (scenarios[i].ratio > 0) {
            int len = snprintf(target, sizeof target, "ratio >= %.2f", scenarios[i].ratio);
            met = ratio >= scenarios[i].ratio;
            if (scenarios[i].p99_ms > 0) {
                snprintf(target + len, sizeof target - (size_t)len, ", p99 < %.0f ms", scenarios[i].p99_ms);
                met = met && p99 < scenarios[i].p99_ms;
            }
            met = met && jint(r, "errors", 0) == 0;
            snprintf(verdict, sizeof verdict, "%s", met ? "met" : "NOT met");
            json_object_object_add(o, "target_ratio", json_object_new_double(scenarios[i].ratio));
            if (scenarios[i].p99_ms > 0)
                json_object_object_add(o, "target_p99_ms", json_object_new_double(scenarios[i].p99_ms));
            json_object_object_add(o, "target_met", json_object_new_boolean(met));
        }
        json_object_object_add(sc, scenarios[i].name, o);
        printf("%-14s %9.0f %8.2f %8.2f %8" PRId64 " %7.3f  %s%s%s\n", scenarios[i].name, rps,
               jnum(r, "p50_ms", 0), p99, jint(r, "errors", 0), ratio, target, target[0] ? ": " : "",
               verdict);
        json_object_put(r);
    }
    json_object_object_add(out, "scenarios", sc);
    /* The outbox's cost: the journey with its triggers off and on, in the
     * order off, on (the runs above), on, off (bench/run): the mean of each
     * side, so a drift over the runs weighs on both alike. A hold writes no
     * outbox row, so reserve is not compared. */
    {
        static const char *const costly[] = {"journey"};
        static const char *const sides[2][2] = {{"_no_outbox", "_no_outbox_2"}, {"", "_outbox_2"}};
        /* A journey's requests include a seat map and a hold more for every
         * seat someone took first: journeys are what it does. */
        static const char *const metric[] = {"journeys_per_s"};
        struct json_object *cost = NULL;

        for (size_t i = 0; i < sizeof costly / sizeof costly[0]; i++) {
            double mean[2];
            int runs[2];
            struct json_object *o;

            for (int side = 0; side < 2; side++)
                mean[side] = mean_of_runs(dir, costly[i], sides[side], metric[i], &runs[side]);
            if (runs[0] == 0 || runs[1] == 0)
                continue;
            if (!cost) {
                cost = json_object_new_object();
                printf("\nthe outbox's cost (the same scenario with its triggers off and on, off-on-on-off):\n");
            }
            o = json_object_new_object();
            json_object_object_add(o, "measure", json_object_new_string(metric[i]));
            json_object_object_add(o, "without", json_object_new_double(mean[0]));
            json_object_object_add(o, "with", json_object_new_double(mean[1]));
            json_object_object_add(o, "runs", json_object_new_int(runs[0] + runs[1]));
            json_object_object_add(o, "cost",
                                   json_object_new_double((double)(int64_t)((1 - mean[1] / mean[0]) * 1000) / 1000));
            json_object_object_add(cost, costly[i], o);
            printf("  %-8s %9.1f %s without, %9.1f with (means of %d and %d runs): %+.1f%%\n", costly[i],
                   mean[0], metric[i], mean[1], runs[0], runs[1], (mean[1] / mean[0] - 1) * 100);
        }
        json_object_object_add(out, "outbox_cost", cost);
    }
    json_object_object_add(out, "kafka_cost", kafka_cost(dir));
    {
        struct json_object *login;
        if (json_object_object_get_ex(sc, "login", &login) && json_object_object_get_ex(login, "rps", NULL)) {
            double lps = jnum(login, "rps", 0);
            json_object_object_add(out, "logins_per_second", json_object_new_double(lps));
            printf("\nlogins per second (Argon2id at the configured cost): %.1f\n", lps);
        }
    }
    if (drop) {
        struct json_object *v, *db = load_json(dir, "drop_db.json");

        /* PostgreSQL's own count joins the client's: a seat in two confirmed
         * reservations counts as sold twice whoever noticed it. */
        if (db) {
            json_object_object_foreach(db, key, val)
                json_object_object_add(drop, key, json_object_get(val));
            if (jint(db, "sold_twice_db", 0) > jint(drop, "sold_twice", 0))
                json_object_object_add(drop, "sold_twice", json_object_new_int64(jint(db, "sold_twice_db", 0)));
            json_object_put(db);
        }
        int sold_out = json_object_object_get_ex(drop, "seconds_to_sell_out", &v) && v;
        printf("\ndrop: %" PRId64 " users, %" PRId64 " seats: sold %" PRId64 ", sold twice %" PRId64
               ", ", jint(drop, "users", 0), jint(drop, "seats", 0), jint(drop, "sold", 0),
               jint(drop, "sold_twice", 0));
        if (sold_out)
            printf("sold out %.2f s after the opening", jnum(drop, "seconds_to_sell_out", 0));
        else
            printf("NOT sold out");
        printf(", %" PRId64 " waiting at most, polls %" PRId64 "/s at the peak, %.0f/s on average, %.0f/s once "
               "all had arrived (told %.1f s apart on average), Redis memory at most %.1f MB",
               jint(drop, "waiting_peak", 0), jint(drop, "polls_peak_per_s", 0), jnum(drop, "polls_mean_per_s", 0),
               jnum(drop, "polls_per_s_all_arrived", 0), jnum(drop, "poll_after_mean_s", 0),
               jnum(drop, "redis_used_memory_peak_mb", 0));
        /* Met: sold out, nothing twice, and the crowd's polling under 5,000 a second. */
        printf(", tokens issued %.0f/s (%" PRId64 " in the busiest second)", jnum(drop, "issue_rate_per_s", 0),
               jint(drop, "issue_peak_per_s", 0));
        /* SLOWLOG keeps what took 10 ms or more (bench/run): none is 0. */
        if (jnum(drop, "redis_longest_command_ms", 0) > 0)
            printf(", the longest Redis command %.1f ms", jnum(drop, "redis_longest_command_ms", 0));
        else
            printf(", no Redis command of 10 ms or more");
        printf(", poll p99 %.1f ms (max %.1f), estimates up more than 20%% in %.3f%% of polls",
               jnum(drop, "poll_p99_ms", 0), jnum(drop, "poll_max_ms", 0),
               100 * jnum(drop, "estimate_grew_20pct_share", 0));
        printf(", admission %.0f/s (%" PRId64 " admitted after waiting), %" PRId64 " errors: %s\n",
               jnum(drop, "admission_rate_per_s", 0), jint(drop, "admitted_after_waiting", 0),
               jint(drop, "errors", 0),
               sold_out && jint(drop, "sold", 0) == jint(drop, "seats", -1) &&
               jint(drop, "sold_twice", 1) == 0 && jint(drop, "polls_peak_per_s", 5000) < 5000 ? "met" : "NOT met");
        json_object_object_add(out, "drop", drop);
    } else {
        json_object_object_add(out, "drop", NULL);
        printf("\ndrop: skipped\n");
    }
    json_object_object_add(out, "drop_cluster", cluster_drop(dir));
    f = open_data(dir, "rss_kb.txt", "r");
    if (f) {
        if (fscanf(f, "%ld", &rss) != 1)
            rss = 0;
        fclose(f);
    }
    json_object_object_add(out, "responder_rss_kb", json_object_new_int64(rss));
    printf("responder max RSS: %ld kB\n", rss);
    if (machine)
        json_object_object_add(out, "machine", machine);
    if (json_object_to_file_ext(outfile, out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) != 0)
        die("cannot write %s", outfile);
    write_markdown(out, outfile);
    json_object_put(out);
    json_object_put(ceiling);
    return 0;
}

int main(int argc, char **argv)
{
    rng_state = (uint64_t)now_us() | 1;
    if (sodium_init() < 0)
        die("libsodium cannot be initialised");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc == 6 && strcmp(argv[1], "users") == 0)
        return cmd_users(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc == 5 && strcmp(argv[1], "setup") == 0)
        return cmd_setup(argv[2], argv[3], argv[4]);
    if (argc == 8 && strcmp(argv[1], "journey") == 0)
        return cmd_journey(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argv[7]);
    if ((argc == 9 || argc == 10) && strcmp(argv[1], "drop") == 0)
        return cmd_drop(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), argv[8],
                        argc == 10 ? drop_name(argv[9]) : "drop");
    if (argc == 7 && strcmp(argv[1], "users-split") == 0)
        return cmd_users_split(argv[2], atol(argv[3]), atoi(argv[4]), drop_name(argv[5]), argv[6]);
    if (argc == 8 && strcmp(argv[1], "drop-concerts") == 0)
        return cmd_drop_concerts(argv[2], argv[3], argv[4], drop_name(argv[5]), atoi(argv[6]), argv[7]);
    if (argc == 4 && strcmp(argv[1], "report") == 0)
        return cmd_report(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "slowlog") == 0)
        return cmd_slowlog(argv[2]);
    fprintf(stderr,
            "usage: concert-bench users DATADIR TTL_S DROP_USERS TOKEN_USERS\n"
            "       concert-bench setup BASE KEYFILE DATADIR\n"
            "       concert-bench journey BASE DATADIR CONNS WARMUP_S SECONDS OUTFILE\n"
            "       concert-bench drop BASE KEYFILE DATADIR USERS CONNS TIMEOUT_S OUTFILE [NAME]\n"
            "       concert-bench users-split DATADIR TTL_S COUNT NAME SLOTMAP\n"
            "       concert-bench drop-concerts BASE KEYFILE DATADIR NAME COUNT SLOTMAP\n"
            "       concert-bench report DATADIR OUTFILE\n"
            "       concert-bench slowlog SLOWLOG_JSON\n");
    return 2;
}
