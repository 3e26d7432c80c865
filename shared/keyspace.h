/* keyspace.h - the name of every Redis key the service uses, in one place.
 *
 * Each family of keys has one constructor here (or one constant, for the
 * keys of which there is one), and no other file writes a key's name;
 * docs/api.md ("Redis key layout") says what each key holds and how long,
 * for operators, and follows this table. Tests write the names out
 * themselves, on purpose: they check this file's output.
 *
 *   {c:C}:<queue key>          the waiting room of concert C: the fifteen
 *                              keys of enum queue_key (queue.h says what
 *                              each holds), passed to every queue script as
 *                              its KEYS in that order (shared/lua/lib/
 *                              queue_prelude.lua names them)
 *   {c:C}:shows                STRING the concert's shows on sale, as JSON
 *                              (showlist.h), kept a second
 *   {c:C}:seat:S:N             STRING owner of the lock of seat N of
 *                              schedule S (seatlock.h)
 *   {c:C}:seatmap:S            HASH   the seat map of schedule S (seatmap.h);
 *                              Redis's one copy of which seats are sold
 *   {c:C}:holds                HASH   the concert's holds by reservation id
 *   {c:C}:hold-ends            ZSET   their ids by end time (ms)
 *   {c:C}:hold-ends:S          ZSET   the same for schedule S's holds
 *   {c:C}:hold-seq             STRING the counter hold ids are made from
 *   {c:C}:mine:S               HASH   per user of schedule S: seats bought
 *                              and held, for the per-user limit
 *   {c:C}:loading:<key>        STRING who reads the concert's <key> (its
 *                              seat map, its mine hash) from PostgreSQL
 *   {c:C}:reservation-events   STREAM the concert's reservation events
 *   {c:C}:user-holds           HASH   per user: their holds' ids, newest
 *                              first (hold.h says what each of these holds)
 *   {user:U}:hold-concerts     SET    the concerts user U has held seats
 *                              of (their {c:C}:user-holds to read)
 *   concert:hold-streams       SET    the names of the concerts'
 *                              {c:C}:reservation-events, for the relay
 *   session:<H>                STRING a session's userId, then the ids of
 *                              the queue tokens taken with it; H = SHA-256
 *                              of the session, hex (session.h)
 *   {session:<H>}:tokens       SET    more such ids, past the value's eight
 *   {session:<H>}:ending       SET    token ids a logout has still to end
 *   {login}:failures:address:<A>                 the failed-login counters
 *   {login}:failures:account:<H>:address:<A>     (login_limit.h); H = SHA-256
 *   {login}:failures:account:<H>                 of the email, A = address
 *   reservation-events, payment-events   STREAM the outbox's topics, written
 *                              by concert-relay (sql/050_events.sql)
 *   {<topic>}:published        STRING the last relay batch in that stream
 *   concert:relay:published    STRING the relays' marker before batches
 *                              (read once on upgrade, then deleted)
 *   concert:cron:lock          STRING the cron run's lock (its owner)
 *   concert:cron:reconcile     STRING the cron's SCAN cursor over the locks
 *
 * Hash slots. A Lua script may only touch keys of one hash slot on Redis
 * Cluster, and the test stack's Redis refuses anything else (rds.c loads
 * every script with a "#!lua" line), so the keys one script touches share
 * a hash tag (the part in braces, which alone picks the slot):
 *   - everything of concert C is tagged {c:C}: a queue script takes all
 *     fifteen queue keys at once, a seat lock is taken in the same script
 *     as the token's check ({c:C}:active, :tokens), the hold length
 *     ({c:C}:conf) and the seat map's sold seats ({c:C}:seatmap:S), the
 *     seat map's mark moves the locks' end;
 *   - a session's side sets are tagged with the session key's whole name,
 *     so {session:<H>}:tokens lands in the slot of session:<H> (whose name
 *     has no braces: its slot is its whole name), and the logout script
 *     ends the session and moves its tokens atomically;
 *   - the three failed-login counters are tagged {login}: one script counts
 *     an attempt in all three (they all land on one node; a login is rare
 *     enough for that);
 *   - a stream's marker is tagged with the stream's name, so a pipeline's
 *     XADDs and its marker land on one node and one copy of Redis either
 *     has both or lost both (relay.c);
 *   - the cron keys stand alone (plain commands only, and the unlock
 *     script takes just the lock).
 * A key of the concert family therefore never moves to another tag: a
 * script would then touch two slots and fail on every call.
 *
 * On a Redis Cluster of several primaries (rds.h's cluster mode) the tags
 * are also what spreads the load, and what must stay together:
 *   - a concert's keys all live on one primary, the owner of {c:C}'s slot;
 *     concerts spread over the primaries by their ids, and a concert moves
 *     to another primary with its slot (README: adding a shard);
 *   - a session lives in the slot of its own key, session:<H>, with its
 *     side sets: sessions spread over every primary, a user's requests
 *     touch the session's primary and the concert's;
 *   - the failed-login counters all share the one slot of {login}: one
 *     primary counts every login attempt;
 *   - each outbox stream shares a slot with its marker (the relay's
 *     pipeline writes both); the two streams are in two slots, so the
 *     relay's pipeline is sent command by command on a cluster;
 *   - the cron's lock and cursor need not share a slot (no command takes
 *     both); its walk over seat locks and sold sets (SCAN) visits every
 *     primary in turn;
 *   - a script takes its KEYS in one slot, and rds.c sends it to the slot
 *     of the first (rds_cluster.h). */
#ifndef CONCERT_KEYSPACE_H
#define CONCERT_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

