/* login_limit.h - failed-login limits per email and per client address.
 *
 * Counted in Redis so every responder instance agrees, in fixed windows:
 * at most login_email_max_failures failed logins for one email in
 * login_email_window_seconds, and login_address_max_failures from one
 * address in login_address_window_seconds (config file). Past either, a
 * login is refused with 429 and Retry-After (what is left of the window)
 * before its password is checked, so a limited client costs no Argon2 work.
 *
 * A login takes an attempt from both allowances before its password is
 * checked, in one atomic script, so concurrent guesses cannot all slip
 * through before the first failure is counted. A login that succeeds, or
 * that could not check the password at all (an outage), gives its attempt
 * back: only failures stay counted. Nothing is ever reset by a success.
 *
 * Keys (plain strings with the window as TTL), both in the hash slot of
 * "{login}" because one script counts in both; every counter of every login
 * sits on one node of a Redis Cluster then, which Argon2's cost keeps far
 * from being a load:
 *   {login}:failures:email:<SHA-256 hex of the stored-form email>
 *   {login}:failures:address:<client address> */
#ifndef CONCERT_LOGIN_LIMIT_H
#define CONCERT_LOGIN_LIMIT_H

typedef enum {
    LOGIN_LIMIT_OK = 0,     /* an attempt was taken: go on and check the password */
    LOGIN_LIMIT_REACHED,    /* 429; *retry_after holds the seconds to wait */
    LOGIN_LIMIT_DOWN        /* Redis unreachable: 503 */
} login_limit_rc;

/* Takes one attempt for (email, address). email is in its stored form;
 * address is REMOTE_ADDR (NULL or something that is not an IP address
 * counts as the address "unknown"). */
login_limit_rc login_limit_take(const char *email, const char *address, long *retry_after);

/* Gives back the attempt login_limit_take took (the login did not fail).
 * An outage here only leaves the attempt counted until the window ends. */
void login_limit_give_back(const char *email, const char *address);

#endif
