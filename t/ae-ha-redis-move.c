/* ae-ha-redis-move: on the several-hosts stack (./dev test --ha) a live
 * concert's slot moves to another shard's primary, on another host, while
 * 8 clients' journeys sell it through lb, as an operator adding a shard
 * moves concerts to it (README: "Adding a shard"): IMPORTING on the target,
 * MIGRATING on the source, its keys MIGRATEd a few at a time between the
 * hosts, then SETSLOT NODE on every primary (t_cluster_move_slot, the
 * steps t/2o takes on one host). Meanwhile the responders follow ASK for
 * the keys that have left and MOVED once the slot is handed over. Clients
 * may see the contract's 503 with Retry-After only while the slot moves
 * (and a second after); none before, none after. Afterwards no seat is
 * held or sold twice, every balance equals its ledger, and every 2xx is in
 * PostgreSQL. Then the slot is moved back (heal's layout, for the stories
 * after). */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"
#include "keyspace.h"
#include "rds_cluster.h"

#include <stdio.h>
#include <string.h>

#define CLIENTS 8
/* What the move may cost the clients beyond its own length: a request
 * sent just before the handover waits out a redirection or two. */
#define MOVE_GRACE_MS 1000

static int nports, ports[T_CLUSTER_MAX];
static char nodes[256];

/* The primaries' ports (those that own slots), by a node's CLUSTER SLOTS. */
static int primaries(int out[T_CLUSTER_MAX])
{
    int n = 0;

    for (int i = 0; i < nports; i++) {
        int owner = -1;

        for (int slot = 0; slot < RDS_CLUSTER_SLOTS && owner != ports[i]; slot += 512)
            owner = t_cluster_owner(slot, ports[0]) == ports[i] ? ports[i] : owner;
        if (owner == ports[i])
            out[n++] = ports[i];
    }
    return n;
}

int main(void)
{
    struct f_load L;
    char key[KEYSPACE_CONCERT_KEY_SIZE];
    int slot, from, to = -1, owners[T_CLUSTER_MAX], nowners;
    long began, ended, moved, window;
    struct f_tally t, during;

    f_require_ha();
    nports = t_cluster_ports(ports, nodes);
    if (nports < 6)
        skip_all("no several-hosts Redis Cluster (CONCERT_HA_CLUSTER_NODES)");
    plan(6 + F_CHECKS);
    ok(f_load_start(&L, "ha-redis-move", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS);
    keyspace_queue(key, sizeof key, L.concert, QUEUE_KEY_CONF);
    slot = rds_cluster_key_slot(key, strlen(key));
    from = t_cluster_owner(slot, ports[0]);
    nowners = primaries(owners);
    for (int i = 0; i < nowners && to < 0; i++)
        if (owners[i] != from)
            to = owners[i];
    if (from < 0 || to < 0)
        bail_out("no primary to move the concert's slot to");
    t_sleep_ms(3000);

    began = f_load_ms(&L);
    moved = t_cluster_move_slot(slot, from, to, owners, nowners, 5, 50);
    ended = f_load_ms(&L);
    t_sleep_ms(3000);
    f_load_stop(&L);
    ok(moved > 0 && t_cluster_owner(slot, ports[0]) == to,
       "slot %d (concert %lld) moved from :%d to :%d while it sold: %ld keys in %ld ms", slot, (long long)L.concert,
       from, to, moved, ended - began);
    f_tally(&L, -1, 0, 1L << 40, &t);
    ok(t.ok > 50 && t.unavailable_bad + t.other + t.transport + t.unauth == 0,
       "%ld requests, %ld 2xx; no error but a clean 503 (%ld of those)", t.total, t.ok, t.unavailable);
    window = f_diag_errors(&L, 0);
    f_tally(&L, -1, began, ended, &during);
    diag("slot %d moved from :%d to :%d across hosts under %d clients: %ld keys, %ld ms; %ld requests, %ld 2xx, "
         "%ld clean 503 over %ld ms; %ld requests (%ld 2xx) sent and answered while it moved",
         slot, from, to, CLIENTS, moved, ended - began, t.total, t.ok, t.unavailable, window, during.total, during.ok);
    ok(during.total > 0, "the clients met the slot half moved (%ld requests)", during.total);
    f_tally(&L, -1, 0, began, &t);
    ok(t.total > 0 && t.unavailable == 0, "before the move, no 503");
    f_tally(&L, -1, ended + MOVE_GRACE_MS, 1L << 40, &t);
    ok(t.total > 0 && t.unavailable == 0 && window <= (ended - began) + MOVE_GRACE_MS,
       "503s only while the slot moved (%ld ms of them), none after", window);
    t_pg_reset();
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
    /* Back where it was: the next stories find the layout heal keeps. */
    if (t_cluster_move_slot(slot, to, from, owners, nowners, 100, 0) < 0)
        diag("slot %d was not moved back to :%d", slot, from);
    return done_testing();
}
