#!/usr/bin/env bash
# Command-line behaviour of cnnc: options, exit codes, output files, determinism.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/check-lib.sh"

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
    bash -c "$ccs -std=c99 -Wall -Wextra -pedantic -Werror -c sub/model.c \$('$cnnc' --cflags) -o model.o"
check "--main program links with --cflags/--libs and runs" bash -c "
    '$cnnc' net.cnn --main -o m.c &&
    $ccs -std=c99 -O2 m.c \$('$cnnc' --cflags) -o m \$('$cnnc' --libs) &&
    head -c 768 /dev/zero > in.f32 && ./m in.f32 out.f32 && test \$(stat -c %s out.f32) -eq 40"
check "--main program rejects a wrong-size input" bash -c "head -c 100 /dev/zero > bad.f32; ./m bad.f32 o.f32 2>&1 | grep -q 'bad.f32'; test \${PIPESTATUS[0]} -ne 0"
check "--main program prints usage without arguments" bash -c "./m 2>&1 | grep -q 'usage: ./m \[--bench N\] x.f32 OUT.f32'"
check "--main program's --bench prints the median last" bash -c "./m --bench 5 in.f32 out.f32 | tail -1 | grep -qE '^median_ms=[0-9]+\.[0-9]+$' && test \$(stat -c %s out.f32) -eq 40"
check "--profile: code stays -pedantic clean; --bench prints a per-layer table before the median" bash -c "
    '$cnnc' net.cnn --main --profile -o p.c && grep -q 'void small_profile_print(void);' p.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 p.c \$('$cnnc' --cflags) -o p \$('$cnnc' --libs) &&
    ./p --bench 5 in.f32 out.f32 > p.txt && head -1 p.txt | grep -qx 'profile: small, batch 1, mean of 5 calls' &&
    grep -qE '^conv +conv2d +[a-z0-9+]+ +[0-9]+\.[0-9]+ +[0-9.]+% +[0-9.]+$' p.txt &&
    grep -qE '^total ' p.txt && tail -1 p.txt | grep -qE '^median_ms=' &&
    ./p in.f32 out2.f32 > p2.txt && test ! -s p2.txt && cmp out.f32 out2.f32 &&
    '$cnnc' net.cnn --main -o np.c && ! grep -q prof np.c np.h"
# --dump-tensors: every file the index lists has 4 bytes per element of its
# shape (the index's fourth column); prints the number of files.
dump_sizes_ok() {
    awk -F'\t' -v d="$1" 'NR > 1 { n = split($4, s, ","); e = 1; for (i = 1; i <= n; i++) e *= s[i];
        cmd = "stat -c %s " d "/" $1; cmd | getline size; close(cmd);
        if (size != 4 * e) { print $1 ": " size " bytes, shape " $4; bad = 1 } files++ }
        END { if (bad) exit 1; print files }' "$1/index.tsv"
}
export -f dump_sizes_ok
golden="$root/tests/golden"
check "--dump-tensors -O0: one file per layer, sizes from the index, the last equals the output" bash -c "
    '$cnnc' '$golden/fmnist_bn/net.cnn' -O0 --main --dump-tensors -o dump0.c &&
    grep -qxF 'void net_dump_tensors(const char *dir);' dump0.h && grep -qxF 'int net_dump_status(void);' dump0.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O1 dump0.c \$('$cnnc' --cflags) -o dump0 \$('$cnnc' --libs) &&
    mkdir D0 && ./dump0 --dump D0 '$golden/fmnist_bn/input.f32' y0.f32 &&
    head -1 D0/index.tsv | grep -qxP '# file\tlabel\top\tshape\tlayers' &&
    grep -qxP 'bn1.f32\tbn1\tbatchnorm\t1,8,28,28\tbn1' D0/index.tsv &&
    grep -qxP 'flatten_1.f32\tflatten_1\tflatten\t1,784\tflatten_1' D0/index.tsv &&
    test \"\$(cut -f1 D0/index.tsv | tr '\n' ' ')\" = '# file conv1.f32 bn1.f32 relu_1.f32 maxpool_1.f32 conv2.f32 bn2.f32 relu_2.f32 maxpool_2.f32 flatten_1.f32 fc1.f32 relu_3.f32 fc2.f32 ' &&
    test \"\$(dump_sizes_ok D0)\" = 12 && cmp D0/fc2.f32 y0.f32 && cmp D0/maxpool_2.f32 D0/flatten_1.f32 &&
    ./dump0 '$golden/fmnist_bn/input.f32' y1.f32 && cmp y0.f32 y1.f32"
