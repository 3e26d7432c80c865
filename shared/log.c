/* log.c - timestamped logging to stderr, or to a stream set instead (see log.h). */
#include "log.h"
#include "utc.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "concert";
static FILE *log_stream;   /* NULL: stderr */

void log_init(const char *program)
{
    log_program = program;
}

void log_set_stream(FILE *stream)
{
    log_stream = stream;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
    char stamp[UTC_TEXT_SIZE];
    FILE *out = log_stream ? log_stream : stderr;

    utc_text(time(NULL), stamp);
    fprintf(out, "%s %s[%ld] %s: ", stamp, log_program, (long)getpid(), level);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    fflush(out);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("error", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("info", fmt, ap);
    va_end(ap);
}
