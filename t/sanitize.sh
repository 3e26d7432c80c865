# t/sanitize.sh - the sanitizer wiring of `./dev test --sanitize` (sourced
# by scripts/test.sh and t/faults.sh, after scripts/stack.sh): the build with AddressSanitizer
# and UndefinedBehaviorSanitizer (./configure --enable-sanitizers) in its own
# build folder, the settings the servers and the test programs run with, and
# the report read once the stack has stopped.
#
# The servers' reports go to files under the stack's log folder
# (sanitizer.<pid>); LeakSanitizer writes its report when a responder exits,
# so the stack is stopped before the reports are read.
#
# Reads from the environment: CONCERT_BUILD_DIR, CONCERT_CONFIGURE_FLAGS (as
# scripts/lib.sh), CC (the control program's compiler); uses the stack's
# LOG and VAR (scripts/stack.sh's profile). Exports for the servers and the
# tests: CONCERT_BUILD_DIR, CONCERT_CONFIGURE_FLAGS, CONCERT_SANITIZE,
# ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS.
# shellcheck shell=bash

# ./dev test --sanitize: its own build folder (build-asan unless
# CONCERT_BUILD_DIR names one), configured with the sanitizers.
sanitize_setup() {
    BUILD=${CONCERT_BUILD_DIR:-$REPO/build-asan}
    export CONCERT_BUILD_DIR=$BUILD
    export CONCERT_CONFIGURE_FLAGS="--enable-sanitizers ${CONCERT_CONFIGURE_FLAGS:-}"
    export CONCERT_SANITIZE=1
    sanitizer_env_servers
}

# Sanitizer settings for the servers this stack starts (responders, cron).
sanitizer_env_servers() {
    export ASAN_OPTIONS="detect_leaks=1:log_path=$LOG/sanitizer:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOG/sanitizer"
    export LSAN_OPTIONS="suppressions=$REPO/conf/lsan.supp:print_suppressions=0"
}

# Settings for the test programs: reports on their own stderr, in the TAP.
sanitizer_env_tests() {
    export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
}

# Prints every sanitizer report the servers left; 1 when there is one.
# First a control: a program that leaks, built with the same flags and run
# as the servers are (same user, same settings), must leave a report - or
# a quiet log would prove nothing.
sanitize_report() {
    local f found=0 ctl=$VAR/sanitizer-control
    mkdir -p "$ctl"
    printf '#include <stdlib.h>\n#include <string.h>\nint main(void) { char *p = malloc(64); memset(p, 1, 64); p = 0; return p != 0; }\n' >"$ctl/leak.c"
    ${CC:-gcc} -fsanitize=address,undefined -fno-omit-frame-pointer -o "$ctl/leak" "$ctl/leak.c"
    if is_root; then chown -R "$APP_USER:" "$ctl"; fi
    ( sanitizer_env_servers; export ASAN_OPTIONS="${ASAN_OPTIONS/log_path=$LOG\/sanitizer/log_path=$ctl/report}"
      as_app "$ctl/leak" ) >/dev/null 2>&1 || true
    if ! grep -qs 'ERROR: LeakSanitizer' "$ctl"/report.*; then
        echo "dev test --sanitize: LeakSanitizer reported nothing for a program that leaks: the check is void here"
        return 1
    fi
    for f in "$LOG"/sanitizer.*; do
        [ -s "$f" ] || continue
        found=1
        echo "--- $f"
        head -60 "$f"
    done
    if grep -l -E 'runtime error:|ERROR: (Address|Leak)Sanitizer|Sanitizer has encountered a fatal error' "$LOG"/*.log 2>/dev/null; then
        found=1
    fi
    if [ $found = 1 ]; then
        echo "dev test --sanitize: the servers reported the errors above"
        return 1
    fi
    say "sanitizers: no report from the servers (the control leak was reported)"
}
