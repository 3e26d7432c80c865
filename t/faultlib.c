/* faultlib.c - client load, records and invariant checks for the fault
 * tests (see faultlib.h). */
#include "faultlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "testlib.h"
#include "keyspace.h"
#include "rds_cluster.h"

#include <hiredis/hiredis.h>

/* diag() and skip_all() without tap.h: this file keeps no TAP counters. */
#define diag f_diag
void f_diag(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void f_bail_out(const char *why)
{
    printf("Bail out! %s\n", why);
    fflush(stdout);
    exit(255);
}

static void skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    fflush(stdout);
    exit(0);
}

#include <dirent.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int f_success(const struct f_rec *x, long tokens_lost_before);

const char *const f_op_name[F_NOPS] = {"charge", "token", "seats", "hold", "pay", "balance", "list"};
const int f_needs_redis[F_NOPS] = {1, 1, 1, 1, 1, 1, 1};
const int f_needs_pg[F_NOPS] = {1, 0, 1, 1, 1, 1, 1};

long f_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

long f_load_ms(const struct f_load *L)
{
    return f_now_ms() - L->start_ms;
}

void f_require_stack(void)
{
    const char *front = getenv("CONCERT_FRONT_NAME");

    t_init();
    if (front && strcmp(front, "nginx") != 0)
        skip_all("the fault tests run behind nginx only");
    if (!getenv("CONCERT_VAR") || !getenv("CONCERT_REPO") || !getenv("CONCERT_PG"))
        skip_all("needs the ./dev test stack (CONCERT_VAR, CONCERT_REPO)");
}

/* Runs ./dev with args (NULL-terminated), output to a file, not a pipe:
 * what ./dev starts in the background may keep inherited descriptors open
 * for as long as it runs. Each line it printed goes to diag; the first is
 * kept in first (when not NULL). The exit status, or -1. */
static int f_dev_run(const char *const *args, const char *what, char *first, size_t cap)
{
    char log[600], line[512];
    pid_t pid;
    int status, rc, n = 0;
    FILE *f;

    snprintf(log, sizeof log, "%s/log/fault-actions.log", getenv("CONCERT_VAR"));
    if (first && cap)
        first[0] = '\0';
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char dev[600];
        const char *argv[8];
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), k = 0;
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 0);
            close(fd);
        }
        snprintf(dev, sizeof dev, "%s/dev", getenv("CONCERT_REPO"));
        argv[k++] = dev;
        while (*args && k < 7)
            argv[k++] = *args++;
        argv[k] = NULL;
        execv(dev, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (n++ == 0 && first)
            snprintf(first, cap, "%s", line);
        diag("dev %s: %s", what, line);
    }
    if (f)
        fclose(f);
    return rc;
}

int f_dev(const char *action)
{
    const char *args[] = {"_fault", action, NULL};
    char what[64];

    snprintf(what, sizeof what, "_fault %s", action);
    return f_dev_run(args, what, NULL, 0);
}

int f_ha_fault(const char *name, char *out, size_t cap)
{
    char what[64], words[64], *space;
    const char *args[] = {"fault", "test", words, NULL, NULL};

    snprintf(what, sizeof what, "fault %s", name);
    snprintf(words, sizeof words, "%s", name);
    space = strchr(words, ' ');
    if (space) {
        *space = '\0';
        args[3] = space + 1;
    }
    return f_dev_run(args, what, out, cap);
}

void f_require_ha(void)
{
    t_init();
    if (!getenv("CONCERT_HA") || strcmp(getenv("CONCERT_HA"), "1") != 0)
        skip_all("a story of the several-hosts stack (./dev test --ha)");
    if (!getenv("CONCERT_VAR") || !getenv("CONCERT_REPO") || !getenv("CONCERT_PG"))
        skip_all("needs the ./dev test --ha stack (CONCERT_VAR, CONCERT_REPO)");
}

long f_ha_status(const char *part, const char *host, struct f_ha_part *out)
{
    char cmd[700], *text = NULL;
    size_t len = 0;
    long t0 = f_now_ms(), took;
    FILE *p;
    struct json_object *root, *parts;

    memset(out, 0, sizeof *out);
    snprintf(cmd, sizeof cmd, "'%s/dev' status test --json 2>/dev/null", getenv("CONCERT_REPO"));
    fflush(stdout);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    for (;;) {
        char buf[4096], *grown;
        size_t n = fread(buf, 1, sizeof buf, p);
        if (n == 0)
            break;
        grown = realloc(text, len + n + 1);
        if (!grown)
            break;
        text = grown;
        memcpy(text + len, buf, n);
        len += n;
        text[len] = '\0';
    }
    pclose(p);
    took = f_now_ms() - t0;
    root = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (!root || !json_object_object_get_ex(root, "parts", &parts)) {
        json_object_put(root);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(parts); i++) {
        struct json_object *e = json_object_array_get_idx(parts, i), *v;
        const char *name = t_json_str(e, "part"), *on = t_json_str(e, "host");
        const char *at = t_json_str(e, "address");
        if (!name || !on || strcmp(name, part) != 0 || (strcmp(on, host) != 0 && (!at || strcmp(at, host) != 0)))
            continue;
        snprintf(out->role, sizeof out->role, "%s", t_json_str(e, "role") ? t_json_str(e, "role") : "");
        snprintf(out->state, sizeof out->state, "%s", t_json_str(e, "state") ? t_json_str(e, "state") : "");
        snprintf(out->address, sizeof out->address, "%s", t_json_str(e, "address") ? t_json_str(e, "address") : "");
        snprintf(out->of, sizeof out->of, "%s", t_json_str(e, "of") ? t_json_str(e, "of") : "");
        snprintf(out->slots, sizeof out->slots, "%s", t_json_str(e, "slots") ? t_json_str(e, "slots") : "");
        if (json_object_object_get_ex(e, "pid", &v) && json_object_is_type(v, json_type_int))
            out->pid = (long)json_object_get_int64(v);
    }
    json_object_put(root);
    return took;
}

