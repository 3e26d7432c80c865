/* valid.h - validators for the values that arrive from clients.
 *
 * Pure functions with no I/O, so the fuzz targets and unit tests can call
 * them directly. */
#ifndef CONCERT_VALID_H
#define CONCERT_VALID_H

#include <stddef.h>
#include <stdint.h>

/* Canonical lowercase UUID: 8-4-4-4-12 hex digits. */
int valid_uuid(const char *s);

/* A positive decimal id without sign or leading zeros, fitting in int64.
 * Returns 0 and stores it, or -1. */
int valid_id(const char *s, int64_t *out);

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm), with real
 * calendar values. */
int valid_rfc3339(const char *s);

/* 1..64 printable ASCII characters (an Idempotency-Key). */
int valid_idempotency_key(const char *s);

/* Compares two strings in time that depends only on their lengths. */
int constant_time_equal(const char *a, const char *b);

#endif
