#!/usr/bin/env bash
# run-ir.sh - golden tests of the optimizer's IR: every tests/ir/NAME.cnn is
# compiled with `cnnc NAME.cnn --emit=ir` (plus the options of a "# flags: "
# line) and stdout must equal NAME.ir exactly; each "# stderr: " line of the
# case must be a line of stderr (the warnings a pass prints).
#
#   bash tests/run-ir.sh [tests/ir/NAME.cnn ...]
#   UPDATE=1 bash tests/run-ir.sh     rewrite the .ir files from the current
#                                     cnnc (then read the diff before committing)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc="$build/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
[ $# -gt 0 ] || set -- "$root"/tests/ir/*.cnn
for f in "$@"; do
    dir=$(cd "$(dirname "$f")" && pwd)
    name=$(basename "$f" .cnn)
    read -r -a flags <<<"$(sed -n 's/^# flags: //p' "$f")"
    # From the case's directory, so diagnostics name the file as "NAME.cnn".
    (cd "$dir" && "$cnnc" "$name.cnn" --emit=ir ${flags[@]+"${flags[@]}"} \
        >"$tmp/out" 2>"$tmp/err")
    status=$?
    problem=""
    if [ $status -ne 0 ]; then
        problem="cnnc exited $status: $(head -3 "$tmp/err")"
    elif [ "${UPDATE:-}" = 1 ]; then
        cp "$tmp/out" "$dir/$name.ir"
    elif [ ! -f "$dir/$name.ir" ]; then
        problem="no $name.ir (UPDATE=1 writes it)"
    elif ! diff -u "$dir/$name.ir" "$tmp/out" >"$tmp/diff"; then
        problem="IR differs from $name.ir:"$'\n'"$(head -20 "$tmp/diff")"
    fi
    while [ -z "$problem" ] && IFS= read -r want; do
        grep -qxF -- "$want" "$tmp/err" || problem="missing on stderr: $want"
    done < <(sed -n 's/^# stderr: //p' "$f")
    if [ -z "$problem" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: $problem" | sed '2,$s/^/    | /'
    fi
done
echo "ir: $pass passed, $fail failed"
[ $fail -eq 0 ]
