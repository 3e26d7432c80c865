/* event_json.c - an event's five fields as JSON (see event_json.h). */
#include "event_json.h"
#include "valid.h"

#include <stdint.h>

/* Adds key = a string, or null for a missing field. */
static int add_text(struct json_object *obj, const char *key, const char *text)
{
    struct json_object *v = NULL;

    if (text && !(v = json_object_new_string(text)))
        return -1;
    return json_object_object_add(obj, key, v) == 0 ? 0 : (json_object_put(v), -1);
}

int event_json_add(struct json_object *obj, const struct event_fields *ev)
{
    struct json_object *concert = NULL, *data = NULL;
    int64_t concert_id;

    if (add_text(obj, "eventId", ev->event_id) < 0 || add_text(obj, "type", ev->type) < 0 ||
        add_text(obj, "occurredAt", ev->occurred_at) < 0)
        return -1;
    if (ev->concert_id && valid_id(ev->concert_id, &concert_id) == 0 && !(concert = json_object_new_int64(concert_id)))
        return -1;
    if (json_object_object_add(obj, "concertId", concert) != 0) {
        json_object_put(concert);
        return -1;
    }
    if (ev->data) {
        data = json_tokener_parse(ev->data);
        if (!data && !(data = json_object_new_string(ev->data)))
            return -1;
    }
    if (json_object_object_add(obj, "data", data) != 0) {
        json_object_put(data);
        return -1;
    }
    return 0;
}
