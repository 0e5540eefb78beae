# weights_as.sh - sourced by driver.sh (same $tmp, $cnnc, $ccs and counters):
# where the weights go (--weights-as, --incbin-min; issue 12). The threshold
# is lowered with --incbin-min so that small networks take the big networks'
# path; everything is made under this script's temporary directory.

mkdir -p wa && cd wa || exit 1
printf 'network wa\ninput x[3, 8, 8]\ninit he(seed=3)\nconv: conv2d(8, kernel=3, pad=1) -> relu -> maxpool(2)\nflatten\nfc: linear(10)\n' >wa.cnn
"$build/tools/f32gen" 3 192 in.f32

check "auto: below --incbin-min the weights are string literals, no file beside" bash -c "
    '$cnnc' wa.cnn --main -o lit.c && grep -q 'as string literals' lit.c && ! grep -q incbin lit.c &&
    test ! -e lit.c.weights && $ccs -std=c99 -O2 lit.c \$('$cnnc' --cflags) -o lit \$('$cnnc' --libs) &&
    ./lit in.f32 lit.f32"
check "auto: from --incbin-min the blob goes beside the .c, compiled from another directory, bit-exact" bash -c "
    mkdir -p sub/dir elsewhere && '$cnnc' wa.cnn --main --incbin-min=1K -o sub/dir/big.c &&
    test \$(stat -c %s sub/dir/big.c.weights) -gt 1024 && grep -qF '.incbin' sub/dir/big.c &&
    ! grep -q 'as string literals' sub/dir/big.c && cd elsewhere &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c ../sub/dir/big.c \$('$cnnc' --cflags) -o big.o &&
    $ccs big.o -o big \$('$cnnc' --libs) && cd .. && elsewhere/big in.f32 big.f32 && cmp lit.f32 big.f32 &&
    cd sub && $ccs -std=c99 -O2 dir/big.c \$('$cnnc' --cflags) -o big0 \$('$cnnc' --libs) &&
    ./big0 ../in.f32 ../big0.f32 && cmp ../lit.f32 ../big0.f32"
check "--weights-as=incbin: the same blob whatever the threshold; deterministic; gcc refuses a short blob" bash -c "
    '$cnnc' wa.cnn --main --weights-as=incbin -o inc.c && cmp inc.c.weights sub/dir/big.c.weights &&
    mkdir -p d1 d2 && (cd d1 && '$cnnc' ../wa.cnn --main --weights-as=incbin -o inc.c) &&
    (cd d2 && '$cnnc' ../wa.cnn --main --weights-as=incbin -o inc.c) && cmp d1/inc.c d2/inc.c &&
    cmp d1/inc.c.weights d2/inc.c.weights && cmp d1/inc.c.weights inc.c.weights && cp inc.c inc2.c &&
    head -c 1000 inc.c.weights > inc2.c.weights && ! gcc -c inc2.c \$('$cnnc' --cflags) -o inc2.o 2> short.err &&
    grep -q 'invalid for file size' short.err"
if command -v clang-14 >/dev/null; then
    check "--weights-as=incbin compiles with clang-14 -pedantic -Werror, bit-exact" bash -c "
        clang-14 -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c inc.c \$('$cnnc' --cflags) -o incc.o &&
        $ccs incc.o -o incc \$('$cnnc' --libs) &&
        clang-14 -std=c99 -O2 -c lit.c \$('$cnnc' --cflags) -o litc.o && $ccs litc.o -o litc \$('$cnnc' --libs) &&
        ./incc in.f32 incc.f32 && ./litc in.f32 litc.f32 && cmp litc.f32 incc.f32"
fi
check "two incbin networks link into one program (also with -flto); hidden symbols, 64-byte aligned" bash -c "
    '$cnnc' wa.cnn --weights-as=incbin --name n1 -o n1.c && '$cnnc' wa.cnn --weights-as=incbin --name n2 -o n2.c &&
    printf '#include \"n1.h\"\n#include \"n2.h\"\n#include <stdint.h>\nint main(void) { static float x[192], a[10], b[10]; n1_run(x, a); n2_run(x, b); return 0; }\n' > two.c &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 two.c n1.c n2.c \$('$cnnc' --cflags) -o two \$('$cnnc' --libs) && ./two &&
    $ccs -std=c99 -O2 -flto -flto-partition=max two.c n1.c n2.c \$('$cnnc' --cflags) -o two-lto \$('$cnnc' --libs) &&
    ./two-lto && $ccs -c n1.c \$('$cnnc' --cflags) -o n1.o && readelf -sW n1.o | grep -E ' OBJECT +GLOBAL +HIDDEN .* n1_weights\$' &&
    a=\$(nm two | awk '\$3 == \"n2_weights\" { print \$1 }') && test -n \"\$a\" && test \$((0x\$a % 64)) -eq 0"
