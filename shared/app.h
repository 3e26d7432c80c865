/* app.h - the responder main loop.
 *
 * Every program in fcgi/ is a table of routes and a call to app_run(): it
 * loads the config, prepares (lazy) PostgreSQL and Redis connections, then
 * accepts FastCGI requests on the socket spawn-fcgi gave it (fd 0) until it is
 * told to stop. */
#ifndef CONCERT_APP_H
#define CONCERT_APP_H

#include "http.h"

int app_run(const char *program, const struct route *routes, size_t nroutes);

/* Loads the config and points db/rds at it; for programs that are not
 * responders (cron). Returns 0 or -1 after logging. */
int app_setup(const char *program);

/* Points the default Redis context at the config's Redis: one server, the
 * Sentinels' primary or a cluster. 0, or -1 out of memory (logged). */
int app_redis_setup(void);

/* For the long-running programs that are not responders (the relay, the
 * events' consumer): TERM and INT ask them to stop (app_stop_asked turns
 * 1; an interrupted wait returns early), and a closed pipe is an error
 * return, not a death. */
void app_catch_stop(void);
int app_stop_asked(void);

#endif
