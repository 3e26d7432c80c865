/* replica.c - WAIT 1 after a write a failover must not lose (replica.h). */
#include "replica.h"
#include "log.h"
#include "rds.h"

#include <stdio.h>

void replica_wait(int timeout_ms, const char *what)
{
    char wait_ms[24];
    const char *argv[] = {"WAIT", "1", wait_ms};
    redisReply *reply;

    snprintf(wait_ms, sizeof wait_ms, "%d", timeout_ms > 0 ? timeout_ms : 1);
    reply = rds_command(3, argv, NULL);
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer < 1)
        log_error("no replica acknowledged %s within %s ms", what, wait_ms);
    if (reply)
        freeReplyObject(reply);
}
