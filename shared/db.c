/* db.c - lazy, self-healing libpq connection with a prepared-statement cache
 * that sends each statement at most once (see db.h). */
#include "db.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAX_PREPARED 64

static char *db_conninfo;
static PGconn *db_conn;
static const char *db_prepared[DB_MAX_PREPARED];
static int db_nprepared;
/* Set when the server sent an error while no statement was running: it says
 * why it is about to close the connection. */
static int db_server_closing;

void db_init(const char *conninfo)
{
    free(db_conninfo);
    db_conninfo = strdup(conninfo);
    if (!db_conninfo)
        log_error("db_init: out of memory");
}

void db_close(void)
{
    if (db_conn)
        PQfinish(db_conn);
    db_conn = NULL;
    db_nprepared = 0;
    db_server_closing = 0;
}

/* libpq's messages end in a newline; a log line must not. */
static int db_text_len(const char *message)
{
    size_t len = strlen(message);

    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    return len > INT_MAX ? INT_MAX : (int)len;
}

/* Every failed call passes here once: logged and counted (metrics.h). */
static void db_log_error(const char *what, const char *message)
{
    log_error("postgres%s: %.*s", what, db_text_len(message), message);
    metrics_store_error(METRICS_POSTGRES);
}

/* libpq passes notices here, and also an error that arrives while no
 * statement runs, which the server only sends just before it closes the
 * connection (shutdown, pg_terminate_backend, a crash elsewhere). A crash
 * of another backend is announced to every connection as a WARNING, not an
 * error ("terminating connection because of crash of another server
 * process", SQLSTATE 57P02), so class 57P (the server ending the session:
 * shutdown, crash, idle timeout) counts whatever its severity. */
static void db_notice(void *arg, const PGresult *res)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *message = PQresultErrorMessage(res);

    (void)arg;
    if (severity && (strcmp(severity, "ERROR") == 0 || strcmp(severity, "FATAL") == 0 ||
                     strcmp(severity, "PANIC") == 0))
        db_server_closing = 1;
    if (state && strncmp(state, "57P", 3) == 0)
        db_server_closing = 1;
    log_info("postgres: %.*s", db_text_len(message), message);
}

/* Whether the open connection can take a statement. Between statements a
 * healthy server sends nothing, so input waiting on the socket is the server
 * closing it: its last error message, or the end of the stream. Reading that
 * now, before sending, is what lets a statement go to a fresh connection
 * instead of into one that is already gone. */
static int db_idle_connection_usable(void)
{
    struct pollfd pfd;
    int ready;

    if (PQstatus(db_conn) != CONNECTION_OK || PQsocket(db_conn) < 0)
        return 0;
    pfd.fd = PQsocket(db_conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    do
        ready = poll(&pfd, 1, 0);
    while (ready < 0 && errno == EINTR);
    if (ready == 0)
        return 1;
    if (ready < 0)
        return 0;   /* cannot tell; a fresh connection is always safe */
    if (!PQconsumeInput(db_conn))
        return 0;
    (void)PQisBusy(db_conn);    /* parses what arrived, handing an error to db_notice */
    return !db_server_closing && PQstatus(db_conn) == CONNECTION_OK;
}

static int db_connect(void)
{
    if (db_conn && db_idle_connection_usable())
        return 0;
    if (db_conn)
        log_info("postgres: the server closed the idle connection; reconnecting");
    db_close();
    if (!db_conninfo)
        return -1;
    db_conn = PQconnectdb(db_conninfo);
    if (!db_conn) {
        log_error("postgres: out of memory");
        return -1;
    }
    if (PQstatus(db_conn) != CONNECTION_OK) {
        db_log_error("", PQerrorMessage(db_conn));
        db_close();
        return -1;
    }
    PQsetNoticeReceiver(db_conn, db_notice, NULL);
    return 0;
}

/* An error the server reported: the statement it was about stopped before it
 * completed, so it committed nothing. The server's own shutdown (57P) and a
 * connection failure it reports (08) are an outage, anything else a bug. */
static db_rc db_server_error(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    db_log_error("", PQresultErrorMessage(res));
    if (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0) {
        db_close();
        return DB_UNAVAILABLE;
    }
    if (PQstatus(db_conn) != CONNECTION_OK)
        db_close();
    return DB_FAILED;
}

/* Whether res is an error the server sent (every such error carries a
 * SQLSTATE), as opposed to one libpq made up because the connection broke. */
static int db_from_server(const PGresult *res)
{
    return res && PQresultStatus(res) == PGRES_FATAL_ERROR &&
           PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL;
}

/* Finds the statement's prepared name, preparing it when new. Preparing runs
 * nothing, so when the connection breaks here the statement was not run:
 * DB_UNAVAILABLE. */
static db_rc db_prepare(const char *sql, int nparams, char *name, size_t namelen)
{
    PGresult *res;
    db_rc rc;

    for (int i = 0; i < db_nprepared; i++) {
        if (db_prepared[i] == sql) {
            snprintf(name, namelen, "s%d", i);
            return DB_OK;
        }
    }
    if (db_nprepared == DB_MAX_PREPARED) {
        /* More distinct statements than expected: run unprepared. */
        name[0] = '\0';
        return DB_OK;
    }
    snprintf(name, namelen, "s%d", db_nprepared);
    res = PQprepare(db_conn, name, sql, nparams, NULL);
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        db_prepared[db_nprepared++] = sql;
        return DB_OK;
    }
    if (db_from_server(res) && PQstatus(db_conn) == CONNECTION_OK) {
        rc = db_server_error(res);
    } else {
        db_log_error(" prepare", res ? PQresultErrorMessage(res) : PQerrorMessage(db_conn));
        db_close();
        rc = DB_UNAVAILABLE;
    }
    PQclear(res);
    return rc;
}

