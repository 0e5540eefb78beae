#!/usr/bin/env bash
# run.sh - round-trip tests of the PyTorch exporter (tools/torch2cnn.py).
#
#   bash tests/export/run.sh [case ...]          (or: make check-export)
#
# For each case: export a model of tests/export/models.py with the exporter's
# command line (--write-example also writes the example input and PyTorch's
# output), compile the .cnn with build/cnnc --main, build and run the program,
# and compare its output with PyTorch's (f32cmp, 1e-4 absolute or relative;
# 1e-5 for eval_identities).
# Then the exporter's own tests (tests/export/test_torch2cnn.py: error
# messages, pruning masks, the text it writes) and tools/cnndiff.py's
# (tests/export/test_cnndiff.py: a perturbed weight is the first divergence).
#
# Needs Debian's python3-torch (and python3-torchvision for resnet18 and
# mobilenet_v2, eval_identities and se_blocks); without torch it says it is skipped and exits 0.
# Environment: PYTHON (default /usr/bin/python3 if present, else python3), CC.
#
# Prints "PASS <case>  max abs err E" or "FAIL <case>: <stage>: <message>" per
# case, then "N passed, M failed". Exits 1 if any case failed.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CNNC=$ROOT/build/cnnc
F32CMP=$ROOT/build/tools/f32cmp
EXPORTER=$ROOT/tools/torch2cnn.py
MODELS=$ROOT/tests/export/models.py
CC=${CC:-cc}
TOL=1e-4
if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
    echo "check-export: skipped: $PYTHON cannot import torch (install python3-torch)"
    exit 0
fi
have_torchvision=1
"$PYTHON" -c 'import torchvision' >/dev/null 2>&1 || have_torchvision=0

for tool in "$CNNC" "$F32CMP"; do
    if [ ! -x "$tool" ]; then
        echo "check-export: ${tool#"$ROOT"/} not found; run make first" >&2
        exit 2
    fi
done
RT_CFLAGS=$("$CNNC" --cflags) && RT_LIBS=$("$CNNC" --libs) || exit 2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-export.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# name | model in tests/export/models.py | input shape | batch [| exporter options]
CASES="
sequential_cnn      | sequential_cnn      | 3,32,24   | 1
lenet5              | LeNet5              | 1,28,28   | 1
fmnist_cnn          | FmnistCNN           | 1,28,28   | 3
cifar_vgg           | cifar_vgg           | 3,32,32   | 2
resnet18            | resnet18            | 3,224,224 | 1
mobilenet_v2        | mobilenet_v2        | 3,224,224 | 1
tiny_fpn            | TinyFPN             | 3,32,32   | 2
convt_decoder       | ConvTDecoder        | 3,12,10   | 2
pruned_unstructured | pruned_unstructured | 3,16,16   | 1
pruned_structured   | pruned_structured   | 3,16,16   | 1
pruned_masks        | pruned_unstructured | 3,16,16   | 1 | --keep-masks
pruned_struct_masks | pruned_structured   | 3,16,16   | 1 | --keep-masks
functional          | Functional          | 3,14,13   | 2
resample            | Resample            | 3,10,7    | 1
eval_identities     | eval_identities     | 3,12,10   | 2
convnext_like       | convnext_like       | 3,10,8    | 2
shuffle_like        | shuffle_like        | 3,12,10   | 2
arith               | Arith               | 3,7,5     | 2
se_blocks           | se_blocks           | 3,12,10   | 2
mirror_pads         | MirrorPads          | 3,7,6     | 2
"
# Tighter tolerances for some cases: FrozenBatchNorm2d as cnnc's batchnorm is exact
# to 1e-5.
case_tol() {
    case $1 in
    eval_identities) echo 1e-5 ;;
    *) echo "$TOL" ;;
    esac
}

summary() { # the first lines of a log, on one line
    grep -v '^[[:space:]]*$' "$1" | head -n 4 | awk '{ printf "%s%s", (NR > 1 ? " | " : ""), $0 }'
}

passed=0
failed=0
fail() {
    echo "FAIL $1: $2: $3"
    failed=$((failed + 1))
}

while IFS='|' read -r name model shape batch opts; do
    name=$(echo $name)
    [ -z "$name" ] && continue
    model=$(echo $model) shape=$(echo $shape) batch=$(echo $batch) opts=$(echo $opts)
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
        continue
    fi
    if [ "$have_torchvision" = 0 ] && case $model in resnet18 | mobilenet_v2 | eval_identities | convnext_like | shuffle_like | se_blocks) true ;; *) false ;; esac; then
        echo "SKIP $name (needs python3-torchvision)"
        continue
    fi
    w=$tmp/$name
    mkdir -p "$w"
    log=$w/log
    # shellcheck disable=SC2086
    if ! "$PYTHON" "$EXPORTER" "$MODELS:$model" --input "$shape" --batch "$batch" $opts \
        -o "$w/$name.cnn" --write-example >"$log" 2>&1; then
        fail "$name" export "$(summary "$log")"
        continue
    fi
    if ! "$CNNC" "$w/$name.cnn" --batch "$batch" --main -o "$w/net.c" >"$log" 2>&1; then
        fail "$name" cnnc "$(summary "$log")"
        continue
    fi
    # shellcheck disable=SC2086
    if ! $CC -std=c99 -O2 "$w/net.c" $RT_CFLAGS -o "$w/prog" $RT_LIBS >"$log" 2>&1; then
        fail "$name" cc "$(summary "$log")"
        continue
    fi
    if ! "$w/prog" "$w/$name.input.f32" "$w/out.f32" >"$log" 2>&1; then
        fail "$name" run "$(summary "$log")"
        continue
    fi
    if ! "$F32CMP" --tol "$(case_tol "$name")" "$w/out.f32" "$w/$name.expected.f32" >"$log" 2>&1; then
        fail "$name" compare "$(summary "$log")"
        continue
    fi
    err=$(sed -n 's/.*max abs err \([^,]*\),.*/\1/p' "$log")
    printf 'PASS %-20s max abs err %s\n' "$name" "$err"
    passed=$((passed + 1))
    rm -rf "$w"
done <<<"$CASES"

if [ $# -eq 0 ]; then
    for t in test_torch2cnn:exporter test_cnndiff:cnndiff; do
        if "$PYTHON" "$ROOT/tests/export/${t%%:*}.py" >"$tmp/unit.log" 2>&1; then
            echo "PASS ${t#*:} unit tests ($(grep -o 'Ran [0-9]* tests' "$tmp/unit.log"))"
            passed=$((passed + 1))
        else
            cat "$tmp/unit.log"
            fail "${t#*:} unit tests" python "see above"
        fi
    done
fi

echo "export: $passed passed, $failed failed"
[ $failed -eq 0 ]
