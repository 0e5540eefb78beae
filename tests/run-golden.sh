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
# Every case runs once per optimization level in GOLDEN_OPT (default "-O0 -O2":
# no pass, and every pass, must both match PyTorch).
#
# Environment: CC (default cc), CNNC_EXTRA_CFLAGS (appended to the compile line,
# e.g. "-fsanitize=address,undefined -g"), GOLDEN_TIMEOUT (seconds per program
# run, default 60), GOLDEN_OPT (cnnc option sets to try, space-separated; e.g.
# GOLDEN_OPT="-O2 -O2,-fno-fuse-pool", commas becoming spaces within one set).
#
# Prints "PASS <case> <opt>" or "FAIL <case> <opt>: <stage>: <first lines of the
# error>" per run, then "N passed, M failed". Exits 1 if any run failed, 2 on a
# setup error.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CNNC=$ROOT/build/cnnc
F32CMP=$ROOT/build/tools/f32cmp
GOLDEN=$ROOT/tests/golden
CC=${CC:-cc}
TIMEOUT=${GOLDEN_TIMEOUT:-60}
DEFAULT_TOL=1e-4
read -r -a OPTS <<<"${GOLDEN_OPT:--O0 -O2}"

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

# run_case DIR OPT: one case at one optimization level (OPT: cnnc options,
# commas for spaces). Reports PASS or FAIL.
run_case() {
    local dir=$1 opt=$2 name missing flags tol st work log
    local -a optv
    name="$(basename "$dir") $opt"
    IFS=, read -r -a optv <<<"$opt"
    work=$tmp/$(basename "$dir")${opt//[^A-Za-z0-9]/_}
    mkdir -p "$work"
    log=$work/log

    missing=
    for f in net.cnn input.f32 expected.f32; do
        [ -f "$dir/$f" ] || missing="$missing $f"
    done
    if [ -n "$missing" ]; then
        fail "$name" setup "missing${missing} in ${dir#"$ROOT"/}"
        return
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
    limited "$CNNC" "$dir/net.cnn" --main -o "$work/net.c" "${optv[@]}" ${flags[@]+"${flags[@]}"} \
        >"$log" 2>&1
    st=$?
    if [ $st -ne 0 ] || [ ! -f "$work/net.c" ]; then
        [ $st -eq 124 ] && echo "cnnc timed out after ${TIMEOUT}s" >>"$log"
        [ $st -eq 0 ] && echo "cnnc exited 0 but wrote no net.c" >>"$log"
        fail "$name" cnnc "$(summary "$log")"
        return
    fi

    # 2. the C compiler (word splitting of the flag variables is intended)
    # shellcheck disable=SC2086
    if ! $CC -std=c99 -Wall -Wextra -pedantic -Werror -O2 "$work/net.c" $RT_CFLAGS \
        -o "$work/prog" $RT_LIBS ${CNNC_EXTRA_CFLAGS:-} >"$log" 2>&1; then
        fail "$name" cc "$(summary "$log")"
        return
    fi

    # 3. the program, from its own directory so it cannot depend on the case's
    (cd "$work" && limited ./prog "$dir/input.f32" "$work/out.f32") >"$log" 2>&1
    st=$?
    # Drop bash's own crash report ("...: line N: PID Segmentation fault ...").
    sed -i -E '/: line [0-9]+: +[0-9]+ /d' "$log"
    if [ $st -eq 124 ]; then
        fail "$name" run "timed out after ${TIMEOUT}s"
        return
    elif [ $st -gt 128 ]; then
        fail "$name" run "killed by SIG$(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128))): $(summary "$log")"
        return
    elif [ $st -ne 0 ]; then
        fail "$name" run "exit status $st: $(summary "$log")"
        return
    elif grep -q -e 'runtime error:' -e 'Sanitizer' "$log"; then
        # UBSan reports and carries on unless built with -fno-sanitize-recover.
        fail "$name" run "sanitizer report: $(grep -m 1 -e 'runtime error:' -e 'Sanitizer' "$log")"
        return
    fi

    # 4. compare
    if ! "$F32CMP" --tol "$tol" "$work/out.f32" "$dir/expected.f32" >"$log" 2>&1; then
        fail "$name" compare "$(summary "$log")"
        return
    fi

    echo "PASS $name"
    passed=$((passed + 1))
    rm -rf "$work"
}

for dir in "${cases[@]}"; do
    for opt in "${OPTS[@]}"; do
        run_case "$dir" "$opt"
    done
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
