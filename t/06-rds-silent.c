/* 06-rds-silent: the one rule both Redis clients (the Sentinel client and
 * the cluster's map refresh) follow for servers that did not answer
 * lately: asked last, in a second pass, in their own order, for
 * RDS_LINK_SILENT_MS after their last silence; answering, or that time
 * passing, puts them back in the first pass. */
#include "tap.h"
#include "rds_link.h"

#include <stdio.h>
#include <string.h>

/* The order as a string of indexes ("2013"), to compare at a glance. */
static const char *order_text(struct rds_link_silent *s, const struct rds_link_addr *addr, int n, int first)
{
    static char text[16];
    int order[8];

    rds_link_ask_order(s, addr, n, first, order);
    for (int i = 0; i < n; i++)
        text[i] = (char)('0' + order[i]);
    text[n] = '\0';
    return text;
}

int main(void)
{
    static struct rds_link_silent silent, full;
    const struct rds_link_addr addr[] = {{"10.0.0.1", 26379}, {"10.0.0.2", 26379}, {"10.0.0.3", 26379},
                                         {"/run/redis.sock", 0}};

    plan(10);
    is(order_text(&silent, addr, 4, 0), "0123", "none silent: asked in the given order");
    is(order_text(&silent, addr, 4, 2), "2301", "from the first to ask on, wrapping around");

    rds_link_note_silent(&silent, "10.0.0.2", 26379);
    rds_link_note_silent(&silent, "10.0.0.1", 26379);
    ok(rds_link_silent_lately(&silent, "10.0.0.2", 26379) && !rds_link_silent_lately(&silent, "10.0.0.2", 26380),
       "silent lately is per address: host and port");
    is(order_text(&silent, addr, 4, 0), "2301", "the silent ones last, in their own order");
    is(order_text(&silent, addr, 4, 1), "2310", "the second pass wraps from the first to ask as well");

    rds_link_note_answered(&silent, "10.0.0.1", 26379);
    is(order_text(&silent, addr, 4, 0), "0231", "one that answered is back in the first pass");

    /* Its silence RDS_LINK_SILENT_MS ago: forgotten. */
    silent.entry[0].since_ms = rds_link_now_ms() - RDS_LINK_SILENT_MS;
    ok(!rds_link_silent_lately(&silent, "10.0.0.2", 26379) && silent.n == 0,
       "a silence RDS_LINK_SILENT_MS old is forgotten");
    is(order_text(&silent, addr, 4, 0), "0123", "and the server asked in its place again");

    rds_link_note_silent(&silent, "/run/redis.sock", 0);
    rds_link_note_silent(&silent, "/run/redis.sock", 0);
    ok(silent.n == 1, "noted twice, kept once");

    for (int i = 0; i < RDS_LINK_SILENT_MAX + 5; i++) {
        char host[32];

        snprintf(host, sizeof host, "10.1.0.%d", i);
        rds_link_note_silent(&full, host, 6379);
    }
    ok(full.n == RDS_LINK_SILENT_MAX && !rds_link_silent_lately(&full, "10.1.0.84", 6379) &&
           rds_link_silent_lately(&full, "10.1.0.0", 6379),
       "a full table remembers no more (%d kept)", full.n);
    return done_testing();
}
