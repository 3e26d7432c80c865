/* 83-fault-pg: PostgreSQL stopped (fast shutdown, as a restart does) for a
 * few seconds under load, then started again.
 *
 * While it is away, requests that need it (charges, balance, holds,
 * payments, seat map, reservation list) get a JSON 503 with Retry-After;
 * token issuance and polling, which need only Redis once a concert's facts
 * are cached there, keep succeeding. When it is back every responder
 * reconnects by itself (db.c: a connection the server closed is noticed and
 * re-opened before the next statement is sent) - the same processes, none restarted - and every
 * request succeeds again. Then the invariants of faultlib.h: a transaction
 * cut by the shutdown left nothing half done. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

static int report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}

int main(void)
{
    static const int needs_pg[F_NOPS] = {1, 0, 1, 1, 1, 1, 1};
    struct f_load L;
    pid_t before[128], after[128];
    int nb, na, same;
    long begin, end;
    char v[32];
    long hs;

    f_require_stack();
    plan(6 + F_WINDOW_CHECKS + F_CHECKS);

    nb = f_responder_pids(before, 128);
    if (!ok(f_load_start(&L, "pg", 12, 1000, 1) == 0, "load of 12 clients started"))
        return done_testing();
    t_sleep_ms(1500);
    begin = f_load_ms(&L);
    ok(f_dev("pg-stop") == 0, "PostgreSQL stopped (./dev _fault pg-stop: pg_ctl stop -m fast)");
    t_sleep_ms(500);
    hs = f_health("postgres", v, sizeof v);
    ok(hs == 503 && strcmp(v, "down") == 0, "/healthz says 503, postgres down (%ld, %s)", hs, v);
    t_sleep_ms(2000);
    {
        int started = f_dev("pg-start") == 0;
        end = f_load_ms(&L);
        ok(started, "PostgreSQL started again, %ld ms after it stopped", end - begin);
    }
    t_sleep_ms(3000);
    f_load_stop(&L);
    hs = f_health("postgres", v, sizeof v);
    ok(hs == 200 && strcmp(v, "ok") == 0, "/healthz is 200 again, postgres ok (%ld)", hs);

    f_diag_tally(&L, "during the outage", begin, end + 1000);
    f_check_window(&L, begin, end, 1000, needs_pg, -1, report);
    na = f_responder_pids(after, 128);
    same = na == nb && nb > 0;
    for (int i = 0; same && i < na; i++)
        same = before[i] == after[i];
    ok(same, "no responder was restarted: the same %d processes before and after", na);
    f_check_state(&L, report);
    f_load_free(&L);
    return done_testing();
}
