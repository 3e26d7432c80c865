/* queue.h - the per-concert waiting room in Redis.
 *
 * A user gets a token for a concert, waits in strict arrival order and is
 * admitted (ACTIVE) while fewer than the concert's activeLimit tokens are
 * active. Every operation is one Lua script, so issuing, polling, checking a
 * token and ending one are each atomic and one round trip; each script first
 * sweeps out run-out tokens and idle waiters and admits the head of the queue
 * into free slots, so admission never waits for the cron program.
 * (queue_check first tries a two-key read that sweeps nothing: an
 * ACTIVE token within its period is all a guarded request needs.)
 *
 * The scripts are shared/lua/queue_*.lua (those of a token or a concert
 * begin with lib/queue_prelude.lua). Key layout (the names are keyspace.h's;
 * all keys of concert C share the hash tag {c:C}, so every script would run
 * unchanged on Redis Cluster):
 *   {c:C}:conf     HASH  concert facts cached from PostgreSQL: limit,
 *                        active_ms, idle_ms, per_minute (0: no cap), paused,
 *                        hold_ms (the seat locks' length: seatlock.h),
 *                        fresh_until (ms); opener (ms), while the
 *                        opening's steps go on: until when the request
 *                        asked to place the next step has it. Read again
 *                        by the first request
 *                        that finds them past fresh_until (a second after
 *                        they were read), so an operator's change is in
 *                        force within a second; kept an hour (TTL), so the
 *                        queue goes on while PostgreSQL is down. "missing"
 *                        marks an unknown concert (TTL 10 s).
 * A token is kept by its id, never by the text a client presents
 * (queue_token.h): "token" below means that id.
 *   {c:C}:waiting  ZSET  token -> arrival number (from {c:C}:seq)
 *   {c:C}:seen     ZSET  waiting token -> last poll (ms), for idle drops
 *   {c:C}:active   ZSET  token -> end of its active period (ms)
 *   {c:C}:tokens   HASH  token -> userId
 *   {c:C}:users    HASH  userId -> token (one live token per user)
 *   {c:C}:seq      STRING arrival counter
 *   {c:C}:admits   ZSET  token -> admission time (ms) of users admitted after
 *                        waiting, kept 10 minutes: the observed admission rate
 *   {c:C}:recent   ZSET  token -> admission time (ms) of every admission in
 *                        the last 60 s: admissionPerMinute counts these
 *   {c:C}:pre      ZSET  token -> issue time (ms): the pre-queue, tokens
 *                        issued before the concert's opensAt (no place, not
 *                        dropped for idleness)
 *   {c:C}:opened   STRING the opening's mark (ms) once the pre-queue was
 *                        opened (shuffled into the line); it is opened
 *                        once. While its steps go on,
 *                        "~mark:base:n:placed" (queue_open.lua)
 *   {c:C}:admissions STRING admissions so far (a counter for the metrics)
 *   {c:C}:logged-out HASH token -> userId of live tokens a logout ended
 *                        whose holds are not yet known cancelled (a day);
 *                        token -> "" for an id a logout ended before it
 *                        was issued (queue_enter_as refuses it)
 * When opensAt has come and the pre-queue was not opened, every script
 * answers OPEN before doing anything, and the caller begins the opening
 * (its first step) and runs the script again. The opening goes in steps of
 * QUEUE_OPEN_STEP tokens, each placed in a uniformly random order at the
 * next of the places reserved for the pre-queue, ahead of everyone who
 * arrives later; while the steps go on, the scripts answer as usual with
 * the places given so far (those not yet placed are behind them and ahead
 * of the later arrivals, and nobody later is admitted before them), and
 * ask one request at a time to place the next step.
 * Admission takes the head of the queue while fewer than activeLimit tokens
 * are active and, when the concert has an admissionPerMinute, fewer than
 * that were admitted in the last 60 seconds; none while it is paused.
 * Times come from Redis's own clock (TIME), so responders on hosts with
 * skewed clocks still agree. */
#ifndef CONCERT_QUEUE_H
#define CONCERT_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "queue_token.h"

