/* 91-events-consumer: concert-events follows a topic through a consumer
 * group, one JSON object a line, and resumes where it stopped.
 *
 * The story: a new group starts at the stream's end. A user holds and
 * cancels three times (six events); the consumer asked for two prints two
 * and stops; run again it goes on with the third. Then it runs in the
 * background while more events come, is killed with -9, more come while it
 * is dead, and started again it prints everything it had not acknowledged:
 * every event of the user appears, none lost (one printed just before the
 * kill may appear twice: at least once). A new group with --from-start
 * replays them all from the stream's start. Bad arguments are refused. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *consumer;
static char dir[256];

/* Runs concert-events with args, its lines into file; returns the exit status. */
static int run(const char *args, const char *file)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "%s %s >%s/%s 2>>%s/stderr", consumer, args, dir, file, dir);
    return WEXITSTATUS(system(cmd));
}

static pid_t run_bg(const char *args, const char *file)
{
    char out[512], copy[512];
    char *argv[16];
    int n = 0;

    snprintf(out, sizeof out, "%s/%s", dir, file);
    snprintf(copy, sizeof copy, "%s", args);
    argv[n++] = (char *)consumer;
    for (char *save = NULL, *a = strtok_r(copy, " ", &save); a && n < 15; a = strtok_r(NULL, " ", &save))
        argv[n++] = a;
    argv[n] = NULL;
    return t_spawn(consumer, argv, out, "w", 0);
}

/* Counts the lines of file whose data.userId is user, appending each
 * eventId (a space before each) to ids; all lines must be whole JSON
 * events. Returns the count, or -1 when a line is not one. */
static int lines_of(const char *file, const char *user, char *ids, size_t cap)
{
    char path[512], line[8192];
    FILE *f;
    int n = 0, bad = 0;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        struct json_object *o = json_tokener_parse(line);
        const char *uid = t_json_str(o, "data.userId"), *eid = t_json_str(o, "eventId");
        if (!o || !eid || !t_json_str(o, "type") || !t_json_str(o, "occurredAt") ||
            strcmp(t_json_str(o, "stream") ? t_json_str(o, "stream") : "", "reservation-events") != 0)
            bad = 1;
        else if (uid && strcmp(uid, user) == 0) {
            n++;
            if (strlen(ids) + strlen(eid) + 2 < cap) {
                strcat(ids, " ");
                strcat(ids, eid);
            }
        }
        json_object_put(o);
    }
    fclose(f);
    return bad ? -1 : n;
}

static void hold_and_cancel(const char *token, int64_t sched, int seat)
{
    char path[64];
    struct t_resp r;
    int64_t id = bk_hold_id(token, sched, &seat, 1);

    snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, id);
    t_delete(path, token, &r);
    t_resp_free(&r);
}

/* Every eventId of the user's reservation events is in ids: the outbox's
 * rows and what the hold scripts wrote to the concert's own stream (a hold
 * is Redis's until paid, shared/hold.h). */
static int all_in(const char *user, int64_t concert, const char *ids, int *total)
{
    const char *p[] = {user};
    char *all = t_pg_value("SELECT string_agg(event_id::text, ' ') FROM outbox WHERE data->>'userId' = $1", 1, p);
    char key[64];
    redisReply *r;
    int found = 1;

    *total = 0;
    for (char *save = NULL, *id = all ? strtok_r(all, " ", &save) : NULL; id; id = strtok_r(NULL, " ", &save)) {
        (*total)++;
        if (!strstr(ids, id))
            found = 0;
    }
    free(all);
    snprintf(key, sizeof key, "{c:%" PRId64 "}:reservation-events", concert);
    r = t_redis(4, (const char *[]){"XRANGE", key, "-", "+"});
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *id = NULL;
        int mine = 0;

        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (strcmp(f->element[j]->str, "eventId") == 0)
                id = f->element[j + 1]->str;
            if (strcmp(f->element[j]->str, "data") == 0)
                mine = strstr(f->element[j + 1]->str, user) != NULL;
        }
        if (id && mine) {
            (*total)++;
            if (!strstr(ids, id))
                found = 0;
        }
    }
    if (r)
        freeReplyObject(r);
    return found && *total > 0;
}

