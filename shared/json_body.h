/* json_body.h - request bodies: exactly one JSON object in strict RFC 8259
 * syntax. Pure functions over text (no request, no FastCGI, no I/O), so that
 * the fuzz targets and unit tests call them directly; the getters that
 * answer 400 naming a field are http_body.h's. Included by http.h, and
 * includes nothing of it. */
#ifndef CONCERT_JSON_BODY_H
#define CONCERT_JSON_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

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

#endif
