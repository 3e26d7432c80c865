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

#define CLIENTS 8

static int report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}

int main(void)
{
    struct f_load L;
    char host[64] = "", healed[256] = "", expect[64];
    long begin, end, took;

    f_require_ha();
    plan(4 + F_WINDOW_CHECKS + F_CHECKS);

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

    if (!ok(f_load_start(&L, "ha-pg-kill", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS))
        return done_testing();
    t_sleep_ms(2000);

    begin = f_load_ms(&L);
    ok(f_ha_fault("pg-kill", host, sizeof host) == 0 && strncmp(host, "pg", 2) == 0,
       "the PostgreSQL primary's host (%s) killed: keeper, postgres and backends", host);
    t_sleep_ms(200);
    took = f_wait_health("postgres", "ok", 60000);
    end = f_load_ms(&L);
    diag("a primary took writes again %.1f s after the kill", (end - begin) / 1000.0);
    t_sleep_ms(3000);
    snprintf(expect, sizeof expect, "PostgreSQL primary on %s,", strcmp(host, "pg1") == 0 ? "pg2" : "pg1");
    ok(took >= 0 && f_ha_fault("heal", healed, sizeof healed) == 0 && strstr(healed, expect),
       "the standby was promoted, and the dead host is back as the standby (%s)", healed);
    t_sleep_ms(1000);
    f_load_stop(&L);

    f_diag_tally(&L, "during the failover", begin, end + 2000);
    f_diag_errors(&L, begin);
    f_check_window(&L, begin, end, 2000, f_needs_pg, -1, report);
    t_pg_reset();
    f_check_state(&L, report);
    f_load_free(&L);
    return done_testing();
}
