/* request_log.c - the per-request JSON line (see request_log.h).
 *
 * Written on every request of every responder, so it is built by hand into
 * one buffer and leaves in one write(): building it as a json-c object cost
 * a queue poll about 9 microseconds of the responder's 58 (bench/profile).
 * Strings are escaped as json-c escapes them, so the line stays one valid
 * JSON object whatever the path holds. */
#include "request_log.h"
#include "log.h"
#include "utc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A line in a buffer on the stack, moved to the heap if a long path needs
 * more; out of memory marks it failed. */
struct line {
    char *text;
    size_t len, cap;
    int failed;
    char stack[1024];
};

static void line_reserve(struct line *l, size_t more)
{
    char *bigger;
    size_t cap;

    if (l->failed || l->len + more <= l->cap)
        return;
    cap = (l->len + more) * 2;
    bigger = l->text == l->stack ? malloc(cap) : realloc(l->text, cap);
    if (!bigger) {
        l->failed = 1;
        return;
    }
    if (l->text == l->stack)
        memcpy(bigger, l->stack, l->len);
    l->text = bigger;
    l->cap = cap;
}

static void line_raw(struct line *l, const char *s, size_t n)
{
    line_reserve(l, n);
    if (l->failed)
        return;
    memcpy(l->text + l->len, s, n);
    l->len += n;
}

/* s as a JSON string, quotes included. */
static void line_string(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    line_raw(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};

        switch (*p) {
        case '"': line_raw(l, "\\\"", 2); break;
        case '\\': line_raw(l, "\\\\", 2); break;
        case '\b': line_raw(l, "\\b", 2); break;
        case '\f': line_raw(l, "\\f", 2); break;
        case '\n': line_raw(l, "\\n", 2); break;
        case '\r': line_raw(l, "\\r", 2); break;
        case '\t': line_raw(l, "\\t", 2); break;
        default:
            if (*p < 0x20)
                line_raw(l, esc, sizeof esc);
            else
                line_raw(l, (const char *)p, 1);
        }
    }
    line_raw(l, "\"", 1);
}

static void line_text(struct line *l, const char *s)
{
    line_raw(l, s, strlen(s));
}

/* The stamp of the current second, made once a second. */
static const char *stamp_now(void)
{
    static char stamp[UTC_TEXT_SIZE];
    static time_t made = (time_t)-1;
    time_t now = time(NULL);

    if (now != made) {
        utc_text(now, stamp);
        made = now;
    }
    return stamp;
}

void request_log(const struct request *r, const char *group, double duration_ms)
{
    struct line l = {.len = 0, .cap = sizeof l.stack, .failed = 0};
    char number[64];
    const char *p;
    size_t left;

    l.text = l.stack;
    line_text(&l, "{\"time\":\"");
    line_text(&l, stamp_now());
    line_text(&l, "\",\"requestId\":");
    line_string(&l, r->request_id);
    line_text(&l, ",\"group\":");
    line_string(&l, group);
    line_text(&l, ",\"method\":");
    line_string(&l, r->method ? r->method : "-");
    line_text(&l, ",\"path\":");
    line_string(&l, r->path ? r->path : "-");
    /* Microseconds are plenty. */
    snprintf(number, sizeof number, ",\"status\":%d,\"durationMs\":%.3f", r->answered ? r->status : 0,
             duration_ms >= 0 ? duration_ms : 0.0);
    line_text(&l, number);
    if (r->concert_id > 0) {
        snprintf(number, sizeof number, ",\"concertId\":%" PRId64, r->concert_id);
        line_text(&l, number);
    }
    line_raw(&l, "}\n", 2);
    if (l.failed) {
        log_error("request log: out of memory");
    } else {
        /* One write, so lines of processes sharing the file never
         * interleave; a full disk must not stop the service, and there is
         * nothing to tell it with. */
        for (p = l.text, left = l.len; left > 0;) {
            ssize_t n = write(STDOUT_FILENO, p, left);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
    }
    if (l.text != l.stack)
        free(l.text);
}
