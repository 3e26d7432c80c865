/* 2o-cluster-drop: the service on a three-primary Redis Cluster (the test
 * stack's second front, whose responders run in cluster mode). Concerts
 * are made until each primary owns one; a drop runs on all three at once
 * (several client processes each: sessions, queue tokens, seat maps,
 * holds, charges and payments through the HTTP API); afterwards no seat is
 * held or sold twice, every balance equals its ledger and every 2xx is in
 * PostgreSQL, and the sessions spread over the primaries. Then a live
 * concert's slot is moved to another primary while it sells (MIGRATING,
 * IMPORTING, MIGRATE, SETSLOT NODE): the clients get no error but a clean
 * 503, and those only while the slot is moving (plus a second). */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "keyspace.h"
#include "rds_cluster.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEATS 40
#define CLIENTS 3
#define DROP_MS 8000

static int nports, ports[T_CLUSTER_MAX];
static char nodes[256];

static int report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}

/* The slot of a concert's keys. */
static int concert_slot(int64_t concert)
{
    char key[KEYSPACE_CONCERT_KEY_SIZE];

    keyspace_queue(key, sizeof key, concert, QUEUE_KEY_CONF);
    return rds_cluster_key_slot(key, strlen(key));
}

static int port_index(int port)
{
    for (int i = 0; i < nports; i++)
        if (ports[i] == port)
            return i;
    return -1;
}

/* Session keys (session:<H>) on the node at port, counted with an
 * unrouted SCAN. */
static long sessions_on(int port)
{
    char cursor[32] = "0";
    long n = 0;

    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", KEYSPACE_SESSION_PREFIX "*", "COUNT", "1000"};
        redisReply *r = t_node(port, 6, argv);

        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        n += (long)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

/* Nothing but successes, business refusals and 401s after a session
 * ended (none here), and clean 503s: how many of each kind else. */
static void tally_all(const struct f_load *L, struct f_tally *t)
{
    f_tally(L, -1, 0, 1L << 40, t);
}

int main(void)
{
    struct f_load load[T_CLUSTER_MAX], moving;
    int64_t concert[T_CLUSTER_MAX] = {0}, schedules[T_CLUSTER_MAX][F_LOAD_SCHEDULES];
    int owned = 0, made = 0;
    const char *url = getenv("CONCERT_CLUSTER_URL");

    nports = t_cluster_ports(ports, nodes);
    if (!url || !*url || nports < 3)
        skip_all("no three-primary cluster front (CONCERT_CLUSTER_URL, CONCERT_CLUSTER_PORTS)");
    /* Every request goes to the cluster's front, and the tests' own Redis
     * calls (sessions made for users) are routed over the cluster too. */
    setenv("CONCERT_BASE_URL", url, 1);
    setenv("CONCERT_REDIS_CLUSTER", nodes, 1);
    t_init();
    plan(1 + 3 * (2 + F_CHECKS) + 1 + F_MOVE_CHECKS + F_CHECKS);

    step("concerts are made until each primary owns one");
    while (owned < 3 && made < 60) {
        int64_t s[F_LOAD_SCHEDULES];
        int64_t c = f_load_concert(SEATS, s);
        int p = c > 0 ? port_index(t_cluster_owner(concert_slot(c), ports[0])) : -1;

        made++;
        if (p >= 0 && p < 3 && concert[p] == 0) {
            concert[p] = c;
            memcpy(schedules[p], s, sizeof s);
            owned++;
        }
    }
    ok(owned == 3, "%d concerts made; primaries %d, %d, %d own concerts %lld, %lld, %lld", made, ports[0], ports[1],
       ports[2], (long long)concert[0], (long long)concert[1], (long long)concert[2]);
    if (owned < 3)
        bail_out("no concert on every primary");

    step("a drop on each primary's concert at once");
    for (int p = 0; p < 3; p++) {
        char name[32];

        snprintf(name, sizeof name, "2m-drop-%d", p);
        if (f_load_start_on(&load[p], name, concert[p], schedules[p], CLIENTS, SEATS, 0) < 0)
            bail_out("the load did not start");
    }
    t_sleep_ms(DROP_MS);
    for (int p = 0; p < 3; p++)
        f_load_stop(&load[p]);
    for (int p = 0; p < 3; p++) {
        struct f_tally t;

        tally_all(&load[p], &t);
        ok(t.ok > 50 && t.unavailable + t.unavailable_bad + t.other + t.transport + t.unauth == 0,
           "concert %lld on %d: %ld requests, %ld 2xx, %ld business refusals, none failed", (long long)concert[p],
           ports[p], t.total, t.ok, t.business);
        {
            struct f_tally hold, pay;

            f_tally(&load[p], F_HOLD, 0, 1L << 40, &hold);
            f_tally(&load[p], F_PAY, 0, 1L << 40, &pay);
            ok(hold.ok > 0 && pay.ok > 0, "seats were held (%ld) and paid for (%ld)", hold.ok, pay.ok);
            diag("drop on concert %lld (primary %d): %ld requests in %d ms, %ld 2xx, %ld business refusals, "
                 "%ld 503, %ld holds and %ld payments made",
                 (long long)concert[p], ports[p], t.total, DROP_MS, t.ok, t.business, t.unavailable, hold.ok, pay.ok);
        }
        f_check_state(&load[p], report);
        f_load_free(&load[p]);
    }

    step("the sessions spread over the primaries");
    {
        long n[3];

        for (int p = 0; p < 3; p++)
            n[p] = sessions_on(ports[p]);
        ok(n[0] > 0 && n[1] > 0 && n[2] > 0, "sessions on each primary: %ld, %ld, %ld", n[0], n[1], n[2]);
        diag("sessions per primary: %ld, %ld, %ld", n[0], n[1], n[2]);
    }
    step("a concert's slot moves to another primary while it sells");
    {
        int slot = concert_slot(concert[0]);

        if (f_load_start_on(&moving, "2m-move", concert[0], schedules[0], CLIENTS, SEATS, 0) < 0)
            bail_out("the load did not start");
        t_sleep_ms(2000);
        f_move_story(&moving, slot, t_cluster_owner(slot, ports[0]), ports[1], ports, nports, report);
        f_check_state(&moving, report);
        f_load_free(&moving);
    }
    return done_testing();
}
