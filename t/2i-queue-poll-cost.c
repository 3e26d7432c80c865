/* 2i-queue-poll-cost: a poll of a full waiting room pays only for what it
 * needs.
 *
 * The story: a concert with activeLimit 1 has one ACTIVE user and three in
 * line. The last one polls 300 times while a MONITOR client watches what
 * Redis runs on the concert's keys. Each answer is right (WAITING,
 * position 3), yet no poll sweeps (ZRANGEBYSCORE, ZREMRANGEBYSCORE) or
 * counts free slots (ZCOUNT) while nothing can have run out or freed: a few
 * of each at most, from the facts' refresh once a second, not one a poll.
 * Nor does a poll read the pre-queue, the opening's mark or the admissions
 * of the last ten minutes, which have not changed: the cached facts say
 * them. Then the ACTIVE user pays (queue_finish): the head of the line is
 * ACTIVE on its very next poll and the others move up, so skipping the work
 * never delays an admission; and the last one's wait estimate counts that
 * admission at once (3600 s at position 3 with no admission yet, the
 * concert's slowest rate, one slot of 1,200 s; 1200 s at position 2 after
 * one, one admission in ten minutes). */
#include "tap.h"
#include "testlib.h"
#include "db.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLLS 300

static int64_t last_estimate;

static const char *poll_token(const char *token, int64_t *position)
{
    static char status[32];
    struct t_resp r;
    const char *s;

    t_get("/api/v1/queue/status", token, &r);
    *position = t_json_int(r.json, "position");
    last_estimate = t_json_int(r.json, "estimatedWaitSeconds");
    s = r.status == 200 ? t_json_str(r.json, "status") : t_error_code(&r);
    snprintf(status, sizeof status, "%s", s ? s : "");
    t_resp_free(&r);
    return status;
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");
    char users[4][37], *tokens[4], tag[32];
    int64_t concert_id, pos;
    int right = 0;
    long sweeps = 0, counts = 0, seen = 0, steady = 0;
    char pre[48], opened[48], admits[48], *line;
    redisContext *mon;

    t_init();
    t_use_config();
    plan(10);
    concert_id = t_create_concert_or_bail(1, 1200, 600, 300, 1, 10, 1000, NULL);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 2000);
    db_init(getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "");
    for (int i = 0; i < 4; i++) {
        struct t_resp r;
        t_user(users[i]);
        tokens[i] = t_issue_token(concert_id, users[i], &r);
        t_resp_free(&r);
    }
    ok(strcmp(poll_token(tokens[0], &pos), "ACTIVE") == 0 && strcmp(poll_token(tokens[3], &pos), "WAITING") == 0 &&
           pos == 3,
       "one ACTIVE, three in line (the last at position 3)");

    mon = t_redis_monitor();

    for (int i = 0; i < POLLS; i++)
        right += strcmp(poll_token(tokens[3], &pos), "WAITING") == 0 && pos == 3;
    is_int(right, POLLS, "%d polls, each WAITING at position 3", POLLS);

    /* What Redis ran on this concert's keys meanwhile (scripts' commands
     * included), read until the stream has been quiet for 300 ms. */
    snprintf(tag, sizeof tag, "{c:%" PRId64 "}", concert_id);
    snprintf(pre, sizeof pre, "\"{c:%" PRId64 "}:pre\"", concert_id);
    snprintf(opened, sizeof opened, "\"{c:%" PRId64 "}:opened\"", concert_id);
    snprintf(admits, sizeof admits, "\"{c:%" PRId64 "}:admits\"", concert_id);
    while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
        if (strstr(line, tag)) {
            seen++;
            sweeps += strstr(line, "\"ZRANGEBYSCORE\"") || strstr(line, "\"ZREMRANGEBYSCORE\"");
            counts += strstr(line, "\"ZCOUNT\"") != NULL;
            /* Read by a script's own command (not its key list). */
            steady += !strstr(line, "\"EVALSHA\"") && (strstr(line, pre) || strstr(line, opened) || strstr(line, admits));
        }
        free(line);
    }
    redisFree(mon);
    ok(seen >= POLLS, "the monitor saw the polls' commands (%ld)", seen);
    diag("during %d polls: %ld sweep commands, %ld slot counts", POLLS, sweeps, counts);
    ok(sweeps <= 30, "no sweep a poll: %ld sweep commands in %d polls", sweeps, POLLS);
    ok(counts <= 15, "no free-slot count a poll: %ld in %d polls", counts, POLLS);
    diag("during %d polls: %ld reads of the pre-queue, the opening's mark and the admissions", POLLS, steady);
    ok(steady <= 45, "none of them read a poll: %ld in %d polls", steady, POLLS);
    is_int(last_estimate, 3600, "the last one's estimate, no admission yet: 3600 s");

    is_int(queue_finish(tokens[0]), QUEUE_OK, "the ACTIVE user pays (queue_finish)");
    ok(strcmp(poll_token(tokens[1], &pos), "ACTIVE") == 0 && strcmp(poll_token(tokens[3], &pos), "WAITING") == 0 &&
           pos == 2,
       "the head is ACTIVE on its next poll; the last moved up to position 2");
    is_int(last_estimate, 1200, "and its estimate counts that admission at once: 1200 s");
    for (int i = 0; i < 4; i++)
        free(tokens[i]);
    return done_testing();
}
