/* 27-db-unknown: a statement whose answer is lost is never run twice.
 *
 * The story, told against db.c (the library every responder links) through a
 * small TCP proxy, a child of this test, between it and the stack's
 * PostgreSQL. When armed, the proxy passes the client's statement on, waits
 * for the server's whole answer (up to "ready for query", so the commit has
 * happened) and then closes the client's side without passing the answer
 * on: the connection broke after the commit. db_query answers DB_UNKNOWN and
 * the row is there once (the old db.c ran it again on a new connection: two
 * rows). The next statement gets a new connection and works. A connection
 * that breaks while a statement is only being prepared ran nothing, so that
 * statement goes to a new connection and runs once. An idle connection that
 * the proxy or the server closed (pg_terminate_backend) is noticed before
 * sending: the next statement runs once, with DB_OK, and no 503. The server
 * stopping a statement (57P01 while it runs) is a known outcome: nothing
 * committed, DB_UNAVAILABLE, and it is not run again. Reads may opt in to a
 * second run (db_read). The rows live in a table this test makes and drops. */
#include "tap.h"
#include "testlib.h"
#include "db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char insert_sql[] = "INSERT INTO db_outcome_probe (tag) VALUES ($1)";
static const char count_sql[] = "SELECT count(*) FROM db_outcome_probe WHERE tag = $1";

/* --- the proxy ------------------------------------------------------------ */

/* Commands, one byte each on the control pipe, acknowledged by the proxy
 * once applied. They act on the current (idle) connection. */
#define CUT_AFTER_EXECUTE 'E'   /* cut once the next executed statement is answered */
#define CUT_AFTER_ANSWER 'A'    /* cut once the next request of any kind is answered */
#define CLOSE_NOW 'C'           /* close the connection now, as a server may */
#define QUIT 'Q'

struct proxy {
    pid_t pid;
    int port;
    int ctl, ack;
};

/* Follows the message framing of one direction of the protocol (a type byte,
 * then a 4-byte length that counts itself), from a message boundary on. */
struct framer {
    unsigned char head[5];
    int nhead;
    uint32_t left;
};

/* Takes one byte; returns the type of the message it completes, or 0. */
static int framer_byte(struct framer *f, unsigned char c)
{
    if (f->nhead < 5) {
        f->head[f->nhead++] = c;
        if (f->nhead < 5)
            return 0;
        f->left = ((uint32_t)f->head[1] << 24 | (uint32_t)f->head[2] << 16 |
                   (uint32_t)f->head[3] << 8 | f->head[4]);
        f->left = f->left > 4 ? f->left - 4 : 0;
    } else {
        f->left--;
    }
    if (f->left > 0)
        return 0;
    f->nhead = 0;
    return f->head[0];
}

struct link {
    int client, server;
    char mode;              /* 0, CUT_AFTER_EXECUTE or CUT_AFTER_ANSWER */
    int executed;           /* the client sent Execute since arming */
    struct framer from_client, from_server;
};

static void link_drop(struct link *l)
{
    if (l->client >= 0)
        close(l->client);
    if (l->server >= 0)
        close(l->server);
    memset(l, 0, sizeof *l);
    l->client = l->server = -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int connect_upstream(const char *host, int port)
{
    int fd;

    if (host[0] == '/') {
        struct sockaddr_un a;

        memset(&a, 0, sizeof a);
        a.sun_family = AF_UNIX;
        if (snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.%d", host, port) >=
            (int)sizeof a.sun_path)
            return -1;
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            close(fd);
            fd = -1;
        }
    } else {
        struct sockaddr_in a;

        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &a.sin_addr) != 1)
            return -1;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            close(fd);
            fd = -1;
        }
    }
    return fd;
}

/* The proxy's loop: one client connection at a time, relayed to upstream. */
static void proxy_serve(int listener, int ctl, int ack, const char *host, int port)
{
    struct link l;
    unsigned char buf[16384];

    signal(SIGPIPE, SIG_IGN);
    memset(&l, 0, sizeof l);
    l.client = l.server = -1;
    for (;;) {
        struct pollfd p[4] = {{listener, POLLIN, 0}, {ctl, POLLIN, 0},
                              {l.client, POLLIN, 0}, {l.server, POLLIN, 0}};
        ssize_t n;

        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (p[1].revents) {
            char cmd;

            if (read(ctl, &cmd, 1) != 1 || cmd == QUIT)
                _exit(0);
            if (cmd == CLOSE_NOW) {
                link_drop(&l);
            } else {
                l.mode = cmd;
                l.executed = 0;
            }
            if (write(ack, &cmd, 1) != 1)
                _exit(1);
            continue;
        }
        if (p[0].revents) {
            int fd = accept(listener, NULL, NULL);

            if (fd >= 0) {
                link_drop(&l);   /* a new connection starts unarmed */
                l.client = fd;
                l.server = connect_upstream(host, port);
                if (l.server < 0)
                    link_drop(&l);
            }
            continue;
        }
        if (l.client >= 0 && p[2].revents) {
            n = read(l.client, buf, sizeof buf);
            if (n <= 0) {
                link_drop(&l);
                continue;
            }
            for (ssize_t i = 0; l.mode && i < n; i++)
                if (framer_byte(&l.from_client, buf[i]) == 'E')
                    l.executed = 1;
            if (write_all(l.server, buf, (size_t)n) < 0) {
                link_drop(&l);
                continue;
            }
        }
        if (l.server >= 0 && p[3].revents) {
            int withhold = l.mode == CUT_AFTER_ANSWER || (l.mode == CUT_AFTER_EXECUTE && l.executed);
            int cut = 0;

            n = read(l.server, buf, sizeof buf);
            if (n <= 0) {
                link_drop(&l);
                continue;
            }
            for (ssize_t i = 0; l.mode && i < n; i++)
                if (framer_byte(&l.from_server, buf[i]) == 'Z' && withhold)
                    cut = 1;
            if (cut)
                link_drop(&l);   /* the answer, commit included, is never passed on */
            else if (!withhold && write_all(l.client, buf, (size_t)n) < 0)
                link_drop(&l);
        }
    }
}

