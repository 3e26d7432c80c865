#!/usr/bin/env bash
# ha/stack.sh - the stack on several hosts: `./dev up --ha`, `./dev test
# --ha`, `./dev fault` and the several-hosts part of `./dev status` and
# `./dev down`. Run as ha/stack.sh COMMAND [ARGS]:
#   up | test [t/NAME.c...] | fault [up|test] NAME
#   stop up|test | is-up up|test | status up|test --json|--text
#   site up|test  (the balancer's rendered nginx site, for t/8j)
#
# Each host is a Linux network namespace with an address of its own on one
# bridge, and runs the same servers, programs and config keys as the
# single-host stack:
#
#   lb      .10  nginx, balancing every responder group over app1 and app2
#   app1    .11  every responder group (FastCGI over TCP), cron, relay
#   app2    .12  the same
#   mon     .20  pg_auto_failover's monitor
#   pg1     .21  PostgreSQL under its pg_auto_failover keeper
#   pg2     .22  PostgreSQL under its keeper (synchronous standby at first)
#   redis1  .31  Redis Cluster: a shard's primary at first (:6371), and
#                the replica of redis3's (:6381)
#   redis2  .32  the same: primary :6372, replica of redis1's (:6382)
#   redis3  .33  the same: primary :6373, replica of redis2's (:6383)
#   kafka1  .41  a Kafka broker that is also a controller (kafka/broker.sh)
#   kafka2  .42  the same: the three controllers are a KRaft quorum, and
#   kafka3  .43  every topic has 3 copies, 2 of them in sync for a write
#
# The machine itself reaches lb's nginx at 127.0.0.1:PORT (the same URL as
# the single-host stack) through an nftables DNAT rule, and everything else
# at the hosts' addresses. Needs root (namespaces, links, nftables); the
# servers still run as the app user.
#
# Reads from the environment what scripts/stack.sh's `profile` reads (the
# several-hosts stack of `up` or `test` takes that stack's front port,
# folder and CONCERT_CHILDREN), nothing more. Sets (ha_profile): HA HA_NET
# HA_TAG HA_BRIDGE HA_NFT_TABLE HA_SECRETS HA_PGAF HA_CONNINFO HA_PG_GIVE_UP
# HA_CLUSTER_NODES.
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/stack.sh"

HA_HOSTS="lb app1 app2 mon pg1 pg2 redis1 redis2 redis3 kafka1 kafka2 kafka3"
HA_APPS="app1 app2"
HA_PG_NODES="pg1 pg2"
HA_REDIS_NODES="redis1 redis2 redis3"
HA_KAFKA_NODES="kafka1 kafka2 kafka3"
HA_LB_PORT=8080

# ha_profile: the several-hosts settings of the stack `profile` chose. The
# local and the test stack each have their own subnet, names and folder.
ha_profile() {
    HA=$VAR/ha
    case $PROFILE in
    up) HA_NET=10.77.0; HA_TAG=cu ;;
    test) HA_NET=10.78.0; HA_TAG=ct ;;
    *) die "the several-hosts stack is for ./dev up and ./dev test only" ;;
    esac
    HA_BRIDGE=${HA_TAG}-br
    HA_NFT_TABLE=concert_$HA_TAG
    HA_SECRETS=$HA/secrets
    HA_PGAF=$HA/pgaf
    HA_CONNINFO="host=$(ha_addr pg1),$(ha_addr pg2) port=$(ha_pg_port pg1),$(ha_pg_port pg2) dbname=concert user=$APP_USER passfile=$HA_SECRETS/pgpass target_session_attrs=read-write"
    # A host cut off answers nothing, not even a reset: without these a
    # program waiting on it would wait for TCP's own give-up, many minutes
    # (t/ag). A send unacknowledged for 2 s, or an idle wait whose
    # keepalives go unanswered for about 3 s, ends the connection; the
    # statement's outcome is then unknown and never sent again.
    HA_PG_GIVE_UP="connect_timeout=2 keepalives_idle=1 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=2000"
    # Every node of the cluster: a program learns the map from any that
    # answers.
    HA_CLUSTER_NODES=
    local h n
    for n in $(ha_redis_nodes); do HA_CLUSTER_NODES="$HA_CLUSTER_NODES${HA_CLUSTER_NODES:+,}$(ha_redis_addr "$n")"; done
    # The quorum: each broker on its host's address, 9092 for clients and
    # 9093 for the controllers. An acknowledged write (acks=all) is on two
    # of the three, so losing any one broker loses nothing.
    KAFKA_PORT=9092
    KAFKA_CONTROLLER_PORT=9093
    KAFKA_BROKERS= KAFKA_VOTERS=
    for h in $HA_KAFKA_NODES; do
        KAFKA_BROKERS="$KAFKA_BROKERS${KAFKA_BROKERS:+,}$(ha_addr "$h"):$KAFKA_PORT"
        KAFKA_VOTERS="$KAFKA_VOTERS${KAFKA_VOTERS:+,}${h#kafka}@$(ha_addr "$h"):$KAFKA_CONTROLLER_PORT"
    done
    KAFKA_REPLICATION=3
    KAFKA_MIN_INSYNC=2
    KAFKA_PARTITIONS=3
    KAFKA_HEAP=256m
    # A broker that stops answering is fenced after 4 s (its partitions
    # get new leaders) and dropped from the in-sync copies after 5 s
    # (writes waiting for it go on with two): the defaults, 9 s and 30 s,
    # would hold the relay's events that long.
    KAFKA_TUNING="broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
replica.lag.time.max.ms=5000"
}

ha_addr() {
    case $1 in
    lb) echo "$HA_NET.10" ;; app1) echo "$HA_NET.11" ;; app2) echo "$HA_NET.12" ;;
    mon) echo "$HA_NET.20" ;; pg1) echo "$HA_NET.21" ;; pg2) echo "$HA_NET.22" ;;
    redis1) echo "$HA_NET.31" ;; redis2) echo "$HA_NET.32" ;; redis3) echo "$HA_NET.33" ;;
    kafka1) echo "$HA_NET.41" ;; kafka2) echo "$HA_NET.42" ;; kafka3) echo "$HA_NET.43" ;;
    *) die "no such host: $1" ;;
    esac
}

# The data nodes share one socket folder (paths are not per namespace), so
# each has a port of its own.
ha_pg_port() { case $1 in pg1) echo 5432 ;; pg2) echo 5433 ;; mon) echo 5432 ;; esac; }

# Each responder group's FastCGI port on the app hosts.
ha_group_port() {
    local g i=9001
    for g in $GROUPS_ALL; do
        [ "$g" = "$1" ] && { echo $i; return 0; }
        i=$((i + 1))
    done
    die "no such group: $1"
}

ha_ns() { echo "$HA_TAG-$1"; }
# Up: its hosts exist and its folder is this stack's (another test stack on
# other ports shares the test subnet's names: one several-hosts test stack
# at a time).
ha_is_up() { [ -d "$HA" ] && [ -e "/run/netns/$(ha_ns lb)" ]; }

# on_host HOST CMD...: CMD on HOST as the app user. on_host_bg starts it in
# the background with its pid in $! (ip and setpriv exec in place, so that
# is the program's own pid; a function run with & would leave a subshell's).
host_prefix() {
    HOST_PREFIX=(ip netns exec "$(ha_ns "$1")" setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups
                 env HOME="$HA/$1")
}
on_host() { host_prefix "$1"; shift; "${HOST_PREFIX[@]}" "$@"; }
on_host_bg() { host_prefix "$1"; shift; "${HOST_PREFIX[@]}" "$@" & disown; }

