/* kafka_source.h - concert-events reading Kafka (--kafka BROKERS): the
 * topics through a Kafka consumer group, each message printed as one JSON
 * line ({"topic", "partition", "offset", "key"} and the event's five
 * fields), its offset stored only once the line is written and committed
 * within a fifth of a second: a consumer killed at any moment (kill -9
 * included) starts again after the last line it committed, so a line may
 * come twice but none is skipped. The consumer's name (--consumer) is its
 * static member id in the group: started again under the same name, it
 * takes back its partitions at once. --idle counts from the last event or
 * the last assignment of partitions, whichever is later. */
#ifndef CONCERT_KAFKA_SOURCE_H
#define CONCERT_KAFKA_SOURCE_H

#include <stdint.h>

struct kafka_follow {
    const char *brokers;
    const char *group;          /* the consumer group */
    const char *consumer;       /* this consumer's client id */
    const char *topics[3];
    int ntopics;
    int64_t concert;            /* queue-events of this concert only (0: all) */
    int from_start;             /* the group reads every partition from its start */
    long count;                 /* exit after this many (0: never) */
    long idle_s;                /* exit after this long without one (0: never) */
};

/* Follows the topics until told to stop (SIGTERM, SIGINT), a count or idle
 * end. Returns 0, 1 when the consumer could not be made, 2 when stdout
 * failed. */
int kafka_follow_run(const struct kafka_follow *k);

#endif
