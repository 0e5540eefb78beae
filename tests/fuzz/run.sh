#!/usr/bin/env bash
# run.sh - run the libFuzzer targets built by `make fuzz-build`.
#
#   bash tests/fuzz/run.sh BUILD SECONDS TARGET...   run each TARGET for SECONDS
#   bash tests/fuzz/run.sh --available CC            exit 0 if CC can build a fuzzer
#
# Each target starts from its committed seeds (tests/fuzz/corpus/TARGET) plus
# what earlier runs found (BUILD/corpus/TARGET, where new inputs go), with the
# dictionary tests/fuzz/cnn.dict for the .cnn targets. A crash, leak, timeout
# or out-of-memory is saved in BUILD/crashes/ and fails the run.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" = --available ]; then
    cc=${2:-clang-14}
    command -v "$cc" >/dev/null 2>&1 || exit 1
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$tmp/t.c"
    "$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1
    exit $?
fi

# CPU seconds (user + system) used so far by this script's finished children.
# `times` runs in this shell (a command substitution would be a fresh process
# with no children), into a file.
children_cpu() {
    times >"$build/.times"
    tail -1 "$build/.times" | awk '{
        t = 0
        for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] }
        printf "%d\n", t }'
}

build=$1 seconds=$2
shift 2
case $build in /*) ;; *) build=$root/$build ;; esac
mkdir -p "$build/crashes"
status=0 pass=0 fail=0
for t in "$@"; do
    corpus=$build/corpus/$t
    mkdir -p "$corpus"
    dict=()
    [ "$t" != safetensors ] && dict=(-dict="$root/tests/fuzz/cnn.dict")
    echo "  FUZZ    $t (${seconds}s)"
    log=$build/fuzz-$t.log
    children_cpu >"$build/.cpu0"
    # -close_fd_mask=2: the compiler's diagnostics go nowhere; libFuzzer's and
    # the sanitizers' reports still reach the log.
    if ! "$build/fuzz/fuzz_$t" "$corpus" "$root/tests/fuzz/corpus/$t" ${dict[@]+"${dict[@]}"} \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -close_fd_mask=2 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$t-" >"$log" 2>&1; then
        echo "FAIL fuzz $t: see $log"
        grep -m 5 -e 'ERROR' -e 'SUMMARY' -e 'Test unit written' "$log" | sed 's/^/    | /'
        status=1 fail=$((fail + 1))
        continue
    fi
    pass=$((pass + 1))
    # -max_total_time is wall-clock time: on a busy machine the CPU time is less.
    children_cpu >"$build/.cpu1"
    echo "    cpu_seconds: $(($(cat "$build/.cpu1") - $(cat "$build/.cpu0")))"
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|cov: ' "$log" | tail -3 |
        sed 's/^/    /'
done
echo "fuzz: $pass passed, $fail failed"
exit $status
