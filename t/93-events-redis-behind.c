/* 93-events-redis-behind: a Redis that comes back without its last stream
 * entries gets them again from the relay, and only them.
 *
 * The story: a user's three charges are published. Redis is stopped, its
 * files copied, and started again; five more charges are published. Then
 * redis-server is killed with -9 and started from the older copy: the
 * stream has lost the last five entries, while PostgreSQL has their outbox
 * rows marked sent (what a restore from an older copy, a restart from an
 * RDB snapshot or a failover to a replica that had not received the last
 * XADDs leaves). The relay's marker beside the stream names the last batch
 * that copy holds, so the relay publishes again, with the same eventIds,
 * the rows sent after it: the five charges are back in the stream, the
 * three before appear once each (nothing that Redis still had is sent
 * twice). Before, the marker only said that Redis held something, and the
 * five were lost for good.
 *
 * Last, the upgrade from that single marker: with the markers beside the
 * streams gone and the old one there, the relay sets the new ones and
 * deletes the old one, publishing nothing again (a day's events published
 * twice, and new ones waiting behind them, on every deploy otherwise).
 *
 * And a failover to a replica that lacked the last writes: two more
 * charges' entries are deleted and the marker set back to what it was
 * before them, as such a replica would hold, and one more charge follows
 * at once, so that its batch reaches Redis before the relay's next check.
 * The batch must not move the marker on past the loss (which would hide
 * it): the two lost entries come back. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "40-booking.h"
#include "rds.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BEFORE 3
#define AFTER 5
#define N (BEFORE + AFTER)
/* The failover: two entries lost, then one more charge. */
#define LOST 2
#define ALL (N + LOST + 1)

static char user[37];
static char *event_ids[ALL];

/* How often each of the user's first n events appears among the newest
 * entries of payment-events (late in the suite the stream is long). */
static void count_in_stream(int n, int *counts)
{
    const char *argv[] = {"XREVRANGE", "payment-events", "+", "-", "COUNT", "5000"};
    redisReply *reply = rds_command(6, argv, NULL);

    for (int k = 0; k < n; k++)
        counts[k] = 0;
    for (size_t i = 0; reply && i < reply->elements; i++) {
        redisReply *f = reply->element[i]->element[1];

        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (strcmp(f->element[j]->str, "eventId") != 0)
                continue;
            for (int k = 0; k < n; k++)
                counts[k] += event_ids[k] && strcmp(f->element[j + 1]->str, event_ids[k]) == 0;
        }
    }
    if (reply)
        freeReplyObject(reply);
}

/* Charges the user `count` times (keyed) and reads the events' ids from the
 * outbox, from index `from` on. Returns how many charges answered 200. */
static int charge(int from, int count)
{
    int done = 0;

    for (int i = from; i < from + count; i++) {
        char key[64];

        snprintf(key, sizeof key, "behind-%d-%d", (int)getpid(), i);
        done += bk_charge(user, 100, key, NULL) == 200;
    }
    for (int i = from; i < from + count; i++) {
        char nth[16];
        const char *p[] = {user, nth};

        snprintf(nth, sizeof nth, "%d", i);
        event_ids[i] = t_pg_value("SELECT event_id::text FROM outbox WHERE type = 'balance.charged' AND "
                                  "data->>'userId' = $1 ORDER BY id OFFSET $2::integer LIMIT 1",
                                  2, p);
    }
    return done;
}

/* Waits (up to max_ms) until each of the first n events is in the stream. */
static int all_in_stream(int n, long max_ms, int *counts)
{
    double start = t_now_s();

    do {
        int all = 1;

        count_in_stream(n, counts);
        for (int k = 0; k < n; k++)
            all = all && counts[k] > 0;
        if (all)
            return 1;
        t_sleep_ms(100);
    } while ((t_now_s() - start) * 1000 < max_ms);
    return 0;
}

