#!/usr/bin/env bash
# differential.sh - the differential fuzzer of the generated code (issue 14).
#
#   bash tests/fuzz/differential.sh [--count N] [--seconds S] [--seed FIRST]
#
# Each network is tests/fuzz/gen_net.c's for one seed (FIRST, FIRST+1, ...;
# FIRST defaults to one drawn from the clock, printed): a random valid network
# of every op with extreme but legal attributes, batch 1 to 3. It is compiled
# by cnnc three times, -O0, -O2 and -O2 --threads 2; each C file is compiled
# with -std=c99 -Wall -Wextra -pedantic -Werror -O2 and ASan+UBSan (any report
# fatal; -fopenmp for the threaded one) and run on the seeded input. The runs
# must agree: -O2 with -O0, --threads 2 with -O2, and, where /usr/bin/python3
# has torch, both -O0 and -O2 with PyTorch (tests/fuzz/torch_ref.py, by
# torch.nn.functional), all within TOL (abs or rel, f32cmp's rule; default
# 1e-4, the golden tests' tolerance). Networks are generated and their
# references computed in batches of 16 (one Python start per batch).
#
# Runs until N networks (default 20) or S seconds (then the batch in progress
# is finished), whichever comes first when both are given. A cnnc failure,
# a compile error or warning, a crash, a sanitizer report, a time-out
# (FUZZDIFF_TIMEOUT s, default 30) or a mismatch is a finding: the case
# directory (net.cnn, flags, input.seed, expected.f32 when PyTorch ran; a
# golden case as tests/run-golden.sh reads it) and a `finding` file with the
# stage and the log go to FINDINGS/seed-N (default BUILD/fuzzdiff/findings),
# and the run exits 1. Prints the networks run, the ops drawn (and any op of
# compiler/ops.h never drawn, when N >= 100), the cases PyTorch could not
# run (attributes past its int32 limits), and the CPU time.
#
# Environment: BUILD (default build: its cnnc, runtime, tools and
# tools/gen_net), CC (default cc), FUZZDIFF_TOL, FUZZDIFF_TIMEOUT,
# FUZZDIFF_FINDINGS, FUZZDIFF_TORCH=0 (skip PyTorch even where present).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc=$build/cnnc gen=$build/tools/gen_net f32gen=$build/tools/f32gen f32cmp=$build/tools/f32cmp
cc=${CC:-cc}
tol=${FUZZDIFF_TOL:-1e-4}
limit=${FUZZDIFF_TIMEOUT:-30}
findings=${FUZZDIFF_FINDINGS:-$build/fuzzdiff/findings}
count= seconds= seed=
while [ $# -gt 0 ]; do
    case $1 in
    --count) count=$2 ;;
    --seconds) seconds=$2 ;;
    --seed) seed=$2 ;;
    *)
        echo "usage: differential.sh [--count N] [--seconds S] [--seed FIRST]" >&2
        exit 2
        ;;
    esac
    shift 2 || exit 2
done
[ -z "$count" ] && [ -z "$seconds" ] && count=20
[ -z "$seed" ] && seed=$(($(date +%s%N) % 1000000007 * 1000))
for tool in "$cnnc" "$gen" "$f32gen" "$f32cmp"; do
    if [ ! -x "$tool" ]; then
        echo "differential: ${tool#"$root"/} not found; run make first" >&2
        exit 2
    fi
done
torch=0
if [ "${FUZZDIFF_TORCH:-1}" != 0 ] && /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    torch=1
fi
rt_cflags=$("$cnnc" --cflags) && rt_libs=$("$cnnc" --libs) || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-fuzzdiff.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
export OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
variants=("-O0" "-O2" "-O2 --threads 2")

# found DIR SEED STAGE LOG: keep the case and say why.
nfound=0
found() {
    local dest=$findings/seed-$2
    mkdir -p "$dest"
    cp "$1"/net.cnn "$1"/flags "$1"/input.seed "$dest"/
    [ -f "$1/expected.f32" ] && cp "$1/expected.f32" "$dest"/
    { echo "$3"; head -c 4000 "$4"; } >"$dest/finding"
    echo "FINDING seed $2: $3: $(grep -v '^[[:space:]]*$' "$4" | head -n 2 | tr '\n' ' ' | cut -c1-300)"
    echo "    saved in ${dest#"$root"/}"
    nfound=$((nfound + 1))
}

