/* utc.c - RFC 3339 UTC text (see utc.h). */
#include "utc.h"

/* The contract's time format. SQL's utc_text and the queue's Lua (events'
 * occurredAt) write the same; t/8a-audit.sh checks that they do. */
#define UTC_FORMAT "%Y-%m-%dT%H:%M:%SZ"

void utc_text(time_t t, char out[UTC_TEXT_SIZE])
{
    struct tm tm;

    if (!gmtime_r(&t, &tm) || strftime(out, UTC_TEXT_SIZE, UTC_FORMAT, &tm) == 0) {
        t = 0;
        gmtime_r(&t, &tm);
        strftime(out, UTC_TEXT_SIZE, UTC_FORMAT, &tm);
    }
}

int64_t utc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
