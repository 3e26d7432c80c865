/* 2j-metrics-labels: no client can make up the concerts the metrics count,
 * and a host with more concerts than its table still counts them all.
 *
 * The story, through the front and the admin key's GET /metrics: twenty
 * holds and twenty payments with forged tokens, each naming a concert that
 * does not exist, are answered 401 and make no series (each made one: the
 * token's text picked the label before anything checked it, and about
 * 1,024 filled the host's table for good). A real concert's hold (201), a
 * hold of its held seat (409) and a refused payment (404) are still counted
 * under it. Then the table itself, in a file of the test's own: 1,030
 * concerts counted, the first 1,024 each under its own id, the six past
 * the table's room together under concert="other" (they went uncounted),
 * and a counted concert's next request still under its own. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"
#include "metrics.h"

#include <unistd.h>

#define FORGED 20



/* How many lines of text carry the label concert="<concert>". */
static int series_of(const char *text, int64_t concert)
{
    char label[48];
    int n = 0;

    snprintf(label, sizeof label, "concert=\"%" PRId64 "\"", concert);
    for (const char *p = text; p && (p = strstr(p, label)) != NULL; p += strlen(label))
        n++;
    return n;
}

/* The real stack: forged tokens, then a real concert. */
static void through_the_front(void)
{
    int64_t base = 7000000000000LL + (int64_t)getpid() * 100, concert, sched[1];
    int refused = 0, forged_series = 0, seat[1] = {1};
    char token[80], body[96], user_a[37], user_b[37], series[160], *tok_a, *tok_b;
    char *before, *after;
    long status;
    struct t_resp r;

    before = t_metrics(&status, NULL);
    ok(status == 200 && before, "GET /metrics with the admin key: 200 (%ld)", status);
    for (int i = 0; i < FORGED; i++) {
        snprintf(token, sizeof token, "%" PRId64 ".%032x", base + i, i + 1);
        snprintf(body, sizeof body, "{\"scheduleId\":%d,\"seatNos\":[1]}", i + 1);
        t_post("/api/v1/reservations", token, body, &r);
        refused += r.status == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0;
        t_resp_free(&r);
        bk_request("POST", "/api/v1/payments", token, NULL, "{\"reservationId\":1}", &r);
        refused += r.status == 401 && strcmp(t_error_code(&r), "TOKEN_INVALID") == 0;
        t_resp_free(&r);
    }
    is_int(refused, 2 * FORGED, "%d holds and %d payments with forged tokens of made-up concerts: 401 TOKEN_INVALID",
           FORGED, FORGED);

    concert = t_create_concert_or_bail(10, 600, 600, 300, 1, 5, 1000, sched);
    tok_a = t_active_user(concert, user_a);
    tok_b = t_active_user(concert, user_b);
    if (!tok_a || !tok_b)
        bail_out("cannot get queue tokens");
    is_int(bk_hold(tok_a, sched[0], seat, 1, NULL), 201, "a real concert: A holds seat 1");
    is_int(bk_hold(tok_b, sched[0], seat, 1, NULL), 409, "B's hold of it: 409");
    is_int(bk_pay(tok_b, 999999999, NULL, NULL), 404, "B pays for no reservation of theirs: 404");

    after = t_metrics(&status, NULL);
    ok(status == 200 && after, "scraped again");
    for (int i = 0; i < FORGED; i++)
        forged_series += series_of(after ? after : "", base + i);
    is_int(forged_series, 0, "no series names any of the %d made-up concerts (%d did)", FORGED, forged_series);
    snprintf(series, sizeof series, "concert_holds_total{concert=\"%" PRId64 "\",status=\"201\"}", concert);
    ok(after && t_metrics_sample(after, series) == 1, "the real concert's 201 hold is counted under it");
    snprintf(series, sizeof series, "concert_holds_total{concert=\"%" PRId64 "\",status=\"409\"}", concert);
    ok(after && t_metrics_sample(after, series) == 1, "and its 409 (the token was found, the seat busy)");
    snprintf(series, sizeof series, "concert_payments_total{concert=\"%" PRId64 "\",status=\"404\"}", concert);
    ok(after && t_metrics_sample(after, series) == 1, "and the 404 payment");
    free(before);
    free(after);
    free(tok_a);
    free(tok_b);
}

/* The table, in a metrics file of this test's own. */
static void table_full(void)
{
    char path[] = "/tmp/concert-t2j-XXXXXX", *text = NULL, series[128];
    size_t len = 0;
    FILE *out;
    int fd = mkstemp(path), own = 0;

    if (fd < 0)
        bail_out("cannot make a file");
    close(fd);
    unlink(path);   /* metrics_open makes it anew */
    metrics_open(path);
    for (int64_t concert = 1; concert <= 1030; concert++)
        metrics_outcome(METRICS_HOLD, concert, 201);
    metrics_outcome(METRICS_HOLD, 7, 409);
    metrics_outcome(METRICS_PAYMENT, 1030, 201);
    metrics_outcome(METRICS_HOLD, 0, 201);   /* no concert known: not counted by concert */
    out = open_memstream(&text, &len);
    if (!out || metrics_write(out) < 0)
        bail_out("cannot write the metrics");
    fclose(out);
    unlink(path);
    for (int64_t concert = 1; concert <= 1024; concert++) {
        snprintf(series, sizeof series, "concert_holds_total{concert=\"%" PRId64 "\",status=\"201\"}", concert);
        own += t_metrics_sample(text, series) == 1;
    }
    is_int(own, 1024, "1,030 concerts counted: the first 1,024 each under its own id (%d)", own);
    is_int(series_of(text, 1025) + series_of(text, 1030), 0, "none past the table's room under its own");
    ok(t_metrics_sample(text, "concert_holds_total{concert=\"other\",status=\"201\"}") == 6,
       "the six past it together under concert=\"other\" (%g)",
       t_metrics_sample(text, "concert_holds_total{concert=\"other\",status=\"201\"}"));
    ok(t_metrics_sample(text, "concert_payments_total{concert=\"other\",status=\"201\"}") == 1,
       "payments as well");
    ok(t_metrics_sample(text, "concert_holds_total{concert=\"7\",status=\"409\"}") == 1,
       "a counted concert's next answer is still counted under its own id");
    free(text);
}

int main(void)
{
    t_init();
    through_the_front();
    table_full();
    return done_testing();
}
