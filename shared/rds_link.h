/* rds_link.h - the connection-level helpers rds.c and rds_cluster.c share
 * (not for the domain code: it goes through rds.h). One place opens a
 * connection, authenticates it and tells whether an idle one still works,
 * whether it serves a single server or one node of a cluster. */
#ifndef CONCERT_RDS_LINK_H
#define CONCERT_RDS_LINK_H

#include <hiredis/hiredis.h>
#include <sys/time.h>

/* A connection to host:port (a host starting with '/' is a unix socket)
 * with every command bounded by tv, or NULL (logged). */
redisContext *rds_link_open(const char *host, int port, struct timeval tv);

/* AUTH with password (nothing when it is NULL): 1 when accepted. */
int rds_link_auth(redisContext *c, const char *password);

/* Whether an idle connection can take a command: Redis sends nothing
 * between commands, so input waiting on it means the server closed it. */
int rds_link_usable(const redisContext *c);

/* The timeout of timeout_ms as hiredis takes it. */
struct timeval rds_link_timeout(int timeout_ms);

/* Monotonic milliseconds. */
long long rds_link_now_ms(void);

#endif