long f_wait_health(const char *store, const char *want, long max_ms)
{
    long start = f_now_ms();
    char v[32];

    while (f_now_ms() - start < max_ms) {
        f_health(store, v, sizeof v);
        if (strcmp(v, want) == 0)
            return f_now_ms() - start;
        t_sleep_ms(50);
    }
    return -1;
}

/* Polls a routed EXISTS of key until it answers: the ms it took, -1 after
 * max_ms. */
static long f_wait_key(const char *key, long max_ms)
{
    const char *argv[] = {"EXISTS", key};
    long start = f_now_ms();

    while (f_now_ms() - start < max_ms) {
        redisReply *r = t_redis_try(2, argv);
        int answered = r && r->type == REDIS_REPLY_INTEGER;

        if (r)
            freeReplyObject(r);
        if (answered)
            return f_now_ms() - start;
        t_sleep_ms(50);
    }
    return -1;
}

void f_failover_story(const struct f_failover *s, int clients, f_report report)
{
    struct f_load L;
    char host[96] = "", other[64], expect[160], healed[512] = "", line[512], name[64], fault[64];
    char key[KEYSPACE_CONCERT_KEY_SIZE];
    long begin, end, took, lost = 0, heal_ms;
    size_t n;
    int ok_fault, healed_ok;

    snprintf(name, sizeof name, "ha-%s", s->fault);
    snprintf(line, sizeof line, "load of %d clients started", clients);
    if (!report(f_load_start(&L, name, clients, 1000, 0) == 0, line))
        return;
    L.redis_may_lose = strcmp(s->store, "Redis") == 0;
    t_sleep_ms(2000);

    /* On the cluster, the fault strikes the primary of the load's concert. */
    snprintf(fault, sizeof fault, "%s", s->fault);
    keyspace_queue(key, sizeof key, L.concert, QUEUE_KEY_CONF);
    if (s->cluster)
        snprintf(fault, sizeof fault, "%s %d", s->fault, rds_cluster_key_slot(key, strlen(key)));
    begin = f_load_ms(&L);
    ok_fault = f_ha_fault(fault, host, sizeof host) == 0 && strncmp(host, s->prefix, strlen(s->prefix)) == 0;
    snprintf(line, sizeof line, "the %s primary (%s) %s", s->store, host, s->done);
    report(ok_fault, line);
    t_sleep_ms(200);
    /* /healthz asks one node: on the cluster, the concert's own shard is
     * what came back (a command on its key, routed afresh, answered). */
    took = s->cluster ? f_wait_key(key, s->wait_ms) : f_wait_health(s->health, "ok", s->wait_ms);
    end = f_load_ms(&L);
    diag("a new %s primary served %.1f s after the fault (on %s)", s->store, (end - begin) / 1000.0, host);
    if (s->failed_over)
        s->failed_over(host);
    t_sleep_ms(3000);
    /* Two hosts a store, named PREFIX1 and PREFIX2: the other one took over.
     * On the cluster ("redisN ADDR:PORT") the lost node rejoined as the
     * replica of its replacement, which heal has it take the shard back
     * from (CLUSTER FAILOVER: the layout of one primary a host again). */
    snprintf(other, sizeof other, "%s", host);
    n = strlen(other);
    if (n > 0)
        other[n - 1] = other[n - 1] == '1' ? '2' : '1';
    if (s->cluster && strchr(host, ' '))
        snprintf(expect, sizeof expect, "%s given back its slots", strchr(host, ' ') + 1);
    else
        snprintf(expect, sizeof expect, "%s primary on %s", s->store, other);
    /* heal waits until the primary has its replica connected: the old one. */
    heal_ms = f_now_ms();
    healed_ok = took >= 0 && f_ha_fault("heal", healed, sizeof healed) == 0 && strstr(healed, expect);
    heal_ms = f_now_ms() - heal_ms;
    report(healed_ok, "the replica was promoted, and the old primary's host is back as its replica");
    diag("%s (the heal took %.1f s)", healed, heal_ms / 1000.0);
    if (s->healed)
        s->healed(host, heal_ms);
    t_sleep_ms(1000);
    f_load_stop(&L);

    f_diag_tally(&L, "during the failover", begin, end + 2000);
    f_diag_errors(&L, begin);
    if (s->lost_sessions) {
        for (size_t i = 0; i < L.nrecs; i++)
            lost += L.recs[i].status == 401 && L.recs[i].t0 >= begin;
        diag("requests answered 401 after the fault (their session or token was not on the replica yet): %ld",
             lost);
    }
    f_check_window(&L, begin, end, 2000, s->needs, s->lost_sessions ? end : -1, report);
    t_pg_reset();
    f_check_state(&L, report);
    f_load_free(&L);
}

