/* rand.c - getrandom(2) as bytes and hex, uniform draws and shuffles (see rand.h). */
#include "rand.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

int rand_bytes(unsigned char *out, size_t nbytes)
{
    size_t done = 0;

    while (done < nbytes) {
        ssize_t n = getrandom(out + done, nbytes - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int rand_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];

    if (nbytes > sizeof buf || rand_bytes(buf, nbytes) < 0)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

/* Random 32-bit numbers drawn from getrandom(2) a few thousand at a time.
 * The pool belongs to the process that filled it: a child made by fork(2)
 * gets a copy, and drawing from it would repeat its parent's draws. */
static int rand_u32(uint32_t *out)
{
    static uint32_t pool[1024];
    static size_t left;
    static pid_t owner;
    pid_t pid = getpid();

    if (owner != pid) {
        owner = pid;
        left = 0;
    }
    if (left == 0) {
        if (rand_bytes((unsigned char *)pool, sizeof pool) < 0)
            return -1;
        left = sizeof pool / sizeof pool[0];
    }
    *out = pool[--left];
    return 0;
}

/* A uniform number in 0..bound-1: draws that fall in the last, partial
 * run of bound are thrown away, so no value is likelier than another. */
static int rand_below(uint32_t bound, uint32_t *out)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % bound, x;

    do {
        if (rand_u32(&x) < 0)
            return -1;
    } while (x >= limit);
    *out = x % bound;
    return 0;
}

int rand_shuffle(const char **items, size_t n)
{
    if (n > UINT32_MAX)
        return -1;
    for (size_t i = n; i > 1; i--) {
        uint32_t j;
        const char *swap;

        if (rand_below((uint32_t)i, &j) < 0)
            return -1;
        swap = items[i - 1];
        items[i - 1] = items[j];
        items[j] = swap;
    }
    return 0;
}

int rand_between(int64_t low, int64_t high, int64_t *out)
{
    uint32_t j;

    if (high < low || high - low >= UINT32_MAX)
        return -1;
    if (rand_below((uint32_t)(high - low + 1), &j) < 0)
        return -1;
    *out = low + (int64_t)j;
    return 0;
}
