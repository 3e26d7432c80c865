# t/failures.awk - reads prove's output (--timer) and prints, for each test
# file that failed, its `not ok` lines and its diagnostics, so that the end
# of a long run's log (often all a CI page shows) says why, not only which.
# A file's part starts at its "[hh:mm:ss] t/NAME.t ...." line and ends at
# its result ("ok", "Failed N/M subtests", "Dubious"). What a test writes
# to stderr (its diag lines) can come out before prove prints the file's
# name, so lines between two files belong to the next one.

function flush(    i, n) {
    if (file != "" && failed) {
        print "--- " file
        n = nkept > 80 ? nkept - 80 : 0
        if (n) print "    (" n " earlier lines left out)"
        for (i = n + 1; i <= nkept; i++) print "    " kept[i]
    }
    file = ""; failed = 0; nkept = 0; ended = 0
}

/^(\[[0-9:]+\] )?[^ ]*t\/[^ ]+\.(t|sh) \.+/ {
    flush()
    file = $0
    sub(/^\[[0-9:]+\] /, "", file)
    sub(/ \.+.*$/, "", file)
    for (i = 1; i <= npre; i++) kept[++nkept] = pre[i]
    npre = 0
    if ($0 ~ / \.+ ok/) ended = 1
    next
}
/^Test Summary Report/ { flush(); exit }
file != "" && !ended {
    kept[++nkept] = $0
    if ($0 ~ /^not ok / || $0 ~ /^Failed [0-9]+\/[0-9]+ subtests/ || $0 ~ /^Dubious/) failed = 1
    if ($0 ~ /^Failed [0-9]+\/[0-9]+ subtests/ || $0 ~ /^Dubious/ || $0 ~ /^ok +[0-9]+ ms/) ended = 1
    next
}
{ pre[++npre] = $0; if (npre > 200) npre = 0 }
END { flush() }
