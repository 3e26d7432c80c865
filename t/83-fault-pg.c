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

int main(void)
{
    static const struct f_outage outage = {
        .name = "pg", .store = "PostgreSQL", .stop_how = ": pg_ctl stop -m fast", .health = "postgres",
        .settle_ms = 500, .needs = f_needs_pg, .tokens_may_be_lost = 0,
    };

    return f_outage_test(&outage);
}
