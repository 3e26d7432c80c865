/* 2f-metrics: GET /metrics tells an operator what the service did, in the
 * Prometheus text format, and its numbers are right.
 *
 * Without the admin key: 401. With it: 200, text/plain in the format's
 * version 0.0.4, which promtool (the format's own checker) accepts. Then
 * the numbers against what this test did between two scrapes: three polls
 * with a forged token are three more 401s of the queue group; the healthz
 * requests and the first scrape are admin 200s; the latency histogram
 * counted each request once, in a bucket at least as high as needed. A
 * concert with activeLimit 1 and three users shows 1 active, 2 waiting, 1
 * admission; a hold answered 201, a hold of the same seat by someone else
 * 409 and a payment 201 are counted under that concert by status. Killing
 * a queue responder (multiwatch starts another) loses no count: the
 * counters live in the host's shared file, not in the process. */
#include "tap.h"
#include "testlib.h"
#include "40-booking.h"

#include <signal.h>
#include <unistd.h>



static int promtool_accepts(const char *text)
{
    FILE *p = popen("promtool check metrics >/dev/null 2>&1", "w");

    if (!p)
        return 0;
    fputs(text, p);
    return pclose(p) == 0;
}

int main(void)
{
    char ctype[128], users[3][37], series[160];
    char *before, *after, *tokens[3];
    long status;
    struct t_resp r;
    int64_t concert, sched[1], rid;
    int seat[1] = {1};

    t_init();
    plan(14);

    t_request("GET", "/metrics", NULL, NULL, &r);
    ok(r.status == 401, "without the admin key: 401 (%ld)", r.status);
    t_resp_free(&r);

    before = t_metrics(&status, ctype);
    ok(status == 200 && strncmp(ctype, "text/plain; version=0.0.4", 25) == 0, "200, %s", ctype);
    if (access("/usr/bin/promtool", X_OK) == 0)
        ok(before && promtool_accepts(before), "promtool check metrics accepts it");
    else
        ok(0, "promtool is installed (./dev test installs Debian's prometheus)");

    for (int i = 0; i < 3; i++) {
        t_get("/api/v1/queue/status", "1.00000000000000000000000000000000", &r);
        t_resp_free(&r);
    }
    for (int i = 0; i < 2; i++) {
        t_get("/healthz", NULL, &r);
        t_resp_free(&r);
    }
    after = t_metrics(&status, NULL);
    ok(t_metrics_sample(after, "concert_http_requests_total{group=\"queue\",status=\"401\"}") -
               t_metrics_sample(before, "concert_http_requests_total{group=\"queue\",status=\"401\"}") == 3,
       "three forged polls: three more queue 401s");
    ok(t_metrics_sample(after, "concert_http_requests_total{group=\"admin\",status=\"200\"}") -
               t_metrics_sample(before, "concert_http_requests_total{group=\"admin\",status=\"200\"}") == 3,
       "two health checks and the first scrape: three more admin 200s");
    {
        double count = t_metrics_sample(after, "concert_http_request_duration_seconds_count{group=\"queue\"}") -
                       t_metrics_sample(before, "concert_http_request_duration_seconds_count{group=\"queue\"}");
        double inf = t_metrics_sample(after, "concert_http_request_duration_seconds_bucket{group=\"queue\",le=\"+Inf\"}") -
                     t_metrics_sample(before, "concert_http_request_duration_seconds_bucket{group=\"queue\",le=\"+Inf\"}");
        double five = t_metrics_sample(after, "concert_http_request_duration_seconds_bucket{group=\"queue\",le=\"5\"}") -
                      t_metrics_sample(before, "concert_http_request_duration_seconds_bucket{group=\"queue\",le=\"5\"}");
        ok(count == 3 && inf == 3 && five == 3, "the latency histogram counted each once (%.0f, +Inf %.0f, 5 s %.0f)",
           count, inf, five);
    }
    free(before);
    free(after);

    /* A queue and a sale. */
    concert = t_create_concert(1, 600, 600, 300, 1, 10, 1000, sched);
    for (int i = 0; i < 3; i++) {
        t_user(users[i]);
        tokens[i] = t_issue_token(concert, users[i], &r);
        t_resp_free(&r);
    }
    rid = bk_hold_id(tokens[0], sched[0], seat, 1);
    {
        /* The second user is let in by letting the first finish. */
        bk_charge(users[0], 1000, NULL, NULL);
        bk_pay(tokens[0], rid, NULL, NULL);
    }
    after = t_metrics(&status, NULL);
    snprintf(series, sizeof series, "concert_queue_active{concert=\"%lld\"}", (long long)concert);
    ok(t_metrics_sample(after, series) == 1, "the queue: 1 active (%.0f)", t_metrics_sample(after, series));
    snprintf(series, sizeof series, "concert_queue_waiting{concert=\"%lld\"}", (long long)concert);
    ok(t_metrics_sample(after, series) == 1, "1 waiting (%.0f)", t_metrics_sample(after, series));
    snprintf(series, sizeof series, "concert_queue_admissions_total{concert=\"%lld\"}", (long long)concert);
    ok(t_metrics_sample(after, series) == 2, "2 admissions: the first at once, the second when the first paid (%.0f)",
       t_metrics_sample(after, series));
    free(after);
    {
        char *tok = NULL;
        t_get("/api/v1/queue/status", tokens[1], &r);
        if (r.status == 200 && t_json_str(r.json, "status") && strcmp(t_json_str(r.json, "status"), "ACTIVE") == 0)
            tok = tokens[1];
        t_resp_free(&r);
        ok(tok && bk_hold(tok, sched[0], seat, 1, NULL) == 409, "the second user asks for the sold seat: 409");
    }
    after = t_metrics(&status, NULL);
    snprintf(series, sizeof series, "concert_holds_total{concert=\"%lld\",status=\"201\"}", (long long)concert);
    ok(t_metrics_sample(after, series) == 1, "holds of that concert: one 201");
    snprintf(series, sizeof series, "concert_holds_total{concert=\"%lld\",status=\"409\"}", (long long)concert);
    ok(t_metrics_sample(after, series) == 1, "and one 409");
    snprintf(series, sizeof series, "concert_payments_total{concert=\"%lld\",status=\"201\"}", (long long)concert);
    ok(t_metrics_sample(after, series) == 1, "payments: one 201");

    /* A responder dies; the counts stay. */
    {
        double was = t_metrics_sample(after, "concert_http_requests_total{group=\"queue\",status=\"401\"}");
        char *again;
        char command[1200];
        int killed;
        /* The newest child of this stack's first queue instance (its
         * multiwatch's pid is in the stack's run folder). */
        snprintf(command, sizeof command, "pkill -KILL -n -P \"$(cat '%s/run/queue-1.pid')\"",
                 getenv("CONCERT_VAR") ? getenv("CONCERT_VAR") : ".");
        killed = system(command) == 0;
        t_sleep_ms(500);
        again = t_metrics(&status, NULL);
        ok(killed && t_metrics_sample(again, "concert_http_requests_total{group=\"queue\",status=\"401\"}") >= was,
           "a queue responder killed with -9: its counts stay (%.0f >= %.0f)",
           t_metrics_sample(again, "concert_http_requests_total{group=\"queue\",status=\"401\"}"), was);
        free(again);
    }
    free(after);
    for (int i = 0; i < 3; i++)
        free(tokens[i]);
    return done_testing();
}
