/* testlib.c - HTTP client, JSON look-ups, direct state checks and process
 * races for the tests (see testlib.h). */
#include "testlib.h"
#include "tap.h"
#include "config.h"
#include "log.h"
#include "rand.h"
#include "rds.h"
#include "session.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>

int t_transport_quiet;
static CURL *t_curl;
static pid_t t_curl_pid;
static PGconn *t_pg;
static pid_t t_pg_pid;

void t_init(void)
{
    if (!getenv("CONCERT_BASE_URL") || !*getenv("CONCERT_BASE_URL"))
        skip_all("CONCERT_BASE_URL is not set (run through ./dev test)");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* What the library logs in this program (a refused connection in a
     * fault story, a pre-queue opened) goes beside the servers' logs, so
     * that the output shows the tests' own story and their diag(). */
    if (getenv("CONCERT_VAR")) {
        char path[1024];
        FILE *f;
        snprintf(path, sizeof path, "%s/log/tests.log", getenv("CONCERT_VAR"));
        f = fopen(path, "a");
        if (f)
            log_set_stream(f);
    }
}

const char *t_base_url(void)
{
    return getenv("CONCERT_BASE_URL");
}

const char *t_admin_key(void)
{
    const char *k = getenv("CONCERT_ADMIN_KEY");
    return k ? k : "";
}

struct t_buf {
    char *data;
    size_t len;
};

