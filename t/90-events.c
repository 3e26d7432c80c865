/* 90-events: every change is published as an event, with the right ids and
 * amounts, in order.
 *
 * The story: A takes a token (queue.joined, then queue.admitted at once),
 * holds two seats, charges her balance and pays. Within a second of the
 * payment's 201, reservation-events and payment-events hold exactly
 * reservation.held, balance.charged, reservation.confirmed and
 * payment.completed for her, in that order, with her reservation's id,
 * seats and amount, each with an eventId of its own and an RFC 3339 time
 * with milliseconds; the outbox has the same rows, marked sent, but the
 * hold's (its script writes it: a hold is Redis's until paid). Her token's
 * end is queue.ended (paid), and B, who was waiting, is queue.admitted. B
 * holds and cancels (reservation.cancelled); C's hold runs out and the
 * expiry marks it (reservation.expired). D waits on a concert whose idle
 * limit is a second (in its cached facts) and stops polling: queue.dropped.
 * While E charges steadily in the background, each of F's thirty charges is
 * in its stream within half a second (none waits for the relay's sweep).
 * With a second relay running beside the first, as on a second host, each
 * of sixty charges is published exactly once.
 * Sent outbox rows older than a day are deleted, newer ones kept. Nobody's
 * token ever appears in an event. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "hold.h"
#include "rds.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct event {
    char stream[64];
    char id[48];
    char event_id[64];
    char type[40];
    char occurred[40];
    char concert[24];
    struct json_object *data;
};

#define MAX_EVENTS 64

/* The events of one user in a stream, in stream order: among its newest
 * 2,000 entries (late in the suite the shared streams hold tens of
 * thousands, and reading them all on every look would be the delay this
 * file measures). */
static int user_events(const char *stream, const char *user, struct event *out, int max)
{
    const char *argv[] = {"XREVRANGE", stream, "+", "-", "COUNT", "2000"};
    redisReply *reply = rds_command(6, argv, NULL);
    int n = 0;

    if (!reply)
        return -1;
    for (size_t i = reply->elements; i > 0 && n < max; i--) {
        redisReply *e = reply->element[i - 1], *f = e->element[1];
        struct event ev;
        const char *uid;

        memset(&ev, 0, sizeof ev);
        snprintf(ev.stream, sizeof ev.stream, "%s", stream);
        snprintf(ev.id, sizeof ev.id, "%s", e->element[0]->str);
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            const char *name = f->element[k]->str, *value = f->element[k + 1]->str;
            if (strcmp(name, "eventId") == 0)
                snprintf(ev.event_id, sizeof ev.event_id, "%s", value);
            else if (strcmp(name, "type") == 0)
                snprintf(ev.type, sizeof ev.type, "%s", value);
            else if (strcmp(name, "occurredAt") == 0)
                snprintf(ev.occurred, sizeof ev.occurred, "%s", value);
            else if (strcmp(name, "concertId") == 0)
                snprintf(ev.concert, sizeof ev.concert, "%s", value);
            else if (strcmp(name, "data") == 0)
                ev.data = json_tokener_parse(value);
        }
        uid = t_json_str(ev.data, "userId");
        if (uid && strcmp(uid, user) == 0)
            out[n++] = ev;
        else
            json_object_put(ev.data);
    }
    freeReplyObject(reply);
    return n;
}

static void free_events(struct event *ev, int n)
{
    for (int i = 0; i < n; i++)
        json_object_put(ev[i].data);
}

/* The outbox row an event was published from: its id is the order the
 * changes committed in, for one user (and the relay publishes in it). */
static int64_t outbox_id(const struct event *e)
{
    const char *p[] = {e->event_id};
    return t_pg_int("SELECT id FROM outbox WHERE event_id::text = $1", 1, p);
}

/* Stream ids "ms-seq": a before b in one stream. */
static int id_before(const char *a, const char *b)
{
    unsigned long long am, as, bm, bs;

    sscanf(a, "%llu-%llu", &am, &as);
    sscanf(b, "%llu-%llu", &bm, &bs);
    return am < bm || (am == bm && as < bs);
}

