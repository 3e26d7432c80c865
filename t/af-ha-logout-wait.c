/* af-ha-logout-wait: on the several-hosts stack (./dev test --ha), whose
 * Redis Cluster shards each have a replica, a logout waits until a
 * replica has the session's deletion (WAIT 1) on the primary that owns the
 * session's slot, and on no other node: a failover of that shard right
 * after the logout cannot bring the session back. Several users, so that
 * their sessions land on more than one shard; for each, the WAIT calls of
 * every node (INFO commandstats) are read before and after its logout. */
#include "tap.h"
#include "testlib.h"
#include "digest.h"
#include "keyspace.h"
#include "rds_cluster.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 6

static int nports, ports[T_CLUSTER_MAX];
static char nodes[256];

int main(void)
{
    int right = 0, wrong = 0, owners_seen[T_CLUSTER_MAX] = {0}, shards = 0;

    t_init();
    if (!getenv("CONCERT_HA") || strcmp(getenv("CONCERT_HA"), "1") != 0)
        skip_all("a story of the several-hosts stack (./dev test --ha)");
    nports = t_cluster_ports(ports, nodes);
    if (nports < 6)
        skip_all("no several-hosts Redis Cluster (CONCERT_HA_CLUSTER_NODES)");
    plan(3);

    for (int u = 0; u < USERS; u++) {
        char id[37], hex[DIGEST_HEX_LEN + 1], key[128];
        const char *session;
        long before[T_CLUSTER_MAX];
        int owner, owner_waited = 0, others = 0;
        struct t_resp r;

        t_user(id);
        session = t_session(id);
        digest_hex(session, strlen(session), hex);
        keyspace_session(key, sizeof key, hex);
        owner = t_cluster_owner(rds_cluster_key_slot(key, strlen(key)), ports[0]);
        for (int i = 0; i < nports; i++)
            before[i] = t_node_calls(ports[i], "wait");
        t_delete("/api/v1/sessions/current", session, &r);
        if (r.status != 204)
            diag("logout answered %ld", r.status);
        t_resp_free(&r);
        for (int i = 0; i < nports; i++) {
            long more = t_node_calls(ports[i], "wait") - before[i];

            if (ports[i] == owner) {
                owner_waited = more >= 1;
                if (!owners_seen[i]++)
                    shards++;
            } else {
                others += more != 0;
            }
        }
        diag("user %d: session on :%d, WAIT there %s, on %d other nodes", u, owner, owner_waited ? "yes" : "no",
             others);
        right += owner_waited;
        wrong += others;
    }
    ok(right == USERS, "each of %d logouts sent WAIT to its session's primary (%d did)", USERS, right);
    ok(wrong == 0, "and to no other node (%d did)", wrong);
    ok(shards >= 2, "the sessions were on %d shards", shards);
    return done_testing();
}
