#!/usr/bin/env bash
# t/pgaf.sh - a pg_auto_failover formation on loopback ports, for t/2h: a
# monitor and two PostgreSQL data nodes with synchronous replication, each
# under pg_autoctl (its keeper), all in one folder.
#
#   t/pgaf.sh up DIR MONITOR_PORT PORT1 PORT2   make and start it; prints
#                                               the data nodes' ports
#   t/pgaf.sh primary DIR                       the primary's node name
#   t/pgaf.sh secondary DIR                     the secondary's node name
#   t/pgaf.sh kill-primary DIR                  the primary's host dies: its
#                                               keeper, postgres and backends,
#                                               kill -9 (one process group)
#   t/pgaf.sh kill-secondary DIR                the same for the secondary's
#   t/pgaf.sh sql DIR PORT SQL                  SQL as the superuser on the
#                                               node at PORT (first row out)
#   t/pgaf.sh revive DIR                        starts the keepers that are
#                                               not running (a host back), then
#                                               waits for one primary and one
#                                               secondary
#   t/pgaf.sh down DIR                          stops everything, removes DIR
#
# Runs as the calling user (PostgreSQL refuses root). pg_autoctl keeps its
# configuration and state under HOME and XDG folders: they are pointed into
# DIR, and so is the servers' unix socket (Debian's socket folder belongs to
# postgres). The monitor's health checks are the fast ones of
# conf/pg_auto_failover-monitor.conf (a failover in seconds, not 50).
set -euo pipefail
cmd=${1:?usage: t/pgaf.sh up|primary|secondary|kill-primary|kill-secondary|sql|revive|down DIR ...}
B=${2:?DIR}
PGBIN=${CONCERT_PG_BIN:-/usr/lib/postgresql/15/bin}
export HOME=$B/home XDG_CONFIG_HOME=$B/home/.config XDG_DATA_HOME=$B/home/.local/share \
    XDG_RUNTIME_DIR=$B/run PATH=$PGBIN:/usr/bin:/bin PG_CONFIG=$PGBIN/pg_config PGHOST=$B/sock \
    PGCONNECT_TIMEOUT=2

monitor_sql() { psql -p "$(cat "$B/monitor.port")" -d pg_auto_failover -U autoctl_node -Atc "$1"; }

initdb_here() {   # initdb_here PGDATA
    initdb -D "$1" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    printf "unix_socket_directories = '%s'\nlisten_addresses = '127.0.0.1'\n" "$B/sock" >>"$1/postgresql.conf"
}

run_keeper() {   # run_keeper NAME: pg_autoctl run in a session of its own
    setsid pg_autoctl run --pgdata "$B/$1" >>"$B/$1.log" 2>&1 </dev/null &
}

node_in() {   # node_in STATE: the node that is in STATE and meant to be
    monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate = '$1' AND goalstate = '$1'"
}

kill_node() {   # kill_node STATE: the host of the node in STATE dies
    local name keeper
    name=$(node_in "$1")
    [ -n "$name" ] || { echo "t/pgaf.sh: no $1" >&2; exit 1; }
    keeper=$(head -n1 "$B/run/pg_autoctl$B/$name/pg_autoctl.pid")
    kill -9 -- "-$keeper"
    echo "$name"
}

ready() {   # one primary and one secondary, each where it was told to be
    local r="" i
    for i in $(seq 240); do
        r=$(monitor_sql "SELECT count(*) FILTER (WHERE reportedstate = goalstate AND goalstate = 'primary') || '/' ||
                                count(*) FILTER (WHERE reportedstate = goalstate AND goalstate = 'secondary')
                           FROM pgautofailover.node" 2>/dev/null || true)
        [ "$r" = 1/1 ] && return 0
        sleep 0.5
    done
    echo "t/pgaf.sh: the formation is not ready ($r)" >&2
    return 1
}

case $cmd in
up)
    mport=${3:?MONITOR_PORT} p1=${4:?PORT1} p2=${5:?PORT2}
    [ "$(id -u)" != 0 ] || { echo "t/pgaf.sh: PostgreSQL does not run as root" >&2; exit 1; }
    mkdir -p "$B/home" "$B/run" "$B/sock"
    chmod 700 "$B/run"
    echo "$mport" >"$B/monitor.port"
    initdb_here "$B/monitor"
    cat "$(dirname "${BASH_SOURCE[0]}")/../conf/pg_auto_failover-monitor.conf" >>"$B/monitor/postgresql.conf"
    pg_autoctl create monitor --pgdata "$B/monitor" --pgport "$mport" --hostname 127.0.0.1 --auth trust \
        --no-ssl --pgctl "$PGBIN/pg_ctl" >>"$B/monitor.log" 2>&1
    # pg_autoctl starts the monitor on every address unless told.
    pg_autoctl config set --pgdata "$B/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
    run_keeper monitor
    for _ in $(seq 60); do monitor_sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
    # The first node registers a cluster made here; the second is a base
    # backup of it, settings included.
    initdb_here "$B/node1"
    for n in 1 2; do
        port=$p1
        [ $n = 2 ] && port=$p2
        pg_autoctl create postgres --pgdata "$B/node$n" --pgport "$port" --hostname 127.0.0.1 --listen 127.0.0.1 \
            --name "node$n" --monitor "postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable" \
            --auth trust --no-ssl --dbname concert --username concert_app --pgctl "$PGBIN/pg_ctl" >>"$B/node$n.log" 2>&1
        pg_autoctl config set --pgdata "$B/node$n" timeout.network_partition_timeout 3 >/dev/null
        run_keeper "node$n"
    done
    ready
    echo "$p1 $p2"
    ;;
primary | secondary)
    node_in "$cmd"
    ;;
kill-primary | kill-secondary)
    kill_node "${cmd#kill-}"
    ;;
sql)
    psql -p "${3:?PORT}" -d concert -qAtX -v ON_ERROR_STOP=1 -c "${4:?SQL}"
    ;;
revive)
    for n in node1 node2; do
        f=$B/run/pg_autoctl$B/$n/pg_autoctl.pid
        if [ -f "$f" ] && kill -0 "$(head -n1 "$f")" 2>/dev/null; then continue; fi
        run_keeper "$n"
    done
    ready
    ;;
down)
    for n in node2 node1 monitor; do
        [ -d "$B/$n" ] && pg_autoctl stop --pgdata "$B/$n" >/dev/null 2>&1 || true
    done
    for _ in $(seq 40); do
        pgrep -f "pg_autoctl run --pgdata $B|postgres -D $B" >/dev/null || break
        sleep 0.5
    done
    for f in "$B"/run/pg_autoctl"$B"/*/pg_autoctl.pid; do
        [ -f "$f" ] || continue
        p=$(head -n1 "$f")
        kill -0 "$p" 2>/dev/null && kill -9 -- "-$p" 2>/dev/null || true
    done
    pkill -9 -f "postgres -D $B" 2>/dev/null || true
    rm -rf "$B"
    ;;
*)
    echo "usage: t/pgaf.sh up|primary|secondary|kill-primary|kill-secondary|sql|revive|down DIR ..." >&2
    exit 2
    ;;
esac
