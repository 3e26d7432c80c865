/* 26-queue-outage: the queue library when Redis or PostgreSQL is gone.
 *
 * The story, told against the library the responders link (the HTTP-level
 * 503s need the stack's own servers stopped, which the fault tests do):
 * with Redis unreachable every queue call reports QUEUE_REDIS_DOWN (a 503
 * for the responder) instead of crashing or hanging. With PostgreSQL
 * unreachable a concert whose facts are cached in Redis still issues and
 * polls tokens - the queue needs no database - while one whose cache is
 * cold reports QUEUE_PG_DOWN. When Redis is back the next call works. */
#include "tap.h"
#include "testlib.h"
#include "db.h"
#include "queue.h"
#include "rds.h"

#include <inttypes.h>
#include <unistd.h>

int main(void)
{
    struct queue_ticket t;
    struct t_resp r;
    char user[37], user2[37], conninfo[256], key[64], *tok;
    int64_t warm, cold, dropped, admitted;
    const char *port = getenv("CONCERT_REDIS_PORT");
    int redis_port = port ? atoi(port) : 6379;

    t_init();
    t_use_config();
    warm = t_create_concert_or_bail(5, 600, 600, 300, 1, 10, 1000, NULL);
    cold = t_create_concert_or_bail(5, 600, 600, 300, 1, 10, 1000, NULL);
    t_user(user);
    t_uuid(user2);
    tok = t_active_token(warm, user);   /* warms the cache of `warm` */
    ok(tok != NULL, "a token issued through the stack");

    /* --- Redis unreachable ------------------------------------------------- */
    rds_init("127.0.0.1", t_unused_port(), 500);
    db_init(getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "");
    is_int(queue_enter(warm, user2, &t), QUEUE_REDIS_DOWN, "queue_enter: QUEUE_REDIS_DOWN");
    if (!tok)
        bail_out("no token to work with");
    is_int(queue_status(tok, &t), QUEUE_REDIS_DOWN, "queue_status: QUEUE_REDIS_DOWN");
    is_int(queue_finish(tok), QUEUE_REDIS_DOWN, "queue_finish: QUEUE_REDIS_DOWN");
    is_int(queue_sweep(warm, &dropped, &admitted), QUEUE_REDIS_DOWN, "queue_sweep: QUEUE_REDIS_DOWN");
    queue_forget_concert(warm);
    ok(1, "queue_forget_concert with Redis down returns quietly");
    is_int(queue_status("not-a-token", &t), QUEUE_TOKEN_INVALID, "a malformed token is refused without Redis");

    /* --- PostgreSQL unreachable, Redis back ------------------------------- */
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d dbname=concert connect_timeout=1", t_unused_port());
    db_init(conninfo);
    rds_init("127.0.0.1", redis_port, 2000);
    is_int(queue_status(tok, &t), QUEUE_OK, "Redis back: queue_status works again");
    is_int(t.state, QUEUE_ACTIVE, "and the token is still ACTIVE");
    is_int(queue_enter(warm, user2, &t), QUEUE_OK, "PostgreSQL down, cache warm: queue_enter still works");
    ok(t.created && t.token[0], "a new token was issued");
    is_int(queue_status(t.token, &t), QUEUE_OK, "and polled");
    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", cold);
    {
        const char *del[] = {"DEL", key};
        t_redis_cmd(2, del);
    }
    is_int(queue_enter(cold, user2, &t), QUEUE_PG_DOWN, "PostgreSQL down, cache cold: QUEUE_PG_DOWN");
    is_int(queue_sweep(cold, &dropped, &admitted), QUEUE_PG_DOWN, "queue_sweep of a cold concert: QUEUE_PG_DOWN");

    /* --- both back -------------------------------------------------------- */
    db_init(getenv("CONCERT_PG") ? getenv("CONCERT_PG") : "");
    db_close();
    is_int(queue_enter(cold, user2, &t), QUEUE_OK, "PostgreSQL back: the cold concert fills its cache and issues");
    t_get("/api/v1/queue/status", t.token, &r);
    is_int(r.status, 200, "the token works through the stack");
    t_resp_free(&r);
    free(tok);
    rds_close();
    db_close();
    return done_testing();
}
