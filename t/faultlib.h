/* faultlib.h - what the fault tests (t/81-t/84, t/a*) share.
 *
 * A load: N forked clients, each walking users through a realistic journey
 * against the real front (with the user's session: charge the balance, take a queue token, look at
 * the seat map, hold 1-2 random seats, pay, read the balance and the
 * reservation list), until told to stop. Every answer is recorded (op,
 * status, Retry-After, error code, the ids of a success, when it was sent
 * and when it came back) to a file per client, so that after the fault the
 * test can tell exactly which requests failed and when, and check every 2xx
 * against PostgreSQL.
 *
 * The invariants checked afterwards, whatever the fault: no seat held (live)
 * or sold twice, every sold seat belongs to a paid reservation and the
 * reverse, every balance equals the sum of its ledger, every payment has its
 * one ledger row, and every 2xx a client got is in PostgreSQL (charges in the
 * ledger, holds and payments as rows) - and no POST took effect more often
 * than it was sent (a resent POST would show as more ledger rows than charge
 * requests: the load's charges carry no Idempotency-Key).
 *
 * Faults are injected with ./dev _fault (Redis and PostgreSQL of the test
 * stack stopped and started exactly as ./dev does) or by signals to the
 * responders whose pids ./dev keeps under $CONCERT_VAR/run. */
#ifndef CONCERT_T_FAULTLIB_H
#define CONCERT_T_FAULTLIB_H

#include <stdint.h>
#include <sys/types.h>

enum f_op { F_CHARGE, F_TOKEN, F_SEATS, F_HOLD, F_PAY, F_BALANCE, F_LIST, F_NOPS };

/* For a test program, which includes tap.h first: its own ok() as the
 * f_report of the checks below, and the whole of a one-store outage test
 * and of a several-hosts failover test (the story under its plan). */
#ifdef CONCERT_TAP_H
static int f_tap_report(int pass, const char *what) __attribute__((unused));
static int f_tap_report(int pass, const char *what)
{
    return ok(pass, "%s", what);
}
#endif

/* What each op needs: Redis, PostgreSQL (1 = needs it). Every op needs
 * Redis: charges, token issuance, the balance and the list carry the user's
 * session, the others the queue token, and both live there. Token issuance
 * and polling need PostgreSQL only on a cold concert cache, which the load
 * warms before any fault.
 *
 * Each journey is a new user made directly in the stores with a session
 * (t_user_try); while a store is down and cannot take one, the client goes
 * on with its last user. A record's token_t is when the credential it
 * carried was made: the queue token, or for charge, token, balance and list
 * the session. */
extern const char *const f_op_name[F_NOPS];
extern const int f_needs_redis[F_NOPS];
extern const int f_needs_pg[F_NOPS];

/* One recorded answer. */
struct f_rec {
    long t0, t1;           /* ms since the load began: sent, answered */
    long token_t;          /* when the token or session used was made (-1: none) */
    int op;
    int status;            /* 0: transport error */
    int retry_after;       /* Retry-After present */
    int json_error;        /* the body is the contract's JSON error */
    char code[32];
    char user[37];
    int64_t id1, id2;      /* hold: reservation; pay: payment, reservation */
};

struct f_load {
    int nclients;
    int64_t concert;
    int64_t schedules[4];   /* F_LOAD_SCHEDULES */
    int nsched;
    int seat_count;
    int charge_key;        /* send Idempotency-Key with charges */
    char dir[512];
    pid_t pids[64];
    volatile int *stop;
    long start_ms;         /* CLOCK_MONOTONIC ms at start */
    struct f_rec *recs;    /* after f_load_stop */
    size_t nrecs;
    /* Redis lost data (a wipe, a failover): a hold kept there and not yet
     * paid may be gone with it, counted but allowed (shared/hold.h). */
    int redis_may_lose;
};

/* diag() and bail_out() for the libraries beside tap.h, which keep no
 * TAP counters of their own. */
void f_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void f_bail_out(const char *why) __attribute__((noreturn));

/* Monotonic milliseconds. */
long f_now_ms(void);
/* Milliseconds since the load began. */
long f_load_ms(const struct f_load *L);

/* Creates the test's concert (activeLimit large, 4 schedules of seat_count
 * seats) and starts nclients clients. Returns 0, or -1 with a diag. */
int f_load_start(struct f_load *L, const char *name, int nclients, int seat_count, int charge_key);
/* The same in two halves, for a test that picks among several concerts
 * (by where their keys live): f_load_concert makes one as f_load_start
 * does (its id, or -1), f_load_start_on starts the clients on it. */
