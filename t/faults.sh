#!/usr/bin/env bash
# t/faults.sh ACTION - `./dev _fault ACTION`: how the fault tests t/81-t/87
# (through t/faultlib.c) stop and start parts of the test stack, exactly as
# ./dev starts and stops them (scripts/stack.sh's functions).
#
# Reads from the environment: CONCERT_VAR (the test stack's folder, which
# ./dev test gives the tests; it must be the one `profile test` names),
# CONCERT_SANITIZE (set by ./dev test --sanitize: the servers started again
# get the sanitizers' settings), and what scripts/stack.sh's `profile test`
# reads.
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/stack.sh"
. "$REPO/t/sanitize.sh"

# ./dev _fault ACTION: for the fault tests, acts on the test stack named by
# CONCERT_VAR (the environment ./dev test gives the tests) exactly as ./dev
# starts and stops its parts. Internal: not for the local stack.
#   redis-stop | redis-start | pg-stop | pg-start | pg-restart | pg-crash |
#   responders-start (starts any responder instance that is not running) |
#   redis-kill (kill -9, as a crash would; redis-start starts it again from
#   its files) | redis-wipe (Redis stopped loses its files: it comes back
#   empty) | redis-copy (a copy of Redis's files, taken while it is
#   stopped) | redis-restore-copy (Redis stopped gets that copy back: it
#   comes back as it was then)
cmd_fault() {
    [ $# = 1 ] || die "usage: ./dev _fault ACTION (see dev)"
    profile test
    [ -n "${CONCERT_VAR:-}" ] && [ "$CONCERT_VAR" = "$VAR" ] ||
        die "_fault acts only on the test stack ($VAR), and CONCERT_VAR is '${CONCERT_VAR:-}'"
    [ -d "$RUN" ] || die "no test stack at $VAR"
    if [ -n "${CONCERT_SANITIZE:-}" ]; then sanitizer_env_servers; fi
    local bin
    bin=$(pg_bin) || die "PostgreSQL server binaries not found"
    case $1 in
    redis-stop) stop_pidfile "$RUN/redis.pid" -TERM ;;
    redis-start) start_redis >/dev/null ;;
    redis-kill)
        local pid i
        pid=$(cat "$RUN/redis.pid" 2>/dev/null) || die "no Redis pid file"
        case $pid in ""|*[!0-9]*|0|1) die "no Redis pid in $RUN/redis.pid" ;; esac
        kill -KILL "$pid"
        for i in $(seq 100); do running "$pid" || return 0; sleep 0.05; done
        die "Redis (pid $pid) outlived kill -9" ;;
    redis-wipe | redis-copy | redis-restore-copy)
        pid_alive "$RUN/redis.pid" && die "$1: stop Redis first (redis-stop)"
        case $1 in
        redis-wipe) find "$VAR/redis" -mindepth 1 -not -name nodes.conf -delete ;;
        redis-copy) rm -rf "$VAR/redis-copy" && cp -a "$VAR/redis" "$VAR/redis-copy" ;;
        redis-restore-copy)
            [ -d "$VAR/redis-copy" ] || die "no copy of Redis's files (redis-copy)"
            rm -rf "$VAR/redis" && cp -a "$VAR/redis-copy" "$VAR/redis" ;;
        esac ;;
    pg-stop) as_app "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null ;;
    pg-start) start_postgres >/dev/null ;;
    pg-restart)
        as_app "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
        start_postgres >/dev/null ;;
    pg-crash)
        as_app "$bin/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null
        start_postgres >/dev/null ;;
    responders-start) start_responders >/dev/null ;;
    *) die "unknown fault action: $1" ;;
    esac
}

[ "${BASH_SOURCE[0]}" != "$0" ] || job_main cmd_fault "$@"
