/* booking.h - what the reservation, balance and payment responders share
 * besides outcome.h: seat-number arrays to and from PostgreSQL's text form
 * (arrays travel as '{1,2}' parameters), and what Redis is told of a
 * cancellation. */
#ifndef CONCERT_BOOKING_H
#define CONCERT_BOOKING_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* Writes "{1,2,3}" into out (cap bytes). Returns 0, or -1 when it does not fit. */
int booking_array_text(const int *v, int n, char *out, size_t cap);

/* Parses PostgreSQL's text form of an integer[] ("{1,2}") into out (at most
 * max values). Returns the count, or -1 when malformed or too long. */
int booking_array_parse(const char *text, int *out, int max);

/* Tells Redis of a cancellation, before its answer: row of res (a
 * booking_cancel or booking_cancel_holds result) names the reservation's
 * seat locks, which are freed (by their owner, so a repeat can only free
 * locks that are still this hold's) so the seats can be held again at once,
 * and its seats, which read AVAILABLE on the seat map (those still this
 * reservation's there). A failure is logged: the locks run out by
 * themselves and the seat map is checked against PostgreSQL each second. */
void booking_tell_cancelled(const PGresult *res, int row, int64_t reservation_id);

#endif
