/* http_body.c - the request body's typed field getters, which answer 400
 * INVALID_REQUEST naming the field (see http_body.h); the parsing itself is
 * json_body.c's. */
#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

struct json_object *http_body_object(struct request *r)
{
    struct json_object *obj;
    const char *why;
    int rc = http_parse_json_object(r->body, r->body_len, &obj, &why);

    if (rc == -2) {
        http_internal_error(r);
        return NULL;
    }
    if (rc < 0) {
        http_error(r, 400, "INVALID_REQUEST", why);
        return NULL;
    }
    return obj;
}

int http_get_int(struct request *r, struct json_object *obj, const char *field,
                 int required, int64_t min, int64_t max, int64_t *out)
{
    struct json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(obj, field, &v)) {
        if (!required)
            return 0;
        http_invalid(r, field, "is required");
        return -1;
    }
    if (!json_object_is_type(v, json_type_int)) {
        http_invalid(r, field, "must be an integer");
        return -1;
    }
    if (json_body_int64(v, &n) < 0 || n < min || n > max) {
        char message[160];
        snprintf(message, sizeof message, "%s must be from %lld to %lld", field,
                 (long long)min, (long long)max);
        http_error(r, 400, "INVALID_REQUEST", message);
        return -1;
    }
    *out = n;
    return 0;
}

int http_get_int_or_null(struct request *r, struct json_object *obj, const char *field,
                         int64_t min, int64_t max, int64_t *out, int *is_null)
{
    struct json_object *v;

    if (json_object_object_get_ex(obj, field, &v) && !v) {
        *is_null = 1;
        return 0;
    }
    if (http_get_int(r, obj, field, 0, min, max, out) < 0)
        return -1;
    if (v)
        *is_null = 0;
    return 0;
}

int http_get_bool(struct request *r, struct json_object *obj, const char *field, int *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, field, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean)) {
        http_invalid(r, field, "must be true or false");
        return -1;
    }
    *out = json_object_get_boolean(v) ? 1 : 0;
    return 0;
}

int http_get_string(struct request *r, struct json_object *obj, const char *field,
                    int required, size_t minlen, size_t maxlen, const char **out)
{
    struct json_object *v;
    size_t len;

    if (!json_object_object_get_ex(obj, field, &v)) {
        if (!required)
            return 0;
        http_invalid(r, field, "is required");
        return -1;
    }
    if (!json_object_is_type(v, json_type_string)) {
        http_invalid(r, field, "must be a string");
        return -1;
    }
    len = (size_t)json_object_get_string_len(v);
    if (len < minlen || len > maxlen || strlen(json_object_get_string(v)) != len) {
        char message[160];
        snprintf(message, sizeof message, "%s must be %zu to %zu characters", field, minlen, maxlen);
        http_error(r, 400, "INVALID_REQUEST", message);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

int http_only_fields(struct request *r, struct json_object *obj, const char *const *allowed)
{
    json_object_object_foreach(obj, key, val) {
        int known = 0;
        (void)val;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, key) == 0) {
                known = 1;
                break;
            }
        }
        if (!known) {
            char message[160];
            snprintf(message, sizeof message, "unknown field '%.64s'", key);
            http_error(r, 400, "INVALID_REQUEST", message);
            return -1;
        }
    }
    return 0;
}

