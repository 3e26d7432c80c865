/* db.c - lazy, self-healing libpq connections, each a context with its own
 * prepared-statement cache, that send each statement at most once; and the
 * transactions and notifications of a program that needs them (see db.h). */
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "text_copy.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAX_PREPARED 64

struct db {
    char *conninfo;
    char *session_sql;     /* run on every new connection (db_set_session) */
    PGconn *conn;
    const char *prepared[DB_MAX_PREPARED];
    int nprepared;
    /* Set when the server sent an error while no statement was running: it
     * says why it is about to close the connection. */
    int server_closing;
    /* Inside BEGIN .. COMMIT: a lost connection took the transaction with
     * it, so no statement may go to a fresh one until it is ended. */
    int in_tx;
    /* db_log_outage_once: whether failed connections are logged once an
     * outage, and whether this outage's was. */
    int log_outage_once;
    int outage_logged;
    db_rc last;            /* db_last_outcome */
};

/* The responders' one connection: a single-threaded process needs no more. */
static struct db db_the_default;

struct db *db_default(void)
{
    return &db_the_default;
}

void db_init(const char *conninfo)
{
    text_copy_into(&db_the_default.conninfo, conninfo);
}

struct db *db_open(const char *conninfo)
{
    struct db *db = calloc(1, sizeof *db);

    if (!db || text_copy_into(&db->conninfo, conninfo) < 0) {
        if (!db)
            log_error("postgres: out of memory");
        free(db);
        return NULL;
    }
    return db;
}

int db_set_session(struct db *db, const char *session_sql)
{
    return text_copy_into(&db->session_sql, session_sql);
}

void db_log_outage_once(struct db *db)
{
    db->log_outage_once = 1;
}

/* Drops the connection (and what was prepared on it); a transaction it
 * held stays open, to be ended by db_commit or db_rollback. */
static void db_drop(struct db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->nprepared = 0;
    db->server_closing = 0;
}

void db_disconnect(struct db *db)
{
    db_drop(db);
    db->in_tx = 0;
}

void db_free(struct db *db)
{
    if (db) {
        db_disconnect(db);
        free(db->conninfo);
        free(db->session_sql);
    }
    free(db);
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
    struct db *db = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *message = PQresultErrorMessage(res);

    if (severity && (strcmp(severity, "ERROR") == 0 || strcmp(severity, "FATAL") == 0 ||
                     strcmp(severity, "PANIC") == 0))
        db->server_closing = 1;
    if (state && strncmp(state, "57P", 3) == 0)
        db->server_closing = 1;
    log_info("postgres: %.*s", db_text_len(message), message);
}

/* Whether the open connection can take a statement. Between statements a
 * healthy server sends nothing, so input waiting on the socket is the server
 * closing it: its last error message, or the end of the stream. Reading that
 * now, before sending, is what lets a statement go to a fresh connection
 * instead of into one that is already gone. A NOTIFY (db_wait_notify) is
 * the one message that comes unasked: it is parsed and kept for later. */
