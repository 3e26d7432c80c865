/* replica.h - waiting for Redis's replica to have a write (WAIT 1), where
 * a failover must not lose it: the several-hosts stack's logouts and,
 * when configured, holds. */
#ifndef CONCERT_REPLICA_H
#define CONCERT_REPLICA_H

/* Waits up to timeout_ms for one replica to acknowledge every write so far
 * on this connection. Not acknowledged in time, the write still stands on
 * the primary: that is logged, naming what (e.g. "a logout"). */
void replica_wait(int timeout_ms, const char *what);

#endif
