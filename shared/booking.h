/* booking.h - what the reservation, balance and payment responders share.
 *
 * Their PostgreSQL work is one plpgsql function per request (sql/010_booking.sql)
 * that returns the HTTP status and the finished JSON body as its first two
 * columns; these helpers pass that answer on and convert seat-number arrays
 * to and from PostgreSQL's text form (arrays travel as '{1,2}' parameters). */
#ifndef CONCERT_BOOKING_H
#define CONCERT_BOOKING_H

#include <stddef.h>
#include <libpq-fe.h>

#include "db.h"
#include "http.h"

/* The status in a (http_status, http_body, ...) row, or 0 when rc is not
 * DB_OK or the row is malformed (booking_reply then answers 503). */
int booking_status(db_rc rc, const PGresult *res);

/* Answers from a (http_status, http_body, ...) row: on DB_OK the row's own
 * status and body, otherwise 503. Returns the status answered (503 for an
 * outage or a malformed result). Does not clear res. */
int booking_reply(struct request *r, db_rc rc, const PGresult *res);

/* Answers status with PostgreSQL's JSON text, whitespace between tokens
 * removed (answers 503 when out of memory). */
void booking_send(struct request *r, int status, const char *json, size_t len);

/* For the per-user reads (balance, reservation list), "(session)"
 * endpoints: the {userId} path parameter must be the session's user
 * (session_require_user: 401, 400, 403); then runs sql (one $1::uuid
 * parameter, one JSON text column) and answers 200 with it, or 503. */
void booking_user_read(struct request *r, const char *sql);

/* Writes "{1,2,3}" into out (cap bytes). Returns 0, or -1 when it does not fit. */
int booking_array_text(const int *v, int n, char *out, size_t cap);

/* Parses PostgreSQL's text form of an integer[] ("{1,2}") into out (at most
 * max values). Returns the count, or -1 when malformed or too long. */
int booking_array_parse(const char *text, int *out, int max);

#endif
