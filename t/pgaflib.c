/* pgaflib.c - t/pgaf.sh's formation for the C tests (see pgaflib.h). */
#include "pgaflib.h"
#include "tap.h"
#include "testlib.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

void pgaf_init(struct pgaf *f, const char *tag)
{
    const char *repo = getenv("CONCERT_REPO"), *run_as = getenv("CONCERT_RUN_AS");
    struct passwd *pw = NULL;

    memset(f, 0, sizeof *f);
    if (access("/usr/bin/pg_autoctl", X_OK) != 0) {
        printf("1..0 # SKIP pg_autoctl is not installed (Debian: pg-auto-failover-cli)\n");
        exit(0);
    }
    if (getuid() == 0 && !(run_as && *run_as && (pw = getpwnam(run_as)))) {
        printf("1..0 # SKIP PostgreSQL does not run as root, and CONCERT_RUN_AS names no user\n");
        exit(0);
    }
    t_init();   /* the library's own log lines go beside the servers' */
    snprintf(f->script, sizeof f->script, "%s/t/pgaf.sh", repo ? repo : ".");
    snprintf(f->dir, sizeof f->dir, "/tmp/concert-%.32s-XXXXXX", tag);
    if (!mkdtemp(f->dir))
        bail_out("mkdtemp failed");
    if (getuid() == 0) {
        if (chown(f->dir, pw->pw_uid, pw->pw_gid) < 0)
            bail_out("cannot give the formation's folder to the app user");
        snprintf(f->as_user, sizeof f->as_user, "setpriv --reuid=%s --regid=%s --init-groups ", run_as, run_as);
    }
}

int pgaf_cmd(struct pgaf *f, char *out, size_t cap, const char *cmd, const char *rest_fmt, ...)
{
    char rest[1024], line[4096];
    va_list ap;
    FILE *p;
    int rc, n;

    va_start(ap, rest_fmt);
    n = vsnprintf(rest, sizeof rest, rest_fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof rest)
        return -1;
    n = snprintf(line, sizeof line, "%s'%s' %s '%s' %s 2>>'%s/pgaf.err'", f->as_user, f->script, cmd, f->dir,
                 rest, f->dir);
    if (n < 0 || (size_t)n >= sizeof line)
        return -1;
    fflush(stdout);
    p = popen(line, "r");
    if (!p)
        return -1;
    if (out) {
        out[0] = '\0';
        if (fgets(out, (int)cap, p))
            out[strcspn(out, "\n")] = '\0';
    }
    while (fgetc(p) != EOF)
        ;
    rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int pgaf_up(struct pgaf *f)
{
    f->monitor_port = t_unused_port();
    f->ports[0] = t_unused_port();
    f->ports[1] = t_unused_port();
    if (pgaf_cmd(f, NULL, 0, "up", "%d %d %d", f->monitor_port, f->ports[0], f->ports[1]) == 0)
        return 0;
    diag("t/pgaf.sh up failed: see %s/*.log", f->dir);
    return -1;
}

void pgaf_conninfo(const struct pgaf *f, const char *attrs, char *out, size_t cap)
{
    snprintf(out, cap,
             "host=127.0.0.1,127.0.0.1 port=%d,%d dbname=concert user=concert_app "
             "target_session_attrs=%s connect_timeout=2",
             f->ports[0], f->ports[1], attrs);
}

void *pgaf_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        bail_out("mmap failed");
    memset(p, 0, size);
    return p;
}

void pgaf_fork_writers(int n, void (*writer)(int), int *pids)
{
    for (int i = 0; i < n; i++) {
        fflush(stdout);
        pids[i] = fork();
        if (pids[i] == 0)
            writer(i);
    }
}

void pgaf_down(struct pgaf *f)
{
    pgaf_cmd(f, NULL, 0, "down", "%s", "");
}