check "--dump-tensors -O2: a fused group is dumped once, under its last layer, equal to -O0's" bash -c "
    '$cnnc' '$golden/fmnist_bn/net.cnn' --main --dump-tensors -o dump2.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O1 dump2.c \$('$cnnc' --cflags) -o dump2 \$('$cnnc' --libs) &&
    mkdir D2 && ./dump2 --dump D2 '$golden/fmnist_bn/input.f32' y2.f32 &&
    grep -qxP 'maxpool_1.f32\tmaxpool_1\tconv2d\+relu\+maxpool\t1,8,14,14\tconv1 \+bn1 \+relu_1 \+maxpool_1' D2/index.tsv &&
    grep -qxP 'relu_3.f32\trelu_3\tlinear\+relu\t1,32\tfc1 \+relu_3' D2/index.tsv &&
    test \"\$(dump_sizes_ok D2)\" = 5 && cmp D2/fc2.f32 y2.f32 &&
    for f in maxpool_1 maxpool_2 flatten_1 relu_3 fc2; do '$build/tools/f32cmp' --tol 1e-5 D2/\$f.f32 D0/\$f.f32 || exit 1; done"
check "--dump-tensors: a layer computed in place is dumped before the next overwrites it (batch 2)" bash -c "
    '$cnnc' '$golden/add_skip/net.cnn' -O0 --batch 2 --main --dump-tensors -o dumps.c &&
    $ccs -std=c99 -O1 dumps.c \$('$cnnc' --cflags) -o dumps \$('$cnnc' --libs) &&
    mkdir DS && ./dumps --dump DS '$golden/add_skip/input.f32' ys.f32 && test \"\$(dump_sizes_ok DS)\" = 7 &&
    grep -qE '^    layer[0-9]+_relu_1\((net_arena \+ [0-9]+), \1\);' dumps.c &&
    ! cmp -s DS/c1.f32 DS/relu_1.f32 && cmp DS/relu_3.f32 ys.f32"
check "--dump-tensors with --emit=test and --profile; a missing directory fails the run" bash -c "
    '$cnnc' '$golden/fmnist_bn/net.cnn' --emit=test --profile --dump-tensors -o dumpt.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O1 dumpt.c \$('$cnnc' --cflags) -o dumpt \$('$cnnc' --libs) &&
    mkdir DT && ./dumpt --dump DT --tol 1e-4 '$golden/fmnist_bn/input.f32' '$golden/fmnist_bn/expected.f32' | grep -q PASS &&
    test \"\$(dump_sizes_ok DT)\" = 5 && ./dumpt 2>&1 | grep -qF '[--dump DIR]' &&
    ./dumpt --dump nowhere '$golden/fmnist_bn/input.f32' '$golden/fmnist_bn/expected.f32' 2> dt.err; test \$? -eq 2 &&
    grep -qxF 'nowhere/index.tsv: cannot write: No such file or directory' dt.err &&
    '$cnnc' '$golden/fmnist_bn/net.cnn' --main -o dumpn.c && ! grep -q _dump dumpn.c dumpn.h"
