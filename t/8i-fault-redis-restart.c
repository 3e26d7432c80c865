/* 8i-fault-redis-restart: redis-server killed with -9 and started again from
 * its own files keeps every write it acknowledged, and an ended session
 * stays ended.
 *
 * Two users have sessions. Redis takes a snapshot (SAVE: what Debian's
 * default `save` lines do every few minutes), then one user logs out. The
 * server is killed with -9 and started again exactly as ./dev starts it
 * (./dev _fault redis-kill, then redis-start). Redis keeps an append-only
 * file and no snapshots (conf/redis.conf), so it comes back with the
 * logout: the ended session is 401 SESSION_INVALID, the other still works.
 * (Before, it kept no append-only file and came back from the snapshot:
 * the ended session worked again.) */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <stdio.h>

/* GET the user's balance with the session t_user made: the status. */
static long balance_status(const char *user, struct t_resp *r)
{
    char path[128];

    snprintf(path, sizeof path, "/api/v1/users/%s/balance", user);
    t_get(path, t_session(user), r);
    return r->status;
}

int main(void)
{
    char ended[37], kept[37];
    const char *save[] = {"SAVE"};
    struct t_resp r;
    long st;

    f_require_stack();
    plan(8);
    t_user(ended);
    t_user(kept);
    ok(balance_status(ended, &r) == 200, "a session works (%ld)", r.status);
    t_resp_free(&r);
    ok(t_redis_cmd(1, save) == 0, "Redis took a snapshot (SAVE)");
    t_delete("/api/v1/sessions/current", t_session(ended), &r);
    ok(r.status == 204, "then its user logged out (%ld)", r.status);
    t_resp_free(&r);
    ok(balance_status(ended, &r) == 401, "the session is ended (%ld)", r.status);
    t_resp_free(&r);

    ok(f_dev("redis-kill") == 0, "redis-server killed with -9 (./dev _fault redis-kill)");
    ok(f_dev("redis-start") == 0, "and started again from its own files (./dev _fault redis-start)");

    st = balance_status(ended, &r);
    ok(st == 401 && strcmp(t_error_code(&r), "SESSION_INVALID") == 0,
       "the ended session is still ended: 401 SESSION_INVALID (%ld %s)", st, r.body ? r.body : "");
    t_resp_free(&r);
    st = balance_status(kept, &r);
    ok(st == 200, "the live session still works: Redis kept what it had acknowledged (%ld %s)", st,
       r.body ? r.body : "");
    t_resp_free(&r);
    return done_testing();
}
