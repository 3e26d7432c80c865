/* contract_limits.h - the contract's numbers, each written once for C: how
 * many seats a user may hold, how long what is kept a day is kept, and the
 * bounds of a concert's settings (POST and PATCH of the admin API, and the
 * config file's defaults for them).
 *
 * SQL, the seat map's and queue's Lua, the booking page's JavaScript and
 * the web servers' configuration cannot include this file, so they keep
 * copies of their own: t/8a-audit.sh reads both sides and fails when a copy
 * differs from this file. Change a number here and there together. */
#ifndef CONCERT_CONTRACT_LIMITS_H
#define CONCERT_CONTRACT_LIMITS_H

/* Seats one user may hold or have bought on one schedule (HOLD_LIMIT), and
 * so the most one hold can take (SQL: seats_per_user_max()). */
#define SEATS_PER_USER_MAX 4

/* Idempotency-Keys are kept, and events stay in their streams, this long
 * (SQL: kept_for()). */
#define RETAIN_SECONDS 86400

/* A number as a string literal, for messages: LIMIT_TEXT(SEATS_PER_USER_MAX)
 * is "4". */
#define LIMIT_TEXT(n) LIMIT_TEXT_(n)
#define LIMIT_TEXT_(n) #n

/* A concert's settings, one row each: the SQL column in capitals (its CHECK
 * in sql/ has the same bounds), the API field, and the inclusive bounds.
 * Write the bounds as plain decimal numbers: the audit reads them. */
#define CONCERT_SETTINGS(X) \
    X(ACTIVE_LIMIT,         "activeLimit",        1,  1000000)    \
    X(ACTIVE_SECONDS,       "activeSeconds",      10, 86400)      \
    X(WAITING_IDLE_SECONDS, "waitingIdleSeconds", 10, 86400)      \
    X(HOLD_SECONDS,         "holdSeconds",        1,  3600)       \
    X(ADMISSION_PER_MINUTE, "admissionPerMinute", 1,  1000000)    \
    X(SEAT_COUNT,           "seatCount",          1,  1000)       \
    X(PRICE,                "price",              0,  1000000000)

#define CONCERT_SETTING_ENUM_(column, field, min, max) SETTING_##column,
enum concert_setting { CONCERT_SETTINGS(CONCERT_SETTING_ENUM_) CONCERT_SETTING_COUNT };

struct setting_bounds {
    const char *field;   /* the API's name for it */
    long min, max;
};

/* Indexed by enum concert_setting. */
extern const struct setting_bounds concert_settings[CONCERT_SETTING_COUNT];

#endif
