#!/usr/bin/env bash
# run-golden.sh - compile every golden case with cnnc, run it, compare with PyTorch.
#
#   bash tests/run-golden.sh [case ...]
#
# A case is a directory tests/golden/<case>/ (written by tests/gen/gen_golden.py)
# with net.cnn, input.f32, expected.f32 and optionally flags (extra cnnc
# arguments, one line) and tolerance (one number, default 1e-4). Arguments are
# case names or case directories; with none, every case runs.
#
# Environment: BUILD (the build tree, default build), CC (default cc), CNNC_EXTRA_CFLAGS (appended to the compile line,
# e.g. "-fsanitize=address,undefined -g"), GOLDEN_TIMEOUT (seconds per program
# run, default 60).
#
# Prints "PASS <case>" or "FAIL <case>: <stage>: <first lines of the error>" per
# case, then "N passed, M failed". Exits 1 if any case failed, 2 on a setup error.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
CNNC=$BUILD_DIR/cnnc
F32CMP=$BUILD_DIR/tools/f32cmp
GOLDEN=$ROOT/tests/golden
CC=${CC:-cc}
TIMEOUT=${GOLDEN_TIMEOUT:-60}
DEFAULT_TOL=1e-4

for tool in "$CNNC" "$F32CMP"; do
    if [ ! -x "$tool" ]; then
        echo "run-golden: ${tool#"$ROOT"/} not found; run make first" >&2
        exit 2
    fi
done

if ! RT_CFLAGS=$("$CNNC" --cflags) || ! RT_LIBS=$("$CNNC" --libs); then
    echo "run-golden: 'cnnc --cflags' or 'cnnc --libs' failed" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-golden.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The case directories to run.
cases=()
if [ $# -eq 0 ]; then
    for d in "$GOLDEN"/*/; do
        [ -d "$d" ] && cases+=("${d%/}")
    done
else
    for a in "$@"; do
        a=${a%/}
        if [ -d "$a" ] && [ -f "$a/net.cnn" ]; then
            cases+=("$(cd "$a" && pwd)")
        else
            cases+=("$GOLDEN/$a")
        fi
    done
fi

# The first few lines of a log file, joined onto one line.
summary() {
    local s
    s=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | head -n 3 |
        awk '{ sub(/[ \t\r]+$/, ""); printf "%s%s", (NR > 1 ? " | " : ""), $0 }')
    [ ${#s} -gt 300 ] && s="${s:0:300}..."
    printf '%s' "${s:-(no output)}"
}

# Run a command with a time limit; status 124 means it timed out.
limited() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 5 "$TIMEOUT" "$@"
    else
        "$@"
    fi
}

passed=0
failed=0
fail() { # case stage message
    echo "FAIL $1: $2: $3"
    failed=$((failed + 1))
}

for dir in "${cases[@]}"; do
    name=$(basename "$dir")
    work=$tmp/$name
    mkdir -p "$work"
    log=$work/log

    missing=
    for f in net.cnn input.f32 expected.f32; do
        [ -f "$dir/$f" ] || missing="$missing $f"
    done
    if [ -n "$missing" ]; then
        fail "$name" setup "missing${missing} in ${dir#"$ROOT"/}"
        continue
    fi

    flags=()
    if [ -f "$dir/flags" ]; then
        read -r -a flags <"$dir/flags" || true
    fi
    tol=$DEFAULT_TOL
    if [ -f "$dir/tolerance" ]; then
        read -r tol <"$dir/tolerance" || true
        tol=${tol:-$DEFAULT_TOL}
    fi

    # 1. cnnc
    limited "$CNNC" "$dir/net.cnn" --main -o "$work/net.c" ${flags[@]+"${flags[@]}"} >"$log" 2>&1
    st=$?
    if [ $st -ne 0 ] || [ ! -f "$work/net.c" ]; then
        [ $st -eq 124 ] && echo "cnnc timed out after ${TIMEOUT}s" >>"$log"
        [ $st -eq 0 ] && echo "cnnc exited 0 but wrote no net.c" >>"$log"
        fail "$name" cnnc "$(summary "$log")"
        continue
    fi

    # 2. the C compiler (word splitting of the flag variables is intended)
    # shellcheck disable=SC2086
    if ! $CC -std=c99 -Wall -Wextra -pedantic -Werror -O2 "$work/net.c" $RT_CFLAGS \
        -o "$work/prog" $RT_LIBS ${CNNC_EXTRA_CFLAGS:-} >"$log" 2>&1; then
        fail "$name" cc "$(summary "$log")"
        continue
    fi

    # 3. the program, from its own directory so it cannot depend on the case's
    (cd "$work" && limited ./prog "$dir/input.f32" "$work/out.f32") >"$log" 2>&1
    st=$?
    # Drop bash's own crash report ("...: line N: PID Segmentation fault ...").
    sed -i -E '/: line [0-9]+: +[0-9]+ /d' "$log"
    if [ $st -eq 124 ]; then
        fail "$name" run "timed out after ${TIMEOUT}s"
        continue
    elif [ $st -gt 128 ]; then
        fail "$name" run "killed by SIG$(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128))): $(summary "$log")"
        continue
    elif [ $st -ne 0 ]; then
        fail "$name" run "exit status $st: $(summary "$log")"
        continue
    elif grep -q -e 'runtime error:' -e 'Sanitizer' "$log"; then
        # UBSan reports and carries on unless built with -fno-sanitize-recover.
        fail "$name" run "sanitizer report: $(grep -m 1 -e 'runtime error:' -e 'Sanitizer' "$log")"
        continue
    fi

    # 4. compare
    if ! "$F32CMP" --tol "$tol" "$work/out.f32" "$dir/expected.f32" >"$log" 2>&1; then
        fail "$name" compare "$(summary "$log")"
        continue
    fi

    echo "PASS $name"
    passed=$((passed + 1))
    rm -rf "$work"
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
