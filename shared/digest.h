/* digest.h - SHA-256 as lowercase hex, for Redis keys that must not hold
 * the secret or personal text they are derived from (a session, an email). */
#ifndef CONCERT_DIGEST_H
#define CONCERT_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* Writes the SHA-256 of text[0..len) as 64 hex digits and a NUL. */
void digest_hex(const char *text, size_t len, char out[DIGEST_HEX_LEN + 1]);

#endif
