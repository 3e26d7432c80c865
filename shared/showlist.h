/* showlist.h - a concert's list of shows on sale (GET
 * /api/v1/concerts/{id}/schedules), kept in Redis for one second.
 *
 * Every admitted user of a drop reads it first, and its availableSeats
 * counts change with every hold: kept exactly, it would be rebuilt as often
 * as it is read. A second-old count is what a user would see a second later
 * anyway, and the seat map (shared/seatmap.c), which decides what the user
 * picks, is exact. So the list is built by PostgreSQL at most about once a
 * second per concert, and the token check and the read are one script.
 *
 * Key: {c:C}:shows  STRING  the answer's JSON, PX 1000. */
#ifndef CONCERT_SHOWLIST_H
#define CONCERT_SHOWLIST_H

#include <stdint.h>

typedef enum {
    SHOWLIST_HIT = 0,     /* *json is the answer */
    SHOWLIST_ABSENT,      /* build it (and put it) */
    SHOWLIST_TOKEN_MISS,  /* the token is not simply ACTIVE: the full check decides */
    SHOWLIST_DOWN         /* Redis unreachable or its answer lost */
} showlist_rc;

/* Checks that token is ACTIVE for concert_id and reads the kept list into
 * *json (malloc'd) on a hit. */
showlist_rc showlist_get(int64_t concert_id, const char *token_id, char **json);

/* Keeps json as concert_id's list for a second; a failure only costs the
 * next reader a build. */
void showlist_put(int64_t concert_id, const char *json);

#endif
