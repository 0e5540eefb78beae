#!/usr/bin/env bash
# cnnc's own int8 quantization from the command line (docs/quantization.md,
# "Quantizing a float network"): --quantize=int8 --calibrate FILE, the
# observers, --stats' SQNR, the generated code against the float network,
# and tools/idx2f32.py.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/check-lib.sh"
net="$root/tests/ir/quantize_calib.cnn"
calib="$root/tests/ir/quantize_calib.f32"
warn="-std=c99 -Wall -Wextra -pedantic -Werror -O1"
build_run() { # build_run NAME CNNC-ARGS...: NAME.c with main(), run on in.f32 -> NAME.out
    local name=$1
    shift
    "$cnnc" "$net" --main "$@" -o "$name.c" &&
        $ccs $warn -o "$name" "$name.c" $("$cnnc" --cflags) $("$cnnc" --libs) &&
        "./$name" in.f32 "$name.out"
}
# random calibration data: 1 sample for the Fashion-MNIST example, 200
# heavy-tailed ones for the test network (outliers percentile clips)
/usr/bin/env python3 -c "
import random, struct
r = random.Random(11)
open('rand784.f32', 'wb').write(struct.pack('<3136f', *[r.gauss(0, 1) for _ in range(3136)]))
open('tails.f32', 'wb').write(struct.pack('<38400f', *[r.gauss(0, 1) * (8 if r.random() < 0.001 else 1) for _ in range(38400)]))"
# sample 3 of the calibration file as the input (192 floats)
head -c $((4 * 192 * 4)) "$calib" | tail -c $((4 * 192)) >in.f32

check "the quantized network compiles with -Werror, runs, and is close to float" bash -c "
    $(declare -f build_run); cnnc='$cnnc' ccs='$ccs' warn='$warn' net='$net'
    build_run f &&
    build_run q --quantize=int8 --calibrate '$calib' &&
    /usr/bin/env python3 - <<'PY'
import struct
f = struct.unpack('5f', open('f.out', 'rb').read())
q = struct.unpack('5f', open('q.out', 'rb').read())
err = max(abs(a - b) for a, b in zip(f, q))
print('float', f, 'int8', q, 'max error', err)
assert err < 0.02, err
assert f.index(max(f)) == q.index(max(q))
PY"
check "the generated code computes in quint8: quantize, dequantize, int8 weights" bash -c "
    '$cnnc' '$net' --quantize=int8 --calibrate '$calib' -o q.c &&
    grep -q 'unsigned char' q.c && grep -q 'signed char' q.c && grep -q 'nearbyintf' q.c"
check "the Fashion-MNIST example quantizes whole: no float layer left inside" bash -c "
    '$cnnc' '$root/examples/fashion_mnist/fmnist.cnn' --emit=ir --quantize=int8 --calibrate rand784.f32 >fm.ir &&
    test \$(grep -c ' = quantize ' fm.ir) -eq 1 && test \$(grep -c ' = dequantize ' fm.ir) -eq 1 &&
    test \$(grep -c 'quint8' fm.ir) -eq 8"