static int db_idle_connection_usable(struct db *db)
{
    struct pollfd pfd;
    int ready;

    if (PQstatus(db->conn) != CONNECTION_OK || PQsocket(db->conn) < 0)
        return 0;
    pfd.fd = PQsocket(db->conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    do
        ready = poll(&pfd, 1, 0);
    while (ready < 0 && errno == EINTR);
    if (ready == 0)
        return 1;
    if (ready < 0)
        return 0;   /* cannot tell; a fresh connection is always safe */
    if (!PQconsumeInput(db->conn))
        return 0;
    (void)PQisBusy(db->conn);    /* parses what arrived, handing an error to db_notice */
    return !db->server_closing && PQstatus(db->conn) == CONNECTION_OK;
}

/* A connection that could not be made, or whose session statements failed:
 * logged every time, or only the first time of an outage. */
static void db_connect_failed(struct db *db, const char *what, const char *message)
{
    if (!db->log_outage_once || !db->outage_logged)
        db_log_error(what, message);
    else
        metrics_store_error(METRICS_POSTGRES);
    db->outage_logged = 1;
    db_drop(db);
}

static int db_open_connection(struct db *db)
{
    PGresult *res;

    db->conn = PQconnectdb(db->conninfo);
    if (!db->conn) {
        log_error("postgres: out of memory");
        return -1;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_connect_failed(db, "", PQerrorMessage(db->conn));
        return -1;
    }
    PQsetNoticeReceiver(db->conn, db_notice, db);
    if (db->session_sql) {
        /* The program's own fixed text (db_set_session), no input in it. */
        res = PQexec(db->conn, db->session_sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            db_connect_failed(db, " session", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
            PQclear(res);
            return -1;
        }
        PQclear(res);
    }
    if (db->outage_logged && db->log_outage_once)
        log_info("postgres: reachable again");
    db->outage_logged = 0;
    return 0;
}

static int db_connect(struct db *db)
{
    if (db->conn && db_idle_connection_usable(db))
        return 0;
    if (db->conn && db->in_tx)
        log_error("postgres: the connection closed inside a transaction, which ended with it");
    else if (db->conn)
        log_info("postgres: the server closed the idle connection; reconnecting");
    db_drop(db);
    if (db->in_tx || !db->conninfo)
        return -1;
    return db_open_connection(db);
}

/* An error the server reported: the statement it was about stopped before it
 * completed, so it committed nothing. The server's own shutdown (57P) and a
 * connection failure it reports (08) are an outage, anything else a bug. */
static db_rc db_server_error(struct db *db, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    db_log_error("", PQresultErrorMessage(res));
    if (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0) {
        db_drop(db);
        return DB_UNAVAILABLE;
    }
    if (PQstatus(db->conn) != CONNECTION_OK)
        db_drop(db);
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
static db_rc db_prepare(struct db *db, const char *sql, int nparams, char *name, size_t namelen)
{
    PGresult *res;
    db_rc rc;

    for (int i = 0; i < db->nprepared; i++) {
        if (db->prepared[i] == sql) {
            snprintf(name, namelen, "s%d", i);
            return DB_OK;
        }
    }
    if (db->nprepared == DB_MAX_PREPARED) {
        /* More distinct statements than expected: run unprepared. */
        name[0] = '\0';
        return DB_OK;
    }
    snprintf(name, namelen, "s%d", db->nprepared);
    res = PQprepare(db->conn, name, sql, nparams, NULL);
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        db->prepared[db->nprepared++] = sql;
        return DB_OK;
    }
    if (db_from_server(res) && PQstatus(db->conn) == CONNECTION_OK) {
        rc = db_server_error(db, res);
    } else {
        db_log_error(" prepare", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
        db_drop(db);
        rc = DB_UNAVAILABLE;
    }
    PQclear(res);
    return rc;
}

/* Whether res, arriving after the statement's result, is the server refusing
 * the commit (a deferred check, a serialization failure): an ERROR on a
 * connection that stays up, after which nothing is committed. */
static int db_commit_refused(const struct db *db, const PGresult *res)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    return db_from_server(res) && severity && strcmp(severity, "ERROR") == 0 &&
           PQstatus(db->conn) == CONNECTION_OK;
}

/* Sends the prepared statement once and reads everything the server answers.
 * One statement is one transaction, committed after the server has queued
 * the statement's result and before it says it is ready for the next one.
 * So an error before the result means nothing committed, the result followed
 * by "ready" means it committed, and a connection that breaks in between
 * leaves the commit unknown. */
static db_rc db_send(struct db *db, const char *sql, const char *name, int nparams, const char *const *params,
                     PGresult **out)
{
    PGresult *first = NULL, *after = NULL, *res;
    int sent;
    ExecStatusType st;
    db_rc rc;

    if (name[0])
        sent = PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
    else
        sent = PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!sent) {
        /* Part of it may have left before the failure. */
        db_log_error("", PQerrorMessage(db->conn));
        db_drop(db);
        return DB_UNKNOWN;
    }
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (!first)
            first = res;
        else if (!after)
            after = res;
        else
            PQclear(res);
    }
    st = first ? PQresultStatus(first) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (!after && PQstatus(db->conn) == CONNECTION_OK) {
            *out = first;
            return DB_OK;
        }
        PQclear(first);
        db_log_error("", after ? PQresultErrorMessage(after) : PQerrorMessage(db->conn));
        if (after && db_commit_refused(db, after)) {
            rc = DB_FAILED;
        } else {
            db_drop(db);
            rc = DB_UNKNOWN;
        }
        PQclear(after);
        return rc;
    }
    PQclear(after);
    if (db_from_server(first)) {
        rc = db_server_error(db, first);
    } else if (st == PGRES_FATAL_ERROR) {
        /* libpq's own error: the connection broke before the answer. */
        db_log_error("", first ? PQresultErrorMessage(first) : PQerrorMessage(db->conn));
        db_drop(db);
        rc = DB_UNKNOWN;
    } else {
        log_error("postgres: unexpected result %s", PQresStatus(st));
        rc = DB_FAILED;
    }
    PQclear(first);
    return rc;
}

db_rc db_query_on(struct db *db, const char *sql, int nparams, const char *const *params, PGresult **out)
{
    char name[16];
    db_rc rc = DB_UNAVAILABLE;

    *out = NULL;
    /* Everything before the send runs nothing, so it may be done again: a
     * connection that broke while the statement was being prepared gets one
     * fresh successor (outside a transaction: db_connect). */
    for (int attempt = 0; attempt < 2 && rc == DB_UNAVAILABLE; attempt++) {
        if (db_connect(db) < 0)
            break;
        rc = db_prepare(db, sql, nparams, name, sizeof name);
        if (rc == DB_OK) {
            rc = db_send(db, sql, name, nparams, params, out);
            break;
        }
    }
    db->last = rc;
    return rc;
}

