/* request_log.h - one JSON line per request on standard output, for
 * operators and their log tools (the error log is standard error, so the
 * two can be kept apart):
 *
 *   {"time":"2026-12-24T19:30:00Z","requestId":"4f1c...","group":"queue",
 *    "method":"GET","path":"/api/v1/queue/status","status":200,
 *    "durationMs":0.412,"concertId":7}
 *
 * The path never carries its query, and nothing of a header or a body is
 * written, so no token, session, password or admin key can reach the log.
 * concertId is left out when the request named no concert. */
#ifndef CONCERT_REQUEST_LOG_H
#define CONCERT_REQUEST_LOG_H

#include "http.h"

/* Writes the line for an answered request; group is the responder group
 * ("queue", "reservations", ...), duration_ms its time in the responder. */
void request_log(const struct request *r, const char *group, double duration_ms);

#endif
