/* a5-ha-lb-restart: lb's nginx is stopped (gracefully: what it has taken
 * it answers) on the several-hosts stack (./dev test --ha) while clients
 * book through it, and started again 2 s later.
 *
 * While it is down clients cannot connect at all (no answer is an answer
 * they can retry); nothing they were told succeeded is lost, and once it is
 * back every request succeeds. Afterwards no seat is held or sold twice,
 * every balance equals its ledger, and every 2xx is in PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <string.h>

#define CLIENTS 8

int main(void)
{
    struct f_load L;
    char host[64] = "", healed[256] = "";
    long begin, started, refused = 0, other = 0, after = 0, after_bad = 0;

    f_require_ha();
    plan(5 + F_CHECKS);

    if (!ok(f_load_start(&L, "ha-lb-restart", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS))
        return done_testing();
    t_sleep_ms(2000);

    begin = f_load_ms(&L);
    ok(f_ha_fault("lb-stop", host, sizeof host) == 0 && strcmp(host, "lb") == 0, "lb's nginx stopped");
    t_sleep_ms(2000);
    ok(f_ha_fault("heal", healed, sizeof healed) == 0, "lb's nginx started again");
    started = f_load_ms(&L);
    t_sleep_ms(3000);
    f_load_stop(&L);

    for (size_t i = 0; i < L.nrecs; i++) {
        const struct f_rec *x = &L.recs[i];
        int good = f_succeeded(x);
        if (x->t0 < begin)
            continue;
        if (x->t0 > started + 500) {
            after++;
            after_bad += !good;
        } else if (!good) {
            if (x->status == 0)
                refused++;
            else
                other++;
        }
    }
    f_diag_errors(&L, begin);
    ok(refused > 0 && other == 0, "while it was down clients could not connect (%ld), and got no other error", refused);
    ok(after > 0 && after_bad == 0, "once it was back every request succeeded (%ld of %ld)", after - after_bad, after);
    t_pg_reset();
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
    return done_testing();
}