# pgaf HOST CMD...: CMD on HOST as the app user, in pg_auto_failover's
# environment: it keeps its state under HOME and the XDG folders, and
# reaches its PostgreSQL through the host's socket folder. pgaf_bg as
# on_host_bg.
pgaf_prefix() {
    local sock=$HA/pgsock bin
    [ "$1" = mon ] && sock=$HA/mon/sock
    bin=$(pg_bin)
    host_prefix "$1"
    HOST_PREFIX+=(HOME="$HA_PGAF" XDG_CONFIG_HOME="$HA_PGAF/config" XDG_DATA_HOME="$HA_PGAF/data"
                  XDG_RUNTIME_DIR="$HA_PGAF/run" PATH="$bin:/usr/bin:/bin" PG_CONFIG="$bin/pg_config"
                  PGHOST="$sock" PGCONNECT_TIMEOUT=2)
}
pgaf() { pgaf_prefix "$1"; shift; "${HOST_PREFIX[@]}" "$@"; }
pgaf_bg() { pgaf_prefix "$1"; shift; "${HOST_PREFIX[@]}" "$@" & disown; }

monitor_sql() { pgaf mon psql -p 5432 -d pg_auto_failover -U autoctl_node -qAtc "$1"; }

# redis_at ADDR PORT ARGS...: redis-cli with the password (from the
# environment, not the command line).
redis_at() {
    local a=$1 p=$2
    shift 2
    REDISCLI_AUTH=$(cat "$HA_SECRETS/redis.password") redis-cli --no-auth-warning -h "$a" -p "$p" "$@"
}

# --- the network ----------------------------------------------------------------

ha_net_up() {
    local h ns
    if ! ip link show "$HA_BRIDGE" >/dev/null 2>&1; then
        ip link add "$HA_BRIDGE" type bridge
        ip addr add "$HA_NET.1/24" dev "$HA_BRIDGE"
    fi
    ip link set "$HA_BRIDGE" up
    for h in $HA_HOSTS; do
        ns=$(ha_ns "$h")
        if [ ! -e "/run/netns/$ns" ]; then
            ip netns add "$ns"
            ip link add "$ns" type veth peer name eth0 netns "$ns"
            ip link set "$ns" master "$HA_BRIDGE"
            ip -n "$ns" addr add "$(ha_addr "$h")/24" dev eth0
            ip -n "$ns" link set lo up
            ip -n "$ns" link set eth0 up
        fi
        ip link set "$ns" up
    done
    # 127.0.0.1:PORT on this machine is lb's nginx. route_localnet lets a
    # packet from 127.0.0.1 be sent to another address once rewritten; the
    # machine's own setting is put back by ha_net_down.
    [ -f "$HA/route_localnet.was" ] || sysctl -n net.ipv4.conf.all.route_localnet >"$HA/route_localnet.was"
    sysctl -qw net.ipv4.conf.all.route_localnet=1
    nft delete table ip "$HA_NFT_TABLE" 2>/dev/null || true
    nft -f - <<EOF
table ip $HA_NFT_TABLE {
    chain output {
        type nat hook output priority -100;
        ip daddr 127.0.0.1 tcp dport $FRONT_PORT dnat to $(ha_addr lb):$HA_LB_PORT
    }
    chain postrouting {
        type nat hook postrouting priority 100;
        ip saddr 127.0.0.1 ip daddr $HA_NET.0/24 snat to $HA_NET.1
    }
}
EOF
}

ha_net_down() {
    local h ns
    nft delete table ip "$HA_NFT_TABLE" 2>/dev/null || true
    for h in $HA_HOSTS; do
        ns=$(ha_ns "$h")
        [ -e "/run/netns/$ns" ] || continue
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
        ip link del "$ns" 2>/dev/null || true
    done
    ip link del "$HA_BRIDGE" 2>/dev/null || true
    if [ -f "$HA/route_localnet.was" ]; then
        # Only when no other several-hosts stack still needs it.
        ls /run/netns 2>/dev/null | grep -q -e '^cu-' -e '^ct-' ||
            sysctl -qw net.ipv4.conf.all.route_localnet="$(cat "$HA/route_localnet.was")" || true
        rm -f "$HA/route_localnet.was"
    fi
}

# --- secrets and config -----------------------------------------------------------

ha_secret() {   # ha_secret FILE: a new random secret in FILE, unless it has one
    [ -s "$1" ] && return 0
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"
    echo >>"$1"
}

ha_prepare() {
    local h
    mkdir -p "$RUN" "$LOG" "$HA_SECRETS" "$HA_PGAF/run" "$HA/pgsock"
    for h in $HA_HOSTS; do mkdir -p "$HA/$h/run" "$HA/$h/log"; done
    ha_secret "$ADMIN_KEY_FILE"
    ha_secret "$HA_SECRETS/redis.password"
    ha_secret "$HA_SECRETS/pg.password"
    ha_secret "$HA_SECRETS/pgaf.password"
    [ -s "$HA_SECRETS/kafka.cluster-id" ] || kafka_new_cluster_id >"$HA_SECRETS/kafka.cluster-id"
    printf '*:*:concert:%s:%s\n' "$APP_USER" "$(cat "$HA_SECRETS/pg.password")" >"$HA_SECRETS/pgpass"
    chmod 700 "$HA_SECRETS" "$HA_PGAF/run"
    chmod 600 "$HA_SECRETS"/* "$ADMIN_KEY_FILE"
    # Each app host's config: the single-host file with the several-hosts keys.
    for h in $HA_APPS; do
        sed -e "s|^pg_conninfo = .*|pg_conninfo = $HA_CONNINFO $HA_PG_GIVE_UP options='-c statement_timeout=5000'|" \
            -e "s|^admin_key_file = .*|admin_key_file = $ADMIN_KEY_FILE|" \
            -e "s|^metrics_file = .*|metrics_file = $HA/$h/run/metrics|" \
            -e "s|^redis_host = .*|redis_cluster_nodes = $HA_CLUSTER_NODES|" -e "/^redis_port = /d" \
            -e "s|^# redis_password_file = .*|redis_password_file = $HA_SECRETS/redis.password|" \
            conf/concert.conf >"$HA/$h/concert.conf"
        kafka_conf >>"$HA/$h/concert.conf"
        # The read-only paths read from the standby (README "Reads from the standby").
        echo "pg_read_conninfo = ${HA_CONNINFO/read-write/prefer-standby} $HA_PG_GIVE_UP options='-c statement_timeout=5000'" \
            >>"$HA/$h/concert.conf"
        # A hold is answered once a replica has it (README "When a failure happens").
        echo "hold_replica_wait_ms = 100" >>"$HA/$h/concert.conf"
    done
    chown -R "$APP_USER:" "$VAR"
    chmod 700 "$RUN"
}

# --- PostgreSQL: pg_auto_failover -------------------------------------------------

# start_keeper HOST: pg_autoctl run (the monitor's or a node's keeper)
# under ha/supervise.sh, which starts it again a second after it dies (as
# systemd does on a host, conf/systemd/concert-pg-autoctl.service), in a
# session of its own: keeper.pid is the supervisor's, and killing that
# group is the host dying (supervisor, keeper and postgres).
start_keeper() {
    local h=$1
    pid_alive "$HA/$h/run/keeper.pid" && return 0
    pgaf_bg "$h" setsid "$REPO/ha/supervise.sh" 1 pg_autoctl run --pgdata "$HA/$h/pgdata" \
        >>"$HA/$h/log/keeper.log" 2>&1 </dev/null
    echo $! >"$HA/$h/run/keeper.pid"
}

# pg_settled: one primary and one secondary, each where it was told to be,
# and the primary takes writes (just after a restart the monitor may still
# show the states it last saw).
pg_settled() {
    local p
    [ "$(monitor_sql "SELECT count(*) FILTER (WHERE reportedstate = goalstate AND goalstate = 'primary') || '/' ||
                             count(*) FILTER (WHERE reportedstate = goalstate AND goalstate = 'secondary')
                        FROM pgautofailover.node" 2>/dev/null)" = 1/1 ] || return 1
    p=$(pg_primary_host)
    [ -n "$p" ] &&
        [ "$(pgaf "$p" psql -p "$(ha_pg_port "$p")" -d concert -qAtXc "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]
}

wait_pg_settled() {
    local i
    for i in $(seq 240); do pg_settled && return 0; sleep 0.5; done
    die "PostgreSQL: no primary and secondary after 2 minutes (see $HA/pg*/log/keeper.log)"
}

