# scripts/lib.sh - what every job script of ./dev shares (sourced, never
# run): the checkout's paths, the app user and the responder groups,
# messages, port numbers, running as the app user, waiting for and stopping
# processes, the exit trap, installing Debian packages and the build.
#
# Reads from the environment: CONCERT_BUILD_DIR (the build folder, build/
# by default), CONCERT_CONFIGURE_FLAGS (extra ./configure flags).
# Sets: REPO, APP_USER, BUILD, GROUPS_ALL, INSTANCES.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_USER=concert
# Out-of-tree build, so a sanitizer build can sit beside the normal one.
BUILD=${CONCERT_BUILD_DIR:-$REPO/build}
GROUPS_ALL="admin queue catalog reservations balance payments accounts"
INSTANCES=2   # per group: conf/nginx and conf/apache name two sockets each

say() { printf '==> %s\n' "$*"; }
die() { printf 'dev: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# port_number NAME VALUE [LOWEST]: VALUE, when it is a port from LOWEST
# (1024: the servers do not run as root) to 65534 (Apache may take the next).
port_number() {
    local lowest=${3:-1024}
    case $2 in ""|*[!0-9]*|0*) die "$1 must be a port number, not '$2'" ;; esac
    [ "${#2}" -le 5 ] && [ "$2" -ge "$lowest" ] && [ "$2" -le 65534 ] ||
        die "$1 must be from $lowest to 65534, not $2"
    echo "$2"
}

# Runs a command as the unprivileged app user (root) or as ourselves, with
# HOME in $VAR (the stack's folder, set by the caller's profile).
# setpriv execs in place (no fork), so the pid we record is the server's own.
# as_app_bg starts "$@" in the background the same way and leaves its pid in
# $! (calling as_app with & would leave the pid of a bash subshell instead).
# The server is disowned: it is stopped through its pid file, never waited
# for as a job, and bash would otherwise report one that a test or a stop
# killed with -9 ("./dev: line N: PID Killed setpriv ..."), which reads as
# a crash of ./dev in a run that passed.
as_app_bg() {
    if is_root; then
        setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups env HOME="$VAR" "$@" & disown
    else
        "$@" & disown
    fi
}

as_app() {
    if is_root; then
        setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups env HOME="$VAR" "$@"
    else
        "$@"
    fi
}

# The newest PostgreSQL's server programs. (Returns with a status of its own:
# a bare `return` in an exit trap would return the status the trap began
# with, and a stop after a failure would skip PostgreSQL.)
pg_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/postgres" ] && { echo "$d"; return 0; }
    done
    return 1
}

# job_main FUNCTION ARGS...: a job script run (not sourced) runs FUNCTION
# with ARGS from the top of the checkout, strict: each job script ends with
#   [ "${BASH_SOURCE[0]}" != "$0" ] || job_main cmd_NAME "$@"
job_main() {
    set -euo pipefail
    cd "$REPO"
    "$@"
}

# --- processes -----------------------------------------------------------------

# A process is running when it exists and is not a zombie waiting for its
# parent (init may be slow to reap what ./dev started).
running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
pid_alive() { [ -f "$1" ] && running "$(cat "$1")"; }

# Every stop finishes, whatever is or is not running: under set -e a pkill
# that finds nothing, a kill of a process that has just exited, or a wait for
# a job that failed would end ./dev half-way and leave the rest running. So
# none of them may decide the outcome here.

# session_alive SID: a process of session SID still runs (zombies aside).
session_alive() {
    local p
    for p in $(pgrep -s "$1" 2>/dev/null); do
        if running "$p"; then return 0; fi
    done
    return 1
}

