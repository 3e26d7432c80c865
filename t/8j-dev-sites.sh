#!/usr/bin/env bash
# 8j-dev-sites: the fronts' sites ./dev renders, and the shape of ./dev.
#   - the single-host nginx site and the several-hosts balancer's come from
#     one renderer (scripts/render-site.awk): the balancer's site has every
#     line of the single-host one (each location, limit, error page) but the
#     lines that must differ (listen, upstreams, the connect timeout, the
#     addresses counted as local), and each upstream on both app hosts;
#   - both sites, and Apache's, keep no path of a real host
#     (/run/concert/, /usr/share/concert/), and nginx reads both as valid;
#   - a site whose directive moved or went away is refused with the reason,
#     never rendered half-way (the balancer's site was once made by sed on
#     literal lines, which silently stopped matching when a line changed);
#   - dev only dispatches: short, no functions of its own, each job script
#     it runs there, executable, with a header saying what it is for and
#     what it reads from the environment.
# Needs no stack: it renders the test stack's sites as ./dev test would.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$REPO" || exit 1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
. t/tap.sh
echo "1..9"

single_rc=0 lb_rc=0 apache_rc=0
scripts/stack.sh site test nginx >"$OUT/single.conf" 2>"$OUT/single.err" || single_rc=$?
ha/stack.sh site test >"$OUT/lb.conf" 2>"$OUT/lb.err" || lb_rc=$?
scripts/stack.sh site test apache >"$OUT/apache.conf" 2>"$OUT/apache.err" || apache_rc=$?
check "the single-host, balancer and Apache sites render" \
    "$([ $single_rc = 0 ] || echo "single host: exit $single_rc: $(cat "$OUT/single.err")"
       [ $lb_rc = 0 ] || echo "balancer: exit $lb_rc: $(cat "$OUT/lb.err")"
       [ $apache_rc = 0 ] || echo "apache: exit $apache_rc: $(cat "$OUT/apache.err")")"

# The lines that differ on purpose between the two nginx sites.
differ='^upstream |^[[:space:]]*listen |^geo \$concert_local |^[[:space:]]*fastcgi_connect_timeout '
grep -vE "$differ" "$OUT/single.conf" >"$OUT/single.same"
grep -vE "$differ" "$OUT/lb.conf" >"$OUT/lb.same"
check "the balancer's site has every line of the single-host site but listen, upstreams, timeout and geo" \
    "$(diff "$OUT/single.same" "$OUT/lb.same" | grep '^[<>]' | head -20)"

count() { grep -cE "$1" "$2"; }
check "both have as many location blocks, limit_req lines and error pages (and some)" \
    "$(for re in '^[[:space:]]*location ' 'limit_req ' '^[[:space:]]*error_page '; do
           s=$(count "$re" "$OUT/single.conf") b=$(count "$re" "$OUT/lb.conf")
           [ "$s" -gt 0 ] && [ "$s" = "$b" ] || echo "/$re/: single host $s, balancer $b"
       done)"

check "each upstream of the single-host site is on the balancer, on both app hosts, with a shared zone" \
    "$(grep -oE '^upstream concert_[a-z_]+' "$OUT/single.conf" | while read -r _ name; do
           line=$(grep -E "^upstream $name " "$OUT/lb.conf")
           [ "$(printf '%s' "$line" | grep -oE 'server [0-9.]+:[0-9]+ ' | wc -l)" = 2 ] &&
               printf '%s' "$line" | grep -q "zone concert_upstream_${name#concert_} " ||
               echo "$name: ${line:-missing}"
       done)"

check "no site keeps a real host's path (/run/concert/, /usr/share/concert/)" \
    "$(grep -HnE '/run/concert/|/usr/share/concert/' "$OUT/single.conf" "$OUT/lb.conf" "$OUT/apache.conf")"

# nginx -t on each, in a folder of its own, as scripts/site.sh wraps them;
# nginx -t binds the listen address, so each listens on a socket of its own
# here (the test stack has the port, and the balancer's address is lb's).
nginx_t() {
    local dir=$OUT/nginx-$1
    mkdir -p "$dir/run" "$dir/log"
    sed "s|^\([[:space:]]*listen\) .*;|\1 unix:$dir/run/listen.sock;|" "$OUT/$1.conf" >"$dir/site.conf"
    ( . scripts/lib.sh; . scripts/site.sh; is_root() { false; }; write_nginx_conf "$dir" "$dir/run" "$dir/log" )
    nginx -t -q -e "$dir/log/error.log" -c "$dir/nginx.conf" -p "$dir" 2>&1 || echo "$1: nginx -t failed"
}
check "nginx reads both sites as valid (nginx -t)" "$(nginx_t single; nginx_t lb)"

# The renderer on a changed copy of the site: AWK ARGS, then the copy.
render_copy() {
    awk -v kind=nginx -v listen=10.0.0.1:8080 -v root="$REPO" -v connect_timeout=300ms \
        -v servers="$(for g in admin queue catalog reservations balance payments accounts; do printf '%s-1=a:1 %s-2=b:1 ' $g $g; done)" \
        -f scripts/render-site.awk "$1" >/dev/null 2>"$OUT/refused.err"
}
refused() {   # refused DESCRIPTION SED: the site changed by SED is refused
    sed -e "$2" conf/nginx/concert.conf >"$OUT/changed.conf"
    if render_copy "$OUT/changed.conf"; then echo "$1: rendered"
    elif ! [ -s "$OUT/refused.err" ]; then echo "$1: refused without a reason"; fi
}
check "a site whose listen, connect timeout or an upstream changed shape is refused with a reason" \
    "$(render_copy conf/nginx/concert.conf || echo "the site itself: refused: $(cat "$OUT/refused.err")"
       refused "no listen" '/^[[:space:]]*listen /d'
       refused "two listens" 's/^\([[:space:]]*\)listen \(.*\)$/\1listen \2\n\1listen 81;/'
       refused "no fastcgi_connect_timeout" '/fastcgi_connect_timeout/d'
       refused "an upstream over two lines" 's/^\(upstream concert_queue *{\)/\1\n/'
       refused "a group without its upstream" '/^upstream concert_payments /d')"

# ./dev dispatches only.
jobs=$(sed -n 's/^.*exec "\$REPO\/\([^"]*\)".*$/\1/p' dev | sort -u)
check "dev is a short dispatcher: under 80 lines, no functions, and runs job scripts" \
    "$([ "$(wc -l <dev)" -lt 80 ] || echo "dev has $(wc -l <dev) lines"
       grep -nE '^[a-z_]+\(\) *\{' dev
       [ -n "$jobs" ] || echo 'no job script found in dev')"
check "each job script is there, executable, and says what it is for and what it reads from the environment" \
    "$(for f in $jobs; do
           [ -x "$f" ] || echo "$f: not an executable file"
           sed -n 2p "$f" | grep -q "^# $f" || echo "$f: no header comment naming it on line 2"
           grep -q '^# Reads from the environment' "$f" || echo "$f: does not say what it reads from the environment"
       done)"
exit $failed
