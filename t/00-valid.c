/* 00-valid: the validators that stand between clients and everything else
 * accept exactly the documented forms. */
#include <string.h>

#include "tap.h"
#include "valid.h"
#include "queue.h"

int main(void)
{
    int64_t id = 0;

    plan(33);
    ok(valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"), "canonical uuid accepted");
    ok(!valid_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"), "uppercase uuid refused");
    ok(!valid_uuid("0f8fad5bd9cb469fa16570867728950e"), "uuid without dashes refused");
    ok(!valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950"), "short uuid refused");
    ok(!valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950e0"), "long uuid refused");
    ok(!valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950g"), "non-hex uuid refused");
    ok(!valid_uuid(""), "empty uuid refused");

    ok(valid_id("1", &id) == 0 && id == 1, "id 1");
    ok(valid_id("9223372036854775807", &id) == 0 && id == INT64_MAX, "largest id");
    ok(valid_id("9223372036854775808", &id) < 0, "id past int64 refused");
    ok(valid_id("0", &id) < 0, "id 0 refused");
    ok(valid_id("-1", &id) < 0, "negative id refused");
    ok(valid_id("+1", &id) < 0, "signed id refused");
    ok(valid_id("01", &id) < 0, "leading zero refused");
    ok(valid_id("1a", &id) < 0, "trailing junk refused");
    ok(valid_id("", &id) < 0, "empty id refused");

    ok(valid_rfc3339("2026-12-24T19:30:00Z"), "utc time");
    ok(valid_rfc3339("2026-12-24T19:30:00.123+09:00"), "fraction and offset");
    ok(!valid_rfc3339("2026-02-30T19:30:00Z"), "30 February refused");
    ok(valid_rfc3339("2028-02-29T00:00:00Z") && !valid_rfc3339("2027-02-29T00:00:00Z"), "leap years");
    ok(!valid_rfc3339("2026-12-24 19:30:00Z"), "space separator refused");
    ok(!valid_rfc3339("2026-12-24T19:30:00"), "missing zone refused");
    ok(!valid_rfc3339("2026-12-24T24:00:00Z"), "hour 24 refused");

    ok(valid_idempotency_key("a") && !valid_idempotency_key(""), "idempotency key length lower bound");
    ok(!valid_idempotency_key("0123456789012345678901234567890123456789012345678901234567890123x"),
       "65-character key refused");
    ok(!valid_idempotency_key("a\tb"), "control character refused");

    ok(constant_time_equal("secret-key", "secret-key") && !constant_time_equal("secret-kez", "secret-key") &&
       !constant_time_equal("secret", "secret-key"), "constant-time compare");

    ok(queue_token_concert("42.Az09-_Az09-_Az09-_Az09", &id) == 0 && id == 42, "token id names its concert");
    ok(queue_token_concert("42.Az09-_Az09-_Az09-_Az0.", &id) < 0 && queue_token_concert("42.Az09+/Az09-_Az09-_Az09", &id) < 0,
       "token id with a character outside base64url refused");
    {
        char made[QUEUE_TOKEN_ID_MAX + 1];
        ok(queue_token_new_id(42, made) == 0 && strlen(made) == 3 + QUEUE_TOKEN_RANDOM_LEN &&
           queue_token_concert(made, &id) == 0 && id == 42,
           "a new token id is the concert and 22 characters, under Redis's 32-byte allocation (%s)", made);
    }
    ok(queue_token_concert("42.0123456789abcdef0123456789abcdef", &id) == 0 && id == 42,
       "token id of the older form (32 hex digits) still names its concert");
    ok(queue_token_concert("42.0123456789ABCDEF0123456789abcdef", &id) < 0, "older form with uppercase refused");
    ok(queue_token_concert("0.0123456789abcdef0123456789abcdef", &id) < 0 &&
       queue_token_concert("42.0123", &id) < 0, "token with bad concert or short random refused");
    return done_testing();
}
