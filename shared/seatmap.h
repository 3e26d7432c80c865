/* seatmap.h - a show's seat map kept in Redis, so that the hottest read of
 * a drop costs one Redis round trip and no PostgreSQL.
 *
 * Key (in the concert's hash slot, like the queue's and the seat locks'):
 *   {c:C}:seatmap:S  HASH  one field per seat, "<seatNo>" ->
 *                          "price,letter,until,owner" (A available, H held
 *                          until Unix ms by reservation owner, S sold), and
 *                          _ok (complete), _v (version: every change adds
 *                          one), _fresh (ms: when PostgreSQL is asked again),
 *                          _json and _next (the assembled seat list and the
 *                          first hold end it depends on).
 *
 * How it stays right:
 *   - seatmap_get checks the queue token and reads the map in one script. A
 *     HELD seat whose hold has run out reads AVAILABLE from that moment on,
 *     whatever the cron program has done, as seat_is_free says in SQL.
 *   - every hold, cancellation and payment marks its seats after its commit
 *     and before its answer (seatmap_mark), so a seat reads HELD or SOLD to
 *     everyone once its 201 has left. A mark for a seat the map does not
 *     know drops the map.
 *   - a missing map, and once a second any map, is read again from
 *     PostgreSQL (seatmap_load), which wins: a map changed meanwhile (its
 *     version moved) is not overwritten with the older read.
 *
 * The map is Redis's one copy of "sold": the hold's lock script refuses a
 * seat a complete map (_ok) reads S, without PostgreSQL (seatlock.h); the
 * cron program drops a map that reads S where PostgreSQL does not. */
#ifndef CONCERT_SEATMAP_H
#define CONCERT_SEATMAP_H

#include "db.h"

#include <stdint.h>

typedef enum {
    SEATMAP_HIT = 0,     /* the seat list is current */
    SEATMAP_STALE,       /* the seat list, to be checked against PostgreSQL */
    SEATMAP_ABSENT,      /* no map: load it */
    SEATMAP_TOKEN_MISS,  /* the token is not simply ACTIVE: the full check decides */
    SEATMAP_DOWN         /* Redis unreachable or its answer lost */
} seatmap_rc;

struct seatmap_view {
    char *seats;         /* the seats array's elements as JSON (malloc'd), or NULL */
    char version[24];    /* the map's version when read ("" when none) */
};

/* Checks that token (an id, queue_token_open) is ACTIVE for concert_id and
 * reads schedule_id's map. */
seatmap_rc seatmap_get(int64_t concert_id, int64_t schedule_id, const char *token, struct seatmap_view *v);

/* Reads schedule_id's map from PostgreSQL. When it is concert_id's show, the
 * map is stored unless its version moved from version (a change got there
 * first), and *seats gets the seat list (malloc'd; NULL when Redis did not
 * answer). Returns DB_OK with *owner the show's concert (0: no such show),
 * or PostgreSQL's failure. */
db_rc seatmap_load(int64_t concert_id, int64_t schedule_id, const char *version, int64_t *owner, char **seats);

/* After a commit: seats of schedule_id now read letter ('H' held until
 * until_ms, 'S' sold, 'A' available) for reservation owner. An 'A' changes
 * only seats still owner's. With 'H' and a lock_owner, the same script
 * sets the seats' locks that are still lock_owner's to end at until_ms,
 * the hold's end in PostgreSQL (seatlock.h). 0, or -1 when Redis did not
 * take it (the map is then right again within a second; the locks keep the
 * length they were taken for). */
int seatmap_mark(int64_t concert_id, int64_t schedule_id, char letter, int64_t until_ms, int64_t owner,
                 const char *lock_owner, const int *seats, int n);

/* PostgreSQL refused a hold because seats[0..n) are SOLD (by a sale this
 * code did not see, or whose mark was lost): they read SOLD on the map from
 * now on (reservation 0: unknown), and a map that is missing is loaded from
 * PostgreSQL, so the next crowd for them is turned away in Redis by the
 * hold's take (seatlock.h). 0, or -1 when Redis or PostgreSQL failed (the
 * map is then right again on its next read). */
int seatmap_note_sold(int64_t concert_id, int64_t schedule_id, const int *seats, int n);

void seatmap_view_free(struct seatmap_view *v);

#endif
