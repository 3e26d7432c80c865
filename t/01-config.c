/* 01-config: the config file parser takes the documented keys, applies
 * defaults, and refuses typos and out-of-range values. */
#include "tap.h"
#include "config.h"

#include <stdio.h>
#include <unistd.h>

static int parses(const char *text, struct config *c, char *err, size_t errlen)
{
    return config_parse(text, strlen(text), c, err, errlen);
}

int main(void)
{
    struct config c;
    char err[256];
    char keyfile[] = "/tmp/concert-key-XXXXXX";
    char text[512];
    int fd;

    plan(22);
    ok(parses("pg_conninfo = host=x\nredis_host = 127.0.0.1\n", &c, err, sizeof err) == 0,
       "minimal config parses");
    ok(c.active_limit == 100 && c.hold_seconds == 300 && c.seat_count == 50 && c.redis_port == 6379 &&
           !c.pg_read_conninfo,
       "defaults apply (no read context: every read on the primary)");
    config_free(&c);

    ok(parses("# comment\n\n  pg_conninfo=a b=c  \nredis_host=h\nredis_port = 7000\ndefault_hold_seconds = 60\n",
              &c, err, sizeof err) == 0 && c.redis_port == 7000 && c.hold_seconds == 60 &&
       strcmp(c.pg_conninfo, "a b=c") == 0, "comments, spaces and overrides");
    config_free(&c);

    ok(parses("pg_conninfo=a\nredis_host=h\nredis_prot=1\n", &c, err, sizeof err) < 0 &&
       strstr(err, "unknown key") != NULL, "unknown key refused: %s", err);
    ok(parses("pg_conninfo=a\nredis_host=h\nredis_port=70000\n", &c, err, sizeof err) < 0,
       "port out of range refused");
    ok(parses("pg_conninfo=a\nredis_host=h\ndefault_active_limit=-5\n", &c, err, sizeof err) < 0,
       "negative limit refused");
    ok(parses("pg_conninfo=a\nredis_host=h\nno equals sign\n", &c, err, sizeof err) < 0 &&
       strstr(err, "line 3") != NULL, "line without '=' refused with its line number");
    ok(parses("redis_host=h\n", &c, err, sizeof err) < 0, "missing pg_conninfo refused");
    ok(parses("pg_conninfo=a\nredis_host=h\nhold_replica_wait_ms = 50\n", &c, err, sizeof err) == 0 &&
       c.hold_replica_wait_ms == 50, "hold_replica_wait_ms read (a hold waits for a replica)");
    config_free(&c);
    ok(parses("pg_conninfo=a\nredis_host=h\nhold_replica_wait_ms = 20000\n", &c, err, sizeof err) < 0,
       "hold_replica_wait_ms past 10 s refused");
    config_free(&c);
    ok(parses("pg_conninfo=a\nredis_host=h\npg_read_conninfo = host=x,y target_session_attrs=prefer-standby\n",
              &c, err, sizeof err) == 0 &&
           strcmp(c.pg_read_conninfo, "host=x,y target_session_attrs=prefer-standby") == 0,
       "pg_read_conninfo kept as given");
    config_free(&c);
    ok(parses("pg_conninfo=a\nredis_host=h\npg_read_conninfo =\n", &c, err, sizeof err) < 0 &&
           strstr(err, "pg_read_conninfo") != NULL,
       "an empty pg_read_conninfo refused: %s", err);

    fd = mkstemp(keyfile);
    if (fd >= 0) {
        if (write(fd, "0123456789abcdef0123\n", 21) != 21)
            diag("short write");
        close(fd);
    }
    snprintf(text, sizeof text, "pg_conninfo=a\nredis_host=h\nadmin_key_file=%s\n", keyfile);
    ok(parses(text, &c, err, sizeof err) == 0 && strcmp(c.admin_key, "0123456789abcdef0123") == 0,
       "admin key read from its file");
    config_free(&c);
    snprintf(text, sizeof text, "pg_conninfo=a\nredis_host=h\nadmin_key_file=%s.missing\n", keyfile);
    ok(parses(text, &c, err, sizeof err) < 0, "missing admin key file refused");

    /* Redis through Sentinel: the Sentinels and the primary's name instead
     * of redis_host, both or neither; the password from its file. */
    ok(parses("pg_conninfo=a\nredis_sentinels=10.0.0.1:26379,10.0.0.2:26379\nredis_master_name=concert\n", &c, err,
              sizeof err) == 0 && strcmp(c.redis_sentinels, "10.0.0.1:26379,10.0.0.2:26379") == 0 &&
           strcmp(c.redis_master_name, "concert") == 0 && !c.redis_host,
       "Sentinels and the primary's name stand in for redis_host");
    config_free(&c);
    ok(parses("pg_conninfo=a\nredis_sentinels=10.0.0.1:26379\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_host=h\nredis_master_name=concert\n", &c, err, sizeof err) < 0,
       "Sentinels without the primary's name, or the name alone, refused");
    ok(parses("pg_conninfo=a\nredis_sentinels=10.0.0.1\nredis_master_name=c\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_sentinels=h:0\nredis_master_name=c\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_sentinels=h:1,\nredis_master_name=c\n", &c, err, sizeof err) < 0,
       "a Sentinel without a port, port 0 or an empty entry refused");

    /* Kafka's brokers: a list like the Sentinels'; none by default. */
    ok(parses("pg_conninfo=a\nredis_host=h\nkafka_brokers=127.0.0.1:9092,k2:9092\n", &c, err, sizeof err) == 0 &&
           strcmp(c.kafka_brokers, "127.0.0.1:9092,k2:9092") == 0,
       "kafka_brokers read as a host:port list");
    config_free(&c);
    ok(parses("pg_conninfo=a\nredis_host=h\nkafka_brokers=k1\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_host=h\nkafka_brokers=k1:9092,\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_host=h\n", &c, err, sizeof err) == 0 && !c.kafka_brokers,
       "a broker without a port or an empty entry refused; none unless set");
    config_free(&c);
    /* Redis Cluster: its nodes instead of redis_host, not with Sentinels. */
    ok(parses("pg_conninfo=a\nredis_cluster_nodes=10.0.0.1:6379,10.0.0.2:6379\n", &c, err, sizeof err) == 0 &&
           strcmp(c.redis_cluster_nodes, "10.0.0.1:6379,10.0.0.2:6379") == 0 && !c.redis_host,
       "cluster nodes stand in for redis_host");
    config_free(&c);
    ok(parses("pg_conninfo=a\nredis_cluster_nodes=10.0.0.1\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_cluster_nodes=h:1,\n", &c, err, sizeof err) < 0 &&
           parses("pg_conninfo=a\nredis_cluster_nodes=h:1\nredis_sentinels=h:2\nredis_master_name=c\n", &c, err,
                  sizeof err) < 0,
       "a cluster node without a port, an empty entry, or cluster nodes with Sentinels refused");
    snprintf(text, sizeof text, "pg_conninfo=a\nredis_host=h\nredis_password_file=%s\n", keyfile);
    ok(parses(text, &c, err, sizeof err) == 0 && strcmp(c.redis_password, "0123456789abcdef0123") == 0,
       "the Redis password read from its file");
    config_free(&c);
    unlink(keyfile);
    return done_testing();
}
