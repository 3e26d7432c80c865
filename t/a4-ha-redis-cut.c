/* a4-ha-redis-cut: the Redis primary is cut off from every other host (its
 * link down, the server still running) on the several-hosts stack (./dev
 * test --ha) while clients book through lb, then the link comes back.
 *
 * 8 clients walk users through the journey (faultlib.h). The two Sentinels
 * that still see each other (a majority of three) promote the replica; the
 * responders cannot reach the old primary, ask the Sentinels, and use the
 * new one. Meanwhile clients may see only the contract's 503 with
 * Retry-After (or a 401 for a session or token made just before the cut,
 * which had not reached the replica). When the link is back the Sentinels
 * turn the old primary into a replica of the new one: the two never both
 * take the service's writes. Afterwards no seat is held or sold twice, every
 * balance equals its ledger, and every 2xx is in PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <string.h>

#define CLIENTS 8

static int report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}

int main(void)
{
    struct f_load L;
    char host[64] = "", healed[256] = "";
    long begin, end, took;

    f_require_ha();
    plan(3 + F_WINDOW_CHECKS + F_CHECKS);

    if (!ok(f_load_start(&L, "ha-redis-cut", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS))
        return done_testing();
    t_sleep_ms(2000);

    begin = f_load_ms(&L);
    ok(f_ha_fault("redis-cut", host, sizeof host) == 0 && strncmp(host, "redis", 5) == 0,
       "the Redis primary (%s) cut off, still running", host);
    t_sleep_ms(200);
    took = f_wait_health("redis", "ok", 30000);
    end = f_load_ms(&L);
    diag("a new primary served %.1f s after the cut", (end - begin) / 1000.0);
    t_sleep_ms(3000);
    /* heal waits until the primary has its replica connected: the old one. */
    ok(took >= 0 && f_ha_fault("heal", healed, sizeof healed) == 0 && strstr(healed, "Redis primary on") &&
           !strstr(healed, host),
       "the replica was promoted, and the old primary is back as its replica (%s)", healed);
    t_sleep_ms(1000);
    f_load_stop(&L);

    f_diag_tally(&L, "during the failover", begin, end + 2000);
    f_diag_errors(&L, begin);
    f_check_window(&L, begin, end, 2000, f_needs_redis, end, report);
    t_pg_reset();
    f_check_state(&L, report);
    f_load_free(&L);
    return done_testing();
}
