/* slotmap.c - which Redis node owns a key (see slotmap.h). */
#include "slotmap.h"
#include "rds_cluster.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int node_index(struct slotmap *map, int port)
{
    for (int i = 0; i < map->nodes; i++)
        if (map->port[i] == port)
            return i;
    if (map->nodes == SLOTMAP_MAX_NODES)
        return -1;
    map->port[map->nodes] = port;
    return map->nodes++;
}

int slotmap_load(const char *dir, const char *name, struct slotmap *map)
{
    char path[4096], line[128];
    FILE *f;
    int bad = 0;

    memset(map, 0, sizeof *map);
    for (int s = 0; s < RDS_CLUSTER_SLOTS; s++)
        map->owner[s] = -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "concert-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        int first, last, port, node;

        if (sscanf(line, "%d %d %d", &first, &last, &port) != 3 || first < 0 || last < first ||
            last >= RDS_CLUSTER_SLOTS || port < 1 || port > 65535 || (node = node_index(map, port)) < 0) {
            bad = 1;
            break;
        }
        for (int s = first; s <= last; s++)
            map->owner[s] = node;
    }
    fclose(f);
    for (int s = 0; s < RDS_CLUSTER_SLOTS && !bad; s++)
        bad = map->owner[s] < 0;
    if (bad)
        fprintf(stderr, "concert-bench: %s: not a map of every slot (\"FIRST LAST PORT\" lines)\n", path);
    return bad ? -1 : 0;
}

int slotmap_node(const struct slotmap *map, const char *key, size_t len)
{
    return map->owner[rds_cluster_key_slot(key, len)];
}
