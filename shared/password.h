/* password.h - password hashes: Argon2id through libsodium.
 *
 * A hash is libsodium's self-describing text ("$argon2id$v=19$m=19456,t=2,
 * p=1$<salt>$<hash>"), so it carries its own cost and salt and needs no
 * other column. The cost of new hashes comes from the config file
 * (password_ops_limit passes over password_mem_kib KiB); a stored hash made
 * with other settings is redone at the next successful login.
 *
 * These functions never copy, keep or log a password; the caller wipes its
 * own copies (sodium_memzero) once it is done. */
#ifndef CONCERT_PASSWORD_H
#define CONCERT_PASSWORD_H

#include <stddef.h>
#include <sodium.h>

#define PASSWORD_HASH_SIZE crypto_pwhash_STRBYTES   /* text and its NUL */

/* The configured cost: ops_limit passes over mem_kib KiB (the config's
 * password_ops_limit and password_mem_kib), set once at start-up
 * (app_setup); new hashes are made at it and stored ones checked against
 * it. */
void password_set_cost(long ops_limit, long mem_kib);

/* Hashes password[0..len) at the configured cost with a fresh random salt.
 * Returns 0, or -1 when the memory for it could not be had. */
int password_hash(const char *password, size_t len, char out[PASSWORD_HASH_SIZE]);

/* 1 when password[0..len) matches the stored hash, 0 when it does not (or
 * the stored text is not a hash). */
int password_verify(const char *stored, const char *password, size_t len);

/* For a login whose email has no account: the same work as
 * password_verify (one verify at the configured cost, against a hash of
 * fixed salt and digest that no password has), so the answer takes about as
 * long as for a wrong password. Always 0. */
int password_verify_nobody(const char *password, size_t len);

/* 1 when the stored hash was made with other settings than the configured
 * ones (or with another algorithm) and should be made again. */
int password_needs_rehash(const char *stored);

#endif
