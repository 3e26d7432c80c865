/* a1-ha-redis-kill: the Redis primary's server is killed with -9 on the
 * several-hosts stack (./dev test --ha) while clients book through lb.
 *
 * 8 clients walk users through the journey (faultlib.h) over both app
 * hosts. The Redis primary is killed; the three Sentinels promote the
 * replica, and every responder, the cron program and the relay find it
 * through them with nothing restarted. Meanwhile every request needs Redis
 * (each carries a session or a queue token), so clients may see only the
 * contract's 503 with Retry-After; a 401 is allowed for a session or token
 * made before the failover (Redis replicates asynchronously: what the
 * primary had not yet sent its replica is lost). The killed server comes
 * back as a replica (./dev fault heal). Afterwards no seat is held or sold
 * twice, every balance equals its ledger, and every 2xx is in PostgreSQL.
 * How long clients saw errors, and which, is printed. */
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
    long lost = 0;

    f_require_ha();
    plan(4 + F_WINDOW_CHECKS + F_CHECKS);

    if (!ok(f_load_start(&L, "ha-redis-kill", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS))
        return done_testing();
    t_sleep_ms(2000);

    begin = f_load_ms(&L);
    ok(f_ha_fault("redis-kill", host, sizeof host) == 0 && strncmp(host, "redis", 5) == 0,
       "the Redis primary (%s) killed with -9", host);
    t_sleep_ms(200);
    took = f_wait_health("redis", "ok", 30000);
    end = f_load_ms(&L);
    ok(took >= 0, "a new primary serves after %.1f s (the Sentinels promoted the replica)", (end - begin) / 1000.0);
    t_sleep_ms(3000);
    ok(f_ha_fault("heal", healed, sizeof healed) == 0 && strstr(healed, "Redis primary on") &&
           !strstr(healed, host),
       "the killed server is back as a replica (%s)", healed);
    t_sleep_ms(1000);
    f_load_stop(&L);

    f_diag_tally(&L, "during the failover", begin, end + 2000);
    f_diag_errors(&L, begin);
    for (size_t i = 0; i < L.nrecs; i++)
        lost += L.recs[i].status == 401 && L.recs[i].t0 >= begin;
    diag("requests answered 401 after the kill (their session or token was not on the replica yet): %ld", lost);
    f_check_window(&L, begin, end, 2000, f_needs_redis, end, report);
    t_pg_reset();
    f_check_state(&L, report);
    f_load_free(&L);
    return done_testing();
}
