/* 89-backup: the daily backup line of conf/crontab restores.
 *
 * A few reservations are paid through the API. Then the backup line itself
 * (the pg_dump line of conf/crontab, its conninfo and folder pointed at the
 * test stack, cron's \% unescaped) runs under sh. A fresh cluster is made
 * (initdb in a folder under CONCERT_VAR, started on a free port, as the app
 * user when run as root), the dump is restored into it with pg_restore, and
 * every paid reservation is found there: the reservation CONFIRMED, its
 * seats SOLD to it, its payment and ledger rows, and the payments, users and
 * ledger tables the same as in the stack's database. */
#include "tap.h"
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PAID 5

static char dir[600], logfile[700];

/* Runs argv (as the app user when as_app), output to the log; exit status. */
static int run(int as_app, char *const argv[])
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        const char *as = getenv("CONCERT_RUN_AS");
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (as_app && as && *as && getuid() == 0) {
            struct passwd *pw = getpwnam(as);
            if (!pw || setgid(pw->pw_gid) < 0 || initgroups(as, pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
                _exit(126);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The pg_dump line of conf/crontab as a command for this stack, or NULL. */
static char *backup_command(const char *folder)
{
    char path[600], line[2048];
    FILE *f;
    char *cmd = NULL;

    snprintf(path, sizeof path, "%s/conf/crontab", getenv("CONCERT_REPO"));
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        char *p = line, out[4096];
        size_t o = 0;
        if (line[0] == '#' || !strstr(line, "pg_dump"))
            continue;
        line[strcspn(line, "\n")] = '\0';
        /* Skip the five time fields and the user. */
        for (int field = 0; field < 6; field++) {
            while (*p == ' ' || *p == '\t')
                p++;
            while (*p && *p != ' ' && *p != '\t')
                p++;
        }
        while (*p == ' ')
            p++;
        while (*p && o + 600 < sizeof out) {
            if (p[0] == '\\' && p[1] == '%') {   /* cron's escape */
                out[o++] = '%';
                p += 2;
            } else if (strncmp(p, "host=127.0.0.1 port=5432 dbname=concert user=concert", 52) == 0) {
                o += (size_t)snprintf(out + o, sizeof out - o, "%s", getenv("CONCERT_PG"));
                p += 52;
            } else if (strncmp(p, "/var/backups/concert", 20) == 0) {
                o += (size_t)snprintf(out + o, sizeof out - o, "%s", folder);
                p += 20;
            } else {
                out[o++] = *p++;
            }
        }
        out[o] = '\0';
        cmd = strdup(out);
        break;
    }
    if (f)
        fclose(f);
    return cmd;
}

static char *newest_dump(const char *folder)
{
    DIR *d = opendir(folder);
    struct dirent *e;
    char *best = NULL;

    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "concert-", 8) == 0 && strstr(e->d_name, ".dump")) {
            free(best);
            best = malloc(strlen(folder) + strlen(e->d_name) + 2);
            sprintf(best, "%s/%s", folder, e->d_name);
        }
    }
    if (d)
        closedir(d);
    return best;
}

