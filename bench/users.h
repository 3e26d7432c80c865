/* users.h - the benchmark's users, made straight in the stores.
 *
 * Tens of thousands of users cannot sign up and log in through the API in a
 * benchmark: each costs an Argon2id hash, so the run would measure little
 * else. Each user here is a fresh userId and a session as login makes one
 * (64 hex digits from getrandom), and Redis is given the session's key as
 * the responders look it up: session:<SHA-256 of the session> -> userId
 * (shared/session.h). PostgreSQL needs nothing: a user's row is made at its
 * first charge or hold. The login scenario measures real logins apart. */
#ifndef CONCERT_BENCH_USERS_H
#define CONCERT_BENCH_USERS_H

#include <stdio.h>

struct bench_user {
    char id[37];
    char session[65];
};

struct bench_pool {
    const char *name;
    struct bench_user *user;
    int count, next;
};

/* Makes count users into DIR/NAME ("userId session" a line) and appends
 * their Redis SET commands, in the protocol redis-cli --pipe reads, to
 * resp. The sessions live ttl_seconds. Returns 0, or -1 (getrandom, I/O). */
int users_make(const char *dir, const char *name, int count, long ttl_seconds, FILE *resp);

/* The same, each SET into by_node[i] for the node i of map that owns the
 * session's key (a cluster's sessions spread by their own keys). */
struct slotmap;
int users_make_split(const char *dir, const char *name, int count, long ttl_seconds, const struct slotmap *map,
                     FILE *const *by_node);

/* Reads DIR/NAME into pool. Returns 0, or -1 when it cannot be read. */
int users_load(const char *dir, const char *name, struct bench_pool *pool);

/* The next unused user of the pool, or NULL when it ran out. */
const struct bench_user *users_next(struct bench_pool *pool);

#endif
