/* config.c - parser and loader for the config file (see config.h). */
#include "config.h"
#include "contract_limits.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

struct config g_config;

static void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->redis_port = 6379;
    c->redis_timeout_ms = 1000;
    c->metrics_file = NULL;
    c->active_limit = 100;
    c->active_seconds = 1800;
    c->waiting_idle_seconds = 600;
    c->hold_seconds = 300;
    c->seat_count = 50;
    c->price = 50000;
    c->password_ops_limit = 2;
    c->password_mem_kib = 19456;
    c->session_ttl_seconds = 1800;
    c->login_email_max_failures = 5;
    c->login_email_window_seconds = 900;
    c->login_address_max_failures = 20;
    c->login_address_window_seconds = 900;
    c->login_account_max_failures = 20;
    c->login_account_window_seconds = 900;
}

/* Frees a secret after wiping it, so it does not linger in a core. */
static void free_secret(char *secret)
{
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
}

void config_free(struct config *c)
{
    free(c->pg_conninfo);
    free(c->pg_read_conninfo);
    free(c->redis_host);
    free(c->redis_sentinels);
    free(c->redis_cluster_nodes);
    free(c->redis_master_name);
    free(c->kafka_brokers);
    free_secret(c->redis_password);
    free(c->metrics_file);
    free_secret(c->admin_key);
    free_secret(c->token_key);
    memset(c, 0, sizeof *c);
}

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    long n;

    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* Reads a secret's file (key names it in the messages): its first line,
 * which must be min..max printable characters, into *slot. */
static int read_secret_file(const char *key, const char *path, ssize_t min, ssize_t max, char **slot,
                            char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f) {
        snprintf(err, errlen, "cannot open %s %s", key, path);
        return -1;
    }
    n = getline(&line, &cap, f);
    fclose(f);
    if (n < 0) {
        free(line);
        snprintf(err, errlen, "%s %s is empty", key, path);
        return -1;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    for (ssize_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)line[i])) {
            n = 0;
            break;
        }
    }
    if (n < min || n > max) {
        memset(line, 0, cap);
        free(line);
        snprintf(err, errlen, "%s %s must hold %zd to %zd printable characters", key, path, min, max);
        return -1;
    }
    free_secret(*slot);
    *slot = line;
    return 0;
}

/* "host:port,host:port": 1 to 16 entries, each port 1..65535 (the
 * Sentinels, Redis Cluster's nodes, Kafka's brokers). */
static int valid_host_ports(const char *v)
{
    int n = 0;

    while (*v) {
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        const char *colon = memchr(v, ':', len);
        long port = 0;

        if (!colon || colon == v || (size_t)(colon - v) > 253 || colon + 1 == v + len || len - (size_t)(colon - v) > 6)
            return -1;
        for (const char *p = colon + 1; p < v + len; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535 || ++n > 16)
            return -1;
        v += len + (comma ? 1 : 0);
        if (comma && !*v)
            return -1;
    }
    return n > 0 ? 0 : -1;
}

