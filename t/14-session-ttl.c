/* 14-session-ttl: a session ends session_ttl_seconds after its last use.
 *
 * The story: this test loads the stack's own config file with one change,
 * session_ttl_seconds = 2, through CONCERT_CONF as every program does, and
 * then uses the library's session functions against the stack's Redis (the
 * responders share its sessions). A session it starts for a user who signed
 * up through the front lives 2 seconds in Redis; used after 1.2 s it is
 * renewed to 2 s again, so it is still good 2.4 s after it started; left
 * alone for 3 s more it has ended, for the library and for the stack's own
 * logout alike (401 SESSION_INVALID). */
#include "tap.h"
#include "testlib.h"
#include "11-accounts.h"
#include "app.h"
#include "config.h"
#include "guard.h"
#include "session.h"
#include "guard-call.h"

#include <stdio.h>
#include <unistd.h>

/* Writes the file at CONCERT_CONF with session_ttl_seconds = 2 instead of
 * whatever it says into path. Returns 0 or -1. */
static int write_short_ttl_config(const char *path)
{
    FILE *in = fopen(getenv("CONCERT_CONF"), "r"), *out;
    char line[4096];

    if (!in)
        return -1;
    out = fopen(path, "w");
    if (!out) {
        fclose(in);
        return -1;
    }
    while (fgets(line, sizeof line, in))
        if (strncmp(line, "session_ttl_seconds", 19) != 0)
            fputs(line, out);
    fputs("session_ttl_seconds = 2\n", out);
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

int main(void)
{
    char conf[] = "/tmp/concert-ttl-XXXXXX", email[128], session[SESSION_TEXT_LEN + 1], key[SESSION_KEY_SIZE];
    char seen[37];
    const char *pttl[2] = {"PTTL", key};
    struct t_resp r;
    time_t expires;
    char *user;
    int fd;

    t_init();
    plan(8);
    if (!getenv("CONCERT_CONF"))
        skip_all("needs the ./dev test stack's config file (CONCERT_CONF)");
    fd = mkstemp(conf);
    if (fd < 0)
        bail_out("mkstemp failed");
    close(fd);
    if (write_short_ttl_config(conf) < 0 || setenv("CONCERT_CONF", conf, 1) < 0 || app_setup("14-session-ttl") < 0)
        bail_out("cannot load the stack's config with session_ttl_seconds = 2");
    unlink(conf);
    is_int(g_config.session_ttl_seconds, 2, "the config file says session_ttl_seconds = 2");

    user = ac_new_account("Short", email, "a password for two seconds");
    ok(session_create(user, session, &expires) == SESSION_OK, "a session starts");
    session_key(session, key);
    {
        long long ms = t_redis_int(2, pttl);
        ok(ms > 0 && ms <= 2000, "it lives 2 s in Redis (PTTL %lld ms)", ms);
    }
    t_sleep_ms(1200);
    ok(guard_status_of_session(session, NULL, seen) == 0 && strcmp(seen, user) == 0, "used after 1.2 s it is good");
    {
        long long ms = t_redis_int(2, pttl);
        ok(ms > 1500 && ms <= 2000, "and renewed to 2 s (PTTL %lld ms)", ms);
    }
    t_sleep_ms(1200);
    ok(guard_status_of_session(session, NULL, seen) == 0, "so 2.4 s after it started it is still good");
    t_sleep_ms(3000);
    is_int(guard_status_of_session(session, NULL, seen), 401, "3 s without use: it has ended");
    t_delete("/api/v1/sessions/current", session, &r);
    ok(r.status == 401 && strcmp(t_error_code(&r), "SESSION_INVALID") == 0,
       "and the stack's logout says 401 SESSION_INVALID (%ld %s)", r.status, r.body ? r.body : "");
    t_resp_free(&r);
    free(user);
    return done_testing();
}
