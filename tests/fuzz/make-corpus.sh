#!/usr/bin/env bash
# make-corpus.sh - (re)write the committed seed corpus tests/fuzz/corpus/TARGET/
# from the test cases: every .cnn under tests/golden, tests/errors and examples
# for `parse`; every small safetensors file for `safetensors`; and for
# `pipeline` each such .cnn with its weights appended after the "#@weights" line.
# Files over 64 KB are left out (the fuzzers' -max_len). Run after adding tests.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/tests/fuzz/corpus
max=65536
rm -rf "$out"
mkdir -p "$out/parse" "$out/safetensors" "$out/pipeline"

. "$root/tests/golden-case.sh"

small() { [ "$(stat -c %s "$1")" -le $max ]; }

# seed NAME CNN [WEIGHTS]
seed() {
    cp "$2" "$out/parse/$1.cnn"
    if [ -n "${3:-}" ] && small "$3"; then
        cp "$3" "$out/safetensors/$1.safetensors"
        { cat "$2"; printf '\n#@weights\n'; cat "$3"; } >"$out/pipeline/$1"
    else
        cp "$2" "$out/pipeline/$1"
    fi
}

for d in "$root"/tests/golden/*/; do
    name=golden-$(basename "$d")
    w=
    [ -f "$d/weights.safetensors" ] && w=$d/weights.safetensors
    seed "$name" "$(case_cnn "$d")" "$w"
done
for f in "$root"/tests/errors/*.cnn; do
    base=${f%.cnn}
    w=
    [ -f "$base.safetensors" ] && w=$base.safetensors
    seed "errors-$(basename "$base")" "$f" "$w"
done
for f in "$root"/examples/*/*.cnn; do
    seed "example-$(basename "${f%.cnn}")" "$f"
done
for f in "$root"/tests/cli/*.safetensors; do
    small "$f" && cp "$f" "$out/safetensors/cli-$(basename "$f")"
done
for t in parse safetensors pipeline; do
    echo "$t: $(ls "$out/$t" | wc -l) files, $(du -sk "$out/$t" | cut -f1) KB"
done
