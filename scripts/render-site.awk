# scripts/render-site.awk - renders a real host's site, conf/nginx/concert.conf
# or conf/apache/concert.conf, for a stack ./dev runs: the single-host stacks
# (sockets under their run folder) and the several-hosts stack's balancer
# (each group's instances on the app hosts). scripts/site.sh runs it; both
# kinds of stack go through this one program, so the balancer's site is
# the single-host one but for the addresses and options given here.
#
# Every rewrite is of a directive by its name, and each must find what it
# rewrites: a site whose directive moved, split or went away is refused
# (exit 1, the reason on stderr), never rendered half-way.
#
# Variables (awk -v):
#   kind            nginx or apache
#   listen          ADDR:PORT the site listens on
#   root            the checkout: /usr/share/concert/ becomes ROOT/
#   run             the run folder: /run/concert/ becomes RUN/ (Apache's
#                   balancer members); empty for the balancer
#   servers         "GROUP-N=ADDRESS ...": each upstream server's address
#                   (every one must be used, and every server have one)
#   server_opts     options for every upstream server instead of the site's
#   zone            1: each upstream gets a shared zone (its state seen by
#                   every worker)
#   connect_timeout fastcgi_connect_timeout's value instead of the site's
#   local_net       one more address block counted as this host's (geo
#                   $concert_local: exempt from the per-address limits)
#   extra           "GROUP=PATH ...": an upstream for GROUP (the queue's,
#                   with GROUP's servers) and `location = PATH` passing to it

function fail(msg) {
    printf "render-site: %s: %s\n", FILENAME, msg > "/dev/stderr"
    errors++
}

# upstream_line(line, as_group): the nginx upstream LINE (one line, in the
# site's form) for group AS_GROUP: each `server unix:/run/concert/G-N.sock
# OPTS;` becomes the address of AS_GROUP-N.
function upstream_line(line, as_group,    rest, s, inst, opts, body, n) {
    body = zone ? "zone concert_upstream_" as_group " 64k; " : ""
    rest = line
    n = 0
    while (match(rest, /server unix:\/run\/concert\/[a-z_]+-[0-9]+\.sock[^;]*;/)) {
        s = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
        match(s, /-[0-9]+\.sock/)
        inst = as_group substr(s, RSTART, RLENGTH - 5)
        opts = s
        sub(/^server unix:\/run\/concert\/[a-z_]+-[0-9]+\.sock */, "", opts)
        sub(/ *;$/, "", opts)
        if (server_opts != "") opts = server_opts
        if (!(inst in addr)) { fail("line " FNR ": no address for " inst); continue }
        used[inst] = 1
        body = body "server " addr[inst] (opts != "" ? " " opts : "") "; "
        n++
    }
    if (n == 0) fail("line " FNR ": an upstream with no server unix:/run/concert/GROUP-N.sock")
    return "upstream concert_" as_group " { " body "}"
}

BEGIN {
    if (kind != "nginx" && kind != "apache") { fail("kind must be nginx or apache"); exit }
    if (listen == "" || root == "") { fail("listen and root are needed"); exit }
    n = split(servers, pairs, " ")
    for (i = 1; i <= n; i++) {
        split(pairs[i], kv, "=")
        addr[kv[1]] = kv[2]
    }
    n_extra = split(extra, extras, " ")
    for (i = 1; i <= n_extra; i++) {
        split(extras[i], kv, "=")
        extra_group[i] = kv[1]
        extra_path[i] = kv[2]
    }
    site = ARGV[1]
    if (index(site, root "/") == 1) site = substr(site, length(root) + 2)
    printf "# Rendered by ./dev (scripts/site.sh) from %s: edit that file instead.\n", site
}

# Paths of a real host become the stack's, in every line (an upstream is
# read from the line as the site has it).
{
    site_line = $0
    gsub(/\/usr\/share\/concert\//, root "/")
    if (run != "") gsub(/\/run\/concert\//, run "/")
}

kind == "nginx" && /^[ \t]*upstream[ \t]/ {
    if ($0 !~ /^upstream concert_[a-z_]+ +\{.*\}[ \t]*$/) {
        fail("line " FNR ": an upstream not on one line as `upstream concert_GROUP { server ...; }`")
        next
    }
    match($0, /concert_[a-z_]+/)
    group = substr($0, RSTART + 8, RLENGTH - 8)
    print upstream_line(site_line, group)
    if (group == "queue")
        for (i = 1; i <= n_extra; i++) print upstream_line(site_line, extra_group[i])
    upstreams++
    next
}

kind == "nginx" && /^[ \t]*listen[ \t]/ {
    print "    listen " listen ";"
    listens++
    next
}

kind == "apache" && /^[ \t]*<VirtualHost[ \t]/ {
    print "<VirtualHost " listen ">"
    listens++
    next
}

kind == "nginx" && connect_timeout != "" && /^[ \t]*fastcgi_connect_timeout[ \t]/ {
    print "    fastcgi_connect_timeout " connect_timeout ";"
    timeouts++
    next
}

kind == "nginx" && local_net != "" && /^geo \$concert_local / {
    if (!sub(/ *\}[ \t]*$/, " " local_net " 1; }")) fail("line " FNR ": geo $concert_local not on one line")
    geos++
    print
    next
}

kind == "nginx" && n_extra > 0 && /^[ \t]*server_name[ \t]/ {
    print
    for (i = 1; i <= n_extra; i++)
        printf "    location = %s { include fastcgi_params; fastcgi_pass concert_%s; }\n", extra_path[i], extra_group[i]
    server_names++
    next
}

# A socket path left is one the stack has no folder for.
/\/run\/concert\// { fail("line " FNR ": /run/concert/ outside an upstream, and no run folder to put it in") }

{ print }

END {
    if (errors && !FILENAME) exit 1
    if (listens != 1) fail((kind == "nginx" ? "listen" : "<VirtualHost") " found " listens + 0 " times, not once")
    if (kind == "nginx" && upstreams == 0) fail("no upstream concert_GROUP found")
    if (connect_timeout != "" && timeouts != 1) fail("fastcgi_connect_timeout found " timeouts + 0 " times, not once")
    if (local_net != "" && geos != 1) fail("geo $concert_local found " geos + 0 " times, not once")
    if (n_extra > 0 && server_names != 1) fail("server_name found " server_names + 0 " times, not once")
    if (kind == "nginx")
        for (inst in addr) if (!(inst in used)) fail("no upstream server for " inst " (a group the site lacks)")
    exit errors > 0
}
