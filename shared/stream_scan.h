/* stream_scan.h - finds the streams whose names match a pattern (every
 * concert's {c:C}:queue-events) and reads their entries' fields, for the
 * programs that follow them all: concert-events and the relay's bridge to
 * Kafka. */
#ifndef CONCERT_STREAM_SCAN_H
#define CONCERT_STREAM_SCAN_H

#include <hiredis/hiredis.h>

/* Calls found(name, arg) for each stream matching pattern (SCAN ... TYPE
 * stream), in no order; a name may come twice. Returns 0, or -1 when Redis
 * failed or found returned -1. */
int stream_scan(const char *pattern, int (*found)(const char *name, void *arg), void *arg);

/* The value of field name in an entry's field list (XREADGROUP's
 * name, value, name, value array), or NULL. */
const char *stream_field(const redisReply *fields, const char *name);

/* An entry's five event fields (event_json.h), pointing into fields. */
struct event_fields;
void stream_event_fields(const redisReply *fields, struct event_fields *out);

#endif
