#!/usr/bin/env bash
# 8d-bench-twice: `./dev bench` stops what it started, every time.
#
# Two short benchmark runs in a row (the ceiling alone, one second, one
# process per responder instance) on a bench port of their own: both exit 0,
# both write their report, and after each nothing of the bench stack is left
# running - no PostgreSQL, Redis, nginx, responder, ceiling or cron loop (a
# process whose working folder, open files or command line lie in the
# stack's folder, or anything listening on its ports). A first run that left
# its servers behind made the second fail to start PostgreSQL.
#
# A run that fails half-way (its nginx port taken, after PostgreSQL, Redis
# and the responders have started) stops what it started on the way out; so
# does a run stopped by a signal (Ctrl-C, a timeout) in the middle.
#
# `./dev bench --keep` leaves the stack up, and the same search finds each of
# its parts (or it would prove nothing); `./dev bench --stop` then stops it
# all. That run is a BENCH_CLUSTER=1 one: its three-primary cluster and the
# front whose responders use it are parts of the stack like the others,
# listening where the cluster drop looks for them, and stopped with it. And --stop finishes with nothing to stop: again, with the stack's pid
# files left by servers that died on their own (a machine restarted, a
# kill -9), and with no bench folder at all.
#
# The test stack this runs beside must not notice: it still answers.
# Slow (two stacks started from scratch): runs with ./dev test --faults only.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}

if [ "${CONCERT_FAULTS:-}" != 1 ]; then
    echo "1..0 # SKIP slow (two bench stacks): ./dev test --faults"
    exit 0
fi
if [ -z "${CONCERT_VAR:-}" ] || [ -z "${CONCERT_BASE_URL:-}" ]; then
    echo "1..0 # SKIP needs the ./dev test stack"
    exit 0
fi
if [ "${CONCERT_FRONT_NAME:-nginx}" != nginx ]; then
    echo "1..0 # SKIP runs once, behind nginx"
    exit 0
fi

# The test stack's own ports are its nginx port and the next three (Apache,
# the cluster's nginx), and below it PostgreSQL, Redis, the cluster's nodes
# just above Redis's port, and Kafka's two; twenty above is free for the
# bench stack, and so are the ports ./dev derives from it.
test_port=${CONCERT_BASE_URL##*:}
test_port=${test_port%%/*}
PORT=$((test_port + 20))
VAR=$REPO/var/bench-stack-$PORT
BENCH_PG_PORT=$((PORT - 2548))
BENCH_REDIS_PORT=$((PORT - 1601))
# With BENCH_CLUSTER=1: the cluster's nodes just above Redis's port, and
# its front two above the bench's.
CLUSTER_PORTS="$((BENCH_REDIS_PORT + 1)) $((BENCH_REDIS_PORT + 2)) $((BENCH_REDIS_PORT + 3))"
CLUSTER_FRONT_PORT=$((PORT + 2))
OUT=$(mktemp -d)
chmod 755 "$OUT"

n=0
failed=0
ok() {   # ok CONDITION-STATUS "description" [diagnostics]
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else
        echo "not ok $n - $2"; failed=1
        [ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/#   /'
    fi
}

# The sockets listening on port, by inode, one a line.
listening() {
    awk -v h=":$(printf '%04X' "$1")" '$2 ~ h"$" && $4 == "0A" {print $10}' /proc/net/tcp
}

# Processes of the bench stack, one "pid name" a line: whatever has its
# working folder or an open file under the stack's folder (PostgreSQL's
# every process works in its data folder, Redis in its own; nginx, the
# responders, the ceiling and the cron loop write to its logs), whatever
# names the folder on its command line, and whatever listens on its ports.
leftovers() {
    local pids p ports
    pids=$(find /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 \( -lname "$VAR" -o -lname "$VAR/*" \) 2>/dev/null |
           cut -d/ -f3)
    pids="$pids $(grep -lsF "$VAR" /proc/[0-9]*/cmdline | cut -d/ -f3)"
    ports=
    for p in "$PORT" "$BENCH_PG_PORT" "$BENCH_REDIS_PORT" $CLUSTER_PORTS "$CLUSTER_FRONT_PORT"; do
        ports="$ports $(listening "$p")"
    done
    for p in $(printf '%s\n' $pids | sort -un); do
        [ "$p" = $$ ] && continue
        # A zombie is gone; only its parent has not been told yet.
        [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && continue
        [ -d "/proc/$p" ] && echo "$p $(cat "/proc/$p/comm" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"
    done
    for p in $ports; do
        [ "$p" = 0 ] || echo "a socket (inode $p) listening on a bench port"
    done
}

# bench NAME [ARG...]: a short run, the ceiling alone for a second (for
# $duration) at 4 connections, stopped by TERM after $limit seconds (and
# killed two minutes later: time enough to stop on a loaded machine).
duration=1
limit=900
cluster=0
bench() {
    env -u CONCERT_VAR -u CONCERT_CONF -u CONCERT_PG -u CONCERT_REDIS_PORT -u CONCERT_ADMIN_KEY \
        CONCERT_BENCH_PORT="$PORT" CONCERT_CHILDREN=1 CONCERT_BUILD_DIR="${CONCERT_BUILD:-$PWD}" \
        BENCH_OUT="$OUT/$1" BENCH_CLUSTER=$cluster BENCH_SCENARIOS= BENCH_WARMUP=1 BENCH_DURATION=$duration BENCH_CONNS=4 BENCH_THREADS=1 \
        timeout -k 120 $limit "$REPO/dev" bench "${@:2}" >"$OUT/$1.log" 2>&1
}

echo "1..18"

for run in first second; do
    bench "$run"
    rc=$?
    ok $rc "the $run ./dev bench exits 0" "$(tail -15 "$OUT/$run.log")"
    grep -q '"ceiling"' "$OUT/$run/latest.json" 2>/dev/null
    ok $? "the $run run measured the ceiling and wrote its report"
    left=$(leftovers)
    ok "$([ -z "$left" ]; echo $?)" "after the $run run, nothing of the bench stack is running" "$left"
done

# Something else listens on the bench's nginx port.
perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 1)
        or die "listen: $!\n";
    print "listening\n";
    sleep 600' "$PORT" >"$OUT/taken.log" 2>&1 &
