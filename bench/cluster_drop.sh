# bench/cluster_drop.sh - the drop over three concerts on a three-primary
# Redis Cluster and on one primary, in the same run; sourced by bench/run
# when ./dev bench runs with BENCH_CLUSTER=1 (its settings and helpers:
# CLIENT, DATA, CLUSTER_BASE, CLUSTER_PORTS, DROP_*, say, sample_rss).
#
# Each drop is the usual one (bench/client.c's drop: a crowd arriving
# before the opening, polling when told, buying until sold out), its crowd
# split over three concerts made until each primary owns one (on the
# single Redis: three on it). What differs is only the Redis the
# responders use, so the per-request figures compare the routing over
# several primaries with one primary. Besides the drop's own figures, the
# CPU the responders and Redis spent (every process of both fronts, every
# node, so both drops count the relay's and cron's share alike), and
# PostgreSQL's count of each concert's seats.
# shellcheck shell=bash

# The slot map (bench/slotmap.h) of the cluster a node at port belongs to:
# "FIRST LAST PORT" per primary's range, from CLUSTER NODES (a slot being
# moved shows as [..] and is skipped: its owner's range covers it).
cluster_slot_map() {
    redis-cli -h 127.0.0.1 -p "$1" cluster nodes | awk '$3 ~ /master/ {
        split($2, addr, "[:@,]")
        for (i = 9; i <= NF; i++) {
            if ($i ~ /^\[/) continue
            n = split($i, r, "-")
            print r[1], (n > 1 ? r[2] : r[1]), addr[2]
        }
    }'
}

# CPU seconds the responders (every process of fcgi/concert-*) have used.
responder_cpu_s() {
    local pid exe total=0 ticks
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
        case ${exe% (deleted)} in "$BENCH_BUILD"/fcgi/concert-*) ;; *) continue ;; esac
        # utime and stime, the 14th and 15th fields (after the command's
        # parenthesis, the 12th and 13th).
        ticks=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
        total=$((total + ${ticks:-0}))
    done
    awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t / hz}'
}

# CPU seconds every Redis of the stack (its own and the cluster's nodes)
# has used, by its own INFO.
redis_cpu_s() {
    local p
    for p in "$BENCH_REDIS_PORT" $CLUSTER_PORTS; do
        redis-cli -h 127.0.0.1 -p "$p" info cpu 2>/dev/null
    done | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.3f", s}'
}

# PostgreSQL's word on each of NAME's concerts: its seats SOLD, and seats
# in two confirmed reservations, into NAME_db.json by concert id.
drop_db_counts() {
    local ids
    ids=$(awk '{print $1}' "$DATA/$1_concert.txt" | paste -sd, -)
    case $ids in "" | *[!0-9,]*) echo "bench/run: $1: no concert ids" >&2; return 1 ;; esac
    psql "$BENCH_PG" -qtA -v ids="{$ids}" >"$DATA/$1_db.json" <<'SQL'
SELECT coalesce(json_object_agg(c.id, json_build_object(
    'sold_db', (SELECT count(*) FROM seats s JOIN schedules sc ON sc.id = s.schedule_id
                 WHERE sc.concert_id = c.id AND s.status = 'SOLD'),
    'sold_twice_db', (SELECT count(*) - count(DISTINCT (r.schedule_id, n)) FROM reservations r
                       CROSS JOIN LATERAL unnest(r.seat_nos) AS n
                       WHERE r.concert_id = c.id AND r.status = 'CONFIRMED'))), '{}')
FROM unnest(:'ids'::bigint[]) AS c(id)
SQL
}

# cluster_drop NAME BASE SLOTMAP: NAME's users (sessions on the node that
# owns each), three concerts over SLOTMAP's nodes through BASE, the drop,
# then its CPU and PostgreSQL's counts.
cluster_drop() {
    local name=$1 base=$2 map=$3 f port cpu0 redis0
    "$CLIENT" users-split "$DATA" 7200 "$DROP_USERS" "$name" "$map" || return 1
    for f in "$DATA/sessions_${name}_"*.resp; do
        port=${f##*_}
        port=${port%.resp}
        redis-cli -h 127.0.0.1 -p "$port" --pipe <"$f" >>"$DATA/sessions_$name.log" 2>&1 || return 1
    done
    "$CLIENT" drop-concerts "$base" "$BENCH_ADMIN_KEY_FILE" "$DATA" "$name" 3 "$map" || return 1
    say "$name: $DROP_USERS users over the concerts $(awk '{printf "%s%s (on %s)", (NR > 1 ? ", " : ""), $1, $2}' "$DATA/${name}_concert.txt"), $DROP_CONNS connections"
    cpu0=$(responder_cpu_s)
    redis0=$(redis_cpu_s)
    "$CLIENT" drop "$base" "$BENCH_ADMIN_KEY_FILE" "$DATA" "$DROP_USERS" "$DROP_CONNS" "$DROP_TIMEOUT" \
        "$DATA/$name.json" "$name" || return 1
    printf '{"responder_cpu_s": %s, "redis_cpu_s": %s}\n' \
        "$(awk -v a="$cpu0" -v b="$(responder_cpu_s)" 'BEGIN {printf "%.3f", b - a}')" \
        "$(awk -v a="$redis0" -v b="$(redis_cpu_s)" 'BEGIN {printf "%.3f", b - a}')" >"$DATA/${name}_cpu.json"
    echo "    $(cat "$DATA/$name.json")"
    echo "    CPU: $(cat "$DATA/${name}_cpu.json")"
    if [ -n "${BENCH_PG:-}" ] && command -v psql >/dev/null; then
        drop_db_counts "$name" && echo "    PostgreSQL: $(cat "$DATA/${name}_db.json")"
    fi
    sample_rss
}

# Both drops, the cluster's first (bench/run's drop with a cluster).
cluster_drop_both() {
    local first=${CLUSTER_PORTS%% *}
    cluster_slot_map "$first" >"$DATA/slots_cluster.txt"
    echo "0 16383 $BENCH_REDIS_PORT" >"$DATA/slots_one.txt"
    cluster_drop drop_cluster "$CLUSTER_BASE" slots_cluster.txt ||
        echo "bench/run: the drop on the cluster failed" >&2
    cluster_drop drop_one "$BENCH_BASE" slots_one.txt ||
        echo "bench/run: the drop on one primary failed" >&2
}