#define F_LOAD_SCHEDULES 4
int64_t f_load_concert(int seat_count, int64_t schedules[F_LOAD_SCHEDULES]);
int f_load_start_on(struct f_load *L, const char *name, int64_t concert, const int64_t schedules[F_LOAD_SCHEDULES],
                    int nclients, int seat_count, int charge_key);
/* Tells the clients to stop, waits for them (bounded) and reads the records. */
int f_load_stop(struct f_load *L);
/* Frees the records and the shared flag. */
void f_load_free(struct f_load *L);

/* 1 when the request got the answer it would get with nothing broken: a
 * 2xx, or the business refusals the load meets (402, 409, 410). */
int f_succeeded(const struct f_rec *x);

/* Counts records: op (-1 any) with t0 >= from and t1 <= to (ms), by class. */
struct f_tally {
    long total, ok, business, unauth, unavailable, unavailable_bad, other, transport;
};
void f_tally(const struct f_load *L, int op, long from, long to, struct f_tally *t);
/* Prints a tally per op as diag lines. */
void f_diag_tally(const struct f_load *L, const char *title, long from, long to);

/* Checks the invariants and every recorded 2xx against PostgreSQL: calls
 * report(pass, what) F_CHECKS times (the test's own ok()). */
#define F_CHECKS 9
typedef int (*f_report)(int pass, const char *what);
void f_check_state(const struct f_load *L, f_report report);

/* ./dev _fault ACTION on the test stack; the exit status. */
int f_dev(const char *action);

/* The several-hosts stack (./dev test --ha, ha/stack.sh). */
/* Skips the file unless on that stack. */
void f_require_ha(void);
/* ./dev fault test NAME: the exit status; the first line it printed (the
 * host it acted on, or what heal found) in out. */
int f_ha_fault(const char *name, char *out, size_t cap);
/* One part of `./dev status test --json` (its fields; empty when absent). */
struct f_ha_part {
    char role[32], state[64], address[64];
    char of[64], slots[128];   /* a Redis node's primary and slots ("" for none) */
    long pid;              /* 0: none */
};
/* Runs ./dev status test --json and fills out with the part named `part`
 * ("postgres", "redis", ...) on `host` (a host's name, or the part's
 * address: a Redis host runs two nodes): the ms it took, or -1 when it
 * gave nothing to read. */
long f_ha_status(const char *part, const char *host, struct f_ha_part *out);
/* Polls /healthz until `store` reads `want`: the ms it took, -1 after max_ms. */
long f_wait_health(const char *store, const char *want, long max_ms);
/* Prints the failed requests sent from `from` (ms) on, by op, status and
 * code, and returns the ms from the first one sent to the last answered
 * (0: none failed). 401 counts as failed here. */
long f_diag_errors(const struct f_load *L, long from);

/* The pid in $CONCERT_VAR/run/<name>.pid, or -1. */
pid_t f_pidfile(const char *name);
/* The relay processes (multiwatch's children) killed with -9: how many. */
int f_kill_relay(void);
/* The multiwatch process of responder instance <name> ("queue-1"): the
 * pid in its pid file, or that pid's multiwatch child. -1 when not running. */
pid_t f_multiwatch(const char *name);
/* The child pids of a process (up to max). Returns the count. */
int f_children(pid_t parent, pid_t *out, int max);

/* The pids of every responder process of the stack (all groups and
 * instances), sorted. Returns the count. */
int f_responder_pids(pid_t *out, int max);

/* Checks of a store outage from `begin` (just before the stop) to `end`
 * (just after the start returned): requests answered before it succeeded;
 * during it, ops that do not need the store (needs[op] == 0) all succeeded,
 * and those that need it succeeded or got a JSON 503 with Retry-After (some
 * did); from end + grace_ms on, everything succeeded again. A 401 counts as
 * success of the fault handling for a request whose token was issued before
 * tokens_lost_before (Redis came back empty); -1: no 401 allowed. Calls
 * report F_WINDOW_CHECKS times. */
#define F_WINDOW_CHECKS 5
void f_check_window(const struct f_load *L, long begin, long end, long grace_ms, const int *needs,
                    long tokens_lost_before, f_report report);

