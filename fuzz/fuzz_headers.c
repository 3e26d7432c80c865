/* fuzz_headers: what the responders take from request headers and the URI
 * line: the bearer token of Authorization, the queue token inside it
 * (queue_token_concert), Idempotency-Key, CONTENT_LENGTH and the path part
 * of REQUEST_URI. Input: "<authorization>\n<idempotency key>\n<content
 * length>\n<uri>". */
#include "fuzz.h"
#include "queue.h"
#include "valid.h"

#include <ctype.h>
#include <inttypes.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[4];
    const char *tok;
    int64_t concert = -7;
    struct request r;
    const char *key;
    long long cl;
    char *path;

    fuzz_fields(data, size, 4, f, NULL);

    /* Authorization: Bearer <token> */
    tok = http_bearer_of(f[0]);
    if (tok) {
        FUZZ_CHECK(tok >= f[0] + 7 && tok < f[0] + strlen(f[0]));
        FUZZ_CHECK(strncasecmp(f[0], "Bearer ", 7) == 0);
        FUZZ_CHECK(*tok && *tok != ' ');
        for (const char *p = f[0] + 7; p < tok; p++)
            FUZZ_CHECK(*p == ' ');
    } else {
        FUZZ_CHECK(strncasecmp(f[0], "Bearer ", 7) != 0 || strspn(f[0] + 7, " ") == strlen(f[0] + 7));
    }

    /* The queue token id: "<concertId>.<22 base64url characters>", or the
     * older "<concertId>.<32 lowercase hex>". */
    if (queue_token_concert(tok ? tok : f[0], &concert) == 0) {
        const char *t = tok ? tok : f[0];
        const char *dot = strchr(t, '.');
        char back[100];
        size_t n = dot ? strlen(dot + 1) : 0;
        FUZZ_CHECK(concert > 0 && dot && (n == QUEUE_TOKEN_RANDOM_LEN || n == 32) && strlen(t) <= QUEUE_TOKEN_MAX);
        for (const char *p = dot + 1; *p; p++)
            FUZZ_CHECK(n == 32 ? isdigit((unsigned char)*p) || (*p >= 'a' && *p <= 'f')
                               : isalnum((unsigned char)*p) || *p == '-' || *p == '_');
        snprintf(back, sizeof back, "%" PRId64 ".%s", concert, dot + 1);
        FUZZ_CHECK(strcmp(back, t) == 0);
    } else {
        FUZZ_CHECK(concert == -7);
    }

    /* Idempotency-Key through the request helper: a 400 or the key itself. */
    if (fuzz_request(&r, "POST", "/", "", f[1], "", 0) < 0)
        abort();
    key = (const char *)1;
    if (http_idempotency_key(&r, &key) == 0) {
        FUZZ_CHECK(!r.answered);
        FUZZ_CHECK(f[1][0] ? (key == f[1] && valid_idempotency_key(key)) : key == NULL);
    } else {
        FUZZ_CHECK(r.answered && r.status == 400 && !valid_idempotency_key(f[1]));
    }
    http_free_request(&r);

    /* CONTENT_LENGTH: a number >= 0 only for a plain decimal text. */
    cl = http_content_length(f[2]);
    FUZZ_CHECK(cl >= -1);
    if (cl >= 0) {
        const char *p = f[2];
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '+' || *p == '-')
            p++;
        FUZZ_CHECK(*p && strspn(p, "0123456789") == strlen(p));
    }

    /* REQUEST_URI: the path is everything before the first '?'. */
    path = http_path_of(f[3]);
    FUZZ_CHECK(path != NULL);
    FUZZ_CHECK(strlen(path) == strcspn(f[3], "?") && strncmp(path, f[3], strlen(path)) == 0);
    free(path);

    fuzz_free_fields(4, f);
    return 0;
}
