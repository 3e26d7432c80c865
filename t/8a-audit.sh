#!/usr/bin/env bash
# 8a-audit: source audits for the security basics, over the C sources
# (fcgi/, shared/, cron/, relay/, events/) and the SQL (sql/0*.sql migrations, sql/functions.sql):
#   - nothing is built into SQL from input: libpq's statement calls appear
#     only in shared/db.c, which sends parameters separately; every statement
#     db_query runs is a static const char array (or a parameter holding
#     one); no printf-style format or strcat builds SQL text; no dynamic SQL
#     (EXECUTE) in plpgsql;
#   - the admin key is compared only with constant_time_equal, never with
#     strcmp/strncmp/memcmp;
#   - no log call is passed the admin key, a token, an Authorization or
#     Idempotency-Key header or a request body;
#   - no C source or header holds Lua: every script is a file of shared/lua/
#     (turned into C at build time), and Makefile.am lists each of them.
# Each check prints the offending lines when it fails.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$REPO" || exit 1
SRC="fcgi shared cron relay events"
n=0
failed=0
check() {   # check "description" <output of the offending lines>
    n=$((n + 1))
    if [ -z "$2" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        printf '%s\n' "$2" | sed 's/^/#   /'
        failed=1
    fi
}
echo "1..9"

# The relay keeps a connection of its own (it LISTENs): its statements are
# string literals, or its fixed transaction statements (tx_sql).
check "libpq statements are sent only by shared/db.c (parameters apart) and the relay (fixed text)" \
    "$(grep -rnE '\bPQ(exec|execParams|prepare|sendQuery|sendQueryParams|sendPrepare)\s*\(' $SRC --include='*.c' |
       grep -v '^shared/db\.c:' | grep -vE '^relay/relay\.c:[0-9]+:.*\bPQexec(Params)?\(pg, ("|tx_sql\[what\]\))')"

# Every db_query(X, ...): X is a static const char array of that file, or a
# parameter of the function it is in, and then every call of that function,
# in any file, passes a static const char array of the caller's file there.
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
            while ($lines[$i] =~ /\bdb_query\((\w+)/g) {
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
check "every statement db_query runs is a static const char array" "$bad"

check "no printf-style format or strcat builds SQL text" \
    "$(grep -rnE '(printf|strcat|strcpy)\s*\(.*"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE)\b[^"]*"' $SRC --include='*.c')"

check "no dynamic SQL (EXECUTE) in the migrations or functions" \
    "$(grep -niE '\bEXECUTE\b' sql/0*.sql sql/functions.sql | grep -viE 'EXECUTE FUNCTION outbox_[a-z]+\(\);$')"

check "the admin key is compared with constant_time_equal" \
    "$(grep -rnE 'constant_time_equal\([^)]*admin_key' fcgi/admin.c >/dev/null || echo 'fcgi/admin.c: no constant_time_equal(..., admin_key)')"

check "the admin key is never compared with strcmp, strncmp or memcmp" \
    "$(grep -rnE '(strn?cmp|memcmp|strcasecmp)\s*\([^;]*\badmin_key\b' $SRC --include='*.c')"

check "no log call is given a key, token, Authorization, Idempotency-Key or body" \
    "$(grep -rnE 'log_(error|info)\s*\(.*,[^;]*\b(admin_key|key|token|authorization|idempotency_key|body)\b' $SRC --include='*.c' | grep -vE ',[^;]*\b(sizeof|strlen)\b')"

# The Lua lives in shared/lua/*.lua and shared/lua/lib/*.lua, one home each
# (issue 23): no C file writes a script's text, no header a piece of one.
check "no C source or header under $SRC holds Lua" \
    "$(grep -rnE "redis\.p?call *\(|\b(KEYS|ARGV)\[[0-9]|struct rds_script +[a-z_]+ *= *\{" $SRC --include='*.c' --include='*.h')"

listed=$(sed -n '/^LUA_FILES = /,/^[^\t]/p; /^LUA_INCLUDED = /,/^[^\t]/p' Makefile.am | grep -oE 'shared/lua/[a-z0-9_/]+\.lua' | sort)
present=$(ls shared/lua/*.lua shared/lua/lib/*.lua 2>/dev/null | sort)
check "every script of shared/lua/ is built (Makefile.am lists each, and only those)" \
    "$(diff <(printf '%s\n' "$listed") <(printf '%s\n' "$present") | grep '^[<>]')"

exit $failed
