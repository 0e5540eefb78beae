#!/usr/bin/env bash
# Pruning from the command line: the structured-pruned example really has
# fewer channels in its generated code, --summary and --stats report the
# sizes before and after, --sparse-min picks the sparse kernels, and sparse
# and dense kernels compute the same (docs/optimizer.md, "Pruning").
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
example="$root/examples/pruning/fmnist.cnn"
. "$root/tests/check-lib.sh"

# The layer table opening the generated .c: "layer op [output] params MACs kernel".
table() { grep -E '^ \*   (conv|fc)' "$1" | awk '{print $2, $4, $5, $6, $7, $NF}'; }

check "the unpruned example has 32, 64, 128 channels" bash -c "
    '$cnnc' '$example' -o dense.c && grep -qE '^ \*   conv2 .*\[1, 64, 7, 7\]' dense.c &&
    grep -qE '^ \*   fc1 .*\[1, 128\] ' dense.c"
check "-D channels=0.5: conv2 and fc1 lose half their channels in the generated code" bash -c "
    '$cnnc' '$example' -D channels=0.5 -o pruned.c &&
    grep -qE '^ \*   conv2 .*\[1, 32, 7, 7\] +7232 ' pruned.c &&
    grep -qE '^ \*   fc1 .*\[1, 64\] +100416 ' pruned.c &&
    grep -qE '^ \*   conv1 .*\[1, 25, 14, 14\]' pruned.c &&
    grep -q 'for (int co = 0; co < 32; co++)' pruned.c"
check "-D channels=0.5: fewer parameters in the header" bash -c "
    '$cnnc' '$example' -o d.c && '$cnnc' '$example' -D channels=0.5 -o p.c &&
    test \$(sed -n 's/^#define FMNIST_PARAMS //p' p.h) -lt \$(sed -n 's/^#define FMNIST_PARAMS //p' d.h)"
check "-O0 keeps every channel" bash -c "
    '$cnnc' '$example' -D channels=0.5 -O0 -o o0.c && grep -qE '^ \*   conv2 .*\[1, 64, 28, 28\]|^ \*   conv2 .*\[1, 64, 14, 14\]' o0.c"
check "--stats: channels removed and the totals before and after" bash -c "
    '$cnnc' '$example' -D channels=0.5 --stats -o s.c 2>err &&
    grep -qx 'stats: prune-channels: 0 folded, 0 removed, 0 fused, 112624 bytes saved, 103 channels removed' err &&
    grep -qx 'stats: parameters: 422026 -> 108548 (nonzero: 211962 -> 108467)' err &&
    grep -qx 'stats: MACs: 4241152 -> 1688592 (of nonzero weights: 2121216 -> 1625088)' err"
check "--summary: the -O0 table, the -O2 table, the totals before and after" bash -c "
    '$cnnc' '$example' -D channels=0.5 --summary >sum &&
    head -1 sum | grep -qx 'before optimization (-O0): network fmnist, batch 1' &&
    grep -qE '^bn1 +batchnorm +\[1, 32, 28, 28\] +128 +0 +100,352\$' sum &&
    grep -qx 'total: 422,026 parameters (1,688,104 bytes), 4,241,152 MACs' sum &&
    grep -qx 'after optimization: network fmnist, batch 1' sum &&
    grep -qE '^conv1 +conv2d\+relu\+maxpool +\[1, 25, 14, 14\] +250 +176,400 +19,600  fused: \+bn1 \+relu_1 \+maxpool_1\$' sum &&
    grep -qx 'total: 108,548 parameters (434,192 bytes), 1,688,592 MACs' sum &&
    grep -qx 'nonzero weights: 108,467 parameters, 1,625,088 MACs' sum &&
    grep -qxE ' +parameters +422,026 -> +108,548  -74.3%' sum &&
    grep -qxE ' +nonzero MACs +2,121,216 -> +1,625,088  -23.4%' sum &&
    grep -qxE ' +layers +12 -> +5  -58.3%' sum &&
    grep -qxE ' +arena bytes +125,440 -> +47,680  -62.0%' sum"
check "--emit=dot: pruned channel counts and the fused layers" bash -c "
    '$cnnc' '$root/tests/ir/prune_channels.cnn' --emit=dot >p.dot &&
    grep -qF 'label=\"conv1 +bn1 +relu_1 +maxpool_1\\nconv2d+relu+maxpool 3x3/1, 32→25 ch (7 pruned)\\n250 params\"' p.dot &&
    grep -qF 'conv2d+relu+maxpool 3x3/1, 64→32 ch (32 pruned)' p.dot &&
    grep -qF 'linear+relu 128→64 out (64 pruned)' p.dot &&
    grep -qF 'label=\"fc2\\nlinear\\n650 params\"' p.dot &&
    '$cnnc' '$root/tests/ir/prune_channels.cnn' -O0 --emit=dot | grep -qF 'conv2d 3x3/1, 32 ch\\n'"
check "-D sparsity=0.8: the convolutions get sparse kernels, the linears stay dense" bash -c "
    '$cnnc' '$example' -D sparsity=0.8 -o sp.c &&
    grep -qE '^ \*   conv1 .* sparse$' sp.c && grep -qE '^ \*   conv2 .* sparse$' sp.c &&
    grep -qE '^ \*   fc1 .* gemm$' sp.c && grep -q 'fmnist_sparse' sp.c"
check "--sparse-min=0 makes every conv2d and linear sparse, --sparse-min=off none" bash -c "
    '$cnnc' '$example' --sparse-min=0 -o all.c && test \$(grep -cE '^ \*   (conv|fc).* sparse$' all.c) -eq 4 &&
    '$cnnc' '$example' -D sparsity=0.7 --sparse-min=off -o none.c && ! grep -q ' sparse$' none.c &&
    ! grep -q 'fmnist_sparse' none.c"
check "--sparse-min must be a fraction or off" bash -c "
    '$cnnc' '$example' --sparse-min=1.5 2>&1 | grep -qx \"cnnc: error: --sparse-min must be a fraction from 0 to 1 or 'off', not '1.5'\"; test \${PIPESTATUS[0]} -eq 1"
check "sparse and dense kernels agree on the pruned network" bash -c "
    '$cnnc' '$example' -D sparsity=0.7 --main -o s.c && '$cnnc' '$example' -D sparsity=0.7 --sparse-min=off --main -o d.c &&
    $ccs -std=c99 -O2 s.c \$('$cnnc' --cflags) -o s \$('$cnnc' --libs) &&
    $ccs -std=c99 -O2 d.c \$('$cnnc' --cflags) -o d \$('$cnnc' --libs) &&
    '$build/tools/f32gen' 3 784 in.f32 && ./s in.f32 ys.f32 && ./d in.f32 yd.f32 &&
    '$build/tools/f32cmp' ys.f32 yd.f32"
check "a quoted target is a label like any other" bash -c "
    printf 'input x[3, 8, 8]\ninit he(seed=1)\nprune(amount=0.5, structured=true) c, \"0.1\", *\nc: conv2d(4, kernel=3)\n' > p.cnn &&
    '$cnnc' p.cnn -o p.c 2>err; grep -q \"no layer named '0.1'\" err"

check_done prune
