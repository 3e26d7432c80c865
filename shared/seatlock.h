/* seatlock.h - per-seat locks in Redis, the fast gate in front of a hold.
 *
 * A hold first takes one lock per requested seat, all or nothing, in one Lua
 * script; a seat whose lock is taken is turned away at once (409) without
 * touching PostgreSQL, which stays the final judge of every hold. A lock is
 * kept for the hold's duration, so a crowd racing for a held seat is turned
 * away here too, and only its owner (a random value stored with the
 * reservation) can release it early: compare-and-delete, never a plain DEL.
 * "Sold" has one copy in Redis, the seat map's letter (seatmap.h): the lock
 * script reads it first, in the same script (sold is final), so crowds for
 * sold seats stop in Redis as well. A payment marks its seats there; a
 * refusal PostgreSQL gives for a sold seat marks it too (seatmap_note_sold),
 * loading the map when there is none.
 *
 * A lock is taken for the concert's hold length as the queue's cached facts
 * of the concert say ({c:C}:conf, read in the same script; never more than
 * a second behind PostgreSQL), and once the hold has committed its end is
 * set to the hold's own end in PostgreSQL (seatmap_mark, in the script that
 * marks the seat map): a lock never outlives its hold.
 *
 * Keys (named by keyspace.h; all share the concert's hash tag, like the
 * queue's; the scripts are shared/lua/seatlock_*.lua):
 *   {c:C}:seat:S:N   STRING owner of seat N of schedule S; ends with the hold
 *   {c:C}:seatmap:S  HASH   read only: a seat it reads SOLD is refused */
#ifndef CONCERT_SEATLOCK_H
#define CONCERT_SEATLOCK_H

#include "contract_limits.h"

#include <stddef.h>
#include <stdint.h>

/* Seats in one hold: never more than one user may hold. */
#define SEATLOCK_MAX SEATS_PER_USER_MAX
#define SEATLOCK_OWNER_BYTES 16 /* random bytes in an owner (32 hex digits) */

typedef enum {
    SEATLOCK_TAKEN = 0,         /* every lock is now ours */
    SEATLOCK_BUSY,              /* a seat is locked by someone else, or the
                                 * seat map reads it sold */
    SEATLOCK_TOKEN_MISS,        /* the token is not ACTIVE within its period (or
                                 * not known): nothing was taken; the queue's
                                 * full check tells why */
    SEATLOCK_DOWN,              /* Redis is unreachable, or its answer was lost:
                                 * the hold does not go ahead (503) */
    SEATLOCK_NO_FACTS           /* the concert's facts (its hold length) could
                                 * not be read from PostgreSQL: nothing was
                                 * taken (503) */
} seatlock_rc;

/* Checks that token (an id, queue_token_open) is an ACTIVE token of concert_id and, in the same
 * script, takes the locks of seats[0..n) (sorted ascending, n <=
 * SEATLOCK_MAX) under owner for the concert's hold length (its cached
 * facts, read again from PostgreSQL first when they are missing or a second
 * old). On SEATLOCK_TAKEN user_id (37 bytes) is the token's user. */
seatlock_rc seatlock_take(const char *token, int64_t concert_id, int64_t schedule_id, const int *seats, int n,
                          const char *owner, char *user_id);

/* Releases those of the locks that owner still holds. Returns 0, or -1 when
 * Redis is unreachable (the locks then run out by themselves). */
int seatlock_release(int64_t concert_id, int64_t schedule_id, const int *seats, int n, const char *owner);