# The host of the PostgreSQL primary, by the monitor (empty when none).
pg_primary_host() {
    monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate = 'primary' AND goalstate = 'primary'" \
        2>/dev/null || true
}

# Every PostgreSQL connection between hosts logs in with a SCRAM password
# from a file, from the start: no pg_hba.conf entry ever trusts an address.
# pg_autoctl is told `--skip-pg-hba` (it takes that or `--auth`, not both;
# its configuration then says `hba_level = skip`, and its auth_method goes
# unused): it never edits pg_hba.conf (left to itself it adds a trusting
# entry for a node's address on every failover and rejoin, whatever
# postgresql.auth_method says), and the entries it needs are written once,
# before anything connects (ha_pg_hba_lines), for the formation's fixed
# addresses. The passwords: pg_auto_failover's roles (its keepers to the
# monitor as autoctl_node, the monitor's health checks as
# pgautofailover_monitor, replication and pg_rewind as
# pgautofailover_replicator) share one, read by the keepers and servers
# from HOME's .pgpass; the app's role has its own, in the app hosts'
# passfile.
ha_pgaf_pgpass() {
    local pw
    pw=$(cat "$HA_SECRETS/pgaf.password")
    printf '*:*:*:%s:%s\n' autoctl_node "$pw" pgautofailover_monitor "$pw" pgautofailover_replicator "$pw" \
        "$APP_USER" "$(cat "$HA_SECRETS/pg.password")" >"$HA_PGAF/.pgpass"
    chown "$APP_USER:" "$HA_PGAF/.pgpass"
    chmod 600 "$HA_PGAF/.pgpass"
}

# ha_pg_hba_lines HOST: the entries HOST's pg_hba.conf gets for the other
# hosts. The monitor: the keepers (and its own). A data node: replication
# and pg_rewind (which logs in to `postgres`) from either data node, the
# monitor's health checks, and the app's role from the app hosts and the
# machine (migrations, tests).
ha_pg_hba_lines() {
    local h a
    echo "# concert: every host logs in with a password (ha/stack.sh)"
    if [ "$1" = mon ]; then
        for h in mon $HA_PG_NODES; do echo "host pg_auto_failover autoctl_node $(ha_addr "$h")/32 scram-sha-256"; done
        return 0
    fi
    for h in $HA_PG_NODES; do
        a=$(ha_addr "$h")/32
        echo "host replication pgautofailover_replicator $a scram-sha-256"
        echo "host postgres,concert pgautofailover_replicator $a scram-sha-256"
    done
    echo "host all pgautofailover_monitor $(ha_addr mon)/32 scram-sha-256"
    for h in $HA_APPS; do echo "host concert $APP_USER $(ha_addr "$h")/32 scram-sha-256"; done
    echo "host concert $APP_USER $HA_NET.1/32 scram-sha-256"
}

# ha_initdb HOST: a cluster for HOST whose own socket is trusted (the
# keeper, ./dev) and whose every TCP entry asks for a password.
ha_initdb() {
    local h=$1 sock=$HA/pgsock
    [ "$h" = mon ] && sock=$HA/mon/sock
    pgaf "$h" initdb -D "$HA/$h/pgdata" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$HA/$h/log/initdb.log" 2>&1 || die "initdb on $h failed (see $HA/$h/log/initdb.log)"
    ha_pg_hba_lines "$h" >>"$HA/$h/pgdata/pg_hba.conf"
    if [ "$h" = mon ]; then
        printf "unix_socket_directories = '%s'\nlisten_addresses = '%s'\n" "$sock" "$(ha_addr mon)"
        # The monitor's fast health checks (conf/pg_auto_failover-monitor.conf
        # says why, and why not on real hosts).
        cat "$REPO/conf/pg_auto_failover-monitor.conf"
    else
        printf "unix_socket_directories = '%s'\nmax_connections = 300\n" "$sock"
        # A primary cut off from the monitor demotes itself once it has
        # seen no standby either for network_partition_timeout (3 s), and
        # it sees the standby's replication go only after this (60 s by
        # default): until then it took connections whose commits hung on
        # a standby promoted away (t/ag). Not shorter than the keeper's
        # first look after it lost the monitor (some 3 s): pg_autoctl
        # counts the partition from the last time it saw the standby
        # then, and never counts one it did not see.
        printf "wal_sender_timeout = 6s\n"
    fi >>"$HA/$h/pgdata/postgresql.conf"
}

# ha_sql HOST DB: SQL from stdin on HOST's server, through its socket
# (passwords go in on stdin, never on a command line).
ha_sql() {
    pgaf "$1" psql -p "$(ha_pg_port "$1")" -d "$2" -qX -v ON_ERROR_STOP=1 -f - >/dev/null
}

