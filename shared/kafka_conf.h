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

#endif
