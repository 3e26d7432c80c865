#!/usr/bin/env bash
# 8e-dev-packages: each ./dev command asks for its own Debian packages
# (`./dev packages CMD` prints the list it checks and, as root, installs).
#   - `up` needs the build and the stack only: no Chromium, clang, valgrind
#     or wrk, so a plain user with the runtime and build packages can start
#     the stack;
#   - `fuzz` adds clang and its libFuzzer runtime, `bench` adds wrk, and
#     neither needs the browser or valgrind;
#   - `test` needs everything: its suite builds the fuzz targets (t/85),
#     runs a short benchmark (t/8d), the leak check under valgrind (t/88),
#     Chromium for the booking page, and prove;
#   - an unknown command is refused.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
. "$REPO/t/tap.sh"
# lacking LIST WANTED...: the WANTED names LIST does not hold.
lacking() {
    local list=$1 w
    shift
    for w in "$@"; do printf '%s\n' "$list" | grep -qx -- "$w" || echo "no $w"; done
}
echo "1..6"

# A failing ./dev gives an empty list, which then lacks everything.
list() { "$REPO/dev" packages "$1" 2>/dev/null || true; }
up=$(list up)
fuzz=$(list fuzz)
bench=$(list bench)
test=$(list test)

check "./dev packages up lists the build and the stack" \
    "$(lacking "$up" gcc autoconf automake libfcgi-dev libpq-dev postgresql redis-server nginx apache2 spawn-fcgi multiwatch curl)"

check "up needs no Chromium, clang, valgrind or wrk" \
    "$([ -n "$up" ] || echo 'no list'; printf '%s\n' "$up" | grep -E '^(chromium.*|clang.*|libclang.*|valgrind|wrk|fonts-noto-cjk|nodejs|npm)$')"

check "fuzz adds clang and libFuzzer's runtime to up, and no browser, valgrind or wrk" \
    "$(lacking "$fuzz" $up clang libclang-rt-14-dev)$(printf '%s\n' "$fuzz" | grep -E '^(chromium.*|valgrind|wrk)$')"

check "bench adds wrk to up, and no browser, clang or valgrind" \
    "$(lacking "$bench" $up wrk)$(printf '%s\n' "$bench" | grep -E '^(chromium.*|clang.*|valgrind)$')"

check "test needs all that up, fuzz and bench need, with valgrind, Chromium, CJK fonts, prove and promtool (prometheus)" \
    "$(lacking "$test" $up $fuzz $bench valgrind chromium fonts-noto-cjk perl prometheus)"

out=$("$REPO/dev" packages nonsense 2>&1)
rc=$?
check "an unknown command is refused" \
    "$([ $rc != 0 ] && printf '%s' "$out" | grep -q usage || echo "exit $rc: $out")"
exit $failed
