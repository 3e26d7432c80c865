/* pg_standby.h - whether the PostgreSQL primary has its synchronous
 * standby, for GET /metrics: on several hosts, pg_auto_failover's
 * `wait_primary` (the standby lost, commits on one host only, so a second
 * failure loses them) should page someone. */
#ifndef CONCERT_PG_STANDBY_H
#define CONCERT_PG_STANDBY_H

#include <stdio.h>

/* Writes concert_pg_synchronous_standby and concert_pg_standbys_connected
 * as read from the primary. 0, or -1 (nothing written) when PostgreSQL did
 * not answer. */
int pg_standby_write_metrics(FILE *out);

#endif
