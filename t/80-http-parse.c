/* 80-http-parse: the pure parsing layer of shared/http.c and json_body.c
 * (what the fuzz targets drive): JSON bodies and their integers, route matching and dispatch answers, bearer
 * tokens, CONTENT_LENGTH and the path of a URI, on requests built without
 * FastCGI. */
#include "tap.h"
#include "http.h"

static int called;

static void handler(struct request *r)
{
    called++;
    http_error(r, 409, "SEAT_UNAVAILABLE", "test");
}

static void silent(struct request *r)
{
    (void)r;
    called++;
}

static const struct route routes[] = {
    {"GET", "/api/v1/users/{}/balance", handler},
    {"POST", "/api/v1/users/{}/balance/charge", handler},
    {"GET", "/api/v1/users/{}/reservations", handler},
    {"DELETE", "/api/v1/reservations/{}", handler},
    {"GET", "/api/v1/reservations/{}", silent},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static int dispatch(const char *method, const char *uri, const char *body, int too_large)
{
    struct request r;

    memset(&r, 0, sizeof r);
    r.method = method;
    r.path = http_path_of(uri);
    r.body = body ? strdup(body) : NULL;
    r.body_len = body ? strlen(body) : 0;
    r.body_too_large = too_large;
    http_dispatch(&r, routes, NROUTES);
    http_free_request(&r);
    return r.answered ? r.status : -1;
}

static const char *parse(const char *body, size_t len)
{
    struct json_object *o = NULL;
    const char *why = NULL;
    int rc = http_parse_json_object(body, len, &o, &why);

    json_object_put(o);
    return rc == 0 ? "ok" : why;
}

int main(void)
{
    const char *param[HTTP_MAX_PARAMS];
    int nparam = 0;
    char allow[64];

    plan(43);

    is(parse("{\"a\":1}", 7), "ok", "an object parses");
    is(parse(" {\"a\":[1,2]}\r\n\t ", 16), "ok", "whitespace around it is fine");
    is(parse("", 0), "a JSON object body is required", "empty body refused");
    is(parse("[1]", 3), "body must be a JSON object", "an array is not an object");
    ok(strcmp(parse("{\"a\":1} x", 9), "ok") != 0, "trailing data refused");
    ok(strcmp(parse("{\"a\":1}{}", 9), "ok") != 0, "two objects refused");
    is(parse("{\"a\":1\0}", 8), "body holds a NUL byte", "NUL byte refused");
    /* json-c 0.16's strict mode still accepts a few things JSON does not
     * (single-quoted keys, NaN and Infinity, "1.", raw control characters in
     * strings): reported, to be fixed with a strict syntax check. */
    ok(strcmp(parse("{'a':1}", 7), "ok") != 0, "single-quoted key refused");
    ok(strcmp(parse("{\"a\":NaN}", 9), "ok") != 0, "NaN refused");
    ok(strcmp(parse("{\"a\":\"\t\"}", 9), "ok") != 0, "raw TAB in a string refused");
    ok(strcmp(parse("{\"a\":1.}", 8), "ok") != 0 && strcmp(parse("{\"a\":01}", 8), "ok") != 0 &&
       strcmp(parse("{\"a\":-}", 7), "ok") != 0 && strcmp(parse("{\"a\":Infinity}", 14), "ok") != 0,
       "numbers outside RFC 8259 refused (1. 01 - Infinity)");
    ok(strcmp(parse("{\"a\":[1,-0.5e+3,true,false,null,\"\\u00e9\\n\"],\"b\":{}}", strlen("{\"a\":[1,-0.5e+3,true,false,null,\"\\u00e9\\n\"],\"b\":{}}")), "ok") == 0,
       "every RFC 8259 form accepted");
    ok(strcmp(parse("{\"a\":1,}", 8), "ok") != 0 && strcmp(parse("{\"a\" 1}", 8), "ok") != 0,
       "trailing comma and missing colon refused");
    is(parse("{\"a\":1,}", 8), "body is not valid JSON", "trailing comma refused (strict)");
    is(parse("{\"a\":\"\xff\"}", 9), "body is not valid JSON", "invalid UTF-8 refused");
    is(parse("{\"a\":1", 6), "body is not valid JSON", "truncated object refused");

    ok(http_route_match("/api/v1/users/abc/balance", "/api/v1/users/{}/balance", param, &nparam) &&
       nparam == 1 && strncmp(param[0], "abc/", 4) == 0, "a {} segment is captured");
    ok(!http_route_match("/api/v1/users//balance", "/api/v1/users/{}/balance", param, &nparam),
       "an empty segment does not match {}");
    ok(!http_route_match("/api/v1/users/a/b/balance", "/api/v1/users/{}/balance", param, &nparam),
       "{} matches one segment only");
    ok(!http_route_match("/api/v1/users/a/balance/", "/api/v1/users/{}/balance", param, &nparam),
       "a trailing slash does not match");
    is_int(http_route_find(routes, NROUTES, "POST", "/api/v1/reservations/7", param, &nparam, allow, sizeof allow),
           -1, "known path, wrong method: -1");
    is(allow, "DELETE, GET", "Allow lists the path's methods in table order");
    is_int(http_route_find(routes, NROUTES, "GET", "/api/v1/nothing", param, &nparam, allow, sizeof allow),
           -2, "unknown path: -2");

    called = 0;
    is_int(dispatch("GET", "/api/v1/users/u1/balance?x=1", NULL, 0), 409, "the handler answers");
    is_int(called, 1, "the handler ran once");
    is_int(dispatch("PUT", "/api/v1/users/u1/balance", NULL, 0), 405, "wrong method is 405");
    is_int(dispatch("GET", "/api/v1/users/u1", NULL, 0), 404, "unknown path is 404");
    is_int(dispatch("POST", "/api/v1/users/u1/balance/charge", "{}", 1), 413, "too large a body is 413");
    is_int(dispatch("GET", "/api/v1/reservations/3", NULL, 0), 503, "a handler that answers nothing gets 503");

    is(http_bearer_of("Bearer  abc"), "abc", "bearer token after spaces");
    ok(http_bearer_of("bearer abc") && !http_bearer_of("Bearer ") && !http_bearer_of("Basic abc") &&
       !http_bearer_of(NULL), "bearer: case-insensitive scheme, empty and other schemes refused");
    ok(http_content_length("17") == 17 && http_content_length("") == -1 && http_content_length("1x") == -1 &&
       http_content_length("-5") == -1 && http_content_length(NULL) == -1, "CONTENT_LENGTH parsing");
    {
        char *p = http_path_of("/a/b?c=d?e"), *q = http_path_of(NULL);
        is(p, "/a/b", "path stops at the first ?");
        is(q, "/", "no URI is /");
        free(p);
        free(q);
    }

    /* The one integer rule (json_body_int64): exact int64 or refused, never
     * json-c's silent saturation at either end. */
    {
        static const struct { const char *text; int ok; int64_t value; } ints[] = {
            {"9223372036854775807", 1, INT64_MAX},
            {"9223372036854775808", 0, 0},
            {"18446744073709551616", 0, 0},
            {"-9223372036854775807", 1, -INT64_MAX},
            {"-9223372036854775808", 0, 0},
            {"-9223372036854775809", 0, 0},
            {"-99999999999999999999", 0, 0},
            {"1.5", 0, 0},
            {"\"7\"", 0, 0},
        };
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            struct json_object *v = json_tokener_parse(ints[i].text);
            int64_t n = 0;
            int rc = json_body_int64(v, &n);
            ok(ints[i].ok ? rc == 0 && n == ints[i].value : rc < 0, "integer %s %s", ints[i].text,
               ints[i].ok ? "read exactly" : "refused");
            json_object_put(v);
        }
    }
    return done_testing();
}
