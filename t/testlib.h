/* testlib.h - what the HTTP tests share: a libcurl client for the real
 * nginx (or Apache) front, JSON look-ups, and direct PostgreSQL and Redis
 * connections for checking what the service really stored.
 *
 * The stack under test is named by the environment that ./dev test sets:
 *   CONCERT_BASE_URL   http://127.0.0.1:PORT of the front
 *   CONCERT_ADMIN_KEY  the admin key
 *   CONCERT_PG         libpq conninfo of the stack's database
 *   CONCERT_REDIS_PORT port of the stack's Redis on 127.0.0.1
 *   CONCERT_CONF       the stack's config file (for the session TTL)
 * A test calls t_init() first; without CONCERT_BASE_URL it skips itself.
 *
 * Users: t_user makes a user with a live session directly in the stores;
 * the helpers that act as a user (t_issue_token, the balance and list
 * requests) send that user's session, which t_session gives. */
#ifndef CONCERT_TESTLIB_H
#define CONCERT_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include <libpq-fe.h>

struct t_resp {
    long status;
    char *body;
    size_t len;
    struct json_object *json;   /* NULL when the body is not JSON */
    char content_type[128];
    char retry_after[32];
    char allow[128];
    char request_id[160];
};

/* Skips the whole test file (TAP 1..0) when no stack is configured. */
void t_init(void);
const char *t_base_url(void);
const char *t_admin_key(void);

/* One request. headers is a NULL-terminated list of "Name: value" strings
 * (may be NULL); body may be NULL. Returns 0, or -1 on a transport error
 * (status 0). Free with t_resp_free. */
int t_request(const char *method, const char *path, const char *const *headers,
              const char *body, struct t_resp *out);
/* The same from the loopback address `from` (127.x.y.z; NULL: the default,
 * 127.0.0.1), for what nginx counts per client address. */
int t_request_from(const char *from, const char *method, const char *path, const char *const *headers,
                   const char *body, struct t_resp *out);
void t_resp_free(struct t_resp *r);

/* Requests with an optional bearer token (NULL for none). */
int t_get(const char *path, const char *token, struct t_resp *out);
int t_post(const char *path, const char *token, const char *body, struct t_resp *out);
int t_delete(const char *path, const char *token, struct t_resp *out);

/* Sends one request (token: the bearer or NULL; body or NULL) and says
 * whether the answer is the contract's JSON error `status` with `code`;
 * when it is not, diags what came. For the test's own ok(). */
int t_answers_error(const char *method, const char *path, const char *token, const char *body, long status,
                    const char *code);

/* The same for the JSON 405 METHOD_NOT_ALLOWED whose Allow names `allow`. */
int t_answers_405(const char *method, const char *path, const char *token, const char *body, const char *allow);

/* Dotted look-ups into a JSON body: "error.code", "seats.3.status". */
struct json_object *t_json_at(struct json_object *root, const char *path);
const char *t_json_str(struct json_object *root, const char *path);
int64_t t_json_int(struct json_object *root, const char *path);   /* -1 when absent */
/* The error code of an error body, or "" */
const char *t_error_code(const struct t_resp *r);

/* A random version-4 UUID in canonical lowercase. */
void t_uuid(char out[37]);

/* An RFC 3339 UTC time `seconds` from now. */
void t_time_from_now(long seconds, char out[32]);

/* Creates a concert through the admin API with the given settings and
 * nschedules future shows of seat_count seats at price. Fills schedule_ids
 * (up to nschedules). Returns the concert id, or -1 (with a diag). */
int64_t t_create_concert(int active_limit, int active_seconds, int waiting_idle_seconds,
                         int hold_seconds, int nschedules, int seat_count, int64_t price,
                         int64_t *schedule_ids);

/* As t_create_concert, but the test cannot go on without it: bails out when
 * the admin API refuses. */
