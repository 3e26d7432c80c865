/* utc.h - the contract's time format written from C: RFC 3339 in UTC with
 * whole seconds ("2026-12-24T19:30:00Z"). Times PostgreSQL sends are
 * formatted by its own one function (sql/); these are the times that C
 * makes itself (queue expiries from Redis's clock, log stamps). */
#ifndef CONCERT_UTC_H
#define CONCERT_UTC_H

#include <stdint.h>
#include <time.h>

#define UTC_TEXT_SIZE 21   /* "YYYY-MM-DDTHH:MM:SSZ" and its NUL */

/* Writes t as RFC 3339 UTC text. A time gmtime cannot represent (out of
 * its range) is written as the epoch, never left unwritten. */
void utc_text(time_t t, char out[UTC_TEXT_SIZE]);

/* The wall clock in Unix milliseconds: what a hold's end (Redis's clock,
 * the same host's) is compared with outside its scripts. */
int64_t utc_now_ms(void);

#endif
