/* rds_cluster.h - routing commands over a Redis Cluster, for rds.c's cluster
 * mode (Debian's hiredis 0.14 has no cluster client).
 *
 * A command goes to the primary that owns the hash slot of its key: the
 * CRC16 (XMODEM) of the key's hash tag (the part in the first braces, when
 * not empty; else the whole key) modulo 16384, as the Redis Cluster spec
 * says. The map from slots to primaries comes from CLUSTER SLOTS, asked of
 * any node that answers (the configured ones to begin with); one connection
 * per primary is opened on first use.
 *
 * The at-most-once rule of rds.h holds here too: a command whose reply did
 * not come is never sent again (RDS_REPLY_LOST), and the map is asked for
 * again before the next one (a lost primary is how a failover starts). The
 * replies that say the command did not run are followed, within the
 * context's timeout:
 *   MOVED slot host:port   the slot lives there now: the map is updated
 *                          and asked for again, and the command goes there;
 *   ASK slot host:port     the slot is being moved and this key has gone:
 *                          ASKING, then the command, there, once; the map
 *                          is not changed;
 *   TRYAGAIN, CLUSTERDOWN  a multi-key command during a move, or a cluster
 *                          without a quorum or failing over: after a pause
 *                          (and a new map) it is sent again.
 * A connection that cannot be opened also makes the map be asked for again
 * (the primary may have been replaced), and the command, not sent, goes
 * where the new map says. The map is asked of the known primaries, then
 * of the configured nodes, each address once, those that did not answer
 * in the last ten seconds last, and the whole refresh within the
 * context's timeout: a host cut off, with its nodes listed, costs one
 * timeout now and then rather than one per node on every refresh. A
 * connection idle for a second makes the map be asked for before a
 * command goes on it: a primary cut off the network closes nothing, and
 * its replica may have been promoted meanwhile.
 *
 * Which argument is the key: EVAL and EVALSHA, their first key (a script's
 * keys share a hash tag: keyspace.h); XREAD and XREADGROUP, the first
 * stream; commands without a key (PING, WAIT, SCRIPT LOAD) go to the node
 * the last command went to, so that a WAIT follows its write and a script
 * is loaded where NOSCRIPT was answered; otherwise argv[1]. SCAN walks every
 * primary in turn: its cursor carries the primary's place in the walk. */
#ifndef CONCERT_RDS_CLUSTER_H
#define CONCERT_RDS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "rds.h"

#define RDS_CLUSTER_SLOTS 16384

struct rds_cluster;

/* CRC16 of len bytes, the XMODEM variant (polynomial 0x1021, start 0). */
uint16_t rds_cluster_crc16(const char *buf, size_t len);

/* The hash slot of a key of len bytes (its hash tag's, when it has one). */
int rds_cluster_key_slot(const char *key, size_t len);

/* A cluster reached first through nodes ("host:port,...", as config.c has
 * checked it), password (or NULL) sent with AUTH to every node, each
 * command bounded by timeout_ms. Nothing is opened yet. NULL when out of
 * memory (logged). */
struct rds_cluster *rds_cluster_new(const char *nodes, const char *password, int timeout_ms);

void rds_cluster_free(struct rds_cluster *c);

/* Closes every connection; the map stays. */
void rds_cluster_disconnect(struct rds_cluster *c);

/* Runs one command where its key lives, following redirections (above).
 * Returns the reply (error replies included) or NULL, with *err saying
 * what became of it as rds_last_error does. */
redisReply *rds_cluster_run(struct rds_cluster *c, int argc, const char **argv, const size_t *argvlen,
                            enum rds_error *err);

/* How many replicas the map lists for the primary the last command went
 * to (0 when none, or no command has gone yet): what a WAIT sent next,
 * which goes to that primary, can count on. */
int rds_cluster_last_replicas(const struct rds_cluster *c);

#endif
