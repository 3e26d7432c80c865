/* digest.c - SHA-256 hex through libsodium (see digest.h). */
#include "digest.h"

#include <sodium.h>

void digest_hex(const char *text, size_t len, char out[DIGEST_HEX_LEN + 1])
{
    unsigned char sum[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(sum, (const unsigned char *)text, len);
    sodium_bin2hex(out, DIGEST_HEX_LEN + 1, sum, sizeof sum);
}