void f_move_story(struct f_load *L, int slot, int from, int to, const int *primaries, int nprimaries,
                  f_report report)
{
    long began, ended, moved, window;
    struct f_tally t, during;
    char line[512];

    began = f_load_ms(L);
    /* A few keys at a time, with pauses: the clients meet the slot half
     * moved, on both nodes. */
    moved = t_cluster_move_slot(slot, from, to, primaries, nprimaries, 5, 50);
    ended = f_load_ms(L);
    t_sleep_ms(2000);
    f_load_stop(L);
    snprintf(line, sizeof line, "slot %d (concert %lld) moved from :%d to :%d: %ld keys in %ld ms", slot,
             (long long)L->concert, from, to, moved, ended - began);
    report(moved > 0 && t_cluster_owner(slot, to) == to, line);
    f_tally(L, -1, 0, 1L << 40, &t);
    snprintf(line, sizeof line, "%ld requests, %ld 2xx; no error but a clean 503 (%ld of those)", t.total, t.ok,
             t.unavailable);
    report(t.ok > 50 && t.unavailable_bad + t.other + t.transport + t.unauth == 0, line);
    window = f_diag_errors(L, 0);
    f_tally(L, -1, began, ended, &during);
    diag("slot %d moved from :%d to :%d while concert %lld sold: %ld keys, %ld ms; %ld requests, %ld 2xx, "
         "%ld clean 503 over %ld ms; %ld requests (%ld 2xx) sent and answered while it moved",
         slot, from, to, (long long)L->concert, moved, ended - began, t.total, t.ok, t.unavailable, window,
         during.total, during.ok);
    snprintf(line, sizeof line, "the clients met the slot half moved (%ld requests)", during.total);
    report(during.total > 0, line);
    f_tally(L, -1, 0, began, &t);
    report(t.total > 0 && t.unavailable == 0, "before the move, no 503");
    f_tally(L, -1, ended + F_MOVE_GRACE_MS, 1L << 40, &t);
    snprintf(line, sizeof line, "503s only while the slot moved (%ld ms of them), none after", window);
    report(t.total > 0 && t.unavailable == 0 && window <= (ended - began) + F_MOVE_GRACE_MS, line);
}

void f_outage_story(const struct f_outage *o, f_report report)
{
    struct f_load L;
    pid_t before[128], after[128];
    int nb, na, same, started;
    long begin, end, hs;
    char v[32], action[32], line[256];

    nb = f_responder_pids(before, 128);
    if (!report(f_load_start(&L, o->name, 12, 1000, 1) == 0, "load of 12 clients started"))
        return;
    t_sleep_ms(1500);
    begin = f_load_ms(&L);
    snprintf(action, sizeof action, "%s-stop", o->name);
    snprintf(line, sizeof line, "%s stopped (./dev _fault %s%s)", o->store, action, o->stop_how);
    report(f_dev(action) == 0, line);
    t_sleep_ms(o->settle_ms);
    hs = f_health(o->health, v, sizeof v);
    snprintf(line, sizeof line, "/healthz says 503, %s down (%ld, %s)", o->health, hs, v);
    report(hs == 503 && strcmp(v, "down") == 0, line);
    t_sleep_ms(2000);
    snprintf(action, sizeof action, "%s-start", o->name);
    started = f_dev(action) == 0;
    end = f_load_ms(&L);
    snprintf(line, sizeof line, "%s started again, %ld ms after it stopped", o->store, end - begin);
    report(started, line);
    t_sleep_ms(3000);
    f_load_stop(&L);
    hs = f_health(o->health, v, sizeof v);
    snprintf(line, sizeof line, "/healthz is 200 again, %s ok (%ld)", o->health, hs);
    report(hs == 200 && strcmp(v, "ok") == 0, line);

    f_diag_tally(&L, "during the outage", begin, end + 1000);
    f_check_window(&L, begin, end, 1000, o->needs, o->tokens_may_be_lost ? end : -1, report);
    na = f_responder_pids(after, 128);
    same = na == nb && nb > 0;
    for (int i = 0; same && i < na; i++)
        same = before[i] == after[i];
    snprintf(line, sizeof line, "no responder was restarted: the same %d processes before and after", na);
    report(same, line);
    f_check_state(&L, report);
    f_load_free(&L);
}

long f_diag_errors(const struct f_load *L, long from)
{
    long first = -1, last = -1, n = 0;
    struct { int op, status; char code[32]; long count; } kinds[32];
    int nkinds = 0;

    for (size_t i = 0; i < L->nrecs; i++) {
        const struct f_rec *x = &L->recs[i];
        int k;
        if (x->t0 < from || f_success(x, -1))
            continue;
        n++;
        if (first < 0 || x->t0 < first)
            first = x->t0;
        if (x->t1 > last)
            last = x->t1;
        for (k = 0; k < nkinds; k++)
            if (kinds[k].op == x->op && kinds[k].status == x->status && strcmp(kinds[k].code, x->code) == 0)
                break;
        if (k == nkinds && nkinds < 32) {
            kinds[k].op = x->op;
            kinds[k].status = x->status;
            snprintf(kinds[k].code, sizeof kinds[k].code, "%s", x->code);
            kinds[k].count = 0;
            nkinds++;
        }
        if (k < nkinds)
            kinds[k].count++;
    }
    if (!n) {
        diag("no request failed from %ld ms on", from);
        return 0;
    }
    diag("%ld requests failed, sent from %ld ms to answered at %ld ms (%.1f s after the fault):", n, first, last,
         (last - from) / 1000.0);
    for (int k = 0; k < nkinds; k++)
        diag("  %-8s %3d %-14s %ld", f_op_name[kinds[k].op], kinds[k].status,
             kinds[k].status ? kinds[k].code : "(no answer)", kinds[k].count);
    return last - first;
}

static int f_comm_is(pid_t pid, const char *name)
{
    char path[64], comm[64] = "";
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, name) == 0;
}

pid_t f_pidfile(const char *name)
{
    char path[600];
    FILE *f;
    long pid = -1;

    snprintf(path, sizeof path, "%s/run/%s.pid", getenv("CONCERT_VAR"), name);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = -1;
    fclose(f);
    return (pid_t)pid;
}

int f_kill_relay(void)
{
    pid_t watch = f_pidfile("relay"), kids[8];
    int n = watch > 0 ? f_children(watch, kids, 8) : 0;

    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    return n;
}

/* 1 when pid is a zombie (dead, not yet reaped: in a container whose init
 * does not reap, killed servers stay so). */
static int f_zombie(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    int z = 0;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
        z = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
    fclose(f);
    return z;
}

