#!/usr/bin/env bash
# check-calib.sh - `make check-calib`: cnnc's own int8 quantization on the
# Fashion-MNIST example (examples/fashion_mnist), end to end: 1,000 training
# images as calibration samples (tools/idx2f32.py, the example's
# preprocessing), the network compiled in float and quantized with each
# observer, every binary run on all 10,000 test images by the example's
# eval.c. Each quantized network must lose at most 0.5 accuracy points
# against float (issue 13). Skips (exit 0) without the data set (Debian:
# dataset-fashion-mnist) or zlib's header. Prints the accuracies.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/check-lib.sh"
data=${FMNIST_DATA:-/usr/share/datasets/fashion-mnist}
ex=$root/examples/fashion_mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ] || [ ! -f "$data/t10k-images-idx3-ubyte.gz" ]; then
    echo "check-calib: skipped (no Fashion-MNIST in $data; Debian: dataset-fashion-mnist)"
    exit 0
fi
if ! echo '#include <zlib.h>' | cc -E -x c - >/dev/null 2>&1; then
    echo "check-calib: skipped (no zlib.h; Debian: zlib1g-dev)"
    exit 0
fi
zlib=$(pkg-config --libs zlib 2>/dev/null || echo -lz)

check "tools/idx2f32.py: 1,000 training images, the example's preprocessing" \
    python3 "$root/tools/idx2f32.py" "$data/train-images-idx3-ubyte.gz" calib.f32 --count 1000 \
    --mean 0.2860 --std 0.3530

accuracy() { # accuracy NAME CNNC-ARGS...: build NAME/eval, print its test-set accuracy
    local name=$1
    shift
    mkdir -p "$name" &&
        (cd "$ex" && "$cnnc" fmnist.cnn -o "$tmp/$name/fmnist.c" "$@") &&
        $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 -I"$name" -o "$name/eval" \
            "$name/fmnist.c" "$ex/eval.c" $("$cnnc" --cflags) $("$cnnc" --libs) $zlib &&
        "$name/eval" --data "$data" --predictions "$ex/pytorch_predictions.bin" \
            --svg "$name/confusion.svg" 2>/dev/null | sed -n 's/^accuracy: \([0-9.]*\)%.*/\1/p'
}

float=$(accuracy float)
check "the float network runs (accuracy '$float')" test -n "$float"
for m in minmax percentile; do
    acc=$(accuracy "$m" --quantize=int8 --calibrate "$tmp/calib.f32" --calibrate-method=$m)
    echo "  fashion-mnist: float $float%, int8 $m $acc%"
    check "int8 $m loses at most 0.5 points ($float -> $acc)" \
        awk -v f="$float" -v q="$acc" 'BEGIN { exit !(q != "" && q >= f - 0.5) }'
done
check_done check-calib
