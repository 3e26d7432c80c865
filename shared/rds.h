/* rds.h - Redis connections as contexts, and their Lua scripts.
 *
 * A `struct rds`, in the manner of hiredis's redisContext, carries one
 * connection, its settings (server or Sentinels, password, timeout) and the
 * last command's error; every operation takes one (the *_on functions). A
 * single-threaded responder needs just one: the process's default context
 * (rds_default), which the calls without a context use, so that the domain
 * code names no context. A program that needs a second connection (another
 * server, other settings) makes one with rds_new. Three kinds of server: one
 * Redis (host:port), a primary watched by Sentinels, or a Redis Cluster,
 * each command then sent to the primary of its key's slot.
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

/* What became of a context's last command, when it returned NULL (or an
 * error reply). */
enum rds_error {
    RDS_OK = 0,
    RDS_UNREACHABLE,    /* never sent: no connection could be made */
    RDS_REPLY_LOST,     /* sent, and its reply never came: it may have run
                         * (or may still run, late, if Redis was only slow) */
    RDS_SERVER_ERROR    /* Redis answered with an error: refused, not run
                         * (or a script that failed part way) */
};

struct rds;

/* A Lua script. The service's own are written in shared/lua/NAME.lua and
 * built into the programs as `struct rds_script lua_NAME` (shared/lua/
 * lua2c.sh); each C file that runs one declares it beside the code that
 * reads its reply. */
struct rds_script {
    const char *name;     /* for logs */
    const char *source;   /* Lua text */
    char sha[41];         /* filled on first load; the same on every server
                           * (the text's SHA-1), so contexts share it */
};

/* A script's text as Redis is given it: behind a "#!lua" line (see
 * rds_load in rds.c). For a script sent with EVAL rather than run by
 * rds_eval. Free it; NULL when out of memory (logged). */
char *rds_script_text(const struct rds_script *script);

/* A context for Redis at host:port (a host starting with '/' is a unix
 * socket), each command bounded by timeout_ms; it connects on first use.
 * NULL when out of memory (logged). Free it with rds_free. */
struct rds *rds_new(const char *host, int port, int timeout_ms);

/* Closes the context's connection and frees it (not the default's). */
void rds_free(struct rds *r);

/* Redis watched by Sentinel: every connection asks the Sentinels
 * ("host:port,...") for the primary named master_name and checks (ROLE)
 * that it is one; a lost connection or a READONLY answer (the server became
 * a replica) makes the next command ask again. password (or NULL) is sent
 * with AUTH to every server. Returns 0, or -1 out of memory. */
int rds_set_sentinels(struct rds *r, const char *sentinels, const char *master_name, const char *password);

/* Redis Cluster: every command goes to the primary owning its key's hash
 * slot, first learnt from any of nodes ("host:port,...") and kept up to
 * date through MOVED, ASK and failovers (rds_cluster.h says how, and which
 * argument is the key). password (or NULL) is sent with AUTH to every node.
 * The context keeps its timeout (set it first). Returns 0, or -1 out of
 * memory. */
int rds_set_cluster(struct rds *r, const char *nodes, const char *password);

/* Whether r routes over a cluster. */
int rds_cluster_mode(const struct rds *r);

/* How many replicas follow the primary r's last command went to, as far
 * as r knows: with Sentinels 1 (the pair's replica); on a cluster those
 * its map lists for the node that command's key lives on; else 0. A
 * WAIT sent next goes to that primary (rds_cluster.h) and can ask for
 * that many at most. rds_replicas_behind is the default context's. */
int rds_replicas_behind_on(const struct rds *r);
int rds_replicas_behind(void);

/* Runs one command given as an argument vector, sending it at most once.
 * Returns the reply (free with freeReplyObject) or NULL when Redis is
 * unreachable or its reply did not come in time (the command may then have
 * run); an error reply from Redis is logged and turned into NULL too. */
redisReply *rds_command_on(struct rds *r, int argc, const char **argv, const size_t *argvlen);

/* As rds_command_on, but an error reply from Redis comes back as it is (for
 * callers that act on its text, such as NOGROUP), not as NULL. */
redisReply *rds_command_reply_on(struct rds *r, int argc, const char **argv);

/* Sends n commands at once and reads their replies (one round trip for a
 * batch), each command at most once. replies[i] gets command i's reply,
 * error replies included (logged); a command whose reply did not come gets
 * NULL, as do all after it. Returns how many replies came (n when all did),
 * or -1 when nothing was sent. A READONLY reply makes the next command ask
 * for the primary again, as rds_command_on does. */
int rds_pipeline_on(struct rds *r, int n, const int *argc, const char **const *argv, redisReply **replies);

/* rds_pipeline for writes whose replies say only that they were done
 * (XADD, XACK, EVAL of a marker): 0 when every reply came and none was an
 * error, else -1 (what ran then is unknown). */
int rds_pipeline_ok(int n, const int *argc, const char **const *argv);

/* Runs a script with nkeys keys followed by the other arguments, at most
 * once (see above). Returns the reply or NULL as rds_command_on does. */
redisReply *rds_eval_on(struct rds *r, struct rds_script *script, int nkeys, int argc, const char **argv);

/* What became of the context's last command (or pipeline): RDS_OK when
 * every reply came and none was an error. Only RDS_REPLY_LOST leaves it
 * unknown whether Redis ran it. */
enum rds_error rds_last_error(const struct rds *r);

/* PING; 0 when Redis answers. */
int rds_ping_on(struct rds *r);

/* Closes the context's connection; the next command opens a new one. */
void rds_disconnect(struct rds *r);

/* The process's default context, and the calls that use it: the same as
 * their *_on namesakes (rds_set_sentinels, rds_set_cluster, rds_disconnect) given
 * rds_default(). rds_init sets its server; rds_reply_lost is
 * rds_last_error(rds_default()) == RDS_REPLY_LOST: the command was sent
 * and may have run. */
struct rds *rds_default(void);
void rds_init(const char *host, int port, int timeout_ms);
int rds_use_sentinels(const char *sentinels, const char *master_name, const char *password);
int rds_use_cluster(const char *nodes, const char *password);
redisReply *rds_command(int argc, const char **argv, const size_t *argvlen);
redisReply *rds_command_reply(int argc, const char **argv);
int rds_pipeline(int n, const int *argc, const char **const *argv, redisReply **replies);
redisReply *rds_eval(struct rds_script *script, int nkeys, int argc, const char **argv);
int rds_reply_lost(void);
int rds_ping(void);
void rds_close(void);

#endif
