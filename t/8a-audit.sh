#!/usr/bin/env bash
# 8a-audit: source audits for the security basics, over the C sources
# (fcgi/, shared/, cron/) and the migrations (sql/0*.sql):
#   - nothing is built into SQL from input: libpq's statement calls appear
#     only in shared/db.c, which sends parameters separately; every statement
#     db_query runs is a static const char array (or a parameter holding
#     one); no printf-style format or strcat builds SQL text; no dynamic SQL
#     (EXECUTE) in plpgsql;
#   - the admin key is compared only with constant_time_equal, never with
#     strcmp/strncmp/memcmp;
#   - no log call is passed the admin key, a token, an Authorization or
#     Idempotency-Key header or a request body.
# Each check prints the offending lines when it fails.
set -u
REPO=${CONCERT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$REPO" || exit 1
SRC="fcgi shared cron"
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
echo "1..7"

check "libpq statements are sent only by shared/db.c (parameters apart)" \
    "$(grep -rnE '\bPQ(exec|execParams|prepare|sendQuery|sendQueryParams|sendPrepare)\s*\(' $SRC --include='*.c' | grep -v '^shared/db\.c:')"

bad=
while IFS=: read -r file line name; do
    [ -n "$file" ] || continue
    if grep -qE "static const char $name\[\] *=" "$file"; then continue; fi
    # A parameter holding a statement: every caller must pass a static array.
    fn=$(grep -nE "^[a-z].*\(.*const char \*$name[,)]" "$file" | head -1 | sed -E 's/^[0-9]+:.* \**([a-z_]+)\(.*/\1/')
    if [ -n "$fn" ]; then
        callers=$(grep -oE "\b$fn\(([a-z_]+)," "$file" | sed -E "s/$fn\(([a-z_]+),/\1/" | sort -u)
        ok=1
        for c in $callers; do grep -qE "static const char $c\[\] *=" "$file" || ok=0; done
        [ -n "$callers" ] && [ $ok = 1 ] && continue
    fi
    bad="$bad$file:$line: db_query($name ...) is not a static statement
"
done < <(grep -rnoE 'db_query\([a-zA-Z_]+' $SRC --include='*.c' | grep -v '^shared/db\.c:' | sed -E 's/db_query\(//')
check "every statement db_query runs is a static const char array" "$bad"

check "no printf-style format or strcat builds SQL text" \
    "$(grep -rnE '(printf|strcat|strcpy)\s*\(.*"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE)\b[^"]*"' $SRC --include='*.c')"

check "no dynamic SQL (EXECUTE) in the migrations" \
    "$(grep -niE '\bEXECUTE\b' sql/0*.sql)"

check "the admin key is compared with constant_time_equal" \
    "$(grep -rnE 'constant_time_equal\([^)]*admin_key' fcgi/admin.c >/dev/null || echo 'fcgi/admin.c: no constant_time_equal(..., admin_key)')"

check "the admin key is never compared with strcmp, strncmp or memcmp" \
    "$(grep -rnE '(strn?cmp|memcmp|strcasecmp)\s*\([^;]*\badmin_key\b' $SRC --include='*.c')"

check "no log call is given a key, token, Authorization, Idempotency-Key or body" \
    "$(grep -rnE 'log_(error|info)\s*\(.*,[^;]*\b(admin_key|key|token|authorization|idempotency_key|body)\b' $SRC --include='*.c' | grep -vE ',[^;]*\b(sizeof|strlen)\b')"
exit $failed
