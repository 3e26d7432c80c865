/* 10-health: the stack answers through its front end, health reports both
 * stores, and unknown paths and methods get the contract's JSON errors. */
#include "tap.h"
#include "testlib.h"

int main(void)
{
    struct t_resp r;

    t_init();
    plan(9);

    ok(t_get("/healthz", NULL, &r) == 0 && r.status == 200, "GET /healthz is 200");
    is(t_json_str(r.json, "status"), "ok", "status ok");
    is(t_json_str(r.json, "postgres"), "ok", "postgres ok");
    is(t_json_str(r.json, "redis"), "ok", "redis ok");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "health is JSON (%s)", r.content_type);
    t_resp_free(&r);

    t_request("POST", "/healthz", NULL, "{}", &r);
    ok(r.status == 405 && strcmp(t_error_code(&r), "METHOD_NOT_ALLOWED") == 0 && strstr(r.allow, "GET"),
       "POST /healthz is 405 with Allow: GET (%ld)", r.status);
    t_resp_free(&r);

    ok(t_answers_error("GET", "/api/v1/no-such-thing", NULL, NULL, 404, "NOT_FOUND"), "unknown API path is a JSON 404");

    ok(t_answers_error("GET", "/api/v2/queue/status", NULL, NULL, 404, "NOT_FOUND"), "unknown version is a JSON 404");

    ok(t_answers_error("GET", "/healthz/extra", NULL, NULL, 404, "NOT_FOUND"), "path below healthz is a JSON 404");
    return done_testing();
}
