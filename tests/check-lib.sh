# check-lib.sh - sourced by the command-line test scripts (bash): a temporary
# directory, pass/fail counts, `check NAME COMMAND...` and `check_done SUITE`.
#
# Sets $tmp (removed on exit) and cds into it. `check` runs COMMAND with its
# output in $tmp/log, counts it, and on failure prints NAME and the first
# CHECK_LOG_LINES (10) lines of that output. `check_done` prints
# "SUITE: N passed, M failed" and returns non-zero if any failed.
# Expects $root (the source tree) to be set.

# The build tree under test (BUILD=build-san in the sanitizer pass), its cnnc,
# and the C compiler for generated code with that build's sanitizer flags.
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc="$build/cnnc"
ccs="cc ${CNNC_EXTRA_CFLAGS:-}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0

check() { # check NAME COMMAND... : the command must succeed
    local name=$1
    shift
    if "$@" >"$tmp/log" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name"
        sed 's/^/    | /' "$tmp/log" | head -"${CHECK_LOG_LINES:-10}"
    fi
}

check_done() {
    echo "$1: $pass passed, $fail failed"
    [ $fail -eq 0 ]
}
