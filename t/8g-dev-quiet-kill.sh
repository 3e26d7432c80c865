#!/usr/bin/env bash
# 8g-dev-quiet-kill: a server ./dev started in the background and that is
# then killed with -9 (a fault test does it to a responder's multiwatch, a
# stop does it to what ignored TERM) is not reported by ./dev's own shell.
# Bash reports a killed job as "./dev: line N: PID Killed setpriv ...",
# which in a run that passed reads as a crash. Runs as_app_bg (the job
# scripts' own, from scripts/lib.sh) in a shell set up as theirs is, starts
# a server-like process with it, kills it with -9 and reads what the shell
# printed.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
echo "1..2"

# The functions as they are (not a copy): is_root and as_app_bg.
functions=$(sed -n -e '/^is_root()/p' -e '/^as_app_bg() {/,/^}/p' "$REPO/scripts/lib.sh")
if printf '%s\n' "$functions" | grep -q '^as_app_bg() {'; then
    echo "ok 1 - scripts/lib.sh defines as_app_bg"
else
    echo "not ok 1 - scripts/lib.sh defines as_app_bg"
fi

# As root as_app_bg runs the process as the app user, as ./dev test does.
said=$(bash -c "set -euo pipefail
APP_USER=concert
VAR=/tmp
$functions
as_app_bg sleep 30 </dev/null >/dev/null
pid=\$!
kill -KILL \"\$pid\"
sleep 0.5
echo still running" 2>&1)
if [ "$said" = "still running" ]; then
    echo "ok 2 - a background server killed with -9 goes unreported"
else
    echo "not ok 2 - a background server killed with -9 goes unreported"
    printf '%s\n' "$said" | sed 's/^/#   /'
fi