check "--stats: SQNR of each quantized conv2d, linear, add, concat, and the output" bash -c "
    '$cnnc' '$net' --quantize=int8 --calibrate '$calib' --stats -o s.c 2>err &&
    grep -qx \"stats: quantize: 7 folded, 0 removed, 0 fused, 0 bytes saved\" err &&
    test \$(grep -cE \"^stats: quantize: (conv2d|add|concat|linear) '[a-z0-9]+'( \\+relu6?)?: SQNR [0-9.]+ dB\$\" err) -eq 7 &&
    grep -qE \"^stats: quantize: conv2d 'dw' \\+relu6: SQNR\" err &&
    grep -qE \"^stats: quantize: output softmax 'softmax_1': SQNR [0-9.]+ dB \\(float\\)\$\" err &&
    ! grep -E 'SQNR ([0-9]|1[0-9])\\.[0-9] dB' err"
check "--calibrate-method=percentile chooses other scales, and both run" bash -c "
    $(declare -f build_run); cnnc='$cnnc' ccs='$ccs' warn='$warn' net='$net'
    '$cnnc' '$net' --emit=ir --quantize=int8 --calibrate tails.f32 >m.ir &&
    '$cnnc' '$net' --emit=ir --quantize=int8 --calibrate tails.f32 --calibrate-method=minmax >m2.ir &&
    '$cnnc' '$net' --emit=ir --quantize=int8 --calibrate tails.f32 --calibrate-method=percentile >p.ir &&
    cmp -s m.ir m2.ir && ! cmp -s m.ir p.ir &&
    build_run p --quantize=int8 --calibrate tails.f32 --calibrate-method=percentile"
check "the same calibration gives byte-identical C" bash -c "
    mkdir -p a b && '$cnnc' '$net' --quantize=int8 --calibrate '$calib' -o a/n.c &&
    '$cnnc' '$net' --quantize=int8 --calibrate '$calib' -o b/n.c && cmp a/n.c b/n.c && cmp a/n.h b/n.h"
check "-O0 --quantize=int8: the batchnorm stays float, the result stays close" bash -c "
    $(declare -f build_run); cnnc='$cnnc' ccs='$ccs' warn='$warn' net='$net'
    '$cnnc' '$net' -O0 --emit=ir --quantize=int8 --calibrate '$calib' >o0.ir &&
    grep -q '= batchnorm %' o0.ir && grep -q '= dequantize ' o0.ir &&
    build_run f &&
    build_run z -O0 --quantize=int8 --calibrate '$calib' &&
    /usr/bin/env python3 -c \"
import struct
f = struct.unpack('5f', open('f.out', 'rb').read())
z = struct.unpack('5f', open('z.out', 'rb').read())
assert max(abs(a - b) for a, b in zip(f, z)) < 0.02\""
check "--batch 2: the file holds whole batches of two" bash -c "
    '$cnnc' '$net' --batch 2 --quantize=int8 --calibrate '$calib' -o b2.c &&
    head -c \$((4 * 192 * 3)) '$calib' >three.f32 &&
    ! '$cnnc' '$net' --batch 2 --quantize=int8 --calibrate three.f32 -o b3.c 2>err &&
    grep -q \"has 2304 bytes, not a multiple of 1536 (input 'x' \\[2, 3, 8, 8\\] in float32)\" err && test ! -e b3.c"
check "-fno-quantize leaves --quantize=int8 off" bash -c "
    '$cnnc' '$net' --emit=ir --quantize=int8 --calibrate '$calib' -fno-quantize >n.ir &&
    ! grep -q quint8 n.ir"
check "--help names the options" bash -c "
    '$cnnc' --help >h && grep -q -- '--quantize=int8' h && grep -q -- '--calibrate FILE' h &&
    grep -q -- '--calibrate-method=M' h && grep -qE '^    quantize ' h"

# tools/idx2f32.py: an IDX file of three 2x2 images.
/usr/bin/env python3 -c "
import struct, gzip
d = struct.pack('>IIII', 0x803, 3, 2, 2) + bytes([0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8])
open('img.idx', 'wb').write(d)
gzip.open('img.idx.gz', 'wb').write(d)"
check "idx2f32.py: pixel / 255 as float32, --offset and --count" bash -c "
    python3 '$root/tools/idx2f32.py' img.idx.gz a.f32 --offset 0 --count 1 >log &&
    grep -qx 'a.f32: 1 images of 2x2' log &&
    /usr/bin/env python3 -c \"
import struct
v = struct.unpack('<4f', open('a.f32', 'rb').read())
want = [struct.unpack('<f', struct.pack('<f', p / 255.0))[0] for p in (0, 255, 51, 102)]
assert list(v) == want, v\" &&
    python3 '$root/tools/idx2f32.py' img.idx b.f32 --offset 1 >/dev/null && test \$(stat -c %s b.f32) -eq 32"
check "idx2f32.py --mean --std: eval.c's float32 preprocessing, bit for bit" bash -c "
    python3 '$root/tools/idx2f32.py' img.idx c.f32 --mean 0.2860 --std 0.3530 >/dev/null &&
    /usr/bin/env python3 -c \"
import struct
f = lambda x: struct.unpack('<f', struct.pack('<f', x))[0]
v = struct.unpack('<12f', open('c.f32', 'rb').read())
pix = (0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8)
assert list(v) == [f(f(f(p / 255.0) - f(0.2860)) / f(0.3530)) for p in pix], v\""
check "idx2f32.py: bad input is one line of error, exit 1" bash -c "
    printf 'nope' >bad.idx
    python3 '$root/tools/idx2f32.py' bad.idx o.f32 2>err; test \$? -eq 1 &&
    test \$(wc -l <err) -eq 1 && grep -q 'is not an IDX file' err &&
    python3 '$root/tools/idx2f32.py' img.idx o.f32 --count 4 2>err; test \$? -eq 1 &&
    grep -qx 'idx2f32.py: error: img.idx has 3 images; images 0 to 3 asked for' err &&
    python3 '$root/tools/idx2f32.py' missing.idx o.f32 2>err; test \$? -eq 1 && test \$(wc -l <err) -eq 1"
check_done quantize
