/* ag-ha-pg-cut: the PostgreSQL primary's host is cut off from every other
 * host (its link down; its keeper and postgres still running) on the
 * several-hosts stack (./dev test --ha) while clients book through lb,
 * then the link comes back.
 *
 * A killed host closes its connections; a cut one answers nothing, so a
 * responder waiting on it for a statement's answer, or sending one, hears
 * nothing either: no error, no reset. The monitor fails the cut primary
 * and promotes the synchronous standby within seconds, but a responder
 * still waiting on the old primary must give up by itself, or it and its
 * client wait for TCP's own give-up (many minutes). The connection strings
 * say how long (TCP keepalives and tcp_user_timeout, ha/stack.sh), so
 * every responder's errors end within seconds of the new primary serving;
 * only the contract's 503 with Retry-After meanwhile. Replication is
 * synchronous: a commit the client saw acknowledged is on the new
 * primary. The cut host, back, rejoins as the standby. Afterwards no seat
 * is held or sold twice, every balance equals its ledger, and every 2xx
 * is in PostgreSQL. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

int main(void)
{
    static const struct f_failover cut = {
        .fault = "pg-cut", .store = "PostgreSQL", .health = "postgres", .prefix = "pg",
        .done = "cut off, still running", .wait_ms = 60000, .needs = f_needs_pg, .lost_sessions = 0,
    };

    return f_failover_test(&cut, 8);
}