/* --- Agreeing with PostgreSQL ------------------------------------------------
 *
 * Redis can fall out of step with PostgreSQL: a release that failed after a
 * cancel leaves a lock turning away a seat that reads AVAILABLE, and after a
 * database restore the seat maps and locks name seats PostgreSQL has free.
 * The cron program walks these keys a page at a time (SCAN, so a big
 * keyspace is never blocked), asks PostgreSQL about a whole page at once and
 * settles it here, PostgreSQL winning:
 *   - a seat map that reads a seat SOLD which PostgreSQL does not have SOLD
 *     is dropped (unless it changed since it was read), and read from
 *     PostgreSQL again on its next read;
 *   - a lock whose seat is not HELD by a live reservation with that owner is
 *     deleted, compare-and-delete on the owner seen, once it is at least
 *     SEATLOCK_GRACE_MS old: a hold takes its locks a moment before its row
 *     commits (a statement is bounded by the database's timeouts, seconds),
 *     and that hold must not lose them. A lock's age is its hold length
 *     minus its remaining life, read before PostgreSQL is asked (right after
 *     a concert's holdSeconds grows its locks look older than they are: at
 *     worst a crowd then reaches PostgreSQL, which refuses it);
 *   - and so is one, of any age, whose remaining life is longer than the
 *     concert's hold length: it was taken under a longer holdSeconds (or
 *     outlived its hold because the mark after the commit was lost), so its
 *     hold has ended or started under the old length; at worst a hold that
 *     is just committing loses its locks, and PostgreSQL refuses the crowd.
 * Correctness never rests on this (PostgreSQL judges every hold); it only
 * stops Redis from refusing seats that are free. */

#define SEATLOCK_GRACE_MS 60000

enum seatlock_kind { SEATLOCK_OTHER = 0, SEATLOCK_LOCK, SEATLOCK_MAP };

/* The seat (or, with seat_no 0, the schedule) a key is about. */
struct seatlock_at {
    int64_t concert_id, schedule_id;
    int seat_no;
};

/* Tells a lock key ({c:C}:seat:S:N) from a seat map's ({c:C}:seatmap:S)
 * from anything else, and where it points. */
enum seatlock_kind seatlock_parse_key(const char *key, size_t len, struct seatlock_at *at);

/* 1 when text is an owner as seatlock_take's callers make them (32 hex
 * digits); no other value can be stored with a reservation. */
int seatlock_owner_valid(const char *text);

/* A lock as the walk found it. The caller fills in the verdict. */
struct seatlock_found {
    struct seatlock_at at;
    char *key;
    char *owner;        /* its value when read */
    int64_t ttl_ms;     /* its remaining life when read; -1 none */
    int held;           /* verdict: PostgreSQL holds the seat for this owner */
    int64_t hold_ms;    /* verdict: the concert's hold length; -1 no such
                         * concert (then no hold can be on its way) */
};

/* A seat a complete seat map reads SOLD, as the walk found it. The caller
 * fills in the verdict. */
struct seatlock_mark {
    struct seatlock_at at;
    char *key;          /* the map's */
    char *version;      /* the map's version when read */
    int sold;           /* verdict: PostgreSQL has the seat SOLD */
};

struct seatlock_page {
    struct seatlock_found *locks;
    size_t nlocks;
    struct seatlock_mark *marks;
    size_t nmarks;
};

/* Reads the next page of the walk: SCAN from cursor (decimal text; "0"
 * starts a pass, and is written back when the pass is complete) with the
 * COUNT hint count, then every lock's owner and remaining life and the seats
 * every complete seat map reads SOLD. The cursor changes only on success. Returns 0, or -1 when
 * Redis is unreachable or memory ran out (page then empty). */
int seatlock_scan(char *cursor, size_t cursor_cap, int count, struct seatlock_page *page);

/* Settles a judged page: deletes each lock PostgreSQL does not hold for its
 * owner and that was at least SEATLOCK_GRACE_MS old, unless it has changed
 * owner since, and drops each seat map with a mark PostgreSQL does not have
 * SOLD, unless it has changed since. Adds what it deleted and dropped to
 * the counters. Returns 0, or -1 when Redis failed part-way (what was
 * settled stays settled; the next pass goes on). */
int seatlock_settle(const struct seatlock_page *page, int64_t *locks_deleted, int64_t *maps_dropped);

void seatlock_page_free(struct seatlock_page *page);

#endif