/* Whether res, arriving after the statement's result, is the server refusing
 * the commit (a deferred check, a serialization failure): an ERROR on a
 * connection that stays up, after which nothing is committed. */
static int db_commit_refused(const PGresult *res)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    return db_from_server(res) && severity && strcmp(severity, "ERROR") == 0 &&
           PQstatus(db_conn) == CONNECTION_OK;
}

/* Sends the prepared statement once and reads everything the server answers.
 * One statement is one transaction, committed after the server has queued
 * the statement's result and before it says it is ready for the next one.
 * So an error before the result means nothing committed, the result followed
 * by "ready" means it committed, and a connection that breaks in between
 * leaves the commit unknown. */
static db_rc db_send(const char *sql, const char *name, int nparams, const char *const *params,
                     PGresult **out)
{
    PGresult *first = NULL, *after = NULL, *res;
    int sent;
    ExecStatusType st;
    db_rc rc;

    if (name[0])
        sent = PQsendQueryPrepared(db_conn, name, nparams, params, NULL, NULL, 0);
    else
        sent = PQsendQueryParams(db_conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!sent) {
        /* Part of it may have left before the failure. */
        db_log_error("", PQerrorMessage(db_conn));
        db_close();
        return DB_UNKNOWN;
    }
    while ((res = PQgetResult(db_conn)) != NULL) {
        if (!first)
            first = res;
        else if (!after)
            after = res;
        else
            PQclear(res);
    }
    st = first ? PQresultStatus(first) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (!after && PQstatus(db_conn) == CONNECTION_OK) {
            *out = first;
            return DB_OK;
        }
        PQclear(first);
        db_log_error("", after ? PQresultErrorMessage(after) : PQerrorMessage(db_conn));
        if (after && db_commit_refused(after)) {
            rc = DB_FAILED;
        } else {
            db_close();
            rc = DB_UNKNOWN;
        }
        PQclear(after);
        return rc;
    }
    PQclear(after);
    if (db_from_server(first)) {
        rc = db_server_error(first);
    } else if (st == PGRES_FATAL_ERROR) {
        /* libpq's own error: the connection broke before the answer. */
        db_log_error("", first ? PQresultErrorMessage(first) : PQerrorMessage(db_conn));
        db_close();
        rc = DB_UNKNOWN;
    } else {
        log_error("postgres: unexpected result %s", PQresStatus(st));
        rc = DB_FAILED;
    }
    PQclear(first);
    return rc;
}

db_rc db_query(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    char name[16];
    db_rc rc = DB_UNAVAILABLE;

    *out = NULL;
    /* Everything before the send runs nothing, so it may be done again: a
     * connection that broke while the statement was being prepared gets one
     * fresh successor. */
    for (int attempt = 0; attempt < 2 && rc == DB_UNAVAILABLE; attempt++) {
        if (db_connect() < 0)
            return DB_UNAVAILABLE;
        rc = db_prepare(sql, nparams, name, sizeof name);
        if (rc == DB_OK)
            return db_send(sql, name, nparams, params, out);
    }
    return rc;
}

db_rc db_read(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    db_rc rc = db_query(sql, nparams, params, out);

    if (rc == DB_UNKNOWN)
        rc = db_query(sql, nparams, params, out);
    return rc == DB_UNKNOWN ? DB_UNAVAILABLE : rc;
}

db_rc db_ping(void)
{
    PGresult *res;
    static const char sql[] = "SELECT 1";
    db_rc rc = db_read(sql, 0, NULL, &res);

    if (rc == DB_OK)
        PQclear(res);
    return rc;
}