db_rc db_read_on(struct db *db, const char *sql, int nparams, const char *const *params, PGresult **out)
{
    db_rc rc = db_query_on(db, sql, nparams, params, out);

    if (rc == DB_UNKNOWN)
        rc = db_query_on(db, sql, nparams, params, out);
    db->last = rc == DB_UNKNOWN ? DB_UNAVAILABLE : rc;
    return db->last;
}

db_rc db_ping_on(struct db *db)
{
    PGresult *res;
    static const char sql[] = "SELECT 1";
    db_rc rc = db_read_on(db, sql, 0, NULL, &res);

    if (rc == DB_OK)
        PQclear(res);
    return rc;
}

db_rc db_last_outcome(const struct db *db)
{
    return db->last;
}

db_rc db_connect_now(struct db *db)
{
    return db_connect(db) < 0 ? DB_UNAVAILABLE : DB_OK;
}

int db_in_recovery(struct db *db)
{
    const char *standby;

    if (db_connect(db) < 0)
        return -1;
    /* in_hot_standby is reported at connection and again when it changes. */
    standby = PQparameterStatus(db->conn, "in_hot_standby");
    return !standby || strcmp(standby, "off") != 0;
}

/* BEGIN, COMMIT or ROLLBACK, sent once, unprepared; *tag gets the server's
 * command tag (COMMIT of a failed transaction answers ROLLBACK). */
static db_rc db_tx_statement(struct db *db, const char *sql, char *tag, size_t tagcap)
{
    PGresult *res = NULL;
    db_rc rc;

    tag[0] = '\0';
    if (db_connect(db) < 0)
        return DB_UNAVAILABLE;
    rc = db_send(db, sql, "", 0, NULL, &res);
    if (rc == DB_OK)
        snprintf(tag, tagcap, "%s", PQcmdStatus(res));
    PQclear(res);
    return rc;
}

db_rc db_begin(struct db *db)
{
    char tag[16];
    db_rc rc;

    if (db->in_tx) {
        log_error("postgres: BEGIN inside a transaction");
        return db->last = DB_FAILED;
    }
    rc = db_tx_statement(db, "BEGIN", tag, sizeof tag);
    /* A BEGIN whose answer was lost went with its connection: no
     * transaction is open, nothing was done. */
    if (rc == DB_UNKNOWN)
        rc = DB_UNAVAILABLE;
    db->in_tx = rc == DB_OK;
    return db->last = rc;
}

db_rc db_commit(struct db *db)
{
    char tag[16];
    db_rc rc;

    if (!db->in_tx) {
        log_error("postgres: COMMIT outside a transaction");
        return db->last = DB_FAILED;
    }
    rc = db_tx_statement(db, "COMMIT", tag, sizeof tag);
    if (rc == DB_OK && strcmp(tag, "COMMIT") != 0) {
        /* A statement of the transaction failed: the server rolled it back. */
        log_error("postgres: COMMIT of a failed transaction rolled it back");
        rc = DB_FAILED;
    }
    db->in_tx = 0;
    return db->last = rc;
}

void db_rollback(struct db *db)
{
    char tag[16];

    if (!db->in_tx)
        return;
    /* Without its connection the transaction is over already. */
    if (db->conn && db_tx_statement(db, "ROLLBACK", tag, sizeof tag) != DB_OK)
        db_drop(db);
    db->in_tx = 0;
}

static int db_take_notifications(struct db *db)
{
    PGnotify *note;
    int n = 0;

    while ((note = PQnotifies(db->conn)) != NULL) {
        PQfreemem(note);
        n++;
    }
    return n;
}

int db_wait_notify(struct db *db, int timeout_ms)
{
    struct pollfd p;
    int n;

    if (!db->conn || PQsocket(db->conn) < 0) {
        poll(NULL, 0, timeout_ms);
        return -1;
    }
    /* A NOTIFY that came with the answer to the last statement was read then
     * and waits in libpq, not on the socket: poll would sleep through it. */
    n = db_take_notifications(db);
    if (n > 0)
        return n;
    p.fd = PQsocket(db->conn);
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
        log_error("poll: %s", strerror(errno));
    if (!PQconsumeInput(db->conn)) {
        db_log_error(" connection lost", PQerrorMessage(db->conn));
        db_drop(db);
        return -1;
    }
    return db_take_notifications(db);
}

/* The default connection's calls, as the responders make them. */

db_rc db_query(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    return db_query_on(&db_the_default, sql, nparams, params, out);
}

db_rc db_read(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    return db_read_on(&db_the_default, sql, nparams, params, out);
}

db_rc db_ping(void)
{
    return db_ping_on(&db_the_default);
}

void db_close(void)
{
    db_disconnect(&db_the_default);
}
