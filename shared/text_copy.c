/* text_copy.c - a setting kept as a string of its own (see text_copy.h). */
#include "text_copy.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

int text_copy_into(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? strdup(value) : NULL;
    if (value && !*slot) {
        log_error("out of memory for a setting");
        return -1;
    }
    return 0;
}
