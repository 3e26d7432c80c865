/* 92-events-faults: under the fault tests' load, the relay is killed with
 * -9 twice (multiwatch starts it again) and Redis is restarted once having
 * lost its files (it comes back empty: the relay finds its markers gone and
 * publishes the last day again). Afterwards every outbox row - every committed change of a
 * reservation, payment or balance - has its eventId in the streams, no
 * eventId appears with two different contents, nothing is left unsent, and
 * the invariants of faultlib.h hold. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "rds.h"

#include <signal.h>
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

int main(void)
{
    struct f_load L;
    struct seen *seen;
    size_t nseen, distinct = 0, missing = 0, conflicts = 0;
    int64_t rows, unsent = -1;
    const char *port = getenv("CONCERT_REDIS_PORT");
    char *ids;

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
    {
        char *save = NULL;
        size_t k = 0;
        for (char *id = ids ? strtok_r(ids, " ", &save) : NULL; id; id = strtok_r(NULL, " ", &save)) {
            while (k < nseen && strcmp(seen[k].event_id, id) < 0)
                k++;
            if (k == nseen || strcmp(seen[k].event_id, id) != 0)
                missing++;
        }
    }
    diag("%lld committed changes in the outbox, %zu stream entries, %zu distinct eventIds", (long long)rows,
         nseen, distinct);
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
    f_load_free(&L);
    rds_close();
    return done_testing();
}
