/* 30-catalog-concerts: anyone can list the concerts, without a token.
 *
 * The story: after an operator adds a concert whose title needs JSON
 * escaping (quotes, a backslash, Korean), GET /api/v1/concerts lists it with
 * exactly concertId, title and venue, every concert in the database is
 * there, in id order, and a token is neither needed nor looked at. Other
 * methods are 405 and unknown paths below it 404, all as JSON. */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>

int main(void)
{
    struct t_resp r;
    char auth[400], body[512], when[32];
    const char *headers[] = {auth, NULL};
    struct json_object *list;
    int64_t concert_id, total, last = 0, found = -1;
    int ordered = 1, shaped = 1;

    t_init();
    t_time_from_now(86400, when);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t_admin_key());
    snprintf(body, sizeof body,
             "{\"title\":\"Say \\\"hi\\\" \\\\ 안녕 </script>\",\"venue\":\"잠실 / Hall \\\"B\\\"\","
             "\"schedules\":[{\"startsAt\":\"%s\",\"seatCount\":2}]}", when);
    t_request("POST", "/api/v1/admin/concerts", headers, body, &r);
    concert_id = t_json_int(r.json, "concertId");
    t_resp_free(&r);
    if (concert_id < 0)
        bail_out("cannot create a concert through the admin API");

    t_get("/api/v1/concerts", NULL, &r);
    is_int(r.status, 200, "GET /api/v1/concerts without a token: 200");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "answer is JSON (%s)", r.content_type);
    ok(r.json && json_object_object_length(r.json) == 1, "the body is one object with one field");
    list = t_json_at(r.json, "concerts");
    ok(list && json_object_is_type(list, json_type_array), "concerts is an array");
    total = t_pg_int("SELECT count(*) FROM concerts", 0, NULL);
    is_int(list ? (int64_t)json_object_array_length(list) : -1, total, "it lists every concert (%" PRId64 ")", total);
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        struct json_object *c = json_object_array_get_idx(list, i), *v;
        int64_t id = t_json_int(c, "concertId");
        if (id <= last)
            ordered = 0;
        last = id;
        if (json_object_object_length(c) != 3 || !t_json_str(c, "title") ||
            !json_object_object_get_ex(c, "venue", &v) || !json_object_is_type(v, json_type_string))
            shaped = 0;
        if (id == concert_id)
            found = (int64_t)i;
    }
    ok(ordered, "in concertId order");
    ok(shaped, "each has exactly concertId, title and venue");
    ok(found >= 0, "the new concert is listed");
    if (found >= 0) {
        struct json_object *c = json_object_array_get_idx(list, (size_t)found);
        is(t_json_str(c, "title"), "Say \"hi\" \\ 안녕 </script>", "its title survives JSON escaping");
        is(t_json_str(c, "venue"), "잠실 / Hall \"B\"", "its venue too");
    } else {
        ok(0, "title");
        ok(0, "venue");
    }
    t_resp_free(&r);

    t_get("/api/v1/concerts", "not-a-token", &r);
    is_int(r.status, 200, "a bogus token is ignored here: 200");
    t_resp_free(&r);

    ok(t_answers_405("POST", "/api/v1/concerts", NULL, "{}", "GET"), "POST /api/v1/concerts: 405, Allow: GET");
    ok(t_answers_error("DELETE", "/api/v1/concerts", NULL, NULL, 405, "METHOD_NOT_ALLOWED"),
       "DELETE /api/v1/concerts: 405");
    ok(t_answers_error("GET", "/api/v1/concerts/1", NULL, NULL, 404, "NOT_FOUND"),
       "GET /api/v1/concerts/1 (no such resource): JSON 404");
    ok(t_answers_error("GET", "/api/v1/concerts/1/other", NULL, NULL, 404, "NOT_FOUND"),
       "unknown path below a concert: JSON 404");
    ok(t_answers_error("GET", "/api/v1/concertsx", NULL, NULL, 404, "NOT_FOUND"), "a longer path name: JSON 404");
    return done_testing();
}