static int set_string(char **slot, const char *v)
{
    char *copy = strdup(v);
    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

/* A "host:port,..." list (valid_host_ports) into *slot. */
static int set_host_ports(const char *key, const char *v, char **slot, char *err, size_t errlen)
{
    if (valid_host_ports(v) < 0) {
        snprintf(err, errlen, "%s must be 1 to 16 host:port entries, comma-separated", key);
        return -1;
    }
    if (set_string(slot, v) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Stores v, a whole number from min to max, in c at offset: 0, or -1 with
 * a message in err. */
static int set_long(struct config *c, size_t offset, const char *key, const char *v, long min, long max,
                    char *err, size_t errlen)
{
    long n;

    if (parse_long(v, min, max, &n) < 0) {
        snprintf(err, errlen, "%s must be a whole number from %ld to %ld", key, min, max);
        return -1;
    }
    *(long *)((char *)c + offset) = n;
    return 0;
}

static int config_set(struct config *c, const char *key, const char *v, char *err, size_t errlen)
{
    /* Defaults for a new concert's settings: within the bounds the admin
     * API holds a setting given in the request to. */
    static const struct {
        const char *key;
        size_t offset;
        enum concert_setting setting;
    } defaults[] = {
        {"default_active_limit", offsetof(struct config, active_limit), SETTING_ACTIVE_LIMIT},
        {"default_active_seconds", offsetof(struct config, active_seconds), SETTING_ACTIVE_SECONDS},
        {"default_waiting_idle_seconds", offsetof(struct config, waiting_idle_seconds),
         SETTING_WAITING_IDLE_SECONDS},
        {"default_hold_seconds", offsetof(struct config, hold_seconds), SETTING_HOLD_SECONDS},
        {"default_seat_count", offsetof(struct config, seat_count), SETTING_SEAT_COUNT},
        {"default_price", offsetof(struct config, price), SETTING_PRICE},
    };
    static const struct {
        const char *key;
        size_t offset;
        long min, max;
    } longs[] = {
        /* Argon2id: never below OWASP's minimum (19 MiB, 2 passes); the upper
         * bounds keep one login from taking seconds or a gigabyte. */
        {"password_ops_limit", offsetof(struct config, password_ops_limit), 2, 10},
        {"password_mem_kib", offsetof(struct config, password_mem_kib), 19456, 1048576},
        {"session_ttl_seconds", offsetof(struct config, session_ttl_seconds), 1, 2592000},
        {"login_email_max_failures", offsetof(struct config, login_email_max_failures), 1, 1000000},
        {"login_email_window_seconds", offsetof(struct config, login_email_window_seconds), 1, 86400},
        {"login_address_max_failures", offsetof(struct config, login_address_max_failures), 1, 1000000},
        {"login_address_window_seconds", offsetof(struct config, login_address_window_seconds), 1, 86400},
        {"login_account_max_failures", offsetof(struct config, login_account_max_failures), 1, 1000000},
        {"login_account_window_seconds", offsetof(struct config, login_account_window_seconds), 1, 86400},
    };
    long n;

    if (strcmp(key, "pg_conninfo") == 0)
        return set_string(&c->pg_conninfo, v) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    if (strcmp(key, "pg_read_conninfo") == 0) {
        if (!*v) {
            snprintf(err, errlen, "pg_read_conninfo must not be empty (leave it out for the primary alone)");
            return -1;
        }
        return set_string(&c->pg_read_conninfo, v) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    }
    if (strcmp(key, "redis_host") == 0)
        return set_string(&c->redis_host, v) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    if (strcmp(key, "redis_port") == 0) {
        if (parse_long(v, 1, 65535, &n) < 0)
            goto range;
        c->redis_port = (int)n;
        return 0;
    }
    if (strcmp(key, "hold_replica_wait_ms") == 0) {
        if (parse_long(v, 0, 10000, &n) < 0)
            goto range;
        c->hold_replica_wait_ms = (int)n;
        return 0;
    }
    if (strcmp(key, "redis_timeout_ms") == 0) {
        if (parse_long(v, 10, 60000, &n) < 0)
            goto range;
        c->redis_timeout_ms = (int)n;
        return 0;
    }
    if (strcmp(key, "admin_key_file") == 0)
        return read_secret_file(key, v, 16, 256, &c->admin_key, err, errlen);
    if (strcmp(key, "token_key_file") == 0)
        return read_secret_file(key, v, 32, 256, &c->token_key, err, errlen);
    if (strcmp(key, "redis_password_file") == 0)
        return read_secret_file(key, v, 1, 512, &c->redis_password, err, errlen);
    if (strcmp(key, "redis_sentinels") == 0)
        return set_host_ports(key, v, &c->redis_sentinels, err, errlen);
    if (strcmp(key, "kafka_brokers") == 0)
        return set_host_ports(key, v, &c->kafka_brokers, err, errlen);
    if (strcmp(key, "redis_cluster_nodes") == 0)
        return set_host_ports(key, v, &c->redis_cluster_nodes, err, errlen);
    if (strcmp(key, "redis_master_name") == 0) {
        if (!*v || strlen(v) > 64) {
            snprintf(err, errlen, "redis_master_name must be 1 to 64 characters");
            return -1;
        }
        return set_string(&c->redis_master_name, v) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    }
    if (strcmp(key, "metrics_file") == 0) {
        if (v[0] != '/') {
            snprintf(err, errlen, "metrics_file must be an absolute path");
            return -1;
        }
        return set_string(&c->metrics_file, v) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (strcmp(key, defaults[i].key) == 0) {
            const struct setting_bounds *b = &concert_settings[defaults[i].setting];
            return set_long(c, defaults[i].offset, key, v, b->min, b->max, err, errlen);
        }
    }
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        if (strcmp(key, longs[i].key) == 0)
            return set_long(c, longs[i].offset, key, v, longs[i].min, longs[i].max, err, errlen);
    }
    snprintf(err, errlen, "unknown key '%.64s'", key);
    return -1;
range:
    snprintf(err, errlen, "%s is out of range", key);
    return -1;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

int config_parse(const char *text, size_t len, struct config *out, char *err, size_t errlen)
{
    char *copy, *line, *next;
    int lineno = 0;
    char msg[256];

    config_defaults(out);
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "config holds a NUL byte");
        return -1;
    }
    copy = malloc(len + 1);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';

    for (line = copy; line; line = next) {
        char *eq, *key, *value;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        line = trim(line);
        if (*line == '\0' || *line == '#')
            continue;
        eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, errlen, "line %d: expected key = value", lineno);
            goto fail;
        }
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        if (config_set(out, key, value, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "line %d: %s", lineno, msg);
            goto fail;
        }
    }
    free(copy);
    if (!out->pg_conninfo || (!out->redis_host && !out->redis_sentinels && !out->redis_cluster_nodes) ||
        (!out->redis_sentinels != !out->redis_master_name) || (out->redis_sentinels && out->redis_cluster_nodes)) {
        snprintf(err, errlen, "pg_conninfo is required, and redis_host, redis_sentinels with redis_master_name, "
                 "or redis_cluster_nodes (not both of the last two)");
        config_free(out);
        return -1;
    }
    return 0;
fail:
    free(copy);
    config_free(out);
    return -1;
}

int config_load(struct config *out)
{
    const char *path = getenv("CONCERT_CONF");
    char err[512];
    char *text = NULL;
    size_t cap = 0, len = 0;
    FILE *f;
    int rc;

    if (!path || !*path)
        path = SYSCONFDIR "/concert.conf";
    f = fopen(path, "r");
    if (!f) {
        log_error("cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;
        if (len + 4096 > cap) {
            char *bigger;
            if (cap > (1u << 20)) {
                log_error("config file %s is larger than 1 MiB", path);
                free(text);
                fclose(f);
                return -1;
            }
            bigger = realloc(text, cap + 8192);
            if (!bigger) {
                free(text);
                fclose(f);
                log_error("out of memory reading %s", path);
                return -1;
            }
            text = bigger;
            cap += 8192;
        }
        n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    rc = config_parse(text ? text : "", len, out, err, sizeof err);
    free(text);
    if (rc < 0)
        log_error("config file %s: %s", path, err);
    return rc;
}
