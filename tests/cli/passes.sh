#!/usr/bin/env bash
# Command-line behaviour of the optimizer: -O0/-O2, -fno-PASS/-fPASS,
# --dump-after, --stats (docs/optimizer.md).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/check-lib.sh"

cat >net.cnn <<'CNN'
network small
input x[3, 8, 8]
init he(seed=7)
feat = c1: conv2d(4, kernel=3, pad=1, bias=false) -> bn: batchnorm -> relu -> maxpool(2)
side = feat -> tanh
feat -> flatten -> dropout
fc: linear(10)
CNN
passes="eliminate-identity dce fold-batchnorm prune-channels quantize fuse-activation fuse-pool"

check "--help lists every pass" bash -c "for p in $passes; do '$cnnc' --help | grep -q \"^    \$p \" || exit 1; done"
check "-fno- of an unknown pass is an error" bash -c "'$cnnc' -fno-frob net.cnn 2>&1 | grep -q \"unknown pass in '-fno-frob'\"; test \${PIPESTATUS[0]} -eq 1"
check "--dump-after of an unknown pass is an error" bash -c "'$cnnc' --dump-after=frob net.cnn 2>&1 | grep -q \"unknown pass 'frob'\"; test \${PIPESTATUS[0]} -eq 1"
check "--dump-after prints the IR after that pass to stderr" bash -c "
    '$cnnc' net.cnn --emit=ir --dump-after=fold-batchnorm >out 2>err &&
    test \"\$(grep -A1 '^# after' err)\" = \"# after fold-batchnorm
graph small batch=1\" && grep -q '= relu ' err && ! grep -q '= batchnorm' err && ! grep -q '^# after' out"
check "--dump-after=all dumps after each pass, in order" bash -c "
    '$cnnc' net.cnn -o o.c --dump-after=all 2>err &&
    test \"\$(grep '^# after' err | tr '\n' ' ')\" = '# after eliminate-identity # after dce # after fold-batchnorm # after prune-channels # after quantize (not run) # after fuse-activation # after fuse-pool '"
check "a pass that does not run is dumped as such" bash -c "'$cnnc' net.cnn -O0 -o o.c --dump-after=dce 2>&1 | grep -qx '# after dce (not run)'"
check "--stats: one line per pass, then the arena" bash -c "
    '$cnnc' net.cnn -o o.c --stats 2>err &&
    grep -qx 'stats: eliminate-identity: 0 folded, 1 removed, 0 fused, 0 bytes saved' err &&
    grep -qx 'stats: dce: 0 folded, 1 removed, 0 fused, 256 bytes saved' err &&
    grep -qx 'stats: fold-batchnorm: 1 folded, 0 removed, 0 fused, 1024 bytes saved' err &&
    grep -qx 'stats: prune-channels: 0 folded, 0 removed, 0 fused, 0 bytes saved' err &&
    grep -qx 'stats: quantize: not run' err &&
    grep -qx 'stats: fuse-activation: 0 folded, 0 removed, 1 fused, 1024 bytes saved' err &&
    grep -qx 'stats: fuse-pool: 0 folded, 0 removed, 1 fused, 1024 bytes saved' err &&
    grep -qx 'stats: parameters: 774 -> 762 (nonzero: 774 -> 762)' err &&
    grep -qx 'stats: MACs: 7552 -> 7552 (of nonzero weights: 7552 -> 7552)' err &&
    grep -qE '^stats: arena: [0-9]+ bytes$' err && test \$(grep -c '^stats:' err) -eq 10"
check "--stats at -O0: no pass runs" bash -c "'$cnnc' net.cnn -O0 -o o.c --stats 2>&1 | grep -c 'not run\$' | grep -qx 7"
check "the dead branch is removed with a warning at -O2 only" bash -c "
    '$cnnc' net.cnn -o o.c 2>err && grep -q \"warning: tanh 'tanh_1' does not contribute to any output; removed\" err &&
    '$cnnc' net.cnn -O0 -o o.c 2>err && test ! -s err"
check "-O2 with every pass disabled is -O0" bash -c "
    mkdir -p a b && '$cnnc' net.cnn -O0 -o a/n.c && '$cnnc' net.cnn $(printf ' -fno-%s' $passes) -o b/n.c &&
    cmp a/n.c b/n.c"
check "-fPASS runs one pass at -O0; '_' and '-' are the same" bash -c "
    '$cnnc' net.cnn -O0 -ffold_batchnorm --emit=ir >ir && ! grep -q '= batchnorm' ir && grep -q '= relu' ir && grep -q '= dropout' ir"
check "-fno-PASS skips one pass at -O2" bash -c "
    '$cnnc' net.cnn -fno-fuse-pool --emit=ir >ir && grep -q '= maxpool' ir && grep -q 'act=relu' ir"
check "-O0 and -O2 programs agree" bash -c "
    '$cnnc' net.cnn -O0 --main -o o0.c && '$cnnc' net.cnn --main -o o2.c 2>/dev/null &&
    $ccs -std=c99 -O2 o0.c \$('$cnnc' --cflags) -o o0 \$('$cnnc' --libs) &&
    $ccs -std=c99 -O2 o2.c \$('$cnnc' --cflags) -o o2 \$('$cnnc' --libs) &&
    head -c 768 /dev/urandom > in.f32 && ./o0 in.f32 y0.f32 && ./o2 in.f32 y2.f32 &&
    '$build/tools/f32cmp' y2.f32 y0.f32"
check "the fused program's arena is smaller" bash -c "
    '$cnnc' net.cnn -O0 -o a.c && '$cnnc' net.cnn -o b.c 2>/dev/null &&
    a=\$(sed -n 's/.*SMALL_ARENA_BYTES \([0-9]*\).*/\1/p' a.h) && b=\$(sed -n 's/.*SMALL_ARENA_BYTES \([0-9]*\).*/\1/p' b.h) &&
    test \$b -lt \$a"

check "--summary and --emit=dot name what is fused" bash -c "
    '$cnnc' net.cnn --summary 2>/dev/null | grep -qE '^c1 +conv2d\+relu\+maxpool +\[1, 4, 4, 4\]' &&
    '$cnnc' net.cnn --emit=dot 2>/dev/null | grep -q 'conv2d+relu+maxpool 3x3/1, 4 ch'"

check_done passes
