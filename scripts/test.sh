#!/usr/bin/env bash
# scripts/test.sh - `./dev test [--ha] [--faults] [--sanitize] [--no-browser]
# [t/NN-name.c ...]`: the test stack (scripts/stack.sh's `test` profile) on
# its own ports and data, then every test through prove, behind nginx and
# then Apache, and the browser test; the stack is stopped after, however
# the run ends. --ha hands over to ha/stack.sh (the several-hosts stack and
# its stories), --sanitize to t/sanitize.sh's build and report.
#
# Reads from the environment: CONCERT_TEST_PORT, CONCERT_CHILDREN (through
# `profile test`), CONCERT_FRONT (apache: named tests behind Apache), and
# scripts/lib.sh's CONCERT_BUILD_DIR, CONCERT_CONFIGURE_FLAGS. Gives the
# tests CONCERT_BASE_URL, CONCERT_FRONT_NAME, CONCERT_FAULTS and the
# stack's environment (scripts/stack.sh's test_env).
# shellcheck shell=bash

. "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
. "$REPO/t/sanitize.sh"

# playwright-core from package-lock.json (no browser download: it drives
# Debian's Chromium).
browser_setup() {
    if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules ]; then
        npm ci --silent --no-audit --no-fund >/dev/null && touch node_modules
    fi
}

cmd_test() {
    local faults=0 browser=1 sanitize=0 arg only= ha=0
    for arg in "$@"; do
        case $arg in
        --ha) ha=1 ;;
        --faults) faults=1 ;;
        --browser) browser=1 ;;
        --no-browser) browser=0 ;;
        --sanitize) sanitize=1 ;;
        t/*.c) only="$only ${arg%.c}.t" ;;
        t/*.sh) only="$only $arg" ;;
        *) die "usage: ./dev test [--ha] [--faults] [--sanitize] [--no-browser] [t/NN-name.c ...]" ;;
        esac
    done
    if [ $ha = 1 ]; then
        [ $sanitize = 0 ] || die "--ha and --sanitize are separate runs"
        # shellcheck disable=SC2086  # the tests are words
        exec "$REPO/ha/stack.sh" test $only
    fi
    # Named test files: only those, behind nginx (Apache with
    # CONCERT_FRONT=apache), and no browser test.
    [ -n "$only" ] && browser=0
    profile test
    ensure_packages test
    # The whole suite, or named events tests (t/9*), run with a Kafka broker;
    # the relay then publishes there as well.
    KAFKA=0
    if [ -z "$only" ] || printf '%s\n' $only | grep -q '^t/9'; then KAFKA=1; fi
    # --sanitize: own build folder, sanitizer settings for the servers.
    [ $sanitize = 1 ] && sanitize_setup
    # --faults: the slow fault tests run too (they skip themselves otherwise).
    export CONCERT_FAULTS=$faults
    stop_ha_stack   # a several-hosts test stack left running shares the folder
    stop_all
    stack_gone || die "the test stack at $VAR did not stop; not starting another over it"
    rm -rf "$VAR"
    on_exit 'profile test; stop_all'
    start_stack
    test_env
    [ $sanitize = 1 ] && sanitizer_env_tests
    local rc=0
    say "tests behind nginx (http://127.0.0.1:$FRONT_PORT)"
    if [ -n "$only" ] && [ "${CONCERT_FRONT:-nginx}" = apache ]; then
        say "named tests behind Apache (http://127.0.0.1:$APACHE_PORT)"
        CONCERT_BASE_URL="http://127.0.0.1:$APACHE_PORT" CONCERT_FRONT_NAME=apache \
            make -C "$BUILD" -s check PROVE_TESTS="$only" || rc=1
    elif [ -n "$only" ]; then
        CONCERT_BASE_URL="http://127.0.0.1:$FRONT_PORT" CONCERT_FRONT_NAME=nginx \
            make -C "$BUILD" -s check PROVE_TESTS="$only" || rc=1
    else
        CONCERT_BASE_URL="http://127.0.0.1:$FRONT_PORT" CONCERT_FRONT_NAME=nginx \
            make -C "$BUILD" -s check || rc=1
        # Not t/2g, t/2h, t/2q, t/2r, t/2n and t/2o: they test the clients against
        # servers of their own (Sentinel, pg_auto_failover, the cluster and
        # its own front), whatever the front.
        say "HTTP tests behind Apache (http://127.0.0.1:$APACHE_PORT)"
        CONCERT_BASE_URL="http://127.0.0.1:$APACHE_PORT" CONCERT_FRONT_NAME=apache \
            make -C "$BUILD" -s check PROVE_TESTS="$(ls t/[1-7]*.c 2>/dev/null | grep -v -e '^t/2g-' -e '^t/2h-' -e '^t/2q-' -e '^t/2r-' -e '^t/2n-' -e '^t/2o-' |
                sed 's/\.c$/.t/' | tr '\n' ' ')" || rc=1
    fi
    if [ $browser = 1 ]; then
        say "browser tests (headless Chromium, http://127.0.0.1:$FRONT_PORT)"
        browser_setup || rc=1
        CONCERT_BASE_URL="http://127.0.0.1:$FRONT_PORT" prove --exec '' --merge --timer t/browser/run || rc=1
    fi
    if [ $sanitize = 1 ]; then
        stop_all
        sanitize_report || rc=1
    fi
    [ $rc = 0 ] && echo "dev test: all passed" || echo "dev test: FAILED"
    return $rc
}

[ "${BASH_SOURCE[0]}" != "$0" ] || job_main cmd_test "$@"
