/* kafka_conf.c - a librdkafka configuration (see kafka_conf.h). */
#include "kafka_conf.h"
#include "log.h"

/* librdkafka's own log lines (connection trouble, retries) go to the
 * program's log with its prefix, not straight to stderr. */
static void log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        log_error("kafka %s: %s", fac, buf);
    else
        log_info("kafka %s: %s", fac, buf);
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *const *settings)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (!conf) {
        log_error("out of memory for a Kafka configuration");
        return NULL;
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) != RD_KAFKA_CONF_OK)
        goto refused;
    for (const char *const *s = settings; s && s[0]; s += 2)
        if (rd_kafka_conf_set(conf, s[0], s[1], err, sizeof err) != RD_KAFKA_CONF_OK)
            goto refused;
    rd_kafka_conf_set_log_cb(conf, log_line);
    return conf;
refused:
    log_error("Kafka configuration: %s", err);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);

    if (!rk) {
        log_error("Kafka %s: %s", type == RD_KAFKA_PRODUCER ? "producer" : "consumer", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}
