/* log.h - one-line diagnostics on stderr, prefixed with the program's name.
 *
 * Responders run under spawn-fcgi with stderr sent to a log file by the
 * start-up scripts, so plain stderr is the log. Nothing secret (tokens,
 * the admin key, request bodies) is ever passed to these functions. */
#ifndef CONCERT_LOG_H
#define CONCERT_LOG_H

#include <stdio.h>

void log_init(const char *program);
/* Lines go to stream instead of stderr (NULL: stderr again). The test
 * programs use it to keep the library's lines out of their TAP output. */
void log_set_stream(FILE *stream);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
