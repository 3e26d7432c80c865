/* users.c - the benchmark's users and their sessions (see users.h). */
#include "users.h"
#include "digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int random_bytes(unsigned char *out, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t got = getrandom(out + done, n - done, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)got;
    }
    return 0;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A version-4 UUID in its canonical lowercase form. */
static int new_user(struct bench_user *u)
{
    unsigned char b[16 + 32];
    char h[33];

    if (random_bytes(b, sizeof b) < 0)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    hex(b, 16, h);
    snprintf(u->id, sizeof u->id, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    hex(b + 16, 32, u->session);
    return 0;
}

int users_make(const char *dir, const char *name, int count, long ttl_seconds, FILE *resp)
{
    char path[4096], ttl[24], key[sizeof "session:" + DIGEST_HEX_LEN];
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
        snprintf(key, sizeof key, "session:%s", sum);
        fprintf(f, "%s %s\n", u.id, u.session);
        fprintf(resp, "*5\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$2\r\nEX\r\n$%zu\r\n%s\r\n",
                strlen(key), key, strlen(u.id), u.id, strlen(ttl), ttl);
    }
    if (fclose(f) != 0 || ferror(resp))
        return -1;
    return 0;
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