/* Starts the proxy in front of the PostgreSQL that conninfo names. */
static int proxy_start(struct proxy *px, const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    const char *host = NULL;
    int port = 5432, listener = -1, ctl[2], ack[2];

    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0 && o->val && o->val[0])
            host = o->val;
        if (strcmp(o->keyword, "port") == 0 && o->val && o->val[0])
            port = atoi(o->val);
    }
    if (!host) {
        PQconninfoFree(opts);
        return -1;
    }
    for (int tries = 0; tries < 20 && listener < 0; tries++) {
        struct sockaddr_in a;
        int one = 1;

        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        px->port = t_unused_port();
        a.sin_port = htons((uint16_t)px->port);
        listener = socket(AF_INET, SOCK_STREAM, 0);
        if (listener < 0)
            break;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (px->port == 0 || bind(listener, (struct sockaddr *)&a, sizeof a) < 0 ||
            listen(listener, 8) < 0) {
            close(listener);
            listener = -1;
        }
    }
    if (listener < 0 || pipe(ctl) < 0 || pipe(ack) < 0) {
        PQconninfoFree(opts);
        return -1;
    }
    fflush(stdout);
    px->pid = fork();
    if (px->pid == 0) {
        close(ctl[1]);
        close(ack[0]);
        proxy_serve(listener, ctl[0], ack[1], host, port);
        _exit(0);
    }
    PQconninfoFree(opts);
    close(listener);
    close(ctl[0]);
    close(ack[1]);
    px->ctl = ctl[1];
    px->ack = ack[0];
    return px->pid > 0 ? 0 : -1;
}

/* Sends a command and waits until the proxy has applied it. */
static int proxy_tell(struct proxy *px, char cmd)
{
    char done;

    return write(px->ctl, &cmd, 1) == 1 && read(px->ack, &done, 1) == 1 && done == cmd ? 0 : -1;
}

static void proxy_stop(struct proxy *px)
{
    char cmd = QUIT;

    if (write(px->ctl, &cmd, 1) != 1)
        kill(px->pid, SIGTERM);
    waitpid(px->pid, NULL, 0);
    close(px->ctl);
    close(px->ack);
}

/* --- statements and counts ---------------------------------------------- */

static db_rc insert_row(const char *tag)
{
    PGresult *res;
    db_rc rc = db_query(insert_sql, 1, &tag, &res);

    if (rc == DB_OK)
        PQclear(res);
    return rc;
}

/* Rows with tag, counted on the test's own connection. */
static int64_t rows(const char *tag)
{
    return t_pg_int(count_sql, 1, &tag);
}

