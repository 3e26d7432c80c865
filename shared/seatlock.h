/* seatlock.h - per-seat locks in Redis, the fast gate in front of a hold.
 *
 * A hold first takes one lock per requested seat, all or nothing, in one Lua
 * script; a seat whose lock is taken is turned away at once (409) without
 * touching PostgreSQL, which stays the final judge of every hold. A lock is
 * kept for the hold's duration, so a crowd racing for a held seat is turned
 * away here too, and only its owner (a random value stored with the
 * reservation) can release it early: compare-and-delete, never a plain DEL.
 * Seats PostgreSQL reports SOLD are remembered in a per-schedule set that the
 * lock script checks first (sold is final), so crowds for sold seats stop in
 * Redis as well.
 *
 * Keys (all share the concert's hash tag, like the queue's):
 *   {c:C}:seat:S:N   STRING owner of seat N of schedule S, PX = hold length
 *   {c:C}:sold:S     SET    seat numbers of schedule S known to be SOLD */
#ifndef CONCERT_SEATLOCK_H
#define CONCERT_SEATLOCK_H

#include <stdint.h>

#define SEATLOCK_MAX 4          /* seats in one hold */
#define SEATLOCK_OWNER_BYTES 16 /* random bytes in an owner (32 hex digits) */

typedef enum {
    SEATLOCK_TAKEN = 0,         /* every lock is now ours */
    SEATLOCK_BUSY,              /* a seat is locked by someone else or sold */
    SEATLOCK_DOWN               /* Redis is unreachable */
} seatlock_rc;

/* Takes the locks of seats[0..n) (sorted ascending, n <= SEATLOCK_MAX) for
 * ttl_ms milliseconds under owner. */
seatlock_rc seatlock_take(int64_t concert_id, int64_t schedule_id, const int *seats, int n,
                          const char *owner, int64_t ttl_ms);

/* Releases those of the locks that owner still holds, and records sold[0..nsold)
 * as sold. Returns 0, or -1 when Redis is unreachable (the locks then run out
 * by themselves). */
int seatlock_release(int64_t concert_id, int64_t schedule_id, const int *seats, int n,
                     const char *owner, const int *sold, int nsold);

#endif
