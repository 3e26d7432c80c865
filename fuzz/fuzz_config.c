/* fuzz_config: the config file parser (config_parse). Input: "<first line
 * of the admin key file>\n<config text>". The parser opens admin_key_file
 * itself; this target is linked with -Wl,--wrap=fopen so that every fopen
 * config_parse makes opens the key file the target wrote, whatever path
 * the input names.
 * A parse either succeeds with every value in its documented range, or fails
 * with a message and leaves nothing allocated (LeakSanitizer checks). */
#include "fuzz.h"
#include "config.h"
#include "contract_limits.h"

#include <unistd.h>

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

static char key_path[64];
static int in_parse;   /* only config_parse's own fopen is redirected */

FILE *__wrap_fopen(const char *path, const char *mode)
{
    return __real_fopen(in_parse ? key_path : path, mode);
}

static void remove_key(void)
{
    unlink(key_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd;

    (void)argc;
    (void)argv;
    snprintf(key_path, sizeof key_path, "/tmp/concert-fuzz-key-XXXXXX");
    fd = mkstemp(key_path);
    if (fd < 0)
        abort();
    close(fd);
    atexit(remove_key);
    return 0;
}

static int within(long n, enum concert_setting s)
{
    return n >= concert_settings[s].min && n <= concert_settings[s].max;
}

static void check(const struct config *c)
{
    FUZZ_CHECK(c->pg_conninfo && c->redis_host);
    FUZZ_CHECK(c->redis_port >= 1 && c->redis_port <= 65535);
    FUZZ_CHECK(c->redis_timeout_ms >= 10 && c->redis_timeout_ms <= 60000);
    FUZZ_CHECK(within(c->active_limit, SETTING_ACTIVE_LIMIT));
    FUZZ_CHECK(within(c->active_seconds, SETTING_ACTIVE_SECONDS));
    FUZZ_CHECK(within(c->waiting_idle_seconds, SETTING_WAITING_IDLE_SECONDS));
    FUZZ_CHECK(within(c->hold_seconds, SETTING_HOLD_SECONDS));
    FUZZ_CHECK(within(c->seat_count, SETTING_SEAT_COUNT));
    FUZZ_CHECK(within(c->price, SETTING_PRICE));
    if (c->admin_key) {
        size_t n = strlen(c->admin_key);
        FUZZ_CHECK(n >= 16 && n <= 256);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t keylen = nl ? (size_t)(nl - data) : size;
    const char *text = nl ? (const char *)nl + 1 : "";
    size_t textlen = nl ? size - keylen - 1 : 0;
    struct config c1, c2;
    char err1[256] = "", err2[256] = "";
    int r1, r2;
    FILE *f;

    if (size > 65536)
        return 0;
    f = __real_fopen(key_path, "w");
    if (!f)
        abort();
    fwrite(data, 1, keylen, f);
    fputc('\n', f);
    fclose(f);

    in_parse = 1;
    r1 = config_parse(text, textlen, &c1, err1, sizeof err1);
    r2 = config_parse(text, textlen, &c2, err2, sizeof err2);
    in_parse = 0;
    FUZZ_CHECK(r1 == r2 && (r1 == 0 || r1 == -1));
    if (r1 == 0) {
        check(&c1);
        FUZZ_CHECK(strcmp(c1.pg_conninfo, c2.pg_conninfo) == 0 && c1.redis_port == c2.redis_port);
        FUZZ_CHECK(!c1.admin_key == !c2.admin_key);
        config_free(&c1);
        config_free(&c2);
    } else {
        FUZZ_CHECK(err1[0] && strcmp(err1, err2) == 0);
        FUZZ_CHECK(c1.pg_conninfo == NULL && c1.redis_host == NULL && c1.admin_key == NULL);
    }
    return 0;
}
