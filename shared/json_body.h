/* json_body.h - request bodies: exactly one JSON object in strict RFC 8259
 * syntax, and typed field getters that answer 400 INVALID_REQUEST naming the
 * field. The parse functions are pure (no FastCGI, no I/O) so that the fuzz
 * targets and unit tests call them directly. Included by http.h. */
#ifndef CONCERT_JSON_BODY_H
#define CONCERT_JSON_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct request;

/* 1 when body is exactly one JSON value in RFC 8259 syntax (with
 * surrounding white space), at most 16 levels deep. */
int http_json_syntax_ok(const char *body, size_t len);

/* Parses a body that must be exactly one JSON object (strict JSON, valid
 * UTF-8, no NUL byte, nothing but whitespace after it). Returns 0 and the
 * object in *out (the caller puts it); -1 for a client error, with *why the
 * message of the 400; -2 when out of memory. */
int http_parse_json_object(const char *body, size_t len, struct json_object **out, const char **why);

/* The one rule for JSON integers: 0 and the value when v is a JSON integer
 * that fits an int64_t exactly, -1 otherwise (not an integer, or past the
 * range, which json-c would silently saturate). */
int json_body_int64(struct json_object *v, int64_t *out);

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
