# t/tap.sh - TAP for the script tests (t/NN-name.sh), sourced: tap.h's
# counterpart. check DESCRIPTION PROBLEMS prints "ok N - DESCRIPTION" when
# PROBLEMS (the offending lines a test found) is empty, else "not ok N"
# and PROBLEMS as "#" lines; a test ends with `exit $failed`.
# shellcheck shell=bash
n=0
failed=0
check() {
    n=$((n + 1))
    if [ -z "$2" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        printf '%s\n' "$2" | sed 's/^/#   /'
        failed=1
    fi
}