check "--weights-as=file: the blob beside the .c, loaded at run time, bit-exact" bash -c "
    '$cnnc' wa.cnn --main --weights-as=file -o f.c && grep -q 'int wa_load_weights(const char \*path);' f.h &&
    grep -qF 'wa_load_weights(\"f.c.weights\")' f.c && cmp f.c.weights inc.c.weights &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -O2 f.c \$('$cnnc' --cflags) -o f \$('$cnnc' --libs) &&
    ./f in.f32 f.f32 && cmp lit.f32 f.f32"
check "--weights-as and --incbin-min: bad values and --weights-file with c or incbin are errors" bash -c "
    ! '$cnnc' wa.cnn --weights-as=asm -o e.c 2> e.err &&
    grep -qxF \"cnnc: error: --weights-as must be 'auto', 'c', 'incbin' or 'file', not 'asm'\" e.err &&
    for v in 12Q -1 K 1.5M '' 99999999999G; do
        ! '$cnnc' wa.cnn --incbin-min=\"\$v\" -o e.c 2> e.err && grep -qF \"cnnc: error: --incbin-min must be a size\" e.err || exit 1
    done &&
    ! '$cnnc' wa.cnn --weights-file=w.bin --weights-as=incbin -o e.c 2> e.err && grep -q 'cannot be combined' e.err &&
    '$cnnc' wa.cnn --weights-file=w.bin --weights-as=file -o e2.c && test -s w.bin && test ! -e e.c"
check "a network without parameters writes no blob" bash -c "
    printf 'network np\ninput x[3, 8, 8]\ninit he(seed=1)\nrelu\nmaxpool(2)\n' > np.cnn &&
    '$cnnc' np.cnn --weights-as=incbin -o np.c && test ! -e np.c.weights &&
    $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c np.c \$('$cnnc' --cflags) -o np.o"
check "C into a FIFO: incbin is refused (nothing written), auto falls back to string literals" bash -c "
    mkfifo cf && ! '$cnnc' wa.cnn --weights-as=incbin -o cf 2> e.err &&
    grep -qxF \"cnnc: error: --weights-as=incbin writes the weights beside the C file, as 'cf.weights', but 'cf' is not a regular file; use -o FILE.c, --weights-file=FILE or --weights-as=c\" e.err &&
    ! '$cnnc' wa.cnn --weights-as=file -o /dev/stdout 2> e.err > e.out && test ! -s e.out && grep -q 'not a regular file' e.err &&
    { timeout 20 cat cf > cf.got & } && '$cnnc' wa.cnn --incbin-min=1 -o cf && wait &&
    test -p cf && grep -q 'as string literals' cf.got && test ! -e cf.weights && test ! -e cf.h &&
    test -z \"\$(ls | grep tmp)\""
check "the blob is never an input: a .cnn or weights file named like it is refused, untouched" bash -c "
    mkdir -p in && cd in && cp '$root/tests/cli/unused_tensor.safetensors' m.c.weights &&
    printf 'input x[4]\nweights \"m.c.weights\"\nfc: linear(2)\n' > m.cnn && cp m.c.weights orig &&
    ! '$cnnc' m.cnn --weights-as=incbin -o m.c 2> e.err && cmp orig m.c.weights &&
    grep -qxF \"cnnc: error: output file 'm.c.weights' is the weights file\" e.err && test ! -e m.c && test ! -e m.h &&
    ln -s m.c.weights link.bin && ! '$cnnc' m.cnn --weights link.bin --weights-as=file -o m.c 2> e.err &&
    cmp orig m.c.weights && grep -q 'is the weights file' e.err &&
    cp ../wa.cnn k.c.weights && ! '$cnnc' k.c.weights --weights-as=incbin -o k.c 2> e.err &&
    grep -qxF \"cnnc: error: output file 'k.c.weights' is the input file\" e.err && cmp ../wa.cnn k.c.weights &&
    test -z \"\$(ls | grep tmp)\""
check "an error in any output leaves the blob as it was and no temporary" bash -c "
    mkdir -p at && cd at && echo old > a.c.weights && mkdir a.h &&
    ! '$cnnc' ../wa.cnn --weights-as=incbin -o a.c 2> e.err && test \"\$(cat a.c.weights)\" = old &&
    test ! -e a.c && grep -qF \"cannot write 'a.h'\" e.err && mkdir b.c.weights &&
    ! '$cnnc' ../wa.cnn --weights-as=incbin -o b.c 2> e.err && test ! -e b.c && test ! -e b.h &&
    test -z \"\$(ls | grep tmp)\""
cd .. || exit 1
