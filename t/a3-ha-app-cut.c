/* a3-ha-app-cut: app1 is cut off the network (its link down, everything on
 * it still running) on the several-hosts stack (./dev test --ha) while
 * clients book through lb, and brought back 6 s later.
 *
 * lb's nginx passes over a host that does not answer a connect (1 s), and
 * after three such failures in five seconds (counted for all its workers
 * together) sends nothing to it for five seconds: the clients' requests go
 * on being served by app2. A request that
 * app1 had already taken when the link went down is answered when it comes
 * back (TCP resends), or gets the contract's 503 with Retry-After; none is
 * sent twice. After the heal app1 serves again. Afterwards no seat is held
 * or sold twice, every balance equals its ledger, and every 2xx is in
 * PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CLIENTS 8
#define CUT_MS 6000
/* How long after the heal app1 may take to serve again. */
#define APP1_BACK_MS 15000

/* How much app1's responders have logged: each request is a line. */
static long long app1_logged(void)
{
    static const char *const groups[] = {"queue", "catalog", "reservations", "balance", "payments"};
    long long total = 0;

    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/ha/app1/log/%s.requests.log", getenv("CONCERT_VAR"), groups[i]);
        if (stat(path, &st) == 0)
            total += st.st_size;
    }
    return total;
}

int main(void)
{
    struct f_load L;
    char host[64] = "", healed[256] = "";
    long begin, healed_at, back_at, served = 0, bad = 0, clean503 = 0, late_bad = 0, slowest = 0;
    long long logged_at_heal;

    f_require_ha();
    plan(6 + F_CHECKS);

    if (!ok(f_load_start(&L, "ha-app-cut", CLIENTS, 1000, 0) == 0, "load of %d clients started", CLIENTS))
        return done_testing();
    t_sleep_ms(2000);

    begin = f_load_ms(&L);
    ok(f_ha_fault("app1-cut", host, sizeof host) == 0 && strcmp(host, "app1") == 0, "app1's link is down");
    t_sleep_ms(CUT_MS);
    healed_at = f_load_ms(&L);
    logged_at_heal = app1_logged();
    ok(f_ha_fault("heal", healed, sizeof healed) == 0, "app1's link is up again (%s)", healed);
    /* lb's nginx tries app1 again only once its five seconds of rest are
     * over, and a responder whose PostgreSQL query was caught by the cut
     * answers when TCP's backed-off resend gets through: so the load goes
     * on for 4 s after the heal, and longer (up to APP1_BACK_MS) until app1
     * has served something. */
    for (long waited = 0; waited < 4000 || (app1_logged() == logged_at_heal && waited < APP1_BACK_MS);
         waited += 250)
        t_sleep_ms(250);
    back_at = f_load_ms(&L);
    f_load_stop(&L);

    for (size_t i = 0; i < L.nrecs; i++) {
        const struct f_rec *x = &L.recs[i];
        int good = f_succeeded(x);
        if (x->t0 < begin)
            continue;
        if (x->t0 >= begin + 1500 && x->t1 <= healed_at && good)
            served++;
        if (x->t1 - x->t0 > slowest)
            slowest = x->t1 - x->t0;
        if (!good) {
            bad++;
            clean503 += x->status == 503 && x->retry_after && x->json_error;
            late_bad += x->t0 > healed_at + 2000;
        }
    }
    f_diag_tally(&L, "while app1 was cut off", begin, healed_at);
    f_diag_errors(&L, begin);
    diag("the slowest request took %.1f s", slowest / 1000.0);
    /* About 700 in 6 s here; about 170 when each nginx worker had to learn
     * alone, one connect timeout per group, that app1 was gone. */
    ok(served > 250, "while app1 was cut off, app2 served the clients (%ld requests succeeded)", served);
    ok(bad == clean503 && bad <= CLIENTS,
       "the requests that failed (%ld) were 503 with Retry-After, at most one in flight per client", bad);
    ok(late_bad == 0 && app1_logged() > logged_at_heal,
       "after the heal every request succeeded, and app1 serves again (%lld bytes more in its request logs, "
       "load stopped %.1f s after the heal)",
       app1_logged() - logged_at_heal, (back_at - healed_at) / 1000.0);
    t_pg_reset();
    f_check_state(&L, f_tap_report);
    f_load_free(&L);
    return done_testing();
}
