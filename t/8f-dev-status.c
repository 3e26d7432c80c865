/* 8f-dev-status: `./dev status --json` tells an operator's script what runs.
 *
 * The story: while this very stack runs, `./dev status test --json` prints
 * one JSON object whose "parts" list PostgreSQL and Redis as primaries on
 * their addresses, every responder instance, nginx, Apache, the cron loop
 * and the relay, each with its host, role, address, pid and state; every
 * part that says "running" names a live process. */
#include "tap.h"
#include "testlib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static struct json_object *find_part(struct json_object *parts, const char *name)
{
    for (size_t i = 0; parts && i < json_object_array_length(parts); i++) {
        struct json_object *p = json_object_array_get_idx(parts, i);
        const char *n = t_json_str(p, "part");
        if (n && strcmp(n, name) == 0)
            return p;
    }
    return NULL;
}

int main(void)
{
    char cmd[1200], *text = NULL;
    size_t cap = 0, len = 0;
    const char *repo = getenv("CONCERT_REPO");
    struct json_object *status, *parts, *pg, *redis;
    int alive = 1, shaped = 1, responders = 0;
    FILE *f;

    t_init();
    plan(5);
    if (!repo)
        bail_out("CONCERT_REPO is not set (run through ./dev test)");
    snprintf(cmd, sizeof cmd, "'%s/dev' status test --json 2>/dev/null", repo);
    f = popen(cmd, "r");
    if (!f)
        bail_out("cannot run ./dev status");
    for (;;) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        if (n == 0)
            break;
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            text = realloc(text, cap);
            if (!text)
                bail_out("out of memory");
        }
        memcpy(text + len, buf, n);
        len += n;
        text[len] = '\0';
    }
    ok(pclose(f) == 0 && text, "./dev status test --json exits 0");
    status = text ? json_tokener_parse(text) : NULL;
    parts = t_json_at(status, "parts");
    ok(parts && json_object_is_type(parts, json_type_array), "it prints one JSON object with a parts array");

    pg = find_part(parts, "postgres");
    redis = find_part(parts, "redis");
    ok(pg && redis && strcmp(t_json_str(pg, "role"), "primary") == 0 &&
           strcmp(t_json_str(redis, "role"), "primary") == 0 && strcmp(t_json_str(pg, "state"), "running") == 0 &&
           strcmp(t_json_str(redis, "state"), "running") == 0 && t_json_str(redis, "address") &&
           strstr(t_json_str(redis, "address"), getenv("CONCERT_REDIS_PORT") ? getenv("CONCERT_REDIS_PORT") : "?"),
       "PostgreSQL and Redis run as the primaries, Redis on this stack's port");

    for (size_t i = 0; parts && i < json_object_array_length(parts); i++) {
        struct json_object *p = json_object_array_get_idx(parts, i);
        const char *state = t_json_str(p, "state");
        int64_t pid = t_json_int(p, "pid");
        if (!t_json_str(p, "part") || !t_json_str(p, "host") || !t_json_str(p, "role") || !state ||
            !json_object_object_get_ex(p, "address", NULL) || !json_object_object_get_ex(p, "pid", NULL))
            shaped = 0;
        if (t_json_str(p, "role") && strcmp(t_json_str(p, "role"), "responder") == 0 && state &&
            strcmp(state, "running") == 0)
            responders++;
        if (state && strcmp(state, "running") == 0 && (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM)))
            alive = 0;
    }
    ok(shaped && responders >= 7, "every part has host, role, address, pid and state; %d responder instances run",
       responders);
    ok(alive, "every part said to be running is a live process");
    json_object_put(status);
    free(text);
    return done_testing();
}
