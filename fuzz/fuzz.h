/* fuzz.h - what the libFuzzer targets share: splitting one input into
 * NUL-terminated fields, and a request built without FastCGI.
 *
 * Each target is a LLVMFuzzerTestOneInput over bytes; the harnesses check
 * properties (a matched route really reconstructs the path, a parsed body is
 * an object that survives a round trip, every request gets exactly one
 * answer with a status the contract knows) and abort() when one fails, so
 * the fuzzer reports a logic error as a crash, beside ASan/UBSan findings. */
#ifndef CONCERT_FUZZ_H
#define CONCERT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                     \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* Splits data at '\n' into at most n fields, each a malloc'd NUL-terminated
 * copy (the last one takes the rest, newlines included). Missing fields are
 * "". Returns the copies in out; free with fuzz_free_fields. */
static inline void fuzz_fields(const uint8_t *data, size_t size, int n, char **out, size_t *lens)
{
    size_t pos = 0;

    for (int i = 0; i < n; i++) {
        size_t end;
        if (pos > size)
            pos = size;
        end = pos;
        if (i < n - 1) {
            while (end < size && data[end] != '\n')
                end++;
        } else {
            end = size;
        }
        out[i] = malloc(end - pos + 1);
        if (!out[i])
            abort();
        memcpy(out[i], data + pos, end - pos);
        out[i][end - pos] = '\0';
        if (lens)
            lens[i] = end - pos;
        pos = end + 1;
    }
}

static inline void fuzz_free_fields(int n, char **f)
{
    for (int i = 0; i < n; i++)
        free(f[i]);
}

/* A status the contract allows a responder to answer with. */
static inline int fuzz_known_status(int s)
{
    switch (s) {
    case 200: case 201: case 204: case 400: case 401: case 402: case 403: case 404:
    case 405: case 409: case 410: case 413: case 429: case 503:
        return 1;
    default:
        return 0;
    }
}

/* Fills a request as http_read_request would from FastCGI params and body,
 * but with no FastCGI behind it (fcgx NULL: answers are recorded, not
 * written). body is copied into a buffer of HTTP_MAX_BODY + 2 bytes, cut as
 * the real reader cuts it. Returns -1 when out of memory. */
static inline int fuzz_request(struct request *r, const char *method, const char *uri,
                               const char *authorization, const char *idempotency_key,
                               const char *body, size_t body_len)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->path = http_path_of(uri);
    if (!r->path)
        return -1;
    r->authorization = *authorization ? authorization : NULL;
    r->idempotency_key = *idempotency_key ? idempotency_key : NULL;
    r->remote_addr = "127.0.0.1";
    r->body = malloc(HTTP_MAX_BODY + 2);
    if (!r->body)
        return -1;
    if (body_len > HTTP_MAX_BODY + 1)
        body_len = HTTP_MAX_BODY + 1;
    memcpy(r->body, body, body_len);
    r->body_len = body_len;
    r->body[body_len] = '\0';
    if (body_len > HTTP_MAX_BODY)
        r->body_too_large = 1;
    return 0;
}

#endif
