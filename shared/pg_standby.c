/* pg_standby.c - the primary's synchronous standby, read from the primary
 * itself: pg_auto_failover names the standby in synchronous_standby_names
 * in its `primary` state and empties it in `wait_primary` (and `single`);
 * one host never names one. Both are readable by the app's role, unlike
 * pg_stat_replication's sync_state. */
#include "pg_standby.h"

#include "db.h"

#include <stdlib.h>
#include <string.h>

int pg_standby_write_metrics(FILE *out)
{
    static const char sql[] = "SELECT (current_setting('synchronous_standby_names') <> '')::int,"
                              " (SELECT count(*) FROM pg_stat_replication)";
    PGresult *res;
    int rc = -1;

    if (db_read(sql, 0, NULL, &res) != DB_OK)
        return -1;
    if (PQntuples(res) == 1 && PQnfields(res) == 2) {
        fprintf(out,
                "# HELP concert_pg_synchronous_standby 1 when the PostgreSQL primary waits for a synchronous "
                "standby on commit (pg_auto_failover's primary); 0 when it commits alone (wait_primary: a second "
                "failure would lose commits; always 0 on one host).\n"
                "# TYPE concert_pg_synchronous_standby gauge\nconcert_pg_synchronous_standby %d\n"
                "# HELP concert_pg_standbys_connected Replication connections to the PostgreSQL primary.\n"
                "# TYPE concert_pg_standbys_connected gauge\nconcert_pg_standbys_connected %ld\n",
                atoi(PQgetvalue(res, 0, 0)) == 1, strtol(PQgetvalue(res, 0, 1), NULL, 10));
        rc = 0;
    }
    PQclear(res);
    return rc;
}