/* Room for any key of a concert ({c:<int64>}:seat:<int64>:<int> and
 * shorter), with its NUL. */
#define KEYSPACE_CONCERT_KEY_SIZE 96

/* A concert's queue keys, in the order every queue script takes them as
 * KEYS (KEYS[QUEUE_KEY_x + 1] in Lua). */
enum queue_key {
    QUEUE_KEY_CONF,        /* {c:C}:conf */
    QUEUE_KEY_WAITING,     /* {c:C}:waiting */
    QUEUE_KEY_SEEN,        /* {c:C}:seen */
    QUEUE_KEY_ACTIVE,      /* {c:C}:active */
    QUEUE_KEY_TOKENS,      /* {c:C}:tokens */
    QUEUE_KEY_USERS,       /* {c:C}:users */
    QUEUE_KEY_SEQ,         /* {c:C}:seq */
    QUEUE_KEY_ADMITS,      /* {c:C}:admits */
    QUEUE_KEY_RECENT,      /* {c:C}:recent */
    QUEUE_KEY_PRE,         /* {c:C}:pre */
    QUEUE_KEY_OPENED,      /* {c:C}:opened */
    QUEUE_KEY_ADMISSIONS,  /* {c:C}:admissions */
    QUEUE_KEY_EVENTS,      /* {c:C}:queue-events */
    QUEUE_KEY_EVENT_SEQ,   /* {c:C}:event-seq */
    QUEUE_KEY_LOGGED_OUT,  /* {c:C}:logged-out */
    QUEUE_NKEYS
};

/* One of concert_id's queue keys. */
void keyspace_queue(char *out, size_t size, int64_t concert_id, enum queue_key which);

/* {c:C}:shows */
void keyspace_shows(char *out, size_t size, int64_t concert_id);

/* {c:C}:seat:S:N */
void keyspace_seat_lock(char *out, size_t size, int64_t concert_id, int64_t schedule_id, int seat_no);

/* {c:C}:seatmap:S */
void keyspace_seatmap(char *out, size_t size, int64_t concert_id, int64_t schedule_id);

/* A concert's hold keys (hold.h), passed to the hold scripts in this
 * order. */
enum hold_key {
    HOLD_KEY_HOLDS,        /* {c:C}:holds */
    HOLD_KEY_ENDS,         /* {c:C}:hold-ends */
    HOLD_KEY_SEQ,          /* {c:C}:hold-seq */
    HOLD_KEY_EVENTS,       /* {c:C}:reservation-events */
    HOLD_KEY_USERS,        /* {c:C}:user-holds */
    HOLD_NKEYS
};
void keyspace_hold(char *out, size_t size, int64_t concert_id, enum hold_key which);

/* {c:C}:hold-ends:S: the show's holds by end, so that a load of its seat
 * map walks its own live holds, not every one of the concert's. */
void keyspace_hold_show_ends(char *out, size_t size, int64_t concert_id, int64_t schedule_id);

/* {c:C}:loading:<what>, what a key of the concert less its tag: the
 * claim of the one process that reads it from PostgreSQL (hold.c). */
void keyspace_loading(char *out, size_t size, int64_t concert_id, const char *key);

/* {c:C}:mine:S */
void keyspace_hold_mine(char *out, size_t size, int64_t concert_id, int64_t schedule_id);

/* {user:U}:hold-concerts */
void keyspace_hold_concerts(char *out, size_t size, const char *user_id);

/* The SCAN pattern that finds every seat lock and seat map (and a few
 * more keys, {c:C}:seen, :seq and :shows, which seatlock_parse_key skips),
 * and the words seatlock_parse_key reads them by. */
#define KEYSPACE_SEAT_SCAN_MATCH "{c:*}:s*"
#define KEYSPACE_CONCERT_TAG "{c:"
#define KEYSPACE_SEAT_LOCK_WORD "}:seat:"
#define KEYSPACE_SEATMAP_WORD "}:seatmap:"

/* The SCAN pattern of every concert's queue stream. */
#define KEYSPACE_QUEUE_EVENTS_MATCH "{c:*}:queue-events"
/* The set that names the concerts' reservation streams at once (a
 * concert's first hold adds its stream). */
#define KEYSPACE_HOLD_STREAMS "concert:hold-streams"

/* session:<H>, H the hex SHA-256 of the session (digest.h). */
#define KEYSPACE_SESSION_PREFIX "session:"
void keyspace_session(char *out, size_t size, const char *session_hex);

/* {<session key>}:<what>, what "tokens" or "ending". */
void keyspace_session_side(char *out, size_t size, const char *session_key, const char *what);

/* The failed-login counters: an address's, an email's (hex SHA-256) from
 * that address, and the email's from everywhere. */
void keyspace_login_address(char *out, size_t size, const char *address);
void keyspace_login_email_address(char *out, size_t size, const char *email_hex, const char *address);
void keyspace_login_email(char *out, size_t size, const char *email_hex);
/* The longest of their fixed parts ("{login}:failures:account:" and
 * ":address:"), for sizing. */
#define KEYSPACE_LOGIN_FIXED_LEN 34

/* The outbox's streams (the topics of sql/050_events.sql) and the marker
 * beside each one. */
#define KEYSPACE_STREAM_RESERVATIONS "reservation-events"
#define KEYSPACE_STREAM_PAYMENTS "payment-events"
void keyspace_stream_marker(char *out, size_t size, const char *stream);
#define KEYSPACE_RELAY_OLD_MARKER "concert:relay:published"

#define KEYSPACE_CRON_LOCK "concert:cron:lock"
#define KEYSPACE_CRON_RECONCILE "concert:cron:reconcile"

#endif
