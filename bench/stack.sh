#!/usr/bin/env bash
# bench/stack.sh - `./dev bench [--keep|--stop]`: the bench stack, the test
# stack's twin on ports and a folder of its own (scripts/stack.sh's `bench`
# profile), plus the ceiling: a trivial responder at /bench/ceiling that
# every scenario is measured against. bench/run then drives the load; see
# README "Benchmark".
#
# Reads from the environment: CONCERT_BENCH_PORT (18180) and the rest of
# what scripts/stack.sh's `profile bench` reads, BENCH_OUT (where the
# report goes, var/bench by default) and BENCH_KAFKA (1: the stack runs a
# Kafka broker too, on ports 3000 and 3001 below the bench port, and the
# journey is measured with the relay publishing there and without, see
# bench_relay) and BENCH_CLUSTER (1: the stack runs a Redis Cluster of
# three primaries too, on the three ports above its Redis, and a second
# nginx two above its own port whose responders use it, as the test stack
# does; the drop is then run there and on the stack's single Redis, see
# bench/run); bench/run reads BENCH_* settings.
#
#   bench/stack.sh _relay kafka|redis   (bench/run's, on a BENCH_KAFKA stack)
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/stack.sh"

# The ceiling: bench/concert-ceiling (fixed JSON, no Redis, no PostgreSQL) run
# exactly like a responder group: $INSTANCES spawn-fcgi instances, each with
# $CHILDREN processes under multiwatch. Beside it the group `floor`, the same
# program sending Redis one GET a request (CEILING_REDIS): the floor of a
# path that asks Redis once. stop_all stops them when asked to stop the
# groups `ceiling` and `floor`.
bench_start_ceiling() {
    local g i sock pidf redis
    for g in ceiling floor; do
        redis=
        [ $g = floor ] && redis=127.0.0.1:$REDIS_PORT
        for i in $(seq "$INSTANCES"); do
            sock=$RUN/$g-$i.sock
            pidf=$RUN/$g-$i.pid
            pid_alive "$pidf" && continue
            rm -f "$sock"
            as_app_bg env CEILING_REDIS="$redis" setsid spawn-fcgi -n -s "$sock" -M 0600 -- \
                /usr/bin/multiwatch -f "$CHILDREN" -s TERM -- "$BUILD/bench/concert-ceiling" \
                >>"$LOG/$g-$i.log" 2>&1 </dev/null
            echo $! >"$pidf"
        done
    done
    for i in $(seq 50); do
        [ -S "$RUN/ceiling-1.sock" ] && [ -S "$RUN/ceiling-$INSTANCES.sock" ] &&
            [ -S "$RUN/floor-1.sock" ] && [ -S "$RUN/floor-$INSTANCES.sock" ] && return 0
        sleep 0.1
    done
    die "the ceiling responders did not start (see $LOG/ceiling-1.log, $LOG/floor-1.log)"
}

# Waits until /bench/ceiling and /bench/redis-floor answer: the bench
# stack's site passes them to the ceiling's groups (scripts/stack.sh's
# `profile bench`; conf/nginx/concert.conf, the production site, knows
# nothing of them).
bench_wait_ceiling() {
    local i
    for i in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FRONT_PORT/bench/ceiling")" = 200 ] &&
            [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FRONT_PORT/bench/redis-floor")" = 200 ] &&
            return 0
        sleep 0.1
    done
    die "/bench/ceiling or /bench/redis-floor does not answer (see $LOG/nginx-error.log)"
}

# bench_relay kafka|redis: the bench stack's relay started again, publishing
# to the broker as well as the streams (kafka) or to the streams alone
# (redis, from a copy of the config without kafka_brokers). The broker
# keeps running either way: what the runs compare is the publishing.
bench_relay() {
    local conf
    profile bench
    KAFKA=1
    case ${1:-} in
    kafka) conf=$CONF ;;
    redis)
        conf=$VAR/concert-no-kafka.conf
        grep -v '^kafka_brokers' "$CONF" >"$conf"
        if is_root; then chown "$APP_USER:" "$conf"; fi
        ;;
    *) die "usage: bench/stack.sh _relay kafka|redis" ;;
    esac
    stop_pidfile "$RUN/relay.pid" -TERM -g
    CONF=$conf start_relay
}

# Everything the bench stack runs, ceiling and cluster included (stop_all
# stops the cluster's nodes and front); finishes whatever is or is not
# running.
bench_stop() {
    profile bench
    stop_all ceiling floor
}

# ./dev bench [--keep|--stop]: --keep leaves the bench stack up afterwards
# (for profiling; bench/run can then be run again by hand); --stop stops it.
# BENCH_OUT moves the report (var/bench by default).
cmd_bench() {
    local t0=$SECONDS keep=0 out=${BENCH_OUT:-$REPO/var/bench}
    [ $# -le 1 ] || set -- --usage
    case ${1:-} in
    "") ;;
    --keep) keep=1 ;;
    --stop) bench_stop; return 0 ;;
    *) die "usage: ./dev bench [--keep|--stop] (settings through BENCH_* variables, see bench/run)" ;;
    esac
    profile bench
    ensure_packages bench
    KAFKA=0
    case ${BENCH_KAFKA:-0} in
    0) ;;
    1) KAFKA=1; ensure_packages kafka ;;
    *) die "BENCH_KAFKA must be 0 or 1" ;;
    esac
    CLUSTER=0
    case ${BENCH_CLUSTER:-0} in
    0) ;;
    1) CLUSTER=1 ;;
    *) die "BENCH_CLUSTER must be 0 or 1" ;;
    esac
    bench_stop
    stack_gone || die "the bench stack at $VAR did not stop; not starting another over it"
    rm -rf "$VAR"
    # Whatever stops this run (an error, a signal) stops the stack too.
    on_exit bench_stop
    start_stack
    bench_start_ceiling
    bench_wait_ceiling
    say "ceiling: $INSTANCES instances x $CHILDREN processes at /bench/ceiling"
    local cluster_base= cluster_ports=
    if [ $CLUSTER = 1 ]; then
        start_redis_cluster
        start_cluster_front
        cluster_base="http://127.0.0.1:$((FRONT_PORT + 2))"
        cluster_ports=$(cluster_ports)
    fi
    [ $keep = 0 ] || on_exit_clear
    mkdir -p "$out"
    local rc=0
    BENCH_BASE="http://127.0.0.1:$FRONT_PORT" BENCH_ADMIN_KEY_FILE="$ADMIN_KEY_FILE" \
        BENCH_BUILD="$BUILD" BENCH_OUT="$out" BENCH_PG="$PG_CONNINFO" BENCH_REDIS_PORT="$REDIS_PORT" \
        BENCH_KAFKA=$KAFKA BENCH_RELAY="$REPO/bench/stack.sh _relay" \
        BENCH_CLUSTER_BASE="$cluster_base" BENCH_CLUSTER_PORTS="$cluster_ports" "$REPO/bench/run" || rc=$?
    if [ $keep = 0 ]; then
        on_exit_clear
        say "stopping the bench stack"
        bench_stop
    else
        say "the bench stack stays up (./dev bench --stop stops it)"
    fi
    say "./dev bench took $((SECONDS - t0)) s"
    return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    if [ "${1:-}" = _relay ]; then shift; job_main bench_relay "$@"; else job_main cmd_bench "$@"; fi
fi
