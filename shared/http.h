/* http.h - the FastCGI request/response layer every responder shares.
 *
 * A responder declares a table of routes; app_run() (app.h) accepts each
 * request, matches it here and calls the handler, which answers with exactly
 * one of the http_* reply functions. Every error answer is the contract's
 * JSON error body; nothing else is ever written. */
#ifndef CONCERT_HTTP_H
#define CONCERT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define HTTP_MAX_BODY 16384
#define HTTP_MAX_PARAMS 4
/* The longest X-Request-Id taken from a client or a web server. */
#define HTTP_REQUEST_ID_MAX 128

struct request {
    void *fcgx;                   /* the FCGX_Request behind it */
    const char *method;
    char *path;                   /* decoded-free copy of the path, no query */
    const char *authorization;    /* raw Authorization header or NULL */
    const char *idempotency_key;  /* raw Idempotency-Key header or NULL */
    const char *remote_addr;
    char *body;                   /* NUL-terminated; body_len bytes */
    size_t body_len;
    int body_too_large;
    int answered;                 /* set by the reply functions */
    int status;                   /* the status answered, once answered */
    const char *param[HTTP_MAX_PARAMS];   /* {placeholders} matched in the path */
    int nparam;
    /* X-Request-Id as sent (by nginx, or the client through Apache), or one
     * made here; returned in the answer and written in the request log. */
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    int64_t concert_id;           /* the concert the request is about; 0 unknown.
                                   * Holds and payments are counted under it in
                                   * the metrics, so a token's concert is set
                                   * only once Redis found the token: anyone can
                                   * write any concert in a forged one. */
    int outcome_kind;             /* enum metrics_kind: a hold or payment is counted by concert */
    /* Work the answer need not wait for (a cache to fill again), run by
     * app_run once the answer is on its way; NULL: none. */
    void (*after_answer)(void *arg);
    void *after_answer_arg;
};

typedef void (*http_handler)(struct request *r);

struct route {
    const char *method;    /* "GET", "POST", ... */
    const char *pattern;   /* "/api/v1/users/{}/balance": {} matches one segment */
    http_handler handler;
};

/* --- Pure parsing: no FastCGI, no I/O ------------------------------------
 * What http_read_request, http_dispatch and the body helpers below do with
 * client input, as plain functions over strings, so that the fuzz targets
 * (fuzz/) and unit tests can call them directly. A struct request whose fcgx
 * is NULL can also be dispatched and answered: the reply functions then
 * record the status and write nothing. */

/* The path part of a request URI (up to '?'), malloc'd; NULL when out of
 * memory. A NULL uri counts as "/". */
char *http_path_of(const char *uri);

/* CONTENT_LENGTH as a number: -1 when absent, empty or malformed. */
long long http_content_length(const char *text);

/* Matches path against a pattern whose "{}" segments match any one non-empty
 * segment. On a match returns 1 and stores in param[0..*nparam) pointers
 * into path at the start of each captured segment (the segment ends at the
 * next '/' or at the end). Returns 0 otherwise. param holds HTTP_MAX_PARAMS. */
int http_route_match(const char *path, const char *pattern, const char **param, int *nparam);

/* Which route of the table a request goes to: its index (and the captured
 * params, as http_route_match), or -1 when the path matches some route but
 * not with this method (allow then lists their methods, "GET, POST"), or -2
 * when no route has the path. */
int http_route_find(const struct route *routes, size_t nroutes, const char *method,
                    const char *path, const char **param, int *nparam,
                    char *allow, size_t allowlen);

/* Whether an X-Request-Id value can be taken as it is: 1 to
 * HTTP_REQUEST_ID_MAX characters out of letters, digits and "-_.:". */
int http_request_id_valid(const char *id);

/* The token of an "Authorization: Bearer <token>" value, or NULL. */
const char *http_bearer_of(const char *authorization);

/* --- FastCGI requests ------------------------------------------------------ */

/* Reads the request from FastCGI (headers and up to HTTP_MAX_BODY bytes of
 * body). Returns 0, or -1 when out of memory. */
int http_read_request(struct request *r, void *fcgx);
void http_free_request(struct request *r);

/* Finds the route for r and calls it, answering 404/405/413 itself. */
void http_dispatch(struct request *r, const struct route *routes, size_t nroutes);

/* Replies. http_json takes ownership of body. */
void http_json(struct request *r, int status, struct json_object *body);
void http_json_text(struct request *r, int status, const char *json, size_t len);
/* An answer that is not JSON (the metrics' text format). */
void http_text(struct request *r, int status, const char *content_type, const char *body, size_t len);
void http_error(struct request *r, int status, const char *code, const char *message);
void http_unavailable(struct request *r, const char *what);
void http_internal_error(struct request *r);

/* Answers 400 INVALID_REQUEST "<name> <problem>". */
void http_invalid(struct request *r, const char *name, const char *problem);

/* Path parameter helpers: on failure they answer 400 INVALID_REQUEST naming
 * the parameter and return -1. */
int http_param_id(struct request *r, int index, const char *what, int64_t *out);
int http_param_uuid(struct request *r, int index, const char **out);

/* The token from "Authorization: Bearer <token>", or NULL (no answer sent). */
const char *http_bearer(const struct request *r);

/* Idempotency-Key: 0 and *key=NULL when absent, 0 and the key when valid,
 * -1 after answering 400 when malformed. */
int http_idempotency_key(struct request *r, const char **key);

/* Request bodies: the parse (json_body.c) and the field getters that
 * answer 400 (http_body.c). */
#include "json_body.h"
#include "http_body.h"

/* 204 with no body. */
void http_no_content(struct request *r);
/* 429 RATE_LIMITED with Retry-After: retry_after seconds (at least 1). */
void http_rate_limited(struct request *r, long retry_after, const char *message);

#endif