# wait_pg_node HOST STATE: until the monitor reads STATE as HOST's reported state.
wait_pg_node() {
    local i
    for i in $(seq 240); do
        [ "$(monitor_sql "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$1'" 2>/dev/null)" = "$2" ] &&
            return 0
        sleep 0.5
    done
    die "PostgreSQL on $1 did not reach $2 in 2 minutes (see $HA/$1/log/keeper.log)"
}

ha_start_postgres() {
    local bin h mon pw
    bin=$(pg_bin) || die "PostgreSQL server binaries not found"
    mon=$(ha_addr mon)
    pw=$(cat "$HA_SECRETS/pgaf.password")
    ha_pgaf_pgpass
    if [ ! -f "$HA/mon/pgdata/PG_VERSION" ]; then
        say "pg_auto_failover monitor on mon ($mon:5432)"
        mkdir -p "$HA/mon/sock"
        chown "$APP_USER:" "$HA/mon/sock"
        ha_initdb mon
        pgaf mon pg_autoctl create monitor --pgdata "$HA/mon/pgdata" --pgport 5432 --hostname "$mon" \
            --skip-pg-hba --no-ssl --pgctl "$bin/pg_ctl" >>"$HA/mon/log/keeper.log" 2>&1 ||
            die "the monitor was not made (see $HA/mon/log/keeper.log)"
        pgaf mon pg_autoctl config set --pgdata "$HA/mon/pgdata" postgresql.listen_addresses "$mon" >/dev/null
    fi
    start_keeper mon
    local i
    for i in $(seq 60); do monitor_sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
    printf "SET password_encryption = 'scram-sha-256'; ALTER ROLE autoctl_node PASSWORD '%s';\n" "$pw" |
        ha_sql mon pg_auto_failover
    for h in $HA_PG_NODES; do
        if [ ! -f "$HA/$h/pgdata/PG_VERSION" ]; then
            say "PostgreSQL on $h ($(ha_addr "$h"):$(ha_pg_port "$h"))"
            # The first node is made here (its socket folder and its
            # pg_hba.conf are ours); the second is a base backup of the
            # first, settings and pg_hba.conf included.
            [ "$h" = pg1 ] && ha_initdb pg1
            pgaf "$h" pg_autoctl create postgres --pgdata "$HA/$h/pgdata" --pgport "$(ha_pg_port "$h")" \
                --hostname "$(ha_addr "$h")" --listen "$(ha_addr "$h")" --name "$h" \
                --monitor "postgres://autoctl_node@$mon:5432/pg_auto_failover?sslmode=disable" \
                --skip-pg-hba --no-ssl --dbname concert --pgctl "$bin/pg_ctl" \
                >>"$HA/$h/log/keeper.log" 2>&1 ||
                die "PostgreSQL on $h was not made (see $HA/$h/log/keeper.log)"
            pgaf "$h" pg_autoctl config set --pgdata "$HA/$h/pgdata" timeout.network_partition_timeout 3 >/dev/null
            pgaf "$h" pg_autoctl config set --pgdata "$HA/$h/pgdata" replication.password "$pw" >/dev/null
        fi
        start_keeper "$h"
        if [ "$h" = pg1 ] && [ -z "$(pg_primary_host)" ]; then
            # The standby's base backup and the monitor's health checks
            # log in with these: set before the second node is made.
            wait_pg_node pg1 single
            for i in $(seq 60); do
                pgaf pg1 psql -p "$(ha_pg_port pg1)" -d concert -qAtXc "SELECT 1" >/dev/null 2>&1 && break
                sleep 0.5
            done
            printf "SET password_encryption = 'scram-sha-256'; ALTER ROLE %s PASSWORD '%s';
                    ALTER ROLE pgautofailover_replicator PASSWORD '%s'; ALTER ROLE pgautofailover_monitor PASSWORD '%s';\n" \
                "$APP_USER" "$(cat "$HA_SECRETS/pg.password")" "$pw" "$pw" | ha_sql pg1 concert
        fi
    done
    wait_pg_settled
    ha_pg_hba
}

# ha_pg_hba: checks that no host's pg_hba.conf trusts an address (only the
# servers' own sockets are trusted); ./dev fault heal runs it again.
ha_pg_hba() {
    local h hba
    for h in mon $HA_PG_NODES; do
        hba=$HA/$h/pgdata/pg_hba.conf
        [ -f "$hba" ] || continue
        if grep -E '^[[:space:]]*host' "$hba" | grep -Eq '[[:space:]]trust([[:space:]]|$)'; then
            die "$h trusts an address: $hba"
        fi
    done
}

# --- Kafka: three brokers, each a controller too -----------------------------------

# ha_kafka_node HOST: kafka/broker.sh's settings for the broker on HOST.
ha_kafka_node() {
    KAFKA_NODE_ID=${1#kafka}
    KAFKA_ADDR=$(ha_addr "$1")
    KAFKA_DIR=$HA/$1/kafka
    KAFKA_RUN=$HA/$1/run
    KAFKA_LOG=$HA/$1/log
    KAFKA_ON="on_host_bg $1"
}

# Every broker started before any is waited for: a controller answers
# only once a majority of the quorum runs.
ha_start_kafka_all() {
    local h
    kafka_fetch
    KAFKA_CLUSTER_ID=$(cat "$HA_SECRETS/kafka.cluster-id")
    for h in $HA_KAFKA_NODES; do
        ha_kafka_node "$h"
        kafka_format
        chown -R "$APP_USER:" "$KAFKA_DIR"
        kafka_start
    done
    for h in $HA_KAFKA_NODES; do ha_kafka_node "$h"; kafka_wait_ready; done
}

# The quorum's leader (kafkaN), as the live controllers last wrote it.
kafka_quorum_leader() {
    local h id
    for h in $HA_KAFKA_NODES; do
        pid_alive "$HA/$h/run/kafka.pid" || continue
        id=$(sed -n 's/.*"leaderId":\([0-9]*\).*/\1/p' "$HA/$h/kafka/data/__cluster_metadata-0/quorum-state" 2>/dev/null)
        [ -n "$id" ] && [ "$id" != -1 ] && { echo "kafka$id"; return 0; }
    done
    return 0
}

# kafka_leaders: "kafkaN COUNT" for each broker leading partitions of the
# service's topics, as a live broker's metadata says.
kafka_leaders() {
    timeout 3 kcat -b "$KAFKA_BROKERS" -L -m 2 2>/dev/null |
        awk '/^  topic "/ { t = $2; gsub(/"/, "", t); keep = t ~ /-events$/ }
             keep && /partition [0-9]+, leader/ { l = $4; sub(/,/, "", l); n[l]++ }
             END { for (l in n) print "kafka" l, n[l] }' | sort -k2,2nr
}

# --- Redis Cluster ---------------------------------------------------------------

# Six nodes, two on each Redis host: host N runs its shard's primary on
# 637N and, on 638N, the replica of the previous host's primary (redis1's
# follows redis3's). A host lost takes one primary and another shard's
# replica: the lost primary's replica is on the next host, and the two
# primaries left are a majority of three for the failover vote. Each node
# has a port of its own, so `host:port` and the port alone both name it.
ha_redis_nodes() {
    local h
    for h in $HA_REDIS_NODES; do echo "$h:637${h#redis}"; done
    for h in $HA_REDIS_NODES; do echo "$h:638${h#redis}"; done
}
# ha_redis_first_primary_of HOST:638N: the ADDR:PORT of the primary it
# replicates at first, the previous host's (redis3's for redis1).
ha_redis_first_primary_of() {
    local n=${1##*:638} m
    m=$((n == 1 ? 3 : n - 1))
    echo "$(ha_addr "redis$m"):637$m"
}
ha_redis_addr() { echo "$(ha_addr "${1%%:*}"):${1##*:}"; }   # HOST:PORT -> ADDR:PORT
# ADDR:PORT -> HOST:PORT (empty when no node of this stack).
ha_redis_node_at() {
    local n
    for n in $(ha_redis_nodes); do [ "$(ha_redis_addr "$n")" = "$1" ] && { echo "$n"; return 0; }; done
    return 0
}

# A failure is noticed after the node timeout (a node that answers no
# ping for that long is suspected, then failed once most primaries agree),
# and the replica is promoted half a second to a second later: with the
# default 15 s a lost shard would answer nothing for over 15 s.
HA_REDIS_NODE_TIMEOUT_MS=1500

# Seconds before a dead Redis is started again: longer than the node
# timeout and the replica's promotion, so a killed primary comes back as
# its replacement's replica (the cluster tells it so: its slots now
# belong to a newer configuration) rather than going on as the primary
# while the others fail it over.
HA_REDIS_RESTART_S=5

# ha_redis_view: the cluster as a live node sees it (CLUSTER NODES), one
# line a node: ADDR:PORT ROLE OF SLOTS FLAGS, ROLE primary or replica, OF
# the primary's ADDR:PORT (or -), SLOTS like 0-5460 (or -), FLAGS such as
# fail. Empty when no node answers.
ha_redis_view() {
    local n out pw
    read -r pw <"$HA_SECRETS/redis.password" || return 0
    for n in $(ha_redis_nodes); do
        out=$(REDISCLI_AUTH=$pw timeout 2 redis-cli --no-auth-warning -h "$(ha_addr "${n%%:*}")" -p "${n##*:}" \
            cluster nodes 2>/dev/null) || continue
        case $out in *myself*) ;; *) continue ;; esac
        awk '{ addr[$1] = $2; sub(/@.*/, "", addr[$1]); line[NR] = $0; id[NR] = $1 }
             END {
                 for (i = 1; i <= NR; i++) {
                     split(line[i], f, " ")
                     slots = ""
                     for (k = 9; k in f; k++) if (f[k] !~ /^\[/) slots = slots (slots == "" ? "" : ",") f[k]
                     role = f[3] ~ /master/ ? "primary" : "replica"
                     of = role == "replica" && (f[4] in addr) ? addr[f[4]] : "-"
                     flags = f[3]; gsub(/myself,?|master,?|slave,?/, "", flags)
                     print addr[id[i]], role, of, slots == "" ? "-" : slots, flags == "" ? "ok" : flags
                 }
             }' <<<"$out"
        return 0
    done
    return 0
}

# The primary that owns slot S (default 0): its HOST:PORT, as the view says.
ha_redis_primary_of_slot() {
    local s=${1:-0} addr
    addr=$(ha_redis_view | awk -v s="$s" '$2 == "primary" && $5 !~ /fail/ {
        n = split($4, r, ","); for (i = 1; i <= n; i++) { split(r[i], b, "-"); if (b[2] == "") b[2] = b[1]
            if (s + 0 >= b[1] + 0 && s + 0 <= b[2] + 0) { print $1; exit } } }')
    [ -n "$addr" ] && ha_redis_node_at "$addr"
    return 0
}

# ha_redis_answers NODE TENTHS: Redis at HOST:PORT answers within TENTHS/10 s.
ha_redis_answers() {
    local i
    for i in $(seq "$2"); do redis_at "$(ha_addr "${1%%:*}")" "${1##*:}" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

# ha_start_redis HOST:PORT: that node, under ha/supervise.sh (started
# again HA_REDIS_RESTART_S after it dies; when its supervisor runs, this
# waits for that instead). Its node file (nodes.conf: its id, the others,
# its epoch) is in its own folder, which a restart keeps: it comes back as
# the same node, and the cluster tells it what it is now. The password is
# in its config file, not on a command line. Its config says daemonize;
# the supervisor keeps it in the foreground from the command line.
ha_start_redis() {
    local h=${1%%:*} port=${1##*:} conf dir
    conf=$HA/$h/redis-$port.conf
    dir=$HA/$h/redis-$port
    pid_alive "$HA/$h/run/redis-$port.pid" && return 0
    if pid_alive "$HA/$h/run/redis-$port-supervise.pid"; then
        ha_redis_answers "$1" $(((HA_REDIS_RESTART_S + 10) * 10)) && return 0
        die "redis $1 was not started again by its supervisor (see $HA/$h/log/)"
    fi
    mkdir -p "$dir"
    {
        echo "bind $(ha_addr "$h")"
        echo "port $port"
        echo "dir $dir"
        echo "daemonize yes"
        echo "pidfile $HA/$h/run/redis-$port.pid"
        echo "logfile $HA/$h/log/redis-$port.log"
        # Persistence as on one host: an append-only file, no snapshots.
        echo "include $REPO/conf/redis.conf"
        echo "requirepass $(cat "$HA_SECRETS/redis.password")"
        echo "masterauth $(cat "$HA_SECRETS/redis.password")"
        echo "cluster-enabled yes"
        echo "cluster-config-file nodes.conf"
        echo "cluster-announce-ip $(ha_addr "$h")"
        echo "cluster-node-timeout $HA_REDIS_NODE_TIMEOUT_MS"
        echo "cluster-replica-no-failover no"
        # A shard failing over leaves the others serving: by default every
        # node refuses every key while any slot has no primary.
        echo "cluster-require-full-coverage no"
    } >"$conf"
    chown -R "$APP_USER:" "$conf" "$dir"
    chmod 600 "$conf"
    on_host_bg "$h" setsid "$REPO/ha/supervise.sh" "$HA_REDIS_RESTART_S" redis-server "$conf" --daemonize no \
        >>"$HA/$h/log/supervise.log" 2>&1 </dev/null
    echo $! >"$HA/$h/run/redis-$port-supervise.pid"
    ha_redis_answers "$1" 50 || die "redis $1 did not start (see $HA/$h/log/redis-$port.log)"
}

# redis_settled: three primaries that own every slot between them, each
# with a replica whose link is up, no node failed.
redis_settled() {
    local view n primary
    view=$(ha_redis_view)
    [ "$(awk '$5 == "ok"' <<<"$view" | wc -l)" = 6 ] || return 1
    [ "$(awk '$2 == "primary" && $4 != "-"' <<<"$view" | wc -l)" = 3 ] || return 1
    for primary in $(awk '$2 == "primary" { print $1 }' <<<"$view"); do
        [ "$(awk -v p="$primary" '$3 == p' <<<"$view" | wc -l)" = 1 ] || return 1
    done
    for n in $(awk '$2 == "replica" { print $1 }' <<<"$view"); do
        redis_at "${n%:*}" "${n##*:}" info replication 2>/dev/null | grep -q '^master_link_status:up' || return 1
    done
    redis_at "${primary%:*}" "${primary##*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

wait_redis_settled() {
    local i
    for i in $(seq 300); do redis_settled && return 0; sleep 0.2; done
    die "Redis: no three primaries each with its replica after 60 s (see $HA/redis*/log/)"
}

# ha_redis_give_back: each host's first primary (637N) that is a replica
# now (it was lost and rejoined) takes its shard back with CLUSTER
# FAILOVER: its primary stops taking writes until it has caught up, then
# hands over, losing nothing. Without it two primaries could end up on one
# host, and losing that host would leave one primary of three: no
# majority to promote anyone. Prints what it gave back.
ha_redis_give_back() {
    local view n addr of i
    view=$(ha_redis_view)
    for n in $(ha_redis_nodes); do
        case $n in *:637?) ;; *) continue ;; esac
        addr=$(ha_redis_addr "$n")
        of=$(awk -v a="$addr" '$1 == a && $2 == "replica" { print $3 }' <<<"$view")
        [ -n "$of" ] || continue
        redis_at "${addr%:*}" "${addr##*:}" cluster failover >/dev/null 2>&1 || continue
        for i in $(seq 100); do
            redis_at "${addr%:*}" "${addr##*:}" role 2>/dev/null | head -n1 | grep -q '^master$' && break
            sleep 0.1
        done
        printf '%s given back its slots by %s; ' "$addr" "$of"
    done
}

# The primaries' addresses, on one line (for ./dev up and heal).
ha_redis_layout() {
    ha_redis_view | awk '$2 == "primary" && $4 != "-" { printf "%s%s", sep, $1; sep = " " }'
}

ha_start_redis_all() {
    local n addr p nodes= id
    for n in $(ha_redis_nodes); do ha_start_redis "$n"; done
    p=$(ha_redis_addr redis1:6371)
    if ! redis_at "${p%:*}" "${p##*:}" cluster info 2>/dev/null | grep -q '^cluster_slots_assigned:16384'; then
        for n in $(ha_redis_nodes); do
            case $n in *:637?) nodes="$nodes $(ha_redis_addr "$n")" ;; esac
        done
        # shellcheck disable=SC2086  # $nodes is words on purpose
        REDISCLI_AUTH=$(cat "$HA_SECRETS/redis.password") redis-cli --no-auth-warning --cluster create $nodes \
            --cluster-replicas 0 --cluster-yes >"$HA/redis-cluster-create.log" 2>&1 ||
            die "the redis cluster was not made (see $HA/redis-cluster-create.log)"
        for n in $(ha_redis_nodes); do
            case $n in *:638?) ;; *) continue ;; esac
            addr=$(ha_redis_addr "$n")
            p=$(ha_redis_first_primary_of "$n")
            id=$(redis_at "${p%:*}" "${p##*:}" cluster myid)
            REDISCLI_AUTH=$(cat "$HA_SECRETS/redis.password") redis-cli --no-auth-warning --cluster add-node \
                "$addr" "$p" --cluster-slave --cluster-master-id "$id" >>"$HA/redis-cluster-create.log" 2>&1 ||
                die "redis $addr did not join the cluster (see $HA/redis-cluster-create.log)"
        done
    fi
    wait_redis_settled
    say "redis cluster: primaries $(ha_redis_layout), each with its replica on another host"
}

