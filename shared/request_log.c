/* request_log.c - the per-request JSON line (see request_log.h). */
#include "request_log.h"
#include "log.h"
#include "utc.h"

#include <stdio.h>
#include <time.h>

void request_log(const struct request *r, const char *group, double duration_ms)
{
    char stamp[UTC_TEXT_SIZE], ms[32];
    struct json_object *line = json_object_new_object();
    const char *text;

    if (!line) {
        log_error("request log: out of memory");
        return;
    }
    utc_text(time(NULL), stamp);
    /* Microseconds are plenty; json-c would write 17 digits. */
    snprintf(ms, sizeof ms, "%.3f", duration_ms >= 0 ? duration_ms : 0.0);
    /* json-c escapes every string, so a path with quotes or control
     * characters cannot break the line. */
    if (json_object_object_add(line, "time", json_object_new_string(stamp)) < 0 ||
        json_object_object_add(line, "requestId", json_object_new_string(r->request_id)) < 0 ||
        json_object_object_add(line, "group", json_object_new_string(group)) < 0 ||
        json_object_object_add(line, "method", json_object_new_string(r->method ? r->method : "-")) < 0 ||
        json_object_object_add(line, "path", json_object_new_string(r->path ? r->path : "-")) < 0 ||
        json_object_object_add(line, "status", json_object_new_int(r->answered ? r->status : 0)) < 0 ||
        json_object_object_add(line, "durationMs", json_object_new_double_s(duration_ms, ms)) < 0 ||
        (r->concert_id > 0 && json_object_object_add(line, "concertId", json_object_new_int64(r->concert_id)) < 0)) {
        log_error("request log: out of memory");
        json_object_put(line);
        return;
    }
    text = json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text)
        log_error("request log: out of memory");
    else if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
        clearerr(stdout);   /* a full disk must not stop the service; nothing to tell it with */
    json_object_put(line);
}
