#!/usr/bin/env bash
# 8c-systemd: the systemd units in conf/systemd/ for real hosts.
#   - systemd-analyze verify accepts the responder unit (as an instance), the
#     relay's unit and the target;
#   - concert.target wants both instances of every responder group, and
#     each instance name maps (by the unit's own ${0%-*} rule) to a program
#     this build makes;
#   - the unit restarts what dies (Restart=always), stops multiwatch with
#     TERM first (KillMode=mixed) and drops to the user concert;
#   - its socket folder is made at boot (tmpfiles), group www-data for nginx.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${CONCERT_BUILD:-$PWD}   # make check runs in the build tree
U=$REPO/conf/systemd/concert-responder@.service
T=$REPO/conf/systemd/concert.target
n=0
failed=0
check() {
    n=$((n + 1))
    if [ -z "$2" ]; then echo "ok $n - $1"; else
        echo "not ok $n - $1"; printf '%s\n' "$2" | sed 's/^/#   /'; failed=1; fi
}
echo "1..5"

if command -v systemd-analyze >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    cp "$U" "$tmp/concert-responder@queue-1.service"
    cp "$T" "$REPO/conf/systemd/concert-relay.service" "$tmp/"
    check "systemd-analyze verify accepts the units" \
        "$(cd "$tmp" && systemd-analyze verify --man=no concert-responder@queue-1.service concert-relay.service concert.target 2>&1 |
           grep -v -E 'Failed to put bus name|Unit .*\.service not found|Cannot add dependency job|Command /usr/local/bin/concert-[a-z]+ is not executable' )"
    rm -rf "$tmp"
else
    echo "ok 1 # SKIP systemd-analyze is not installed"
    n=1
fi

bad=
for g in admin queue catalog reservations balance payments accounts; do
    for i in 1 2; do
        grep -q "concert-responder@$g-$i.service" "$T" || bad="$bad
concert.target does not want concert-responder@$g-$i"
        # The unit's own rule: the program is concert-${0%-*} of the instance name.
        prog=$(sh -c 'echo "concert-${0%-*}"' "$g-$i")
        [ -x "$BUILD/fcgi/$prog" ] || bad="$bad
instance $g-$i names $prog, which the build does not make"
    done
done
check "concert.target starts two instances of each group, each naming a built responder" "$bad"

check "the unit restarts what dies and stops multiwatch with TERM first" \
    "$(grep -q '^Restart=always' "$U" || echo 'no Restart=always'; grep -q '^KillMode=mixed' "$U" || echo 'no KillMode=mixed')"

check "spawn-fcgi drops to concert, the socket is concert:www-data 0660, no new privileges" \
    "$(grep -qE 'spawn-fcgi .*-M 0660 -U concert -G www-data -u concert -g concert' "$U" || echo 'ExecStart does not drop to concert';
       grep -q '^NoNewPrivileges=yes' "$U" || echo 'no NoNewPrivileges=yes')"

check "the socket folder is made at boot for concert and nginx's group" \
    "$(grep -qE '^d /run/concert 0750 concert www-data' "$REPO/conf/systemd/concert.tmpfiles.conf" || echo 'no tmpfiles line')"
exit $failed