check "output files get ordinary permissions" bash -c "umask 022 && '$cnnc' net.cnn -o perm.c && test \$(stat -c %a perm.c) = 644 && test \$(stat -c %a perm.h) = 644"
check "-D overrides a param and shapes follow" bash -c "'$cnnc' net.cnn -D c=6 -O0 --emit=ir | grep -q '%conv \[1, 6, 8, 8\]'"
check "-D of an unknown param is an error" bash -c "'$cnnc' net.cnn -D cc=6 -o x.c 2>&1 | grep -q \"no param 'cc'; did you mean 'c'\"; test ! -e x.c"
check "--batch sets the batch macro" bash -c "'$cnnc' net.cnn --batch 3 -o b.c && grep -q '#define SMALL_BATCH 3' b.h && grep -q 'SMALL_X_SIZE 576 ' b.h"
check "--threads rejects nonsense" bash -c "'$cnnc' net.cnn --threads 0 2>&1 | grep -q 'threads must be'"
# Bit-identical with OpenMP (OpenBLAS then runs on 1 thread, as t1 here);
# without OpenMP OpenBLAS gets 2 threads and may sum in another order.
check "--threads 2 compiles with and without OpenMP, same output" bash -c "
    '$cnnc' net.cnn --main --threads 2 -D c=64 -o t2.c && grep -q 'SMALL_PARALLEL_FOR' t2.c &&
    '$cnnc' net.cnn --main -D c=64 -o t1.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 t2.c \$('$cnnc' --cflags) -o t2 \$('$cnnc' --libs) &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 -fopenmp t2.c \$('$cnnc' --cflags) -o t2omp \$('$cnnc' --libs) &&
    $ccs -std=c99 -O2 t1.c \$('$cnnc' --cflags) -o t1 \$('$cnnc' --libs) &&
    \"$build\"/tools/f32gen 3 192 z.f32 && OPENBLAS_NUM_THREADS=1 ./t1 z.f32 o1.f32 &&
    ./t2 z.f32 o2.f32 && OMP_WAIT_POLICY=passive ./t2omp z.f32 o3.f32 &&
    cmp o1.f32 o3.f32 && \"$build\"/tools/f32cmp --tol 1e-6 o2.f32 o1.f32 >/dev/null"
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
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 wf.c \$('$cnnc' --cflags) -o wf \$('$cnnc' --libs) &&
    '$cnnc' net.cnn --main -o emb.c && $ccs -std=c99 -O2 emb.c \$('$cnnc' --cflags) -o emb \$('$cnnc' --libs) &&
    head -c 768 /dev/urandom > r.f32 && ./wf r.f32 o1.f32 && ./emb r.f32 o2.f32 && cmp o1.f32 o2.f32"

check "--summary prints a row per layer and the totals" bash -c "
    '$cnnc' net.cnn -O0 --summary > sum.txt &&
    grep -qE '^conv +conv2d +\[1, 4, 8, 8\] +112 +6,912 +1,024\$' sum.txt &&
    grep -qx 'total: 762 parameters (3,048 bytes), 7,552 MACs' sum.txt && test ! -e net.c.tmp &&
    head -1 sum.txt | grep -qx 'summary (-O0, no optimization): network small, batch 1' &&
    ! grep -q 'after optimization' sum.txt"
check "--summary at -O2: before and after tables, then the totals compared" bash -c "
    '$cnnc' net.cnn --summary > sum2.txt &&
    test \$(grep -c '^total: 762 parameters' sum2.txt) -eq 2 &&
    grep -qE '^conv +conv2d\+relu\+maxpool +\[1, 4, 4, 4\] +112 +6,912 +256  fused: \+relu_1 \+maxpool_1\$' sum2.txt &&
    grep -qxE ' +layers +5 -> +3  -40.0%' sum2.txt && grep -qxE ' +MACs +7,552 -> +7,552' sum2.txt"

check "--emit=dot is a Graphviz digraph with an edge per tensor use" bash -c "
    '$cnnc' net.cnn -O0 --emit=dot > g.dot && head -1 g.dot | grep -qx 'digraph \"small\" {' &&
    test \$(grep -c -- '->' g.dot) -eq 6 && tail -1 g.dot | grep -qx '}'"
check "labels that end a C comment or hold control bytes stay inside the generated comments" bash -c "
    printf 'input x[4]\\ninit he\\n\"a*/b\\001\\\\\\\\\": linear(2)\\n' > lbl.cnn && '$cnnc' lbl.cnn -o lbl.c &&
    grep -qF '/* a*\\/b?\\: linear [1, 4] -> [1, 2] */' lbl.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c lbl.c \$('$cnnc' --cflags) -o lbl.o"

