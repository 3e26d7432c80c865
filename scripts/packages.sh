#!/usr/bin/env bash
# scripts/packages.sh CMD - `./dev packages CMD`: the Debian 12 packages the
# ./dev command CMD (up, test, bench, fuzz, ha, kafka) needs, one a line. The one
# list of them: scripts/lib.sh's ensure_packages checks (and as root
# installs) what this prints.
#
# Reads from the environment: nothing (PATH only: whether Node.js is there).
set -euo pipefail

# up: the build and the stack (setfacl from acl, pkill from procps).
PACKAGES_UP="gcc make autoconf automake pkg-config libfcgi-dev libhiredis-dev libjson-c-dev
libpq-dev libcurl4-openssl-dev libsodium-dev librdkafka-dev postgresql redis-server nginx apache2 spawn-fcgi multiwatch
curl acl procps"
# fuzz: clang with libFuzzer and the sanitizer runtimes (Debian 12: LLVM 14).
PACKAGES_FUZZ="clang libclang-rt-14-dev"
# bench: the HTTP load generator.
PACKAGES_BENCH="wrk"
# test: prove (perl); valgrind for the leak check; the booking page's browser
# test, Debian's Chromium driven by playwright-core (package.json), with CJK
# fonts so the Korean page renders in screenshots, and promtool (Debian's
# prometheus) to check the metrics' format, and pg_auto_failover for the
# PostgreSQL failover story (t/2h). The suite also builds the fuzz targets
# (t/85) and runs a short benchmark (t/8d): fuzz's and bench's packages come
# with it.
# kafka: the broker's JVM and Maven to fetch it (kafka/broker.sh), kcat to
# see that it answers (and for the tests to read the topics).
PACKAGES_KAFKA="openjdk-17-jre-headless maven kcat"
PACKAGES_TEST="perl valgrind chromium fonts-noto-cjk prometheus postgresql-15-auto-failover pg-auto-failover-cli"
# ha: the several-hosts stack (ha/stack.sh) beyond up's.
PACKAGES_HA="postgresql-15-auto-failover pg-auto-failover-cli nftables iproute2"

case ${1:-} in
up) list=$PACKAGES_UP ;;
fuzz) list="$PACKAGES_UP $PACKAGES_FUZZ" ;;
bench) list="$PACKAGES_UP $PACKAGES_BENCH" ;;
test)
    list="$PACKAGES_UP $PACKAGES_TEST $PACKAGES_FUZZ $PACKAGES_BENCH $PACKAGES_HA $PACKAGES_KAFKA"
    # Node.js from Debian unless the machine already has one.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        list="$list nodejs npm"
    fi
    ;;
ha) list="$PACKAGES_UP $PACKAGES_HA" ;;
kafka) list="$PACKAGES_UP $PACKAGES_KAFKA" ;;
*) printf 'dev: %s\n' "usage: ./dev packages up|test|bench|fuzz|ha|kafka" >&2; exit 1 ;;
esac
[ $# = 1 ] || { printf 'dev: %s\n' "usage: ./dev packages up|test|bench|fuzz|ha|kafka" >&2; exit 1; }
# shellcheck disable=SC2086  # one package a word
printf '%s\n' $list
