#!/usr/bin/env bash
# Build and run the tile prototype (conv3x3_tile.c) at plain -O2, -O2
# -march=native and -O3 -march=native, beside bench/fma_peak.c's peak measured
# in CPU time. Needs `make` first (build/cnnc, build/libcnnrt.a).
#   bench/proto/run.sh [TRIALS [ROUNDS]]     (default 100 3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/cnnc" "$here/layer.cnn" --main -o "$tmp/l1.c"
libs=$("$build/cnnc" --libs)
for flags in "-O2" "-O2 -march=native" "-O3 -march=native"; do
    # shellcheck disable=SC2086
    ${CC:-cc} -std=c99 $flags -DPROTO_LAYER_C='"l1.c"' -I"$tmp" -I"$here" -I"$root/runtime" \
        "$here/conv3x3_tile.c" -o "$tmp/proto" $libs -lm
    echo "== cc -std=c99 $flags   ($(uptime | sed 's/.*load/load/'))"
    nice -n 10 "$tmp/proto" "${1:-100}" "${2:-3}"
done
# fma_peak.c timed in CPU time instead of wall-clock (robust to other load)
sed 's/CLOCK_MONOTONIC/CLOCK_THREAD_CPUTIME_ID/' "$root/bench/fma_peak.c" >"$tmp/fma_cpu.c"
for vec in 64 32; do
    ${CC:-cc} -O2 -march=native -ffp-contract=fast -DVEC_BYTES=$vec "$tmp/fma_cpu.c" -o "$tmp/fma"
    echo "FMA peak, $((vec * 8))-bit vectors, CPU time: $("$tmp/fma")"
done
