/* 82-fault-redis: Redis stopped for a few seconds under load, then started.
 *
 * While Redis is away, every request needs it - the seat map, holds and
 * payments check the queue token there, charges, token issuance, the
 * balance and the reservation list the user's session - and gets a JSON 503
 * with Retry-After. When it is back the responders reconnect by themselves -
 * the same processes, none restarted - and every request succeeds again.
 * Redis comes back with what it had (its append-only file, conf/redis.conf);
 * a Redis that came back empty would cost tokens and sessions made before,
 * so a 401 (TOKEN_INVALID, SESSION_INVALID) for one of those is still
 * allowed: the client logs in again or takes a new token. Then the
 * invariants of faultlib.h. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

static int report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}

int main(void)
{
    static const int needs_redis[F_NOPS] = {1, 1, 1, 1, 1, 1, 1};
    struct f_load L;
    pid_t before[128], after[128];
    int nb, na, same;
    long begin, end;
    char v[32];
    long hs;

    f_require_stack();
    plan(6 + F_WINDOW_CHECKS + F_CHECKS);

    nb = f_responder_pids(before, 128);
    if (!ok(f_load_start(&L, "redis", 12, 1000, 1) == 0, "load of 12 clients started"))
        return done_testing();
    t_sleep_ms(1500);
    begin = f_load_ms(&L);
    ok(f_dev("redis-stop") == 0, "Redis stopped (./dev _fault redis-stop)");
    t_sleep_ms(1000);
    hs = f_health("redis", v, sizeof v);
    ok(hs == 503 && strcmp(v, "down") == 0, "/healthz says 503, redis down (%ld, %s)", hs, v);
    t_sleep_ms(2000);
    {
        int started = f_dev("redis-start") == 0;
        end = f_load_ms(&L);
        ok(started, "Redis started again, %ld ms after it stopped", end - begin);
    }
    t_sleep_ms(3000);
    f_load_stop(&L);
    hs = f_health("redis", v, sizeof v);
    ok(hs == 200 && strcmp(v, "ok") == 0, "/healthz is 200 again, redis ok (%ld)", hs);

    f_diag_tally(&L, "during the outage", begin, end + 1000);
    f_check_window(&L, begin, end, 1000, needs_redis, end, report);
    na = f_responder_pids(after, 128);
    same = na == nb && nb > 0;
    for (int i = 0; same && i < na; i++)
        same = before[i] == after[i];
    ok(same, "no responder was restarted: the same %d processes before and after", na);
    f_check_state(&L, report);
    f_load_free(&L);
    return done_testing();
}
