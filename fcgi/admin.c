/* admin.c - the operations responder: GET /healthz and the admin API.
 *
 * Health answers 200 only when both PostgreSQL and Redis answer a round trip
 * now, so a load balancer or a person can see at once which one is down. */
#include "app.h"
#include "db.h"
#include "rds.h"

static void health(struct request *r)
{
    int pg_ok = db_ping() == DB_OK;
    int redis_ok = rds_ping() == 0;
    struct json_object *o = json_object_new_object();

    if (!o) {
        http_internal_error(r);
        return;
    }
    json_object_object_add(o, "status", json_object_new_string(pg_ok && redis_ok ? "ok" : "unavailable"));
    json_object_object_add(o, "postgres", json_object_new_string(pg_ok ? "ok" : "down"));
    json_object_object_add(o, "redis", json_object_new_string(redis_ok ? "ok" : "down"));
    http_json(r, pg_ok && redis_ok ? 200 : 503, o);
}

static const struct route routes[] = {
    {"GET", "/healthz", health},
};

int main(void)
{
    return app_run("concert-admin", routes, sizeof routes / sizeof routes[0]);
}