static size_t t_on_body(char *ptr, size_t size, size_t n, void *arg)
{
    struct t_buf *b = arg;
    size_t add = size * n;
    char *bigger = realloc(b->data, b->len + add + 1);

    if (!bigger)
        return 0;
    b->data = bigger;
    memcpy(b->data + b->len, ptr, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

static void t_copy_header(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nlen = strlen(name);
    size_t i, n = 0;

    if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return;
    for (i = nlen + 1; i < len && line[i] == ' '; i++)
        ;
    while (i < len && line[i] != '\r' && line[i] != '\n' && n + 1 < cap)
        dst[n++] = line[i++];
    dst[n] = '\0';
}

static size_t t_on_header(char *ptr, size_t size, size_t n, void *arg)
{
    struct t_resp *r = arg;
    size_t len = size * n;

    t_copy_header(ptr, len, "Content-Type", r->content_type, sizeof r->content_type);
    t_copy_header(ptr, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    t_copy_header(ptr, len, "Allow", r->allow, sizeof r->allow);
    t_copy_header(ptr, len, "X-Request-Id", r->request_id, sizeof r->request_id);
    return len;
}

int t_request(const char *method, const char *path, const char *const *headers,
              const char *body, struct t_resp *out)
{
    return t_request_from(NULL, method, path, headers, body, out);
}

int t_request_from(const char *from, const char *method, const char *path, const char *const *headers,
                   const char *body, struct t_resp *out)
{
    struct curl_slist *list = NULL;
    struct t_buf buf = {NULL, 0};
    char *url, iface[64];
    CURLcode rc;

    memset(out, 0, sizeof *out);
    if (!t_curl || t_curl_pid != getpid()) {
        /* A forked child must not share its parent's connections. */
        t_curl = curl_easy_init();
        t_curl_pid = getpid();
        if (!t_curl)
            return -1;
    }
    curl_easy_reset(t_curl);
    url = malloc(strlen(t_base_url()) + strlen(path) + 1);
    if (!url)
        return -1;
    strcpy(url, t_base_url());
    strcat(url, path);
    curl_easy_setopt(t_curl, CURLOPT_URL, url);
    curl_easy_setopt(t_curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(t_curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(t_curl, CURLOPT_WRITEFUNCTION, t_on_body);
    curl_easy_setopt(t_curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(t_curl, CURLOPT_HEADERFUNCTION, t_on_header);
    curl_easy_setopt(t_curl, CURLOPT_HEADERDATA, out);
    if (from) {
        snprintf(iface, sizeof iface, "host!%s", from);
        curl_easy_setopt(t_curl, CURLOPT_INTERFACE, iface);
        /* libcurl would hand a connection bound to `from` to a later
         * request that names no address: close it after this one. */
        curl_easy_setopt(t_curl, CURLOPT_FORBID_REUSE, 1L);
    }
    if (body) {
        curl_easy_setopt(t_curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(t_curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        list = curl_slist_append(list, "Content-Type: application/json");
    }
    list = curl_slist_append(list, "Expect:");
    for (const char *const *h = headers; h && *h; h++)
        list = curl_slist_append(list, *h);
    curl_easy_setopt(t_curl, CURLOPT_HTTPHEADER, list);
    rc = curl_easy_perform(t_curl);
    curl_slist_free_all(list);
    free(url);
    if (rc != CURLE_OK) {
        free(buf.data);
        if (!t_transport_quiet)
            diag("%s %s%s%s: %s", method, path, from ? " from " : "", from ? from : "", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(t_curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = buf.data ? buf.data : strdup("");
    out->len = buf.len;
    out->json = out->body ? json_tokener_parse(out->body) : NULL;
    return 0;
}

void t_resp_free(struct t_resp *r)
{
    free(r->body);
    json_object_put(r->json);
    memset(r, 0, sizeof *r);
}

static int t_with_token(const char *method, const char *path, const char *token,
                        const char *body, struct t_resp *out)
{
    char auth[256];
    const char *headers[] = {auth, NULL};

    if (!token)
        return t_request(method, path, NULL, body, out);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    return t_request(method, path, headers, body, out);
}

int t_get(const char *path, const char *token, struct t_resp *out)
{
    return t_with_token("GET", path, token, NULL, out);
}

int t_post(const char *path, const char *token, const char *body, struct t_resp *out)
{
    return t_with_token("POST", path, token, body, out);
}

int t_delete(const char *path, const char *token, struct t_resp *out)
{
    return t_with_token("DELETE", path, token, NULL, out);
}

int t_answers_error(const char *method, const char *path, const char *token, const char *body, long status,
                    const char *code)
{
    struct t_resp r;
    int pass;

    t_with_token(method, path, token, body, &r);
    pass = r.status == status && strcmp(t_error_code(&r), code) == 0;
    if (!pass)
        diag("%s %s: wanted %ld %s, got %ld %.200s", method, path, status, code, r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return pass;
}

int t_answers_405(const char *method, const char *path, const char *token, const char *body, const char *allow)
{
    struct t_resp r;
    int pass;

    t_with_token(method, path, token, body, &r);
    pass = r.status == 405 && strcmp(t_error_code(&r), "METHOD_NOT_ALLOWED") == 0 && strstr(r.allow, allow);
    if (!pass)
        diag("%s %s: wanted 405 with Allow: %s, got %ld (Allow: %s) %.200s", method, path, allow, r.status, r.allow,
             r.body ? r.body : "");
    t_resp_free(&r);
    return pass;
}

const char *t_poll(const char *token, long *http, int64_t *position)
{
    static char answer[32];
    struct t_resp r;
    const char *s;

    t_get("/api/v1/queue/status", token, &r);
    *http = r.status;
    s = r.status == 200 ? t_json_str(r.json, "status") : t_error_code(&r);
    snprintf(answer, sizeof answer, "%s", s ? s : "");
    if (position)
        *position = t_json_int(r.json, "position");
    t_resp_free(&r);
    return answer;
}

struct json_object *t_json_at(struct json_object *root, const char *path)
{
    char part[128];
    struct json_object *cur = root;

    while (cur && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        path += n + (path[n] == '.');
        if (json_object_is_type(cur, json_type_array)) {
            char *end;
            long idx = strtol(part, &end, 10);
            if (*end || idx < 0 || (size_t)idx >= json_object_array_length(cur))
                return NULL;
            cur = json_object_array_get_idx(cur, (size_t)idx);
        } else if (json_object_is_type(cur, json_type_object)) {
            if (!json_object_object_get_ex(cur, part, &cur))
                return NULL;
        } else {
            return NULL;
        }
    }
    return cur;
}

const char *t_json_str(struct json_object *root, const char *path)
{
    struct json_object *v = t_json_at(root, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t t_json_int(struct json_object *root, const char *path)
{
    struct json_object *v = t_json_at(root, path);
    return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

const char *t_error_code(const struct t_resp *r)
{
    const char *c = t_json_str(r->json, "error.code");
    return c ? c : "";
}

void t_uuid(char out[37])
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    int j = 0;

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        abort();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[j] = '\0';
}

void t_time_from_now(long seconds, char out[32])
{
    time_t t = time(NULL) + seconds;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t t_create_concert(int active_limit, int active_seconds, int waiting_idle_seconds,
                         int hold_seconds, int nschedules, int seat_count, int64_t price,
                         int64_t *schedule_ids)
{
    struct json_object *body = json_object_new_object(), *scheds = json_object_new_array();
    char auth[320], title[64];
    const char *headers[] = {auth, NULL};
    struct t_resp r;
    int64_t id = -1;

    snprintf(title, sizeof title, "Test concert %ld-%d", (long)time(NULL), (int)getpid());
    json_object_object_add(body, "title", json_object_new_string(title));
    json_object_object_add(body, "venue", json_object_new_string("Test hall"));
    json_object_object_add(body, "activeLimit", json_object_new_int(active_limit));
    json_object_object_add(body, "activeSeconds", json_object_new_int(active_seconds));
    json_object_object_add(body, "waitingIdleSeconds", json_object_new_int(waiting_idle_seconds));
    json_object_object_add(body, "holdSeconds", json_object_new_int(hold_seconds));
    for (int i = 0; i < nschedules; i++) {
        struct json_object *s = json_object_new_object();
        char when[32];
        t_time_from_now(86400L * (i + 1), when);
        json_object_object_add(s, "startsAt", json_object_new_string(when));
        json_object_object_add(s, "seatCount", json_object_new_int(seat_count));
        json_object_object_add(s, "price", json_object_new_int64(price));
        json_object_array_add(scheds, s);
    }
    json_object_object_add(body, "schedules", scheds);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    if (t_request("POST", "/api/v1/admin/concerts", headers, json_object_to_json_string(body), &r) == 0 &&
        r.status == 201) {
        id = t_json_int(r.json, "concertId");
        for (int i = 0; i < nschedules && schedule_ids; i++) {
            char path[32];
            snprintf(path, sizeof path, "scheduleIds.%d", i);
            schedule_ids[i] = t_json_int(r.json, path);
        }
    } else {
        diag("creating a concert failed: %ld %s", r.status, r.body ? r.body : "");
    }
    t_resp_free(&r);
    json_object_put(body);
    return id;
}

int64_t t_create_concert_or_bail(int active_limit, int active_seconds, int waiting_idle_seconds,
                                 int hold_seconds, int nschedules, int seat_count, int64_t price,
                                 int64_t *schedule_ids)
{
    int64_t id = t_create_concert(active_limit, active_seconds, waiting_idle_seconds, hold_seconds, nschedules,
                                  seat_count, price, schedule_ids);

    if (id < 0)
        bail_out("cannot create a concert (admin API)");
    return id;
}

int64_t t_create_concert_json(const char *body, int64_t *schedule_ids, int n)
{
    char auth[400];
    const char *headers[] = {auth, NULL};
    struct t_resp r;
    int64_t id;

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    t_request("POST", "/api/v1/admin/concerts", headers, body, &r);
    id = r.status == 201 ? t_json_int(r.json, "concertId") : -1;
    for (int i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "scheduleIds.%d", i);
        schedule_ids[i] = t_json_int(r.json, path);
    }
    if (id < 0)
        diag("creating a concert failed: %ld %s", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    return id;
}

int t_move_show(int64_t schedule_id, const char *ago)
{
    char sid[24];
    const char *p[] = {sid, ago};

    snprintf(sid, sizeof sid, "%" PRId64, schedule_id);
    return t_pg_int("UPDATE schedules SET starts_at = now() - $2::interval WHERE id = $1::bigint RETURNING 1", 2, p) == 1
               ? 0
               : -1;
}

int64_t t_create_opening_concert(long opens_in, int waiting_idle_seconds, char opens[32])
{
    char body[512], when[32];
    int64_t sched[1];

    t_time_from_now(opens_in, opens);
    t_time_from_now(86400, when);
    snprintf(body, sizeof body,
             "{\"title\":\"drop\",\"activeLimit\":1,\"waitingIdleSeconds\":%d,\"opensAt\":\"%s\","
             "\"schedules\":[{\"startsAt\":\"%s\",\"seatCount\":5}]}", waiting_idle_seconds, opens, when);
    return t_create_concert_json(body, sched, 1);
}

int t_set_seat(int64_t schedule_id, int seat_no, const char *status, const char *held_for)
{
    char sid[24], sno[12];
    const char *p[] = {status, sid, sno, held_for};
    int64_t n;

    snprintf(sid, sizeof sid, "%lld", (long long)schedule_id);
    snprintf(sno, sizeof sno, "%d", seat_no);
    n = t_pg_int("UPDATE seats SET status = $1, reservation_id = CASE WHEN $1 <> 'AVAILABLE' THEN 0 END,"
                 " held_until = CASE WHEN $1 = 'HELD' THEN now() + $4::interval END"
                 " WHERE schedule_id = $2 AND seat_no = $3 RETURNING seat_no", 4, p);
    if (n != seat_no)
        return -1;
    /* Tell the Redis seat map, as every change through the API does (here
     * by dropping it, as a change it cannot follow does), and drop the
     * second-long copy of the shows list: these tests are about the reading
     * rules. t/33 changes PostgreSQL without a word. */
    {
        const char *q[] = {sid};
        char key[80], shows[48];
        int64_t concert = t_pg_int("SELECT concert_id FROM schedules WHERE id = $1::bigint", 1, q);
        const char *bump[] = {"HINCRBY", key, "_v", "1"};
        const char *drop[] = {"HDEL", key, "_ok"};
        const char *del[] = {"DEL", shows};
        snprintf(key, sizeof key, "{c:%lld}:seatmap:%s", (long long)concert, sid);
        snprintf(shows, sizeof shows, "{c:%lld}:shows", (long long)concert);
        if (t_redis_cmd(4, bump) < 0 || t_redis_cmd(3, drop) < 0 || t_redis_cmd(2, del) < 0)
            return -1;
    }
    return 0;
}

/* The users t_user made: their ids and sessions, in order. */
struct t_user_entry {
    char id[37];
    char session[SESSION_TEXT_LEN + 1];
};
static struct t_user_entry *t_users;
static size_t t_nusers, t_users_cap;

/* Argon2id (m = 19 MiB, t = 2: the default cost) of T_USER_PASSWORD. */
static const char t_user_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$SjWzFQUJS3DlaFUd8sTaNg$aecVMbP5rguEl/Pz6ELx9N1fF/FTx1nMrU/yv8w/VAc";

/* Set while t_user_try runs: a store that is down is its answer, not news. */
static int t_quiet;

static int t_redis_ok(int argc, const char **argv);

void t_use_config(void)
{
    if (config_load(&g_config) < 0)
        bail_out("cannot load the config file (CONCERT_CONF)");
}

const char *t_token_id(const char *token)
{
    static char id[256];
    const char *dot = token ? strrchr(token, '.') : NULL;

    snprintf(id, sizeof id, "%.*s", dot ? (int)(dot - token) : 0, dot ? token : "");
    return id;
}

/* The session TTL from the stack's config file, read once. */
static long t_session_ttl(void)
{
    static long ttl;
    struct config c;

    if (!ttl) {
        if (config_load(&c) < 0)
            bail_out("t_user: cannot load the config file (CONCERT_CONF)");
        ttl = c.session_ttl_seconds;
        config_free(&c);
    }
    return ttl;
}

static int t_start_session(struct t_user_entry *e, const char *user_id);

int t_user_try(char id[37])
{
    char email[64];
    const char *p[3];
    struct t_user_entry *e;
    char *made;
    int rc = -1;

    if (t_nusers == t_users_cap) {
        size_t cap = t_users_cap ? 2 * t_users_cap : 64;
        struct t_user_entry *bigger = realloc(t_users, cap * sizeof *bigger);
        if (!bigger)
            return -1;
        t_users = bigger;
        t_users_cap = cap;
    }
    e = &t_users[t_nusers];
    t_session_ttl();   /* read the config file before going quiet */
    t_uuid(id);
    snprintf(email, sizeof email, "t-%s@example.test", id);
    p[0] = id;
    p[1] = email;
    p[2] = t_user_hash;
    t_quiet = 1;
    made = t_pg_value("WITH u AS (INSERT INTO users (id) VALUES ($1::uuid) RETURNING id)"
                      " INSERT INTO accounts (user_id, email, password_hash)"
                      " SELECT id, $2, $3 FROM u RETURNING user_id", 3, p);
    if (made && strcmp(made, id) == 0 && t_start_session(e, id) == 0) {
        memcpy(e->id, id, 37);
        t_nusers++;
        rc = 0;
    }
    t_quiet = 0;
    free(made);
    return rc;
}

void t_user(char id[37])
{
    if (t_user_try(id) < 0)
        bail_out("t_user: PostgreSQL or Redis did not take the user and its session");
}

char *t_active_user(int64_t concert_id, char id[37])
{
    t_user(id);
    return t_active_token(concert_id, id);
}

int t_active_users(int64_t concert_id, ...)
{
    va_list ap;
    char *id;
    int rc = 0;

    va_start(ap, concert_id);
    while ((id = va_arg(ap, char *)) != NULL) {
        char **token = va_arg(ap, char **);
        *token = t_active_user(concert_id, id);
        if (!*token)
            rc = -1;
    }
    va_end(ap);
    return rc;
}

char *t_queued_user(int64_t concert_id, char id[37])
{
    struct t_resp r;
    char *tok;

    t_user(id);
    tok = t_issue_token(concert_id, id, &r);
    t_resp_free(&r);
    return tok;
}

/* A new session for e's user, in e->session. */
static int t_start_session(struct t_user_entry *e, const char *user_id)
{
    char key[SESSION_KEY_SIZE], ttl[24];
    const char *set[] = {"SET", key, user_id, "EX", ttl, "NX"};

    snprintf(ttl, sizeof ttl, "%ld", t_session_ttl());
    if (rand_hex(e->session, SESSION_BYTES) < 0)
        return -1;
    session_key(e->session, key);
    return t_redis_ok(6, set);
}

void t_log_in_again(const char *user_id)
{
    for (size_t i = 0; i < t_nusers; i++)
        if (strcmp(t_users[i].id, user_id) == 0) {
            if (t_start_session(&t_users[i], user_id) < 0)
                bail_out("t_log_in_again: Redis did not take the session");
            return;
        }
    bail_out("t_log_in_again: not a user t_user made");
}

const char *t_session(const char *user_id)
{
    for (size_t i = 0; i < t_nusers; i++)
        if (strcmp(t_users[i].id, user_id) == 0)
            return t_users[i].session;
    return NULL;
}

int t_get_as(const char *user_id, const char *path, struct t_resp *out)
{
    return t_get(path, t_session(user_id), out);
}

int t_post_as(const char *user_id, const char *path, const char *body, struct t_resp *out)
{
    return t_post(path, t_session(user_id), body, out);
}

char *t_issue_token(int64_t concert_id, const char *user_id, struct t_resp *out)
{
    char body[64];
    const char *tok;

    snprintf(body, sizeof body, "{\"concertId\":%lld}", (long long)concert_id);
    if (t_post_as(user_id, "/api/v1/queue/tokens", body, out) < 0)
        return NULL;
    tok = t_json_str(out->json, "token");
    return tok ? strdup(tok) : NULL;
}

char *t_active_token(int64_t concert_id, const char *user_id)
{
    struct t_resp r;
    char *tok = t_issue_token(concert_id, user_id, &r);
    const char *status = t_json_str(r.json, "status");

    if (!tok || !status || strcmp(status, "ACTIVE") != 0) {
        diag("expected an ACTIVE token, got %ld %s", r.status, r.body ? r.body : "");
        free(tok);
        tok = NULL;
    }
    t_resp_free(&r);
    return tok;
}

static PGconn *t_pg_conn(void)
{
    if (!t_pg || t_pg_pid != getpid() || PQstatus(t_pg) != CONNECTION_OK) {
        const char *info = getenv("CONCERT_PG");
        t_pg = PQconnectdb(info ? info : "");
        t_pg_pid = getpid();
        if (PQstatus(t_pg) != CONNECTION_OK && !t_quiet)
            diag("postgres: %s", PQerrorMessage(t_pg));
    }
    return t_pg;
}

void t_pg_reset(void)
{
    if (t_pg && t_pg_pid == getpid())
        PQfinish(t_pg);
    t_pg = NULL;
}

char *t_pg_value(const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(t_pg_conn(), sql, nparams, NULL, params, NULL, NULL, 0);
    char *v = NULL;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = strdup(PQgetvalue(res, 0, 0));
    else if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK && !t_quiet)
        diag("postgres: %s", PQresultErrorMessage(res));
    PQclear(res);
    return v;
}

int64_t t_pg_int(const char *sql, int nparams, const char *const *params)
{
    char *v = t_pg_value(sql, nparams, params);
    int64_t n = v ? strtoll(v, NULL, 10) : -1;

    free(v);
    return n;
}

/* The stack's Redis password (CONCERT_REDIS_PASSWORD_FILE) into password,
 * "" when there is none. */
static void t_redis_password(char *password, size_t cap)
{
    const char *pwfile = getenv("CONCERT_REDIS_PASSWORD_FILE");
    FILE *f;

    password[0] = '\0';
    if (!pwfile || !*pwfile || !(f = fopen(pwfile, "r")))
        return;
    if (!fgets(password, (int)cap, f))
        password[0] = '\0';
    password[strcspn(password, "\r\n")] = '\0';
    fclose(f);
}

/* Sends AUTH when there is a password; 0 when Redis took it. */
static int t_redis_auth(redisContext *c, const char *password)
{
    redisReply *r;
    int rc;

    if (!*password)
        return 0;
    r = redisCommand(c, "AUTH %s", password);
    rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* The stack's Redis primary: with CONCERT_REDIS_SENTINELS (the several-hosts
 * stack) the one the Sentinels name, logged in with the password in
 * CONCERT_REDIS_PASSWORD_FILE; else 127.0.0.1:CONCERT_REDIS_PORT. NULL or a
 * context with err set when there is none to reach. */
static redisContext *t_redis_connect(void)
{
    const char *sentinels = getenv("CONCERT_REDIS_SENTINELS");
    const char *port = getenv("CONCERT_REDIS_PORT");
    char host[64] = "127.0.0.1", password[600];
    int p = port ? atoi(port) : 6379;
    struct timeval tv = {2, 0};
    redisContext *c;

    t_redis_password(password, sizeof password);
    while (sentinels && *sentinels) {
        size_t len = strcspn(sentinels, ",");
        char one[80];
        char *colon;

        snprintf(one, sizeof one, "%.*s", (int)len, sentinels);
        sentinels += len + (sentinels[len] == ',');
        colon = strrchr(one, ':');
        if (!colon)
            continue;
        *colon = '\0';
        redisContext *s = redisConnectWithTimeout(one, atoi(colon + 1), tv);
        if (s && !s->err && redisSetTimeout(s, tv) == REDIS_OK && t_redis_auth(s, password) == 0) {
            redisReply *r = redisCommand(s, "SENTINEL get-master-addr-by-name concert");
            int found = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
            if (found) {
                snprintf(host, sizeof host, "%s", r->element[0]->str);
                p = atoi(r->element[1]->str);
            }
            if (r)
                freeReplyObject(r);
            redisFree(s);
            if (found)
                break;
            continue;
        }
        if (s)
            redisFree(s);
    }
    c = redisConnectWithTimeout(host, p, tv);
    if (c && !c->err && (redisSetTimeout(c, tv) != REDIS_OK || t_redis_auth(c, password) < 0)) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* With CONCERT_REDIS_CLUSTER (a test on the three-primary cluster, or the
 * several-hosts stack's): the command goes where the service's own routing
 * sends it, on a context of its own (made per call, as the connection below
 * is: a forked client shares nothing with its parent). */
static redisReply *t_redis_cluster(const char *nodes, int argc, const char **argv)
{
    struct rds *r = rds_new(NULL, 0, 2000);
    redisReply *reply = NULL;
    char password[600];

    t_redis_password(password, sizeof password);
    if (r && rds_set_cluster(r, nodes, password[0] ? password : NULL) == 0)
        reply = rds_command_reply_on(r, argc, argv);
    if (!reply && !t_quiet)
        diag("redis cluster %s: no reply to %s", nodes, argv[0]);
    rds_free(r);
    return reply;
}

redisReply *t_redis(int argc, const char **argv)
{
    const char *cluster = getenv("CONCERT_REDIS_CLUSTER");
    redisContext *c;
    redisReply *reply = NULL;

    if (cluster && *cluster)
        return t_redis_cluster(cluster, argc, argv);
    c = t_redis_connect();
    if (c && !c->err)
        reply = redisCommandArgv(c, argc, argv, NULL);
    else if (!t_quiet)
        diag("redis: %s", c ? c->errstr : "no primary, or AUTH refused");
    if (c)
        redisFree(c);
    return reply;
}

redisReply *t_redis_try(int argc, const char **argv)
{
    int was = t_quiet;
    redisReply *reply;

    t_quiet = 1;
    reply = t_redis(argc, argv);
    t_quiet = was;
    return reply;
}

long long t_reply_int(redisReply *r)
{
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

    if (r)
        freeReplyObject(r);
    return v;
}

int t_reply_cmd(redisReply *r)
{
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;

    if (r)
        freeReplyObject(r);
    return rc;
}

long long t_redis_int(int argc, const char **argv)
{
    return t_reply_int(t_redis(argc, argv));
}

/* 0 when Redis answered a command with OK. */
static int t_redis_ok(int argc, const char **argv)
{
    redisReply *r = t_redis(argc, argv);
    int rc = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0 ? 0 : -1;

    if (r)
        freeReplyObject(r);
    return rc;
}

int t_redis_cmd(int argc, const char **argv)
{
    return t_reply_cmd(t_redis(argc, argv));
}

/* --- the tests' Lua (t/lua/) --------------------------------------------- */

/* The source tree this library was built from, whichever build folder
 * (build/, build-asan/, a tarball's) it was built in: the scripts are not
 * built, so they are read where they are kept. */
#ifndef T_SRCDIR
#error "T_SRCDIR (the source tree, for t/lua/) is set by Makefile.am"
#endif

char *t_lua(const char *name)
{
    char path[4096], why[4200];
    FILE *f;
    char *text = NULL;
    size_t used = 0, cap = 0;
    int n = snprintf(path, sizeof path, "%s/t/lua/%s.lua", T_SRCDIR, name);

    if (n < 0 || (size_t)n >= sizeof path || strchr(name, '/'))
        bail_out("t_lua: not a script's name");
    f = fopen(path, "r");
    if (!f) {
        snprintf(why, sizeof why, "t_lua: cannot read %s: %s", path, strerror(errno));
        bail_out(why);
    }
    for (;;) {
        if (cap - used < 4096) {
            char *bigger = realloc(text, cap + 4096 + 1);
            if (!bigger)
                bail_out("t_lua: out of memory");
            text = bigger;
            cap += 4096;
        }
        size_t got = fread(text + used, 1, cap - used, f);
        used += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(why, sizeof why, "t_lua: cannot read %s", path);
        bail_out(why);
    }
    fclose(f);
    text[used] = '\0';
    return text;
}

redisReply *t_redis_eval_file(const char *name, int nkeys, ...)
{
    enum { MAX_WORDS = 16 };
    const char *argv[3 + MAX_WORDS];
    char n[16];
    int argc = 3;
    const char *word;
    redisReply *r;
    va_list ap;

    snprintf(n, sizeof n, "%d", nkeys);
    argv[0] = "EVAL";
    argv[1] = t_lua(name);
    argv[2] = n;
    va_start(ap, nkeys);
    while ((word = va_arg(ap, const char *)) != NULL) {
        if (argc == 3 + MAX_WORDS)
            bail_out("t_redis_eval_file: more keys and arguments than it takes");
        argv[argc++] = word;
    }
    va_end(ap);
    if (nkeys < 0 || nkeys > argc - 3)
        bail_out("t_redis_eval_file: fewer keys than nkeys");
    r = t_redis(argc, argv);
    free((char *)argv[1]);
    return r;
}

redisContext *t_redis_monitor(void)
{
    redisContext *mon = t_redis_connect();
    redisReply *reply;

    if (!mon || mon->err)
        bail_out("cannot connect a MONITOR client");
    reply = redisCommand(mon, "MONITOR");
    if (!reply || reply->type != REDIS_REPLY_STATUS)
        bail_out("MONITOR refused");
    freeReplyObject(reply);
    return mon;
}

char *t_redis_monitor_line(redisContext *mon, int quiet_ms)
{
    struct timeval tv = {quiet_ms / 1000, (quiet_ms % 1000) * 1000};
    void *any;

    if (redisSetTimeout(mon, tv) != REDIS_OK)
        return NULL;
    while (redisGetReply(mon, &any) == REDIS_OK && any) {
        redisReply *r = any;
        char *line = r->type == REDIS_REPLY_STATUS ? strdup(r->str) : NULL;

        freeReplyObject(r);
        if (line)
            return line;
    }
    return NULL;
}

int t_race(int n, int (*fn)(int i, void *arg), void *arg, int *results)
{
    int *shared = mmap(NULL, sizeof(int) * (size_t)n, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int go[2];
    int all_ran = 1;
    pid_t *pids;

    if (shared == MAP_FAILED || pipe(go) < 0)
        return -1;
    pids = calloc((size_t)n, sizeof *pids);
    if (!pids)
        return -1;
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            close(go[1]);
            /* Wait until every child exists, then all start at once. */
            if (read(go[0], &c, 1) < 0)
                _exit(2);
            shared[i] = fn(i, arg);
            _exit(0);
        }
        pids[i] = pid;
        shared[i] = -1;
    }
    close(go[0]);
    close(go[1]);   /* EOF releases every child together */
    for (int i = 0; i < n; i++) {
        int st;
        if (pids[i] <= 0 || waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            all_ran = 0;
    }
    memcpy(results, shared, sizeof(int) * (size_t)n);
    munmap(shared, sizeof(int) * (size_t)n);
    free(pids);
    return all_ran ? 0 : -1;
}

long t_proc_read(const char *pid, const char *file, char *buf, size_t cap)
{
    char path[300];
    FILE *f;
    size_t n;

    if (cap == 0 || pid[0] < '1' || pid[0] > '9' || strspn(pid, "0123456789") != strlen(pid))
        return -1;
    snprintf(path, sizeof path, "/proc/%s/%s", pid, file);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

void t_tally_race(const int *results, int n, int won, int refused1, int refused2, struct t_race_tally *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        if (results[i] == won)
            out->won++;
        else if (results[i] == refused1 || (refused2 && results[i] == refused2))
            out->refused++;
        else
            out->other++;
    }
}

pid_t t_spawn(const char *program, char *const argv[], const char *out, const char *mode, int stderr_too)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (!freopen(out, mode, stdout))
            _exit(126);
        if (stderr_too)
            dup2(1, 2);
        execv(program, argv);
        _exit(127);
    }
    return pid;
}

int t_unused_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

void t_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

double t_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long t_utc_seconds(const char *s)
{
    struct tm tm;
    const char *end;

    if (!s)
        return -1;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return end && !*end ? (long long)timegm(&tm) : -1;
}

void t_grep_logs(const char *dir, const char *needle, char *found, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char path[1024], line[8192];
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            t_grep_logs(path, needle, found, cap);
            continue;
        }
        f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            if (strstr(line, needle)) {
                snprintf(found + strlen(found), cap - strlen(found), " %s", path);
                break;
            }
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
}

/* --- the cron program -------------------------------------------------- */

static char t_cron[4096];

const char *t_cron_path(void)
{
    return t_cron;
}

void t_find_cron(const char *argv0)
{
    const char *env = getenv("CONCERT_CRON");
    const char *build = getenv("CONCERT_BUILD");

    if (env && *env)
        snprintf(t_cron, sizeof t_cron, "%s", env);
    else if (build && *build)
        snprintf(t_cron, sizeof t_cron, "%s/cron/concert-cron", build);
    else {
        /* The test binary sits in <build>/t/. */
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", argv0);
        snprintf(t_cron, sizeof t_cron, "%s/../cron/concert-cron", dirname(copy));
    }
}
/* Runs the cron program with conf as CONCERT_CONF (NULL: the stack's);
 * captures its output in out. Returns its exit status, or -1. */
int t_run_cron(const char *conf, char *out, size_t cap)
{
    int pipefd[2], st;
    size_t used = 0;
    pid_t pid;

    out[0] = '\0';
    if (pipe(pipefd) < 0)
        return -1;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        if (conf)
            setenv("CONCERT_CONF", conf, 1);
        execl(t_cron, t_cron, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        ssize_t n = read(pipefd[0], out + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used == cap - 1)
            break;
    }
    out[used] = '\0';
    close(pipefd[0]);
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
/* Takes the cron lock for the test (waiting out a run that holds it). */
int t_hold_cron_lock(const char *owner)
{
    for (int i = 0; i < 120; i++) {
        if (t_redis_eval_int("lock_take", 1, T_CRON_LOCK, owner, "60000", NULL) == 1)
            return 0;
        t_sleep_ms(500);
    }
    return -1;
}
/* Gives the test's cron lock back: 1 when it was still ours. */
long long t_free_cron_lock(const char *owner)
{
    return t_redis_eval_int("lock_free", 1, T_CRON_LOCK, owner, NULL);
}

/* --- /metrics ------------------------------------------------------------ */

char *t_metrics(long *status, char content_type[128])
{
    char auth[300];
    const char *headers[] = {auth, NULL};
    struct t_resp r;
    char *body;

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    t_request("GET", "/metrics", headers, NULL, &r);
    *status = r.status;
    if (content_type)
        snprintf(content_type, 128, "%s", r.content_type);
    body = r.body ? strdup(r.body) : NULL;
    t_resp_free(&r);
    return body;
}
/* The value of the sample whose name and labels are exactly series, or 0. */
double t_metrics_sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* --- the test stack's three-primary cluster ------------------------------- */

/* Each node's host by its port (every node of a cluster here has a port
 * of its own), from t_cluster_ports. */
static struct {
    int port;
    char host[64];
} t_cluster_hosts[T_CLUSTER_MAX];
static int t_cluster_nhosts;

static const char *t_cluster_host(int port)
{
    for (int i = 0; i < t_cluster_nhosts; i++)
        if (t_cluster_hosts[i].port == port)
            return t_cluster_hosts[i].host;
    return "127.0.0.1";
}

int t_cluster_ports(int ports[T_CLUSTER_MAX], char nodes[256])
{
    const char *list = getenv("CONCERT_CLUSTER_PORTS"), *several = getenv("CONCERT_HA_CLUSTER_NODES");
    int n = 0;

    nodes[0] = '\0';
    if (several && *several) {
        /* The several-hosts stack's: "addr:port,...". */
        snprintf(nodes, 256, "%s", several);
        while (*several && n < T_CLUSTER_MAX) {
            size_t len = strcspn(several, ",");
            const char *colon = memrchr(several, ':', len);

            if (colon && (size_t)(colon - several) < sizeof t_cluster_hosts[0].host) {
                ports[n] = atoi(colon + 1);
                t_cluster_hosts[n].port = ports[n];
                snprintf(t_cluster_hosts[n].host, sizeof t_cluster_hosts[0].host, "%.*s", (int)(colon - several),
                         several);
                n++;
            }
            several += len + (several[len] == ',');
        }
        t_cluster_nhosts = n;
        return n;
    }
    while (list && *list && n < T_CLUSTER_MAX) {
        char *end;
        long p = strtol(list, &end, 10);

        if (end == list)
            break;
        ports[n++] = (int)p;
        snprintf(nodes + strlen(nodes), 256 - strlen(nodes), "%s127.0.0.1:%ld", n > 1 ? "," : "", p);
        list = end + strspn(end, " ");
    }
    return n;
}

redisReply *t_node(int port, int argc, const char **argv)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(t_cluster_host(port), port, tv);
    redisReply *reply = NULL;
    char password[600];

    t_redis_password(password, sizeof password);
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK && t_redis_auth(c, password) == 0)
        reply = redisCommandArgv(c, argc, argv, NULL);
    if (c)
        redisFree(c);
    return reply;
}

long t_node_calls(int port, const char *command)
{
    const char *argv[] = {"INFO", "commandstats"};
    redisReply *r = t_node(port, 2, argv);
    char field[64];
    const char *at;
    long n = -1;

    snprintf(field, sizeof field, "cmdstat_%s:calls=", command);
    if (r && r->type == REDIS_REPLY_STRING)
        n = (at = strstr(r->str, field)) != NULL ? atol(at + strlen(field)) : 0;
    if (r)
        freeReplyObject(r);
    return n;
}

/* The node's id (CLUSTER MYID) into id (41 bytes), or -1. */
static int t_node_id(int port, char id[41])
{
    const char *argv[] = {"CLUSTER", "MYID"};
    redisReply *r = t_node(port, 2, argv);
    int rc = r && r->type == REDIS_REPLY_STRING && r->len == 40 ? 0 : -1;

    if (rc == 0)
        memcpy(id, r->str, 41);
    if (r)
        freeReplyObject(r);
    return rc;
}

int t_cluster_owner(int slot, int port)
{
    const char *argv[] = {"CLUSTER", "SLOTS"};
    redisReply *r = t_node(port, 2, argv);
    int owner = -1;

    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *range = r->element[i];

        if (range->elements >= 3 && range->element[0]->integer <= slot && slot <= range->element[1]->integer)
            owner = (int)range->element[2]->element[1]->integer;
    }
    if (r)
        freeReplyObject(r);
    return owner;
}

/* One CLUSTER SETSLOT slot how [id] on port: 0 when OK. */
static int t_setslot(int port, int slot, const char *how, const char *id)
{
    char slot_text[16];
    const char *argv[] = {"CLUSTER", "SETSLOT", slot_text, how, id};
    redisReply *r;
    int rc;

    snprintf(slot_text, sizeof slot_text, "%d", slot);
    r = t_node(port, id ? 5 : 4, argv);
    rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc < 0)
        diag("CLUSTER SETSLOT %d %s on %d: %s", slot, how, port, r && r->str ? r->str : "no reply");
    if (r)
        freeReplyObject(r);
    return rc;
}

int t_cluster_move_begin(int slot, int from_port, int to_port)
{
    char from[41], to[41];

    if (t_node_id(from_port, from) < 0 || t_node_id(to_port, to) < 0)
        return -1;
    if (t_setslot(to_port, slot, "IMPORTING", from) < 0 || t_setslot(from_port, slot, "MIGRATING", to) < 0)
        return -1;
    return 0;
}

long t_cluster_move_keys(int slot, int from_port, int to_port, int max)
{
    char slot_text[16], max_text[16], to_text[16];
    const char *get[] = {"CLUSTER", "GETKEYSINSLOT", slot_text, max_text};
    redisReply *keys;
    long moved = -1;

    snprintf(slot_text, sizeof slot_text, "%d", slot);
    snprintf(max_text, sizeof max_text, "%d", max);
    snprintf(to_text, sizeof to_text, "%d", to_port);
    keys = t_node(from_port, 4, get);
    if (keys && keys->type == REDIS_REPLY_ARRAY) {
        const char **argv = calloc(keys->elements + 9, sizeof *argv);
        redisReply *r = NULL;
        char password[600];
        int at = 6;

        t_redis_password(password, sizeof password);
        moved = (long)keys->elements;
        if (argv && keys->elements > 0) {
            argv[0] = "MIGRATE";
            argv[1] = t_cluster_host(to_port);
            argv[2] = to_text;
            argv[3] = "";
            argv[4] = "0";
            argv[5] = "5000";
            if (password[0]) {
                argv[at++] = "AUTH";
                argv[at++] = password;
            }
            argv[at++] = "KEYS";
            for (size_t i = 0; i < keys->elements; i++)
                argv[at + i] = keys->element[i]->str;
            r = t_node(from_port, (int)keys->elements + at, argv);
            if (!r || r->type == REDIS_REPLY_ERROR) {
                diag("MIGRATE from %d: %s", from_port, r && r->str ? r->str : "no reply");
                moved = -1;
            }
        } else if (!argv) {
            moved = -1;
        }
        if (r)
            freeReplyObject(r);
        free(argv);
    }
    if (keys)
        freeReplyObject(keys);
    return moved;
}

int t_cluster_move_end(int slot, int to_port, const int *ports, int nports)
{
    char to[41];
    int rc = 0;

    if (t_node_id(to_port, to) < 0)
        return -1;
    /* The target first, so that it owns the slot before the others say so. */
    rc |= t_setslot(to_port, slot, "NODE", to);
    for (int i = 0; i < nports; i++)
        if (ports[i] != to_port)
            rc |= t_setslot(ports[i], slot, "NODE", to);
    return rc;
}

long t_cluster_move_slot(int slot, int from_port, int to_port, const int *ports, int nports, int batch,
                         long pause_ms)
{
    long total = 0, moved;

    if (t_cluster_move_begin(slot, from_port, to_port) < 0)
        return -1;
    while ((moved = t_cluster_move_keys(slot, from_port, to_port, batch)) > 0) {
        total += moved;
        if (pause_ms > 0)
            t_sleep_ms(pause_ms);
    }
    if (moved < 0 || t_cluster_move_end(slot, to_port, ports, nports) < 0)
        return -1;
    return total;
}