/* A store's primary lost on the several-hosts stack (t/a1, t/a2, t/a4):
 * CLIENTS clients' load through lb, the fault, a new primary (the store's
 * health back to ok within wait_ms), the heal (the old primary's host back
 * as the replica, the other host the primary), then what clients saw and
 * the checks: f_check_window (a 401 allowed until the new primary served
 * when lost_sessions: sessions and tokens written just before the fault
 * may not have reached the replica) and f_check_state. Calls report
 * F_FAILOVER_CHECKS times. */
struct f_failover {
    const char *fault;   /* ./dev fault NAME: "redis-kill", "pg-kill", ... */
    const char *store;   /* as heal names it: "Redis", "PostgreSQL" */
    const char *health;  /* its /healthz field: "redis", "postgres" */
    const char *prefix;  /* its hosts' names: "redis" (redis1, redis2), "pg" */
    const char *done;    /* what the fault did to it, for the TAP line */
    long wait_ms;
    const int *needs;    /* f_needs_redis, f_needs_pg */
    int lost_sessions;
    /* A shard of the Redis Cluster: the fault is given the slot of the
     * load's concert (its primary is struck), the new primary has served
     * when a command on the concert's key, routed afresh, is answered
     * (/healthz asks one node, maybe another shard's), and heal must say
     * that the lost node came back as a replica and took its shard back. */
    int cluster;
    /* Optional, with checks of their own (the story's plan counts them):
     * called under load once the new primary serves, and after the heal
     * with how long the heal (the old primary's host rejoining) took. */
    void (*failed_over)(const char *lost_host);
    void (*healed)(const char *lost_host, long heal_ms);
};
#define F_FAILOVER_CHECKS (3 + F_WINDOW_CHECKS + F_CHECKS)
void f_failover_story(const struct f_failover *s, int clients, f_report report);

/* A concert's slot moved to another primary while L's clients sell it
 * (t/2o on one host, t/ae across hosts), as an operator moves it
 * (t_cluster_move_slot: IMPORTING, MIGRATING, its keys MIGRATEd a few at a
 * time, SETSLOT NODE on every one of primaries), then 2 s more load and
 * L stopped. Checks that the slot moved, that clients saw nothing but
 * successes and clean 503s, that some requests met the slot half moved,
 * and that the 503s came only while it moved (and F_MOVE_GRACE_MS after:
 * a request sent just before the handover waits out a redirection or
 * two); prints the figures. Calls report F_MOVE_CHECKS times. */
#define F_MOVE_CHECKS 5
#define F_MOVE_GRACE_MS 1000
void f_move_story(struct f_load *L, int slot, int from, int to, const int *primaries, int nprimaries,
                  f_report report);

/* A store of the one-host test stack stopped for a few seconds under a
 * load of 12 clients, then started (t/82, t/83): /healthz says it is down,
 * then ok again; f_check_window, the responders are the same processes
 * (none restarted: each reconnected by itself), then f_check_state. Calls
 * report F_OUTAGE_CHECKS times. */
struct f_outage {
    const char *name;      /* ./dev _fault NAME-stop, NAME-start: "redis", "pg" */
    const char *store;     /* for the TAP lines: "Redis", "PostgreSQL" */
    const char *stop_how;  /* how it is stopped, for the TAP line ("" or ": ...") */
    const char *health;    /* its /healthz field: "redis", "postgres" */
    long settle_ms;        /* from the stop to asking /healthz */
    const int *needs;      /* f_needs_redis, f_needs_pg */
    int tokens_may_be_lost;/* a 401 for a token or session made before is fine */
};
#define F_OUTAGE_CHECKS (6 + F_WINDOW_CHECKS + F_CHECKS)
void f_outage_story(const struct f_outage *o, f_report report);

/* GET /healthz: the status, and the value of `store` ("postgres", "redis"). */
long f_health(const char *store, char *value, size_t cap);

/* Skips the file unless behind nginx on a ./dev test stack. */
void f_require_stack(void);

#ifdef CONCERT_TAP_H
static int f_outage_test(const struct f_outage *o) __attribute__((unused));
static int f_outage_test(const struct f_outage *o)
{
    f_require_stack();
    plan(F_OUTAGE_CHECKS);
    f_outage_story(o, f_tap_report);
    return done_testing();
}

static int f_failover_test(const struct f_failover *s, int clients) __attribute__((unused));
static int f_failover_test(const struct f_failover *s, int clients)
{
    f_require_ha();
    plan(F_FAILOVER_CHECKS);
    f_failover_story(s, clients, f_tap_report);
    return done_testing();
}
#endif

#endif
