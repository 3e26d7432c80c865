/* keyspace.c - the Redis keys' names (see keyspace.h). */
#include "keyspace.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void keyspace_queue(char *out, size_t size, int64_t concert_id, enum queue_key which)
{
    static const char *const names[QUEUE_NKEYS] = {
        [QUEUE_KEY_CONF] = "conf",
        [QUEUE_KEY_WAITING] = "waiting",
        [QUEUE_KEY_SEEN] = "seen",
        [QUEUE_KEY_ACTIVE] = "active",
        [QUEUE_KEY_TOKENS] = "tokens",
        [QUEUE_KEY_USERS] = "users",
        [QUEUE_KEY_SEQ] = "seq",
        [QUEUE_KEY_ADMITS] = "admits",
        [QUEUE_KEY_RECENT] = "recent",
        [QUEUE_KEY_PRE] = "pre",
        [QUEUE_KEY_OPENED] = "opened",
        [QUEUE_KEY_ADMISSIONS] = "admissions",
        [QUEUE_KEY_EVENTS] = "queue-events",
        [QUEUE_KEY_EVENT_SEQ] = "event-seq",
        [QUEUE_KEY_LOGGED_OUT] = "logged-out",
    };

    snprintf(out, size, "{c:%" PRId64 "}:%s", concert_id, names[which]);
}

void keyspace_shows(char *out, size_t size, int64_t concert_id)
{
    snprintf(out, size, "{c:%" PRId64 "}:shows", concert_id);
}

void keyspace_seat_lock(char *out, size_t size, int64_t concert_id, int64_t schedule_id, int seat_no)
{
    snprintf(out, size, "{c:%" PRId64 "}:seat:%" PRId64 ":%d", concert_id, schedule_id, seat_no);
}

void keyspace_seatmap(char *out, size_t size, int64_t concert_id, int64_t schedule_id)
{
    snprintf(out, size, "{c:%" PRId64 "}:seatmap:%" PRId64, concert_id, schedule_id);
}

void keyspace_hold(char *out, size_t size, int64_t concert_id, enum hold_key which)
{
    /* In enum hold_key's order. */
    static const char *const names[HOLD_NKEYS] = {"holds", "hold-ends", "hold-seq", "reservation-events",
                                                  "user-holds"};

    snprintf(out, size, "{c:%" PRId64 "}:%s", concert_id, names[which]);
}

void keyspace_hold_show_ends(char *out, size_t size, int64_t concert_id, int64_t schedule_id)
{
    snprintf(out, size, "{c:%" PRId64 "}:hold-ends:%" PRId64, concert_id, schedule_id);
}

void keyspace_loading(char *out, size_t size, int64_t concert_id, const char *key)
{
    const char *untagged = strstr(key, "}:");

    snprintf(out, size, "{c:%" PRId64 "}:loading:%s", concert_id, untagged ? untagged + 2 : key);
}

void keyspace_hold_mine(char *out, size_t size, int64_t concert_id, int64_t schedule_id)
{
    snprintf(out, size, "{c:%" PRId64 "}:mine:%" PRId64, concert_id, schedule_id);
}

void keyspace_hold_concerts(char *out, size_t size, const char *user_id)
{
    snprintf(out, size, "{user:%s}:hold-concerts", user_id);
}

void keyspace_session(char *out, size_t size, const char *session_hex)
{
    snprintf(out, size, KEYSPACE_SESSION_PREFIX "%s", session_hex);
}

void keyspace_session_side(char *out, size_t size, const char *session_key, const char *what)
{
    snprintf(out, size, "{%s}:%s", session_key, what);
}

void keyspace_login_address(char *out, size_t size, const char *address)
{
    snprintf(out, size, "{login}:failures:address:%s", address);
}

void keyspace_login_email_address(char *out, size_t size, const char *email_hex, const char *address)
{
    snprintf(out, size, "{login}:failures:account:%s:address:%s", email_hex, address);
}

void keyspace_login_email(char *out, size_t size, const char *email_hex)
{
    snprintf(out, size, "{login}:failures:account:%s", email_hex);
}

void keyspace_stream_marker(char *out, size_t size, const char *stream)
{
    snprintf(out, size, "{%s}:published", stream);
}
