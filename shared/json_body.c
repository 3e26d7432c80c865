/* json_body.c - request bodies as plain text: the RFC 8259 syntax check
 * that runs before json-c, the one-object parse and the one integer rule
 * (see json_body.h). No request and no answer here: http_body.c turns a
 * refusal into the 400. */
#include "json_body.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* An RFC 8259 syntax check run before json-c: its strict mode still lets
 * single quotes, NaN and Infinity, "1." and raw control characters in
 * strings through, and the contract calls all of those malformed. */
#define JSON_MAX_DEPTH 16

struct json_scan {
    const unsigned char *p, *end;
    int depth;
};

static int scan_value(struct json_scan *j);

static void scan_space(struct json_scan *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int scan_word(struct json_scan *j, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static int scan_string(struct json_scan *j)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = *j->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (j->p >= j->end)
                return 0;
            c = *j->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, j->p++) {
                    if (j->p >= j->end || !isxdigit(*j->p))
                        return 0;
                }
            } else if (c == 0 || !strchr("\"\\/bfnrt", c)) {
                return 0;
            }
        }
    }
    return 0;
}

static int scan_digits(struct json_scan *j)
{
    const unsigned char *start = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

static int scan_number(struct json_scan *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!scan_digits(j))
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!scan_digits(j))
            return 0;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!scan_digits(j))
            return 0;
    }
    return 1;
}

/* An object (members) or an array (values), from its opening bracket. */
static int scan_container(struct json_scan *j, unsigned char close, int members)
{
    if (++j->depth > JSON_MAX_DEPTH)
        return 0;
    j->p++;
    scan_space(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        if (members) {
            if (!scan_string(j))
                return 0;
            scan_space(j);
            if (j->p >= j->end || *j->p != ':')
                return 0;
            j->p++;
            scan_space(j);
        }
        if (!scan_value(j))
            return 0;
        scan_space(j);
        if (j->p >= j->end)
            return 0;
        if (*j->p == ',') {
            j->p++;
            scan_space(j);
            continue;
        }
        if (*j->p != close)
            return 0;
        j->p++;
        j->depth--;
        return 1;
    }
}

static int scan_value(struct json_scan *j)
{
    if (j->p >= j->end)
        return 0;
    switch (*j->p) {
    case '{': return scan_container(j, '}', 1);
    case '[': return scan_container(j, ']', 0);
    case '"': return scan_string(j);
    case 't': return scan_word(j, "true");
    case 'f': return scan_word(j, "false");
    case 'n': return scan_word(j, "null");
    default: return scan_number(j);
    }
}

int http_json_syntax_ok(const char *body, size_t len)
{
    struct json_scan j = {(const unsigned char *)body, (const unsigned char *)body + len, 0};

    scan_space(&j);
    if (!scan_value(&j))
        return 0;
    scan_space(&j);
    return j.p == j.end;
}

int http_parse_json_object(const char *body, size_t len, struct json_object **out, const char **why)
{
    struct json_tokener *tok;
    struct json_object *obj;
    size_t end;

    *out = NULL;
    *why = NULL;
    if (!body || len == 0) {
        *why = "a JSON object body is required";
        return -1;
    }
    if (memchr(body, '\0', len)) {
        *why = "body holds a NUL byte";
        return -1;
    }
    if (len > INT_MAX || !http_json_syntax_ok(body, len)) {
        *why = "body is not valid JSON";
        return -1;
    }
    tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok)
        return -2;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(obj);
        json_tokener_free(tok);
        *why = "body is not valid JSON";
        return -1;
    }
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    for (; end < len; end++) {
        char c = body[end];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            json_object_put(obj);
            *why = "body has data after the JSON value";
            return -1;
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        *why = "body must be a JSON object";
        return -1;
    }
    *out = obj;
    return 0;
}

int json_body_int64(struct json_object *v, int64_t *out)
{
    int64_t n;

    if (!json_object_is_type(v, json_type_int))
        return -1;
    n = json_object_get_int64(v);
    /* json-c keeps integers past INT64_MAX as uint64 and saturates the
     * int64 view to INT64_MAX without a word: tell the two apart. Below
     * INT64_MIN it saturates to INT64_MIN with no way to tell, so that
     * value is refused outright (no field of the API can take it). */
    if (n == INT64_MIN || (n == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
        return -1;
    *out = n;
    return 0;
}
