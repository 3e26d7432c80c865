/* 2p-queue-memory: a waiting user costs Redis at most about a kilobyte,
 * session included (issue 27: a million waiting in 1,000 MB).
 *
 * The story: a concert with activeLimit 1 takes a crowd of USERS users,
 * each with a session of their own, each given a token through the front
 * end: one ACTIVE, the rest WAITING. What Redis keeps for them, by its own
 * MEMORY USAGE (each key's value, name and entry in the keyspace), comes
 * to at most MAX_BYTES_PER_USER a user: the line's keys, the queue's event
 * stream, and every user's session with whatever it keeps of its tokens.
 * Each structure's share is shown, and how much used_memory grew (less
 * the clients' buffers), which also counts the keyspace's tables and, on
 * this one-node cluster, its slot index, and moves with whatever else the
 * stack's programs do meanwhile. At a few thousand the line's sets and
 * hashes are in the same encodings as at a million (skiplists and hash
 * tables), so the share a user holds scales.
 *
 * Then what a session keeps of its tokens, in its own value: Zoe takes
 * tokens for ten concerts with one session. Her session's value is her
 * userId and the first eight ids; the other two are in the session's
 * overflow set; she still gets her own tokens back, and her logout ends
 * all ten (each 401 afterwards). */
#include "tap.h"
#include "testlib.h"
#include "keyspace.h"
#include "session.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 3000
#define MAX_BYTES_PER_USER 1000
#define ZOE_CONCERTS 10

/* Redis's used_memory without what its clients' buffers hold at the
 * moment (the responders' connections, not the users). */
static long long data_memory(void)
{
    const char *info[] = {"INFO", "memory"};
    struct redisReply *r = t_redis(2, info);
    const char *used = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "\nused_memory:") : NULL;
    const char *clients = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "\nmem_clients_normal:") : NULL;
    long long bytes = used && clients ? atoll(strchr(used, ':') + 1) - atoll(strchr(clients, ':') + 1) : -1;

    freeReplyObject(r);
    return bytes;
}

static long long key_bytes(const char *key)
{
    const char *usage[] = {"MEMORY", "USAGE", key, "SAMPLES", "0"};

    return t_redis_int(5, usage);
}

int main(void)
{
    static char users[USERS][37];
    static const char *const parts[] = {"waiting", "seen", "tokens", "users", "queue-events"};
    char key[160], zoe[37], *zoe_tokens[ZOE_CONCERTS];
    int64_t concert, zoe_concerts[ZOE_CONCERTS];
    long long before, after, held = 0;
    int issued = 0, waiting = 0;

    t_init();
    t_use_config();
    plan(8);

    step("a crowd of 3,000, each with a session and a token");
    concert = t_create_concert_or_bail(1, 600, 900, 300, 1, 10, 1000, NULL);
    before = data_memory();
    for (int i = 0; i < USERS; i++) {
        struct t_resp r;
        char *tok;
        t_user(users[i]);
        tok = t_issue_token(concert, users[i], &r);
        if (tok && r.status == 201)
            issued++;
        if (tok && strcmp(t_json_str(r.json, "status"), "WAITING") == 0)
            waiting++;
        free(tok);
        t_resp_free(&r);
    }
    after = data_memory();
    is_int(issued, USERS, "every user got a new token (201)");
    is_int(waiting, USERS - 1, "all but the first wait in line");

    step("what Redis holds for them");
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        long long bytes;
        snprintf(key, sizeof key, "{c:%" PRId64 "}:%s", concert, parts[k]);
        bytes = key_bytes(key);
        held += bytes > 0 ? bytes : 0;
        diag("%-13s %5lld bytes a user", parts[k], bytes / USERS);
    }
    {
        long long sessions = 0;
        for (int i = 0; i < USERS; i++) {
            char skey[SESSION_KEY_SIZE], side[SESSION_KEY_SIZE + 16];
            long long set;
            session_key(t_session(users[i]), skey);
            keyspace_session_side(side, sizeof side, skey, "tokens");
            set = key_bytes(side);
            sessions += key_bytes(skey) + (set > 0 ? set : 0);
        }
        held += sessions;
        diag("%-13s %5lld bytes a user (its key and any set of its tokens)", "session", sessions / USERS);
    }
    diag("used_memory (less the clients' buffers) grew %lld bytes for %d users: %lld a user",
         after - before, USERS, (after - before) / USERS);
    ok(held / USERS <= MAX_BYTES_PER_USER, "Redis keeps %lld bytes a waiting user, at most %d", held / USERS,
       MAX_BYTES_PER_USER);

    step("a session that takes tokens for ten concerts");
    t_user(zoe);
    {
        int got = 0, same = 0;
        for (int i = 0; i < ZOE_CONCERTS; i++) {
            struct t_resp r;
            zoe_concerts[i] = t_create_concert_or_bail(5, 600, 900, 300, 1, 10, 1000, NULL);
            zoe_tokens[i] = t_issue_token(zoe_concerts[i], zoe, &r);
            got += zoe_tokens[i] && r.status == 201;
            t_resp_free(&r);
        }
        is_int(got, ZOE_CONCERTS, "Zoe has a token for each concert");
        for (int i = 0; i < ZOE_CONCERTS; i++) {
            struct t_resp r;
            char *again = t_issue_token(zoe_concerts[i], zoe, &r);
            same += again && zoe_tokens[i] && r.status == 200 && strcmp(again, zoe_tokens[i]) == 0;
            free(again);
            t_resp_free(&r);
        }
        is_int(same, ZOE_CONCERTS, "asking again gives her the same ten (200), none kept twice");
    }
    {
        char skey[SESSION_KEY_SIZE], side[SESSION_KEY_SIZE + 16];
        const char *get[] = {"GET", skey}, *card[] = {"SCARD", side};
        struct redisReply *v;
        int ids = 0;
        session_key(t_session(zoe), skey);
        keyspace_session_side(side, sizeof side, skey, "tokens");
        v = t_redis(2, get);
        if (v && v->type == REDIS_REPLY_STRING && strncmp(v->str, zoe, 36) == 0)
            for (const char *p = v->str + 36; (p = strchr(p, ',')); p++)
                ids++;
        freeReplyObject(v);
        ok(ids == 8 && t_redis_int(2, card) == ZOE_CONCERTS - 8,
           "her session's value holds her userId and eight ids (%d), its overflow set the other two", ids);
    }
    {
        struct t_resp r;
        int ended = 0;
        t_delete("/api/v1/sessions/current", t_session(zoe), &r);
        is_int(r.status, 204, "Zoe logs out: 204");
        t_resp_free(&r);
        for (int i = 0; i < ZOE_CONCERTS; i++) {
            long http;
            t_poll(zoe_tokens[i], &http, NULL);
            ended += http == 401;
        }
        is_int(ended, ZOE_CONCERTS, "all ten of her tokens are ended: 401");
    }
    for (int i = 0; i < ZOE_CONCERTS; i++)
        free(zoe_tokens[i]);
    return done_testing();
}
