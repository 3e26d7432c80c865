/* log.c - timestamped stderr logging (see log.h). */
#include "log.h"
#include "utc.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "concert";

void log_init(const char *program)
{
    log_program = program;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
    char stamp[UTC_TEXT_SIZE];

    utc_text(time(NULL), stamp);
    fprintf(stderr, "%s %s[%ld] %s: ", stamp, log_program, (long)getpid(), level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
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
