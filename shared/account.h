/* account.h - the rules for what a client sends to sign up and log in.
 *
 * Pure functions (no I/O), so unit tests and the fuzz targets call them
 * directly. Lengths count characters (UTF-8 code points), as the contract
 * does; the request body is already known to be valid UTF-8 without NUL.
 *
 * An email is stored, looked up and rate-limited in one form: its ASCII
 * letters lowercased, everything else as sent. */
#ifndef CONCERT_ACCOUNT_H
#define CONCERT_ACCOUNT_H

#include <stddef.h>

#define ACCOUNT_EMAIL_MIN 3
#define ACCOUNT_EMAIL_MAX 254
#define ACCOUNT_PASSWORD_MIN 10
#define ACCOUNT_PASSWORD_MAX 128
/* The most bytes those characters can take in UTF-8. */
#define ACCOUNT_EMAIL_MAX_BYTES (ACCOUNT_EMAIL_MAX * 4)
#define ACCOUNT_PASSWORD_MAX_BYTES (ACCOUNT_PASSWORD_MAX * 4)

/* Characters (UTF-8 code points) in s[0..len). */
size_t account_chars(const char *s, size_t len);

/* Checks an email as sent: 3..254 characters, exactly one '@' with
 * something on both sides, no space or control character. On success
 * writes its stored form into out and returns NULL; otherwise returns what
 * is wrong, as the end of a sentence that starts with "email". */
const char *account_email_normalize(const char *email, size_t len,
                                    char out[ACCOUNT_EMAIL_MAX_BYTES + 1]);

/* Checks a password: 10..128 characters, any characters. Returns NULL, or
 * what is wrong as account_email_normalize does. */
const char *account_password_problem(const char *password, size_t len);

#endif
