/* metrics.h - this host's counters, for GET /metrics.
 *
 * Every responder process of a host maps one file (metrics_file in the
 * config; /run is a tmpfs, so it lives in memory) and adds to its counters
 * with atomic increments: requests by group and status, a latency histogram
 * by group, PostgreSQL and Redis failures, and holds and payments by concert
 * and status. Kept there rather than in each process, the counts survive a
 * process that dies (multiwatch starts another, which maps the same file),
 * and any admin process of the host can read them all; kept there rather
 * than in Redis, counting costs no round trip. They start again from zero
 * when the host boots, which Prometheus reads as a counter reset. A host
 * without the file (metrics_file unset, or it cannot be made) counts
 * nothing and serves on: metrics never stop a sale.
 *
 * What is the same for every host (queue sizes, admissions) lives in Redis
 * and is read at scrape time (fcgi/admin.c). */
#ifndef CONCERT_METRICS_H
#define CONCERT_METRICS_H

#include <stdint.h>
#include <stdio.h>

/* METRICS_KAFKA: an event the relay could not get Kafka to store (it is
 * published again). */
enum metrics_store { METRICS_POSTGRES, METRICS_REDIS, METRICS_KAFKA, METRICS_STORES };
enum metrics_kind { METRICS_NONE, METRICS_HOLD, METRICS_PAYMENT };

/* Maps the file named by the config (once a process). */
void metrics_open(const char *path);

/* A request answered by group ("queue", ...) with status after ms. */
void metrics_request(const char *group, int status, double ms);

/* A call to a store that failed (unreachable, lost, refused). */
void metrics_store_error(enum metrics_store store);

/* A hold or payment request about concert_id answered with status; none
 * when concert_id is 0. concert_id must be a concert known to exist (its
 * token was found in Redis): each new one takes a series until the host
 * boots, and past the table's room (1,024) they share concert="other". */
void metrics_outcome(enum metrics_kind kind, int64_t concert_id, int status);

/* Writes this host's counters in the Prometheus text format (with HELP and
 * TYPE lines). Returns 0, or -1 when there are none (no file mapped). */
int metrics_write(FILE *out);

#endif
