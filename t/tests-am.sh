#!/bin/sh
# tests-am.sh - writes t/tests.am, the part of Makefile.am that registers
# the tests, from the files in t/: every t/NN-name.c is the check program
# t/NN-name.t, linked with the test library; every t/NN-name.sh is a test
# script; every t/lua/NAME.lua a script the tests run (shipped, not built).
# NN is two characters of 0-9 and a-z (t/README). Automake must know each
# program by name, so the list is written out and committed; `make check`
# stops when it no longer matches t/.
#
#   t/tests-am.sh           rewrite t/tests.am
#   t/tests-am.sh --check   only say whether t/tests.am is up to date
set -eu
export LC_ALL=C   # one order on every machine: 29 before 2b
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

generate() {
    echo "# tests.am - made by t/tests-am.sh from the files in t/; do not edit."
    echo "# Included by Makefile.am. Run t/tests-am.sh after adding or removing a test."
    echo
    printf 'TEST_HEADER_FILES ='
    for f in t/*.h; do printf ' \\\n\t%s' "$f"; done
    echo
    echo
    printf 'TEST_LUA_FILES ='
    for f in t/lua/*.lua; do printf ' \\\n\t%s' "$f"; done
    echo
    echo
    printf 'dist_check_SCRIPTS ='
    for f in t/[0-9a-z][0-9a-z]-*.sh; do printf ' \\\n\t%s' "$f"; done
    echo
    echo
    printf 'check_PROGRAMS ='
    for f in t/[0-9a-z][0-9a-z]-*.c; do printf ' \\\n\t%s' "${f%.c}.t"; done
    echo
    for f in t/[0-9a-z][0-9a-z]-*.c; do
        # Automake's canonical name: every character not a letter, digit or
        # underscore becomes an underscore.
        canon=$(printf '%s' "${f%.c}.t" | tr -c 'A-Za-z0-9_' '_')
        echo
        echo "${canon}_SOURCES = $f"
        echo "${canon}_CFLAGS = \$(TEST_CFLAGS)"
        echo "${canon}_LDADD = \$(TEST_LIBS)"
    done
}

case ${1:-} in
--check)
    if generate | cmp -s - t/tests.am; then
        exit 0
    fi
    echo "t/tests.am does not match the tests in t/: run t/tests-am.sh (and commit t/tests.am)" >&2
    exit 1
    ;;
'')
    generate >t/tests.am.tmp
    mv t/tests.am.tmp t/tests.am
    ;;
*)
    echo "usage: t/tests-am.sh [--check]" >&2
    exit 2
    ;;
esac