static int wait_lines(const char *file, int want)
{
    char path[512], line[8192];

    snprintf(path, sizeof path, "%s/%s", dir, file);
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(path, "r");
        int n = 0;
        while (f && fgets(line, sizeof line, f))
            n++;
        if (f)
            fclose(f);
        if (n >= want)
            return n;
        t_sleep_ms(50);
    }
    return 0;
}

int main(void)
{
    char user[37], group[64], args[256], ids[16384] = "", one[16384];
    char *token;
    int64_t concert, sched[1];
    int n, total = 0, seat = 1;
    pid_t bg;

    t_init();
    plan(9);
    consumer = getenv("CONCERT_EVENTS");
    if (!consumer || access(consumer, X_OK) != 0)
        bail_out("CONCERT_EVENTS does not name the built concert-events");
    snprintf(dir, sizeof dir, "/tmp/concert-t91-XXXXXX");
    if (!mkdtemp(dir))
        bail_out("mkdtemp failed");
    snprintf(group, sizeof group, "t91-%d", (int)getpid());

    ok(run("--topic nonsense", "bad") == 1 && run("--count 0", "bad") == 1 && run("--concert x", "bad") == 1,
       "bad arguments are refused (exit 1)");

    concert = t_create_concert(100, 600, 600, 300, 1, 100, 1000, sched);
    token = t_active_user(concert, user);
    snprintf(args, sizeof args, "--topic reservation --group %s --consumer c1 --idle 1", group);
    run(args, "start");   /* makes the group, at the stream's end */
    for (int i = 0; i < 3; i++)
        hold_and_cancel(token, sched[0], seat++);
    t_sleep_ms(300);

    snprintf(args, sizeof args, "--topic reservation --group %s --consumer c1 --count 2", group);
    n = run(args, "first") == 0 ? lines_of("first", user, ids, sizeof ids) : -1;
    ok(n == 2, "asked for two, it prints two of the user's events and stops (%d)", n);
    snprintf(args, sizeof args, "--topic reservation --group %s --consumer c1 --count 1", group);
    one[0] = '\0';
    ok(run(args, "second") == 0 && lines_of("second", user, one, sizeof one) == 1 && !strstr(ids, one + 1),
       "run again, it goes on with the third, not the first two again");
    strcat(ids, one);

    snprintf(args, sizeof args, "--topic reservation --group %s --consumer c1 --idle 60", group);
    bg = run_bg(args, "third");
    for (int i = 0; i < 5; i++)
        hold_and_cancel(token, sched[0], seat++);
    n = wait_lines("third", 1);
    kill(bg, SIGKILL);
    waitpid(bg, NULL, 0);
    ok(n >= 1, "running in the background it prints as events come (%d lines), and is killed with -9", n);
    for (int i = 0; i < 5; i++)
        hold_and_cancel(token, sched[0], seat++);
    t_sleep_ms(300);
    snprintf(args, sizeof args, "--topic reservation --group %s --consumer c1 --idle 2", group);
    ok(run(args, "fourth") == 0 && lines_of("fourth", user, one, sizeof one) >= 10,
       "started again, it prints what it had not acknowledged and what came meanwhile");
    lines_of("third", user, ids, sizeof ids);
    lines_of("fourth", user, ids, sizeof ids);
    n = all_in(user, concert, ids, &total);
    ok(n, "none of the user's %d events is lost", total);
    ok(total == 26, "26 events: 13 holds, 13 cancels (%d)", total);

    {
        char all[16384] = "";
        snprintf(args, sizeof args, "--topic reservation --group %s-replay --consumer c1 --from-start --idle 2", group);
        ok(run(args, "replay") == 0 && lines_of("replay", user, all, sizeof all) >= total &&
               all_in(user, concert, all, &total),
           "a new group --from-start replays all of them");
    }
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "%s --topic all --concert %" PRId64 " --group %s-all --idle 1 >/dev/null 2>&1",
                 consumer, concert, group);
        ok(WEXITSTATUS(system(cmd)) == 0, "--topic all with a concert's queue stream runs and ends when idle");
    }
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            diag("could not remove %s", dir);
    }
    free(token);
    return done_testing();
}
