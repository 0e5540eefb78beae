# hostile2.sh - sourced by driver.sh (same $tmp, $cnnc and counters): hostile
# attribute values and generated-program arguments (issue 14, round 2).

# A conv whose stride is 2^31 reads only padding; as a sparse kernel its
# phases (stride squared) overflowed 64 bits and the program wrote past its
# arena. Its output is the bias at -O0 and -O2 alike.
printf 'input x[2,1,1]\ninit he(seed=1)\nc: conv2d(1, kernel=1, stride=2147483648, pad=1)\nprune(amount=1) c\n' >h2stride.cnn
check "a pruned conv with stride 2^31 runs, and -O2 gives -O0's output" bash -c "
    '$cnnc' h2stride.cnn -O0 --main -o s0.c && '$cnnc' h2stride.cnn --main -o s2.c &&
    $ccs -std=c99 -O1 s0.c \$('$cnnc' --cflags) -o s0 \$('$cnnc' --libs) &&
    $ccs -std=c99 -O1 s2.c \$('$cnnc' --cflags) -o s2 \$('$cnnc' --libs) &&
    printf '\\x00\\x00\\x80\\x3f\\x00\\x00\\x00\\x40' > s.in && ./s0 s.in s0.out && ./s2 s.in s2.out && cmp s0.out s2.out"

# The generated programs parse --bench and --tol strictly: a message naming
# the value, the usage, exit status 2, and nothing run.
printf 'network g\ninput x[2]\ninit he\nfc: linear(2)\n' >h2main.cnn
check "--main's --bench takes 0 to 10000 only; --emit=test's --tol a finite number >= 0" bash -c "
    '$cnnc' h2main.cnn --main -o gm.c && $ccs -std=c99 -Wall -Wextra -pedantic -Werror gm.c \$('$cnnc' --cflags) -o gm \$('$cnnc' --libs) &&
    '$cnnc' h2main.cnn --emit=test -o gt.c && $ccs -std=c99 -Wall -Wextra -pedantic -Werror gt.c \$('$cnnc' --cflags) -o gt \$('$cnnc' --libs) &&
    head -c 8 /dev/zero > gi.f32 && ./gm gi.f32 ge.f32 &&
    for v in x 99999999999 -1 ' 5' 5x '' 10001; do
        timeout 10 ./gm --bench \"\$v\" gi.f32 go.f32 > gm.out 2> gm.err; test \$? -eq 2 || exit 1
        test ! -s gm.out && test ! -e go.f32 || exit 1
        head -1 gm.err | grep -qxF \"./gm: --bench N must be an integer from 0 to 10000, not '\$v'\" || exit 1
        grep -qxF 'usage: ./gm [--bench N] x.f32 OUT.f32' gm.err || exit 1
    done &&
    ./gm --bench x --bench 3 gi.f32 go.f32 2>/dev/null; test \$? -eq 2 && test ! -e go.f32 &&
    ./gm --bench 0 gi.f32 go.f32 && ./gm --bench 2 gi.f32 go.f32 | grep -q '^median_ms=' &&
    for v in x -1 inf nan 1e999 '' 0.5x; do
        ./gt --tol \"\$v\" gi.f32 ge.f32 > gt.out 2> gt.err; test \$? -eq 2 || exit 1
        test ! -s gt.out || exit 1
        head -1 gt.err | grep -qxF \"./gt: --tol T must be a finite number of at least 0, not '\$v'\" || exit 1
    done &&
    ./gt --tol 0 gi.f32 ge.f32 > /dev/null && ./gt --tol 1e-3 gi.f32 ge.f32 > /dev/null"

# Labels composed in blocks may be far longer than one 255-byte label; the
# output's name was cut at 573 bytes in NAME_run's body, not its signature.
long250=$(printf 'a%.0s' $(seq 250))
printf 'input x[4]\ninit he\nblock b() {\n    %s: linear(2)\n}\nblock c() {\n    %s: b()\n}\n%s: c()\n' \
    "$long250" "$long250" "$long250" >h2long.cnn
check "a 752-byte composed label as the output gives C that compiles and runs" bash -c "
    '$cnnc' h2long.cnn --main --dump-tensors -o h2l.c &&
    grep -qF '(x, ${long250}_${long250}_${long250});' h2l.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror h2l.c \$('$cnnc' --cflags) -o h2l \$('$cnnc' --libs) &&
    head -c 16 /dev/zero > h2l.in && ./h2l h2l.in h2l.out && test \$(stat -c %s h2l.out) -eq 8"

