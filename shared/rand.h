/* rand.h - unguessable identifiers and fair draws from the kernel's random
 * source. */
#ifndef CONCERT_RAND_H
#define CONCERT_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Fills out with nbytes from getrandom. Returns 0, or -1 when it fails. */
int rand_bytes(unsigned char *out, size_t nbytes);

/* Fills out with 2*nbytes lowercase hex digits and a NUL (out must hold
 * 2*nbytes+1 bytes). Returns 0, or -1 when getrandom fails. */
int rand_hex(char *out, size_t nbytes);

/* Puts items[0..n) in a uniformly random order (Fisher-Yates, every index
 * drawn from getrandom without bias). Returns 0, or -1 when getrandom
 * fails (the order is then partly shuffled). */
int rand_shuffle(const char **items, size_t n);

/* A uniform whole number in low..high. Returns 0, or -1 (getrandom failed,
 * or the range is empty or wider than 2^32). */
int rand_between(int64_t low, int64_t high, int64_t *out);

#endif