# --- the app hosts and the balancer -----------------------------------------------

# ha_app_firewall HOST: only lb reaches the responders' ports on an app
# host. A FastCGI peer chooses every parameter, REMOTE_ADDR (the key of the
# per-address login limit) among them, and skips lb's limits: anyone else
# gets a reset. The responders also serve no peer but lb themselves
# (libfcgi's FCGI_WEB_SERVER_ADDRS, in ha_start_app), should this table
# be lost.
ha_app_firewall() {
    local h=$1 first last
    first=$(ha_group_port "${GROUPS_ALL%% *}")
    last=$(ha_group_port "${GROUPS_ALL##* }")
    ip netns exec "$(ha_ns "$h")" nft delete table inet concert_app 2>/dev/null || true
    ip netns exec "$(ha_ns "$h")" nft -f - <<EOF
table inet concert_app {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport $first-$last ip saddr != $(ha_addr lb) reject with tcp reset
    }
}
EOF
}

ha_start_app() {
    local h=$1 g pidf addr
    addr=$(ha_addr "$h")
    ha_app_firewall "$h"
    for g in $GROUPS_ALL; do
        pidf=$HA/$h/run/$g.pid
        pid_alive "$pidf" && continue
        on_host_bg "$h" env CONCERT_CONF="$HA/$h/concert.conf" FCGI_WEB_SERVER_ADDRS="$(ha_addr lb)" \
            setsid spawn-fcgi -n -a "$addr" -p "$(ha_group_port "$g")" -- \
            /usr/bin/multiwatch -f "$CHILDREN" -s TERM -- "$BUILD/fcgi/concert-$g" \
            >>"$HA/$h/log/$g.requests.log" 2>>"$HA/$h/log/$g.log" </dev/null
        echo $! >"$pidf"
    done
    if ! pid_alive "$HA/$h/run/relay.pid"; then
        on_host_bg "$h" env CONCERT_CONF="$HA/$h/concert.conf" setsid /usr/bin/multiwatch -f 1 -s TERM -- \
            "$BUILD/relay/concert-relay" >>"$HA/$h/log/relay.log" 2>&1 </dev/null
        echo $! >"$HA/$h/run/relay.pid"
    fi
    # No cron daemon inside a namespace: a loop runs the program every
    # minute on both app hosts; its Redis lock lets one work at a time.
    if ! pid_alive "$HA/$h/run/cron-loop.pid"; then
        on_host_bg "$h" env CONCERT_CONF="$HA/$h/concert.conf" setsid bash -c \
            "while :; do '$BUILD/cron/concert-cron' || true; sleep 60; done" \
            >>"$HA/$h/log/cron.log" 2>&1 </dev/null
        echo $! >"$HA/$h/run/cron-loop.pid"
    fi
}

