/* login_limit.h - failed-login limits per client address, per email from
 * one address, and per email from all addresses.
 *
 * Counted in Redis so every responder instance agrees, in fixed windows
 * (lengths and maxima from the config file):
 *   - address: at most login_address_max_failures failed logins from one
 *     address, whatever the email;
 *   - email from an address: at most login_email_max_failures for one email
 *     from one address;
 *   - email from all addresses: once login_account_max_failures have failed
 *     for one email from anywhere, an address that has already failed for
 *     that email is refused, and an address that has not still gets its
 *     attempt. So failures sent from elsewhere never refuse the owner who
 *     comes from an address that has not failed, and guessing spread over
 *     many addresses gets one guess per address once the email's own
 *     allowance is spent.
 * Past any of them, a login is refused with 429 and Retry-After (what is
 * left of the window that refuses it) before its password is checked, so a
 * limited client costs no Argon2 work. An email is counted in the one form
 * that stores and finds the account (account.h), so no other spelling of an
 * email has a budget of its own.
 *
 * An IPv4 address counts as itself (an IPv4-mapped IPv6 address as its IPv4
 * address); an IPv6 address counts as its /64, since one host or one
 * subscriber is commonly given a whole /64 and could otherwise take a new
 * address, and a new allowance, for every few guesses.
 *
 * A login takes an attempt from every counter before its password is
 * checked, in one atomic script, so concurrent guesses cannot all slip
 * through before the first failure is counted. A login that succeeds, or
 * that could not check the password at all (an outage), gives its attempt
 * back: only failures stay counted. Nothing is ever reset by a success.
 *
 * Keys (plain strings with the window as TTL), all in the hash slot of
 * "{login}" because one script counts in all three; every counter of every
 * login sits on one node of a Redis Cluster then, which Argon2's cost keeps
 * far from being a load. <H> is the SHA-256 hex of the email's stored form
 * (no email is kept), <A> the address as counted:
 *   {login}:failures:address:<A>
 *   {login}:failures:account:<H>:address:<A>
 *   {login}:failures:account:<H> */
#ifndef CONCERT_LOGIN_LIMIT_H
#define CONCERT_LOGIN_LIMIT_H

/* Room for the longest address as counted: an IPv6 text (INET6_ADDRSTRLEN
 * with its NUL) and "/64". */
#define LOGIN_LIMIT_ADDRESS_SIZE 50

typedef enum {
    LOGIN_LIMIT_OK = 0,     /* an attempt was taken: go on and check the password */
    LOGIN_LIMIT_REACHED,    /* 429; *retry_after holds the seconds to wait */
    LOGIN_LIMIT_DOWN        /* Redis unreachable: 503 */
} login_limit_rc;

/* Writes the form REMOTE_ADDR is counted under into out: an IPv4 address
 * in dotted-quad form, an IPv6 address's /64 as "<prefix>::/64", and
 * "unknown" for NULL or anything that is not an IP address. */
void login_limit_address(const char *address, char out[LOGIN_LIMIT_ADDRESS_SIZE]);

/* Takes one attempt for (email, address). email is in its stored form;
 * address is REMOTE_ADDR, counted as login_limit_address says. */
login_limit_rc login_limit_take(const char *email, const char *address, long *retry_after);

/* Gives back the attempt login_limit_take took (the login did not fail).
 * An outage here only leaves the attempt counted until the window ends. */
void login_limit_give_back(const char *email, const char *address);

#endif