check "an output name that cannot be #included is an error, and nothing is written" bash -c "
    '$cnnc' net.cnn -o 'q\"x.c' 2> q.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: output name 'q\\\"x.h' cannot be #included from C (it contains '\\\"', '\\\\' or a newline)\" q.err &&
    test -z \"\$(ls | grep '^q.x')\""

check "a directory or an endless device as the input is an error" bash -c "
    '$cnnc' . 2>&1 | grep -qxF \"cnnc: error: cannot read '.': Is a directory\" &&
    '$cnnc' /dev/zero 2>&1 | grep -qxF \"cnnc: error: cannot read '/dev/zero': File too large\""

# The longest network name and label (255 bytes) in every kind of reference
# the generated code makes (weights, arena, arguments).
long_net=$(printf 'n%.0s' $(seq 255))
long_label=$(printf 'a%.0s' $(seq 255))
printf 'network %s\ninput x[4]\ninit he\nfc: linear(8) -> batchnorm -> relu\n%s: linear(2)\n' \
    "$long_net" "$long_label" >long.cnn
check "255-byte network names and labels give C that compiles and runs" bash -c "
    '$cnnc' long.cnn --main -o long.c &&
    grep -qxF 'void ${long_net}_run(const float *x, float *$long_label);' long.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror long.c \$('$cnnc' --cflags) -o long \$('$cnnc' --libs) &&
    head -c 16 /dev/zero > l.f32 && ./long l.f32 lo.f32 && test \$(stat -c %s lo.f32) -eq 8"
# C keywords as names, and a label that --main's own code used to use.
printf 'input int[4]\ninit he\nfor: linear(8) -> relu\nrun_once: linear(2)\n' >names.cnn
check "C keywords and run_once as names give C that compiles and runs" bash -c "
    '$cnnc' names.cnn --main -o names.c &&
    grep -qxF 'void names_run(const float *int_, float *run_once);' names.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror names.c \$('$cnnc' --cflags) -o names \$('$cnnc' --libs) &&
    ./names l.f32 no.f32 && test \$(stat -c %s no.f32) -eq 8"
printf 'input x[2, 2, 2]\ninit he\nrelu\nmemcpy: flatten\n' >mc.cnn
check "an output labelled memcpy does not hide the memcpy its copy calls" bash -c "
    '$cnnc' mc.cnn --main -o mc.c && grep -qxF 'void mc_run(const float *x, float *memcpy_);' mc.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror mc.c \$('$cnnc' --cflags) -o mc \$('$cnnc' --libs) &&
    head -c 32 /dev/zero > m.f32 && ./mc m.f32 mo.f32 && cmp m.f32 mo.f32"
printf 'network n\ninput x[4]\ninit he\nfc: linear(64)\nx: relu\nlayer1_x: linear(8)\nn_arena: linear(2)\n' >hide.cnn
check "outputs named like a layer function or the arena do not hide them in NAME_run" bash -c "
    '$cnnc' hide.cnn --main -o hide.c && grep -qxF 'void n_run(const float *x, float *n_arena_);' hide.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror hide.c \$('$cnnc' --cflags) -o hide \$('$cnnc' --libs) &&
    head -c 16 /dev/zero > h.f32 && ./hide h.f32 ho.f32 && test \$(stat -c %s ho.f32) -eq 8"
printf 'input x[4]\ninit he\nX: linear(2)\n' >cs.cnn
check "tensor names that differ only by case get distinct header macros" bash -c "
    '$cnnc' cs.cnn -o cs.c && grep -qxF 'void cs_run(const float *x, float *X_2);' cs.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c cs.c \$('$cnnc' --cflags) -o cs.o"
check "an output over the input, or two outputs in one file, is an error and writes nothing" bash -c "
    cp net.cnn self.cnn && ! '$cnnc' self.cnn -o ./self.cnn 2> self.err && cmp net.cnn self.cnn &&
    grep -qxF \"cnnc: error: output file './self.cnn' is the input file\" self.err &&
    ! '$cnnc' net.cnn -o two.c --weights-file=two.c 2> two.err && test ! -e two.c &&
    grep -qxF \"cnnc: error: 'two.c' would be written twice (as the C source and the weights file)\" two.err"
