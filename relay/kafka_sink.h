/* kafka_sink.h - the relay's Kafka producer: events to the topics, each
 * message's key the userId its data names and its value the event's five
 * fields (shared/event_json.h).
 *
 * Idempotent with acks=all: a retry after a lost acknowledgement is not
 * written twice and never lands before the messages sent ahead of it, so
 * one key's messages keep their order in their partition. A round is the
 * messages sent since the last kafka_sink_wait: the caller marks its rows
 * sent (or acknowledges its stream entries) only when the wait says every
 * message of the round is stored; otherwise it sends them again, with the
 * same eventIds and content. */
#ifndef CONCERT_KAFKA_SINK_H
#define CONCERT_KAFKA_SINK_H

#include "event_json.h"

struct kafka_sink;

/* At most this many topics are learned at the start. */
#define KAFKA_SINK_TOPICS 8

/* A producer for brokers ("host:port,...") that learns the topics it will
 * write (up to KAFKA_SINK_TOPICS) at once. NULL after logging why. */
struct kafka_sink *kafka_sink_open(const char *brokers, const char *const *topics, int ntopics);

/* Queues one event for topic. Returns 0, or -1 (the round then fails). */
int kafka_sink_send(struct kafka_sink *s, const char *topic, const struct event_fields *ev);

/* Waits, at most timeout_ms, for the delivery reports of this round's
 * messages. Returns 0 when every one is stored, -1 otherwise (a failure,
 * a refusal or no answer in time); then a new round begins either way. */
int kafka_sink_wait(struct kafka_sink *s, int timeout_ms);

/* Messages that failed since the sink opened (publish errors). */
long kafka_sink_errors(const struct kafka_sink *s);

void kafka_sink_close(struct kafka_sink *s);

#endif
