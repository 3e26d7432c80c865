/* http_body.h - the request body's typed field getters: each answers 400
 * INVALID_REQUEST naming the field when it refuses. Included by http.h. */
#ifndef CONCERT_HTTP_BODY_H
#define CONCERT_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct request;

/* Request body helpers. Each returns 0 on success; on failure it has
 * already answered 400 INVALID_REQUEST naming the field, and returns -1. */
struct json_object *http_body_object(struct request *r);
int http_get_int(struct request *r, struct json_object *obj, const char *field,
                 int required, int64_t min, int64_t max, int64_t *out);
int http_get_string(struct request *r, struct json_object *obj, const char *field,
                    int required, size_t minlen, size_t maxlen, const char **out);
/* An optional integer that may also be null: absent leaves both outputs
 * alone, null sets *is_null, an integer in range sets *out and clears it. */
int http_get_int_or_null(struct request *r, struct json_object *obj, const char *field,
                         int64_t min, int64_t max, int64_t *out, int *is_null);
/* An optional true or false: absent leaves *out alone. */
int http_get_bool(struct request *r, struct json_object *obj, const char *field, int *out);
/* Rejects fields other than those listed (NULL-terminated). */
int http_only_fields(struct request *r, struct json_object *obj, const char *const *allowed);

#endif
