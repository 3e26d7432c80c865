/* reservations.c - the reservations responder (being written). */
#include "app.h"

static void not_yet(struct request *r)
{
    http_error(r, 404, "NOT_FOUND", "no such resource");
}

static const struct route routes[] = {
    {"GET", "/api/v1/reservations-not-yet", not_yet},
};

int main(void)
{
    return app_run("concert-reservations", routes, sizeof routes / sizeof routes[0]);
}
