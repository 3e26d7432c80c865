/* users.c - the benchmark's users and their sessions (see users.h). */
#include "users.h"
#include "digest.h"
#include "keyspace.h"
#include "rand.h"
#include "slotmap.h"

#include <stdlib.h>
#include <string.h>

/* A version-4 UUID in its canonical lowercase form, and a session as
 * login makes one: 32 bytes from getrandom as 64 hex digits. */
static int new_user(struct bench_user *u)
{
    char h[33];

    if (rand_hex(h, 16) < 0 || rand_hex(u->session, 32) < 0)
        return -1;
    h[12] = '4';
    h[16] = "89ab"[h[16] % 4];
    snprintf(u->id, sizeof u->id, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    return 0;
}

/* The file a session's SET goes to: one for every key, or the file of the
 * node that owns the key (users_make_split). */
struct resp_target {
    FILE *one;
    const struct slotmap *map;
    FILE *const *by_node;
};

static FILE *resp_for(const struct resp_target *t, const char *key)
{
    return t->map ? t->by_node[slotmap_node(t->map, key, strlen(key))] : t->one;
}

static int make_users(const char *dir, const char *name, int count, long ttl_seconds, const struct resp_target *t)
{
    char path[4096], ttl[24], key[sizeof KEYSPACE_SESSION_PREFIX + DIGEST_HEX_LEN];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        return -1;
    snprintf(ttl, sizeof ttl, "%ld", ttl_seconds);
    for (int i = 0; i < count; i++) {
        struct bench_user u;
        char sum[DIGEST_HEX_LEN + 1];

        if (new_user(&u) < 0) {
            fclose(f);
            return -1;
        }
        digest_hex(u.session, strlen(u.session), sum);
        keyspace_session(key, sizeof key, sum);
        fprintf(f, "%s %s\n", u.id, u.session);
        fprintf(resp_for(t, key), "*5\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$2\r\nEX\r\n$%zu\r\n%s\r\n",
                strlen(key), key, strlen(u.id), u.id, strlen(ttl), ttl);
    }
    return fclose(f) != 0 ? -1 : 0;
}

int users_make(const char *dir, const char *name, int count, long ttl_seconds, FILE *resp)
{
    struct resp_target t = {resp, NULL, NULL};

    return make_users(dir, name, count, ttl_seconds, &t) < 0 || ferror(resp) ? -1 : 0;
}

int users_make_split(const char *dir, const char *name, int count, long ttl_seconds, const struct slotmap *map,
                     FILE *const *by_node)
{
    struct resp_target t = {NULL, map, by_node};
    int rc = make_users(dir, name, count, ttl_seconds, &t);

    for (int i = 0; i < map->nodes; i++)
        rc |= ferror(by_node[i]) ? -1 : 0;
    return rc < 0 ? -1 : 0;
}

int users_load(const char *dir, const char *name, struct bench_pool *pool)
{
    char path[4096], line[160];
    FILE *f;
    int cap = 1024;

    memset(pool, 0, sizeof *pool);
    pool->name = name;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    if (!f)
        return -1;
    pool->user = malloc(sizeof *pool->user * (size_t)cap);
    while (pool->user && fgets(line, sizeof line, f)) {
        struct bench_user *u;

        if (pool->count == cap) {
            struct bench_user *more = realloc(pool->user, sizeof *pool->user * (size_t)cap * 2);
            if (!more)
                break;
            pool->user = more;
            cap *= 2;
        }
        u = &pool->user[pool->count];
        if (sscanf(line, "%36s %64s", u->id, u->session) == 2 && strlen(u->id) == 36 && strlen(u->session) == 64)
            pool->count++;
    }
    fclose(f);
    return pool->user ? 0 : -1;
}

const struct bench_user *users_next(struct bench_pool *pool)
{
    return pool->next < pool->count ? &pool->user[pool->next++] : NULL;
}
