/* rand.c - getrandom(2) as hex (see rand.h). */
#include "rand.h"

#include <errno.h>
#include <sys/random.h>

int rand_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t done = 0;

    if (nbytes > sizeof buf)
        return -1;
    while (done < nbytes) {
        ssize_t n = getrandom(buf + done, nbytes - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}