# run_variant DIR IDX OPTS: cnnc, cc, run; leaves DIR/vIDX/out.f32 or returns 1.
run_variant() {
    local dir=$1 n log omp= v
    v=$dir/v$2
    local -a opts flags
    read -r -a opts <<<"$3"
    read -r -a flags <"$dir/flags"
    mkdir -p "$v"
    log=$v/log
    if ! timeout -k 5 "$limit" "$cnnc" "$dir/net.cnn" --main -o "$v/net.c" "${opts[@]}" "${flags[@]}" >"$log" 2>&1; then
        found "$dir" "$seed_of" "cnnc $3 failed" "$log"
        return 1
    fi
    [[ $3 == *threads* ]] && omp=-fopenmp
    # shellcheck disable=SC2086
    if ! $cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 "${san[@]}" $omp "$v/net.c" $rt_cflags \
        -o "$v/prog" $rt_libs >"$log" 2>&1; then
        found "$dir" "$seed_of" "cc of cnnc $3 output failed" "$log"
        return 1
    fi
    if [ ! -f "$dir/input.f32" ]; then
        n=$(sed -n -E 's/^#define [A-Za-z0-9_]+_SIZE ([0-9]+).*/\1/p' "$v/net.h" | head -n 1)
        "$f32gen" "$(cat "$dir/input.seed")" "${n:-0}" "$dir/input.f32" >"$log" 2>&1 || {
            found "$dir" "$seed_of" "f32gen failed" "$log"
            return 1
        }
    fi
    (cd "$v" && timeout -k 5 "$limit" ./prog "$dir/input.f32" "$v/out.f32") >"$log" 2>&1
    local st=$?
    sed -i -E '/: line [0-9]+: +[0-9]+ /d' "$log"
    if [ $st -ne 0 ] || grep -q -e 'runtime error:' -e 'Sanitizer' "$log"; then
        found "$dir" "$seed_of" "run of cnnc $3 output (exit $st)" "$log"
        return 1
    fi
}

# compare DIR A B WHAT: f32cmp A B, a finding if they differ.
compare() {
    if ! "$f32cmp" --tol "$tol" "$2" "$3" >"$1/cmp.log" 2>&1; then
        found "$1" "$seed_of" "mismatch: $4" "$1/cmp.log"
        return 1
    fi
}

start=$SECONDS nets=0 skipped=0 next=$seed
declare -A drawn
echo "  FUZZDIFF first seed $seed, ${count:+$count networks}${count:+${seconds:+ or }}${seconds:+${seconds}s}, PyTorch: $([ $torch = 1 ] && echo yes || echo no)"
while :; do
    [ -n "$count" ] && [ "$nets" -ge "$count" ] && break
    [ -n "$seconds" ] && [ $((SECONDS - start)) -ge "$seconds" ] && break
    batch=()
    for _ in $(seq 16); do
        [ -n "$count" ] && [ $((nets + ${#batch[@]})) -ge "$count" ] && break
        d=$tmp/seed-$next
        mkdir -p "$d"
        if ! ops=$("$gen" "$next" "$d"); then
            echo "differential: gen_net $next failed" >&2
            exit 2
        fi
        for op in $ops; do drawn[$op]=$((${drawn[$op]:-0} + 1)); done
        batch+=("$d")
        next=$((next + 1))
    done
    if [ $torch = 1 ] && ! /usr/bin/python3 "$root/tests/fuzz/torch_ref.py" "${batch[@]}" >"$tmp/torch.log" 2>&1; then
        echo "differential: torch_ref.py failed:" >&2
        cat "$tmp/torch.log" >&2
        exit 2
    fi
    for d in "${batch[@]}"; do
        seed_of=${d##*seed-}
        nets=$((nets + 1))
        ok=1
        for i in "${!variants[@]}"; do
            run_variant "$d" "$i" "${variants[i]}" || { ok=0; break; }
        done
        if [ $ok = 1 ]; then
            compare "$d" "$d/v1/out.f32" "$d/v0/out.f32" "-O2 against -O0" &&
                compare "$d" "$d/v2/out.f32" "$d/v1/out.f32" "--threads 2 against -O2" &&
                if [ -f "$d/expected.f32" ]; then
                    compare "$d" "$d/v0/out.f32" "$d/expected.f32" "-O0 against PyTorch" &&
                        compare "$d" "$d/v1/out.f32" "$d/expected.f32" "-O2 against PyTorch"
                fi
        fi
        if [ -f "$d/torch_skipped" ]; then
            skipped=$((skipped + 1))
            echo "    seed $seed_of: PyTorch cannot run it: $(head -n 1 "$d/torch_skipped")"
        fi
        rm -rf "$d"
    done
done

line=
for op in $(printf '%s\n' "${!drawn[@]}" | sort); do line="$line $op ${drawn[$op]},"; done
echo "    ops drawn:${line%,}"
if [ "$nets" -ge 100 ]; then
    never=
    for op in $(sed -n 's/^OP([A-Z0-9_]*, "\([a-z0-9_]*\)".*/\1/p' "$root/compiler/ops.h"); do
        [ -z "${drawn[$op]:-}" ] && never="$never $op"
    done
    [ -n "$never" ] && echo "    ops never drawn:$never"
fi
echo "    networks: $nets (seeds $seed to $((next - 1))), $((SECONDS - start)) s wall, PyTorch skipped $skipped"
echo "    cpu (this shell, then its children; user system):"
# (`times` into a file: in a pipeline it would run in a subshell without children)
times >"$tmp/times"
sed 's/^/      /' "$tmp/times"
echo "fuzzdiff: $nets networks, $nfound findings"
[ "$nfound" -eq 0 ]
