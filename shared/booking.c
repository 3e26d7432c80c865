/* booking.c - answers from booking functions and int-array texts (see booking.h). */
#include "booking.h"
#include "log.h"
#include "session.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int booking_status(db_rc rc, const PGresult *res)
{
    const char *text;
    char *end;
    long status;

    if (rc != DB_OK)
        return 0;
    if (PQntuples(res) != 1 || PQnfields(res) < 2 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
        log_error("booking: malformed function result");
        return 0;
    }
    text = PQgetvalue(res, 0, 0);
    errno = 0;
    status = strtol(text, &end, 10);
    if (errno || *end || status < 200 || status > 599) {
        log_error("booking: bad status '%s'", text);
        return 0;
    }
    return (int)status;
}

void booking_send(struct request *r, int status, const char *json, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    int in_string = 0;

    if (!out) {
        http_internal_error(r);
        return;
    }
    /* PostgreSQL's json_build_object writes `"key" : value, ...`; drop the
     * whitespace between tokens (never inside a string) so these answers
     * look like every other responder's. */
    for (size_t i = 0; i < len; i++) {
        char c = json[i];

        if (in_string) {
            out[n++] = c;
            if (c == '\\' && i + 1 < len)
                out[n++] = json[++i];
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
            out[n++] = c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            out[n++] = c;
        }
    }
    http_json_text(r, status, out, n);
    free(out);
}

int booking_reply(struct request *r, db_rc rc, const PGresult *res)
{
    int status = booking_status(rc, res);

    if (rc == DB_UNAVAILABLE) {
        http_unavailable(r, "PostgreSQL");
        return 503;
    }
    if (status == 0) {
        http_internal_error(r);
        return 503;
    }
    booking_send(r, status, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
    return status;
}

int booking_array_text(const int *v, int n, char *out, size_t cap)
{
    size_t used = 0;

    if (cap < 3)
        return -1;
    out[used++] = '{';
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + used, cap - used, i ? ",%d" : "%d", v[i]);
        if (w < 0 || (size_t)w >= cap - used)
            return -1;
        used += (size_t)w;
    }
    if (used + 2 > cap)
        return -1;
    out[used++] = '}';
    out[used] = '\0';
    return 0;
}

int booking_array_parse(const char *text, int *out, int max)
{
    const char *p = text;
    int n = 0;

    if (!p || *p++ != '{')
        return -1;
    if (*p == '}')
        return p[1] == '\0' ? 0 : -1;
    for (;;) {
        char *end;
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno || v < INT_MIN || v > INT_MAX || n == max)
            return -1;
        out[n++] = (int)v;
        p = end;
        if (*p == '}')
            return p[1] == '\0' ? n : -1;
        if (*p++ != ',')
            return -1;
    }
}

void booking_user_read(struct request *r, const char *sql)
{
    char user[37];
    const char *param = user;
    PGresult *res;
    db_rc rc;

    if (session_require_user(r, 0, user) < 0)
        return;
    rc = db_query(sql, 1, &param, &res);
    if (rc != DB_OK) {
        if (rc == DB_UNAVAILABLE)
            http_unavailable(r, "PostgreSQL");
        else
            http_internal_error(r);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        http_internal_error(r);
    else
        booking_send(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}
