#!/usr/bin/env bash
# fuzz/campaign.sh [seconds] - `./dev fuzz [seconds]`: longer runs of the
# libFuzzer targets that fuzz/Makefile builds and t/85-fuzz.sh runs for a
# few seconds each.
#
# Reads from the environment: CONCERT_BUILD_DIR (scripts/lib.sh; the
# targets are built in its fuzz-out/).
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# ./dev fuzz [seconds]: each libFuzzer target of fuzz/ for that long (default
# 60), keeping what it learns in var/fuzz/corpus/<target>; what it finds goes
# to var/fuzz/artifacts/ and makes the command fail.
cmd_fuzz() {
    local secs=${1:-60} out=$BUILD/fuzz-out dir=$REPO/var/fuzz t rc=0 targets
    # 0 would be "no limit" to libFuzzer.
    case $secs in *[!0-9]*|"") secs=0 ;; esac
    [ $# -le 1 ] && [ "$secs" -gt 0 ] || die "usage: ./dev fuzz [seconds per target, at least 1]"
    ensure_packages fuzz
    mkdir -p "$out" "$dir/artifacts"
    say "building the fuzz targets ($out)"
    make -s -f "$REPO/fuzz/Makefile" SRC="$REPO" OUT="$out" -j"$(nproc)" >/dev/null
    targets=$(make -s -f "$REPO/fuzz/Makefile" SRC="$REPO" OUT="$out" list)
    for t in $targets; do
        mkdir -p "$dir/corpus/$t"
        say "$t for ${secs}s"
        if "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -dict="$REPO/fuzz/concert.dict" -artifact_prefix="$dir/artifacts/$t-" \
            "$dir/corpus/$t" "$REPO/fuzz/corpus/$t" >"$dir/$t.log" 2>&1; then
            echo "    $(grep -E '^stat::number_of_executed_units' "$dir/$t.log" | awk '{print $2}') inputs," \
                "corpus $(ls "$dir/corpus/$t" | wc -l) files, no finding"
        else
            rc=1
            echo "    FOUND a problem: $dir/$t.log, inputs in $dir/artifacts/"
            grep -E 'ERROR|property failed|SUMMARY' "$dir/$t.log" | head -5 | sed 's/^/    /'
        fi
    done
    [ $rc = 0 ] && echo "dev fuzz: no finding" || echo "dev fuzz: FINDINGS (see above)"
    return $rc
}

[ "${BASH_SOURCE[0]}" != "$0" ] || job_main cmd_fuzz "$@"
