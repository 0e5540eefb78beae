#!/usr/bin/env bash
# Command-line behaviour of cnnc: options, exit codes, output files, determinism.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cnnc="$root/build/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
pass=0 fail=0

check() { # check NAME COMMAND... : the command must succeed
    local name=$1
    shift
    if "$@" >"$tmp/log" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name"
        sed 's/^/    | /' "$tmp/log" | head -10
    fi
}

cat >net.cnn <<'CNN'
network small
input x[3, 8, 8]
init he(seed=7)
param c = 4
conv: conv2d(c, kernel=3, pad=1) -> relu -> maxpool(2)
flatten
fc: linear(10)
CNN

check "--help explains usage" bash -c "'$cnnc' --help | grep -q '^usage: cnnc \[options\] NET.cnn'"
check "--version" bash -c "'$cnnc' --version | grep -qx 'cnnc [0-9.]*'"
check "no input is an error (exit 1)" bash -c "'$cnnc'; test \$? -eq 1"
check "unknown option is an error" bash -c "'$cnnc' --frobnicate net.cnn 2>&1 | grep -q \"unknown option '--frobnicate'\""
check "missing file is an error" bash -c "'$cnnc' nope.cnn 2>&1 | grep -q \"cannot read 'nope.cnn'\"; test \${PIPESTATUS[0]} -eq 1"
check "default output is NAME.c and NAME.h" bash -c "'$cnnc' net.cnn && test -s net.c && test -s net.h"
check "-o writes the .c and the .h beside it" bash -c "mkdir -p sub && '$cnnc' net.cnn -o sub/model.c && test -s sub/model.c && grep -q 'small_run' sub/model.h && grep -q '#include \"model.h\"' sub/model.c"
check "generated code compiles cleanly with -pedantic -Werror" \
    bash -c "cc -std=c99 -Wall -Wextra -pedantic -Werror -c sub/model.c \$('$cnnc' --cflags) -o model.o"
check "--main program links with --cflags/--libs and runs" bash -c "
    '$cnnc' net.cnn --main -o m.c &&
    cc -std=c99 -O2 m.c \$('$cnnc' --cflags) -o m \$('$cnnc' --libs) &&
    head -c 768 /dev/zero > in.f32 && ./m in.f32 out.f32 && test \$(stat -c %s out.f32) -eq 40"
check "--main program rejects a wrong-size input" bash -c "head -c 100 /dev/zero > bad.f32; ./m bad.f32 o.f32 2>&1 | grep -q 'bad.f32'; test \${PIPESTATUS[0]} -ne 0"
check "--main program prints usage without arguments" bash -c "./m 2>&1 | grep -q 'usage: ./m \[--bench N\] x.f32 OUT.f32'"
check "--main program's --bench prints the median last" bash -c "./m --bench 5 in.f32 out.f32 | tail -1 | grep -qE '^median_ms=[0-9]+\.[0-9]+$' && test \$(stat -c %s out.f32) -eq 40"
check "output files get ordinary permissions" bash -c "umask 022 && '$cnnc' net.cnn -o perm.c && test \$(stat -c %a perm.c) = 644 && test \$(stat -c %a perm.h) = 644"
check "-D overrides a param and shapes follow" bash -c "'$cnnc' net.cnn -D c=6 --emit=ir | grep -q '%conv \[1, 6, 8, 8\]'"
check "-D of an unknown param is an error" bash -c "'$cnnc' net.cnn -D cc=6 -o x.c 2>&1 | grep -q \"no param 'cc'; did you mean 'c'\"; test ! -e x.c"
check "--batch sets the batch macro" bash -c "'$cnnc' net.cnn --batch 3 -o b.c && grep -q '#define SMALL_BATCH 3' b.h && grep -q 'SMALL_X_SIZE 576 ' b.h"
check "--batch rejects nonsense" bash -c "'$cnnc' net.cnn --batch 0 2>&1 | grep -q 'batch must be'"
check "--name renames every symbol" bash -c "'$cnnc' net.cnn --name other -o n.c && grep -q 'void other_run(const float \*x, float \*fc);' n.h && grep -q 'OTHER_ARENA_BYTES' n.h"
check "--emit=ir prints the graph" bash -c "'$cnnc' net.cnn --emit=ir | grep -q '^graph small batch=1'"
check "output is deterministic" bash -c "mkdir -p d1 d2 && '$cnnc' net.cnn -o d1/net.c && '$cnnc' net.cnn -o d2/net.c && cmp d1/net.c d2/net.c && cmp d1/net.h d2/net.h"
check "an error leaves an existing output untouched" bash -c "
    echo 'keep' > keep.c && echo 'keep' > keep.h &&
    printf 'input x[3, 8, 8]\ninit he\nconv2d(4, kernel=30)\n' > bad.cnn &&
    ! '$cnnc' bad.cnn -o keep.c 2>/dev/null && test \"\$(cat keep.c)\" = keep && test \"\$(cat keep.h)\" = keep &&
    test -z \"\$(ls | grep tmp)\""
