/* 49-hold-fast-path: what a hold costs Redis when its show's seat map is
 * missing or its concert's facts are a second old: none of it may hold up
 * the holds of a busy concert.
 *
 * The story: twenty live holds of show A. Show B's seat map is then read
 * from PostgreSQL (B's first hold): its load marks B's live holds, and a
 * MONITOR client sees that it read none of A's (it used to read every live
 * hold of the concert, a quarter of a second of Redis in the bench). Then
 * twelve first holds of show C at once: C's seat map is loaded once, not
 * once a hold (the others wait for it). The cron's check that a seat lock
 * is a live hold's reads that one hold's record (it read every live hold
 * of the concert before the one it looked for, for each lock: seconds of
 * Redis a run on a busy concert). Last, a hold made when the
 * concert's cached facts are a second old runs its script once, by the
 * hold length it has, and the facts are read again after its answer (it
 * used to go to PostgreSQL first and run the script twice). */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "hold.h"
#include "rds.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 10
#define RACERS 12

static char *tokens[USERS];
static int64_t sched[3];

/* Counts the MONITOR lines holding needle until Redis has been quiet for
 * 300 ms, and closes the monitor. */
static long monitor_count(redisContext *mon, const char *needle, const char *also)
{
    char *line;
    long n = 0;

    while ((line = t_redis_monitor_line(mon, 300)) != NULL) {
        n += strstr(line, needle) && (!also || strstr(line, also));
        free(line);
    }
    redisFree(mon);
    return n;
}

static int race_hold(int i, void *arg)
{
    int seat = i + 1;

    (void)arg;
    return (int)bk_hold(tokens[i % USERS], sched[2], &seat, 1, NULL);
}

int main(void)
{
    char users[USERS][37], holds_key[64], map_key[64], load_key[80], hold_key[128];
    int results[RACERS], held = 0, all = 1;
    redisContext *mon;
    int64_t concert;
    long n;

    t_init();
    plan(10);
    rds_init("127.0.0.1", getenv("CONCERT_REDIS_PORT") ? atoi(getenv("CONCERT_REDIS_PORT")) : 6379, 2000);
    concert = t_create_concert_or_bail(USERS, 600, 300, 600, 3, 40, 1000, sched);
    for (int i = 0; i < USERS; i++)
        tokens[i] = t_active_user(concert, users[i]);
    snprintf(holds_key, sizeof holds_key, "\"{c:%" PRId64 "}:holds\"", concert);

    step("twenty live holds of show A");
    for (int i = 0; i < 2 * USERS; i++) {
        int seat = i + 1;
        held += bk_hold_id(tokens[i % USERS], sched[0], &seat, 1) > 0;
    }
    is_int(held, 2 * USERS, "each user holds two seats of A");

    step("show B's seat map, read from PostgreSQL, walks B's holds only");
    {
        const char *del[] = {"DEL", map_key};
        int seat = 1;

        snprintf(map_key, sizeof map_key, "{c:%" PRId64 "}:seatmap:%" PRId64, concert, sched[1]);
        t_redis_cmd(2, del);
        mon = t_redis_monitor();
        ok(bk_hold_id(tokens[0], sched[1], &seat, 1) > 0, "B's first hold (its map loaded) is made");
        n = monitor_count(mon, "\"HGET\"", holds_key);
        diag("the hold and B's map load read %ld hold records", n);
        ok(n < 5, "none of A's twenty holds was read (%ld records)", n);
    }

    step("twelve first holds of show C at once load its map once");
    snprintf(load_key, sizeof load_key, "\"3\" \"{c:%" PRId64 "}:seatmap:%" PRId64 "\"", concert, sched[2]);
    mon = t_redis_monitor();
    if (t_race(RACERS, race_hold, NULL, results) != 0)
        all = 0;
    for (int i = 0; i < RACERS; i++)
        all &= results[i] == 201;
    ok(all, "all twelve are held (201)");
    n = monitor_count(mon, "\"EVALSHA\"", load_key);
    diag("C's seat map was stored %ld times", n);
    ok(n == 1, "C's map was read from PostgreSQL and stored once (%ld)", n);

    step("the cron's check of a live hold's lock reads its record alone");
    {
        char lock[96];
        const char *get[] = {"GET", lock};
        redisReply *owner;
        int live;

        /* A's newest hold: the concert's index reached it last. */
        snprintf(lock, sizeof lock, "{c:%" PRId64 "}:seat:%" PRId64 ":%d", concert, sched[0], 2 * USERS);
        owner = t_redis(2, get);
        if (!owner || owner->type != REDIS_REPLY_STRING)
            bail_out("the newest seat of A has no lock");
        mon = t_redis_monitor();
        live = hold_lock_live(concert, sched[0], 2 * USERS, owner->str);
        n = monitor_count(mon, "\"HGET\"", holds_key);
        freeReplyObject(owner);
        is_int(live, 1, "the lock is a live hold's");
        diag("the check read %ld hold records", n);
        ok(n <= 2, "it read that hold's record (%ld records)", n);
    }

    step("a hold when the concert's facts are a second old runs once");
    /* hold_take's keys: the concert's facts, the show's map, its holds. */
    snprintf(hold_key, sizeof hold_key, ":conf\" \"{c:%" PRId64 "}:seatmap:%" PRId64 "\" \"{c:%" PRId64 "}:holds\"",
             concert, sched[0], concert);
    t_sleep_ms(1100);
    mon = t_redis_monitor();
    {
        int seat = 30;
        ok(bk_hold_id(tokens[1], sched[0], &seat, 1) > 0, "the hold is made");
    }
    n = monitor_count(mon, "\"EVALSHA\"", hold_key);
    is_int(n, 1, "its script ran once");
    {
        char conf[64];
        const char *argv[] = {"HEXISTS", conf, "hold_ms"};
        snprintf(conf, sizeof conf, "{c:%" PRId64 "}:conf", concert);
        is_int(t_redis_int(3, argv), 1, "and the facts are there, read again after its answer");
    }
    for (int i = 0; i < USERS; i++)
        free(tokens[i]);
    return done_testing();
}