static unsigned long long stream_ms(const char *id)
{
    return strtoull(id, NULL, 10);
}

static int in_stream_order = 1;

/* A user's events in both topics, in the order of their changes (outbox
 * ids). Each stream on its own must already be in that order, and no later
 * change may have been published in an earlier millisecond; in_stream_order
 * says whether they were. Waits up to wait_ms for at least want. */
static int purchase_events(const char *user, struct event *ev, int want, long wait_ms)
{
    struct event r[MAX_EVENTS], p[MAX_EVENTS];
    int64_t key[2 * MAX_EVENTS];
    int nr, np, n;

    for (long waited = 0;; waited += 20) {
        nr = user_events("reservation-events", user, r, MAX_EVENTS);
        np = user_events("payment-events", user, p, MAX_EVENTS);
        if (nr < 0 || np < 0)
            return -1;
        if (nr + np >= want || waited >= wait_ms)
            break;
        free_events(r, nr);
        free_events(p, np);
        t_sleep_ms(20);
    }
    n = 0;
    for (int i = 0; i < nr; i++)
        ev[n++] = r[i];
    for (int i = 0; i < np; i++)
        ev[n++] = p[i];
    for (int i = 0; i < n; i++)
        key[i] = outbox_id(&ev[i]);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && key[j - 1] > key[j]; j--) {
            struct event t = ev[j];
            int64_t k = key[j];
            ev[j] = ev[j - 1];
            key[j] = key[j - 1];
            ev[j - 1] = t;
            key[j - 1] = k;
        }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (strcmp(ev[i].stream, ev[j].stream) == 0 && !id_before(ev[i].id, ev[j].id))
                in_stream_order = 0;
            if (stream_ms(ev[j].id) < stream_ms(ev[i].id))
                in_stream_order = 0;
        }
    return n;
}

static int iso_ms(const char *s)
{
    int y, mo, d, h, mi, se, ms;
    char z;

    return strlen(s) == 24 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &se, &ms, &z) == 8 &&
           z == 'Z';
}

static int queue_has(int64_t concert, const char *user, const char *type, const char *reason)
{
    char stream[64];
    struct event ev[MAX_EVENTS];
    int n, found = 0;

    snprintf(stream, sizeof stream, "{c:%" PRId64 "}:queue-events", concert);
    n = user_events(stream, user, ev, MAX_EVENTS);
    for (int i = 0; i < n; i++)
        if (strcmp(ev[i].type, type) == 0 && iso_ms(ev[i].occurred) && ev[i].event_id[0] &&
            (!reason || (t_json_str(ev[i].data, "reason") && strcmp(t_json_str(ev[i].data, "reason"), reason) == 0)))
            found = 1;
    free_events(ev, n > 0 ? n : 0);
    return found;
}

