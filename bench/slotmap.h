/* slotmap.h - which Redis node owns a key, for the bench's cluster drop.
 *
 * The bench puts its users' sessions straight into Redis (users.h) and
 * makes concerts until each primary of a cluster owns one: both need the
 * node of a key before any responder routes to it. The map is a file
 * bench/run writes from CLUSTER NODES, a line per slot range:
 * "FIRST LAST PORT" (a single Redis is "0 16383 PORT"). The slot of a key
 * is the routing's own (rds_cluster_key_slot), so the bench and the
 * responders cannot disagree. */
#ifndef CONCERT_BENCH_SLOTMAP_H
#define CONCERT_BENCH_SLOTMAP_H

#include <stddef.h>

#define SLOTMAP_MAX_NODES 16

struct slotmap {
    int owner[16384];                /* index into port[], -1 when unowned */
    int port[SLOTMAP_MAX_NODES];
    int nodes;
};

/* Reads DIR/NAME. Returns 0 when every slot has an owner, else -1 (with
 * why on stderr). */
int slotmap_load(const char *dir, const char *name, struct slotmap *map);

/* The index (into map->port) of the node that owns key. */
int slotmap_node(const struct slotmap *map, const char *key, size_t len);

#endif
