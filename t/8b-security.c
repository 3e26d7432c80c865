/* 8b-security: the security basics of the running stack.
 *
 *   - Per-address rate limit on token issuance (nginx limit_req, see
 *     conf/nginx/concert.conf): a client at another loopback address
 *     (127.0.0.x, x random) sends token POSTs as fast as it can; past the
 *     burst of 1000 (plus 20 a second) it gets a JSON 429 RATE_LIMITED with
 *     Retry-After, while token polling from that address and token POSTs
 *     from the host itself (127.0.0.1, exempt) are not limited.
 *   - The admin key and queue tokens are never written to any log of the
 *     stack (after requests with the right key, wrong keys carrying a unique
 *     marker, and a token used on every token-checking endpoint).
 *   - Every server of the stack runs as the unprivileged app user when the
 *     tests run as root.
 * Behind nginx only (Apache has no rate limit here; see conf/apache). */
#include "tap.h"
#include "testlib.h"

#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define SENDERS 8
#define PER_SENDER 200   /* 1,600 token POSTs: past the burst of 1000 */

struct hdr {
    int retry_after;
};

static size_t on_header(char *p, size_t s, size_t n, void *arg)
{
    struct hdr *h = arg;
    if (s * n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        h->retry_after = 1;
    return s * n;
}

/* counts[0] 429 with Retry-After and JSON, [1] other 429, [2] passed, [3] errors */
static void sender(const char *from, int *counts)
{
    CURL *c = curl_easy_init();
    char url[300], iface[64], body_buf[512];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    snprintf(url, sizeof url, "%s/api/v1/queue/tokens", t_base_url());
    snprintf(iface, sizeof iface, "host!%s", from);
    for (int i = 0; i < PER_SENDER; i++) {
        struct hdr hd = {0};
        long status = 0;
        FILE *mem = fmemopen(body_buf, sizeof body_buf - 1, "w");
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
        memset(body_buf, 0, sizeof body_buf);
        if (curl_easy_perform(c) != CURLE_OK) {
            fclose(mem);
            counts[3]++;
            continue;
        }
        fclose(mem);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 429 && hd.retry_after && strstr(body_buf, "\"RATE_LIMITED\""))
            counts[0]++;
        else if (status == 429)
            counts[1]++;
        else
            counts[2]++;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static long status_from(const char *from, const char *method, const char *path, const char *body)
{
    struct t_resp r;
    long status;

    t_request_from(from, method, path, NULL, body, &r);
    status = r.status;
    t_resp_free(&r);
    return status;
}

static uid_t uid_of(long pid)
{
    char path[64], line[256];
    FILE *f;
    long uid = -1;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Uid: %ld", &uid) == 1)
            break;
    if (f)
        fclose(f);
    return (uid_t)uid;
}

static long pid_in(const char *name)
{
    char path[600];
    long pid = -1;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", getenv("CONCERT_VAR"), name);
    f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return pid;
}

int main(void)
{
    const char *front = getenv("CONCERT_FRONT_NAME");
    int *counts;
    char from[32], marker[64], found[4096];
    struct timespec t0, t1;
    double secs;

    t_init();
    if (front && strcmp(front, "nginx") != 0)
        skip_all("behind nginx only (the rate limit is nginx's)");
    if (!getenv("CONCERT_VAR"))
        skip_all("needs the ./dev test stack");
    plan(9);

    /* --- rate limit ---------------------------------------------------- */
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(from, sizeof from, "127.0.%d.%d", 1 + rand() % 250, 2 + rand() % 250);
    counts = mmap(NULL, sizeof(int) * 4 * SENDERS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(counts, 0, sizeof(int) * 4 * SENDERS);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    for (int i = 0; i < SENDERS; i++) {
        if (fork() == 0) {
            sender(from, counts + 4 * i);
            _exit(0);
        }
    }
    for (int i = 0; i < SENDERS; i++)
        wait(NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    for (int i = 1; i < SENDERS; i++)
        for (int k = 0; k < 4; k++)
            counts[k] += counts[4 * i + k];
    diag("%d token POSTs from %s in %.2f s: %d passed, %d limited", SENDERS * PER_SENDER, from, secs, counts[2],
         counts[0] + counts[1]);
    ok(counts[0] > 0 && counts[1] == 0 && counts[3] == 0,
       "past the burst: JSON 429 RATE_LIMITED with Retry-After (%d; bad 429 %d, errors %d)", counts[0], counts[1],
       counts[3]);
    ok(counts[2] >= 1000 && counts[2] <= 1000 + (int)(20 * secs) + 20,
       "the burst of 1000 (+20/s over %.1f s) passed: %d", secs, counts[2]);
    ok(status_from(from, "GET", "/api/v1/queue/status", NULL) == 401,
       "polling from the limited address is not limited (401 without a token)");
    ok(status_from("127.0.0.1", "POST", "/api/v1/queue/tokens", "{}") == 401,
       "token POSTs from 127.0.0.1 (the host) are not limited (401 without a session)");

    /* --- secrets never logged -------------------------------------------- */
    {
        char auth[300], user[37], *tok;
        const char *headers[] = {auth, NULL};
        struct t_resp r;
        int64_t sched;
        int64_t concert;

        snprintf(marker, sizeof marker, "wrong-admin-key-marker-%d-%ld", (int)getpid(), (long)time(NULL));
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", marker);
        t_request("POST", "/api/v1/admin/concerts", headers, "{\"title\":\"x\"}", &r);
        ok(r.status == 401, "a wrong admin key is refused (%ld)", r.status);
        t_resp_free(&r);
        concert = t_create_concert(10, 600, 600, 300, 1, 10, 100, &sched);
        tok = t_active_user(concert, user);
        if (tok) {
            char path[128];
            t_get("/api/v1/queue/status", tok, &r);
            t_resp_free(&r);
            snprintf(path, sizeof path, "/api/v1/schedules/%lld/seats", (long long)sched);
            t_get(path, tok, &r);
            t_resp_free(&r);
            t_post("/api/v1/reservations", tok, "{\"scheduleId\":1,\"seatNos\":[\"x\"]}", &r);
            t_resp_free(&r);
            t_post("/api/v1/payments", tok, "{\"reservationId\":999999999}", &r);
            t_resp_free(&r);
        }
        /* Give the servers a moment to write whatever they write. */
        t_sleep_ms(300);
        {
            char logdir[600];
            snprintf(logdir, sizeof logdir, "%s/log", getenv("CONCERT_VAR"));
            found[0] = '\0';
            t_grep_logs(logdir, t_admin_key(), found, sizeof found);
            ok(found[0] == '\0', "the admin key is in no log%s", found);
            found[0] = '\0';
            t_grep_logs(logdir, marker, found, sizeof found);
            ok(found[0] == '\0', "nor a wrong key that was tried%s", found);
            found[0] = '\0';
            if (tok)
                t_grep_logs(logdir, strchr(tok, '.') ? strchr(tok, '.') + 1 : tok, found, sizeof found);
            ok(tok && found[0] == '\0', "nor a queue token%s", found);
        }
        free(tok);
    }

    /* --- unprivileged servers --------------------------------------------- */
    {
        const char *as = getenv("CONCERT_RUN_AS");
        if (getuid() != 0 || !as || !*as) {
            ok(1, "# SKIP not run as root: the servers run as the invoking user");
        } else {
            struct passwd *pw = getpwnam(as);
            static const char *const pidfiles[] = {"run/redis.pid", "run/nginx.pid", "pg/postmaster.pid",
                                                   "run/apache.pid"};
            int bad = 0, seen = 0;
            for (size_t i = 0; i < sizeof pidfiles / sizeof pidfiles[0]; i++) {
                long pid = pid_in(pidfiles[i]);
                if (pid > 0 && kill((pid_t)pid, 0) == 0) {
                    seen++;
                    if (!pw || uid_of(pid) != pw->pw_uid) {
                        diag("%s: pid %ld runs as uid %ld", pidfiles[i], pid, (long)uid_of(pid));
                        bad++;
                    }
                }
            }
            /* Every responder process (children of the instances). */
            {
                DIR *d = opendir("/proc");
                struct dirent *e;
                char want[700];
                snprintf(want, sizeof want, "CONCERT_CONF=%s", getenv("CONCERT_CONF") ? getenv("CONCERT_CONF") : "");
                while (d && (e = readdir(d))) {
                    char env[16384], comm[64];
                    long n;
                    if (t_proc_read(e->d_name, "comm", comm, sizeof comm) < 0)
                        continue;
                    /* Servers only: the responders and their supervisors
                     * (the test's own processes carry the variable too). */
                    if (strncmp(comm, "concert-", 8) != 0 && strncmp(comm, "multiwatch", 10) != 0)
                        continue;
                    n = t_proc_read(e->d_name, "environ", env, sizeof env);
                    for (long o = 0; o < n; o += (long)strlen(env + o) + 1) {
                        if (strcmp(env + o, want) == 0) {
                            long pid = atol(e->d_name);
                            seen++;
                            if (!pw || uid_of(pid) != pw->pw_uid) {
                                diag("pid %ld (CONCERT_CONF of this stack) runs as uid %ld", pid, (long)uid_of(pid));
                                bad++;
                            }
                            break;
                        }
                    }
                }
                if (d)
                    closedir(d);
            }
            ok(seen > 12 && bad == 0, "all %d server processes of the stack run as %s", seen, as);
        }
    }
    return done_testing();
}
