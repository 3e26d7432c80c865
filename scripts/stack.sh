#!/usr/bin/env bash
# scripts/stack.sh - the stack on one host: `./dev up`, `./dev down` and
# `./dev status`; and, sourced, the single-host stack's parts for the other
# job scripts (the test and bench stacks are this stack on other ports and
# folders; the fault tests and the several-hosts stack start and stop
# parts of it). Run as scripts/stack.sh COMMAND [ARGS]:
#   up | down | status [up|test|bench] [--json]
#   site test|up|bench nginx|apache  the stack's rendered site (for t/8j)
#
# Reads from the environment (through `profile`, which sets the stack's
# settings below from them, but for CONCERT_ADMIN_KEY: prepare_var):
#   up:    CONCERT_PORT (8080), CONCERT_PG_PORT (15432), CONCERT_REDIS_PORT
#          (16379), CONCERT_FRONT (nginx or apache), CONCERT_ADMIN_KEY (the
#          admin key to keep, else one is made)
#   test:  CONCERT_TEST_PORT (18080; PostgreSQL 2548 and Redis 1601 below)
#   bench: CONCERT_BENCH_PORT (18180; the same)
#   all:   CONCERT_CHILDREN (4 processes per responder instance), and
#          scripts/lib.sh's CONCERT_BUILD_DIR, CONCERT_CONFIGURE_FLAGS
# Sets (profile): PROFILE VAR RUN LOG PGDATA CONF FRONT FRONT_PORT
# APACHE_PORT PG_PORT REDIS_PORT PG_CONNINFO ADMIN_KEY_FILE CHILDREN
# SITE_EXTRA.
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$REPO/scripts/site.sh"
# The Kafka broker run beside the stack with `up --kafka` and in the tests.
. "$REPO/kafka/broker.sh"

# The bench stack's folder: var/bench-stack, or var/bench-stack-PORT for one
# on another port (so that two never share data). bench/profile reads it too.
bench_var() {
    if [ "$1" = 18180 ]; then echo "$REPO/var/bench-stack"; else echo "$REPO/var/bench-stack-$1"; fi
}

# Settings of one stack: `up` (the local stack), `test` (the test stack) or
# `bench` (the bench stack, bench/stack.sh: the test stack's twin, plus the
# ceiling's groups in its site). The test and bench stacks put PostgreSQL
# 2548 and Redis 1601 below their port, hence 4096 at least.
profile() {
    PROFILE=$1
    SITE_EXTRA=
    case $PROFILE in
    up)
        VAR=$REPO/var
        FRONT_PORT=$(port_number CONCERT_PORT "${CONCERT_PORT:-8080}")
        APACHE_PORT=$FRONT_PORT
        PG_PORT=$(port_number CONCERT_PG_PORT "${CONCERT_PG_PORT:-15432}")
        REDIS_PORT=$(port_number CONCERT_REDIS_PORT "${CONCERT_REDIS_PORT:-16379}")
        FRONT=${CONCERT_FRONT:-nginx}
        CHILDREN=${CONCERT_CHILDREN:-4}
        ;;
    test)
        FRONT_PORT=$(port_number CONCERT_TEST_PORT "${CONCERT_TEST_PORT:-18080}" 4096)
        # A second test run on other ports gets its own data as well.
        VAR=$REPO/var/test
        [ "$FRONT_PORT" = 18080 ] || VAR=$REPO/var/test-$FRONT_PORT
        APACHE_PORT=$((FRONT_PORT + 1))
        PG_PORT=$((FRONT_PORT - 2548))     # 15532 by default
        REDIS_PORT=$((FRONT_PORT - 1601))  # 16479 by default
        FRONT=both
        CHILDREN=${CONCERT_CHILDREN:-4}
        ;;
    bench)
        FRONT_PORT=$(port_number CONCERT_BENCH_PORT "${CONCERT_BENCH_PORT:-18180}" 4096)
        VAR=$(bench_var "$FRONT_PORT")
        APACHE_PORT=$((FRONT_PORT + 1))
        PG_PORT=$((FRONT_PORT - 2548))
        REDIS_PORT=$((FRONT_PORT - 1601))
        FRONT=nginx
        CHILDREN=${CONCERT_CHILDREN:-4}
        ;;
    *) die "no such stack: $PROFILE" ;;
    esac
    case $CHILDREN in ""|*[!0-9]*|0*) die "CONCERT_CHILDREN must be a number of processes, 1 or more" ;; esac
    RUN=$VAR/run
    LOG=$VAR/log
    PGDATA=$VAR/pg
    CONF=$VAR/concert.conf
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=concert user=$APP_USER"
    # The bench stack's site passes /bench/ceiling and /bench/redis-floor to
    # the ceiling's groups (bench/stack.sh starts them).
    [ "$PROFILE" = bench ] && SITE_EXTRA="ceiling=/bench/ceiling floor=/bench/redis-floor"
    if [ "$PROFILE" = up ]; then ADMIN_KEY_FILE=$REPO/var/admin.key; else ADMIN_KEY_FILE=$VAR/admin.key; fi
    kafka_profile
}

