/* password.c - Argon2id hashing and verification (see password.h). */
#include "password.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static long password_ops_limit, password_mem_kib;

void password_set_cost(long ops_limit, long mem_kib)
{
    password_ops_limit = ops_limit;
    password_mem_kib = mem_kib;
}

static unsigned long long password_ops(void)
{
    return (unsigned long long)password_ops_limit;
}

static size_t password_mem_bytes(void)
{
    return (size_t)password_mem_kib * 1024u;
}

/* The stored text in a buffer of libsodium's fixed size: libsodium reads a
 * hash as a crypto_pwhash_STRBYTES array, so a shorter string straight from
 * PostgreSQL is copied into one first. 0, or -1 when it cannot be a hash. */
static int password_stored(const char *stored, char out[PASSWORD_HASH_SIZE])
{
    size_t len = stored ? strlen(stored) : 0;

    if (len == 0 || len >= PASSWORD_HASH_SIZE)
        return -1;
    memset(out, 0, PASSWORD_HASH_SIZE);
    memcpy(out, stored, len);
    return 0;
}

int password_hash(const char *password, size_t len, char out[PASSWORD_HASH_SIZE])
{
    if (crypto_pwhash_str(out, password, len, password_ops(), password_mem_bytes()) != 0) {
        log_error("password hash: out of memory (%ld KiB)", password_mem_kib);
        return -1;
    }
    return 0;
}

/* What password_verify_nobody checks against: a well-formed Argon2id hash
 * at the configured cost whose salt and digest are fixed and belong to no
 * password (verifying runs the whole hash, then compares). Built at each
 * call from the configured cost, so it needs no work at start-up and no
 * first request pays for making it. */
static int password_nobody_hash(char out[PASSWORD_HASH_SIZE])
{
    int n;

    memset(out, 0, PASSWORD_HASH_SIZE);
    n = snprintf(out, PASSWORD_HASH_SIZE, "$argon2id$v=19$m=%ld,t=%ld,p=1$%s$%s", password_mem_kib,
                 password_ops_limit, "bm8gYWNjb3VudCBoZXJlLg",
                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    return n > 0 && (size_t)n < PASSWORD_HASH_SIZE ? 0 : -1;
}

int password_verify(const char *stored, const char *password, size_t len)
{
    char hash[PASSWORD_HASH_SIZE];

    if (password_stored(stored, hash) < 0)
        return 0;
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

int password_verify_nobody(const char *password, size_t len)
{
    char hash[PASSWORD_HASH_SIZE];

    /* The work is what counts here; the outcome is always "no account". */
    if (password_nobody_hash(hash) == 0 && crypto_pwhash_str_verify(hash, password, len) == 0)
        log_error("password: a login matched the hash of no account");
    return 0;
}

int password_needs_rehash(const char *stored)
{
    char hash[PASSWORD_HASH_SIZE];

    if (password_stored(stored, hash) < 0)
        return 1;
    /* libsodium answers 1 for other settings and for argon2i, -1 for text
     * it cannot read: all three are worth a new hash. */
    return crypto_pwhash_str_needs_rehash(hash, password_ops(), password_mem_bytes()) != 0;
}
