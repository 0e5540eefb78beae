#!/usr/bin/env bash
# run-determinism.sh - cnnc is deterministic: every golden case compiled twice
# (C, header and --emit=ir, in different directories) gives byte-identical output.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc=$build/cnnc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for dir in "$root"/tests/golden/*/; do
    name=$(basename "$dir")
    flags=()
    [ -f "$dir/flags" ] && read -r -a flags <"$dir/flags"
    problem=""
    for run in 1 2; do
        mkdir -p "$tmp/$run"
        if ! (cd "$tmp/$run" && "$cnnc" "$dir/net.cnn" --main -o net.c ${flags[@]+"${flags[@]}"} &&
            "$cnnc" "$dir/net.cnn" --emit=ir -o net.ir ${flags[@]+"${flags[@]}"}) \
            >"$tmp/log" 2>&1; then
            problem="cnnc failed: $(head -1 "$tmp/log")"
        fi
    done
    for f in net.c net.h net.ir; do
        [ -z "$problem" ] && ! cmp -s "$tmp/1/$f" "$tmp/2/$f" && problem="$f differs between two runs"
    done
    rm -rf "$tmp/1" "$tmp/2"
    if [ -z "$problem" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: $problem"
    fi
done
echo "determinism: $pass passed, $fail failed"
[ $fail -eq 0 ]
