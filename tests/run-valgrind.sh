#!/usr/bin/env bash
# run-valgrind.sh - valgrind's memcheck, no error and no leak allowed, on cnnc
# compiling LeNet-5, on the generated LeNet-5 program (weights baked in,
# --main; it must still give the golden output), and on the generated program
# of every other example (examples/*/*.cnn) run on a seeded input.
# VALGRIND_SKIP: examples left out (space-separated DIR/NAME, e.g.
# "resnet18/resnet18"); each one skipped is named in the summary line.
# Skipped when valgrind is missing or in a SAN=1 build (ASan's shadow memory
# and valgrind do not mix).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc=$build/cnnc
if [ "${SAN:-}" = 1 ]; then
    echo "valgrind: skipped in a sanitizer build"
    exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind: skipped (valgrind not installed; apt-get install valgrind)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case=$root/tests/golden/lenet5
pass=0 fail=0 skipped=
vg() {
    OPENBLAS_NUM_THREADS=1 valgrind -q --error-exitcode=3 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$@"
}
if vg "$cnnc" "$case/net.cnn" --main -o "$tmp/net.c" >"$tmp/log" 2>&1; then
    pass=$((pass + 1))
else
    echo "FAIL valgrind: memcheck on cnnc reported errors"
    sed 's/^/    | /' "$tmp/log" | head -20
    fail=$((fail + 1))
fi
if ! "$cnnc" "$case/net.cnn" --main -o "$tmp/net.c" >"$tmp/log" 2>&1 ||
    ! cc -std=c99 -O2 -g "$tmp/net.c" $("$cnnc" --cflags) -o "$tmp/prog" $("$cnnc" --libs) \
        >>"$tmp/log" 2>&1; then
    echo "FAIL valgrind: building the lenet5 program"
    sed 's/^/    | /' "$tmp/log" | head -10
    fail=$((fail + 1))
elif ! vg "$tmp/prog" "$case/input.f32" "$tmp/out.f32" >"$tmp/log" 2>&1; then
    echo "FAIL valgrind: memcheck on the generated program reported errors"
    sed 's/^/    | /' "$tmp/log" | head -20
    fail=$((fail + 1))
elif ! "$build/tools/f32cmp" --tol 1e-4 "$tmp/out.f32" "$case/expected.f32" >"$tmp/log" 2>&1; then
    echo "FAIL valgrind: wrong output under valgrind: $(head -1 "$tmp/log")"
    fail=$((fail + 1))
else
    pass=$((pass + 1))
fi

# Every example: its program under memcheck, on input from f32gen.
for cnn in "$root"/examples/*/*.cnn; do
    name=$(basename "$(dirname "$cnn")")/$(basename "$cnn" .cnn)
    [ "$name" = lenet5/lenet5 ] && continue # above, with its golden output
    case " ${VALGRIND_SKIP:-} " in
    *" $name "*) skipped="$skipped $name"; continue ;;
    esac
    w=$tmp/${name//\//_}
    mkdir -p "$w"
    if ! "$cnnc" "$cnn" --main -o "$w/net.c" >"$w/log" 2>&1 ||
        ! cc -std=c99 -O2 -g "$w/net.c" $("$cnnc" --cflags) -o "$w/prog" $("$cnnc" --libs) \
            >>"$w/log" 2>&1; then
        echo "FAIL valgrind: building the $name program"
        sed 's/^/    | /' "$w/log" | head -10
        fail=$((fail + 1))
        continue
    fi
    count=$(sed -n -E 's/^#define [A-Za-z0-9_]+_SIZE ([0-9]+).*/\1/p' "$w/net.h" | head -n 1)
    "$build/tools/f32gen" 1 "$count" "$w/in.f32" >/dev/null
    if ! vg "$w/prog" "$w/in.f32" "$w/out.f32" >"$w/log" 2>&1; then
        echo "FAIL valgrind: memcheck on the $name program reported errors"
        sed 's/^/    | /' "$w/log" | head -20
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
    rm -rf "$w"
done
echo "valgrind: $pass passed, $fail failed${skipped:+, skipped (VALGRIND_SKIP):$skipped}"
[ $fail -eq 0 ]