pid_t f_multiwatch(const char *name)
{
    pid_t pid = f_pidfile(name), kids[8];
    int n;

    if (pid <= 0 || kill(pid, 0) < 0 || f_zombie(pid))
        return -1;
    if (f_comm_is(pid, "multiwatch"))
        return pid;
    /* ./dev records the pid of the shell that started the instance: its
     * child is the instance (spawn-fcgi exec'd into multiwatch). */
    n = f_children(pid, kids, 8);
    for (int i = 0; i < n; i++)
        if (f_comm_is(kids[i], "multiwatch") && !f_zombie(kids[i]))
            return kids[i];
    return -1;
}

int f_children(pid_t parent, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) && n < max) {
        char buf[512];
        long ppid;
        char *p;

        if (t_proc_read(e->d_name, "stat", buf, sizeof buf) <= 0)
            continue;
        /* pid (comm) state ppid ...: comm may hold spaces, so from the last ')'. */
        p = strrchr(buf, ')');
        if (p && sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == parent)
            out[n++] = (pid_t)atol(e->d_name);
    }
    closedir(d);
    return n;
}

/* --- the clients ---------------------------------------------------------- */

struct f_client {
    struct f_load *L;
    FILE *out;
    unsigned seed;
    char token[128];
    long token_t;
    char user[37];         /* the journey's user, "" before the first */
    long session_t;        /* when that user's session was made */
    long next_user_t;      /* after a store refused a user: when to try again */
};

static void f_record(struct f_client *c, int op, long t0, const struct t_resp *r, int ok,
                     const char *user, int64_t id1, int64_t id2)
{
    const char *code = r ? t_error_code(r) : "";
    int jerr = r && r->json && t_json_str(r->json, "error.code") && t_json_str(r->json, "error.message");

    (void)ok;
    fprintf(c->out, "%ld %ld %ld %d %ld %d %d %s %s %lld %lld\n", t0, f_load_ms(c->L),
            (op == F_CHARGE || op == F_BALANCE || op == F_LIST || op == F_TOKEN) ? c->session_t : c->token_t, op,
            r ? r->status : 0L, r && r->retry_after[0] ? 1 : 0, jerr, *code ? code : "-",
            user ? user : "-", (long long)id1, (long long)id2);
}

static int f_call(struct f_client *c, int op, const char *method, const char *path, const char *body,
                  const char *key, const char *user, struct t_resp *r)
{
    char auth[200], idem[120];
    const char *headers[3];
    int h = 0;
    long t0 = f_load_ms(c->L);

    if (op == F_CHARGE || op == F_TOKEN || op == F_BALANCE || op == F_LIST) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_session(user));
        headers[h++] = auth;
    } else if (c->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        headers[h++] = auth;
    }
    if (key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", key);
        headers[h++] = idem;
    }
    headers[h] = NULL;
    if (t_request(method, path, headers, body, r) < 0) {
        r->status = 0;
        t_sleep_ms(20);   /* nothing listening: a client backs off a little */
    }
    f_record(c, op, t0, r, r->status / 100 == 2, user, op == F_HOLD ? t_json_int(r->json, "reservationId")
             : op == F_PAY ? t_json_int(r->json, "paymentId") : 0,
             op == F_PAY ? t_json_int(r->json, "reservationId") : 0);
    return (int)r->status;
}

/* A new token for the same user after a 401; 1 when it is ACTIVE. */
static int f_reissue(struct f_client *c, const char *user)
{
    char body[200];
    struct t_resp r;
    int st, active;

    snprintf(body, sizeof body, "{\"concertId\":%lld}", (long long)c->L->concert);
    c->token[0] = '\0';
    c->token_t = f_load_ms(c->L);
    st = f_call(c, F_TOKEN, "POST", "/api/v1/queue/tokens", body, NULL, user, &r);
    active = st / 100 == 2 && t_json_str(r.json, "token") && t_json_str(r.json, "status") &&
             strcmp(t_json_str(r.json, "status"), "ACTIVE") == 0;
    if (active)
        snprintf(c->token, sizeof c->token, "%s", t_json_str(r.json, "token"));
    t_resp_free(&r);
    return active;
}

/* The journey's user: a new one (made in the stores with a session, as
 * sign-up and login would leave it), or, while a store is down and cannot
 * take one, the last user again - so that the load goes on and meets the
 * outage. A new user also stands for logging in again after Redis lost the
 * sessions. */
static const char *f_journey_user(struct f_client *c)
{
    char fresh[37];
    long started;

    if (c->user[0] && f_load_ms(c->L) < c->next_user_t)
        return c->user;
    /* The session dates from when making it began: one made while Redis was
     * being wiped may be gone with the wipe, and its 401 is allowed. */
    started = f_load_ms(c->L);
    if (t_user_try(fresh) == 0) {
        memcpy(c->user, fresh, sizeof fresh);
        c->session_t = started;
    } else {
        c->next_user_t = f_load_ms(c->L) + 200;
    }
    return c->user[0] ? c->user : NULL;
}

