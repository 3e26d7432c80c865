/* 92-events-faults: under the fault tests' load, the relay is killed with
 * -9 twice (multiwatch starts it again) and Redis is restarted once having
 * lost its files (it comes back empty: the relay finds its markers gone and
 * publishes the last day again; the holds Redis kept, not yet paid, are
 * gone with their events). Afterwards every committed change - every
 * outbox row of a reservation, payment or balance, and every event a hold's
 * script wrote to its concert's stream - has its eventId in the streams,
 * no eventId appears with two different contents, nothing is left unsent,
 * and the invariants of faultlib.h hold. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "rds.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
    char *event_id;
    char *content;
};

static int by_event_id(const void *a, const void *b)
{
    return strcmp(((const struct seen *)a)->event_id, ((const struct seen *)b)->event_id);
}

/* Every entry of the two topics: eventId and the rest of its content. */
static struct seen *read_streams(size_t *count)
{
    const char *streams[] = {"reservation-events", "payment-events"};
    struct seen *all = NULL;
    size_t n = 0, cap = 0;

    for (int s = 0; s < 2; s++) {
        const char *argv[] = {"XRANGE", streams[s], "-", "+"};
        redisReply *reply = rds_command(4, argv, NULL);

        for (size_t i = 0; reply && i < reply->elements; i++) {
            redisReply *f = reply->element[i]->element[1];
            char content[4096] = "";
            size_t used = 0;
            const char *id = NULL;

            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                if (strcmp(f->element[k]->str, "eventId") == 0)
                    id = f->element[k + 1]->str;
                else
                    used += (size_t)snprintf(content + used, used < sizeof content ? sizeof content - used : 0,
                                             "%s=%s;", f->element[k]->str, f->element[k + 1]->str);
            }
            if (!id)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                all = realloc(all, cap * sizeof *all);
                if (!all)
                    bail_out("out of memory");
            }
            all[n].event_id = strdup(id);
            all[n].content = strdup(content);
            n++;
        }
        if (reply)
            freeReplyObject(reply);
    }
    qsort(all, n, sizeof *all, by_event_id);
    *count = n;
    return all;
}

/* The eventIds the hold scripts wrote to the concerts' own streams
 * ({c:C}:reservation-events, shared/hold.h), committed with their change
 * as the outbox's rows are: space-separated (malloc'd), *n of them. */
static char *slot_event_ids(size_t *n)
{
    char cursor[32] = "0", *ids = calloc(1, 1);
    size_t len = 0;

    *n = 0;
    do {
        redisReply *page = t_redis(8, (const char *[]){"SCAN", cursor, "MATCH", "{c:*}:reservation-events", "COUNT",
                                                       "1000", "TYPE", "stream"});

        if (!page || page->type != REDIS_REPLY_ARRAY || page->elements != 2) {
            if (page)
                freeReplyObject(page);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", page->element[0]->str);
        for (size_t k = 0; k < page->element[1]->elements; k++) {
            redisReply *r = t_redis(4, (const char *[]){"XRANGE", page->element[1]->element[k]->str, "-", "+"});

            for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
                redisReply *f = r->element[i]->element[1];

                for (size_t j = 0; j + 1 < f->elements; j += 2) {
                    if (strcmp(f->element[j]->str, "eventId") != 0)
                        continue;
                    ids = realloc(ids, len + strlen(f->element[j + 1]->str) + 2);
                    if (!ids)
                        bail_out("out of memory");
                    len += (size_t)sprintf(ids + len, "%s%s", len ? " " : "", f->element[j + 1]->str);
                    ++*n;
                }
            }
            if (r)
                freeReplyObject(r);
        }
        freeReplyObject(page);
    } while (strcmp(cursor, "0") != 0);
    return ids;
}

int main(void)
{
    struct f_load L;
    struct seen *seen;
    size_t nseen, distinct = 0, missing = 0, conflicts = 0;
    int64_t rows, unsent = -1;
    const char *port = getenv("CONCERT_REDIS_PORT");
    char *ids, *slot_ids;
    size_t nslot;

    f_require_stack();
    plan(9 + F_CHECKS);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 5000);

    if (!ok(f_load_start(&L, "events", 8, 1000, 1) == 0, "load of 8 clients started"))
        return done_testing();
    t_sleep_ms(1500);
    ok(f_kill_relay() == 1, "the relay killed with -9");
    t_sleep_ms(2000);
    ok(f_kill_relay() == 1, "the relay (started again by multiwatch) killed with -9 again");
    t_sleep_ms(1500);
    ok(f_dev("redis-stop") == 0 && f_dev("redis-wipe") == 0 && f_dev("redis-start") == 0,
       "Redis restarted without its files (empty)");
    t_sleep_ms(2500);
    f_load_stop(&L);
    L.redis_may_lose = 1;   /* the holds Redis kept went with its files */
    f_check_state(&L, f_tap_report);

    for (int i = 0; i < 100; i++) {
        unsent = t_pg_int("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, NULL);
        if (unsent == 0)
            break;
        t_sleep_ms(100);
    }
    ok(unsent == 0, "the relay caught up: no outbox row left unsent (%lld)", (long long)unsent);

    rds_close();
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 5000);
    seen = read_streams(&nseen);
    for (size_t i = 0; i < nseen; i++) {
        if (i == 0 || strcmp(seen[i].event_id, seen[i - 1].event_id) != 0)
            distinct++;
        else if (strcmp(seen[i].content, seen[i - 1].content) != 0)
            conflicts++;
    }
    rows = t_pg_int("SELECT count(*) FROM outbox", 0, NULL);
    ids = t_pg_value("SELECT string_agg(event_id::text, ' ' ORDER BY event_id::text) FROM outbox", 0, NULL);
    slot_ids = slot_event_ids(&nslot);
    rows += (int64_t)nslot;
    for (int list = 0; list < 2; list++) {
        char *save = NULL, *text = list == 0 ? ids : slot_ids;

        for (char *id = text ? strtok_r(text, " ", &save) : NULL; id; id = strtok_r(NULL, " ", &save)) {
            struct seen key = {id, NULL};

            if (!bsearch(&key, seen, nseen, sizeof *seen, by_event_id))
                missing++;
        }
    }
    diag("%lld committed changes (%zu by the hold scripts), %zu stream entries, %zu distinct eventIds",
         (long long)rows, nslot, nseen, distinct);
    ok(rows > 0 && missing == 0, "every committed change has its event in the streams (%zu of %lld missing)",
       missing, (long long)rows);
    ok(conflicts == 0, "no eventId appears with two different contents (%zu)", conflicts);
    ok(distinct == (size_t)rows, "and no event that was not committed (%zu eventIds, %lld rows)", distinct,
       (long long)rows);
    {
        char found[256];
        t_grep_logs(getenv("CONCERT_VAR"), "published again", found, sizeof found);
        ok(found[0] != '\0', "the relay said it published the last day again after Redis came back empty");
    }
    for (size_t i = 0; i < nseen; i++) {
        free(seen[i].event_id);
        free(seen[i].content);
    }
    free(seen);
    free(ids);
    free(slot_ids);
    f_load_free(&L);
    rds_close();
    return done_testing();
}
