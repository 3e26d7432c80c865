/* rds.h - the process's one Redis connection and its Lua scripts.
 *
 * Like db.h: opened lazily, re-opened when Redis comes back, every command
 * bounded by a timeout so a hung Redis turns into a 503 rather than a stuck
 * responder. Scripts are loaded once and run with EVALSHA; when Redis has
 * forgotten them (restart, SCRIPT FLUSH) they are loaded again.
 *
 * A command is sent at most once. An idle connection Redis has closed
 * (restart, idle timeout) is noticed before sending and replaced; with
 * Sentinels, one idle for a second is first asked whether its server is
 * still the primary (one cut off the network closes nothing), and replaced
 * through the Sentinels if not. Once sent,
 * a reply that does not come (the timeout, a broken connection) leaves it
 * unknown whether Redis ran the command - a slow Redis runs it late - so it
 * is not sent again; the caller gets NULL and answers 503. The one exception
 * is a NOSCRIPT answer, which says the script did not run: it is loaded and
 * sent again. A caller whose command may have run without its knowing
 * (rds_reply_lost) undoes what it can, and every script must leave things
 * right when the client, told 503, asks again. */
#ifndef CONCERT_RDS_H
#define CONCERT_RDS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

/* A Lua script. The service's own are written in shared/lua/NAME.lua and
 * built into the programs as `struct rds_script lua_NAME` (shared/lua/
 * lua2c.sh); each C file that runs one declares it beside the code that
 * reads its reply. */
struct rds_script {
    const char *name;     /* for logs */
    const char *source;   /* Lua text */
    char sha[41];         /* filled on first load */
};

/* A script's text as Redis is given it: behind a "#!lua" line (see
 * rds_load in rds.c). For a script sent with EVAL rather than run by
 * rds_eval. Free it; NULL when out of memory (logged). */
char *rds_script_text(const struct rds_script *script);

void rds_init(const char *host, int port, int timeout_ms);

/* Redis watched by Sentinel: every connection asks the Sentinels
 * ("host:port,...") for the primary named master_name and checks (ROLE)
 * that it is one; a lost connection or a READONLY answer (the server became
 * a replica) makes the next command ask again. password (or NULL) is sent
 * with AUTH to every server. Returns 0, or -1 out of memory. */
int rds_use_sentinels(const char *sentinels, const char *master_name, const char *password);

/* Runs one command given as an argument vector, sending it at most once.
 * Returns the reply (free with freeReplyObject) or NULL when Redis is
 * unreachable or its reply did not come in time (the command may then have
 * run); an error reply from Redis is logged and turned into NULL too. */
redisReply *rds_command(int argc, const char **argv, const size_t *argvlen);

/* As rds_command, but an error reply from Redis comes back as it is (for
 * callers that act on its text, such as NOGROUP), not as NULL. */
redisReply *rds_command_reply(int argc, const char **argv);

/* Sends n commands at once and reads their replies (one round trip for a
 * batch), each command at most once. replies[i] gets command i's reply,
 * error replies included (logged); a command whose reply did not come gets
 * NULL, as do all after it. Returns how many replies came (n when all did),
 * or -1 when nothing was sent. A READONLY reply makes the next command ask
 * for the primary again, as rds_command does. */
int rds_pipeline(int n, const int *argc, const char **const *argv, redisReply **replies);

/* rds_pipeline for writes whose replies say only that they were done
 * (XADD, XACK, EVAL of a marker): 0 when every reply came and none was an
 * error, else -1 (what ran then is unknown). */
int rds_pipeline_ok(int n, const int *argc, const char **const *argv);

/* Runs a script with nkeys keys followed by the other arguments, at most
 * once (see above). Returns the reply or NULL as rds_command does. */
redisReply *rds_eval(struct rds_script *script, int nkeys, int argc, const char **argv);

/* After rds_command or rds_eval returned NULL: 1 when the command was sent
 * and its reply never came, so it may have run (or may still run, late, if
 * Redis was only slow); 0 when it never reached Redis or Redis refused it. */
int rds_reply_lost(void);

/* PING; 0 when Redis answers. */
int rds_ping(void);

void rds_close(void);

#endif
