/* rds_link.c - the Redis clients' clock and their one rule for servers
 * that did not answer lately (see rds_link.h); the connection helpers are
 * in rds.c. */
#include "rds_link.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

long long rds_link_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The entry of host:port, or -1; those older than RDS_LINK_SILENT_MS are
 * forgotten on the way. */
static int silent_index(struct rds_link_silent *s, const char *host, int port, long long now)
{
    for (int i = 0; i < s->n;) {
        if (now - s->entry[i].since_ms >= RDS_LINK_SILENT_MS) {
            s->entry[i] = s->entry[--s->n];
            continue;
        }
        if (s->entry[i].addr.port == port && strcmp(s->entry[i].addr.host, host) == 0)
            return i;
        i++;
    }
    return -1;
}

void rds_link_note_silent(struct rds_link_silent *s, const char *host, int port)
{
    long long now = rds_link_now_ms();
    int i = silent_index(s, host, port, now);

    if (i < 0) {
        if (s->n == RDS_LINK_SILENT_MAX)
            return;
        i = s->n++;
        snprintf(s->entry[i].addr.host, sizeof s->entry[i].addr.host, "%s", host);
        s->entry[i].addr.port = port;
    }
    s->entry[i].since_ms = now;
}

void rds_link_note_answered(struct rds_link_silent *s, const char *host, int port)
{
    int i = silent_index(s, host, port, rds_link_now_ms());

    if (i >= 0)
        s->entry[i] = s->entry[--s->n];
}

int rds_link_silent_lately(struct rds_link_silent *s, const char *host, int port)
{
    return silent_index(s, host, port, rds_link_now_ms()) >= 0;
}

void rds_link_ask_order(struct rds_link_silent *s, const struct rds_link_addr *addr, int n, int first, int *order)
{
    long long now = rds_link_now_ms();
    int k = 0;

    /* Who is silent is settled once, before anyone is asked: the caller
     * notes the answers as it goes. */
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < n; j++) {
            int i = (first + j) % n;

            if ((silent_index(s, addr[i].host, addr[i].port, now) >= 0) == pass)
                order[k++] = i;
        }
    }
}
