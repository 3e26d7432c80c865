/* a2-ha-pg-kill: the PostgreSQL primary's host dies (its pg_auto_failover
 * keeper, postgres and every backend killed with -9) on the several-hosts
 * stack (./dev test --ha) while clients book through lb.
 *
 * 8 clients walk users through the journey (faultlib.h) over both app
 * hosts. The monitor sees the primary gone and promotes the standby; the
 * responders' libpq connection string names both data hosts with
 * target_session_attrs=read-write, so they reconnect to the new primary with
 * nothing restarted. Replication is synchronous: every write a client saw
 * acknowledged (2xx) before the kill was on the standby, so it is in the new
 * primary afterwards, and nothing else may be lost or doubled. Meanwhile
 * requests that need PostgreSQL may get only the contract's 503 with
 * Retry-After, and those that do not (the seat map and token issuance from
 * Redis) keep succeeding. The dead host comes back and rejoins as the
 * standby (./dev fault heal). How long clients saw errors, and which, is
 * printed. First, pg_auto_failover's own connections between the hosts ask
 * for a password like the app's: its keepers' role, without one, is refused
 * by the monitor. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

static int report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}

int main(void)
{
    static const struct f_failover kill = {
        .fault = "pg-kill", .store = "PostgreSQL", .health = "postgres", .prefix = "pg",
        .done = "killed with its host: keeper, postgres and backends", .wait_ms = 60000, .needs = f_needs_pg,
        .lost_sessions = 0,
    };

    f_require_ha();
    plan(1 + F_FAILOVER_CHECKS);
    {
        char info[300];
        PGconn *c;
        snprintf(info, sizeof info, "%s dbname=pg_auto_failover user=autoctl_node passfile=/dev/null connect_timeout=3",
                 getenv("CONCERT_HA_MONITOR") ? getenv("CONCERT_HA_MONITOR") : "");
        c = PQconnectdb(info);
        ok(PQstatus(c) != CONNECTION_OK && strstr(PQerrorMessage(c), "password"),
           "the monitor asks pg_auto_failover's keepers for a password (%s)",
           PQstatus(c) == CONNECTION_OK ? "let in without one" : "refused without one");
        PQfinish(c);
    }
    f_failover_story(&kill, 8, report);
    return done_testing();
}