taker=$!
for _ in $(seq 50); do grep -q listening "$OUT/taken.log" && break; sleep 0.1; done
bench half
rc=$?
kill "$taker" 2>/dev/null
wait "$taker" 2>/dev/null
ok "$([ $rc != 0 ] && grep -q 'nginx did not start' "$OUT/half.log"; echo $?)" \
    "a ./dev bench whose nginx port is taken fails (exit $rc)" "$(tail -15 "$OUT/half.log")"
left=$(leftovers)
ok "$([ -z "$left" ]; echo $?)" "and it stopped the PostgreSQL, Redis and responders it had started" "$left
$(tail -15 "$OUT/half.log")"

# TERM at 25 s, in the middle of a 60-second measurement (or, on a slow
# machine, of the start: that must stop everything as well).
duration=60 limit=25 bench signalled
rc=$?
ok "$([ $rc != 0 ]; echo $?)" "a ./dev bench stopped by TERM says so (exit $rc)" "$(tail -15 "$OUT/signalled.log")"
left=$(leftovers)
ok "$([ -z "$left" ]; echo $?)" "and it stopped the whole bench stack on its way out" "$left
$(tail -15 "$OUT/signalled.log")"

cluster=1 bench kept --keep
ok $? "./dev bench --keep with BENCH_CLUSTER=1 exits 0" "$(tail -15 "$OUT/kept.log")"
left=$(leftovers)
missing=
for part in postgres redis-server nginx concert-ceiling concert-queue multiwatch; do
    printf '%s\n' "$left" | awk '{print $2}' | grep -qx -- "$part" || missing="$missing $part"
done
ok "$([ -z "$missing" ]; echo $?)" "the kept stack runs, and the search finds its parts" \
    "not found:$missing; found:
$left"
missing=
for p in $CLUSTER_PORTS; do
    [ "$(redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ] ||
        missing="$missing node:$p"
done
curl -fsS -m 5 "http://127.0.0.1:$CLUSTER_FRONT_PORT/healthz" >/dev/null 2>&1 || missing="$missing front:$CLUSTER_FRONT_PORT"
ok "$([ -z "$missing" ]; echo $?)" "it runs a three-primary cluster and a front on it" "not answering:$missing
$(tail -15 "$OUT/kept.log")"

bench stop-kept --stop
rc=$?
left=$(leftovers)
ok "$([ $rc = 0 ] && [ -z "$left" ]; echo $?)" "./dev bench --stop stops all of the kept stack" \
    "exit $rc; left:
$left
$(tail -15 "$OUT/stop-kept.log")"

bench stop-after --stop
ok $? "./dev bench --stop with the stack already stopped exits 0" "$(tail -15 "$OUT/stop-after.log")"

# Servers that died without ./dev: their pid files stay, naming processes
# that are gone (and sessions nobody leads).
gone=$(sh -c 'echo $$')
mkdir -p "$VAR/run"
for f in ceiling-1 ceiling-2 queue-1 admin-2 nginx redis cron-loop; do echo "$gone" >"$VAR/run/$f.pid"; done
bench stop-stale --stop
rc=$?
stale=$(ls "$VAR/run/"*.pid 2>/dev/null)
ok "$([ $rc = 0 ] && [ -z "$stale" ]; echo $?)" \
    "./dev bench --stop with pid files of servers that died exits 0 and clears them" \
    "exit $rc; left: $stale
$(tail -15 "$OUT/stop-stale.log")"

rm -rf "$VAR"
bench stop-none --stop
ok $? "./dev bench --stop with no bench stack at all exits 0" "$(tail -15 "$OUT/stop-none.log")"

curl -fsS -m 5 "$CONCERT_BASE_URL/healthz" >/dev/null
ok $? "the test stack beside it still answers"

[ $failed = 0 ] && rm -rf "$OUT"
exit $failed
