/* fuzz_route: route matching (http_route_match, http_route_find) on fuzzed
 * paths, against the contract's route patterns and against fuzzed patterns.
 * A match must rebuild the path exactly from the pattern and the captured
 * segments, each non-empty and free of '/'; a path whose method is wrong
 * must name the right methods in Allow. Input: "<method>\n<pattern>\n<path>". */
#include "fuzz.h"

static void handler(struct request *r)
{
    (void)r;
}

/* Every route of the HTTP contract, as the responders declare them. */
static const struct route contract[] = {
    {"GET", "/healthz", handler},
    {"POST", "/api/v1/admin/concerts", handler},
    {"POST", "/api/v1/queue/tokens", handler},
    {"GET", "/api/v1/queue/status", handler},
    {"GET", "/api/v1/concerts", handler},
    {"GET", "/api/v1/concerts/{}/schedules", handler},
    {"GET", "/api/v1/schedules/{}/seats", handler},
    {"POST", "/api/v1/reservations", handler},
    {"DELETE", "/api/v1/reservations/{}", handler},
    {"GET", "/api/v1/users/{}/reservations", handler},
    {"GET", "/api/v1/users/{}/balance", handler},
    {"POST", "/api/v1/users/{}/balance/charge", handler},
    {"POST", "/api/v1/payments", handler},
};
#define NCONTRACT (sizeof contract / sizeof contract[0])

/* Rebuilds what a pattern with these captures stands for and compares. */
static void check_match(const char *pattern, const char *path, const char **param, int nparam)
{
    const char *p = pattern, *s = path;
    int k = 0;

    while (*p) {
        if (p[0] == '{' && p[1] == '}') {
            size_t len = strcspn(param[k], "/");
            FUZZ_CHECK(k < nparam && param[k] == s && len > 0);
            s += len;
            k++;
            p += 2;
        } else {
            FUZZ_CHECK(*p == *s);
            p++;
            s++;
        }
    }
    FUZZ_CHECK(*s == '\0' && k == nparam && nparam <= HTTP_MAX_PARAMS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[3];
    const char *param[HTTP_MAX_PARAMS];
    int nparam = -1;
    char allow[64];
    int i;

    fuzz_fields(data, size, 3, f, NULL);

    if (http_route_match(f[2], f[1], param, &nparam))
        check_match(f[1], f[2], param, nparam);

    i = http_route_find(contract, NCONTRACT, f[0], f[2], param, &nparam, allow, sizeof allow);
    FUZZ_CHECK(i >= -2 && i < (int)NCONTRACT);
    if (i >= 0) {
        FUZZ_CHECK(strcmp(contract[i].method, f[0]) == 0);
        check_match(contract[i].pattern, f[2], param, nparam);
    } else {
        /* No route with this method has the path; -1 exactly when another
         * method's route has it, and Allow names each such method. */
        int known = 0;
        for (size_t k = 0; k < NCONTRACT; k++) {
            const char *pp[HTTP_MAX_PARAMS];
            int np;
            if (http_route_match(f[2], contract[k].pattern, pp, &np)) {
                FUZZ_CHECK(strcmp(contract[k].method, f[0]) != 0);
                FUZZ_CHECK(strstr(allow, contract[k].method) != NULL);
                known = 1;
            }
        }
        FUZZ_CHECK(i == (known ? -1 : -2));
    }

    /* The same through http_dispatch: one answer, 404 or 405 or the handler
     * (which answers nothing here, so the dispatcher's 503). */
    if (!strchr(f[2], '?')) {
        struct request r;
        if (fuzz_request(&r, f[0], f[2], "", "", "", 0) < 0)
            abort();
        http_dispatch(&r, contract, NCONTRACT);
        FUZZ_CHECK(r.answered);
        FUZZ_CHECK(r.status == (i >= 0 ? 503 : i == -1 ? 405 : 404));
        for (int k = 0; i >= 0 && k < r.nparam; k++)
            FUZZ_CHECK(*r.param[k] && !strchr(r.param[k], '/'));
        http_free_request(&r);
    }

    fuzz_free_fields(3, f);
    return 0;
}
