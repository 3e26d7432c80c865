/* rds.h - the process's one Redis connection and its Lua scripts.
 *
 * Like db.h: opened lazily, re-opened when Redis comes back, every command
 * bounded by a timeout so a hung Redis turns into a 503 rather than a stuck
 * responder. Scripts are loaded once and run with EVALSHA; when Redis has
 * forgotten them (restart, SCRIPT FLUSH) they are loaded again. */
#ifndef CONCERT_RDS_H
#define CONCERT_RDS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct rds_script {
    const char *name;     /* for logs */
    const char *source;   /* Lua text */
    char sha[41];         /* filled on first load */
};

void rds_init(const char *host, int port, int timeout_ms);

/* Runs one command given as an argument vector. Returns the reply (free with
 * freeReplyObject) or NULL when Redis is unreachable; an error reply from
 * Redis is logged and turned into NULL too. */
redisReply *rds_command(int argc, const char **argv, const size_t *argvlen);

/* Runs a script with nkeys keys followed by the other arguments.
 * Returns the reply or NULL as rds_command does. */
redisReply *rds_eval(struct rds_script *script, int nkeys, int argc, const char **argv);

/* PING; 0 when Redis answers. */
int rds_ping(void);

void rds_close(void);

#endif
