# t/faults.sh - `./dev _fault ACTION` (sourced by dev; it uses dev's
# functions and settings): how the fault tests t/81-t/87 (through
# t/faultlib.c) stop and start parts of the test stack, exactly as ./dev
# starts and stops them.
# shellcheck shell=bash

# ./dev _fault ACTION: for the fault tests, acts on the test stack named by
# CONCERT_VAR (the environment ./dev test gives the tests) exactly as ./dev
# starts and stops its parts. Internal: not for the local stack.
#   redis-stop | redis-start | pg-stop | pg-start | pg-restart | pg-crash |
#   responders-start (starts any responder instance that is not running)
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
