/* queue_bridge.h - the queue's events, which the queue's Lua scripts write
 * to each concert's stream {c:C}:queue-events, copied into the Kafka topic
 * queue-events (every concert's in the one topic).
 *
 * Read through the Redis consumer group "concert-relay": an entry is
 * acknowledged (XACK) only after Kafka stored it, so a relay killed at any
 * moment leaves it pending, and the next relay of the host (the same
 * consumer name) reads its pending entries again first: at least once,
 * the same eventId and content. The caller runs a step while it holds the
 * outbox's publishing lock, so one relay at a time bridges and a user's
 * queue events keep their order. */
#ifndef CONCERT_QUEUE_BRIDGE_H
#define CONCERT_QUEUE_BRIDGE_H

#include "kafka_sink.h"

#include <stdint.h>

struct queue_bridge;

/* The Kafka topic every concert's queue events go to. */
#define QUEUE_BRIDGE_TOPIC "queue-events"

struct queue_bridge *queue_bridge_new(struct kafka_sink *sink);

/* The concerts' streams are looked for once a second: 1 when it is time
 * to give queue_bridge_concerts the list. Not with SCAN: a keyspace of a
 * million sessions took seconds of it, in every step of the relay. */
int queue_bridge_wants_concerts(const struct queue_bridge *b);

/* Every concert there is (n ids): the streams of those whose queue wrote
 * events, not bridged yet, are joined. Returns 0, or -1 (Redis failed:
 * looked for again at the next step). */
int queue_bridge_concerts(struct queue_bridge *b, const int64_t *concerts, int n);

/* Copies what is new in the streams (and this consumer's pending entries)
 * to Kafka and acknowledges what Kafka stored. Returns the entries bridged,
 * or -1 when Redis or Kafka failed (the entries stay pending). */
int queue_bridge_step(struct queue_bridge *b);

void queue_bridge_free(struct queue_bridge *b);

#endif
