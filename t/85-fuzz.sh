#!/usr/bin/env bash
# 85-fuzz: every libFuzzer target in fuzz/ (clang, AddressSanitizer,
# UndefinedBehaviorSanitizer) is built and run for a few seconds from its
# seed corpus: the validators, headers and tokens, routing, JSON bodies, the
# config file, and each responder's own handlers on fuzzed requests. A crash,
# a sanitizer report, a leak or a broken property fails the test and leaves
# the input under <build>/fuzz-out/artifacts/. `./dev fuzz [seconds]` runs them
# longer. CONCERT_FUZZ_SECONDS sets the time per target here (default 2).
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${CONCERT_BUILD:-$PWD}   # make check runs in the build tree
OUT=$BUILD/fuzz-out
SECS=${CONCERT_FUZZ_SECONDS:-2}
# The suite's sanitizer settings (./dev test --sanitize) are for the
# servers; libFuzzer reports on stderr itself.
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

if ! command -v clang >/dev/null 2>&1; then
    echo "1..1"
    echo "not ok 1 - clang is installed (./dev installs it)"
    exit 1
fi
targets=$(make -s -f "$REPO/fuzz/Makefile" SRC="$REPO" OUT="$OUT" list)
n=0
for t in $targets; do n=$((n + 1)); done
echo "1..$((n + 1))"

mkdir -p "$OUT"
if make -s -f "$REPO/fuzz/Makefile" SRC="$REPO" OUT="$OUT" -j"$(nproc)" >"$OUT/build.log" 2>&1; then
    echo "ok 1 - fuzz targets build with clang -fsanitize=fuzzer,address,undefined"
else
    echo "not ok 1 - fuzz targets build"
    sed 's/^/# /' "$OUT/build.log" | tail -30
fi

i=1
failed=0
for t in $targets; do
    i=$((i + 1))
    work=$OUT/learned/$t
    mkdir -p "$work" "$OUT/artifacts"
    if [ ! -x "$OUT/$t" ]; then
        echo "not ok $i - $t ran (not built)"
        failed=1
        continue
    fi
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a runaway
    # allocation is a finding too.
    if timeout $((SECS + 120)) "$OUT/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -dict="$REPO/fuzz/concert.dict" -artifact_prefix="$OUT/artifacts/$t-" \
        "$work" "$REPO/fuzz/corpus/$t" >"$OUT/$t.log" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$OUT/$t.log" | tail -1)
        echo "ok $i - $t: ${runs:-?} inputs in ${SECS}s, no finding"
    else
        echo "not ok $i - $t found a problem (see $OUT/$t.log, inputs in $OUT/artifacts/)"
        grep -E 'ERROR|property failed|SUMMARY|answered|#[0-9]+ 0x' "$OUT/$t.log" | head -25 | sed 's/^/# /'
        failed=1
    fi
done
exit $failed
