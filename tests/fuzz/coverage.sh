#!/usr/bin/env bash
# coverage.sh - line and branch coverage of the compiler reached by each fuzz
# target's corpus (the committed seeds plus what fuzzing found), with clang's
# source-based coverage. Used by `make fuzz-coverage`.
#
#   bash tests/fuzz/coverage.sh COV_BUILD TARGET:CORPUS_DIR...
#
# COV_BUILD holds the coverage-instrumented targets (built by the Makefile).
# Prints, per target, the line and branch coverage of each source file the
# target reaches (files it never enters are left out) and their total.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
shift
case $build in /*) ;; *) build=$root/$build ;; esac
profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
cov=$(command -v llvm-cov-14 || command -v llvm-cov)
for spec in "$@"; do
    t=${spec%%:*}
    dirs=(${spec#*:})
    rm -f "$build/$t".profraw
    LLVM_PROFILE_FILE="$build/$t.profraw" "$build/fuzz/fuzz_$t" -runs=0 -close_fd_mask=2 \
        "$root/tests/fuzz/corpus/$t" "${dirs[@]}" >"$build/$t.covlog" 2>&1
    "$profdata" merge -sparse -o "$build/$t.profdata" "$build/$t.profraw"
    echo "== $t: $(grep -m1 -o 'INITED.*corp: [0-9]*/[0-9a-zA-Z]*' "$build/$t.covlog")"
    # Columns of llvm-cov's table: 8 = lines, 9 = missed lines, 11 = branches, 12 = missed.
    "$cov" report "$build/fuzz/fuzz_$t" -instr-profile="$build/$t.profdata" \
        -ignore-filename-regex='tests/|/usr/|\.h$' |
        awk '$1 ~ /\.c$/ && $9 < $8 {
                 printf "    %-28s lines %5.1f%% of %5d   branches %5.1f%% of %5d\n", $1,
                        100 * ($8 - $9) / $8, $8, $11 ? 100 * ($11 - $12) / $11 : 0, $11
                 l += $8; ml += $9; b += $11; mb += $12 }
             END { printf "    %-28s lines %5.1f%% of %5d   branches %5.1f%% of %5d\n", "total (files reached)",
                          100 * (l - ml) / l, l, 100 * (b - mb) / b, b }'
done
