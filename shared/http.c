/* http.c - FastCGI request reading, routing, JSON replies and path and
 * header checks (see http.h; request bodies are json_body.c's). */
#include "http.h"
#include "log.h"
#include "rand.h"
#include "valid.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcgiapp.h>

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

char *http_path_of(const char *uri)
{
    const char *q;
    size_t pathlen;
    char *path;

    if (!uri)
        uri = "/";
    q = strchr(uri, '?');
    pathlen = q ? (size_t)(q - uri) : strlen(uri);
    path = malloc(pathlen + 1);
    if (!path)
        return NULL;
    memcpy(path, uri, pathlen);
    path[pathlen] = '\0';
    return path;
}

long long http_content_length(const char *text)
{
    long long declared = -1;

    if (text && *text) {
        char *end;
        errno = 0;
        declared = strtoll(text, &end, 10);
        if (errno || *end || declared < 0)
            declared = -1;
    }
    return declared;
}

int http_request_id_valid(const char *id)
{
    size_t n;

    if (!id)
        return 0;
    for (n = 0; id[n]; n++) {
        unsigned char c = (unsigned char)id[n];
        if (n == HTTP_REQUEST_ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n > 0;
}

/* The request id the web server sent, or a new one (32 hex digits, as
 * nginx's $request_id) when there is none fit to be logged and echoed. */
static void http_take_request_id(struct request *r, const char *sent)
{
    if (http_request_id_valid(sent)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", sent);
    } else if (rand_hex(r->request_id, 16) < 0) {
        log_error("no randomness for a request id");
        snprintf(r->request_id, sizeof r->request_id, "none");
    }
}

/* The body of the request being served (see http_read_request). */
static char body_buffer[HTTP_MAX_BODY + 2];

int http_read_request(struct request *r, void *fcgx)
{
    FCGX_Request *req = fcgx;
    long long declared;

    memset(r, 0, sizeof *r);
    r->fcgx = fcgx;
    http_take_request_id(r, FCGX_GetParam("HTTP_X_REQUEST_ID", req->envp));
    r->method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    if (!r->method)
        r->method = "GET";
    r->path = http_path_of(FCGX_GetParam("REQUEST_URI", req->envp));
    if (!r->path)
        return -1;
    r->authorization = FCGX_GetParam("HTTP_AUTHORIZATION", req->envp);
    r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", req->envp);
    r->remote_addr = FCGX_GetParam("REMOTE_ADDR", req->envp);

    declared = http_content_length(FCGX_GetParam("CONTENT_LENGTH", req->envp));
    if (declared > HTTP_MAX_BODY) {
        r->body_too_large = 1;
        return 0;
    }
    /* Read at most one byte more than allowed, whatever the declared length,
     * so a body that lies about its size is caught too. A responder serves
     * one request at a time, so one buffer a process will do: a 16 KiB
     * malloc and free per request showed up in the benchmark's profile. */
    r->body = body_buffer;
    {
        int n = FCGX_GetStr(r->body, HTTP_MAX_BODY + 1, req->in);
        if (n < 0)
            n = 0;
        r->body_len = (size_t)n;
    }
    r->body[r->body_len] = '\0';
    if (r->body_len > HTTP_MAX_BODY)
        r->body_too_large = 1;
    return 0;
}

void http_free_request(struct request *r)
{
    free(r->path);
    if (r->body != body_buffer)
        free(r->body);
    r->path = NULL;
    r->body = NULL;
}

static void http_write_typed(struct request *r, int status, const char *content_type, const char *extra_headers,
                             const char *body, size_t len)
{
    FCGX_Request *req = r->fcgx;

    /* libfcgi's own printf knows no %zu: lengths go out as unsigned long. */
    if (r->answered) {
        log_error("handler answered twice (%d)", status);
        return;
    }
    r->answered = 1;
    r->status = status;
    if (!req)
        return;   /* a request built without FastCGI (tests, fuzzing) */
    FCGX_FPrintF(req->out,
                 "Status: %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Cache-Control: no-store\r\n"
                 "Content-Length: %lu\r\n"
                 "X-Request-Id: %s\r\n"
                 "%s\r\n",
                 status, status_text(status), content_type, (unsigned long)len, r->request_id,
                 extra_headers ? extra_headers : "");
    FCGX_PutStr(body, (int)len, req->out);
}

static void http_write(struct request *r, int status, const char *extra_headers, const char *body, size_t len)
{
    http_write_typed(r, status, "application/json; charset=utf-8", extra_headers, body, len);
}

void http_text(struct request *r, int status, const char *content_type, const char *body, size_t len)
{
    http_write_typed(r, status, content_type, NULL, body, len);
}

void http_json_text(struct request *r, int status, const char *json, size_t len)
{
    http_write(r, status, NULL, json, len);
}

void http_json(struct request *r, int status, struct json_object *body)
{
    const char *text;
    size_t len;

    if (!body) {
        http_internal_error(r);
        return;
    }
    text = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!text) {
        json_object_put(body);
        http_internal_error(r);
        return;
    }
    http_write(r, status, NULL, text, len);
    json_object_put(body);
}

static void http_error_with(struct request *r, int status, const char *headers,
                            const char *code, const char *message)
{
    struct json_object *err = json_object_new_object();
    struct json_object *outer = json_object_new_object();
    const char *text = NULL;
    size_t len = 0;

    if (err && outer &&
        json_object_object_add(err, "code", json_object_new_string(code)) == 0 &&
        json_object_object_add(err, "message", json_object_new_string(message)) == 0 &&
        json_object_object_add(outer, "error", err) == 0) {
        err = NULL;
        text = json_object_to_json_string_length(outer, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }
    if (!text) {
        static const char fallback[] =
            "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"out of memory\"}}";
        status = 503;
        headers = "Retry-After: 1\r\n";
        text = fallback;
        len = sizeof fallback - 1;
    }
    http_write(r, status, headers, text, len);
    json_object_put(err);
    json_object_put(outer);
}

void http_error(struct request *r, int status, const char *code, const char *message)
{
    const char *headers = NULL;

    if (status == 401)
        headers = "WWW-Authenticate: Bearer\r\n";
    http_error_with(r, status, headers, code, message);
}

void http_unavailable(struct request *r, const char *what)
{
    char message[128];

    snprintf(message, sizeof message, "%s is unavailable, retry shortly", what);
    http_error_with(r, 503, "Retry-After: 1\r\n", "UNAVAILABLE", message);
}

void http_internal_error(struct request *r)
{
    /* Answered as 503 with Retry-After: the contract knows no 500, and every
     * internal failure here is a dependency or resource failure. */
    http_error_with(r, 503, "Retry-After: 1\r\n", "UNAVAILABLE", "temporarily unable to serve the request");
}

int http_route_match(const char *path, const char *pattern, const char **param, int *nparam)
{
    const char *p = pattern, *s = path;
    int n = 0;

    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || n == HTTP_MAX_PARAMS)
                return 0;
            param[n++] = s;
            s += len;
            p += 2;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return 0;
        }
    }
    if (*p || *s)
        return 0;
    *nparam = n;
    return 1;
}