# prune-channels tracks one unit per channel, and a flat tensor's channels
# are its features: it skips networks with nothing to prune or too many units.
printf 'input x[1073741824]\nrelu\n' >h2flat.cnn
printf 'input x[4194304]\ninit he\nrelu\nfc: linear(1)\nprune(amount=1.0) fc\n' >h2flat2.cnn
# (ASan reserves terabytes of address space: no ulimit -v for a sanitizer build)
vlimit="ulimit -v 1000000"
grep -q __asan_init "$cnnc" && vlimit=:
check "prune-channels on 2^30-feature flat tensors: fast, small, same IR as -fno-prune-channels" bash -c "
    ( $vlimit; timeout 10 '$cnnc' h2flat.cnn --emit=ir > f1.ir ) &&
    '$cnnc' h2flat.cnn -fno-prune-channels --emit=ir | cmp - f1.ir &&
    ( $vlimit; timeout 10 '$cnnc' h2flat2.cnn --emit=ir > f2.ir ) &&
    '$cnnc' h2flat2.cnn -fno-prune-channels --emit=ir | cmp - f2.ir"

# A channel whose weights are zero (constant 0 after relu) read by a +inf
# weight: the dense network gives NaN (0 * inf), so prune-channels keeps it
# and -O2 gives -O0's NaNs, not finite values.
cp "$root/tests/cli/inf_weight.safetensors" .
printf 'input x[1,2,2]\nweights "inf_weight.safetensors"\nc1: conv2d(2, kernel=1) -> relu\nc2: conv2d(1, kernel=1)\n' >h2inf.cnn
check "prune-channels keeps a zeroed channel that a +inf weight reads: -O2 equals -O0" bash -c "
    '$cnnc' h2inf.cnn -O0 --main -o i0.c && '$cnnc' h2inf.cnn --main -o i2.c &&
    '$cnnc' h2inf.cnn --emit=ir | grep -q '%relu_1 \[1, 2, 2, 2\]' &&
    $ccs -std=c99 i0.c \$('$cnnc' --cflags) -o i0 \$('$cnnc' --libs) &&
    $ccs -std=c99 i2.c \$('$cnnc' --cflags) -o i2 \$('$cnnc' --libs) &&
    printf '\\x00\\x00\\x80\\x3f\\x00\\x00\\x00\\x40\\x00\\x00\\x40\\x40\\x00\\x00\\x80\\x40' > i.in &&
    ./i0 i.in i0.out && ./i2 i.in i2.out && cmp i0.out i2.out"

# Pools with a kernel of 2^31: the window is computed in long long and visits
# only the taps inside the plane (int overflowed: UBSan); such a pool is not
# fused into the conv before it (its fused loops ran 2^62 taps, or unrolled
# a million taps into hundreds of MB of C). All ones: the avgpool's divisor
# is 2^31 * 2^31 (count_include_pad), 16 / 2^62 = 2^-58 (bits 22800000).
ubsan="-fsanitize=undefined -fno-sanitize-recover=all"
printf 'input x[1,4,4]\navgpool(2147483648, pad=1073741824, ceil_mode=true)\n' >h2avg.cnn
printf 'input x[1,4,4]\nmaxpool(2147483648, pad=1073741824, ceil_mode=true)\n' >h2max.cnn
printf 'input x[1,4,4]\ninit he\nc: conv2d(2, kernel=1) -> maxpool(2147483648, pad=1073741824, ceil_mode=true)\n' >h2cmax.cnn
check "avgpool and maxpool with kernel 2^31: no int overflow, PyTorch's values" bash -c "
    printf '\\x00\\x00\\x80\\x3f%.0s' \$(seq 16) > ones.in &&
    printf '\\x00\\x00\\x80\\x3f\\x00\\x00\\x00\\x40\\x00\\x00\\x40\\x40\\x00\\x00\\x80\\x40%.0s' 1 2 3 4 > seq.in &&
    '$cnnc' h2avg.cnn --main -o pa.c && $ccs $ubsan -std=c99 pa.c \$('$cnnc' --cflags) -o pa \$('$cnnc' --libs) &&
    timeout 10 ./pa ones.in pa.out && test \"\$(od -An -tx4 pa.out | tr -d ' ')\" = 22800000 &&
    '$cnnc' h2max.cnn --main -o pm.c && $ccs $ubsan -std=c99 pm.c \$('$cnnc' --cflags) -o pm \$('$cnnc' --libs) &&
    timeout 10 ./pm seq.in pm.out && test \"\$(od -An -tx4 pm.out | tr -d ' ')\" = 40800000"
check "conv -> maxpool(2^31) stays unfused, runs, and -O2 equals -O0" bash -c "
    '$cnnc' h2cmax.cnn --emit=ir > cm.ir && ! grep -q 'pool=' cm.ir &&
    '$cnnc' h2cmax.cnn -O0 --main -o cm0.c && '$cnnc' h2cmax.cnn --main -o cm2.c &&
    $ccs $ubsan -std=c99 cm0.c \$('$cnnc' --cflags) -o cm0 \$('$cnnc' --libs) &&
    $ccs $ubsan -std=c99 cm2.c \$('$cnnc' --cflags) -o cm2 \$('$cnnc' --libs) &&
    timeout 10 ./cm0 seq.in cm0.out && timeout 10 ./cm2 seq.in cm2.out && cmp cm0.out cm2.out"

