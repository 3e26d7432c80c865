/* 15-forbidden: only a user can act as that user.
 *
 * The story: Bob has charged his balance and waits in a concert's queue. Someone with nothing but Bob's userId tries every door
 * that names a user - the queue token (a "userId" in the body), Bob's
 * balance, a charge to it, his reservation list - first with no session,
 * then with a made-up one, a malformed one, a queue token in its place, a
 * session that has ended (logout) and one whose TTL ran out: each is 401
 * (TOKEN_MISSING without a header, else SESSION_INVALID). Then Alice, with
 * a good session of her own, asks for Bob's: each is 403 FORBIDDEN, also
 * with an Idempotency-Key on the charge. Nothing changed: Bob's balance,
 * his ledger, the keys remembered, the queue (no token issued to anyone,
 * Bob's place and token the same). With their own sessions both are
 * served. */
#include "tap.h"
#include "testlib.h"
#include "rand.h"
#include "session.h"

#include <inttypes.h>
#include <stdio.h>

static int64_t concert;
static char bob[37], alice[37];

/* The four "(session)" requests about `whose`, with the bearer `session`
 * (NULL: no Authorization header): each must answer `status` with `code`. */
static void each_door(const char *session, const char *whose, long status, const char *code, const char *how)
{
    static const char *const doors[] = {"POST token", "GET balance", "POST charge", "GET reservations"};
    char path[160], body[160], auth[200];
    const char *headers[] = {auth, "Idempotency-Key: forbidden-door", NULL};
    struct t_resp r;

    for (int d = 0; d < 4; d++) {
        switch (d) {
        case 0:
            snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 "}", whose, concert);
            t_post("/api/v1/queue/tokens", session, body, &r);
            break;
        case 1:
            snprintf(path, sizeof path, "/api/v1/users/%s/balance", whose);
            t_get(path, session, &r);
            break;
        case 2:
            snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", whose);
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", session ? session : "");
            t_request("POST", path, session ? headers : headers + 1, "{\"amount\":1000}", &r);
            break;
        default:
            snprintf(path, sizeof path, "/api/v1/users/%s/reservations", whose);
            t_get(path, session, &r);
            break;
        }
        ok(r.status == status && strcmp(t_error_code(&r), code) == 0, "%s, %s: %ld %s (%ld %.120s)", doors[d], how,
           status, code, r.status, r.body ? r.body : "");
        t_resp_free(&r);
    }
}

static int64_t queue_size(const char *which)
{
    char key[64];
    const char *zcard[] = {"ZCARD", key};

    snprintf(key, sizeof key, "{c:%" PRId64 "}:%s", concert, which);
    return t_redis_int(2, zcard);
}

static int64_t bob_int(const char *sql)
{
    const char *p[] = {bob};
    return t_pg_int(sql, 1, p);
}

int main(void)
{
    char carol[37], dave[37], made_up[SESSION_TEXT_LEN + 1], key[SESSION_KEY_SIZE], path[160], body[160];
    char *bob_token, *alice_token, *first;
    const char *pexpire[] = {"PEXPIRE", key, "1"};
    int64_t sched[1], balance, ledger, keys, waiting, active, bob_position;
    struct t_resp r;

    t_init();
    concert = t_create_concert_or_bail(1, 600, 600, 300, 1, 10, 1000, sched);
    t_user(bob);
    t_user(alice);
    {
        char someone[37];
        t_user(someone);
        first = t_active_token(concert, someone);   /* the one active slot */
    }
    snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", bob);
    t_post_as(bob, path, "{\"amount\":5000}", &r);
    ok(r.status == 200, "Bob charges 5000 with his session (%ld)", r.status);
    t_resp_free(&r);
    bob_token = t_issue_token(concert, bob, &r);
    bob_position = t_json_int(r.json, "position");
    ok(r.status == 201 && bob_position == 1, "Bob waits first in line (%ld, position %" PRId64 ")", r.status,
       bob_position);
    t_resp_free(&r);
    balance = bob_int("SELECT balance FROM users WHERE id = $1::uuid");
    ledger = bob_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid");
    keys = bob_int("SELECT count(*) FROM idempotency_keys WHERE owner = $1");
    waiting = queue_size("waiting");
    active = queue_size("active");

    /* --- 401: no session, or none that is live ---------------------------- */
    each_door(NULL, bob, 401, "TOKEN_MISSING", "no Authorization header");
    if (rand_hex(made_up, SESSION_BYTES) < 0)
        bail_out("getrandom failed");
    each_door(made_up, bob, 401, "SESSION_INVALID", "a made-up session");
    each_door("not-a-session", bob, 401, "SESSION_INVALID", "a malformed session");
    each_door(bob_token, bob, 401, "SESSION_INVALID", "Bob's queue token as the session");

    t_user(carol);
    {
        char session[SESSION_TEXT_LEN + 1];
        snprintf(session, sizeof session, "%s", t_session(carol));
        t_delete("/api/v1/sessions/current", session, &r);
        ok(r.status == 204, "Carol logs out (%ld)", r.status);
        t_resp_free(&r);
        each_door(session, carol, 401, "SESSION_INVALID", "a session ended by logout");
    }

    t_user(dave);
    session_key(t_session(dave), key);
    ok(t_redis_int(3, pexpire) == 1, "Dave's session is left to run out (its TTL cut to 1 ms)");
    t_sleep_ms(50);
    each_door(t_session(dave), dave, 401, "SESSION_INVALID", "a session whose TTL ran out");

    /* --- 403: a live session, another user -------------------------------- */
    each_door(t_session(alice), bob, 403, "FORBIDDEN", "Alice's session for Bob");

    /* --- nothing changed -------------------------------------------------- */
    is_int(bob_int("SELECT balance FROM users WHERE id = $1::uuid"), balance, "Bob's balance is unchanged");
    is_int(bob_int("SELECT count(*) FROM balance_ledger WHERE user_id = $1::uuid"), ledger, "his ledger too");
    is_int(bob_int("SELECT count(*) FROM idempotency_keys WHERE owner = $1"), keys, "no Idempotency-Key remembered");
    is_int(queue_size("waiting"), waiting, "the queue has no new waiting token");
    is_int(queue_size("active"), active, "and no new active one");
    bob_token = bob_token ? bob_token : strdup("");
    {
        char *again = t_issue_token(concert, bob, &r);
        ok(r.status == 200 && again && strcmp(again, bob_token) == 0 && t_json_int(r.json, "position") == bob_position,
           "Bob, with his session: 200, the same token and place");
        t_resp_free(&r);
        free(again);
    }

    /* --- with their own sessions, both are served ------------------------- */
    alice_token = t_issue_token(concert, alice, &r);
    ok(r.status == 201 && alice_token && t_json_int(r.json, "position") == 2,
       "Alice, with hers: 201, a first token of her own, behind Bob (%ld)", r.status);
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 "}", alice, concert);
    t_post_as(alice, "/api/v1/queue/tokens", body, &r);
    ok(r.status == 200, "naming herself in the body is fine: 200 (%ld)", r.status);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/users/%s/balance", bob);
    t_get_as(bob, path, &r);
    ok(r.status == 200 && t_json_int(r.json, "balance") == balance, "Bob reads his balance: 200, %" PRId64, balance);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/users/%s/reservations", bob);
    t_get_as(bob, path, &r);
    ok(r.status == 200 && t_json_at(r.json, "reservations"), "and his reservation list: 200");
    t_resp_free(&r);
    free(first);
    free(bob_token);
    free(alice_token);
    return done_testing();
}
