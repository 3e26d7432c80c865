/* utc.c - RFC 3339 UTC text (see utc.h). */
#include "utc.h"

void utc_text(time_t t, char out[UTC_TEXT_SIZE])
{
    struct tm tm;

    if (!gmtime_r(&t, &tm) || strftime(out, UTC_TEXT_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        t = 0;
        gmtime_r(&t, &tm);
        strftime(out, UTC_TEXT_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}