# --- state folders and config ------------------------------------------------

prepare_var() {
    mkdir -p "$RUN" "$LOG" "$VAR/redis" "$VAR/nginx" "$VAR/apache"
    if [ ! -s "$ADMIN_KEY_FILE" ] || { [ -n "${CONCERT_ADMIN_KEY:-}" ] && [ "$PROFILE" = up ]; }; then
        if [ -n "${CONCERT_ADMIN_KEY:-}" ] && [ "$PROFILE" = up ]; then
            printf '%s\n' "$CONCERT_ADMIN_KEY" >"$ADMIN_KEY_FILE"
        else
            head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ADMIN_KEY_FILE"
            echo >>"$ADMIN_KEY_FILE"
        fi
    fi
    chmod 600 "$ADMIN_KEY_FILE"
    sed -e "s|^pg_conninfo = .*|pg_conninfo = $PG_CONNINFO connect_timeout=2 options='-c statement_timeout=5000'|" \
        -e "s|^redis_port = .*|redis_port = $REDIS_PORT|" \
        -e "s|^admin_key_file = .*|admin_key_file = $ADMIN_KEY_FILE|" \
        -e "s|^metrics_file = .*|metrics_file = $RUN/metrics|" \
        conf/concert.conf >"$CONF"
    if [ "${KAFKA:-0}" = 1 ]; then kafka_conf >>"$CONF"; fi
    if is_root; then
        chown -R "$APP_USER:" "$VAR"
        chown "$APP_USER:" "$ADMIN_KEY_FILE"
    fi
    chmod 700 "$RUN"
}

# A process is running when it exists and is not a zombie waiting for its

# --- PostgreSQL --------------------------------------------------------------

start_postgres() {
    local bin
    bin=$(pg_bin) || die "PostgreSQL server binaries not found (apt-get install postgresql)"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        say "initdb $PGDATA"
        as_app "$bin/initdb" -D "$PGDATA" -U "$APP_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOG/initdb.log" 2>&1 ||
            { cat "$LOG/initdb.log"; die "initdb failed"; }
    fi
    if as_app "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        return 0
    fi
    local durability=""
    [ "$PROFILE" = up ] || durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    say "postgres on 127.0.0.1:$PG_PORT"
    as_app "$bin/pg_ctl" -D "$PGDATA" -l "$LOG/postgres.log" -w -t 60 \
        -o "-p $PG_PORT -k $RUN -c listen_addresses=127.0.0.1 -c max_connections=300 $durability" \
        start >/dev/null || { tail -20 "$LOG/postgres.log"; die "postgres did not start"; }
    as_app psql -h 127.0.0.1 -p "$PG_PORT" -U "$APP_USER" -d postgres -qtAc \
        "SELECT 1 FROM pg_database WHERE datname = 'concert'" | grep -q 1 ||
        as_app "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$APP_USER" concert
}

psql_app() { PGOPTIONS='-c client_min_messages=warning' as_app psql -d "$PG_CONNINFO" -v ON_ERROR_STOP=1 -qtA "$@"; }