enum queue_state { QUEUE_WAITING, QUEUE_ACTIVE };

struct queue_ticket {
    char token[QUEUE_TOKEN_MAX + 1];      /* what the client holds */
    char id[QUEUE_TOKEN_ID_MAX + 1];      /* what Redis knows it by (queue_token.h) */
    int64_t concert_id;
    char user_id[37];
    enum queue_state state;
    int64_t position;          /* 1-based among waiting users; 0 when active; -1 in the pre-queue */
    int64_t expires_ms;        /* end of the active period; 0 while waiting */
    int64_t estimated_wait_s;
    int64_t poll_after_s;      /* when the client should poll next (1..300) */
    int64_t opens_ms;          /* the pre-queue's opening, while it is ahead; else 0 */
    int created;               /* 1 when queue_enter made a new token */
    int first_look;            /* created, or a pre-queued token's first poll after the opening */
};

/* The longest pollAfterSeconds (the contract's, version 3), and the polls
 * a second one concert's waiting users should make together at most
 * (while their count allows: each polls at least once in QUEUE_POLL_MAX_S,
 * so a million cost 3,333 a second and the head a quarter of the budget
 * more: 4,333, under the 5,000 a second this box serves beside the rest). */
#define QUEUE_POLL_MAX_S 300
#define QUEUE_POLL_BUDGET 4000.0

/* The longest pollAfterSeconds for waiting users whose idle limit is
 * idle_ms: 300 s, and half the idle limit, so a client that polls when told
 * is never dropped for idleness. */
int64_t queue_poll_longest(int64_t idle_ms);

/* pollAfterSeconds for the user at position (1-based) among waiting users
 * of a concert admitting per_second, whose idle limit is idle_ms: about
 * half the expected wait, 1 near the head, at most queue_poll_longest, and
 * long enough that the whole line stays within the budget. A first look at
 * one's place is told a random moment within this
 * (queue.c says why). */
int64_t queue_poll_after(int64_t position, int64_t waiting, double per_second, int64_t idle_ms);

/* estimatedWaitSeconds for the user at position (1-based) among waiting
 * users, when admitted users were admitted after waiting in the last ten
 * minutes; limit and active_ms are the
 * concert's activeLimit and active period (the slowest the line can move
 * while it is not paused). The rate is counted over the whole ten minutes,
 * and never below that slowest one, so an estimate falls as the line
 * speeds up and rises only slowly when it stalls (queue.c says why). */
int64_t queue_wait_estimate(int64_t position, int64_t admitted, int64_t limit, int64_t active_ms);

/* The window [*low, *high] a pre-queued user picks pollAfterSeconds from,
 * until_s seconds before the opening, with pre_count in the pre-queue who
 * have been arriving for arriving_ms: spread over the longest wait while
 * the opening is far; once it is within reach, just after it, spread over
 * as many seconds as keep the crowd expected by then within the budget,
 * so they all learn their places soon after it. Returns 1 when the
 * opening is within reach, else 0. */
int queue_pre_poll_window(int64_t until_s, int64_t pre_count, int64_t arriving_ms, int64_t idle_ms,
                          int64_t *low, int64_t *high);

typedef enum {
    QUEUE_OK = 0,
    QUEUE_NO_CONCERT,          /* 404 */
    QUEUE_TOKEN_INVALID,       /* 401 */
    QUEUE_NOT_ACTIVE,          /* 403: still waiting */
    QUEUE_WRONG_CONCERT,       /* 403: issued for another concert */
    QUEUE_REDIS_DOWN,          /* 503 */
    QUEUE_PG_DOWN,             /* 503 */
    QUEUE_ID_ENDED             /* queue_enter: a logout ended the new id first (401 SESSION_INVALID) */
} queue_rc;

/* Issues a token for (user, concert), or returns the live one it has. */
queue_rc queue_enter(int64_t concert_id, const char *user_id, struct queue_ticket *out);

/* As queue_enter, a new token's id being id (queue_token_new_id), made
 * before so that the session it is taken with can learn it first
 * (session_take_token). QUEUE_ID_ENDED when a logout has already ended
 * that id: nothing is issued. */
