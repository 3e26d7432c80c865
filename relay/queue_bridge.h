/* queue_bridge.h - events that Lua scripts write to per-concert streams,
 * in the concert's hash slot and atomically with their change, copied into
 * the design's topics: the queue's ({c:C}:queue-events) into the Kafka
 * topic queue-events, and the holds' ({c:C}:reservation-events, hold.h)
 * into the stream reservation-events and, with Kafka, its topic (every
 * concert's in the one stream or topic).
 *
 * Read through the Redis consumer group "concert-relay": an entry is
 * acknowledged (XACK) only after its destinations stored it, so a relay
 * killed at any moment leaves it pending, and the next relay of the host
 * (the same consumer name) reads its pending entries again first: at least
 * once, the same eventId and content. The caller runs a step while it
 * holds the outbox's publishing lock, so one relay at a time bridges and a
 * user's events keep their order. */
#ifndef CONCERT_QUEUE_BRIDGE_H
#define CONCERT_QUEUE_BRIDGE_H

#include "kafka_sink.h"

#include <stddef.h>
#include <stdint.h>

struct queue_bridge;

/* The Kafka topic every concert's queue events go to. */
#define QUEUE_BRIDGE_TOPIC "queue-events"

/* Writes the name of concert_id's stream (a keyspace.h key) into out. */
typedef void (*queue_bridge_name_fn)(char *out, size_t size, int64_t concert_id);

/* A bridge from the concerts' streams that name_of names (looked for once
 * a second) and those the set registry names (each step; NULL: none) to
 * the Kafka topic topic of sink (sink NULL: none) and to the Redis stream
 * stream (NULL: none). The strings must outlive the bridge. */
struct queue_bridge *queue_bridge_new(struct kafka_sink *sink, queue_bridge_name_fn name_of, const char *registry,
                                      const char *topic, const char *stream);

/* The concerts' streams are looked for once a second: 1 when it is time
 * to give queue_bridge_concerts the list. Not with SCAN: a keyspace of a
 * million sessions took seconds of it, in every step of the relay. */
int queue_bridge_wants_concerts(const struct queue_bridge *b);

/* Every concert there is (n ids): the streams of those that have one, not
 * bridged yet, are joined. Returns 0, or -1 (Redis failed: looked for
 * again at the next step). */
int queue_bridge_concerts(struct queue_bridge *b, const int64_t *concerts, int n);

/* Copies what is new in the streams (and this consumer's pending entries)
 * to the destinations and acknowledges what they stored. Returns the
 * entries bridged, or -1 when Redis or Kafka failed (the entries stay
 * pending). */
int queue_bridge_step(struct queue_bridge *b);

void queue_bridge_free(struct queue_bridge *b);

/* The arguments of one event's XADD into stream, trimmed to the streams'
 * 24 hours by minid (event_minid): what the relay writes for an outbox row
 * and the bridge for an entry of a concert's stream. */
#define EVENT_XADD_ARGC 16
struct event_fields;
void event_xadd_argv(const char **a, const char *stream, const char *minid, const struct event_fields *ev);

/* The MINID that keeps the streams' 24 hours (RETAIN_SECONDS), from now. */
void event_minid(char out[32]);

#endif