static char *value(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    char *v = strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0) : "?");

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        diag("postgres: %s", PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

int main(void)
{
    char folder[700], data[700], port_s[16], sockdir[700], conninfo[300], ids[512] = "{";
    int64_t concert_id, schedule_id;
    int port, paid = 0, rc;
    char *cmd, *dump;
    PGconn *src, *dst;
    const char *bin = getenv("CONCERT_PG_BIN");
    static const char *const tables[] = {
        "SELECT md5(coalesce(string_agg(x::text, ';' ORDER BY x.id), '')) FROM payments x",
        "SELECT md5(coalesce(string_agg(x::text, ';' ORDER BY x.id), '')) FROM users x",
        "SELECT md5(coalesce(string_agg(x::text, ';' ORDER BY x.id), '')) FROM balance_ledger x",
        "SELECT md5(coalesce(string_agg(x::text, ';' ORDER BY x.id), '')) FROM reservations x WHERE status = 'CONFIRMED'",
    };

    t_init();
    if (getenv("CONCERT_FRONT_NAME") && strcmp(getenv("CONCERT_FRONT_NAME"), "nginx") != 0)
        skip_all("runs once, behind nginx");
    if (!bin || !getenv("CONCERT_VAR") || !getenv("CONCERT_REPO"))
        skip_all("needs the ./dev test stack");
    plan(10);

    snprintf(dir, sizeof dir, "%s/backup-test-%d", getenv("CONCERT_VAR"), (int)getpid());
    snprintf(folder, sizeof folder, "%s/backups", dir);
    snprintf(data, sizeof data, "%s/pg", dir);
    snprintf(sockdir, sizeof sockdir, "%s/run", dir);
    snprintf(logfile, sizeof logfile, "%s/log/backup-test.log", getenv("CONCERT_VAR"));
    mkdir(dir, 0755);
    mkdir(folder, 0700);
    mkdir(sockdir, 0755);
    if (getenv("CONCERT_RUN_AS") && *getenv("CONCERT_RUN_AS") && getuid() == 0) {
        struct passwd *pw = getpwnam(getenv("CONCERT_RUN_AS"));
        if (pw) {
            (void)!chown(dir, pw->pw_uid, pw->pw_gid);
            (void)!chown(folder, pw->pw_uid, pw->pw_gid);
            (void)!chown(sockdir, pw->pw_uid, pw->pw_gid);
        }
    }

    /* Paid reservations, through the API. */
    concert_id = t_create_concert(100, 600, 600, 300, 1, 20, 7000, &schedule_id);
    for (int i = 0; i < PAID; i++) {
        char user[37], path[128], body[128], *tok;
        struct t_resp r;
        int64_t rid;
        tok = t_active_user(concert_id, user);
        snprintf(path, sizeof path, "/api/v1/users/%s/balance/charge", user);
        t_post_as(user, path, "{\"amount\":20000}", &r);
        t_resp_free(&r);
        snprintf(body, sizeof body, "{\"scheduleId\":%" PRId64 ",\"seatNos\":[%d,%d]}", schedule_id, 2 * i + 1, 2 * i + 2);
        t_post("/api/v1/reservations", tok, body, &r);
        rid = r.status == 201 ? t_json_int(r.json, "reservationId") : -1;
        t_resp_free(&r);
        snprintf(body, sizeof body, "{\"reservationId\":%" PRId64 "}", rid);
        t_post("/api/v1/payments", tok, body, &r);
        if (r.status == 201) {
            paid++;
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%" PRId64, paid > 1 ? "," : "", rid);
        }
        t_resp_free(&r);
        free(tok);
    }
    strcat(ids, "}");
    ok(paid == PAID, "%d reservations paid through the API", paid);

    cmd = backup_command(folder);
    ok(cmd != NULL, "conf/crontab has a pg_dump line");
    if (!cmd)
        return done_testing();
    diag("backup: %s", cmd);
    {
        char *argv[] = {"sh", "-c", cmd, NULL};
        rc = run(1, argv);
    }
    dump = newest_dump(folder);
    ok(rc == 0 && dump, "the backup line ran (exit %d) and wrote %s", rc, dump ? dump : "nothing");
    if (!dump)
        return done_testing();
    {
        struct stat st;
        int got = stat(dump, &st) == 0;
        if (!got)
            memset(&st, 0, sizeof st);
        ok(got && (st.st_mode & 077) == 0 && st.st_size > 0,
           "the dump is %lld bytes, readable by its owner only (mode %o)", (long long)st.st_size,
           (unsigned)(st.st_mode & 0777));
    }

    /* A fresh cluster on a free port. */
    port = t_unused_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    {
        char initdb[600], pg_ctl[600], opts[900], log[800];
        snprintf(initdb, sizeof initdb, "%s/initdb", bin);
        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", bin);
        snprintf(opts, sizeof opts, "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, sockdir);
        snprintf(log, sizeof log, "%s/postgres.log", dir);
        char *a1[] = {initdb, "-D", data, "-U", "concert", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", NULL};
        char *a2[] = {pg_ctl, "-D", data, "-l", log, "-w", "-t", "60", "-o", opts, "start", NULL};
        rc = run(1, a1);
        rc = rc == 0 ? run(1, a2) : rc;
    }
    ok(rc == 0, "a fresh cluster runs on port %d (initdb, pg_ctl start)", port);
    {
        char createdb[600], restore[600];
        snprintf(createdb, sizeof createdb, "%s/createdb", bin);
        snprintf(restore, sizeof restore, "%s/pg_restore", bin);
        snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d dbname=concert user=concert", port);
        char *a1[] = {createdb, "-h", "127.0.0.1", "-p", port_s, "-U", "concert", "concert", NULL};
        char *a2[] = {restore, "--no-owner", "--exit-on-error", "-d", conninfo, dump, NULL};
        rc = run(1, a1);
        rc = rc == 0 ? run(1, a2) : rc;
    }
    ok(rc == 0, "pg_restore restored the dump into it (exit %d)", rc);

    src = PQconnectdb(getenv("CONCERT_PG"));
    dst = PQconnectdb(conninfo);
    {
        const char *p[] = {ids};
        char *n = value(dst,
                        "SELECT count(*) FROM reservations r JOIN payments p ON p.reservation_id = r.id"
                        " JOIN balance_ledger l ON l.payment_id = p.id AND l.delta = -p.amount"
                        " WHERE r.id = ANY ($1::bigint[]) AND r.status = 'CONFIRMED' AND p.amount = r.amount"
                        " AND (SELECT count(*) FROM seats s WHERE s.reservation_id = r.id AND s.status = 'SOLD')"
                        "   = cardinality(r.seat_nos)", 1, p);
        ok(atoi(n) == PAID, "each paid reservation is in the restore: CONFIRMED, seats SOLD, payment and ledger (%s of %d)",
           n, PAID);
        free(n);
    }
    {
        char *a = value(src, "SELECT count(*) FROM reservations WHERE status = 'CONFIRMED'", 0, NULL);
        char *b = value(dst, "SELECT count(*) FROM reservations WHERE status = 'CONFIRMED'", 0, NULL);
        int same = strcmp(a, b) == 0;
        for (size_t i = 0; same && i < sizeof tables / sizeof tables[0]; i++) {
            char *x = value(src, tables[i], 0, NULL), *y = value(dst, tables[i], 0, NULL);
            same = strcmp(x, y) == 0 && strcmp(x, "?") != 0;
            free(x);
            free(y);
        }
        ok(same, "every paid reservation is there: %s in the stack, %s restored; payments, users, ledger identical",
           a, b);
        free(a);
        free(b);
    }
    {
        char *v = value(dst, "SELECT count(*) FROM users u WHERE u.balance <>"
                             " (SELECT coalesce(sum(delta), 0) FROM balance_ledger l WHERE l.user_id = u.id)", 0, NULL);
        ok(strcmp(v, "0") == 0, "in the restore every balance equals its ledger (%s differ)", v);
        free(v);
    }
    PQfinish(src);
    PQfinish(dst);
    {
        char pg_ctl[600];
        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", bin);
        char *a[] = {pg_ctl, "-D", data, "-m", "fast", "-w", "stop", NULL};
        ok(run(1, a) == 0, "the fresh cluster stops");
    }
    {
        char *a[] = {"rm", "-rf", dir, NULL};
        run(0, a);
    }
    free(cmd);
    free(dump);
    return done_testing();
}
