#!/usr/bin/env bash
# run-determinism.sh - cnnc is deterministic: every golden case compiled twice
# (C, header and --emit=ir, in different directories) gives byte-identical output.
# And the generated code is: for a few cases, the program built with -O0 and
# with -O2 gives bit-identical outputs, run twice each (C99 mode contracts no
# floating-point expressions, so the optimizer may not change a result).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/golden-case.sh
. "$root/tests/golden-case.sh"
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc=$build/cnnc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for dir in "$root"/tests/golden/*/; do
    name=$(basename "$dir")
    cnn=$(case_cnn "$dir")
    flags=()
    [ -f "$dir/flags" ] && read -r -a flags <"$dir/flags"
    [ ${#flags[@]} -eq 0 ] || flags=("${flags[@]//@DIR@/${dir%/}}") # the case's directory
    problem=""
    for run in 1 2; do
        mkdir -p "$tmp/$run"
        if ! (cd "$tmp/$run" && "$cnnc" "$cnn" --main -o net.c ${flags[@]+"${flags[@]}"} &&
            "$cnnc" "$cnn" --emit=ir -o net.ir ${flags[@]+"${flags[@]}"}) \
            >"$tmp/log" 2>&1; then
            problem="cnnc failed: $(head -1 "$tmp/log")"
        fi
    done
    for f in net.c net.h net.ir net.c.weights; do
        [ -e "$tmp/1/$f" ] || [ -e "$tmp/2/$f" ] || continue
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
ccs="${CC:-cc} ${CNNC_EXTRA_CFLAGS:-}"
for name in lenet5 mini_mobilenet conv_groups2 avgpool_ceil_excl; do
    dir=$root/tests/golden/$name
    problem=""
    flags=()
    [ -f "$dir/flags" ] && read -r -a flags <"$dir/flags"
    [ ${#flags[@]} -eq 0 ] || flags=("${flags[@]//@DIR@/${dir%/}}") # the case's directory
    if ! "$cnnc" "$dir/net.cnn" --main -o "$tmp/net.c" ${flags[@]+"${flags[@]}"} >"$tmp/log" 2>&1; then
        problem="cnnc failed"
    fi
    for opt in -O0 -O2; do
        [ -n "$problem" ] && break
        # shellcheck disable=SC2086
        if ! $ccs -std=c99 $opt "$tmp/net.c" $("$cnnc" --cflags) -o "$tmp/prog$opt" \
            $("$cnnc" --libs) >"$tmp/log" 2>&1; then
            problem="cc $opt failed: $(head -1 "$tmp/log")"
        fi
        for run in 1 2; do
            [ -z "$problem" ] && ! "$tmp/prog$opt" "$dir/input.f32" "$tmp/out$opt.$run" \
                >"$tmp/log" 2>&1 && problem="the $opt program failed"
        done
    done
    for out in out-O0.2 out-O2.1 out-O2.2; do
        [ -z "$problem" ] && ! cmp -s "$tmp/out-O0.1" "$tmp/$out" &&
            problem="outputs differ: out-O0.1 and $out"
    done
    rm -f "$tmp"/net.* "$tmp"/prog* "$tmp"/out*
    if [ -z "$problem" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name (-O0/-O2 outputs): $problem"
    fi
done
echo "determinism: $pass passed, $fail failed"
[ $fail -eq 0 ]