# Applies the run-once migrations sql/0*.sql not yet recorded in
# schema_migrations, in order, then sql/functions.sql (every function, all
# CREATE OR REPLACE, so it is applied on every run), all in one transaction:
# a failure leaves the database as it was. The demo data (sql/9*.sql) comes
# after, once, and only for the local stack.
migrate() {
    psql_app -c "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
    local f v demo=
    # Two runs at once (two hosts deploying) never interleave: the second
    # waits, and fails without a change if it meant to apply a migration the
    # first has applied meanwhile.
    local args=(-c "SELECT pg_advisory_xact_lock(hashtext('concert migrate'))")
    for f in sql/[0-9]*.sql; do
        v=$(basename "$f" .sql)
        case $v in 9*) [ "$PROFILE" = up ] && demo="$demo $f"; continue ;; esac
        if [ -z "$(psql_app -c "SELECT 1 FROM schema_migrations WHERE version = '$v'")" ]; then
            say "migration $v"
            args+=(-f "$f" -c "INSERT INTO schema_migrations (version) VALUES ('$v')")
        fi
    done
    args+=(-f sql/functions.sql)
    psql_app -1 "${args[@]}" >/dev/null
    for f in $demo; do
        v=$(basename "$f" .sql)
        if [ -z "$(psql_app -c "SELECT 1 FROM schema_migrations WHERE version = '$v'")" ]; then
            say "demo data $v"
            psql_app -1 -f "$f" -c "INSERT INTO schema_migrations (version) VALUES ('$v')" >/dev/null
        fi
    done
}

# --- Redis -------------------------------------------------------------------

