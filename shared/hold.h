/* hold.h - a seat hold kept in Redis, in its concert's hash slot, until it
 * is paid (issue 26): one script (shared/lua/hold_take.lua) checks the
 * queue token, the seats, the per-user limit and that sales are open, and
 * writes the hold, its seats' locks and marks and its reservation.held
 * event, all or nothing.
 *
 * Keys (keyspace.h), all tagged {c:C}:
 *   {c:C}:holds      HASH  reservation id -> the hold's record
 *                    (shared/lua/lib/hold_record.lua): user, schedule,
 *                    seats, amount, end, lock owner, status, when made
 *   {c:C}:hold-ends  ZSET  reservation ids by end (ms), for the sweep that
 *                    expires them
 *   {c:C}:hold-ends:S ZSET the same for schedule S's holds: what a load
 *                    of its seat map and the cron's lock check walk
 *   {c:C}:hold-seq   STRING the counter ids are made from: an id is the
 *                    concert's id times 10^9 plus it, so ids are unique
 *                    across concerts and above every id PostgreSQL gave
 *   {c:C}:mine:S     HASH  userId -> seats bought (as PostgreSQL counted
 *                    them) and the user's holds of schedule S: the
 *                    per-user limit, without PostgreSQL
 *   {c:C}:reservation-events STREAM the concert's reservation events, in
 *                    the outbox's five fields
 * A hold's seats are locked ({c:C}:seat:S:N, seatlock.h) until the hold's
 * end, exactly: the lock is what keeps a seat from a second hold. */
#ifndef CONCERT_HOLD_H
#define CONCERT_HOLD_H

#include "db.h"
#include "seatlock.h"

#include <stdint.h>

typedef enum {
    HOLD_HELD = 0,       /* held: see struct hold_taken */
    HOLD_TOKEN_MISS,     /* the token is not ACTIVE within its period */
    HOLD_NO_FACTS,       /* the concert's facts are not in Redis, and
                          * PostgreSQL could not give them (503) */
    HOLD_NO_MAP,         /* the seat map could not be loaded (503) */
    HOLD_CLOSED,         /* the show has started: sales_closed */
    HOLD_NO_BOUGHT,      /* what the user bought could not be read (503) */
    HOLD_LIMIT,          /* hold_limit: .have seats held or bought */
    HOLD_BUSY,           /* seat_unavailable: .busy names the seats */
    HOLD_DOWN            /* Redis is away, or its answer was lost (503) */
} hold_rc;

struct hold_taken {
    char user_id[37];
    int64_t id, until_ms, amount, created_ms;
    int64_t have;        /* HOLD_LIMIT: seats already held or bought */
    int first_of_concert; /* the user's first hold of the concert: the
                           * user's concerts were told of it */
    int facts_late;      /* the concert's cached facts were a second old:
                          * the caller reads them again once it answered
                          * (hold_refresh_facts) */
    char busy[64];       /* HOLD_BUSY: "3, 4" */
};

/* What a hold needs of its show besides the seats. */
struct hold_show {
    int64_t concert_id, schedule_id;
    int64_t closes_ms;   /* when sales close: the show's start (Unix ms) */
};

/* Holds seats (sorted, distinct, 1..SEATLOCK_MAX, each one the show has)
 * for the user of token, under lock owner owner. The facts, the seat map
 * and the user's bought seats are read from PostgreSQL when Redis lacks
 * them, and the script run again. */
hold_rc hold_take(const char *token, const struct hold_show *show, const int *seats, int n, const char *owner,
                  struct hold_taken *out);

/* The concert's cached facts read again from PostgreSQL (the hold length
 * a hold found a second old, facts_late): for after the answer. A failure
 * is logged; the next hold that finds them old tries again. */
void hold_refresh_facts(int64_t concert_id);

/* Reservation ids below this were PostgreSQL's own (its sequence); those
 * from it on are holds made in Redis, id / HOLD_ID_SPAN their concert. */
#define HOLD_ID_SPAN INT64_C(1000000000)