# stop_pidfile FILE SIGNAL [-g]: signals the process and waits for it. With
# -g the process leads a session (setsid): what is left of the session after
# it exits (a cron loop's sleep, responders still finishing) is ended too and
# waited for, and whatever outlives ten seconds is killed. A multiwatch
# leader is signalled alone: it hands the signal on to its children and does
# not restart them, whereas signalling them too would let it restart some
# before it heard.
stop_pidfile() {
    local f=$1 sig=$2 group=${3:-} pid i
    pid=$(cat "$f" 2>/dev/null) || return 0
    # Only a pid of its own: 0 would be our own process group or session.
    case $pid in ""|*[!0-9]*|0|1) rm -f "$f"; return 0 ;; esac
    if running "$pid"; then
        kill "$sig" "$pid" 2>/dev/null || true
        for i in $(seq 100); do running "$pid" || break; sleep 0.1; done
        if running "$pid"; then
            if [ "$group" = -g ]; then pkill -KILL -s "$pid" 2>/dev/null || true; fi
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if [ "$group" = -g ] && session_alive "$pid"; then
        pkill -TERM -s "$pid" 2>/dev/null || true
        for i in $(seq 100); do session_alive "$pid" || break; sleep 0.1; done
        if session_alive "$pid"; then pkill -KILL -s "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
}

# wait_healthy URL: until the front at URL answers /healthz (10 s at most).
wait_healthy() {
    local i
    for i in $(seq 100); do
        curl -fsS "$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    curl -sS "$1/healthz" || true
    die "the stack did not become healthy at $1"
}

# on_exit COMMANDS: runs COMMANDS when this script ends, however it ends: an
# error, an exit, or INT, TERM or HUP. A signal that comes while they run must
# not cut them short, since they are what stops the servers: timeout(1)
# signals its child and then the child's whole process group, so a second
# TERM often lands just after the first (and Ctrl-C is pressed twice).
on_exit() {
    # shellcheck disable=SC2064  # the commands are fixed now, on purpose
    trap "trap '' INT TERM HUP; set +e; $1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# Ends what on_exit set: the script now ends without running it.
on_exit_clear() {
    trap - EXIT INT TERM HUP
}

# A plain login's soft limit on open files (often 1024) is below what the
# servers are set up for (nginx: 4096 connections, two files each when
# proxied): they inherit the hard limit instead, up to 65536.
raise_open_files() {
    local soft hard
    soft=$(ulimit -Sn)
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
    if [ "$soft" != unlimited ] && [ "$soft" -lt "$hard" ]; then
        ulimit -Sn "$hard" 2>/dev/null || true
    fi
}

# --- installing ------------------------------------------------------------------

missing_packages() {
    local p missing=
    for p in $("$REPO/scripts/packages.sh" "$1"); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing="$missing $p"
    done
    echo "$missing"
}

# ensure_packages CMD: what CMD needs (scripts/packages.sh) is there,
# installed now when we are root.
ensure_packages() {
    local missing
    missing=$(missing_packages "$1")
    [ -z "$missing" ] && return 0
    if ! is_root; then
        die "./dev $1 needs Debian packages that are missing:$missing
    install them as root:  apt-get install$missing
    (or run ./dev as root, which installs them)"
    fi
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

ensure_app_user() {
    is_root || return 0
    id -u "$APP_USER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$APP_USER"
    # The servers run as $APP_USER and must reach the checkout: grant it
    # passage (execute only) through any parent folder that denies it.
    local d=$REPO
    while [ "$d" != / ]; do
        if ! setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups test -x "$d" 2>/dev/null; then
            setfacl -m "u:$APP_USER:x" "$d"
        fi
        d=$(dirname "$d")
    done
}

# --- building ----------------------------------------------------------------------

build() {
    (
        cd "$REPO"
        if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
            say "autoreconf"
            autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
        fi
        # An in-tree configure would stop the out-of-tree one.
        [ -f config.status ] && make -s distclean >/dev/null 2>&1
        mkdir -p "$BUILD"
        if [ ! -f "$BUILD/Makefile" ] || [ configure -nt "$BUILD/Makefile" ]; then
            say "configure ($BUILD)"
            (cd "$BUILD" && "$REPO/configure" -q ${CONCERT_CONFIGURE_FLAGS:-})
        fi
        say "make"
        make -C "$BUILD" -s -j"$(nproc)" >/dev/null
    )
}