check "--weights overrides the file named in the source" bash -c "
    printf 'input x[2]\nweights \"nowhere.safetensors\"\nfc: linear(1)\n' > w.cnn &&
    '$cnnc' w.cnn -o w.c 2>&1 | grep -q 'nowhere.safetensors';
    '$cnnc' w.cnn --weights missing.safetensors -o w.c 2>&1 | grep -q \"cannot load weights 'missing.safetensors'\""

check "unused tensors in the weights file are skipped with a warning naming them" bash -c "
    cp '$root/tests/cli/unused_tensor.safetensors' u.safetensors &&
    printf 'input x[4]\nweights \"u.safetensors\"\nfc: linear(2)\n' > u.cnn &&
    '$cnnc' u.cnn -o u.c 2> u.err && test -s u.c &&
    grep -qx \"u.cnn: warning: 'extra.weight' in u.safetensors is not used by any layer; skipped\" u.err"
check "--weights-file keeps weights out of the source" bash -c "
    '$cnnc' net.cnn --main --weights-file=net.weights -o wf.c && test \$(stat -c %s net.weights) -gt 1000 &&
    ! grep -q 'string literals' wf.c && grep -q 'int small_load_weights(const char \*path);' wf.h &&
    cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 wf.c \$('$cnnc' --cflags) -o wf \$('$cnnc' --libs) &&
    '$cnnc' net.cnn --main -o emb.c && cc -std=c99 -O2 emb.c \$('$cnnc' --cflags) -o emb \$('$cnnc' --libs) &&
    head -c 768 /dev/urandom > r.f32 && ./wf r.f32 o1.f32 && ./emb r.f32 o2.f32 && cmp o1.f32 o2.f32"

# examples/fashion_mnist: build only (running it needs the Fashion-MNIST test set).
fm="$root/examples/fashion_mnist"
check "examples/fashion_mnist: fmnist.cnn compiles with its trained weights" bash -c "
    mkdir -p fm && '$cnnc' '$fm/fmnist.cnn' -o fm/fmnist.c && grep -q 'void fmnist_run(const float \*image, float \*fc2);' fm/fmnist.h &&
    cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c fm/fmnist.c \$('$cnnc' --cflags) -o fm/fmnist.o"
if echo '#include <zlib.h>' | cc -E -x c - >/dev/null 2>&1; then
    check "examples/fashion_mnist: eval.c builds, and says plainly when the data is missing" bash -c "
        cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -Ifm -o fm/eval fm/fmnist.o '$fm/eval.c' \
            \$('$cnnc' --cflags) \$('$cnnc' --libs) -lz &&
        ./fm/eval --data nowhere 2>&1 | grep -q 'nowhere/t10k-images-idx3-ubyte.gz: No such file'; test \${PIPESTATUS[0]} -eq 1"
else
    echo "skip examples/fashion_mnist/eval.c: no zlib.h (apt-get install zlib1g-dev)"
fi

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
