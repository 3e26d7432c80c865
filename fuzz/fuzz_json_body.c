/* fuzz_json_body: request bodies. http_parse_json_object must accept only
 * one strict JSON object (nothing after it, no NUL, valid UTF-8), and what it
 * accepts must survive a round trip through json-c's own printer; the field
 * helpers every handler uses (http_get_int, http_get_string,
 * http_only_fields) must either give a value in range without answering, or
 * answer exactly one 400. Input: the body. */
#include "fuzz.h"

#include <json-c/json.h>

static const char *const int_fields[] = {
    "concertId", "scheduleId", "reservationId", "amount", "activeLimit", "activeSeconds",
    "waitingIdleSeconds", "holdSeconds", "seatCount", "price"};
static const char *const string_fields[] = {"userId", "title", "venue", "startsAt"};
static const char *const allowed[] = {"userId", "concertId", "scheduleId", "seatNos", NULL};

static struct request fake(void)
{
    struct request r;
    memset(&r, 0, sizeof r);
    r.method = "POST";
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *obj = NULL, *again = NULL;
    const char *why = NULL;
    int rc;

    if (size > HTTP_MAX_BODY)
        return 0;
    rc = http_parse_json_object((const char *)data, size, &obj, &why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        struct request r;
        FUZZ_CHECK(obj == NULL && why && *why);
        if (fuzz_request(&r, "POST", "/", "", "", (const char *)data, size) < 0)
            abort();
        FUZZ_CHECK(http_body_object(&r) == NULL && r.answered && r.status == 400);
        http_free_request(&r);
        return 0;
    }
    FUZZ_CHECK(obj && json_object_is_type(obj, json_type_object) && why == NULL);
    FUZZ_CHECK(!memchr(data, '\0', size));

    /* What the parser accepted, printed by json-c, parses again. Doubles
     * are left out: json-c prints an overflowed number as Infinity, which is
     * not JSON (no responder echoes a client's double). */
    {
        int has_double = 0;
        json_object_object_foreach(obj, k, v) {
            (void)k;
            if (json_object_is_type(v, json_type_double))
                has_double = 1;
        }
        if (!has_double) {
            size_t len;
            const char *text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
            const char *why2;
            FUZZ_CHECK(text);
            FUZZ_CHECK(http_parse_json_object(text, len, &again, &why2) == 0);
            FUZZ_CHECK(json_object_object_length(again) == json_object_object_length(obj));
            json_object_put(again);
        }
    }

    /* The field helpers, as a handler calls them. */
    for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
        struct request r = fake();
        int64_t v = -12345;
        int required = (int)(i % 2);
        int got = http_get_int(&r, obj, int_fields[i], required, 1, 1000000000, &v);
        if (got == 0) {
            FUZZ_CHECK(!r.answered);
            FUZZ_CHECK(v == -12345 ? !json_object_object_get_ex(obj, int_fields[i], NULL) && !required
                                   : v >= 1 && v <= 1000000000);
        } else {
            FUZZ_CHECK(got == -1 && r.answered && r.status == 400);
        }
    }
    for (size_t i = 0; i < sizeof string_fields / sizeof string_fields[0]; i++) {
        struct request r = fake();
        const char *s = NULL;
        int got = http_get_string(&r, obj, string_fields[i], 1, 1, 200, &s);
        if (got == 0) {
            FUZZ_CHECK(!r.answered && s && strlen(s) >= 1 && strlen(s) <= 200);
        } else {
            FUZZ_CHECK(got == -1 && r.answered && r.status == 400 && s == NULL);
        }
    }
    {
        struct request r = fake();
        int got = http_only_fields(&r, obj, allowed);
        if (got == 0) {
            FUZZ_CHECK(!r.answered);
        } else {
            FUZZ_CHECK(r.answered && r.status == 400);
        }
    }
    /* Through http_body_object on a request, as handlers do. */
    {
        struct request r;
        struct json_object *o;
        if (fuzz_request(&r, "POST", "/", "", "", (const char *)data, size) < 0)
            abort();
        o = http_body_object(&r);
        FUZZ_CHECK(o && !r.answered);
        json_object_put(o);
        http_free_request(&r);
    }
    json_object_put(obj);
    return 0;
}