static void f_journey(struct f_client *c)
{
    struct f_load *L = c->L;
    char path[200], body[200], key[40];
    const char *user = f_journey_user(c);
    struct t_resp r;
    int st, seats[2], n;
    int64_t sched, rid = 0;

    if (!user) {
        t_sleep_ms(20);   /* no user yet (a store is down): do not spin */
        return;
    }
    /* Charge first: PostgreSQL (and the session in Redis). */
    snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", user);
    t_uuid(key);
    f_call(c, F_CHARGE, "POST", path, "{\"amount\":200000}", L->charge_key ? key : NULL, user, &r);
    t_resp_free(&r);

    snprintf(body, sizeof body, "{\"concertId\":%lld}", (long long)L->concert);
    c->token[0] = '\0';
    c->token_t = f_load_ms(L);
    st = f_call(c, F_TOKEN, "POST", "/api/v1/queue/tokens", body, NULL, user, &r);
    if (st / 100 == 2 && t_json_str(r.json, "token") && strcmp(t_json_str(r.json, "status") ? t_json_str(r.json, "status") : "", "ACTIVE") == 0)
        snprintf(c->token, sizeof c->token, "%s", t_json_str(r.json, "token"));
    t_resp_free(&r);

    if (c->token[0]) {
        sched = L->schedules[rand_r(&c->seed) % (unsigned)L->nsched];
        if (rand_r(&c->seed) % 2) {
            snprintf(path, sizeof path, "/api/v1/schedules/%lld/seats", (long long)sched);
            f_call(c, F_SEATS, "GET", path, NULL, NULL, user, &r);
            t_resp_free(&r);
        }
        n = 1 + (int)(rand_r(&c->seed) % 2);
        seats[0] = 1 + (int)(rand_r(&c->seed) % (unsigned)L->seat_count);
        seats[1] = seats[0] % L->seat_count + 1;
        if (n == 2)
            snprintf(body, sizeof body, "{\"scheduleId\":%lld,\"seatNos\":[%d,%d]}", (long long)sched,
                     seats[0] < seats[1] ? seats[0] : seats[1], seats[0] < seats[1] ? seats[1] : seats[0]);
        else
            snprintf(body, sizeof body, "{\"scheduleId\":%lld,\"seatNos\":[%d]}", (long long)sched, seats[0]);
        st = f_call(c, F_HOLD, "POST", "/api/v1/reservations", body, NULL, user, &r);
        if (st == 401 && f_reissue(c, user)) {
            /* The token is gone (Redis lost it): a new one, and again. */
            t_resp_free(&r);
            st = f_call(c, F_HOLD, "POST", "/api/v1/reservations", body, NULL, user, &r);
        }
        if (st == 201)
            rid = t_json_int(r.json, "reservationId");
        t_resp_free(&r);
        if (rid > 0) {
            snprintf(body, sizeof body, "{\"reservationId\":%lld}", (long long)rid);
            t_uuid(key);
            st = f_call(c, F_PAY, "POST", "/api/v1/payments", body, key, user, &r);
            t_resp_free(&r);
            if (st == 401 && f_reissue(c, user)) {
                f_call(c, F_PAY, "POST", "/api/v1/payments", body, key, user, &r);
                t_resp_free(&r);
            }
        }
    }
    snprintf(path, sizeof path, "/api/v1/users/%s/balance", user);
    f_call(c, F_BALANCE, "GET", path, NULL, NULL, user, &r);
    t_resp_free(&r);
    if (rand_r(&c->seed) % 3 == 0 || !c->token[0]) {
        snprintf(path, sizeof path, "/api/v1/users/%s/reservations", user);
        f_call(c, F_LIST, "GET", path, NULL, NULL, user, &r);
        t_resp_free(&r);
    }
    if (!c->token[0])
        t_sleep_ms(20);   /* no token (an outage): do not spin */
}

static void f_client_main(struct f_load *L, int idx)
{
    struct f_client c;
    char path[600];
    long deadline = f_now_ms() + 120000;   /* bounded, whatever happens */

    memset(&c, 0, sizeof c);
    c.L = L;
    c.seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    snprintf(path, sizeof path, "%s/client-%d.rec", L->dir, idx);
    c.out = fopen(path, "w");
    if (!c.out)
        _exit(2);
    t_transport_quiet = 1;   /* each one is in the records */
    while (!*L->stop && f_now_ms() < deadline)
        f_journey(&c);
    fclose(c.out);
    _exit(0);
}

int64_t f_load_concert(int seat_count, int64_t schedules[F_LOAD_SCHEDULES])
{
    return t_create_concert(1000000, 3600, 600, 600, F_LOAD_SCHEDULES, seat_count, 100, schedules);
}

int f_load_start(struct f_load *L, const char *name, int nclients, int seat_count, int charge_key)
{
    int64_t schedules[F_LOAD_SCHEDULES];
    int64_t concert = f_load_concert(seat_count, schedules);

    if (concert < 0)
        return -1;
    return f_load_start_on(L, name, concert, schedules, nclients, seat_count, charge_key);
}

int f_load_start_on(struct f_load *L, const char *name, int64_t concert, const int64_t schedules[F_LOAD_SCHEDULES],
                    int nclients, int seat_count, int charge_key)
{
    struct t_resp r;
    char user[37];
    char *tok;

    memset(L, 0, sizeof *L);
    L->nclients = nclients > 64 ? 64 : nclients;
    L->seat_count = seat_count;
    L->charge_key = charge_key;
    L->nsched = F_LOAD_SCHEDULES;
    L->concert = concert;
    memcpy(L->schedules, schedules, sizeof L->schedules);
    snprintf(L->dir, sizeof L->dir, "%s/faults", getenv("CONCERT_VAR"));
    mkdir(L->dir, 0755);
    snprintf(L->dir + strlen(L->dir), sizeof L->dir - strlen(L->dir), "/%s-%d", name, (int)getpid());
    if (mkdir(L->dir, 0755) < 0 && errno != EEXIST) {
        diag("mkdir %s: %s", L->dir, strerror(errno));
        return -1;
    }
    /* Warm the concert's cache in Redis (a token needs PostgreSQL only on a
     * cold cache), so the load starts in the steady state. */
    t_user(user);
    tok = t_issue_token(L->concert, user, &r);
    t_resp_free(&r);
    if (!tok)
        return -1;
    free(tok);
    L->stop = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (L->stop == MAP_FAILED)
        return -1;
    *L->stop = 0;
    fflush(stdout);
    L->start_ms = f_now_ms();
    for (int i = 0; i < L->nclients; i++) {
        pid_t pid = fork();
        if (pid == 0)
            f_client_main(L, i);
        L->pids[i] = pid;
    }
    return 0;
}

