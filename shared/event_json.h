/* event_json.h - an event's five fields (contract "Events": eventId, type,
 * occurredAt, concertId, data) as JSON, the one shape both the Kafka
 * messages (relay/kafka_sink.c) and concert-events' lines use, so a
 * consumer of either sees the same event. */
#ifndef CONCERT_EVENT_JSON_H
#define CONCERT_EVENT_JSON_H

#include <json-c/json.h>

/* An event as the outbox and the streams hold it: text fields, concertId
 * "" or NULL when the event has none, data the JSON object's text. */
struct event_fields {
    const char *event_id;
    const char *type;
    const char *occurred_at;
    const char *concert_id;
    const char *data;
};

/* Adds the five fields to obj (concertId a number or null, data the parsed
 * object, or its text when it is not JSON). Returns 0, or -1 when out of
 * memory. */
int event_json_add(struct json_object *obj, const struct event_fields *ev);

#endif
