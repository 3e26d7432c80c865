/* kafka_conf.h - a librdkafka configuration for this service's brokers,
 * shared by the relay's producer and concert-events' consumer, so both
 * reach the brokers the same way and log the same way. */
#ifndef CONCERT_KAFKA_CONF_H
#define CONCERT_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

/* A configuration with bootstrap.servers = brokers and the given settings
 * (name, value pairs, ending with NULL). Returns it, or NULL after logging
 * which setting librdkafka refused. */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *const *settings);

/* A producer or consumer made from conf (which it then owns). NULL after
 * logging why; conf is freed then too. */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);

#endif