check "a network name over 255 bytes is an error" bash -c "
    '$cnnc' net.cnn --name ${long_net}x -o toolong.c 2>&1 |
    grep -qxF \"net.cnn: error: network name '\$(printf 'n%.0s' \$(seq 40))...' is too long (256 bytes; the limit is 255)\" &&
    test ! -e toolong.c"
# examples/fashion_mnist: build only (running it needs the Fashion-MNIST test set).
fm="$root/examples/fashion_mnist"
check "examples/fashion_mnist: fmnist.cnn compiles with its trained weights" bash -c "
    mkdir -p fm && '$cnnc' '$fm/fmnist.cnn' -o fm/fmnist.c && grep -q 'void fmnist_run(const float \*image, float \*fc2);' fm/fmnist.h &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c fm/fmnist.c \$('$cnnc' --cflags) -o fm/fmnist.o"
if echo '#include <zlib.h>' | cc -E -x c - >/dev/null 2>&1; then
    check "examples/fashion_mnist: eval.c builds, and says plainly when the data is missing" bash -c "
        $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 -Ifm -o fm/eval fm/fmnist.o '$fm/eval.c' \
            \$('$cnnc' --cflags) \$('$cnnc' --libs) -lz &&
        { ./fm/eval --data nowhere > fm/eval.out 2>&1; test \$? -eq 1; } &&
        grep -q 'nowhere/t10k-images-idx3-ubyte.gz: No such file' fm/eval.out"
else
    echo "skip examples/fashion_mnist/eval.c: no zlib.h (apt-get install zlib1g-dev)"
fi

check "--emit=test: a self-checking program passes on --main's own output and fails past the tolerance" bash -c "
    '$cnnc' net.cnn --main -o ref.c && $ccs -std=c99 -O2 ref.c \$('$cnnc' --cflags) -o ref \$('$cnnc' --libs) &&
    \"$build\"/tools/f32gen 5 192 ti.f32 && ./ref ti.f32 te.f32 &&
    '$cnnc' net.cnn --emit=test -o t.c && ! grep -q 'median_ms' t.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 t.c \$('$cnnc' --cflags) -o t \$('$cnnc' --libs) &&
    ./t ti.f32 te.f32 > t.out && grep -qE '^fc: ok: 10 values' t.out && tail -1 t.out | grep -q '^PASS: network small' &&
    printf '\\x00\\x00\\x80\\x7f' | dd of=te.f32 bs=1 seek=8 conv=notrunc 2>/dev/null &&
    ! ./t ti.f32 te.f32 > t2.out && grep -qE '^fc: FAIL: 1 of 10 values differ; worst at index 2' t2.out &&
    ./t ti.f32 ti.f32 2>/dev/null; test \$? -eq 2"
printf 'input x[3, 4, 4]\ninit he\na = conv2d(2, kernel=1)\nb = x -> conv2d(3, kernel=3)\noutput a, b\n' > two.cnn
check "--emit=test checks every output, in declaration order" bash -c "
    '$cnnc' two.cnn --main -o tr.c && $ccs -std=c99 -O2 tr.c \$('$cnnc' --cflags) -o tr \$('$cnnc' --libs) &&
    \"$build\"/tools/f32gen 6 48 x2.f32 && ./tr x2.f32 e2.f32 &&
    '$cnnc' two.cnn --emit=test -o tt.c && $ccs -std=c99 -O2 tt.c \$('$cnnc' --cflags) -o tt \$('$cnnc' --libs) &&
    ./tt x2.f32 e2.f32 > tt.out && sed -n 1p tt.out | grep -q '^a: ok: 32 values' && sed -n 2p tt.out | grep -q '^b: ok: 12 values'"

. "$root/tests/cli/hostile.sh"
. "$root/tests/cli/hostile2.sh"
. "$root/tests/cli/weights_as.sh"

check_done cli