int http_route_find(const struct route *routes, size_t nroutes, const char *method,
                    const char *path, const char **param, int *nparam,
                    char *allow, size_t allowlen)
{
    int path_known = 0;

    if (allowlen)
        allow[0] = '\0';
    for (size_t i = 0; i < nroutes; i++) {
        if (!http_route_match(path, routes[i].pattern, param, nparam))
            continue;
        if (strcmp(routes[i].method, method) == 0)
            return (int)i;
        path_known = 1;
        if (allowlen && strlen(allow) + strlen(routes[i].method) + 3 < allowlen) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, routes[i].method);
        }
    }
    return path_known ? -1 : -2;
}

void http_dispatch(struct request *r, const struct route *routes, size_t nroutes)
{
    char allow[64];
    int i = http_route_find(routes, nroutes, r->method, r->path, r->param, &r->nparam,
                            allow, sizeof allow);

    if (i >= 0) {
        /* Parameters point into the path; cut them at their '/'. */
        for (int k = 0; k < r->nparam; k++) {
            char *slash = strchr(r->param[k], '/');
            if (slash)
                *slash = '\0';
        }
        if (r->body_too_large) {
            http_error(r, 413, "PAYLOAD_TOO_LARGE", "request body is larger than 16 KiB");
            return;
        }
        routes[i].handler(r);
        if (!r->answered) {
            log_error("handler for %s %s gave no answer", routes[i].method, routes[i].pattern);
            http_internal_error(r);
        }
        return;
    }
    if (i == -1) {
        char headers[96];
        snprintf(headers, sizeof headers, "Allow: %s\r\n", allow);
        http_error_with(r, 405, headers, "METHOD_NOT_ALLOWED", "method not allowed for this path");
        return;
    }
    http_error(r, 404, "NOT_FOUND", "no such resource");
}

void http_invalid(struct request *r, const char *name, const char *problem)
{
    char message[160];

    snprintf(message, sizeof message, "%.64s %s", name, problem);
    http_error(r, 400, "INVALID_REQUEST", message);
}

int http_param_id(struct request *r, int index, const char *what, int64_t *out)
{
    if (index >= r->nparam || valid_id(r->param[index], out) < 0) {
        http_invalid(r, what, "must be a positive integer");
        return -1;
    }
    return 0;
}

int http_param_uuid(struct request *r, int index, const char **out)
{
    if (index >= r->nparam || !valid_uuid(r->param[index])) {
        http_error(r, 400, "INVALID_REQUEST", "userId must be a lowercase canonical UUID");
        return -1;
    }
    *out = r->param[index];
    return 0;
}

const char *http_bearer_of(const char *authorization)
{
    const char *a = authorization;

    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return *a ? a : NULL;
}

const char *http_bearer(const struct request *r)
{
    return http_bearer_of(r->authorization);
}

int http_idempotency_key(struct request *r, const char **key)
{
    *key = NULL;
    if (!r->idempotency_key)
        return 0;
    if (!valid_idempotency_key(r->idempotency_key)) {
        http_error(r, 400, "INVALID_REQUEST", "Idempotency-Key must be 1 to 64 printable characters");
        return -1;
    }
    *key = r->idempotency_key;
    return 0;
}

void http_no_content(struct request *r)
{
    FCGX_Request *req = r->fcgx;

    if (r->answered) {
        log_error("handler answered twice (204)");
        return;
    }
    r->answered = 1;
    r->status = 204;
    /* No Content-Type and no Content-Length: a 204 carries neither. */
    if (req)
        FCGX_FPrintF(req->out, "Status: 204 No Content\r\nCache-Control: no-store\r\nX-Request-Id: %s\r\n\r\n",
                     r->request_id);
}

void http_rate_limited(struct request *r, long retry_after, const char *message)
{
    char headers[48];

    snprintf(headers, sizeof headers, "Retry-After: %ld\r\n", retry_after > 0 ? retry_after : 1);
    http_error_with(r, 429, headers, "RATE_LIMITED", message);
}
