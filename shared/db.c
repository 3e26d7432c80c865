/* db.c - lazy, self-healing libpq connection with a prepared-statement cache. */
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAX_PREPARED 64

static char *db_conninfo;
static PGconn *db_conn;
static const char *db_prepared[DB_MAX_PREPARED];
static int db_nprepared;

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
}

static int db_connect(void)
{
    if (db_conn && PQstatus(db_conn) == CONNECTION_OK)
        return 0;
    db_close();
    if (!db_conninfo)
        return -1;
    db_conn = PQconnectdb(db_conninfo);
    if (!db_conn) {
        log_error("postgres: out of memory");
        return -1;
    }
    if (PQstatus(db_conn) != CONNECTION_OK) {
        log_error("postgres: %s", PQerrorMessage(db_conn));
        db_close();
        return -1;
    }
    return 0;
}

/* Returns the cached statement name's index, preparing it when new. */
static int db_prepare(const char *sql, int nparams, char *name, size_t namelen)
{
    PGresult *res;

    for (int i = 0; i < db_nprepared; i++) {
        if (db_prepared[i] == sql) {
            snprintf(name, namelen, "s%d", i);
            return 0;
        }
    }
    if (db_nprepared == DB_MAX_PREPARED) {
        /* More distinct statements than expected: run unprepared. */
        name[0] = '\0';
        return 0;
    }
    snprintf(name, namelen, "s%d", db_nprepared);
    res = PQprepare(db_conn, name, sql, nparams, NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("postgres prepare: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(db_conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    db_prepared[db_nprepared++] = sql;
    return 0;
}

static db_rc db_try(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    char name[16];
    PGresult *res;
    ExecStatusType st;

    if (db_connect() < 0)
        return DB_UNAVAILABLE;
    if (db_prepare(sql, nparams, name, sizeof name) < 0)
        return PQstatus(db_conn) == CONNECTION_OK ? DB_FAILED : DB_UNAVAILABLE;
    if (name[0])
        res = PQexecPrepared(db_conn, name, nparams, params, NULL, NULL, 0);
    else
        res = PQexecParams(db_conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = res;
        return DB_OK;
    }
    if (PQstatus(db_conn) != CONNECTION_OK) {
        PQclear(res);
        return DB_UNAVAILABLE;
    }
    log_error("postgres: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(db_conn));
    /* The server's own shutdown or a lost connection is an outage, not a bug. */
    if (res) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0)) {
            PQclear(res);
            db_close();
            return DB_UNAVAILABLE;
        }
    }
    PQclear(res);
    return DB_FAILED;
}

db_rc db_query(const char *sql, int nparams, const char *const *params, PGresult **out)
{
    int had_connection = db_conn != NULL;
    db_rc rc;

    *out = NULL;
    rc = db_try(sql, nparams, params, out);
    if (rc == DB_UNAVAILABLE && had_connection) {
        /* The connection we had went bad (PostgreSQL restarted): one retry
         * on a new connection. */
        db_close();
        rc = db_try(sql, nparams, params, out);
    }
    return rc;
}

db_rc db_ping(void)
{
    PGresult *res;
    static const char sql[] = "SELECT 1";
    db_rc rc = db_query(sql, 0, NULL, &res);

    if (rc == DB_OK)
        PQclear(res);
    return rc;
}
