/* fuzz_validators: every validator of valid.h against an independent
 * reference written differently (regex, timegm, wide arithmetic), so a
 * validator that accepts what it should refuse, or the reverse, is a crash.
 * Input: "<a>\n<b>"; the validators run on a, constant_time_equal on a, b. */
#include "fuzz.h"
#include "valid.h"

#include <inttypes.h>
#include <regex.h>
#include <time.h>

static regex_t rfc3339_re;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (regcomp(&rfc3339_re,
                "^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                "(\\.[0-9]{1,9})?([Zz]|[-+]([0-9]{2}):([0-9]{2}))$",
                REG_EXTENDED) != 0)
        abort();
    return 0;
}

static int ref_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", s[i]) || !s[i]) {
            return 0;
        }
    }
    return 1;
}

static int ref_id(const char *s, int64_t *out)
{
    __int128 n = 0;
    size_t len = strlen(s);

    if (len == 0 || len > 19 || s[0] == '0')
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    if (n > INT64_MAX)
        return -1;
    *out = (int64_t)n;
    return 0;
}

static int num(const char *s, const regmatch_t *m)
{
    int v = 0;
    for (regoff_t i = m->rm_so; i < m->rm_eo; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int ref_rfc3339(const char *s)
{
    regmatch_t m[11];
    struct tm tm, back;
    time_t t;

    if (regexec(&rfc3339_re, s, 11, m, 0) != 0)
        return 0;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = num(s, &m[1]) - 1900;
    tm.tm_mon = num(s, &m[2]) - 1;
    tm.tm_mday = num(s, &m[3]);
    tm.tm_hour = num(s, &m[4]);
    tm.tm_min = num(s, &m[5]);
    tm.tm_sec = num(s, &m[6]);
    if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 59)
        return 0;
    /* timegm normalises 30 February into March: a real date comes back
     * unchanged. */
    t = timegm(&tm);
    if (!gmtime_r(&t, &back) || back.tm_mday != num(s, &m[3]) || back.tm_mon != num(s, &m[2]) - 1)
        return 0;
    if (m[9].rm_so >= 0 && (num(s, &m[9]) > 23 || num(s, &m[10]) > 59))
        return 0;
    return 1;
}

static int ref_key(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[2];
    int64_t a = -7, b = -7;
    int ra, rb;

    fuzz_fields(data, size, 2, f, NULL);

    FUZZ_CHECK(!valid_uuid(f[0]) == !ref_uuid(f[0]));

    ra = valid_id(f[0], &a);
    rb = ref_id(f[0], &b);
    FUZZ_CHECK((ra == 0) == (rb == 0));
    if (ra == 0) {
        char back[32];
        FUZZ_CHECK(a == b && a > 0);
        snprintf(back, sizeof back, "%" PRId64, a);
        FUZZ_CHECK(strcmp(back, f[0]) == 0);
    } else {
        FUZZ_CHECK(a == -7);   /* nothing stored on failure */
    }

    FUZZ_CHECK(!valid_rfc3339(f[0]) == !ref_rfc3339(f[0]));
    FUZZ_CHECK(!valid_idempotency_key(f[0]) == !ref_key(f[0]));
    FUZZ_CHECK(!constant_time_equal(f[0], f[1]) == !(strcmp(f[0], f[1]) == 0));

    fuzz_free_fields(2, f);
    return 0;
}