int main(void)
{
    const char *port = getenv("CONCERT_REDIS_PORT");
    int counts[ALL], missing = 0, twice = 0;
    char found[256];

    f_require_stack();
    plan(12);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 5000);
    t_user(user);

    ok(charge(0, BEFORE) == BEFORE && all_in_stream(BEFORE, 5000, counts),
       "%d charges published to payment-events", BEFORE);
    ok(f_dev("redis-stop") == 0 && f_dev("redis-copy") == 0 && f_dev("redis-start") == 0,
       "Redis stopped, its files copied, started again");
    ok(charge(BEFORE, AFTER) == AFTER && all_in_stream(N, 5000, counts), "%d more charges published", AFTER);
    ok(f_dev("redis-kill") == 0 && f_dev("redis-restore-copy") == 0 && f_dev("redis-start") == 0,
       "redis-server killed with -9 and started again from the older copy");
    count_in_stream(N, counts);
    for (int k = BEFORE; k < N; k++)
        missing += counts[k] == 0;
    diag("just after the restart, %d of the %d later events were missing from the stream", missing, AFTER);

    ok(all_in_stream(N, 10000, counts), "the relay published the lost events again: all %d are in the stream",
       AFTER);
    for (int k = 0; k < BEFORE; k++)
        twice += counts[k] != 1;
    ok(twice == 0, "the %d events Redis still had were not published again (%d were)", BEFORE, twice);
    {
        int64_t unsent = -1;

        for (int i = 0; i < 50 && unsent != 0; i++) {
            unsent = t_pg_int("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, NULL);
            if (unsent != 0)
                t_sleep_ms(100);
        }
        ok(unsent == 0, "no outbox row left unsent (%lld)", (long long)unsent);
    }
    t_grep_logs(getenv("CONCERT_VAR"), "events sent after it are published again", found, sizeof found);
    ok(found[0] != '\0', "the relay said what it published again");

    {
        /* One key a command: the test stack's Redis is a cluster, and the
         * keys are in three hash slots. */
        const char *del_payment[] = {"DEL", "{payment-events}:published"};
        const char *del_reservation[] = {"DEL", "{reservation-events}:published"};
        const char *old[] = {"SET", "concert:relay:published", "1"};
        const char *payment_exists[] = {"EXISTS", "{payment-events}:published"};
        const char *reservation_exists[] = {"EXISTS", "{reservation-events}:published"};
        const char *old_exists[] = {"EXISTS", "concert:relay:published"};
        long long markers = -1, olds = -1;
        int again = 0;

        t_redis_cmd(2, del_payment);
        t_redis_cmd(2, del_reservation);
        t_redis_cmd(3, old);
        for (int i = 0; i < 50; i++) {
            markers = t_redis_int(2, payment_exists) + t_redis_int(2, reservation_exists);
            olds = t_redis_int(2, old_exists);
            if (markers == 2 && olds == 0)
                break;
            t_sleep_ms(100);
        }
        ok(markers == 2 && olds == 0, "the old marker was replaced by the markers beside the streams");
        t_sleep_ms(1500);
        count_in_stream(N, counts);
        for (int k = 0; k < N; k++)
            again += counts[k] != 1;
        ok(again == 0, "and nothing was published again (%d of the %d events appear other than once)", again, N);
    }

    {
        const char *get[] = {"GET", "{payment-events}:published"};
        const char *scan[] = {"XREVRANGE", "payment-events", "+", "-", "COUNT", "200"};
        redisReply *marker = rds_command(2, get, NULL), *entries;
        char before_lost[32] = "";
        int deleted = 0;

        if (marker && marker->type == REDIS_REPLY_STRING)
            snprintf(before_lost, sizeof before_lost, "%s", marker->str);
        if (marker)
            freeReplyObject(marker);
        charge(N, LOST);
        all_in_stream(N + LOST, 5000, counts);
        /* The replica never had the two entries, nor the marker's move. */
        entries = rds_command(6, scan, NULL);
        for (size_t i = 0; entries && i < entries->elements; i++) {
            redisReply *f = entries->element[i]->element[1];

            for (size_t j = 0; j + 1 < f->elements; j += 2)
                for (int k = N; k < N + LOST; k++)
                    if (strcmp(f->element[j]->str, "eventId") == 0 && event_ids[k] &&
                        strcmp(f->element[j + 1]->str, event_ids[k]) == 0) {
                        const char *xdel[] = {"XDEL", "payment-events", entries->element[i]->element[0]->str};
                        redisReply *d = rds_command(3, xdel, NULL);

                        deleted += d && d->type == REDIS_REPLY_INTEGER ? (int)d->integer : 0;
                        if (d)
                            freeReplyObject(d);
                    }
        }
        if (entries)
            freeReplyObject(entries);
        {
            const char *set[] = {"SET", "{payment-events}:published", before_lost};
            redisReply *r = before_lost[0] ? rds_command(3, set, NULL) : NULL;

            if (r)
                freeReplyObject(r);
        }
        charge(N + LOST, 1);
        ok(deleted == LOST && before_lost[0], "a failover lost %d entries and the marker's move; one more charge",
           LOST);
        ok(all_in_stream(ALL, 10000, counts), "the lost entries came back, and the charge after them is there");
    }
    for (int k = 0; k < ALL; k++)
        free(event_ids[k]);
    rds_close();
    return done_testing();
}