int64_t t_create_concert_or_bail(int active_limit, int active_seconds, int waiting_idle_seconds,
                                 int hold_seconds, int nschedules, int seat_count, int64_t price,
                                 int64_t *schedule_ids);

/* Creates a concert from a whole admin-API JSON body; fills up to n
 * schedule ids. Returns the concert id, or -1 (with a diag). */
int64_t t_create_concert_json(const char *body, int64_t *schedule_ids, int n);

/* Creates a concert of one show (5 seats) with activeLimit 1 and the given
 * waitingIdleSeconds that opens opens_in seconds from now; *opens gets
 * the opening's RFC 3339 text. Returns the concert id, or -1 (with a diag). */
int64_t t_create_opening_concert(long opens_in, int waiting_idle_seconds, char opens[32]);

/* Puts one seat into a state directly in PostgreSQL (AVAILABLE, HELD for
 * the interval held_for, or SOLD), for tests of readers of the seat map.
 * Returns 0, or -1 when no such seat. */
int t_set_seat(int64_t schedule_id, int seat_no, const char *status, const char *held_for);

/* Moves a show into the past (the admin API takes only shows to come):
 * starts_at becomes now() minus the interval ago ("1 day"). Returns 0, or
 * -1 when no such show. */
int t_move_show(int64_t schedule_id, const char *ago);

/* Makes a user directly in PostgreSQL and Redis, as sign-up plus login
 * would leave it but without their two Argon2id runs (tens of ms each; many
 * tests make hundreds of users): a users row, an accounts row with the
 * email "t-<userId>@example.test" and a fixed precomputed Argon2id hash of
 * T_USER_PASSWORD, and a session made as shared/session.c makes one (its
 * key derivation, the config file's session_ttl_seconds). Fills id; the
 * session is kept for t_session. Bails out when the stores refuse. The real
 * sign-up and login are tested through the front in t/11-t/14. */
#define T_USER_PASSWORD "concert-test-password"
void t_user(char id[37]);
/* As t_user, but returns -1 (quietly) when a store is down, for loads that
 * go on through an outage. */
int t_user_try(char id[37]);

/* Gives a user t_user made a new session (what logging in again gives),
 * after its session ended (Redis wiped, logout, TTL). Bails out on failure. */
void t_log_in_again(const char *user_id);

/* The session t_user made for user_id, or NULL for a user it did not make
 * (in this process or before the fork). */
const char *t_session(const char *user_id);

/* A request as the user t_user made (the user's session as the bearer). */
int t_get_as(const char *user_id, const char *path, struct t_resp *out);
int t_post_as(const char *user_id, const char *path, const char *body, struct t_resp *out);

/* Issues a queue token for (concert, user) with the user's session;
 * returns a malloc'd token or NULL. */
char *t_issue_token(int64_t concert_id, const char *user_id, struct t_resp *out);
/* Issues a token and requires it ACTIVE at once (the concert has room). */
char *t_active_token(int64_t concert_id, const char *user_id);

/* A new user (t_user) with an ACTIVE token for the concert: the token, or
 * NULL (with a diag) as t_active_token gives it. */
char *t_active_user(int64_t concert_id, char id[37]);
/* t_active_user for each pair (char id[37], char **token) of a list that
 * ends with NULL: 0 when every one got its ACTIVE token, else -1. */
int t_active_users(int64_t concert_id, ...) __attribute__((sentinel));
/* A new user with a token for the concert, WAITING or ACTIVE as the queue
 * has it: the token, or NULL. */
char *t_queued_user(int64_t concert_id, char id[37]);

/* Polls GET /api/v1/queue/status with the token: the status of a 200
 * ("ACTIVE", "WAITING"), else the error code ("" when none), in a static
 * buffer. *http gets the HTTP status; *position (unless NULL) the position,
 * -1 when absent. */
const char *t_poll(const char *token, long *http, int64_t *position);

/* Seconds since the epoch of an RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ", or -1. */
long long t_utc_seconds(const char *s);

