#!/usr/bin/env bash
# isa_bench.sh - CPU time per inference of networks compiled by cnnc, built at
# plain `cc -O2` and at `cc -O3 -march=native` (issue 15), least of RUNS runs
# of the generated program's `--bench N`, each run's user+sys CPU time
# (/usr/bin/time) over the N timed plus N/10+1 warm-up inferences (loading the
# input and writing the output included: microseconds). CPU time, not
# wall-clock, so that other load on a shared machine counts less; the load
# average is printed next to every figure.
#   bench/isa_bench.sh [-b BUILD] [-n N] [-r RUNS] [-f "FLAGS|FLAGS..."] NET.cnn...
# CNNRT_ISA in the environment chooses the blocked kernels' instruction set.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build n=20 runs=5 flagsets="-O2|-O3 -march=native"
while getopts b:n:r:f: o; do
    case $o in
    b) build=$OPTARG ;; n) n=$OPTARG ;; r) runs=$OPTARG ;; f) flagsets=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
IFS='|' read -r -a fl <<<"$flagsets"
for cnn in "$@"; do
    net=$(basename "$cnn" .cnn)
    "$build/cnnc" "$cnn" --main -o "$tmp/$net.c"
    count=$(sed -n -E 's/^#define [A-Za-z0-9_]+_SIZE ([0-9]+).*/\1/p' "$tmp/$net.h" | head -n 1)
    "$root/build/tools/f32gen" 1 "$count" "$tmp/in.f32"
    for f in "${fl[@]}"; do
        # shellcheck disable=SC2086
        nice -n 5 ${CC:-cc} -std=c99 $f "$tmp/$net.c" $("$build/cnnc" --cflags) -o "$tmp/prog" \
            $("$build/cnnc" --libs)
        best=
        for _ in $(seq "$runs"); do
            /usr/bin/time -f '%U %S' -o "$tmp/t" "$tmp/prog" --bench "$n" "$tmp/in.f32" "$tmp/out.f32" >/dev/null
            ms=$(awk -v n="$n" '{ printf "%.3f", ($1 + $2) * 1000 / (n + int(n / 10) + 1) }' "$tmp/t")
            best=$(awk -v a="${best:-1e9}" -v b="$ms" 'BEGIN { print (b < a ? b : a) }')
        done
        printf '%-12s %-22s %9s ms CPU (min of %d x %d)  %s\n' "$net" "cc $f" "$best" "$runs" "$n" \
            "$(uptime | sed 's/.*load/load/')"
    done
done