static int f_read_recs(struct f_load *L)
{
    size_t cap = 4096;

    L->recs = malloc(cap * sizeof *L->recs);
    L->nrecs = 0;
    if (!L->recs)
        return -1;
    for (int i = 0; i < L->nclients; i++) {
        char path[600], line[512];
        FILE *f;

        snprintf(path, sizeof path, "%s/client-%d.rec", L->dir, i);
        f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            struct f_rec *x;
            long long id1, id2;
            int status;
            if (L->nrecs == cap) {
                struct f_rec *bigger = realloc(L->recs, cap * 2 * sizeof *L->recs);
                if (!bigger)
                    break;
                L->recs = bigger;
                cap *= 2;
            }
            x = &L->recs[L->nrecs];
            memset(x, 0, sizeof *x);
            if (sscanf(line, "%ld %ld %ld %d %d %d %d %31s %36s %lld %lld", &x->t0, &x->t1, &x->token_t,
                       &x->op, &status, &x->retry_after, &x->json_error, x->code, x->user, &id1,
                       &id2) == 11 && x->op >= 0 && x->op < F_NOPS) {
                x->status = status;
                x->id1 = id1;
                x->id2 = id2;
                L->nrecs++;
            }
        }
        fclose(f);
    }
    return 0;
}

int f_load_stop(struct f_load *L)
{
    int all = 1;
    long deadline;

    /* The users were made before the fault: a restarted PostgreSQL closed
     * this process's connection since. */
    t_pg_reset();
    *L->stop = 1;
    deadline = f_now_ms() + 60000;
    for (int i = 0; i < L->nclients; i++) {
        int status;
        for (;;) {
            pid_t w = waitpid(L->pids[i], &status, WNOHANG);
            if (w == L->pids[i]) {
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    all = 0;
                break;
            }
            if (w < 0 || f_now_ms() > deadline) {
                kill(L->pids[i], SIGKILL);
                waitpid(L->pids[i], &status, 0);
                all = 0;
                break;
            }
            t_sleep_ms(20);
        }
    }
    f_read_recs(L);
    return all ? 0 : -1;
}

void f_load_free(struct f_load *L)
{
    free(L->recs);
    L->recs = NULL;
    L->nrecs = 0;
    if (L->stop && L->stop != MAP_FAILED)
        munmap((void *)L->stop, sizeof(int));
    L->stop = NULL;
}

/* --- tallies -------------------------------------------------------------- */

void f_tally(const struct f_load *L, int op, long from, long to, struct f_tally *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < L->nrecs; i++) {
        const struct f_rec *x = &L->recs[i];
        if ((op >= 0 && x->op != op) || x->t0 < from || x->t1 > to)
            continue;
        t->total++;
        if (x->status == 200 || x->status == 201)
            t->ok++;
        else if (x->status == 402 || x->status == 409 || x->status == 410)
            t->business++;
        else if (x->status == 401)
            t->unauth++;
        else if (x->status == 503 && x->retry_after && x->json_error && strcmp(x->code, "UNAVAILABLE") == 0)
            t->unavailable++;
        else if (x->status == 503)
            t->unavailable_bad++;
        else if (x->status == 0)
            t->transport++;
        else
            t->other++;
    }
}

void f_diag_tally(const struct f_load *L, const char *title, long from, long to)
{
    diag("%s (requests sent from %ld ms to %ld ms):", title, from, to);
    for (int op = 0; op < F_NOPS; op++) {
        struct f_tally t;
        f_tally(L, op, from, to, &t);
        if (t.total)
            diag("  %-8s %6ld sent: %ld 2xx, %ld 402/409/410, %ld 401, %ld 503+Retry-After, "
                 "%ld bad 503, %ld other, %ld transport errors",
                 f_op_name[op], t.total, t.ok, t.business, t.unauth, t.unavailable, t.unavailable_bad,
                 t.other, t.transport);
    }
}

/* --- checks against PostgreSQL --------------------------------------------- */

struct f_buf {
    char *s;
    size_t len, cap;
};