int main(void)
{
    char a[37], b[37], c[37], d[37];
    char *tok_a, *tok_b, *tok_c;
    struct t_resp r;
    struct event ev[MAX_EVENTS];
    int64_t concert, sched[1], held, rid_b, rid_c, amount;
    int seats[2] = {3, 4}, n;
    const char *port = getenv("CONCERT_REDIS_PORT");

    t_init();
    plan(20);
    rds_init("127.0.0.1", port ? atoi(port) : 6379, 5000);

    step("the relay idle first");
    /* The story starts with the relay idle: a test before this one may
     * have emptied Redis, and the relay then publishes the whole last day
     * again, which would delay every event below by its backlog. */
    {
        int64_t unsent = -1;
        for (int k = 0; k < 1200 && (unsent = t_pg_int("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, NULL)) != 0; k++)
            t_sleep_ms(50);
        if (unsent != 0) {
            diag("%lld rows of the outbox still unsent after a minute", (long long)unsent);
            bail_out("the relay did not catch up with the outbox");
        }
    }

    step("A buys, B waits");
    concert = t_create_concert(1, 600, 600, 300, 1, 10, 20000, sched);
    tok_a = t_active_user(concert, a);
    tok_b = t_queued_user(concert, b);
    ok(queue_has(concert, a, "queue.joined", NULL) && queue_has(concert, a, "queue.admitted", NULL) &&
           queue_has(concert, b, "queue.joined", NULL) && !queue_has(concert, b, "queue.admitted", NULL),
       "A joined and was admitted; B joined and waits");

    held = bk_hold_id(tok_a, sched[0], seats, 2);
    bk_charge(a, 40000, NULL, NULL);
    {
        long status = bk_pay(tok_a, held, NULL, NULL);
        double t0 = t_now_s(), took;
        n = purchase_events(a, ev, 4, 3000);
        took = t_now_s() - t0;
        ok(status == 201 && n == 4, "the purchase is four events (%d)", n);
        diag("the payment's events were in the streams %.0f ms after its 201", took * 1000);
        ok(took < 1.0, "within a second of the commit");
    }
    if (n == 4) {
        ok(strcmp(ev[0].type, "reservation.held") == 0 && strcmp(ev[1].type, "balance.charged") == 0 &&
               strcmp(ev[2].type, "reservation.confirmed") == 0 && strcmp(ev[3].type, "payment.completed") == 0,
           "in the order they committed: held, charged, confirmed, completed (%s, %s, %s, %s)", ev[0].type,
           ev[1].type, ev[2].type, ev[3].type);
        ok(in_stream_order, "and published in that order: within each stream, and never in an earlier millisecond");
        ok(t_json_int(ev[0].data, "reservationId") == held && t_json_int(ev[2].data, "reservationId") == held &&
               t_json_int(ev[3].data, "reservationId") == held && t_json_int(ev[0].data, "amount") == 40000 &&
               t_json_int(ev[3].data, "amount") == 40000 && t_json_int(ev[1].data, "amount") == 40000 &&
               t_json_int(ev[3].data, "paymentId") > 0,
           "each names the reservation and the amount (40,000), the payment its id");
        ok(t_json_int(ev[0].data, "seatNos.0") == 3 && t_json_int(ev[0].data, "seatNos.1") == 4 &&
               t_json_int(ev[0].data, "scheduleId") == sched[0] && atoll(ev[0].concert) == concert &&
               atoll(ev[3].concert) == concert && ev[1].concert[0] == '\0',
           "the hold names its seats and show; concertId on all but the charge");
        ok(strcmp(ev[0].stream, "reservation-events") == 0 && strcmp(ev[1].stream, "payment-events") == 0 &&
               strcmp(ev[2].stream, "reservation-events") == 0 && strcmp(ev[3].stream, "payment-events") == 0,
           "reservations in reservation-events, the charge and the payment in payment-events");
        ok(iso_ms(ev[0].occurred) && iso_ms(ev[3].occurred) && strcmp(ev[0].event_id, ev[1].event_id) != 0 &&
               strcmp(ev[2].event_id, ev[3].event_id) != 0 && strlen(ev[0].event_id) == 36,
           "each has an eventId of its own and occurredAt with milliseconds (%s)", ev[0].occurred);
        {
            const char *p[] = {a};
            /* The hold's event is written by the hold's script (it is in
             * Redis until paid, shared/hold.h): the outbox has the rest. */
            ok(t_pg_int("SELECT count(*) FROM outbox WHERE data->>'userId' = $1 AND sent_at IS NOT NULL", 1, p) == 3,
               "the outbox holds her three other rows, marked sent");
        }
        {
            char sql[512];
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM outbox WHERE event_id::text IN ('%s', '%s', '%s', '%s')",
                     ev[0].event_id, ev[1].event_id, ev[2].event_id, ev[3].event_id);
            ok(t_pg_int(sql, 0, NULL) == 3, "with the same eventIds");
        }
    } else {
        for (int k = 0; k < 7; k++)
            ok(0, "the purchase's events");
    }
    free_events(ev, n > 0 ? n : 0);
    t_sleep_ms(300);
    ok(queue_has(concert, a, "queue.ended", "paid") && queue_has(concert, b, "queue.admitted", NULL),
       "A's token ended with the payment, and B was admitted");

    step("B cancels");
    {
        int seat[1] = {7};
        char path[64];
        rid_b = bk_hold_id(tok_b, sched[0], seat, 1);
        snprintf(path, sizeof path, "/api/v1/reservations/%" PRId64, rid_b);
        t_delete(path, tok_b, &r);
        t_resp_free(&r);
        n = purchase_events(b, ev, 2, 3000);
        ok(n == 2 && strcmp(ev[0].type, "reservation.held") == 0 && strcmp(ev[1].type, "reservation.cancelled") == 0 &&
               t_json_int(ev[1].data, "reservationId") == rid_b,
           "B's hold and cancel: reservation.held, reservation.cancelled");
        free_events(ev, n > 0 ? n : 0);
    }

    step("an expiry");
    /* C's hold runs out; the expiry (the cron program's function) marks it. */
    {
        int64_t c_concert, c_sched[1];
        int seat[1] = {1};
        c_concert = t_create_concert(10, 600, 600, 1, 1, 5, 1000, c_sched);
        tok_c = t_active_user(c_concert, c);
        rid_c = bk_hold_id(tok_c, c_sched[0], seat, 1);
        /* The hold ends a second or two from now (whole seconds); the
         * expiry run (the cron's sweep of the holds Redis keeps) runs
         * until C's is EXPIRED. */
        for (int k = 0; k < 50; k++) {
            int64_t swept;
            char *st;
            int done;

            hold_sweep(c_concert, 100, &swept);
            st = bk_status(rid_c);
            done = st && strcmp(st, "EXPIRED") == 0;
            free(st);
            if (done)
                break;
            t_sleep_ms(100);
        }
        n = purchase_events(c, ev, 2, 3000);
        if (!ok(n == 2 && strcmp(ev[1].type, "reservation.expired") == 0 && t_json_int(ev[1].data, "reservationId") == rid_c &&
                    strcmp(t_json_str(ev[1].data, "status"), "EXPIRED") == 0,
                "C's hold ran out: reservation.expired"))
            for (int k = 0; k < n; k++)
                diag("C's event %d: %s %s %s", k, ev[k].stream, ev[k].type, json_object_to_json_string(ev[k].data));
        free_events(ev, n > 0 ? n : 0);
        free(tok_c);
    }

    step("a waiter who stops polling");
    /* D waits where the idle limit is a second, and stops polling. */
    {
        int64_t d_concert, d_sched[1];
        char x[37];
        char *tok_x, *tok_d;
        char conf[64];
        const char *pin[] = {"HSET", conf, "idle_ms", "1000", "fresh_until", "99999999999999"};
        d_concert = t_create_concert(1, 600, 10, 300, 1, 5, 1000, d_sched);
        tok_x = t_active_user(d_concert, x);
        /* The API's least idle limit is 10 s: the cached facts say 1 s. */
        snprintf(conf, sizeof conf, "{c:%" PRId64 "}:conf", d_concert);
        t_redis_cmd(6, pin);
        tok_d = t_queued_user(d_concert, d);
        t_sleep_ms(2200);
        t_get("/api/v1/queue/status", tok_d, &r);
        amount = r.status;
        t_resp_free(&r);
        if (amount == 200) {
            /* The facts were read again from PostgreSQL (idle limit 10 s):
             * silent past that instead. */
            diag("D still waits after 2.2 s: waiting out the 10-second idle limit");
            t_sleep_ms(10500);
            t_get("/api/v1/queue/status", tok_d, &r);
            amount = r.status;
            t_resp_free(&r);
        }
        {
            /* The drop and its event are one script, so the event is there
             * with the 401; looked for a few times before failing, with
             * what the stream holds for D said if it is not. */
            int dropped = 0;
            for (int k = 0; k < 30 && !(dropped = queue_has(d_concert, d, "queue.dropped", "idle")); k++)
                t_sleep_ms(100);
            if (!dropped) {
                char stream[64];
                struct event seen[MAX_EVENTS];
                int n_seen;
                snprintf(stream, sizeof stream, "{c:%" PRId64 "}:queue-events", d_concert);
                n_seen = user_events(stream, d, seen, MAX_EVENTS);
                diag("D's poll: %lld; D's events in %s: %d", (long long)amount, stream, n_seen);
                for (int k = 0; k < n_seen; k++)
                    diag("  %s %s %s %s", seen[k].id, seen[k].type, seen[k].occurred,
                         json_object_to_json_string(seen[k].data));
                free_events(seen, n_seen > 0 ? n_seen : 0);
            }
            ok(amount == 401 && dropped, "D, silent past the idle limit: queue.dropped");
        }
        free(tok_x);
        free(tok_d);
    }

    step("changes while the relay is busy");
    /* Changes arriving while the relay is busy: none waits for the sweep.
     * E charges steadily in the background, so the relay keeps gathering
     * and claiming; each of F's charges must still be in the stream well
     * within the second after which the sweep would have found it. */
    {
        char e[37], f[37];
        pid_t busy;
        double slowest = 0;
        int found = 0;
        t_user(e);
        t_user(f);
        busy = fork();
        if (busy == 0) {
            for (int k = 0; k < 150; k++) {
                bk_charge(e, 1, NULL, NULL);
                t_sleep_ms(7);
            }
            _exit(0);
        }
        for (int k = 0; k < 30; k++) {
            double waited = 0, t0;
            int seen = 0;
            int64_t amount_k = 1000 + k;
            bk_charge(f, amount_k, NULL, NULL);
            t0 = t_now_s();
            while (!seen && waited < 3) {
                const char *argv[] = {"XREVRANGE", "payment-events", "+", "-", "COUNT", "200"};
                redisReply *reply = rds_command(6, argv, NULL);
                for (size_t i = 0; reply && i < reply->elements && !seen; i++) {
                    redisReply *fields = reply->element[i]->element[1];
                    for (size_t j = 0; j + 1 < fields->elements; j += 2)
                        if (strcmp(fields->element[j]->str, "data") == 0) {
                            struct json_object *data = json_tokener_parse(fields->element[j + 1]->str);
                            const char *uid = t_json_str(data, "userId");
                            seen = uid && strcmp(uid, f) == 0 && t_json_int(data, "amount") == amount_k;
                            json_object_put(data);
                        }
                }
                if (reply)
                    freeReplyObject(reply);
                waited = t_now_s() - t0;
                if (!seen)
                    t_sleep_ms(5);
            }
            found += seen;
            if (waited > slowest)
                slowest = waited;
        }
        waitpid(busy, NULL, 0);
        ok(found == 30 && slowest < 0.5, "with the relay busy, each of 30 charges was in its stream within 0.5 s"
           " (%d found, the slowest after %.0f ms)", found, slowest * 1000);
    }

    step("two relays at once");
    /* Two relays at once, as on two hosts: every change is still
     * published once (outbox_claim lets one relay publish at a time). */
    {
        char g[3][37], log[1024];
        const char *relay = getenv("CONCERT_RELAY");
        pid_t second, chargers[3];
        int64_t unsent = -1, rows, dups = -1, entries = -1;
        for (int i = 0; i < 3; i++)
            t_user(g[i]);
        snprintf(log, sizeof log, "%s/log/relay-second.log", getenv("CONCERT_VAR") ? getenv("CONCERT_VAR") : "/tmp");
        fflush(stdout);
        second = fork();
        if (second == 0) {
            FILE *f = freopen(log, "a", stderr);
            (void)f;
            execl(relay ? relay : "/nonexistent", "concert-relay", (char *)NULL);
            _exit(127);
        }
        t_sleep_ms(500);
        for (int i = 0; i < 3; i++) {
            fflush(stdout);
            chargers[i] = fork();
            if (chargers[i] == 0) {
                for (int k = 0; k < 20; k++)
                    bk_charge(g[i], 100 + k, NULL, NULL);
                _exit(0);
            }
        }
        for (int i = 0; i < 3; i++)
            waitpid(chargers[i], NULL, 0);
        for (int k = 0; k < 100 && (unsent = t_pg_int("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, NULL)) != 0; k++)
            t_sleep_ms(50);
        {
            /* Each of the 60 charges' eventIds, counted in the stream. */
            const char *argv[] = {"XREVRANGE", "payment-events", "+", "-", "COUNT", "2000"};
            const char *p[] = {g[0], g[1], g[2]};
            redisReply *reply = rds_command(6, argv, NULL);
            char *ids = t_pg_value("SELECT string_agg(event_id::text, ' ') FROM outbox WHERE type = 'balance.charged'"
                                   " AND data->>'userId' IN ($1, $2, $3)", 3, p);
            rows = t_pg_int("SELECT count(*) FROM outbox WHERE type = 'balance.charged' AND data->>'userId' IN ($1, $2, $3)",
                            3, p);
            entries = 0;
            dups = 0;
            for (char *id = ids ? strtok(ids, " ") : NULL; id; id = strtok(NULL, " ")) {
                int64_t seen = 0;
                for (size_t i = 0; reply && i < reply->elements; i++) {
                    redisReply *fields = reply->element[i]->element[1];
                    for (size_t j = 0; j + 1 < fields->elements; j += 2)
                        seen += strcmp(fields->element[j]->str, "eventId") == 0 &&
                                strcmp(fields->element[j + 1]->str, id) == 0;
                }
                entries += seen > 0;
                dups += seen > 1;
            }
            free(ids);
            if (reply)
                freeReplyObject(reply);
        }
        kill(second, SIGTERM);
        waitpid(second, NULL, 0);
        ok(unsent == 0 && rows == 60 && entries == 60 && dups == 0,
           "with a second relay running, each of 60 changes was published exactly once (%lld rows, %lld in the"
           " stream, %lld twice)", (long long)rows, (long long)entries, (long long)dups);
    }

    step("no token in an event");
    /* No event carries a token. */
    {
        const char *streams[] = {"reservation-events", "payment-events"};
        int leaked = 0;
        char qs[64];
        snprintf(qs, sizeof qs, "{c:%" PRId64 "}:queue-events", concert);
        for (int s = 0; s < 3; s++) {
            const char *argv[] = {"XRANGE", s < 2 ? streams[s] : qs, "-", "+"};
            redisReply *reply = rds_command(4, argv, NULL);
            for (size_t i = 0; reply && i < reply->elements; i++) {
                redisReply *f = reply->element[i]->element[1];
                for (size_t k = 1; k < f->elements; k += 2)
                    if (strstr(f->element[k]->str, tok_a + 2) || strstr(f->element[k]->str, tok_b + 2))
                        leaked = 1;
            }
            if (reply)
                freeReplyObject(reply);
        }
        ok(!leaked, "no event carries a queue token");
    }
    step("retention");
    /* Retention: sent rows older than a day go (the cron program's call),
     * newer ones and unsent ones stay. */
    {
        int64_t old_id = t_pg_int("INSERT INTO outbox (topic, type, data, sent_at) VALUES ('payment-events', "
                                  "'balance.charged', '{}', now() - interval '25 hours') RETURNING id", 0, NULL);
        int64_t new_id = t_pg_int("INSERT INTO outbox (topic, type, data, sent_at) VALUES ('payment-events', "
                                  "'balance.charged', '{}', now() - interval '23 hours') RETURNING id", 0, NULL);
        char sql[160];
        t_pg_int("SELECT outbox_forget_sent(100000)", 0, NULL);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM outbox WHERE id IN (%lld, %lld)", (long long)old_id,
                 (long long)new_id);
        ok(old_id > 0 && t_pg_int(sql, 0, NULL) == 1 &&
               t_pg_int("SELECT count(*) FROM outbox WHERE sent_at < now() - interval '24 hours'", 0, NULL) == 0,
           "outbox rows sent more than a day ago are deleted, newer ones kept");
        snprintf(sql, sizeof sql, "DELETE FROM outbox WHERE id = %lld RETURNING id", (long long)new_id);
        t_pg_int(sql, 0, NULL);
    }
    {
        const char *argv[] = {"XINFO", "STREAM", "reservation-events"};
        redisReply *reply = rds_command(3, argv, NULL);
        ok(reply != NULL, "reservation-events is a stream");
        if (reply)
            freeReplyObject(reply);
    }
    free(tok_a);
    free(tok_b);
    rds_close();
    return done_testing();
}
