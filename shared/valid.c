/* valid.c - input validators (see valid.h). */
#include "valid.h"

#include <string.h>

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int valid_uuid(const char *s)
{
    static const int dash_at[] = {8, 13, 18, 23};
    size_t d = 0;

    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (d < 4 && i == dash_at[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!is_lower_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

int valid_id(const char *s, int64_t *out)
{
    int64_t n = 0;

    if (!s || *s < '1' || *s > '9')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (n > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        n = n * 10 + (*s - '0');
    }
    *out = n;
    return 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int valid_rfc3339(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh, om;
    size_t i;

    if (!s || strlen(s) < 20)
        return 0;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
        return 0;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return 0;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
        return 1;
    if ((s[i] == '+' || s[i] == '-') && !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
        !digits(s + i + 4, 2, &om) && s[i + 6] == '\0')
        return oh <= 23 && om <= 59;
    return 0;
}

int valid_idempotency_key(const char *s)
{
    size_t n;

    if (!s)
        return 0;
    n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    }
    return 1;
}

int constant_time_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);

    /* Walk the expected string's length whatever the input is, so the time
     * taken says nothing about how much of it matched. */
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)((i < la ? (unsigned char)a[i] : 0) ^ (unsigned char)b[i]);
    return diff == 0;
}
