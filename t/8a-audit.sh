#!/usr/bin/env bash
# 8a-audit: source audits for the security basics, over the C sources
# (fcgi/, shared/, cron/, relay/, events/) and the SQL (sql/0*.sql migrations, sql/functions.sql):
#   - nothing is built into SQL from input: libpq's statement calls appear
#     only in shared/db.c, which sends parameters separately; every statement
#     db_query or db_query_on runs is a static const char array (or a
#     parameter holding one); no printf-style format or strcat builds SQL
#     text; no dynamic SQL (EXECUTE) in plpgsql;
#   - the admin key is compared only with constant_time_equal, never with
#     strcmp/strncmp/memcmp;
#   - no log call is passed the admin key, a token, an Authorization or
#     Idempotency-Key header or a request body;
# and that each rule the contract fixes has one home a language, the copies
# other languages must keep equal to it (each fails when a copy differs):
#   - a concert's settings' bounds: shared/contract_limits.h (which the
#     admin API and the config file use) = the SQL CHECKs (the last one a
#     column has in the migrations, in order) = docs/api.md's table;
#   - the per-user seat limit: shared/contract_limits.h = SQL's
#     seats_per_user_max() = the booking page's MAX_SEATS and its HOLD_LIMIT
#     message;
#   - when a hold has run out: SQL's hold_ran_out (which every statement,
#     the cron program's included, calls) = the seat map's Lua = the
#     booking page's JavaScript;
#   - the retention period: shared/contract_limits.h = SQL's
#     retention_period() = the queue events' stream trimming in Lua;
#   - RFC 3339 text: shared/utc.c = SQL's utc_text and utc_text_ms = the
#     queue events' Lua;
#   - the body limit: shared/http.h = nginx's and Apache's.
# The Lua is read in shared/lua/ (and in C files, where none may be).
#   - no C source or header holds Lua: every script is a file of shared/lua/
#     (turned into C at build time), and Makefile.am lists each of them;
#   - nor does any tracked C file elsewhere, the tests' included: a test's
#     script is a file of t/lua/, read by t_redis_eval_file.
# And HTTP only at the edge (issue 23):
#   - no file of the domain layer (shared/ but the edge) includes an edge
#     header or calls http_*: it returns outcomes, and the edge (the request
#     layer, guard.c, answer.c, the programs' main files) answers;
#   - the request bodies' parse (json_body) includes nothing of http.h.
# Each check prints the offending lines when it fails.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$REPO" || exit 1
SRC="fcgi shared cron relay events"
. t/tap.sh
echo "1..19"

# The relay's connection (it LISTENs, runs transactions) is a db.c context too.
check "libpq statements are sent only by shared/db.c (parameters apart)" \
    "$(grep -rnE '\bPQ(exec|execParams|prepare|sendQuery|sendQueryParams|sendPrepare)\s*\(' $SRC --include='*.c' |
       grep -v '^shared/db\.c:')"