/* The backend pid of db.c's connection (opening one if needed). */
static char *backend_pid(void)
{
    static const char sql[] = "SELECT pg_backend_pid()";
    PGresult *res;
    char *pid = NULL;

    if (db_query(sql, 0, NULL, &res) == DB_OK) {
        pid = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return pid;
}

/* Run in a child: waits until backend pid sleeps in a statement, then ends
 * it as a shutdown would (the server answers 57P01). */
static int terminate_when_sleeping(const char *pid)
{
    for (int i = 0; i < 500; i++) {
        if (t_pg_int("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int AND state = 'active'"
                     " AND wait_event = 'PgSleep'", 1, &pid) == 1)
            return t_pg_int("SELECT pg_terminate_backend($1::int, 5000)::int", 1, &pid) == 1 ? 0 : 1;
        t_sleep_ms(10);
    }
    return 1;
}

int main(void)
{
    struct proxy px;
    char run[37], tag[80], proxied[1024], *pid;
    const char *direct = getenv("CONCERT_PG");
    PGresult *res;
    db_rc rc;
    int n;

    t_init();
    if (!direct || !*direct)
        bail_out("CONCERT_PG is not set");
    if (!t_pg_value("CREATE TABLE IF NOT EXISTS db_outcome_probe (tag text NOT NULL)", 0, NULL) &&
        t_pg_int("SELECT count(*) FROM db_outcome_probe", 0, NULL) < 0)
        bail_out("cannot create the probe table");
    if (proxy_start(&px, direct) < 0)
        bail_out("cannot start the proxy");
    /* Later keywords win: the same database, reached through the proxy. */
    n = snprintf(proxied, sizeof proxied, "%s host=127.0.0.1 port=%d sslmode=disable gssencmode=disable",
                 direct, px.port);
    if (n < 0 || (size_t)n >= sizeof proxied)
        bail_out("CONCERT_PG is too long");
    t_uuid(run);
    db_init(proxied);
    db_close();

    /* --- the answer to a commit is lost ---------------------------------- */
    is_int(db_ping(), DB_OK, "through the proxy, db.c reaches PostgreSQL");
    snprintf(tag, sizeof tag, "%s-after-commit", run);
    if (proxy_tell(&px, CUT_AFTER_EXECUTE) < 0)
        bail_out("the proxy does not answer");
    rc = insert_row(tag);
    is_int(rc, DB_UNKNOWN, "the connection broke after the commit: DB_UNKNOWN (%d)", rc);
    is_int(rows(tag), 1, "the insert ran exactly once (not again on a new connection)");
    {
        const char *p = tag;

        rc = db_query(count_sql, 1, &p, &res);
        is_int(rc, DB_OK, "the next statement gets a new connection and works");
        if (rc == DB_OK) {
            is_int(atoi(PQgetvalue(res, 0, 0)), 1, "and sees the one row");
            PQclear(res);
        }
    }

    /* --- the connection breaks while a statement is being prepared ------- */
    snprintf(tag, sizeof tag, "%s-while-preparing", run);
    if (proxy_tell(&px, CUT_AFTER_ANSWER) < 0)   /* the insert is not prepared on this connection */
        bail_out("the proxy does not answer");
    rc = insert_row(tag);
    is_int(rc, DB_OK, "a connection lost while preparing ran nothing: a new one runs the statement (%d)", rc);
    is_int(rows(tag), 1, "once");

    /* --- an idle connection closed under db.c ----------------------------- */
    snprintf(tag, sizeof tag, "%s-idle-closed", run);
    if (proxy_tell(&px, CLOSE_NOW) < 0)
        bail_out("the proxy does not answer");
    t_sleep_ms(50);   /* let the end of the stream reach db.c's socket */
    rc = insert_row(tag);
    is_int(rc, DB_OK, "an idle connection that was closed is replaced before sending: DB_OK (%d)", rc);
    is_int(rows(tag), 1, "and the insert ran once");

    /* --- the server ends an idle connection ------------------------------- */
    db_init(direct);
    db_close();
    snprintf(tag, sizeof tag, "%s-terminated", run);
    pid = backend_pid();
    ok(pid != NULL, "db.c's backend (direct connection) is known");
    if (!pid)
        bail_out("no backend pid");
    is_int(t_pg_int("SELECT pg_terminate_backend($1::int, 5000)::int", 1, (const char *const *)&pid), 1,
           "pg_terminate_backend ended it while idle");
    free(pid);
    t_sleep_ms(50);
    rc = insert_row(tag);
    is_int(rc, DB_OK, "the next statement goes to a new connection: DB_OK, no 503 (%d)", rc);
    is_int(rows(tag), 1, "and ran once");

    /* --- the server stops a running statement ----------------------------- */
    snprintf(tag, sizeof tag, "%s-stopped", run);
    pid = backend_pid();
    if (!pid)
        bail_out("no backend pid");
    {
        static const char sleepy_sql[] =
            "INSERT INTO db_outcome_probe (tag) SELECT $1 FROM pg_sleep(3)";
        const char *p = tag;
        pid_t child;
        int status = -1;

        fflush(stdout);
        child = fork();
        if (child == 0)
            _exit(terminate_when_sleeping(pid));
        rc = db_query(sleepy_sql, 1, &p, &res);
        if (rc == DB_OK)
            PQclear(res);
        waitpid(child, &status, 0);
        ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the statement's backend was terminated while it ran");
        is_int(rc, DB_UNAVAILABLE, "the server's 57P01 is a known outcome: DB_UNAVAILABLE (%d)", rc);
        is_int(rows(tag), 0, "nothing committed, and the statement was not run again");
    }
    free(pid);
    is_int(db_ping(), DB_OK, "the next statement works again");

    /* --- a read may run twice --------------------------------------------- */
    db_init(proxied);
    db_close();
    is_int(db_ping(), DB_OK, "back through the proxy");
    snprintf(tag, sizeof tag, "%s-after-commit", run);
    if (proxy_tell(&px, CUT_AFTER_EXECUTE) < 0)
        bail_out("the proxy does not answer");
    {
        const char *p = tag;

        rc = db_read(count_sql, 1, &p, &res);
        is_int(rc, DB_OK, "db_read whose answer was lost runs once more, on a new connection (%d)", rc);
        if (rc == DB_OK) {
            is_int(atoi(PQgetvalue(res, 0, 0)), 1, "and answers");
            PQclear(res);
        }
    }

    db_close();
    proxy_stop(&px);
    t_pg_value("DROP TABLE db_outcome_probe", 0, NULL);
    return done_testing();
}
