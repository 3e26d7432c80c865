/* guard-call.h - for the tests that call the session guards of shared/guard.c
 * directly, as a responder's handler does, on a request built without
 * FastCGI (t/02, t/12, t/14). Header-only (static functions), included once
 * per test program after tap.h, http.h and guard.h. */
#ifndef CONCERT_T_GUARD_CALL_H
#define CONCERT_T_GUARD_CALL_H

#include <stdio.h>
#include <string.h>

/* The status a GET with this Authorization header (NULL: none) gets from
 * guard_session_user, with path_user as the path's {userId}, or from
 * guard_session when path_user is NULL: 0 when it passes (user then holds
 * the session's user), -1 when the guard refused without answering. */
static int guard_status(const char *authorization, const char *path_user, char user[37]) __attribute__((unused));
static int guard_status(const char *authorization, const char *path_user, char user[37])
{
    struct request r;
    int rc;

    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.authorization = authorization;
    if (path_user) {
        r.param[0] = path_user;
        r.nparam = 1;
        rc = guard_session_user(&r, 0, user);
    } else {
        rc = guard_session(&r, user);
    }
    if (rc == 0)
        return 0;
    return r.answered ? r.status : -1;
}

/* The same with the header "Bearer <session>". */
static int guard_status_of_session(const char *session, const char *path_user, char user[37]) __attribute__((unused));
static int guard_status_of_session(const char *session, const char *path_user, char user[37])
{
    char auth[128];

    snprintf(auth, sizeof auth, "Bearer %s", session);
    return guard_status(auth, path_user, user);
}

#endif