/* Appends to found (cap bytes) " <path>" for each file under dir, searched
 * recursively, that holds needle: for tests that no secret reaches a log. */
void t_grep_logs(const char *dir, const char *needle, char *found, size_t cap);

/* Direct PostgreSQL: the first column of the first row as text (malloc'd),
 * or NULL. Parameters are passed separately, never spliced in. */
char *t_pg_value(const char *sql, int nparams, const char *const *params);
int64_t t_pg_int(const char *sql, int nparams, const char *const *params);
/* Closes that connection; the next query opens a new one. For tests that
 * restarted PostgreSQL, which closed it under them. */
void t_pg_reset(void);

/* For tests that call the library as a responder does: loads the stack's
 * config file (CONCERT_CONF) into g_config, whose keys sign and check queue
 * tokens. Bails out when it cannot. */
void t_use_config(void);

/* The id Redis keeps a queue token under (the token without its MAC,
 * shared/queue_token.h), in a static buffer. */
const char *t_token_id(const char *token);

/* GET /metrics with the admin key: the body (malloc'd, or NULL), its status
 * and (when content_type is not NULL) its Content-Type; and the value of the
 * sample whose name and labels are exactly series in such a text, or 0. */
char *t_metrics(long *status, char content_type[128]);
double t_metrics_sample(const char *text, const char *series);

/* The cron program: t_find_cron finds it (CONCERT_CRON, CONCERT_BUILD, or
 * beside the test binary argv0) for t_cron_path; t_run_cron runs it once
 * with conf as CONCERT_CONF (NULL: the stack's), its output in out, and
 * returns its exit status or -1. A test takes the program's lock
 * (T_CRON_LOCK) to keep runs away while it sets a scene: t_hold_cron_lock
 * waits out a run that holds it (0, or -1 after a minute), and
 * t_free_cron_lock gives it back (1 when it was still the test's). */
#define T_CRON_LOCK "concert:cron:lock"
void t_find_cron(const char *argv0);
const char *t_cron_path(void);
int t_run_cron(const char *conf, char *out, size_t cap);
int t_hold_cron_lock(const char *owner);
long long t_free_cron_lock(const char *owner);

/* Direct Redis: runs one command (argv form); returns the integer reply or
 * -1. With CONCERT_REDIS_CLUSTER ("host:port,...", set by a test on the
 * stack's three-primary cluster) the command is routed as the service
 * routes it (rds.h's cluster mode). */
long long t_redis_int(int argc, const char **argv);
/* Runs a command and returns 0 when Redis answered without error. */
int t_redis_cmd(int argc, const char **argv);
/* Runs a command and returns its reply (the caller frees it), or NULL. */
struct redisReply *t_redis(int argc, const char **argv);
/* The same, printing nothing when Redis does not answer (for polling). */
struct redisReply *t_redis_try(int argc, const char **argv);
/* A reply read as t_redis_int answers (its integer, or -1) and as
 * t_redis_cmd does (0 unless there is none or it is an error); each frees
 * the reply. */
long long t_reply_int(struct redisReply *reply);
int t_reply_cmd(struct redisReply *reply);
/* The tests' Lua: each script a file of t/lua/ (no C file holds one).
 * t_lua returns the text of t/lua/NAME.lua in the source tree the tests
 * were built from (malloc'd; bails out when it cannot be read).
 * t_redis_eval_file runs it with EVAL, given nkeys keys and then its
 * arguments, the list ended by NULL (at most 16 in all), and answers as
 * t_redis does; t_redis_eval_int as t_redis_int, t_redis_eval_cmd as
 * t_redis_cmd. */
char *t_lua(const char *name);
struct redisReply *t_redis_eval_file(const char *name, int nkeys, ...) __attribute__((sentinel));
#define t_redis_eval_int(...) t_reply_int(t_redis_eval_file(__VA_ARGS__))
#define t_redis_eval_cmd(...) t_reply_cmd(t_redis_eval_file(__VA_ARGS__))
/* A connection to the stack's Redis primary in MONITOR mode (bails out
 * when there is none), and the next command it reports (malloc'd), or NULL
 * once it has been quiet for quiet_ms. The caller redisFree()s it. */
