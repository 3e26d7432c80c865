/* rds_link.h - the connection-level helpers rds.c and rds_cluster.c share
 * (not for the domain code: it goes through rds.h). One place opens a
 * connection, authenticates it and tells whether an idle one still works,
 * whether it serves a single server or one node of a cluster (rds.c); and
 * one rule orders the servers a client asks where the primary is, the
 * Sentinels or a cluster's nodes for its map (rds_link.c). */
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

/* A server a client asks: a Sentinel, a cluster's node. */
struct rds_link_addr {
    char host[256];
    int port;
};

/* One that did not answer is asked after the others for this long: on a
 * host cut off it costs a whole timeout, which the others can spare. So it
 * costs that only when no other answers, and is asked first again once
 * this has passed (its host may be back). */
#define RDS_LINK_SILENT_MS 10000
/* How many a client keeps as silent: a cluster's nodes and configured
 * addresses (a Sentinel client has fewer). One more is not remembered. */
#define RDS_LINK_SILENT_MAX 80

/* The servers that did not answer lately, and when; zeroed: none. */
struct rds_link_silent {
    struct {
        struct rds_link_addr addr;
        long long since_ms;
    } entry[RDS_LINK_SILENT_MAX];
    int n;
};

/* host:port did not answer (now), or it answered. */
void rds_link_note_silent(struct rds_link_silent *s, const char *host, int port);
void rds_link_note_answered(struct rds_link_silent *s, const char *host, int port);

/* Whether host:port did not answer within RDS_LINK_SILENT_MS. */
int rds_link_silent_lately(struct rds_link_silent *s, const char *host, int port);

/* The order to ask the n servers of addr in, into order (n indexes): from
 * index first on, wrapping around, those not silent lately, then in a
 * second pass, in the same order, those silent lately. */
void rds_link_ask_order(struct rds_link_silent *s, const struct rds_link_addr *addr, int n, int first, int *order);

#endif