# The test stack's Redis is a one-node Redis Cluster owning every slot: every
# script and command of every test then runs where keys of two hash slots in
# one call are refused (CROSSSLOT), so the service stays ready for a cluster
# (t/2b-cluster-slots). Other stacks run a plain Redis. Every one keeps its
# data as conf/redis.conf says (an append-only file, no snapshots): a
# restart, even after kill -9, comes back with every write it acknowledged,
# and a logout stays a logout (t/8i).
start_redis() {
    local i cluster=
    if pid_alive "$RUN/redis.pid"; then return 0; fi
    say "redis on 127.0.0.1:$REDIS_PORT"
    [ "$PROFILE" = test ] && cluster="--cluster-enabled yes --cluster-config-file nodes.conf"
    # shellcheck disable=SC2086  # $cluster is words on purpose
    as_app redis-server "$REPO/conf/redis.conf" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$VAR/redis" \
        --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$LOG/redis.log" \
        --protected-mode yes $cluster
    for i in $(seq 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "redis did not start (see $LOG/redis.log)"
    [ -n "$cluster" ] || return 0
    # A restarted node keeps its slots in nodes.conf; a new one takes them all.
    redis-cli -p "$REDIS_PORT" cluster info | grep -q '^cluster_slots_assigned:16384' ||
        redis-cli -p "$REDIS_PORT" cluster addslotsrange 0 16383 >/dev/null
    for i in $(seq 50); do
        redis-cli -p "$REDIS_PORT" cluster info | grep -q '^cluster_state:ok' && return 0
        sleep 0.1
    done
    die "redis did not become a one-node cluster (see $LOG/redis.log)"
}

# The test stack's second Redis: a Redis Cluster of three primaries (no
# replicas), on the three ports above the first one's, that a second set of
# responders serves from behind a second nginx (start_cluster_front): the
# routing over several primaries, MOVED and ASK included, is tested against
# real nodes (t/2n, t/2o) while the rest of the suite keeps its one-node
# cluster, whose keys the tests read and write directly. The bench stack
# runs the same pair with BENCH_CLUSTER=1 (bench/stack.sh), to compare a
# drop over the three primaries with one over its own single Redis.
cluster_ports() { echo $((REDIS_PORT + 1)) $((REDIS_PORT + 2)) $((REDIS_PORT + 3)); }

start_redis_cluster() {
    local p i nodes= ok
    for p in $(cluster_ports); do
        nodes="$nodes 127.0.0.1:$p"
        pid_alive "$RUN/redis-cluster-$p.pid" && continue
        as_app mkdir -p "$VAR/redis-cluster-$p"
        as_app redis-server "$REPO/conf/redis.conf" --bind 127.0.0.1 --port "$p" --dir "$VAR/redis-cluster-$p" \
            --daemonize yes --pidfile "$RUN/redis-cluster-$p.pid" --logfile "$LOG/redis-cluster-$p.log" \
            --protected-mode yes --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000
    done
    for p in $(cluster_ports); do
        for i in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
        redis-cli -p "$p" ping >/dev/null 2>&1 || die "redis did not start on $p (see $LOG/redis-cluster-$p.log)"
    done
    say "redis cluster on$nodes"
    p=$((REDIS_PORT + 1))
    # Restarted nodes keep their slots in nodes.conf; new ones are joined.
    redis-cli -p "$p" cluster info | grep -q '^cluster_slots_assigned:16384' ||
        # shellcheck disable=SC2086  # $nodes is words on purpose
        redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes >"$LOG/redis-cluster-create.log" 2>&1 ||
        die "the redis cluster was not made (see $LOG/redis-cluster-create.log)"
    for i in $(seq 100); do
        ok=1
        for p in $(cluster_ports); do
            redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || ok=0
        done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    die "the redis cluster did not come up (see $LOG/redis-cluster-*.log)"
}

# cluster_front_profile: the settings of the responders and nginx that use
# the three-primary cluster: the test stack's run one process per responder
# instance (the tests that use them are few), the bench stack's as many as
# its own front's, or the comparison would weigh processes, not routing.
# Only the stack's own locations: the bench's ceiling stays on its front.
cluster_front_profile() {
    CLUSTER_FRONT_PORT=$((FRONT_PORT + 2))
    VAR=$VAR/cluster-front
    RUN=$VAR/run
    LOG=$VAR/log
    PGDATA=$VAR/pg
    CONF=$VAR/concert.conf
    SITE_EXTRA=
    [ "$PROFILE" = bench ] || CHILDREN=1
}

# The cluster's nodes as redis_cluster_nodes names them.
cluster_nodes() {
    local p nodes=
    for p in $(cluster_ports); do nodes="$nodes${nodes:+,}127.0.0.1:$p"; done
    echo "$nodes"
}

start_cluster_front() {
    (
        local main_conf=$CONF nodes
        nodes=$(cluster_nodes)
        cluster_front_profile
        as_app mkdir -p "$RUN" "$LOG" "$VAR/nginx"
        chmod 700 "$RUN"
        sed -e "s|^metrics_file = .*|metrics_file = $RUN/metrics|" "$main_conf" >"$CONF"
        echo "redis_cluster_nodes = $nodes" >>"$CONF"
        is_root && chown "$APP_USER:" "$CONF"
        start_responders
        start_nginx "$CLUSTER_FRONT_PORT"
        wait_healthy "http://127.0.0.1:$CLUSTER_FRONT_PORT"
    )
}

stop_cluster_front() {
    local p
    [ -d "$VAR/cluster-front" ] && (cluster_front_profile; stop_all)
    for p in $(cluster_ports); do stop_pidfile "$RUN/redis-cluster-$p.pid" -TERM; done
}

# --- responders --------------------------------------------------------------

start_responders() {
    local g i sock pidf
    for g in $GROUPS_ALL; do
        for i in $(seq "$INSTANCES"); do
            sock=$RUN/$g-$i.sock
            pidf=$RUN/$g-$i.pid
            if pid_alive "$pidf"; then
                # Rebuilt since it started: replace it so the new code serves.
                [ "$BUILD/fcgi/concert-$g" -nt "$pidf" ] || continue
                stop_pidfile "$pidf" -TERM -g
            fi
            rm -f "$sock"
            # spawn-fcgi binds the socket and execs multiwatch, which keeps
            # $CHILDREN copies of the responder alive (restarting any that die).
            as_app_bg env CONCERT_CONF="$CONF" setsid spawn-fcgi -n -s "$sock" -M 0600 -- \
                /usr/bin/multiwatch -f "$CHILDREN" -s TERM -- "$BUILD/fcgi/concert-$g" \
                >>"$LOG/$g-$i.requests.log" 2>>"$LOG/$g-$i.log" </dev/null
            echo $! >"$pidf"
        done
    done
    for i in $(seq 50); do
        local all=1
        for g in $GROUPS_ALL; do for j in $(seq "$INSTANCES"); do [ -S "$RUN/$g-$j.sock" ] || all=0; done; done
        [ $all = 1 ] && break
        sleep 0.1
    done
    say "responders: $INSTANCES instances x $CHILDREN processes per group"
}

# --- fronts --------------------------------------------------------------------

# stack_site KIND: this stack's site for KIND (nginx or apache), listening
# on PORT (the front's), its sockets under $RUN.
stack_site() {
    render_single_host_site "$1" "$2" "$RUN" "$SITE_EXTRA"
}

start_nginx() {
    local port=$1 dir=$VAR/nginx
    pid_alive "$RUN/nginx.pid" && return 0
    mkdir -p "$dir"
    stack_site nginx "$port" >"$dir/site.conf" || die "the nginx site was not rendered"
    write_nginx_conf "$dir" "$RUN" "$LOG"
    say "nginx on http://127.0.0.1:$port"
    as_app nginx -e "$LOG/nginx-error.log" -c "$dir/nginx.conf" -p "$dir" ||
        die "nginx did not start (see $LOG/nginx-error.log)"
}

start_apache() {
    local port=$1 dir=$VAR/apache m
    pid_alive "$RUN/apache.pid" && return 0
    stack_site apache "$port" >"$dir/site.conf" || die "the Apache site was not rendered"
    {
        echo "# Generated by ./dev from conf/apache/concert.conf; edit that file instead."
        echo "ServerRoot /usr/lib/apache2"
        echo "ServerName 127.0.0.1"
        for m in mpm_event authz_core mime dir alias headers proxy proxy_fcgi proxy_balancer \
                 slotmem_shm lbmethod_byrequests; do
            echo "LoadModule ${m}_module /usr/lib/apache2/modules/mod_$m.so"
        done
        echo "Listen 127.0.0.1:$port"
        echo "PidFile $RUN/apache.pid"
        echo "DefaultRuntimeDir $RUN"
        echo "Mutex file:$RUN default"
        echo "ErrorLog $LOG/apache-error.log"
        echo "LogLevel warn"
        echo "TypesConfig /etc/mime.types"
        echo "ServerTokens Prod"
        echo "StartServers 2"
        echo "MaxRequestWorkers 256"
        echo "ThreadsPerChild 64"
        echo "Include $dir/site.conf"
    } >"$dir/httpd.conf"
    is_root && chown -R "$APP_USER:" "$dir"
    say "apache on http://127.0.0.1:$port"
    as_app env APACHE_RUN_DIR="$RUN" APACHE_LOG_DIR="$LOG" /usr/sbin/apache2 -f "$dir/httpd.conf" -k start ||
        die "apache did not start (see $LOG/apache-error.log)"
    local i
    for i in $(seq 50); do pid_alive "$RUN/apache.pid" && return 0; sleep 0.1; done
    die "apache did not start (see $LOG/apache-error.log)"
}


# --- cron ----------------------------------------------------------------------

cron_line() {
    echo "* * * * * CONCERT_CONF=$CONF $BUILD/cron/concert-cron >>$LOG/cron.log 2>&1 # concert:$VAR"
}

start_cron() {
    if [ "$PROFILE" = up ] && pgrep -x cron >/dev/null 2>&1 && command -v crontab >/dev/null; then
        local current
        current=$(as_app crontab -l 2>/dev/null | grep -v "# concert:$VAR\$" || true)
        printf '%s\n%s\n' "$current" "$(cron_line)" | sed '/^$/d' | as_app crontab -
        say "cron: crontab entry every minute"
        return 0
    fi
    pid_alive "$RUN/cron-loop.pid" && return 0
    # No cron daemon here: a supervised loop runs the program every minute.
    as_app_bg env CONCERT_CONF="$CONF" setsid bash -c \
        "while :; do '$BUILD/cron/concert-cron' || true; sleep 60; done" \
        >>"$LOG/cron.log" 2>&1 </dev/null
    echo $! >"$RUN/cron-loop.pid"
    say "cron: every minute (supervised loop, no cron daemon running)"
}

# The outbox's relay (relay/): multiwatch keeps one running, restarted if it
# dies, as the responders are kept.
start_relay() {
    pid_alive "$RUN/relay.pid" && ! [ "$BUILD/relay/concert-relay" -nt "$RUN/relay.pid" ] && return 0
    stop_pidfile "$RUN/relay.pid" -TERM -g
    as_app_bg env CONCERT_CONF="$CONF" setsid /usr/bin/multiwatch -f 1 -s TERM -- "$BUILD/relay/concert-relay" \
        >>"$LOG/relay.log" 2>&1 </dev/null
    echo $! >"$RUN/relay.pid"
    say "relay: publishing the outbox to Redis Streams"
}

stop_cron() {
    local entries
    if command -v crontab >/dev/null 2>&1 && entries=$(as_app crontab -l 2>/dev/null) &&
        printf '%s\n' "$entries" | grep "# concert:$VAR\$" >/dev/null; then
        # grep -v finds nothing when ours was the only entry: an empty crontab.
        printf '%s\n' "$entries" | { grep -v "# concert:$VAR\$" || true; } | as_app crontab - ||
            printf 'dev: could not remove the crontab entry of %s\n' "$VAR" >&2
    fi
    stop_pidfile "$RUN/cron-loop.pid" -TERM -g
}

# on_exit COMMANDS: runs COMMANDS when this script ends, however it ends: an
# error, an exit, or INT, TERM or HUP. A signal that comes while they run must
# not cut them short, since they are what stops the servers: timeout(1)

# stop_all [GROUP...]: stops this stack; GROUPs are responder-like groups
# beyond the stack's own (the bench stack's ceiling).
# shellcheck disable=SC2120  # bench/stack.sh passes the ceiling
stop_all() {
    local g i bin jobs=
    [ -d "$RUN" ] || return 0
    # The fronts, responders and cron loop stop in parallel: each takes a
    # second or two to finish its requests.
    stop_cron & jobs="$jobs $!"
    stop_pidfile "$RUN/relay.pid" -TERM -g & jobs="$jobs $!"
    stop_pidfile "$RUN/nginx.pid" -QUIT & jobs="$jobs $!"
    stop_pidfile "$RUN/apache.pid" -TERM & jobs="$jobs $!"
    for g in $GROUPS_ALL "$@"; do
        for i in $(seq "$INSTANCES"); do
            { stop_pidfile "$RUN/$g-$i.pid" -TERM -g; rm -f "$RUN/$g-$i.sock"; } &
            jobs="$jobs $!"
        done
    done
    # Only these jobs (the servers are disowned, but a bare wait would
    # still wait for any job left by a caller).
    for i in $jobs; do wait "$i" || true; done
    stop_pidfile "$RUN/redis.pid" -TERM
    kafka_stop
    case ${PROFILE:-} in test|bench) stop_cluster_front ;; esac
    if bin=$(pg_bin) && [ -f "$PGDATA/postmaster.pid" ]; then
        as_app "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# True when nothing of this stack runs any more (after stop_all): the next
# start may wipe its folder.
stack_gone() {
    local f bin
    for f in "$RUN"/*.pid; do
        pid_alive "$f" && return 1
    done
    if bin=$(pg_bin) && [ -f "$PGDATA/postmaster.pid" ] &&
        as_app "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        return 1
    fi
    return 0
}

# --- the stack's life --------------------------------------------------------------

start_stack() {
    raise_open_files
    ensure_app_user
    build
    prepare_var
    start_postgres
    migrate
    start_redis
    start_responders
    case $FRONT in
    nginx) start_nginx "$FRONT_PORT" ;;
    apache) start_apache "$FRONT_PORT" ;;
    both) start_nginx "$FRONT_PORT"; start_apache "$APACHE_PORT" ;;
    *) die "CONCERT_FRONT must be nginx or apache" ;;
    esac
    start_cron
    # The broker before the relay that publishes there.
    if [ "${KAFKA:-0}" = 1 ]; then kafka_up; fi
    start_relay
    wait_healthy "http://127.0.0.1:$FRONT_PORT"
    if [ "$PROFILE" = test ]; then
        start_redis_cluster
        start_cluster_front
    fi
}

# The several-hosts stack of this profile stopped (ha/stack.sh): it answers
# on the same port and shares the folder.
stop_ha_stack() {
    "$REPO/ha/stack.sh" stop "$PROFILE"
}

# test_env: the environment a test is given about this stack (t/testlib.h
# and the .sh tests read it).
test_env() {
    export CONCERT_ADMIN_KEY
    CONCERT_ADMIN_KEY=$(head -n1 "$ADMIN_KEY_FILE")
    export CONCERT_PG="$PG_CONNINFO"
    export CONCERT_REDIS_PORT=$REDIS_PORT
    # The three-primary cluster's front, when this stack runs one (not the
    # several-hosts stack).
    if [ "$PROFILE" = test ] && pid_alive "$VAR/cluster-front/run/nginx.pid"; then
        export CONCERT_CLUSTER_URL="http://127.0.0.1:$((FRONT_PORT + 2))"
        export CONCERT_CLUSTER_PORTS
        CONCERT_CLUSTER_PORTS=$(cluster_ports)
    fi
    export CONCERT_VAR=$VAR
    export CONCERT_CONF=$CONF
    export CONCERT_REPO=$REPO
    export CONCERT_BUILD=$BUILD
    export CONCERT_CRON=$BUILD/cron/concert-cron
    export CONCERT_RELAY=$BUILD/relay/concert-relay
    export CONCERT_EVENTS=$BUILD/events/concert-events
    # The tests' broker, when the stack runs one.
    export CONCERT_KAFKA_BROKERS=
    if [ "${KAFKA:-0}" = 1 ]; then CONCERT_KAFKA_BROKERS=$KAFKA_BROKERS; fi
    export CONCERT_PG_BIN
    CONCERT_PG_BIN=$(pg_bin)
    export CONCERT_RUN_AS=
    is_root && CONCERT_RUN_AS=$APP_USER
    return 0
}

# --- commands ----------------------------------------------------------------------

cmd_up() {
    KAFKA=0
    if [ "${1:-}" = --kafka ]; then KAFKA=1; shift; fi
    profile up
    [ "$FRONT" = nginx ] || [ "$FRONT" = apache ] || die "CONCERT_FRONT must be nginx or apache"
    [ $# = 0 ] || die "usage: ./dev up [--ha|--kafka] (settings through CONCERT_* variables, see README)"
    ensure_packages up
    if [ $KAFKA = 1 ]; then ensure_packages kafka; fi
    # The several-hosts stack answers on the same port: stop it first.
    stop_ha_stack
    # Switching front: stop the other one first.
    if [ "$FRONT" = nginx ]; then stop_pidfile "$RUN/apache.pid" -TERM; else stop_pidfile "$RUN/nginx.pid" -QUIT; fi
    start_stack
    echo
    echo "The concert service is up ($FRONT): http://127.0.0.1:$FRONT_PORT"
    echo "  health:     curl http://127.0.0.1:$FRONT_PORT/healthz"
    echo "  admin key:  $ADMIN_KEY_FILE"
    sed -n 's/^--   \([^ ]*@[^ ]*\) *\(.*\)$/  demo login: \1  password: \2/p' sql/910_demo_accounts.sql
    echo "  logs:       $LOG/"
    echo "  stop:       ./dev down"
}

cmd_down() {
    profile up
    [ $# = 0 ] || die "usage: ./dev down"
    stop_all
    stop_ha_stack
    echo "stopped (data kept in $VAR)"
}

cmd_status() {
    local which=up json=0 arg
    for arg in "$@"; do
        case $arg in
        up|test|bench) which=$arg ;;
        --json) json=1 ;;
        *) die "usage: ./dev status [up|test|bench] [--json]" ;;
        esac
    done
    profile "$which"
    if [ "$which" != bench ]; then
        if "$REPO/ha/stack.sh" is-up "$which"; then
            "$REPO/ha/stack.sh" status "$which" "$([ $json = 1 ] && echo --json || echo --text)"
            return 0
        fi
    fi
    local g i name bin pid first=1
    # One line per part, or with --json one object per part (host, role,
    # address, pid, state): on one host every part is "local", and
    # PostgreSQL and Redis are the primaries.
    part() {   # name role address pid state text
        if [ $json = 1 ]; then
            [ $first = 1 ] || printf ',\n'
            first=0
            printf '  {"part": "%s", "host": "local", "role": "%s", "address": %s, "pid": %s, "state": "%s"}' \
                "$1" "$2" "$([ -n "$3" ] && printf '"%s"' "$3" || echo null)" "${4:-null}" "$5"
        else
            printf '  %-22s %s\n' "$1" "$6"
        fi
    }
    pidof_file() { pid_alive "$1" && cat "$1"; }
    [ $json = 1 ] && printf '{"stack": "%s", "parts": [\n' "$VAR" || echo "stack: $VAR"
    if bin=$(pg_bin) && as_app "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        pid=$(head -n1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
        part postgres primary "127.0.0.1:$PG_PORT" "$pid" running "running on 127.0.0.1:$PG_PORT"
    else part postgres primary "127.0.0.1:$PG_PORT" "" stopped stopped; fi
    if pid=$(pidof_file "$RUN/redis.pid"); then
        part redis primary "127.0.0.1:$REDIS_PORT" "$pid" running "running on 127.0.0.1:$REDIS_PORT (pid $pid)"
    else part redis primary "127.0.0.1:$REDIS_PORT" "" stopped stopped; fi
    for g in $GROUPS_ALL; do
        for i in $(seq "$INSTANCES"); do
            name="$g-$i"
            if pid=$(pidof_file "$RUN/$name.pid"); then
                part "$name" responder "$RUN/$name.sock" "$pid" running \
                    "running (pid $pid, $(pgrep -c -P "$pid" || true) processes)"
            else part "$name" responder "$RUN/$name.sock" "" stopped stopped; fi
        done
    done
    if pid=$(pidof_file "$RUN/nginx.pid"); then
        part nginx balancer "127.0.0.1:$FRONT_PORT" "$pid" running "running (pid $pid)"
    else part nginx balancer "127.0.0.1:$FRONT_PORT" "" stopped stopped; fi
    if pid=$(pidof_file "$RUN/apache.pid"); then
        part apache balancer "127.0.0.1:$APACHE_PORT" "$pid" running "running (pid $pid)"
    else part apache balancer "127.0.0.1:$APACHE_PORT" "" stopped stopped; fi
    if pid=$(pidof_file "$RUN/cron-loop.pid"); then part cron cron "" "$pid" running "every minute (loop, pid $pid)"
    elif as_app crontab -l 2>/dev/null | grep -q "# concert:$VAR\$"; then part cron cron "" "" scheduled "crontab entry"
    else part cron cron "" "" stopped "not scheduled"; fi
    if pid=$(pidof_file "$RUN/relay.pid"); then part relay relay "" "$pid" running "running (pid $pid)"
    else part relay relay "" "" stopped stopped; fi
    if pid=$(pidof_file "$RUN/kafka.pid"); then
        part kafka broker "$KAFKA_BROKERS" "$pid" running "running on $KAFKA_BROKERS (pid $pid)"
    else part kafka broker "$KAFKA_BROKERS" "" stopped stopped; fi
    if [ $json = 1 ]; then
        printf '\n]}\n'
    else
        printf '  %-22s %s\n' health "$(curl -sS -m 3 "http://127.0.0.1:$FRONT_PORT/healthz" 2>&1 || true)"
    fi
}

main() {
    local cmd=${1:-}
    shift || true
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    site)
        [ $# = 2 ] || die "usage: scripts/stack.sh site up|test|bench nginx|apache"
        profile "$1"
        stack_site "$2" "$FRONT_PORT" ;;
    *) die "usage: scripts/stack.sh up|down|status|site" ;;
    esac
}

[ "${BASH_SOURCE[0]}" != "$0" ] || job_main main "$@"