# Every db_query(X, ...) and db_query_on(context, X, ...): X is a static
# const char array of that file, or a parameter of the function it is in,
# and then every call of that function, in any file, passes a static const
# char array of the caller's file there.
bad=$(perl -e '
    my %src;
    for my $f (@ARGV) { local $/; open my $h, "<", $f or next; $src{$f} = <$h>; }
    sub static_in { my ($f, $n) = @_; return $src{$f} =~ /static const char \Q$n\E\[\]\s*=/; }
    for my $f (sort keys %src) {
        next if $f eq "shared/db.c";
        my @lines = split /\n/, $src{$f};
        my $fn; my @params;
        for my $i (0 .. $#lines) {
            if ($lines[$i] =~ /^[a-z][\w\s\*]*?\b(\w+)\(([^)]*)\)\s*$/) { $fn = $1; @params = map { s/^\s+|\s+$//gr } split /,/, $2; }
            while ($lines[$i] =~ /\bdb_query(?:\(|_on\(\w+,\s*)(\w+)/g) {
                my $n = $1;
                next if static_in($f, $n);
                my ($pos) = grep { $params[$_] =~ /\bconst char \*\s*\Q$n\E$/ } 0 .. $#params;
                if (!defined $pos) { print "$f:", $i + 1, ": db_query($n ...) is not a static statement\n"; next; }
                my $calls = 0;
                for my $g (keys %src) {
                    while ($src{$g} =~ /\b\Q$fn\E\(([^;{]*?)\);/g) {
                        my @args = map { s/^\s+|\s+$//gr } split /,/, $1;
                        $calls++;
                        print "$g: $fn(...) passes \"$args[$pos]\" as a statement\n"
                            unless defined $args[$pos] && $args[$pos] =~ /^\w+$/ && static_in($g, $args[$pos]);
                    }
                }
                print "$f:", $i + 1, ": $fn is never called\n" unless $calls;
            }
        }
    }' $(find $SRC -name '*.c' | sort))
check "every statement db_query (db_query_on) runs is a static const char array" "$bad"

check "no printf-style format or strcat builds SQL text" \
    "$(grep -rnE '(printf|strcat|strcpy)\s*\(.*"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE)\b[^"]*"' $SRC --include='*.c')"

check "no dynamic SQL (EXECUTE) in the migrations or functions" \
    "$(grep -niE '\bEXECUTE\b' sql/0*.sql sql/functions.sql | grep -viE 'EXECUTE FUNCTION outbox_[a-z]+\(\);$')"

check "the admin key is compared with constant_time_equal" \
    "$(grep -rnE 'constant_time_equal\([^)]*admin_key' shared/guard.c >/dev/null || echo 'shared/guard.c: no constant_time_equal(..., admin_key)')"

check "the admin key is never compared with strcmp, strncmp or memcmp" \
    "$(grep -rnE '(strn?cmp|memcmp|strcasecmp)\s*\([^;]*\badmin_key\b' $SRC --include='*.c')"

check "no log call is given a key, token, Authorization, Idempotency-Key or body" \
    "$(grep -rnE 'log_(error|info)\s*\(.*,[^;]*\b(admin_key|key|token|authorization|idempotency_key|body)\b' $SRC --include='*.c' | grep -vE ',[^;]*\b(sizeof|strlen)\b')"

# --- One home for each rule ---------------------------------------------------
LUA_SRC="shared/*.c shared/lua/*.lua shared/lua/lib/*.lua"
# slurp(FILE): its text; a file that cannot be read is a failure, said so.
SLURP='sub slurp { my ($f) = @_; open my $h, "<", $f or do { print "$f: cannot be read\n"; exit }; local $/; <$h> }'

# The concert settings' table: "COLUMN field min max" a row.
settings=$(perl -ne 'print lc($1), " $2 $3 $4\n" if /^\s*X\((\w+),\s*"(\w+)",\s*(-?\d+),\s*(-?\d+)\)/' \
    shared/contract_limits.h)
check "the concert settings' bounds: shared/contract_limits.h = the SQL CHECKs = docs/api.md" \
    "$(printf '%s\n' "$settings" | perl -e "$SLURP"' 
        my @rows = grep { /\S/ } <STDIN>;
        print "shared/contract_limits.h: no X(COLUMN, \"field\", min, max) rows read\n" unless @rows;
        my (%sql, %doc);
        for my $f (sort glob("sql/0*.sql")) {
            open my $h, "<", $f or next;
            while (<$h>) { $sql{$1} = [$2, $3, "$f:$."] while /\b(\w+)\s+BETWEEN\s+(-?\d+)\s+AND\s+(-?\d+)/g; }
        }
        my $line = 0;
        for (split /\n/, slurp("docs/api.md")) { $line++; $doc{$1} = [$2 =~ tr/,//dr, $3 =~ tr/,//dr, "docs/api.md:$line"] if /^\|\s*`(?:schedules\[\]\.)?(\w+)`\s*\|[^|]*\|\s*(-?[\d,]+)\.\.(-?[\d,]+)/; }
        for (@rows) {
            my ($col, $field, $min, $max) = split;
            for ([\%sql, $col, "the SQL CHECK of $col"], [\%doc, $field, "docs/api.md on $field"]) {
                my ($map, $key, $what) = @$_;
                my $got = $map->{$key};
                if (!$got) { print "$what: not found (shared/contract_limits.h: $min..$max)\n"; next; }
                print "$got->[2]: $what is $got->[0]..$got->[1], shared/contract_limits.h $min..$max\n"
                    if $got->[0] != $min || $got->[1] != $max;
            }
        }')"

c_define() {   # c_define FILE NAME: the number a #define gives NAME
    perl -ne 'print "$1\n" if /^#define\s+'"$2"'\s+\(?(\d+)/' "$1" | head -n 1
}
seats_c=$(c_define shared/contract_limits.h SEATS_PER_USER_MAX)
check "the per-user seat limit: shared/contract_limits.h = SQL = the booking page" \
    "$(perl -e "$SLURP"' 
        my ($c) = @ARGV;
        local $/;
        my $sql = slurp("sql/functions.sql");
        my $app = slurp("web/app.js");
        my $api = slurp("web/api.js");
        my %got = (
            "sql/functions.sql seats_per_user_max()" => $sql =~ /FUNCTION seats_per_user_max\(\).*?\$\$\s*SELECT (\d+)\s*\$\$/s ? "$1" : undef,
            "web/app.js MAX_SEATS" => $app =~ /\bconst MAX_SEATS = (\d+);/ ? "$1" : undef,
            "web/api.js HOLD_LIMIT message" => $api =~ /\bHOLD_LIMIT: \x27[^\x27]*?(\d+)석/ ? "$1" : undef);
        print "shared/contract_limits.h: no SEATS_PER_USER_MAX\n" unless length $c;
        for (sort keys %got) {
            print "$_: ", $got{$_} // "not found", ", shared/contract_limits.h: $c\n" unless defined $got{$_} && $got{$_} eq $c;
        }
        print "sql/functions.sql: booking_hold does not compare with seats_per_user_max()\n"
            unless $sql =~ /cardinality\(p_seats\) > seats_per_user_max\(\)/;' "$seats_c")"

# A hold has run out from its end time on (SQL: p_until <= now()). The seat
# map's Lua keeps a seat HELD while its end is after now, and lists it again
# once the first end is reached; the page reads a hold EXPIRED from its end.
check "when a hold has run out: SQL's hold_ran_out = the seat map's Lua = the booking page" \
    "$(perl -e "$SLURP"' 
        my %not = ("<=" => ">", "<" => ">=");
        local $/;
        my $sql = slurp("sql/functions.sql");
        my ($ran) = $sql =~ /FUNCTION hold_ran_out\(p_until timestamptz\).*?\$\$\s*SELECT p_until (<=|<) now\(\)\s*\$\$/s;
        if (!$ran) { print "sql/functions.sql: hold_ran_out is not \"SELECT p_until <= now()\" (or <)\n"; exit; }
        my ($held, $relist, $page) = (0, 0, 0);
        for my $f (grep { -f } map { glob } @ARGV) {
            open my $h, "<", $f or next; my $t = <$h>;
            while ($t =~ /\x27H\x27 and \S+ (>=?|<=?) now\b/g) {
                $held++; print "$f: a seat map seat is HELD while its end $1 now; SQL: held while end $not{$ran} now\n" if $1 ne $not{$ran};
            }
            while ($t =~ /next_end > 0 and next_end (>=?|<=?) now\b/g) {
                $relist++; print "$f: the seat map lists seats again when next_end $1 now; SQL: ran out when $ran now\n" if $1 ne $ran;
            }
        }
        print "the seat map Lua: no \x27H\x27 and <end> > now found\n" unless $held;
        print "the seat map Lua: no next_end > 0 and next_end <= now found\n" unless $relist;
        my $app = slurp("web/app.js");
        while ($app =~ /\x27HELD\x27 && r\.expiresAt && Date\.parse\(r\.expiresAt\) (<=?|>=?) serverNow\(\)\) return \x27EXPIRED\x27/g) {
            $page++; print "web/app.js: a hold reads EXPIRED when its end $1 now; SQL: $ran now\n" if $1 ne $ran;
        }
        print "web/app.js: no HELD ... <= serverNow() ... EXPIRED line found\n" unless $page;' $LUA_SRC)"

check "no C statement or other SQL compares a hold's end with now() itself (hold_ran_out does)" \
    "$(hold_end_vs_now='(held_until|expires_at)\s*[<>]=?\s*now\(\)|now\(\)\s*[<>]=?\s*[a-z_.]*(held_until|expires_at)'
       grep -rnE "$hold_end_vs_now" $SRC --include='*.c'; grep -nE "$hold_end_vs_now" /dev/null sql/functions.sql)"

retain_c=$(c_define shared/contract_limits.h RETAIN_SECONDS)
check "the retention period: shared/contract_limits.h = SQL's retention_period() = the queue's Lua" \
    "$(perl -e "$SLURP"' 
        my ($c) = (shift);
        my %unit = (second => 1, seconds => 1, minutes => 60, hours => 3600, day => 86400, days => 86400);
        local $/;
        print "shared/contract_limits.h: no RETAIN_SECONDS\n" unless length $c;
        my $sql = slurp("sql/functions.sql");
        if ($sql =~ /FUNCTION retention_period\(\).*?\$\$\s*SELECT interval \x27(\d+) (\w+)\x27\s*\$\$/s && $unit{$2}) {
            print "sql/functions.sql: retention_period() is $1 $2, shared/contract_limits.h: $c seconds\n" if $1 * $unit{$2} != $c;
        } else { print "sql/functions.sql: retention_period() is not SELECT interval \x27N hours\x27\n"; }
        my $n = 0;
        for my $f (grep { -f } map { glob } @ARGV) {
            open my $h, "<", $f or next; my $t = <$h>;
            while ($t =~ /MINID\x27, \x27~\x27, now - (\d+)/g) {
                $n++; print "$f: a stream is trimmed after $1 ms, shared/contract_limits.h: $c s\n" if $1 != $c * 1000;
            }
        }
        print "the queue Lua: no XADD ... MINID, ~, now - <ms> found\n" unless $n;' "$retain_c" $LUA_SRC)"

# Each format is rendered for 2026-12-24T19:30:00.005Z and compared.
check "RFC 3339 text: shared/utc.c = SQL's utc_text and utc_text_ms = the queue's Lua" \
    "$(perl -MPOSIX=strftime -e "$SLURP"' 
        local $/;
        my $want = "2026-12-24T19:30:00Z", $want_ms = "2026-12-24T19:30:00.005Z";
        my %tok = (YYYY => "2026", MM => "12", DD => "24", HH24 => "19", MI => "30", SS => "00", MS => "005");
        sub to_char { my $f = shift; my $o = ""; while ($f =~ /\G(?:"([^"]*)"|(HH24|YYYY|MM|DD|MI|SS|MS)|(.))/gs) { $o .= $1 // ($2 ? $tok{$2} : $3); } $o }
        my $utc = slurp("shared/utc.c");
        my ($cf) = $utc =~ /#define UTC_FORMAT "([^"]+)"/;
        my $c = defined $cf ? strftime($cf, 0, 30, 19, 24, 11, 126) : "not found";
        print "shared/utc.c UTC_FORMAT writes $c, not $want\n" if $c ne $want;
        my $sql = slurp("sql/functions.sql");
        my ($sf) = $sql =~ /FUNCTION utc_text\(p_time timestamptz\).*?to_char\(p_time AT TIME ZONE \x27UTC\x27, \x27([^\x27]+)\x27\)/s;
        my $st = defined $sf ? to_char($sf) : "not found";
        print "sql/functions.sql utc_text writes $st, not $want\n" if $st ne $want;
        my ($mf) = $sql =~ /FUNCTION utc_text_ms\(p_time timestamptz\).*?SELECT replace\(utc_text\(p_time\), \x27Z\x27, to_char\(p_time AT TIME ZONE \x27UTC\x27, \x27([^\x27]+)\x27\)\)/s;
        my $sm = defined $mf ? ($st =~ s/Z/to_char($mf)/er) : "not found";
        print "sql/functions.sql utc_text_ms writes $sm, not $want_ms\n" if $sm ne $want_ms;
        my $n = 0;
        for my $f (grep { -f } map { glob } @ARGV) {
            open my $h, "<", $f or next; my $t = <$h>;
            while ($t =~ /return string\.format\(\x27(%04d-[^\x27]*)\x27, y, m, d,/g) {
                $n++; my $l = sprintf($1, 2026, 12, 24, 19, 30, 0, 5);
                print "$f: the events Lua writes $l, not $want_ms\n" if $l ne $want_ms;
            }
        }
        print "the queue Lua: no iso() string.format(\x27%04d-...\x27, y, m, d, ...) found\n" unless $n;' $LUA_SRC)"

# The web servers let a little more than the limit through so that the
# responder, which counts exactly, answers the JSON 413 itself; never less.
body_c=$(c_define shared/http.h HTTP_MAX_BODY)
check "the body limit: shared/http.h = nginx's and Apache's (at least, and the 413 message)" \
    "$(perl -e "$SLURP"' 
        my ($c) = @ARGV;
        local $/;
        print "shared/http.h: no HTTP_MAX_BODY\n" unless length $c;
        my $ngx = slurp("conf/nginx/concert.conf");
        my $apa = slurp("conf/apache/concert.conf");
        my $e413 = slurp("conf/apache/errors/413.json");
        my $kib = $c / 1024;
        my ($nk) = $ngx =~ /client_max_body_size (\d+)k;/;
        print "conf/nginx/concert.conf: client_max_body_size ", $nk // "not found", "k is under ${kib}k\n" unless $nk && $nk * 1024 >= $c;
        my ($ab) = $apa =~ /LimitRequestBody (\d+)/;
        print "conf/apache/concert.conf: LimitRequestBody ", $ab // "not found", " is under $c\n" unless $ab && $ab >= $c;
        for (["conf/nginx/concert.conf", $ngx], ["conf/apache/errors/413.json", $e413]) {
            while ($_->[1] =~ /larger than (\d+) KiB/g) { print "$_->[0]: 413 says $1 KiB, shared/http.h: $kib KiB\n" if $1 != $kib; }
        }' "$body_c")"
# The Lua lives in shared/lua/*.lua and shared/lua/lib/*.lua, one home each
# (issue 23): no C file writes a script's text, no header a piece of one.
check "no C source or header under $SRC holds Lua" \
    "$(grep -rnE "redis\.p?call *\(|\b(KEYS|ARGV)\[[0-9]|struct rds_script +[a-z_]+ *= *\{" $SRC --include='*.c' --include='*.h')"

# Every C file the project keeps, the tests' too (issue 23: "No .c file
# holds Lua"): git's list, or in an unpacked tarball the files of the tree
# but the generated shared/lua/scripts.c and the build folders.
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
    c_files=$(git ls-files -- '*.c' '*.h')
else
    c_files=$(find . \( -name 'build*' -o -name var -o -name node_modules \) -prune -o \
                   -type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | grep -vx 'shared/lua/scripts\.c')
fi
check "no tracked C source or header anywhere (t/ included) calls redis.call or redis.pcall" \
    "$(printf '%s\n' "$c_files" | grep -v '^$' | xargs -d '\n' grep -nE 'redis\.p?call' /dev/null)"

listed=$(sed -n '/^LUA_FILES = /,/^[^\t]/p; /^LUA_INCLUDED = /,/^[^\t]/p' Makefile.am | grep -oE 'shared/lua/[a-z0-9_/]+\.lua' | sort)
present=$(ls shared/lua/*.lua shared/lua/lib/*.lua 2>/dev/null | sort)
check "every script of shared/lua/ is built (Makefile.am lists each, and only those)" \
    "$(diff <(printf '%s\n' "$listed") <(printf '%s\n' "$present") | grep '^[<>]')"

# HTTP only at the edge (issue 23). The edge: the request layer (http,
# http_body, json_body, app, request_log), the guards and answers (guard,
# answer) and the programs (fcgi/, cron/, relay/, events/). The rest of
# shared/ is the domain: it returns outcomes.
EDGE='^shared/(http|http_body|json_body|app|request_log|guard|answer)\.[ch]:'
domain_http=$(grep -rnE '#include +"(http|http_body|app|request_log|guard|answer)\.h"|\bhttp_[a-z_]+ *\(' \
                  shared --include='*.c' --include='*.h' |
              grep -vE "$EDGE" | grep -vE '^[^:]+:[0-9]+: *(/?\*|//)')
check "no file of the domain layer includes an edge header or calls http_* (only the edge writes HTTP)" \
    "$domain_http"
check "json_body.{c,h} (the body parse) include neither http.h nor http_body.h" \
    "$(grep -nE '#include +"(http|http_body)\.h"' shared/json_body.c shared/json_body.h)"

exit $failed
