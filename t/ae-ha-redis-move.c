/* ae-ha-redis-move: on the several-hosts stack (./dev test --ha) a live
 * concert's slot moves to another shard's primary, on another host, while
 * 8 clients' journeys sell it through lb, as an operator adding a shard
 * moves concerts to it (README: "Adding a shard"): IMPORTING on the target,
 * MIGRATING on the source, its keys MIGRATEd a few at a time between the
 * hosts, then SETSLOT NODE on every primary (t_cluster_move_slot, the
 * steps t/2o takes on one host). Meanwhile the responders follow ASK for
 * the keys that have left and MOVED once the slot is handed over. Clients
 * may see the contract's 503 with Retry-After only while the slot moves
 * (and a second after); none before, none after (f_move_story, which
 * t/2o shares). Afterwards no seat is
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

    f_require_ha();
    nports = t_cluster_ports(ports, nodes);
    if (nports < 6)
        skip_all("no several-hosts Redis Cluster (CONCERT_HA_CLUSTER_NODES)");
    plan(1 + F_MOVE_CHECKS + F_CHECKS);
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
    f_move_story(&L, slot, from, to, owners, nowners, f_tap_report);
    t_pg_reset();
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
    /* Back where it was: the next stories find the layout heal keeps. */
    if (t_cluster_move_slot(slot, to, from, owners, nowners, 100, 0) < 0)
        diag("slot %d was not moved back to :%d", slot, from);
    return done_testing();
}
