/* 21-queue-tokens: a user asks for a queue token, and asks again.
 *
 * The story: the first request for (user, concert) is 201 with a fresh
 * token of the contract's shape (ACTIVE at once when the concert has room:
 * position 0 and an expiresAt activeSeconds ahead); asking again is 200 with
 * the very same token and place, and a status poll says the same. Another
 * user waiting behind a full concert gets position 1, expiresAt null and an
 * estimate. Tokens are 128 random bits and differ per user; the concert's
 * facts are now cached in Redis for at most an hour. A body that names the
 * session's own user is the same request. Every malformed body (sent with a
 * good session, so that it is the body that is refused),
 * an unknown concert, a body over 16 KiB, wrong methods and unknown queue
 * paths all get the contract's JSON errors. */
#include "tap.h"
#include "testlib.h"

#include <inttypes.h>
#include <time.h>

/* The session the malformed bodies are sent with. */
static const char *sender;

static void bad_body(const char *body, const char *what)
{
    ok(t_answers_error("POST", "/api/v1/queue/tokens", sender, body, 400, "INVALID_REQUEST"), "400 INVALID_REQUEST: %s",
       what);
}

/* "<concertId>.<22 base64url characters>.<32 hex MAC>" (queue_token.h). */
static int is_token_of(const char *tok, int64_t concert_id)
{
    char prefix[32];
    size_t n;

    if (!tok)
        return 0;
    n = (size_t)snprintf(prefix, sizeof prefix, "%" PRId64 ".", concert_id);
    if (strncmp(tok, prefix, n) != 0 || strlen(tok) != n + 22 + 1 + 32 || tok[n + 22] != '.')
        return 0;
    return strspn(tok + n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 22 &&
           strspn(tok + n + 23, "0123456789abcdef") == 32;
}

int main(void)
{
    struct t_resp r, again;
    char alice[37], bob[37], body[256], key[64];
    char *tok_a, *tok_a2, *tok_b, *tok_b2;
    int64_t concert_id, other_id;
    long long now, exp;

    t_init();
    concert_id = t_create_concert_or_bail(1, 60, 600, 300, 1, 10, 1000, NULL);
    other_id = t_create_concert_or_bail(5, 60, 600, 300, 1, 10, 1000, NULL);
    t_user(alice);
    t_user(bob);
    sender = t_session(alice);

    /* --- first token: ACTIVE at once ------------------------------------ */
    tok_a = t_issue_token(concert_id, alice, &r);
    now = (long long)time(NULL);
    is_int(r.status, 201, "a new token: 201");
    ok(strncmp(r.content_type, "application/json", 16) == 0, "answer is JSON (%s)", r.content_type);
    ok(is_token_of(tok_a, concert_id), "token is <concertId>.<22 base64url>.<32 hex MAC> (%s)", tok_a ? tok_a : "null");
    is(t_json_str(r.json, "userId"), alice, "userId echoed");
    is_int(t_json_int(r.json, "concertId"), concert_id, "concertId echoed");
    is(t_json_str(r.json, "status"), "ACTIVE", "room in the concert: ACTIVE at once");
    is_int(t_json_int(r.json, "position"), 0, "an ACTIVE token's position is 0");
    is_int(t_json_int(r.json, "estimatedWaitSeconds"), 0, "an ACTIVE token waits 0 seconds");
    exp = t_utc_seconds(t_json_str(r.json, "expiresAt"));
    ok(exp >= now + 58 && exp <= now + 61, "expiresAt is activeSeconds (60) ahead (%s)",
       t_json_str(r.json, "expiresAt") ? t_json_str(r.json, "expiresAt") : "null");
    is_int(json_object_object_length(r.json), 9, "exactly the contract's nine fields (version 2: opensAt, pollAfterSeconds)");
    t_resp_free(&r);

    tok_a2 = t_issue_token(concert_id, alice, &r);
    is_int(r.status, 200, "the same user and concert again: 200");
    is(tok_a2, tok_a, "the same token comes back");
    is(t_json_str(r.json, "status"), "ACTIVE", "still ACTIVE");
    is_int(t_utc_seconds(t_json_str(r.json, "expiresAt")), exp, "the same expiresAt (no new active period)");
    t_resp_free(&r);
    free(tok_a2);

    t_get("/api/v1/queue/status", tok_a, &r);
    is_int(r.status, 200, "status poll: 200");
    is(t_json_str(r.json, "token"), tok_a, "status: same token");
    is(t_json_str(r.json, "userId"), alice, "status: userId");
    is_int(t_json_int(r.json, "concertId"), concert_id, "status: concertId");
    is(t_json_str(r.json, "status"), "ACTIVE", "status: ACTIVE");
    is_int(t_json_int(r.json, "position"), 0, "status: position 0");
    is_int(json_object_object_length(r.json), 9, "status has the same nine fields");
    t_resp_free(&r);

    /* --- a second user waits -------------------------------------------- */
    tok_b = t_issue_token(concert_id, bob, &r);
    is_int(r.status, 201, "second user: 201");
    ok(is_token_of(tok_b, concert_id) && tok_a && tok_b && strcmp(tok_a, tok_b) != 0, "second user: another token");
    is(t_json_str(r.json, "status"), "WAITING", "the concert is full (activeLimit 1): WAITING");
    is_int(t_json_int(r.json, "position"), 1, "first in line: position 1");
    ok(t_json_at(r.json, "expiresAt") == NULL && json_object_object_get_ex(r.json, "expiresAt", NULL),
       "expiresAt is null while WAITING");
    /* No user admitted after waiting yet: the slowest rate, activeLimit per
     * activeSeconds, so 1 place * 60 s / 1. */
    is_int(t_json_int(r.json, "estimatedWaitSeconds"), 60, "estimate before any admission: position * activeSeconds / activeLimit");
    t_resp_free(&r);
    tok_b2 = t_issue_token(concert_id, bob, &r);
    is_int(r.status, 200, "second user again: 200");
    is(tok_b2, tok_b, "same waiting token");
    is_int(t_json_int(r.json, "position"), 1, "same place");
    t_resp_free(&r);
    free(tok_b2);
    t_get("/api/v1/queue/status", tok_b, &again);
    ok(again.status == 200 && strcmp(t_json_str(again.json, "status") ? t_json_str(again.json, "status") : "", "WAITING") == 0 &&
       t_json_int(again.json, "position") == 1, "status poll of the waiting token: WAITING, position 1");
    t_resp_free(&again);

    /* The same user in another concert gets a separate token. */
    tok_b2 = t_issue_token(other_id, bob, &r);
    ok(r.status == 201 && is_token_of(tok_b2, other_id), "the same user in another concert: a new token of that concert");
    t_resp_free(&r);
    free(tok_b2);

    /* --- the concert cache ---------------------------------------------- */
    snprintf(key, sizeof key, "{c:%" PRId64 "}:conf", concert_id);
    {
        const char *ttl[] = {"TTL", key};
        const char *exists[] = {"HLEN", key};
        long long t = t_redis_int(2, ttl);
        ok(t_redis_int(2, exists) >= 3, "the concert's facts are cached in Redis (%s)", key);
        ok(t > 0 && t <= 3600, "the cache entry expires within an hour (TTL %lld)", t);
    }

    /* --- unknown concert ------------------------------------------------- */
    {
        char *tok = t_issue_token(INT64_MAX - 1, alice, &r);
        ok(r.status == 404 && strcmp(t_error_code(&r), "NOT_FOUND") == 0, "an unknown concert: 404 NOT_FOUND (%ld)", r.status);
        ok(tok == NULL, "no token for an unknown concert");
        t_resp_free(&r);
        free(tok);
        tok = t_issue_token(INT64_MAX - 1, alice, &r);
        ok(r.status == 404 && strcmp(t_error_code(&r), "NOT_FOUND") == 0, "again (from the cached miss): 404");
        t_resp_free(&r);
        free(tok);
        tok = t_issue_token(INT64_MAX, alice, &r);
        ok(r.status == 404 && strcmp(t_error_code(&r), "NOT_FOUND") == 0, "the largest 64-bit id is a well-formed id: 404");
        t_resp_free(&r);
        free(tok);
    }

    /* --- naming oneself ------------------------------------------------- */
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 "}", alice, concert_id);
    t_post_as(alice, "/api/v1/queue/tokens", body, &r);
    ok(r.status == 200 && tok_a && t_json_str(r.json, "token") && strcmp(t_json_str(r.json, "token"), tok_a) == 0,
       "a body naming the session's own user: 200, the same token (%ld)", r.status);
    t_resp_free(&r);

    /* --- malformed bodies ------------------------------------------------ */
    snprintf(body, sizeof body, "{\"userId\":\"%s\"}", alice);
    bad_body(body, "no concertId");
    bad_body("{}", "an empty object");
    bad_body("", "no body");
    bad_body("{\"userId\":", "cut-off JSON");
    bad_body("nonsense", "not JSON");
    bad_body("[1,2]", "an array");
    bad_body("\"text\"", "a string");
    bad_body("null", "null");
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 "} {}", alice, concert_id);
    bad_body(body, "two JSON values");
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 ",\"vip\":true}", alice, concert_id);
    bad_body(body, "an unknown field");
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":\"%" PRId64 "\"}", alice, concert_id);
    bad_body(body, "concertId as a string");
    snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 ".0}", alice, concert_id);
    bad_body(body, "concertId as 1.0");
    {
        /* concertId values that name no concert a token can be for. */
        static const struct { const char *value, *what; } ids[] = {
            {"0", "concertId 0"},
            {"-1", "a negative concertId"},
            {"99999999999999999999", "a concertId beyond 64 bits"},
            {"9223372036854775808", "concertId 2^63"},
            {"-99999999999999999999", "a concertId below -2^63"},
            {"null", "concertId null"},
        };
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%s}", alice, ids[i].value);
            bad_body(body, ids[i].what);
        }
    }
    snprintf(body, sizeof body, "{\"userId\":7,\"concertId\":%" PRId64 "}", concert_id);
    bad_body(body, "userId as a number");
    snprintf(body, sizeof body, "{\"userId\":\"not-a-uuid\",\"concertId\":%" PRId64 "}", concert_id);
    bad_body(body, "userId not a UUID");
    {
        char upper[37];
        strcpy(upper, "0F8FAD5B-D9CB-469F-A165-70867728950E");
        snprintf(body, sizeof body, "{\"userId\":\"%s\",\"concertId\":%" PRId64 "}", upper, concert_id);
        bad_body(body, "an upper-case UUID");
    }
    snprintf(body, sizeof body, "{\"userId\":\"0f8fad5bd9cb469fa16570867728950e\",\"concertId\":%" PRId64 "}", concert_id);
    bad_body(body, "a UUID without dashes");
    snprintf(body, sizeof body, "{\"userId\":\"{0f8fad5b-d9cb-469f-a165-70867728950e}\",\"concertId\":%" PRId64 "}", concert_id);
    bad_body(body, "a UUID in braces");
    snprintf(body, sizeof body, "{\"userId\":\"0f8fad5b-d9cb-469f-a165-70867728950\",\"concertId\":%" PRId64 "}", concert_id);
    bad_body(body, "a UUID one digit short");
    snprintf(body, sizeof body, "{\"userId\":\"0f8fad5b-d9cb-469f-a165-70867728950e \",\"concertId\":%" PRId64 "}", concert_id);
    bad_body(body, "a UUID with a trailing space");
    {
        static char big[16 * 1024 + 2];
        struct t_resp br;
        int n = snprintf(big, sizeof big, "{\"userId\":\"%s\",\"concertId\":%" PRId64 ",\"pad\":\"", alice, concert_id);
        memset(big + n, 'x', sizeof big - (size_t)n - 3);
        strcpy(big + sizeof big - 3, "\"}");
        t_post("/api/v1/queue/tokens", sender, big, &br);
        ok(br.status == 413 && strcmp(t_error_code(&br), "PAYLOAD_TOO_LARGE") == 0,
           "a body of 16 KiB + 1 byte: 413 PAYLOAD_TOO_LARGE (%ld, %zu bytes)", br.status, strlen(big));
        t_resp_free(&br);
    }
    {
        static char huge[64 * 1024];
        struct t_resp br;
        memset(huge, ' ', sizeof huge - 1);
        huge[0] = '{';
        huge[sizeof huge - 2] = '}';
        t_post("/api/v1/queue/tokens", NULL, huge, &br);
        ok(br.status == 413 && strcmp(t_error_code(&br), "PAYLOAD_TOO_LARGE") == 0,
           "a 64 KiB body: JSON 413 from the front end (%ld)", br.status);
        t_resp_free(&br);
    }

    /* --- methods and paths ----------------------------------------------- */
    ok(t_answers_405("GET", "/api/v1/queue/tokens", NULL, NULL, "POST"), "GET /api/v1/queue/tokens: 405, Allow: POST");
    ok(t_answers_405("POST", "/api/v1/queue/status", tok_a, "{}", "GET"), "POST /api/v1/queue/status: 405, Allow: GET");
    ok(t_answers_error("DELETE", "/api/v1/queue/tokens", tok_a, NULL, 405, "METHOD_NOT_ALLOWED"),
       "DELETE /api/v1/queue/tokens: 405");
    ok(t_answers_error("GET", "/api/v1/queue/whatever", tok_a, NULL, 404, "NOT_FOUND"), "unknown queue path: JSON 404");
    ok(t_answers_error("GET", "/api/v1/queue/status/extra", tok_a, NULL, 404, "NOT_FOUND"),
       "path below status: JSON 404");
    ok(t_answers_error("GET", "/api/v1/queue/", NULL, NULL, 404, "NOT_FOUND"), "the queue folder itself: JSON 404");

    free(tok_a);
    free(tok_b);
    return done_testing();
}
