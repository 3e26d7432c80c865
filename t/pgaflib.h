/* pgaflib.h - a pg_auto_failover formation on loopback ports (t/pgaf.sh)
 * for the C tests that need a primary and its synchronous standby (t/2h,
 * t/2q): the checks that skip a test without one, its folder, and
 * t/pgaf.sh's commands, run as the app user when the test runs as root
 * (PostgreSQL refuses root). */
#ifndef CONCERT_T_PGAFLIB_H
#define CONCERT_T_PGAFLIB_H

#include <stddef.h>

struct pgaf {
    char dir[128];
    char script[512];
    char as_user[256];   /* "setpriv ... " as root, else "" */
    int monitor_port;
    int ports[2];        /* node1's and node2's */
};

/* Prints the skip plan and exits when pg_autoctl is not installed, or when
 * running as root with no CONCERT_RUN_AS user; else t_init() and makes the
 * formation's folder (named after tag). Call instead of t_init(). */
void pgaf_init(struct pgaf *f, const char *tag);

/* Runs `t/pgaf.sh CMD DIR REST` (REST printf-style, may be ""); its first
 * output line goes into out (when not NULL). Returns its exit status. */
int pgaf_cmd(struct pgaf *f, char *out, size_t cap, const char *cmd, const char *rest_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Makes and starts the formation on unused ports: 0, or -1 after saying
 * where its logs are. */
int pgaf_up(struct pgaf *f);

/* libpq's string for both nodes with target_session_attrs=attrs. */
void pgaf_conninfo(const struct pgaf *f, const char *attrs, char *out, size_t cap);

/* The writers a formation's story runs beside its reads: size bytes of
 * zeroed memory shared with them (bails out when there are none), and n
 * child processes, each running writer(i) (which must _exit), their pids
 * in pids. */
void *pgaf_shared(size_t size);
void pgaf_fork_writers(int n, void (*writer)(int), int *pids);

/* Stops the formation and removes its folder. */
void pgaf_down(struct pgaf *f);

#endif