queue_rc queue_enter_as(int64_t concert_id, const char *user_id, const char *id, struct queue_ticket *out);

/* Looks a token up (a poll: it counts as activity for a waiting token). */
queue_rc queue_status(const char *token, struct queue_ticket *out);

/* Ends a token (after payment) and admits the next waiting user. */
queue_rc queue_finish(const char *token);

/* Ends the token whose id is id (its session logged out, or it was issued
 * to a session that had just ended) and admits the next waiting user.
 * *was_live tells whether it was still waiting or ACTIVE within its period
 * (then user_id names its user); ending one already over changes nothing. */
queue_rc queue_end(const char *id, int *was_live, char user_id[37]);

/* After a logout's queue_end and the cancellation of the token's holds:
 * forgets that the token was live (queue.c says why it is kept till then). */
void queue_end_done(const char *id);

/* Sweeps one concert: drops run-out and idle tokens, admits into free slots.
 * Returns the number of tokens dropped and admitted through the pointers. */
queue_rc queue_sweep(int64_t concert_id, int64_t *dropped, int64_t *admitted);

struct queue_counts {
    int64_t waiting, active, admitted_last_minute, pre_queue;
    int64_t opens_ms;          /* the opening, while it is ahead; else 0 */
    int paused;
};

/* Pre-queued tokens an opening places a step: one script each, well under a
 * millisecond of Redis however many were pre-queued (no script may stall
 * the crowd's polls for 50 ms, even on a busy machine: t/2l). */
#define QUEUE_OPEN_STEP 100

/* Opens a concert's pre-queue now, to the end, if it was not opened yet:
 * its tokens go to the line in a uniformly random order (each step draws
 * its tokens one by one among those left, from getrandom), ahead of
 * everyone who comes later. The queue scripts ask for this themselves,
 * a step a request, once the opening time has come; exported for tests,
 * which may take smaller steps and stop after max_steps of them
 * (queue_open_in_steps; max_steps 0: to the end; *left, unless NULL, how
 * many are left to place). */
queue_rc queue_open(int64_t concert_id);
queue_rc queue_open_in_steps(int64_t concert_id, size_t step, int max_steps, int64_t *left);

/* Sweeps and admits as a poll would, then counts the concert's queue. */
queue_rc queue_view(int64_t concert_id, struct queue_counts *out);

struct queue_gauges {
    int64_t pre_queue, waiting, active, admissions;
};

/* Reads, changing nothing, a concert's queue sizes and its admissions so far
 * (for the metrics). */
queue_rc queue_gauges(int64_t concert_id, struct queue_gauges *out);

/* Forgets the cached facts of a concert (after it is created or changed). */
void queue_forget_concert(int64_t concert_id);

/* Reads a concert's facts from PostgreSQL into {c:C}:conf now:
 * QUEUE_OK, QUEUE_NO_CONCERT (marked missing), QUEUE_PG_DOWN or
 * QUEUE_REDIS_DOWN. For scripts elsewhere that read the facts themselves
 * (and, finding them a second old, mark them fresh for everyone and have
 * their caller read them again: shared/lua/lib/queue_facts.lua). */
queue_rc queue_reload_facts(int64_t concert_id);

/* The full check of a token: the two-key read that sweeps nothing, and
 * when that does not find it simply ACTIVE the status script (which
 * admits, when there is room). QUEUE_OK for an ACTIVE token of concert_id
 * (0 accepts any concert: the caller compares it later); else
 * QUEUE_WRONG_CONCERT or QUEUE_NOT_ACTIVE (t filled: the token was found),
 * QUEUE_TOKEN_INVALID or QUEUE_REDIS_DOWN. The edge (guard.h) turns the
 * verdict into 401/403/503. */
queue_rc queue_check(const char *token, int64_t concert_id, struct queue_ticket *t);

/* The contract's token body: token, userId, concertId, status, position,
 * estimatedWaitSeconds, expiresAt. NULL when out of memory. */
struct json_object *queue_ticket_json(const struct queue_ticket *t);

#endif
