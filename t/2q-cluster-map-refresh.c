/* 2q-cluster-map-refresh: what asking for the slot map costs when listed
 * nodes do not answer, against the test stack's three-primary cluster.
 *
 * A node whose host is cut off or stalled accepts nothing or accepts a
 * connection and never answers: each one asked costs a timeout. Stand-ins
 * here are sockets of this test that listen and never answer (the kernel
 * completes the connection; CLUSTER SLOTS waits forever). The refresh asks
 * those that did not answer lately after the others, each address once,
 * and gives up on the whole within one timeout: a command never waits
 * for every silent node in turn. And a keyless WAIT after a write goes to
 * the primary that took the write (its replicas are what it counts). */
#include "tap.h"
#include "testlib.h"
#include "rds.h"
#include "rds_cluster.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 400

static int nports, ports[T_CLUSTER_MAX];
static char nodes[256];

/* A socket on 127.0.0.1 that takes connections and never answers: its
 * port (the socket stays open until the test ends). */
static int silent_listener(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        bail_out("no listening socket");
    return ntohs(a.sin_port);
}

/* A context over the listed nodes; bails out when none can be made. */
static struct rds *context(const char *list)
{
    struct rds *r = rds_new(NULL, 0, TIMEOUT_MS);

    if (!r || rds_set_cluster(r, list, NULL) < 0)
        bail_out("no cluster context");
    return r;
}

/* SET key through r: the ms it took; *ok whether it answered OK. */
static long timed_set(struct rds *r, const char *key, int *ok)
{
    const char *argv[] = {"SET", key, "v"};
    double t0 = t_now_s();
    redisReply *reply = rds_command_on(r, 3, argv, NULL);

    *ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (reply)
        freeReplyObject(reply);
    return (long)((t_now_s() - t0) * 1000);
}

int main(void)
{
    char list[512];
    struct rds *r;
    long took;
    int good, silent[3];

    t_init();
    nports = t_cluster_ports(ports, nodes);
    if (nports < 3)
        skip_all("no three-primary cluster (CONCERT_CLUSTER_PORTS)");
    plan(6);
    for (int i = 0; i < 3; i++)
        silent[i] = silent_listener();

    step("only silent nodes listed: a command gives up within one timeout per refresh");
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", silent[0], silent[1], silent[2]);
    r = context(list);
    took = timed_set(r, "t2q:{a}", &good);
    /* Two refreshes at most (before the command, then for want of a map),
     * each within TIMEOUT_MS; one node after the other would be six. */
    ok(!good && rds_last_error(r) == RDS_UNREACHABLE && took < 2 * TIMEOUT_MS + 300,
       "three silent nodes: 503-able failure in %ld ms (each refresh within %d ms)", took, TIMEOUT_MS);
    rds_free(r);

    step("silent nodes listed first: asked after those that answer");
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d,%s", silent[0], silent[1], nodes);
    r = context(list);
    took = timed_set(r, "t2q:{b}", &good);
    /* The first refresh spends its time on the two silent nodes, half each;
     * the second asks them last, so a live node answers at once. */
    ok(good && took < TIMEOUT_MS + 300, "the first command, with no map yet, took %ld ms (one timeout is %d)",
       took, TIMEOUT_MS);
    took = timed_set(r, "t2q:{c}", &good);
    ok(good && took < 100, "the next took %ld ms", took);
    rds_free(r);

    step("the same address listed twice is asked once");
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d,%s", silent[2], silent[2], silent[2],
             nodes);
    r = context(list);
    took = timed_set(r, "t2q:{d}", &good);
    ok(good && took < TIMEOUT_MS + 300, "one silent node listed three times cost %ld ms, not three timeouts", took);
    rds_free(r);

    step("a WAIT after a write goes to the primary that took it");
    {
        const char *key = "t2q:{wait}";
        const char *wait_argv[] = {"WAIT", "0", "0"};
        int owner = t_cluster_owner(rds_cluster_key_slot(key, strlen(key)), ports[0]), moved_elsewhere = 0;
        long before[T_CLUSTER_MAX];
        redisReply *reply;

        r = context(nodes);
        for (int i = 0; i < nports; i++)
            before[i] = t_node_calls(ports[i], "wait");
        timed_set(r, key, &good);
        reply = rds_command_on(r, 3, wait_argv, NULL);
        ok(good && reply && reply->type == REDIS_REPLY_INTEGER, "SET, then WAIT 0 0 answered");
        if (reply)
            freeReplyObject(reply);
        for (int i = 0; i < nports; i++)
            if (ports[i] != owner)
                moved_elsewhere += t_node_calls(ports[i], "wait") != before[i];
        for (int i = 0; i < nports; i++)
            if (ports[i] == owner)
                good = t_node_calls(ports[i], "wait") == before[i] + 1;
        ok(good && moved_elsewhere == 0, "the WAIT ran on %d, the key's primary, and on no other node", owner);
        rds_free(r);
    }
    return done_testing();
}
