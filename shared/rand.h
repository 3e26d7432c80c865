/* rand.h - unguessable identifiers from the kernel's random source. */
#ifndef CONCERT_RAND_H
#define CONCERT_RAND_H

#include <stddef.h>

/* Fills out with 2*nbytes lowercase hex digits and a NUL (out must hold
 * 2*nbytes+1 bytes). Returns 0, or -1 when getrandom fails. */
int rand_hex(char *out, size_t nbytes);

#endif