static void f_add(struct f_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void f_add(struct f_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        if (b->cap - b->len < 128) {
            size_t cap = b->cap ? b->cap * 2 : 4096;
            char *bigger = realloc(b->s, cap);
            if (!bigger)
                abort();
            b->s = bigger;
            b->cap = cap;
        }
        va_start(ap, fmt);
        n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap *= 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
}

static int64_t f_q(const char *sql, int n, const char *const *params)
{
    return t_pg_int(sql, n, params);
}

/* A count over two arrays the load's records were gathered into ($1, $2),
 * and the concert ($3) when not NULL. */
static int64_t f_q_arrays(const char *sql, const char *a, const char *b, const char *concert)
{
    const char *p[] = {a, b, concert};

    return t_pg_int(sql, concert ? 3 : 2, p);
}

#define ok(pass, ...) f_ok(report, pass, __VA_ARGS__)
static int f_ok(f_report report, int pass, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int f_ok(f_report report, int pass, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return report(pass, what);
}

/* Invariants that hold whatever the fault: each query counts the rows that
 * break one (of the load's concert when of_concert: $1). */
struct f_invariant {
    const char *sql;
    int of_concert;
    const char *what, *counted;
};
static const struct f_invariant f_invariants[] = {
    {"SELECT count(*) FROM (SELECT r.schedule_id, s FROM reservations r"
     " CROSS JOIN LATERAL unnest(r.seat_nos) s WHERE r.concert_id = $1::bigint"
     " AND (r.status = 'CONFIRMED' OR (r.status = 'HELD' AND r.expires_at > now()))"
     " GROUP BY 1, 2 HAVING count(*) > 1) x",
     1, "no seat is held (live) or sold by two reservations", ""},
    {"SELECT count(*) FROM reservations r CROSS JOIN LATERAL unnest(r.seat_nos) sn"
     " WHERE r.concert_id = $1::bigint AND r.status = 'CONFIRMED' AND NOT EXISTS"
     " (SELECT 1 FROM seats s WHERE s.schedule_id = r.schedule_id AND s.seat_no = sn"
     "  AND s.status = 'SOLD' AND s.reservation_id = r.id)",
     1, "every seat of a paid reservation is SOLD to it", " not"},
    {"SELECT count(*) FROM seats s JOIN schedules sc ON sc.id = s.schedule_id"
     " WHERE sc.concert_id = $1::bigint AND s.status = 'SOLD' AND NOT EXISTS"
     " (SELECT 1 FROM reservations r JOIN payments p ON p.reservation_id = r.id"
     "  WHERE r.id = s.reservation_id AND r.status = 'CONFIRMED' AND s.seat_no = ANY (r.seat_nos))",
     1, "every SOLD seat belongs to a paid, confirmed reservation", " not"},
    {"SELECT count(*) FROM seats s JOIN schedules sc ON sc.id = s.schedule_id"
     " WHERE sc.concert_id = $1::bigint AND s.status = 'HELD' AND s.held_until > now() AND NOT EXISTS"
     " (SELECT 1 FROM reservations r WHERE r.id = s.reservation_id AND r.status = 'HELD'"
     "  AND s.seat_no = ANY (r.seat_nos))",
     1, "every HELD seat belongs to a live hold of it", " not"},
    {"SELECT count(*) FROM users u WHERE u.balance <>"
     " (SELECT coalesce(sum(l.delta), 0) FROM balance_ledger l WHERE l.user_id = u.id)",
     0, "every balance equals the sum of its ledger", " differ"},
    {"SELECT count(*) FROM payments p WHERE p.amount > 0 AND (SELECT count(*) FROM balance_ledger l"
     " WHERE l.payment_id = p.id AND l.delta = -p.amount AND l.user_id = p.user_id) <> 1",
     0, "every payment has exactly one ledger row of its amount", " not"},
};

/* Whether Redis keeps hold id (one of its own, shared/hold.h) for user. */
static int f_redis_keeps(int64_t id, const char *user)
{
    char key[64], field[24];
    redisReply *r;
    int kept;

    snprintf(key, sizeof key, "{c:%lld}:holds", (long long)(id / 1000000000));
    snprintf(field, sizeof field, "%lld", (long long)id);
    r = t_redis(3, (const char *[]){"HGET", key, field});
    kept = r && r->type == REDIS_REPLY_STRING && strncmp(r->str, user, 36) == 0 && r->str[36] == '|';
    if (r)
        freeReplyObject(r);
    return kept;
}

/* How many of the 201 holds the clients got are reservations of their
 * users: in PostgreSQL (paid, or made there) or in Redis (kept there until
 * paid). With L->redis_may_lose, one Redis lost with its data counts too,
 * and is reported. */
static int64_t f_holds_kept(const struct f_load *L, const char *concert)
{
    int64_t kept = 0, lost = 0;

    for (size_t i = 0; i < L->nrecs; i++) {
        const struct f_rec *x = &L->recs[i];
        char id[24];
        const char *p[] = {id, x->user, concert};

        if (x->op != F_HOLD || x->status != 201)
            continue;
        snprintf(id, sizeof id, "%lld", (long long)x->id1);
        if (t_pg_int("SELECT count(*) FROM reservations WHERE id = $1::bigint AND user_id = $2::uuid"
                     " AND concert_id = $3::bigint", 3, p) == 1 ||
            (x->id1 >= 1000000000 && f_redis_keeps(x->id1, x->user)))
            kept++;
        else if (L->redis_may_lose && x->id1 >= 1000000000)
            lost++;
    }
    if (lost > 0)
        f_diag("%lld holds answered 201 were lost with Redis's data (never paid, never sold)", (long long)lost);
    return kept + lost;
}

void f_check_state(const struct f_load *L, f_report report)
{
    char concert[24];
    const char *p1[] = {concert};
    /* What the clients got, as PostgreSQL array literals: the payments'
     * and their reservations' ids, every charge's user and whether it got a
     * 200 (the holds are looked up one by one, f_holds_kept). */
    struct f_buf pid = {0}, prid = {0}, cuser = {0}, cok = {0};
    struct f_buf *const arrays[] = {&pid, &prid, &cuser, &cok};
    const size_t narrays = sizeof arrays / sizeof arrays[0];
    long nhold = 0, npay = 0, ncharge = 0, ncharge_ok = 0;
    int64_t v;

    snprintf(concert, sizeof concert, "%lld", (long long)L->concert);

    for (size_t i = 0; i < sizeof f_invariants / sizeof f_invariants[0]; i++) {
        const struct f_invariant *c = &f_invariants[i];
        v = f_q(c->sql, c->of_concert, c->of_concert ? p1 : NULL);
        ok(v == 0, "%s (%lld%s)", c->what, (long long)v, c->counted);
    }

    for (size_t k = 0; k < narrays; k++)
        f_add(arrays[k], "{");
    for (size_t i = 0; i < L->nrecs; i++) {
        const struct f_rec *x = &L->recs[i];
        if (x->op == F_HOLD && x->status == 201) {
            nhold++;
        } else if (x->op == F_PAY && x->status == 201) {
            f_add(&pid, "%s%lld", npay ? "," : "", (long long)x->id1);
            f_add(&prid, "%s%lld", npay ? "," : "", (long long)x->id2);
            npay++;
        } else if (x->op == F_CHARGE) {
            /* Every charge sent, answered or not: a 2xx must be in the
             * ledger, and none may be there twice. */
            f_add(&cuser, "%s%s", ncharge ? "," : "", x->user);
            f_add(&cok, "%s%d", ncharge ? "," : "", x->status == 200);
            ncharge++;
            ncharge_ok += x->status == 200;
        }
    }
    for (size_t k = 0; k < narrays; k++)
        f_add(arrays[k], "}");
    v = f_holds_kept(L, concert);
    ok(v == nhold, "every 201 hold a client got is a reservation of that user (%lld of %ld)", (long long)v, nhold);
    v = f_q_arrays("SELECT count(*) FROM unnest($1::bigint[], $2::bigint[]) x(pid, rid)"
                   " JOIN payments p ON p.id = x.pid AND p.reservation_id = x.rid"
                   " JOIN reservations r ON r.id = x.rid AND r.status = 'CONFIRMED' AND r.paid_at IS NOT NULL",
                   pid.s, prid.s, NULL);
    ok(v == npay, "every 201 payment a client got is a payment of a confirmed reservation (%lld of %ld)",
       (long long)v, npay);
    v = f_q_arrays("SELECT count(*) FROM (SELECT u, sum(ok) AS ok, count(*) AS sent"
                   " FROM unnest($1::uuid[], $2::int[]) x(u, ok) GROUP BY u) a"
                   " WHERE (SELECT count(*) FROM balance_ledger l WHERE l.user_id = a.u AND l.kind = 'CHARGE')"
                   " NOT BETWEEN a.ok AND a.sent",
                   cuser.s, cok.s, NULL);
    ok(v == 0, "charges: every 200 is in the ledger and none took effect twice (%lld users off; %ld sent, %ld 200)",
       (long long)v, ncharge, ncharge_ok);
    for (size_t k = 0; k < narrays; k++)
        free(arrays[k]->s);
}

/* --- outage windows ----------------------------------------------------------- */

static int f_success(const struct f_rec *x, long tokens_lost_before)
{
    if (x->status == 200 || x->status == 201 || x->status == 402 || x->status == 409 || x->status == 410)
        return 1;
    return x->status == 401 && tokens_lost_before >= 0 && x->token_t >= 0 && x->token_t < tokens_lost_before;
}

int f_succeeded(const struct f_rec *x)
{
    return f_success(x, -1);
}

static int f_clean_503(const struct f_rec *x)
{
    return x->status == 503 && x->retry_after && x->json_error && strcmp(x->code, "UNAVAILABLE") == 0;
}

void f_check_window(const struct f_load *L, long begin, long end, long grace_ms, const int *needs,
                    long tokens_lost_before, f_report report)
{
    long before = 0, before_bad = 0, free_n = 0, free_bad = 0, need_n = 0, need_bad = 0, need_503 = 0;
    long after = 0, after_bad = 0;
    const struct f_rec *first_bad_after = NULL, *first_bad_free = NULL;

    for (size_t i = 0; i < L->nrecs; i++) {
        const struct f_rec *x = &L->recs[i];
        int good = f_success(x, tokens_lost_before);
        if (x->t1 < begin) {
            before++;
            before_bad += !good;
        } else if (x->t0 > end + grace_ms) {
            after++;
            if (!good) {
                after_bad++;
                if (!first_bad_after)
                    first_bad_after = x;
            }
        } else if (!needs[x->op]) {
            free_n++;
            if (!good) {
                free_bad++;
                if (!first_bad_free)
                    first_bad_free = x;
            }
        } else {
            need_n++;
            if (f_clean_503(x))
                need_503++;
            else if (!good)
                need_bad++;
        }
    }
    ok(before > 0 && before_bad == 0, "before the fault every request succeeded (%ld of %ld)",
       before - before_bad, before);
    if (first_bad_free)
        diag("first failure of a request that did not need the store: %s %d %s at %ld ms",
             f_op_name[first_bad_free->op], first_bad_free->status, first_bad_free->code, first_bad_free->t0);
    {
        int any_free = 0;
        for (int op = 0; op < F_NOPS; op++)
            any_free |= !needs[op];
        /* Every op may need the store (Redis: each carries a session or a
         * queue token); then there is nothing to see here but that. */
        ok(any_free ? free_n > 0 && free_bad == 0 : free_n == 0,
           "during it, requests that do not need the store all succeeded (%ld of %ld%s)",
           free_n - free_bad, free_n, any_free ? "" : ": every request needs it");
    }
    ok(need_bad == 0, "during it, requests that need the store succeeded or got a JSON 503 with Retry-After"
       " (%ld other answers of %ld)", need_bad, need_n);
    ok(need_503 > 0, "the outage was felt: %ld requests got 503 with Retry-After", need_503);
    if (first_bad_after)
        diag("first failure after recovery: %s %d %s at %ld ms", f_op_name[first_bad_after->op],
             first_bad_after->status, first_bad_after->code, first_bad_after->t0);
    ok(after > 0 && after_bad == 0, "from %ld ms after the store came back every request succeeded (%ld of %ld)",
       grace_ms, after - after_bad, after);
}

int f_responder_pids(pid_t *out, int max)
{
    static const char *const groups[] = {"admin", "queue", "catalog", "reservations", "balance", "payments",
                                         "accounts"};
    int n = 0;

    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (int i = 1; i <= 2; i++) {
            char name[64];
            pid_t mw;
            snprintf(name, sizeof name, "%s-%d", groups[g], i);
            mw = f_multiwatch(name);
            if (mw > 0 && n < max)
                n += f_children(mw, out + n, max - n);
        }
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            pid_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

long f_health(const char *store, char *value, size_t cap)
{
    struct t_resp r;
    long status;
    const char *v;

    if (t_get("/healthz", NULL, &r) < 0)
        return 0;
    status = r.status;
    v = t_json_str(r.json, store);
    snprintf(value, cap, "%s", v ? v : "?");
    t_resp_free(&r);
    return status;
}
