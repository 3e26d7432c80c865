#!/usr/bin/env bash
# ha/supervise.sh DELAY CMD...: runs CMD, and again DELAY seconds after
# each time it ends, until told to stop (TERM or INT, handed on to CMD and
# waited for). The several-hosts stack runs Redis, the Sentinels and
# pg_auto_failover's keepers under it, as systemd's Restart=always with
# RestartSec=DELAY does on a real host (conf/systemd/concert-redis.service,
# concert-sentinel.service, concert-pg-autoctl.service): a program that
# dies comes back by itself, its host untouched. Each restart is noted on
# standard error.
set -u
delay=${1:?usage: supervise.sh DELAY CMD...}
shift
child=
pause=
stop() {
    trap '' TERM INT
    [ -n "$pause" ] && kill "$pause" 2>/dev/null
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    exit 0
}
trap stop TERM INT
while :; do
    "$@" &
    child=$!
    wait "$child"
    rc=$?
    child=
    printf '%s supervise: %s ended (status %s); again in %s s\n' "$(date -u +%FT%TZ)" "$1" "$rc" "$delay" >&2
    sleep "$delay" &
    pause=$!
    wait "$pause"
    pause=
done