/* A hold's record as Redis keeps it (shared/lua/lib/hold_record.lua). */
struct hold_record {
    int64_t id, concert_id, schedule_id, amount, ends_ms, created_ms;
    char user_id[37];
    int seats[SEATLOCK_MAX];
    int n;
    char owner[2 * SEATLOCK_OWNER_BYTES + 1];
    char status[12];     /* HELD, CANCELLED, EXPIRED, PAID */
};

/* Reads a record's text for reservation id: 0, or -1 when it is not one. */
int hold_record_parse(const char *text, int64_t id, struct hold_record *out);

/* The reservation as the list and a cancellation show it (the fields of
 * PostgreSQL's booking_reservation_json): a HELD hold whose end has come
 * reads EXPIRED. NULL when out of memory. */
struct json_object *hold_record_json(const struct hold_record *rec, int64_t now_ms);

/* Cancels hold id (one made in Redis: id >= HOLD_ID_SPAN) for user_id,
 * acting with a queue token of token_concert. Returns the outcome word
 * (outcome.c): "cancelled" with *out the hold (also when it was cancelled
 * already: a retry), or the refusal (reservation_not_found, wrong_concert,
 * already_paid, hold_expired); NULL when Redis is away (503). */
const char *hold_cancel(int64_t token_concert, const char *user_id, int64_t id, struct hold_record *out);

/* Ends up to max holds of concert_id whose end has come: each reads
 * EXPIRED, with reservation.expired in the concert's stream (a hold reads
 * run out from its end on whether or not this ran; its seats and locks
 * are free by then). *expired says how many. Returns 0, 1 when run-out
 * holds are left for another call (being paid, or past max), -1 when Redis
 * is away. */
int hold_sweep(int64_t concert_id, int max, int64_t *expired);

/* How long a payment of a Redis hold may take before the hold can be
 * cancelled or expire again (its PostgreSQL transaction is far shorter). */
#define HOLD_PAY_LEASE_MS 30000

/* Pays hold id (id >= HOLD_ID_SPAN) for user_id, acting with queue token
 * token of token_concert, with Idempotency-Key key (NULL: none). Redis
 * marks the hold as being paid, PostgreSQL sells it (booking_pay_hold, one
 * transaction), then Redis records the sale (or, refused, the hold is live
 * again; on DB_UNKNOWN the mark runs out after HOLD_PAY_LEASE_MS). While
 * another payment of it is on its way, a repeat without a key is
 * already_paid; one with a key goes to PostgreSQL too, whose key claim
 * makes one wait for the other and replay its answer. A hold
 * Redis does not have is looked up in PostgreSQL (paid already: its
 * answer; else reservation_not_found): never a second sale. Returns the
 * outcome as answer_outcome takes it: *res is PostgreSQL's row, or NULL
 * with *refusal the word when Redis refused first; DB_UNAVAILABLE with
 * both NULL when Redis is away. */
db_rc hold_pay(int64_t token_concert, const char *user_id, int64_t id, const char *token, const char *key,
               const char **refusal, PGresult **res);

/* A user's holds kept in Redis (any status), newest first by when made. */
struct hold_list {
    struct hold_record *recs;
    size_t n;
};

/* Reads user_id's holds from every concert they held seats of (the
 * newest 200 of each: {user:U}:hold-concerts, {c:C}:user-holds). Returns
 * 0, or -1 when Redis is away or memory ran out (list then empty). */
int hold_user_list(const char *user_id, struct hold_list *list);
void hold_list_free(struct hold_list *list);

/* A logout: cancels every live hold user_id has of concert_id (as
 * hold_cancel does, with reservation.cancelled). Returns 0, or -1 when
 * Redis is away (the retry cancels the rest). */
int hold_cancel_user(int64_t concert_id, const char *user_id, int64_t now_ms);

/* A sale PostgreSQL made without a Redis hold (a reservation from before
 * holds moved to Redis, paid): the schedule's per-user counts are read
 * again from PostgreSQL at the next hold (their bought seats changed). A
 * failure is logged. */
void hold_bought_changed(int64_t concert_id, int64_t schedule_id);

/* Whether the seat lock of seat_no (schedule_id, concert_id) owned by
 * owner is a live Redis hold's: 1, 0, or -1 when Redis is away. */
int hold_lock_live(int64_t concert_id, int64_t schedule_id, int seat_no, const char *owner);

#endif
