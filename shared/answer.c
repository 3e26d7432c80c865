/* answer.c - the edge's answers from what the domain decided: an outcome
 * word of outcome.c's table, a PostgreSQL call that failed, a JSON text
 * PostgreSQL built (see answer.h). */
#include "answer.h"
#include "db_replica.h"
#include "guard.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void refuse(struct request *r, const struct outcome *o, const char *detail)
{
    char *message;
    size_t size;

    if (!detail || !o->detail_label) {
        http_error(r, o->status, o->code, o->message);
        return;
    }
    size = strlen(o->message) + strlen(o->detail_label) + strlen(detail) + sizeof " ()";
    message = malloc(size);
    if (!message) {
        http_internal_error(r);
        return;
    }
    snprintf(message, size, "%s (%s%s)", o->message, o->detail_label, detail);
    http_error(r, o->status, o->code, message);
    free(message);
}

void answer_refusal(struct request *r, const char *word, const char *detail)
{
    const struct outcome *o = outcome_find(word);

    if (!o || !o->code) {
        log_error("answer_refusal: '%s' is no refusal", word ? word : "(null)");
        http_internal_error(r);
        return;
    }
    refuse(r, o, detail);
}

void answer_outcome(struct request *r, db_rc rc, const PGresult *res)
{
    const struct outcome *o;
    const char *word, *json;
    int len = 0;

    if (rc != DB_OK) {
        answer_db_failure(r, rc);
        return;
    }
    word = outcome_word(rc, res);
    if (!word) {
        log_error("a request function returned no outcome");
        http_internal_error(r);
        return;
    }
    o = outcome_find(word);
    if (!o) {
        log_error("unknown outcome '%s'", word);
        http_internal_error(r);
        return;
    }
    if (o->code) {
        refuse(r, o, outcome_column(res, "detail", NULL));
        return;
    }
    json = outcome_column(res, "body", &len);
    if (!json) {
        log_error("outcome '%s' came without its answer JSON", word);
        http_internal_error(r);
        return;
    }
    answer_pg_json(r, o->status, json, (size_t)len);
}

void answer_db_failure(struct request *r, db_rc rc)
{
    switch (rc) {
    case DB_UNAVAILABLE:
    case DB_UNKNOWN:
        http_unavailable(r, "PostgreSQL");
        break;
    case DB_FAILED:
    case DB_OK:   /* a caller's bug: there was nothing to fail */
    default:
        http_internal_error(r);
        break;
    }
}

void answer_pg_json(struct request *r, int status, const char *json, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    int in_string = 0;

    if (!out) {
        http_internal_error(r);
        return;
    }
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

PGresult *answer_user_rows(struct request *r, const char *sql, char user[37])
{
    const char *param = user;
    PGresult *res;
    db_rc rc;

    if (guard_session_user(r, 0, user) < 0)
        return NULL;
    rc = db_read_replica(sql, 1, &param, &res);
    if (rc != DB_OK) {
        answer_db_failure(r, rc);
        return NULL;
    }
    return res;
}

void answer_user_read(struct request *r, const char *sql)
{
    char user[37];
    PGresult *res = answer_user_rows(r, sql, user);

    if (!res)
        return;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        http_internal_error(r);
    else
        answer_pg_json(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}
