/* a7-ha-relay-cut: on the several-hosts stack (./dev test --ha) the app
 * host whose relay is in the middle of a claim is cut off, and the other
 * host's relay takes over the outbox within 10 s.
 *
 * A claim holds the outbox's advisory lock in its transaction; a relay cut
 * off before its COMMIT leaves its backend idle in that transaction, and
 * with nothing else ending it no relay publishes until TCP gives up on the
 * host. The story catches a relay mid-claim: it holds the relays' lock
 * itself while an event is written, locks that event's row, lets the lock
 * go (a relay takes it and waits on the row), cuts off the host of the
 * relay that holds it (by pg_locks), and lets the row go: the cut relay's
 * claim completes, its answer goes nowhere, and its backend sits idle in
 * the transaction. Then another event is written; both are published (marked
 * sent) by the other relay within 10 s. The link comes back after. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAKEOVER_MS 10000
#define RELAY_LOCK "hashtext('concert outbox relay')"

/* Runs one fixed statement (nothing from outside in it): 0 when it ran. */
static int run(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    int good = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!good)
        diag("%s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    return good ? 0 : -1;
}

/* The first column of the first row of a statement with one parameter
 * (or none), into out: 0, or -1 with out empty. */
static int value(PGconn *c, const char *sql, const char *param, char *out, size_t cap)
{
    PGresult *res = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
    int good = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);

    snprintf(out, cap, "%s", good ? PQgetvalue(res, 0, 0) : "");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        diag("%s: %s", sql, PQerrorMessage(c));
    PQclear(res);
    return good ? 0 : -1;
}

/* A new outbox row; its id in out. */
static int write_event(PGconn *c, char *out, size_t cap)
{
    if (run(c, "SELECT outbox_write('reservation-events', 'story.relay-cut', NULL, '{\"story\": \"a7\"}'::jsonb)") < 0)
        return -1;
    return value(c, "SELECT max(id) FROM outbox WHERE type = 'story.relay-cut'", NULL, out, cap);
}

int main(void)
{
    PGconn *holder, *writer;
    char first[32] = "", second[32] = "", addr[64] = "", fault[16] = "", host[64] = "", healed[256] = "", sent[8];
    const char *app1 = getenv("CONCERT_HA_APP1"), *app2 = getenv("CONCERT_HA_APP2");
    long cut_at, took = -1;
    int i;

    f_require_ha();
    if (!app1 || !app2)
        skip_all("needs CONCERT_HA_APP1 and CONCERT_HA_APP2 (./dev test --ha)");
    plan(5);
    holder = PQconnectdb(getenv("CONCERT_PG"));
    writer = PQconnectdb(getenv("CONCERT_PG"));
    if (PQstatus(holder) != CONNECTION_OK || PQstatus(writer) != CONNECTION_OK)
        bail_out("PostgreSQL cannot be reached");

    /* No relay can claim while this session holds their lock. */
    run(holder, "SELECT pg_advisory_lock(" RELAY_LOCK ")");
    write_event(writer, first, sizeof first);
    run(holder, "BEGIN");
    value(holder, "SELECT id::text FROM outbox WHERE id = $1::bigint FOR UPDATE", first, sent, sizeof sent);
    run(holder, "SELECT pg_advisory_unlock(" RELAY_LOCK ")");
    /* A relay takes the lock and waits on the row (each looks every second). */
    for (i = 0; i < 60 && !addr[0]; i++) {
        t_sleep_ms(100);
        value(writer,
              "SELECT host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
              " WHERE l.locktype = 'advisory' AND l.granted AND a.client_addr IS NOT NULL",
              NULL, addr, sizeof addr);
    }
    ok(strcmp(addr, app1) == 0 || strcmp(addr, app2) == 0, "a relay is mid-claim, waiting on an event's row (on %s)",
       addr[0] ? addr : "none");
    snprintf(fault, sizeof fault, "%s", strcmp(addr, app2) == 0 ? "app2-cut" : "app1-cut");
    ok(f_ha_fault(fault, host, sizeof host) == 0, "its host (%s) is cut off", host);
    cut_at = f_now_ms();
    run(holder, "COMMIT");
    write_event(writer, second, sizeof second);

    while (f_now_ms() - cut_at < TAKEOVER_MS + 20000) {
        const char *params[] = {first, second};
        PGresult *res = PQexecParams(writer,
                                     "SELECT count(*) = 2 FROM outbox WHERE id IN ($1::bigint, $2::bigint)"
                                     " AND sent_at IS NOT NULL",
                                     2, NULL, params, NULL, NULL, 0);
        int both = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (both) {
            took = f_now_ms() - cut_at;
            break;
        }
        t_sleep_ms(100);
    }
    diag("the other relay published both events %.1f s after the cut", took / 1000.0);
    ok(took >= 0 && took <= TAKEOVER_MS, "the other relay took over within %d s (%s)", TAKEOVER_MS / 1000,
       took < 0 ? "not within 30 s" : "published");
    ok(f_ha_fault("heal", healed, sizeof healed) == 0, "the link is back (%s)", healed);
    /* Both relays run again: an event written now is published at once. */
    write_event(writer, second, sizeof second);
    for (i = 0; i < 50; i++) {
        value(writer, "SELECT (sent_at IS NOT NULL)::text FROM outbox WHERE id = $1::bigint", second, sent,
              sizeof sent);
        if (strcmp(sent, "true") == 0)
            break;
        t_sleep_ms(100);
    }
    ok(strcmp(sent, "true") == 0, "after the heal an event is published within 5 s");
    /* The story's events are no business of anyone reading the outbox. */
    run(writer, "DELETE FROM outbox WHERE type = 'story.relay-cut' AND sent_at IS NOT NULL");
    PQfinish(holder);
    PQfinish(writer);
    return done_testing();
}
