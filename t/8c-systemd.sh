#!/usr/bin/env bash
# 8c-systemd: the systemd units in conf/systemd/ for real hosts.
#   - systemd-analyze verify accepts the responder unit (as an instance), the
#     relay's unit and the target;
#   - concert.target wants both instances of every responder group, and
#     each instance name maps (by the unit's own ${0%-*} rule) to a program
#     this build makes;
#   - the unit restarts what dies (Restart=always), stops multiwatch with
#     TERM first (KillMode=mixed) and drops to the user concert;
#   - its socket folder is made at boot (tmpfiles), group www-data for nginx;
#   - every program of the several hosts has a unit that systemd verifies:
#     the responders on a host's address, cron's timer, pg_auto_failover's
#     keeper, Redis and Sentinel; every long-running one restarts what dies;
#   - Redis comes back only after the Sentinels had time to fail over
#     (RestartSec above conf/sentinel.conf's down-after-milliseconds);
#   - the responders on a host's address serve only the balancer's peers
#     (FCGI_WEB_SERVER_ADDRS from their environment file).
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${CONCERT_BUILD:-$PWD}   # make check runs in the build tree
U=$REPO/conf/systemd/concert-responder@.service
T=$REPO/conf/systemd/concert.target
. "$REPO/t/tap.sh"
echo "1..8"

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
D=$REPO/conf/systemd
if command -v systemd-analyze >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    cp "$D/concert-responder-net@.service" "$tmp/concert-responder-net@queue-9002.service"
    cp "$D/concert-cron.service" "$D/concert-cron.timer" "$D/concert-pg-autoctl.service" "$D/concert-redis.service" \
        "$D/concert-sentinel.service" "$tmp/" 2>/dev/null
    check "systemd-analyze verifies the several hosts' units" \
        "$(cd "$tmp" && for u in concert-responder-net@queue-9002.service concert-cron.service concert-cron.timer \
                               concert-pg-autoctl.service concert-redis.service concert-sentinel.service; do
               [ -f "$u" ] || { echo "no $u"; continue; }
               systemd-analyze verify --man=no "$u" 2>&1 |
                   grep -v -E 'Failed to put bus name|Unit .*\.service not found|Cannot add dependency job|Command /usr/(local/)?bin/[a-z_-]+ is not executable'
           done)"
    rm -rf "$tmp"
else
    echo "ok 6 # SKIP systemd-analyze is not installed"
    n=6
fi

check "every long-running program of the several hosts restarts when it dies" \
    "$(for u in concert-responder-net@.service concert-pg-autoctl.service concert-redis.service concert-sentinel.service; do
           grep -q '^Restart=always' "$D/$u" 2>/dev/null || echo "$u: no Restart=always"
       done
       grep -q '^OnCalendar=' "$D/concert-cron.timer" 2>/dev/null || echo 'concert-cron.timer: no OnCalendar')"

down_ms=$(awk '$1 == "sentinel" && $2 == "down-after-milliseconds" {print $4}' "$REPO/conf/sentinel.conf")
restart_s=$(sed -n 's/^RestartSec=\([0-9]*\)$/\1/p' "$D/concert-redis.service" 2>/dev/null)
check "Redis restarts after the Sentinels' down-after (${restart_s:-none} s > ${down_ms:-?} ms), and the responders on a host's address serve the balancer only" \
    "$([ -n "$restart_s" ] && [ -n "$down_ms" ] && [ $((restart_s * 1000)) -gt "$down_ms" ] ||
           echo "RestartSec=${restart_s:-none} is not above down-after-milliseconds ${down_ms:-?}"
       grep -q '^EnvironmentFile=/etc/concert/net.env' "$D/concert-responder-net@.service" 2>/dev/null &&
           grep -q 'FCGI_WEB_SERVER_ADDRS' "$D/concert-responder-net@.service" ||
           echo 'concert-responder-net@: no FCGI_WEB_SERVER_ADDRS from /etc/concert/net.env')"
exit $failed