# The site for lb: conf/nginx/concert.conf with each group's two sockets
# replaced by the group's port on app1 and app2. A cut-off host costs a
# connect timeout per request until it has failed three times in five
# seconds in that group; a single dead process (one failure) does not take
# its host out. Each upstream's state lives in a shared zone, so all of
# nginx's workers learn it from those three failures together. The connect
# timeout is 300 ms: on one network a live host completes a connect in well
# under a millisecond, and the seven groups need 21 failures before a
# cut-off host is passed over everywhere. At 1 s, with the clients whose
# requests were in flight on the cut host stuck until it came back, the
# others spent most of t/a3's 6 s cut on those timeouts (90 requests served
# in one CI run, over 1,000 in most).
ha_render_lb_site() {
    local g servers=
    for g in $GROUPS_ALL; do
        servers="$servers $g-1=$(ha_addr app1):$(ha_group_port "$g") $g-2=$(ha_addr app2):$(ha_group_port "$g")"
    done
    render_site nginx "$(ha_addr lb):$HA_LB_PORT" servers="$servers" zone=1 \
        server_opts="max_fails=3 fail_timeout=5s" connect_timeout=300ms local_net="$HA_NET.1/32"
}

ha_start_lb() {
    local dir=$HA/lb/nginx
    pid_alive "$HA/lb/run/nginx.pid" && return 0
    mkdir -p "$dir"
    ha_render_lb_site >"$dir/site.conf" || die "the balancer's nginx site was not rendered"
    write_nginx_conf "$dir" "$HA/lb/run" "$HA/lb/log"
    on_host lb nginx -e "$HA/lb/log/nginx-error.log" -c "$dir/nginx.conf" -p "$dir" ||
        die "nginx on lb did not start (see $HA/lb/log/nginx-error.log)"
}

# --- the whole stack ----------------------------------------------------------------

ha_start_stack() {
    is_root || die "the several-hosts stack needs root (network namespaces, links, nftables)"
    raise_open_files
    ensure_app_user
    build
    ha_prepare
    ha_net_up
    say "hosts: $(for h in $HA_HOSTS; do printf '%s=%s ' "$h" "$(ha_addr "$h")"; done)"
    ha_start_postgres
    PG_CONNINFO=$HA_CONNINFO
    migrate
    ha_start_redis_all
    ha_start_kafka_all
    kafka_topics
    local h
    for h in $HA_APPS; do ha_start_app "$h"; done
    say "responders on app1 and app2: $CHILDREN processes per group on each"
    ha_start_lb
    say "nginx on lb, at http://127.0.0.1:$FRONT_PORT"
    wait_healthy "http://127.0.0.1:$FRONT_PORT"
}

ha_stop_stack() {
    [ -d "$HA" ] || return 0
    local h f n jobs=
    for h in lb $HA_APPS; do
        for f in "$HA/$h"/run/*.pid; do
            [ -f "$f" ] || continue
            case $f in */nginx.pid) stop_pidfile "$f" -QUIT & ;; *) stop_pidfile "$f" -TERM -g & ;; esac
            jobs="$jobs $!"
        done
    done
    for f in $jobs; do wait "$f" || true; done
    jobs=
    for h in $HA_KAFKA_NODES; do stop_pidfile "$HA/$h/run/kafka.pid" -TERM -g & jobs="$jobs $!"; done
    for f in $jobs; do wait "$f" || true; done
    # The supervisors first (each stops its program and waits for it), so
    # that none starts again what is being stopped.
    for n in $(ha_redis_nodes); do
        h=${n%%:*}
        stop_pidfile "$HA/$h/run/redis-${n##*:}-supervise.pid" -TERM
        stop_pidfile "$HA/$h/run/redis-${n##*:}.pid" -TERM
    done
    # A keeper's supervisor hands TERM on: pg_autoctl stops its postgres.
    for h in pg2 pg1 mon; do stop_pidfile "$HA/$h/run/keeper.pid" -TERM -g; done
    # What is left in a host (a postgres whose keeper was killed) goes with it.
    ha_net_down
}

# ./dev up --ha
ha_cmd_up() {
    profile up
    ha_profile
    ensure_packages up
    ensure_packages ha
    ensure_packages kafka
    stop_all   # the single-host stack, if it runs: same front port
    ha_start_stack
    echo
    echo "The concert service is up on several hosts: http://127.0.0.1:$FRONT_PORT"
    echo "  hosts:      ./dev status"
    echo "  faults:     ./dev fault NAME (see ./dev fault)"
    echo "  admin key:  $ADMIN_KEY_FILE"
    echo "  logs:       $HA/HOST/log/"
    echo "  stop:       ./dev down"
}

# --- status ------------------------------------------------------------------------

