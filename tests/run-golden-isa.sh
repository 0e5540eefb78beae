#!/usr/bin/env bash
# run-golden-isa.sh - the golden cases with a blocked, depthwise or int8 vector conv layer
# (int8-dot, int8-direct, int8-depthwise), at -O2 and
# plain `cc -O2`, once per instruction set of those kernels' copies
# (CNNRT_ISA=sse, avx2, avx512; issue 15) and once with the portable C99
# kernel (-DCNNC_PORTABLE_KERNELS). Sets the CPU lacks run at the widest set
# it has (cnnrt_cpu_isa never raises the level), so they still pass.
#
#   bash tests/run-golden-isa.sh [case ...]     (default: every such case)
#
# Environment as for run-golden.sh (BUILD, CC, CNNC_EXTRA_CFLAGS, ...).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/golden-case.sh
. "$ROOT/tests/golden-case.sh"
BUILD_DIR=${GOLDEN_BUILD:-${BUILD:-build}}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-golden-isa.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    for d in "$ROOT"/tests/golden/*/; do
        d=${d%/}
        flags=()
        [ -f "$d/flags" ] && read -r -a flags <"$d/flags"
        [ ${#flags[@]} -eq 0 ] || flags=("${flags[@]//@DIR@/$d}") # the case's directory
        if "$BUILD_DIR/cnnc" "$(case_cnn "$d")" -O2 ${flags[@]+"${flags[@]}"} -o "$tmp/s.c" \
            >/dev/null 2>&1 && grep -qE ' (blocked|depthwise|int8-dot|int8-direct|int8-depthwise)$' "$tmp/s.c"; then
            cases+=("$(basename "$d")")
        fi
    done
fi
echo "  GOLDEN  ${#cases[@]} cases with blocked or depthwise conv layers, -O2, per instruction set"
status=0
for isa in sse avx2 avx512 portable; do
    if [ $isa = portable ]; then
        env=(CNNC_EXTRA_CFLAGS="${CNNC_EXTRA_CFLAGS:-} -DCNNC_PORTABLE_KERNELS")
    else
        env=(CNNRT_ISA=$isa)
    fi
    if ! env "${env[@]}" GOLDEN_OPT=-O2 bash "$ROOT/tests/run-golden.sh" "${cases[@]}" \
        >"$tmp/$isa.log" 2>&1; then
        status=1
        grep -v '^PASS' "$tmp/$isa.log" | sed "s/^/[$isa] /"
    fi
    echo "  $isa: $(tail -n 1 "$tmp/$isa.log")"
done
exit $status
