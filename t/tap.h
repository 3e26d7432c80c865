/* tap.h - a small Test Anything Protocol library in the libtap style.
 *
 * Debian ships no libtap, so the C tests use this: plan(), ok(), is(),
 * is_int(), diag(), step(), skip_all(), bail_out(), done_testing(). Output goes to stdout as TAP
 * for prove, except diag(), which goes to stderr (as Test::More's does) so that
 * prove shows why a test failed without -v; the exit code is non-zero when any
 * test failed. Each test
 * program includes it once. Tests that fork report from the parent only. */
#ifndef CONCERT_TAP_H
#define CONCERT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned = -1;

static void plan(int n) __attribute__((unused));
static void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static void skip_all(const char *why) __attribute__((unused));
static void skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    fflush(stdout);
    exit(0);
}

/* Stops the test file as failed: for a set-up that did not work, which must
 * never pass as a skip. */
static void bail_out(const char *why) __attribute__((noreturn, unused));
static void bail_out(const char *why)
{
    printf("Bail out! %s\n", why);
    fflush(stdout);
    exit(255);
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Titles the next step of a long story: a TAP comment line "# -- title" on
 * stdout, in order with the tests, so a verbose run (prove -v) shows which
 * step a failure belongs to. It counts as no test. */
static void step(const char *title) __attribute__((unused));
static void step(const char *title)
{
    printf("# -- %s\n", title);
    fflush(stdout);
}

static int tap_vok(int pass, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0), unused));
static int tap_vok(int pass, const char *fmt, va_list ap)
{
    va_list again;

    tap_run++;
    if (!pass)
        tap_failed++;
    va_copy(again, ap);
    printf("%sok %d - ", pass ? "" : "not ", tap_run);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    if (!pass) {
        /* As Test::More does: the failure named where prove shows it. */
        fprintf(stderr, "#   Failed test %d: ", tap_run);
        vfprintf(stderr, fmt, again);
        fputc('\n', stderr);
    }
    va_end(again);
    return pass;
}

static int ok(int pass, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static int ok(int pass, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = tap_vok(pass, fmt, ap);
    va_end(ap);
    return r;
}

static int is_int(long long got, long long want, const char *fmt, ...) __attribute__((format(printf, 3, 4), unused));
static int is_int(long long got, long long want, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (!r)
        diag("  got: %lld\n#   expected: %lld", got, want);
    return r;
}

static int is(const char *got, const char *want, const char *fmt, ...) __attribute__((format(printf, 3, 4), unused));
static int is(const char *got, const char *want, const char *fmt, ...)
{
    va_list ap;
    int pass = got && want ? strcmp(got, want) == 0 : got == want;
    int r;
    va_start(ap, fmt);
    r = tap_vok(pass, fmt, ap);
    va_end(ap);
    if (!r)
        diag("  got: '%s'\n#   expected: '%s'", got ? got : "(null)", want ? want : "(null)");
    return r;
}

static int done_testing(void) __attribute__((unused));
static int done_testing(void)
{
    if (tap_planned < 0)
        printf("1..%d\n", tap_run);
    else if (tap_planned != tap_run)
        diag("planned %d tests but ran %d", tap_planned, tap_run);
    fflush(stdout);
    return tap_failed || (tap_planned >= 0 && tap_planned != tap_run) ? 1 : 0;
}

#endif