# docs/language.md, Limits: cnnc's time, memory and output do not grow with
# attribute values. Small tensors, attributes up to 2^31: each compile at
# -O0 and -O2 takes under 5 s and writes under 1 MB of C (the outputs were
# 141 MB for the upsample, 323 MB for the maxpool; 2^30 timed out).
cat >h2huge.txt <<'CNN'
input x[1,1,2]|upsample(size=(1, 4194304), mode="bilinear")
input x[1,1,2]|upsample(size=(1, 1073741824), mode="bilinear")
input x[1,1,2]|upsample(size=(1073741824, 1))
input x[1,2,1]|upsample(scale=(536870912, 1), mode="bilinear")
input x[1,1,2]|adaptive_avgpool(size=(1, 1073741824))
input x[1,1,2]|adaptive_avgpool((1073741824, 1))
input x[64,3,3]|conv2d(64, kernel=3, pad=1) -> maxpool(1000001, pad=500000)
input x[4,3,3]|conv2d(4, kernel=3, pad=1) -> avgpool(1000001, pad=500000, ceil_mode=true)
input x[1,4,4]|conv2d(2, kernel=1) -> maxpool(2147483648, pad=1073741824, ceil_mode=true)
input x[1,1,2147483]|conv2d(2, kernel=1) -> maxpool((1, 3), stride=2147483648, pad=(0, 1), dilation=(1, 1073741), ceil_mode=true)
input x[1,4,4]|avgpool(2147483648, pad=1073741824, ceil_mode=true, count_include_pad=false)
input x[2,4,4]|conv2d(2, kernel=3, stride=2147483648, pad=1073741824, dilation=1073741824)
input x[2,4,4]|c: conv2d(2, kernel=1, stride=2147483648, pad=1)|prune(amount=0.5) c
input x[2,4,4]|conv2d(4, kernel=3, stride=(1, 2147483648), pad=(1, 2147483648), groups=2) -> relu
CNN
check "small tensors, huge attributes: each compile < 5 s and < 1 MB of C" bash -c "
    while IFS= read -r spec; do
        printf '%s\ninit he(seed=1)\n' \"\${spec%%|*}\" > hh.cnn && printf '%s\n' \"\${spec#*|}\" | tr '|' '\n' >> hh.cnn
        for O in -O0 -O2; do
            rm -f hh.c; ( ulimit -f 1024; timeout 5 '$cnnc' \$O hh.cnn -o hh.c ) 2> hh.err ||
                { echo \"\$O \$spec: failed: \$(head -1 hh.err)\"; exit 1; }
            test \$(stat -c %s hh.c) -lt 1000000 || { echo \"\$O \$spec: \$(stat -c %s hh.c) bytes\"; exit 1; }
        done
    done < h2huge.txt"

# A maxpool fused into a pointwise conv pools band rows with two stack
# arrays of the pooled width: a 2^17-column row overflowed a 1 MiB stack.
printf 'input x[1,1,262144]\ninit he\nconv2d(8, kernel=1) -> relu -> maxpool((1,2))\n' >h2wide.cnn
check "a fused maxpool over very wide rows runs in a 1 MiB stack, -O2 equal to -O0" bash -c "
    '$cnnc' h2wide.cnn --emit=ir | grep -q 'pool=maxpool' &&
    '$cnnc' h2wide.cnn -O0 --main -o w0.c && '$cnnc' h2wide.cnn --main -o w2.c &&
    $ccs -std=c99 -O1 w0.c \$('$cnnc' --cflags) -o w0 \$('$cnnc' --libs) &&
    $ccs -std=c99 -O1 w2.c \$('$cnnc' --cflags) -o w2 \$('$cnnc' --libs) &&
    \"$build\"/tools/f32gen 3 262144 w.in && ./w0 w.in w0.out && ( ulimit -s 1024; ./w2 w.in w2.out ) && cmp w0.out w2.out"

# Two networks' shape macros can be spelled alike: network a with input b_x
# and network a_b with input x both have A_B_X_SIZE. A program including both
# headers stops at an #error naming the macro and the way out (--name).
printf 'network a\ninput b_x[2]\ninit he\nfc: linear(2)\n' >h2a.cnn
printf 'network a_b\ninput x[3]\ninit he\nfc: linear(2)\n' >h2ab.cnn
check "two headers spelling a shape macro alike: an #error names it; --name resolves it" bash -c "
    '$cnnc' h2a.cnn -o na.c && '$cnnc' h2ab.cnn -o nab.c &&
    printf '#include \"na.h\"\n#include \"nab.h\"\nint main(void) { return A_B_X_SIZE; }\n' > nm.c &&
    ! $ccs -std=c99 -c nm.c -o nm.o 2> nm.err &&
    grep -q 'error: #error \"A_B_X_SIZE is already defined: .*--name\"' nm.err &&
    '$cnnc' h2ab.cnn --name ab -o nab.c &&
    printf '#include \"na.h\"\n#include \"nab.h\"\nint main(void) { return A_B_X_SIZE + AB_X_SIZE; }\n' > nm.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c nm.c -o nm.o"