# ha_status JSON: one line or object per part, host by host. PostgreSQL's
# roles are the monitor's: the node it has assigned a primary's state
# (`primary`, or `wait_primary` while it commits without its standby) is
# the primary, whatever the other still reports. Each Redis node's role
# is the cluster's (CLUSTER NODES): a primary with the slots it owns, or a
# replica with the primary it follows ("of"). Quick under load: one query
# to the monitor, one to a Redis node, the health check meanwhile, and
# the pid files read without starting a program per part.
ha_status() {
    local json=$1 first=1 h g n role state pgrows line name goal reported tmp addr port of slots flags
    local -A pg_goal=() pg_reported=() r_role=() r_of=() r_slots=() r_flags=()
    part() {   # name host role address pid state [of slots]
        local of=null slots=null
        if [ "$json" = 1 ]; then
            [ $first = 1 ] || printf ',\n'
            first=0
            printf '  {"part": "%s", "host": "%s", "role": "%s", "address": "%s", "pid": %s, "state": "%s"' \
                "$1" "$2" "$3" "$4" "${5:-null}" "$6"
            # A Redis node's primary ("of") and slots: null when it has none.
            if [ $# -ge 8 ]; then
                case $7 in -|"") ;; *) of="\"$7\"" ;; esac
                case $8 in -|"") ;; *) slots="\"$8\"" ;; esac
                printf ', "of": %s, "slots": %s' "$of" "$slots"
            fi
            printf '}'
        else
            printf '  %-8s %-18s %-10s %-20s %s\n' "$2" "$1" "$3" "$4" "$6${5:+ (pid $5)}"
        fi
    }
    # PID: the live pid in pid file $1, or empty; RUNNING: running or stopped.
    # (No subshell a part: under load each one costs.)
    pid_in() {
        local p= st=
        PID= RUNNING=stopped
        [ -f "$1" ] && read -r p <"$1" 2>/dev/null || return 0
        case $p in ""|*[!0-9]*) return 0 ;; esac
        [ -r "/proc/$p/stat" ] && read -r st <"/proc/$p/stat" 2>/dev/null || return 0
        st=${st##*) }
        [ "${st%% *}" = Z ] || PID=$p RUNNING=running
    }
    tmp=$(mktemp)
    [ "$json" = 1 ] || curl -sS -m 1.5 "http://127.0.0.1:$FRONT_PORT/healthz" >"$tmp" 2>&1 &
    pgrows=$(monitor_sql "SELECT nodename || ' ' || goalstate || ' ' || reportedstate FROM pgautofailover.node" 2>/dev/null ||
             true)
    while read -r name goal reported; do
        [ -n "$name" ] || continue
        pg_goal[$name]=$goal
        pg_reported[$name]=$reported
    done <<<"$pgrows"
    while read -r addr role of slots flags; do
        [ -n "$addr" ] || continue
        r_role[$addr]=$role r_of[$addr]=$of r_slots[$addr]=$slots r_flags[$addr]=$flags
    done < <(ha_redis_view)
    [ "$json" = 1 ] && printf '{"stack": "%s", "hosts": true, "parts": [\n' "$VAR" ||
        echo "stack: $VAR (several hosts)"
    for h in $HA_HOSTS; do
        read -r state <"/sys/class/net/$(ha_ns "$h")/operstate" 2>/dev/null || state=
        [ "$state" = up ] || part link "$h" link "$(ha_addr "$h")" "" cut
    done
    pid_in "$HA/mon/run/keeper.pid"
    part pg_auto_failover mon monitor "$(ha_addr mon):5432" "$PID" "$RUNNING"
    for h in $HA_PG_NODES; do
        pid_in "$HA/$h/run/keeper.pid"
        goal=${pg_goal[$h]:-}
        case $goal in
        single|primary|wait_primary|join_primary|apply_settings) role=primary ;;
        prepare_promotion|stop_replication) role=promoting ;;
        draining|demote_timeout|demoted) role=demoted ;;
        maintenance|prepare_maintenance|wait_maintenance) role=maintenance ;;
        "") role=unknown ;;
        *) role=standby ;;
        esac
        state=${pg_reported[$h]:-unknown}
        [ -z "$goal" ] || [ "$goal" = "$state" ] || state="$state, to $goal"
        [ -n "$PID" ] || state=stopped
        part postgres "$h" "$role" "$(ha_addr "$h"):$(ha_pg_port "$h")" "$PID" "$state"
    done
    for n in $(ha_redis_nodes); do
        h=${n%%:*}
        addr=$HA_NET.3${h#redis}:${n##*:}   # ha_redis_addr's, without a subshell a node
        pid_in "$HA/$h/run/redis-${n##*:}.pid"
        role=${r_role[$addr]:-} of=${r_of[$addr]:-} slots=${r_slots[$addr]:-} flags=${r_flags[$addr]:-}
        state=$RUNNING
        [ -z "$flags" ] || [ "$flags" = ok ] || state="$state, $flags"
        case $role in
        primary) [ "$json" = 1 ] || state="$state, slots $slots" ;;
        replica) [ "$json" = 1 ] || state="$state, of $of" ;;
        *) role=unknown of=- slots=- ;;
        esac
        part redis "$h" "$role" "$addr" "$PID" "$state" "$of" "$slots"
    done
    for h in $HA_APPS; do
        addr=$(ha_addr "$h")
        port=$(ha_group_port "${GROUPS_ALL%% *}")
        for g in $GROUPS_ALL; do
            pid_in "$HA/$h/run/$g.pid"
            part "$g" "$h" responder "$addr:$port" "$PID" "$RUNNING"
            port=$((port + 1))   # ha_group_port: the groups' ports in order
        done
        for g in relay cron-loop; do
            pid_in "$HA/$h/run/$g.pid"
            part "${g%-loop}" "$h" "${g%-loop}" "$addr" "$PID" "$RUNNING"
        done
    done
    local kleader kleads
    kleader=$(kafka_quorum_leader)
    kleads=$(kafka_leaders)
    for h in $HA_KAFKA_NODES; do
        pid_in "$HA/$h/run/kafka.pid"
        # The quorum's leader is "leader", the other controllers "voter".
        role=voter
        [ "$h" = "$kleader" ] && role=leader
        state=$RUNNING
        [ -z "$PID" ] || state="$state, leads $(printf '%s\n' "$kleads" | awk -v h="$h" '$1 == h { n = $2 } END { print n + 0 }') partitions"
        part kafka "$h" "$role" "$(ha_addr "$h"):$KAFKA_PORT" "$PID" "$state"
    done
    pid_in "$HA/lb/run/nginx.pid"
    part nginx lb balancer "$(ha_addr lb):$HA_LB_PORT" "$PID" "$RUNNING"
    if [ "$json" = 1 ]; then
        printf '\n]}\n'
    else
        wait
        printf '  %-8s %s\n' health "$(cat "$tmp")"
    fi
    rm -f "$tmp"
}

# --- faults ---------------------------------------------------------------------------

# ./dev fault [up|test] NAME: one fault of the README's several-hosts
# section, for an operator to rehearse (and for t/a*). `heal` undoes them all.
ha_cmd_fault() {
    local which=up name= arg h slot=0 n
    for arg in "$@"; do
        case $arg in up|test) which=$arg ;; [0-9]*) slot=$arg ;; *) name=$arg ;; esac
    done
    profile "$which"
    ha_profile
    if [ -z "$name" ]; then
        cat <<'EOF'
