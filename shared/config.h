/* config.h - the application's config file: `key = value` lines.
 *
 * One file configures every responder and the cron program. Its path comes
 * from the CONCERT_CONF environment variable, else SYSCONFDIR/concert.conf.
 * Unknown keys and out-of-range values are errors: a typo in production must
 * stop the program at start-up, not run it with a default. */
#ifndef CONCERT_CONFIG_H
#define CONCERT_CONFIG_H

#include <stddef.h>

struct config {
    char *pg_conninfo;          /* libpq connection string */
    /* Where the read-only paths may read (db_replica.h): libpq's multi-host
     * string with target_session_attrs=prefer-standby. NULL: the primary. */
    char *pg_read_conninfo;
    char *redis_host;           /* unless the Sentinels name the primary */
    int redis_port;
    int redis_timeout_ms;       /* connect and command timeout */
    int hold_replica_wait_ms;   /* 0, or how long a hold waits for a replica
                                 * to have it (WAIT 1) before its answer */
    /* Redis watched by Sentinel: the Sentinels ("host:port,host:port"),
     * asked in turn for the primary of redis_master_name. */
    char *redis_sentinels;
    char *redis_master_name;
    /* Redis Cluster: "host:port,..." of nodes to learn the slot map from,
     * instead of redis_host or the Sentinels. */
    char *redis_cluster_nodes;
    char *redis_password;       /* read from redis_password_file */
    /* Kafka's brokers ("host:port,host:port"), where the relay publishes
     * the events as well (relay/kafka_sink.h); NULL: Redis Streams only. */
    char *kafka_brokers;
    char *admin_key;            /* read from admin_key_file */
    char *token_key;            /* read from token_key_file (queue_token.h) */
    char *metrics_file;         /* this host's shared counters (metrics.h) */
    /* Defaults for concerts created without these fields. */
    long active_limit;
    long active_seconds;
    long waiting_idle_seconds;
    long hold_seconds;
    long seat_count;
    long price;
    /* Accounts and sessions. */
    long password_ops_limit;            /* Argon2id passes */
    long password_mem_kib;              /* Argon2id memory, KiB */
    long session_ttl_seconds;           /* a session ends this long after its last use */
    long login_email_max_failures;      /* failed logins for one email from one address per window */
    long login_email_window_seconds;
    long login_address_max_failures;    /* failed logins from one address per window */
    long login_address_window_seconds;
    long login_account_max_failures;    /* failed logins for one email from all addresses, past which */
    long login_account_window_seconds;  /* only addresses that failed for it are refused */
};

/* Parses config text. Returns 0, or -1 with a message in err. admin_key_file
 * is read relative to the working directory when it is not absolute. */
int config_parse(const char *text, size_t len, struct config *out, char *err, size_t errlen);

/* Loads the file named by CONCERT_CONF (or the default path). Returns 0 or -1
 * after logging why. */
int config_load(struct config *out);

void config_free(struct config *c);

/* The configuration every part of the program reads once it is loaded. */
extern struct config g_config;

#endif
