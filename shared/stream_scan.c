/* stream_scan.c - the streams matching a pattern (see stream_scan.h). */
#include "stream_scan.h"
#include "event_json.h"
#include "rds.h"

#include <stdio.h>
#include <string.h>

int stream_scan(const char *pattern, int (*found)(const char *name, void *arg), void *arg)
{
    char cursor[32] = "0";

    do {
        const char *scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", "stream"};
        redisReply *reply = rds_command_reply(8, scan);

        if (!reply)
            return -1;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(reply);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
        for (size_t i = 0; i < reply->element[1]->elements; i++) {
            redisReply *k = reply->element[1]->element[i];
            if (k->type == REDIS_REPLY_STRING && found(k->str, arg) < 0) {
                freeReplyObject(reply);
                return -1;
            }
        }
        freeReplyObject(reply);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

const char *stream_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING && strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1]->str;
    return NULL;
}

void stream_event_fields(const redisReply *fields, struct event_fields *out)
{
    out->event_id = stream_field(fields, "eventId");
    out->type = stream_field(fields, "type");
    out->occurred_at = stream_field(fields, "occurredAt");
    out->concert_id = stream_field(fields, "concertId");
    out->data = stream_field(fields, "data");
}