usage: ./dev fault [up|test] NAME, on the several-hosts stack (./dev up --ha)
  redis-kill [SLOT]
               kill -9 the Redis primary owning SLOT (0 unless given; its
               replica, on another host, is promoted)
  pg-kill      kill -9 the PostgreSQL primary's host: keeper, postgres and all
               (pg_auto_failover promotes the standby)
  pg-cut       take the PostgreSQL primary's host's link down, leaving it
               running (the standby is promoted; the responders give up on
               the cut host by their connection strings' TCP timeouts)
  app1-cut     take app1's link down (the balancer routes around it)
  app2-cut     the same for app2
  redis-cut [SLOT]
               take that primary's host's link down, leaving it running
  lb-stop      stop lb's nginx
  kafka-kill   kill -9 the Kafka broker that leads the most partitions
  kafka-cut    take that broker's link down, leaving it running
  heal         every link up, every stopped part started again (a killed
               Redis comes back as a replica and then takes its shard back,
               a killed PostgreSQL rejoins as the standby); waits until
               PostgreSQL and each Redis shard have a primary and a replica
EOF
        return 2
    fi
    ha_is_up || die "no several-hosts stack for ./dev $which (start one: ./dev $which --ha)"
    is_root || die "./dev fault needs root"
    case $name in
    redis-kill|redis-cut)
        # Prints the node's host and address: "redis1 10.78.0.31:6371".
        n=$(ha_redis_primary_of_slot "$slot")
        [ -n "$n" ] || die "no Redis primary owns slot $slot"
        h=${n%%:*}
        if [ "$name" = redis-kill ]; then kill -9 "$(cat "$HA/$h/run/redis-${n##*:}.pid")"; else ip link set "$(ha_ns "$h")" down; fi
        echo "$h $(ha_redis_addr "$n")"
        ;;
    pg-kill)
        h=$(pg_primary_host)
        [ -n "$h" ] || die "no PostgreSQL primary"
        kill -9 -- "-$(cat "$HA/$h/run/keeper.pid")"
        echo "$h"
        ;;
    pg-cut)
        h=$(pg_primary_host)
        [ -n "$h" ] || die "no PostgreSQL primary"
        ip link set "$(ha_ns "$h")" down
        echo "$h"
        ;;
    app1-cut|app2-cut)
        ip link set "$(ha_ns "${name%-cut}")" down
        echo "${name%-cut}"
        ;;
    lb-stop)
        stop_pidfile "$HA/lb/run/nginx.pid" -QUIT
        echo lb
        ;;
    kafka-kill|kafka-cut)
        h=$(kafka_leaders | awk 'NR == 1 { print $1 }')
        [ -n "$h" ] || die "no Kafka broker leads a partition"
        if [ "$name" = kafka-kill ]; then kill -9 "$(cat "$HA/$h/run/kafka.pid")"; else ip link set "$(ha_ns "$h")" down; fi
        echo "$h"
        ;;
    heal) ha_heal ;;
    *) die "no such fault: $name (./dev fault lists them)" ;;
    esac
}

# ha_link_is_down HOST: its link was taken down (a *-cut fault).
ha_link_is_down() { ! ip -o link show dev "$(ha_ns "$1")" 2>/dev/null | grep -q '[<,]UP[,>]'; }

# ha_wait_stepped_down HOST: until the PostgreSQL on HOST, cut off, is no
# longer a primary (20 s at most). pg_auto_failover has a primary cut off
# from the monitor and its standby demote itself (seconds after its
# standby was promoted): a link given back before that brings back a
# primary whose commits wait for a standby gone, and clients that connect
# to it get errors, not the new primary.
ha_wait_stepped_down() {
    local i
    for i in $(seq 40); do
        [ "$(pgaf "$1" psql -h "$HA/pgsock" -p "$(ha_pg_port "$1")" -d postgres -qAtXc 'SELECT pg_is_in_recovery()' \
            2>/dev/null)" = f ] || return 0
        sleep 0.5
    done
}

ha_heal() {
    local h n gave
    for h in $HA_PG_NODES; do ! ha_link_is_down "$h" || ha_wait_stepped_down "$h"; done
    for h in $HA_HOSTS; do ip link set "$(ha_ns "$h")" up; done
    for h in mon $HA_PG_NODES; do start_keeper "$h"; done
    for n in $(ha_redis_nodes); do ha_start_redis "$n"; done
    for h in $HA_KAFKA_NODES; do ha_kafka_node "$h"; kafka_start; done
    for h in $HA_KAFKA_NODES; do ha_kafka_node "$h"; kafka_wait_ready; done
    for h in $HA_APPS; do ha_start_app "$h"; done
    ha_start_lb
    wait_pg_settled
    ha_pg_hba
    wait_redis_settled
    gave=$(ha_redis_give_back)
    [ -z "$gave" ] || wait_redis_settled
    echo "healed: PostgreSQL primary on $(pg_primary_host), Redis primaries $(ha_redis_layout), each with its replica${gave:+; }${gave%; }"
}

# --- tests ---------------------------------------------------------------------------

# ./dev test --ha [TESTS]: the several-hosts stack on the test subnet, then
# its stories (t/a*, or the named tests) through prove; stopped after.
ha_cmd_test() {
    local only=$1 rc=0
    profile test
    ha_profile
    ensure_packages test
    ensure_packages kafka
    stop_all
    ha_stop_stack
    stack_gone || die "the test stack at $VAR did not stop; not starting another over it"
    rm -rf "$VAR"
    on_exit 'profile test; ha_profile; ha_stop_stack; stop_all'
    ha_start_stack
    test_env
    export CONCERT_PG="$HA_CONNINFO connect_timeout=2"
    export CONCERT_CONF=$HA/app1/concert.conf
    export CONCERT_REDIS_CLUSTER=$HA_CLUSTER_NODES CONCERT_HA_CLUSTER_NODES=$HA_CLUSTER_NODES
    export CONCERT_REDIS_PASSWORD_FILE=$HA_SECRETS/redis.password
    export CONCERT_HA_MONITOR="host=$(ha_addr mon) port=5432"
    export CONCERT_HA=1 CONCERT_FAULTS=1
    export CONCERT_KAFKA_BROKERS=$KAFKA_BROKERS
    # The stories' own looks at the hosts: app addresses, the responders'
    # first port, and the hosts' network namespaces (PREFIX + host name).
    export CONCERT_HA_APP1 CONCERT_HA_APP2 CONCERT_HA_NETNS_PREFIX CONCERT_HA_FCGI_PORT
    CONCERT_HA_APP1=$(ha_addr app1) CONCERT_HA_APP2=$(ha_addr app2) CONCERT_HA_NETNS_PREFIX=$HA_TAG-
    CONCERT_HA_FCGI_PORT=$(ha_group_port "${GROUPS_ALL%% *}")
    [ -n "$only" ] || only=$(ls t/a*.c | sed 's/\.c$/.t/' | tr '\n' ' ')
    say "several-hosts tests (http://127.0.0.1:$FRONT_PORT, lb at $(ha_addr lb))"
    # Verbose: each story prints what clients saw (its figures).
    CONCERT_BASE_URL="http://127.0.0.1:$FRONT_PORT" CONCERT_FRONT_NAME=nginx \
        make -C "$BUILD" -s check PROVE_TESTS="$only" PROVE_FLAGS="--exec '' --timer --verbose" || rc=1
    [ $rc = 0 ] && echo "dev test --ha: all passed" || echo "dev test --ha: FAILED"
    return $rc
}

main() {
    local cmd=${1:-} which
    shift || true
    case $cmd in
    up) [ $# = 0 ] || die "usage: ./dev up --ha"; ha_cmd_up ;;
    test) ha_cmd_test "$*" ;;
    fault) ha_cmd_fault "$@" ;;
    stop|is-up|status|site)
        which=${1:-}
        case $which in up|test) ;; *) die "usage: ha/stack.sh $cmd up|test" ;; esac
        profile "$which"
        ha_profile
        case $cmd in
        stop) ha_stop_stack ;;
        is-up) ha_is_up ;;
        status) ha_status "$([ "${2:-}" = --json ] && echo 1 || echo 0)" ;;
        site) ha_render_lb_site ;;
        esac ;;
    *) die "usage: ha/stack.sh up|test|fault|stop|is-up|status|site" ;;
    esac
}

[ "${BASH_SOURCE[0]}" != "$0" ] || job_main main "$@"
