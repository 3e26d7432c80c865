/* booking.c - int-array texts and what Redis is told of a cancellation
 * (see booking.h). */
#include "booking.h"
#include "db.h"
#include "log.h"
#include "seatlock.h"
#include "seatmap.h"
#include "valid.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int booking_array_text(const int *v, int n, char *out, size_t cap)
{
    size_t used = 0;

    if (cap < 3)
        return -1;
    out[used++] = '{';
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + used, cap - used, i ? ",%d" : "%d", v[i]);
        if (w < 0 || (size_t)w >= cap - used)
            return -1;
        used += (size_t)w;
    }
    if (used + 2 > cap)
        return -1;
    out[used++] = '}';
    out[used] = '\0';
    return 0;
}

int booking_array_parse(const char *text, int *out, int max)
{
    const char *p = text;
    int n = 0;

    if (!p || *p++ != '{')
        return -1;
    if (*p == '}')
        return p[1] == '\0' ? 0 : -1;
    for (;;) {
        char *end;
        long v;

        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno || v < INT_MIN || v > INT_MAX || n == max)
            return -1;
        out[n++] = (int)v;
        p = end;
        if (*p == '}')
            return p[1] == '\0' ? n : -1;
        if (*p++ != ',')
            return -1;
    }
}

void booking_tell_cancelled(const PGresult *res, int row, int64_t reservation_id)
{
    int seats[SEATLOCK_MAX];
    int owner = PQfnumber(res, "locks_owner"), concert = PQfnumber(res, "locks_concert");
    int schedule = PQfnumber(res, "locks_schedule"), seat_nos = PQfnumber(res, "locks_seats");
    int64_t concert_id, schedule_id;
    int n;

    if (owner < 0 || concert < 0 || schedule < 0 || seat_nos < 0 || row >= PQntuples(res) ||
        valid_id(PQgetvalue(res, row, concert), &concert_id) < 0 ||
        valid_id(PQgetvalue(res, row, schedule), &schedule_id) < 0 ||
        (n = booking_array_parse(PQgetvalue(res, row, seat_nos), seats, SEATLOCK_MAX)) < 1) {
        log_error("cancel: the result names no seats (the locks run out by themselves, the seat map is right"
                  " within a second)");
        return;
    }
    /* A hold made without Redis locks has no owner to release. */
    if (!PQgetisnull(res, row, owner) &&
        seatlock_release(concert_id, schedule_id, seats, n, PQgetvalue(res, row, owner)) < 0)
        log_error("cancel: could not release seat locks (they run out by themselves)");
    if (seatmap_mark(concert_id, schedule_id, 'A', 0, reservation_id, NULL, seats, n) < 0)
        log_error("cancel: the seat map was not told (PostgreSQL's view is back within a second)");
}
