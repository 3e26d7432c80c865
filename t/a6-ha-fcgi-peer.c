/* a6-ha-fcgi-peer: on the several-hosts stack (./dev test --ha) the app
 * hosts' responders serve lb only.
 *
 * A FastCGI peer chooses every parameter, REMOTE_ADDR among them (the key
 * of the per-address login limit), and skips lb's limits: so a FastCGI
 * request for /healthz sent straight to app1's responder port, from the
 * machine (as another host on the network) and from the monitor's host,
 * gets no answer (a reset, or a closed connection), while the same
 * request through lb is served. */
#include "tap.h"
#include "testlib.h"
#include "faultlib.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A FastCGI record header for the request id 1. */
static size_t fcgi_header(unsigned char *b, int type, size_t len)
{
    b[0] = 1;
    b[1] = (unsigned char)type;
    b[2] = 0;
    b[3] = 1;
    b[4] = (unsigned char)(len >> 8);
    b[5] = (unsigned char)len;
    b[6] = 0;
    b[7] = 0;
    return 8;
}

static size_t fcgi_param(unsigned char *b, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);

    b[0] = (unsigned char)n;
    b[1] = (unsigned char)v;
    memcpy(b + 2, name, n);
    memcpy(b + 2 + n, value, v);
    return 2 + n + v;
}

/* GET /healthz over FastCGI to addr:port from this network namespace: 1
 * when the responder answered (a STDOUT record came back), 0 when it did
 * not (refused, reset, or closed), -1 when nothing could be tried. */
static int fcgi_served(const char *addr, int port)
{
    unsigned char req[512], params[256], reply[64];
    size_t n = 0, p = 0;
    struct sockaddr_in sa;
    struct pollfd pfd;
    int fd, served = 0;
    ssize_t got;

    p += fcgi_param(params + p, "REQUEST_METHOD", "GET");
    p += fcgi_param(params + p, "SCRIPT_NAME", "/healthz");
    p += fcgi_param(params + p, "REQUEST_URI", "/healthz");
    p += fcgi_param(params + p, "DOCUMENT_URI", "/healthz");
    p += fcgi_param(params + p, "REMOTE_ADDR", "203.0.113.7");
    p += fcgi_param(params + p, "SERVER_PROTOCOL", "HTTP/1.1");
    n += fcgi_header(req + n, 1, 8);   /* BEGIN_REQUEST: the responder role */
    memcpy(req + n, "\0\1\0\0\0\0\0\0", 8);
    n += 8;
    n += fcgi_header(req + n, 4, p);   /* PARAMS */
    memcpy(req + n, params, p);
    n += p;
    n += fcgi_header(req + n, 4, 0);
    n += fcgi_header(req + n, 5, 0);   /* STDIN, empty */

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return 0;
    }
    if (write(fd, req, n) != (ssize_t)n) {
        close(fd);
        return 0;
    }
    pfd.fd = fd;
    pfd.events = POLLIN;
    /* A record header whose type is STDOUT (6), or nothing within 3 s. */
    if (poll(&pfd, 1, 3000) == 1 && (got = read(fd, reply, sizeof reply)) >= 8)
        served = reply[1] == 6;
    close(fd);
    return served;
}

/* fcgi_served from inside another host's network namespace (a child that
 * joins it): the exit status says what it found. */
static int fcgi_served_from(const char *netns, const char *addr, int port)
{
    char path[128];
    pid_t pid;
    int status;

    snprintf(path, sizeof path, "/run/netns/%s", netns);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int r;
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(3);
        r = fcgi_served(addr, port);
        _exit(r < 0 ? 3 : r);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) > 1)
        return -1;
    return WEXITSTATUS(status);
}

int main(void)
{
    const char *app = getenv("CONCERT_HA_APP1");
    const char *prefix = getenv("CONCERT_HA_NETNS_PREFIX");
    char mon_ns[64];
    int port = getenv("CONCERT_HA_FCGI_PORT") ? atoi(getenv("CONCERT_HA_FCGI_PORT")) : 0;
    struct t_resp r;
    int from_machine, from_mon;
    long through_lb;

    f_require_ha();
    if (!app || !prefix || port <= 0)
        skip_all("needs CONCERT_HA_APP1, CONCERT_HA_NETNS_PREFIX and CONCERT_HA_FCGI_PORT (./dev test --ha)");
    snprintf(mon_ns, sizeof mon_ns, "%smon", prefix);
    plan(3);

    through_lb = t_get("/healthz", NULL, &r) == 0 ? (long)r.status : 0;
    ok(through_lb == 200, "through lb, app hosts answer /healthz (%ld)", through_lb);
    t_resp_free(&r);
    from_machine = fcgi_served(app, port);
    ok(from_machine == 0, "a FastCGI request from the machine straight to %s:%d gets no answer (%s)", app, port,
       from_machine == 1 ? "served" : from_machine == 0 ? "refused" : "not tried");
    from_mon = fcgi_served_from(mon_ns, app, port);
    ok(from_mon == 0, "one from the monitor's host gets none either (%s)",
       from_mon == 1 ? "served" : from_mon == 0 ? "refused" : "not tried");
    return done_testing();
}