struct redisContext *t_redis_monitor(void);
char *t_redis_monitor_line(struct redisContext *mon, int quiet_ms);

/* The test stack's three-primary Redis Cluster (CONCERT_CLUSTER_PORTS, on
 * 127.0.0.1), which the responders behind CONCERT_CLUSTER_URL use, or the
 * several-hosts stack's (CONCERT_HA_CLUSTER_NODES, "addr:port,...", every
 * node on a port of its own, with the stack's password). t_cluster_ports
 * fills ports and nodes ("host:port,...", for redis_cluster_nodes or
 * CONCERT_REDIS_CLUSTER) and returns how many (0: not on either stack);
 * a node is named by its port from then on. t_node runs one command on one node,
 * unrouted (NULL: no reply). t_cluster_owner is the port of the primary
 * owning slot, as the node on port sees it (-1: none). A slot is moved as
 * an operator moves it: t_cluster_move_begin (IMPORTING on the target,
 * MIGRATING on the source), t_cluster_move_keys (MIGRATE of up to max of
 * its keys still on the source; how many, 0 when none are left, -1 on an
 * error), t_cluster_move_end (SETSLOT NODE on every node); or all three in
 * t_cluster_move_slot, batch keys at a time, pause_ms between batches (the
 * keys moved, or -1). */
#define T_CLUSTER_MAX 8
int t_cluster_ports(int ports[T_CLUSTER_MAX], char nodes[256]);
struct redisReply *t_node(int port, int argc, const char **argv);
/* How many times the node at port has run command (lower case: "wait"),
 * by INFO commandstats; -1 when it does not answer. */
long t_node_calls(int port, const char *command);
int t_cluster_owner(int slot, int port);
int t_cluster_move_begin(int slot, int from_port, int to_port);
long t_cluster_move_keys(int slot, int from_port, int to_port, int max);
int t_cluster_move_end(int slot, int to_port, const int *ports, int nports);
long t_cluster_move_slot(int slot, int from_port, int to_port, const int *ports, int nports, int batch,
                         long pause_ms);

/* Runs fn(i, arg) in n child processes released together (a shared start
 * signal), and stores each child's return value in results[i] (through
 * shared memory, so any int). Returns 0 when every child ran to the end. */
int t_race(int n, int (*fn)(int i, void *arg), void *arg, int *results);

/* Reads /proc/PID/FILE, where pid is a /proc entry's name (anything but a
 * process's number gives -1), into buf: at most cap - 1 bytes and a NUL
 * after them (cmdline and environ keep their own NULs inside). The bytes
 * read, or -1 when it cannot be read (the process is gone). */
long t_proc_read(const char *pid, const char *file, char *buf, size_t cap);

/* How the statuses a race's children returned split: `won`, one of the
 * refusals refused1 and refused2 (0: none), or anything else. */
struct t_race_tally {
    int won, refused, other;
};
void t_tally_race(const int *results, int n, int won, int refused1, int refused2, struct t_race_tally *out);

/* Starts program in a child process with argv (NULL-terminated), its
 * standard output going to the file out, opened with mode ("w" or "a"), and
 * its standard error there too when stderr_too. The child's pid, or -1. */
pid_t t_spawn(const char *program, char *const argv[], const char *out, const char *mode, int stderr_too);

/* A loopback TCP port nobody listens on right now (bound, then released),
 * or 0 when none could be had. */
int t_unused_port(void);

/* Milliseconds sleep. */
void t_sleep_ms(long ms);

/* Seconds on the monotonic clock: differences time a wait. */
double t_now_s(void);

/* Set by a load that records its own transport errors (the fault tests'
 * clients): t_request then does not print them. */
extern int t_transport_quiet;

#endif
