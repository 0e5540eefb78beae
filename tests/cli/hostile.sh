# hostile.sh - sourced by driver.sh (same $tmp, $cnnc and counters): hostile
# command lines and output paths (issue 14). Never touches real device files:
# FIFOs, symlinks and devices are made in this script's temporary directory.

printf 'network small\ninput x[3, 8, 8]\ninit he(seed=7)\nparam c = 4\nparam s = 1.5\nconv: conv2d(c, kernel=3, pad=1)\nflatten\nfc: linear(10)\n' >hnet.cnn

# -D values are written as in the language; nothing lenient.
check "-D takes no hex, spaces, inf or nan, and names the bad value" bash -c "
    for v in 0x3 ' 3' '3 ' inf nan 1e +3 .5 --3 1e+; do
        '$cnnc' hnet.cnn -D \"c=\$v\" -o d.c 2> d.err; test \$? -eq 1 || exit 1
        grep -qxF \"cnnc: error: -D c=\$v: the value must be an integer, a float, true or false\" d.err || exit 1
    done; test ! -e d.c"
check "-D with an integer over 64 bits or a float over the range is an error, not a float" bash -c "
    '$cnnc' hnet.cnn -D c=99999999999999999999 -o d.c 2> d.err; test \$? -eq 1 &&
    grep -qxF 'cnnc: error: -D c=99999999999999999999: the integer is too large (the limit is 9223372036854775807)' d.err &&
    '$cnnc' hnet.cnn -D s=1e999 -o d.c 2> d.err; test \$? -eq 1 &&
    grep -qxF 'cnnc: error: -D s=1e999: the number is too large' d.err && test ! -e d.c"
check "-D accepts the language's numbers: -2.5e-3, 1E2, 7., 5" bash -c "
    '$cnnc' hnet.cnn -D s=-2.5e-3 -D c=5 -O0 --emit=ir | grep -q '%conv \[1, 5, 8, 8\]' &&
    '$cnnc' hnet.cnn -D s=1E2 -o d1.c && '$cnnc' hnet.cnn -D s=7. -o d1.c && '$cnnc' hnet.cnn -D s=true -o d1.c"
check "-D of one param twice: the same value is fine, a different one an error" bash -c "
    '$cnnc' hnet.cnn -D c=6 -D c=6 -O0 --emit=ir | grep -q '%conv \[1, 6, 8, 8\]' &&
    '$cnnc' hnet.cnn -D c=6 -Dc=5 -o d.c 2> d.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: -D c is given twice, as '6' and as '5'\" d.err && test ! -e d.c"

# No output may be a file cnnc reads: the .cnn, or the weights file, under
# any name (a hard link, a symlink).
mkdir -p win && cp "$root/tests/cli/unused_tensor.safetensors" win/w.safetensors &&
    printf 'input x[4]\nweights "w.safetensors"\nfc: linear(2)\n' >win/w.cnn &&
    ln win/w.safetensors win/hard.bin && ln -s w.safetensors win/soft.bin
check "an output that is the weights file being read is an error, and the weights stay" bash -c "
    cd win && cp w.safetensors orig && for args in '--weights-file=w.safetensors' '-o w.safetensors' \
            '--emit=ir -o w.safetensors' '--summary -o ./w.safetensors'; do
        '$cnnc' w.cnn \$args 2> e.err; test \$? -eq 1 || exit 1
        grep -qxE \"cnnc: error: output file '(\\./)?w.safetensors' is the weights file( 'w.safetensors')?\" e.err || exit 1
    done &&
    '$cnnc' w.cnn -o hard.bin 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: output file 'hard.bin' is the weights file 'w.safetensors'\" e.err &&
    '$cnnc' w.cnn --weights-file=soft.bin 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: output file 'soft.bin' is the weights file 'w.safetensors'\" e.err &&
    cp w.safetensors ../w2.st && '$cnnc' w.cnn --weights ../w2.st --weights-file=../w2.st 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: output file '../w2.st' is the weights file\" e.err &&
    cmp orig w.safetensors && cmp orig ../w2.st && test -L soft.bin && test ! -e w.c && test ! -e w.h &&
    test -z \"\$(ls | grep tmp)\""

# All or nothing: when one destination cannot be written, no other is
# replaced and no temporary file stays behind.
check "a directory as the header or weights file leaves the .c untouched and no temporary" bash -c "
    mkdir -p aon && cd aon && echo old > x.c && echo old > y.c && mkdir x.h wdir &&
    '$cnnc' ../hnet.cnn -o x.c 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: cannot write 'x.h': Is a directory\" e.err && test \"\$(cat x.c)\" = old &&
    '$cnnc' ../hnet.cnn -o y.c --weights-file=wdir 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: cannot write 'wdir': Is a directory\" e.err &&
    test \"\$(cat y.c)\" = old && test ! -e y.h && test -z \"\$(ls -A wdir)\" &&
    test \"\$(ls -A | sort | tr '\n' ' ')\" = 'e.err wdir x.c x.h y.c '"

# Outputs that are not regular files are written into, never replaced; a
# symlink is followed. All made here: a FIFO, symlinks (one to /proc's
# stdout link, as /dev/stdout is), and if mknod works, device nodes.
"$cnnc" hnet.cnn --emit=ir >ir.want
check "a FIFO as the output is written into and stays a FIFO" bash -c "
    mkfifo fifo && { timeout 20 cat fifo > fifo.got & } &&
    '$cnnc' hnet.cnn --emit=ir -o fifo && wait && test -p fifo && cmp ir.want fifo.got &&
    { timeout 20 cat fifo > fifo.w & } &&
    '$cnnc' hnet.cnn --weights-file=fifo -o ff.c && wait && test -p fifo && test -s fifo.w && test -s ff.c &&
    test -z \"\$(ls | grep tmp)\""
check "a symlinked output: its target is replaced and the link stays, through chains and dangling links" bash -c "
    mkdir -p ln/d && cd ln && echo old > real.c && ln -s ../real.c d/l1 && ln -s d/l1 l0 &&
    '$cnnc' ../hnet.cnn -o l0 && test -L l0 && test -L d/l1 && grep -q small_run real.c && test -s l0.h &&
    ln -s new/ir.txt dang && mkdir new && '$cnnc' ../hnet.cnn --emit=ir -o dang && test -L dang && cmp ../ir.want new/ir.txt &&
    ln -s loop loop && '$cnnc' ../hnet.cnn -o loop 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: cannot write 'loop': Too many levels of symbolic links\" e.err && test -L loop &&
    test -z \"\$(ls | grep tmp)\""
check "a link to /proc's stdout (as /dev/stdout is) writes into the pipe or the file it names" bash -c "
    ln -s /proc/self/fd/1 so && '$cnnc' hnet.cnn --emit=ir -o so | cat > so.pipe && cmp ir.want so.pipe && test -L so &&
    '$cnnc' hnet.cnn --emit=ir -o so > so.file && cmp ir.want so.file && test -L so &&
    echo first > so.app && '$cnnc' hnet.cnn --emit=ir -o so >> so.app && test \"\$(head -1 so.app)\" = first &&
    test \$(wc -l < so.app) -eq \$((\$(wc -l < ir.want) + 1))"
mkdir -p devs
if mknod devs/null c 1 3 2>/dev/null && mknod devs/full c 1 7 2>/dev/null; then
    check "a character device output is written into (null), and a failing one (full) writes nothing else" bash -c "
        cd devs && '$cnnc' ../hnet.cnn -o x.c --weights-file=null && test -c null && test -s x.c && test -s x.h &&
        '$cnnc' ../hnet.cnn --emit=ir -o null && test -c null &&
        '$cnnc' ../hnet.cnn -o y.c --weights-file=full 2> e.err; test \$? -eq 1 &&
        grep -qxF \"cnnc: error: cannot write 'full': No space left on device\" e.err && test -c full &&
        test ! -e y.c && test ! -e y.h && test -z \"\$(ls | grep tmp)\""
else
    echo "skip character device outputs: mknod is not permitted here"
fi

# The temporary's suffix must not push a long (valid) name over NAME_MAX.
name250=$(printf 'o%.0s' $(seq 248)).c
name255=$(printf 'i%.0s' $(seq 255))
check "250- and 255-byte output names work (the temporary name is cut short)" bash -c "
    mkdir -p longname && cd longname && '$cnnc' ../hnet.cnn -o $name250 && test -s $name250 && test -s ${name250%.c}.h &&
    grep -qF '#include \"${name250%.c}.h\"' $name250 && '$cnnc' ../hnet.cnn --emit=ir -o $name255 && cmp ../ir.want $name255 &&
    test \$(ls | wc -l) -eq 3"

# Names that are macros of the headers the generated code includes, in ISO
# or GNU mode (linux, unix), of the runtime, or of the generated code itself
# (NET_BATCH for network net), and names reserved to the C implementation.
macro_cnn() { # macro_cnn INPUT NAME... : the network net, every NAME a layer and an output
    local in=$1
    shift
    printf 'network net\ninput %s[4]\ninit he\n' "$in"
    for n in "$@"; do printf '%s: linear(4)\n' "$n"; done
    printf 'output %s\n' "$(echo "$@" | sed 's/ /, /g')"
}
macro_cnn __LINE__ linux unix NAN INFINITY HUGE_VAL NULL FP_NAN math_errhandling NET_BATCH NET_ARENA_BYTES \
    NET_H NET_PARTS CNNRT_VERSION EOF stdin bool >macros.cnn
macro_cnn _IOFBF M_PI net_prof prof_t cnnrt_now_ms >macros2.cnn
check "input and output names that are macros get a trailing _ (or a t before __) and compile" bash -c "
    '$cnnc' macros.cnn -o macros.c && '$cnnc' macros2.cnn -o macros2.c &&
    grep -qxF 'void net_run(const float *t__LINE__, float *linux_, float *unix_, float *NAN_, float *INFINITY_, float *HUGE_VAL_, float *NULL_, float *FP_NAN_, float *math_errhandling_, float *NET_BATCH_, float *NET_ARENA_BYTES_, float *NET_H_, float *NET_PARTS_, float *CNNRT_VERSION_, float *EOF_, float *stdin_, float *bool_);' macros.h &&
    grep -qxF 'void net_run(const float *t_IOFBF, float *M_PI_, float *net_prof_, float *prof_t_, float *cnnrt_now_ms_);' macros2.h &&
    grep -qxF '#define NET_NULL__SIZE 4 /* floats, whole batch */' macros.h &&
    for m in macros macros2; do
        $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c \$m.c \$('$cnnc' --cflags) -o \$m.o &&
        $ccs -O2 -c \$m.c \$('$cnnc' --cflags) -o \$m.o &&
        '$cnnc' \$m.cnn --main --profile --dump-tensors --threads 2 -o \${m}m.c &&
        $ccs -std=c99 -Wall -Wextra -pedantic -Werror \${m}m.c \$('$cnnc' --cflags) -o \${m}m \$('$cnnc' --libs) &&
        $ccs -O2 \${m}m.c \$('$cnnc' --cflags) -o \${m}m \$('$cnnc' --libs) || exit 1
    done &&
    head -c 16 /dev/zero > mz.f32 && ./macrosm mz.f32 mo.f32 && test \$(stat -c %s mo.f32) -eq 256"

# Network names that would take the runtime's or the C library's names.
mkdir -p rt && printf 'input x[4]\ninit he\nfc: linear(2)\n' >rt/cnnrt.cnn && cp rt/cnnrt.cnn rt/_stdio.cnn
check "a file cnnrt.cnn or _stdio.cnn without a network line is network n_cnnrt or n_stdio, and compiles" bash -c "
    cd rt && '$cnnc' cnnrt.cnn -o a.c && grep -qxF 'void n_cnnrt_run(const float *x, float *fc);' a.h &&
    '$cnnc' _stdio.cnn --main -o b.c && grep -qxF 'void n_stdio_run(const float *x, float *fc);' b.h &&
    for f in a b; do
        $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c \$f.c \$('$cnnc' --cflags) -o \$f.o &&
        $ccs -O2 -c \$f.c \$('$cnnc' --cflags) -o \$f.o || exit 1
    done"
check "--name _stdio, _math, _string or cnnrt, or -o cnnrt.c (hiding the runtime's header) is an error" bash -c "
    cd rt && for n in _stdio _math _string; do
        '$cnnc' cnnrt.cnn --name \$n -o c.c 2> e.err; test \$? -eq 1 || exit 1
        grep -qF \"cnnrt.cnn: error: network name '\$n' cannot begin with '_'\" e.err || exit 1
    done &&
    '$cnnc' cnnrt.cnn --name cnnrt -o c.c 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnrt.cnn: error: network name 'cnnrt' is reserved: cnnrt and cnnrt_... (in any case) are the runtime's names\" e.err &&
    '$cnnc' cnnrt.cnn -o cnnrt.c 2> e.err; test \$? -eq 1 &&
    grep -qxF \"cnnc: error: the header 'cnnrt.h' would hide the runtime's cnnrt.h from the generated code; choose another -o name\" e.err &&
    test ! -e c.c && test ! -e cnnrt.c && test ! -e cnnrt.h"
check "network names that are macros (linux, NULL, NET_BATCH, ...) give C that compiles in both modes" bash -c "
    for n in linux unix NAN INFINITY HUGE_VAL NULL math_errhandling NET_BATCH NET_ARENA_BYTES NET_H EOF bool; do
        printf 'network %s\ninput x[3, 4, 4]\ninit he\nconv2d(2, kernel=3)\nflatten\nlinear(2)\n' \$n > nm.cnn &&
        '$cnnc' nm.cnn --main --profile -o nm.c &&
        $ccs -std=c99 -Wall -Wextra -pedantic -Werror -c nm.c \$('$cnnc' --cflags) -o nm.o &&
        $ccs -O2 -c nm.c \$('$cnnc' --cflags) -o nm.o || { echo \"network \$n\"; exit 1; }
    done"
check "C into a FIFO or /proc's stdout: the header goes into it too (first), no FIFO.h or stdout.h is made" bash -c "
    mkdir -p hdr && cd hdr && '$cnnc' ../hnet.cnn -o ref.c && mkfifo cf && { timeout 20 cat cf > cf.got & } &&
    '$cnnc' ../hnet.cnn -o cf && wait && test -p cf && test ! -e cf.h &&
    cat ref.h ref.c | sed 's/ref\./cf./g' | cmp - cf.got &&
    ln -s /proc/self/fd/1 so && '$cnnc' ../hnet.cnn -o so > so.got && test ! -e so.h && test -L so &&
    head -1 so.got | grep -q '^/\* so.h - generated by cnnc' && grep -qxF '#include \"so.h\"' so.got"
if [ -c devs/null ]; then
    check "-o a null device node writes the header into it, not beside it" bash -c "
        cd devs && '$cnnc' ../hnet.cnn -o null --weights-file=null && test -c null && test ! -e null.h"
fi

# Conv kernels whose code would grow with an attribute (issue 14): the
# depthwise kernel's stride phases, the blocked kernel's border blocks over a
# wide padding. The C differs by the digits of the attribute only.
check "depthwise and blocked conv code does not grow with the stride or the padding" bash -c "
    for v in 1000 100000; do
        printf 'input x[4096,1,1]\ninit he(seed=1)\nc1: conv2d(4096, kernel=1, groups=4096, pad=%s, stride=%s)\n' \$v \$v >dw\$v.cnn
        '$cnnc' dw\$v.cnn -o dw\$v.c || exit 1
    done
    for v in 10 2000; do
        printf 'input x[32,1,1]\ninit he(seed=1)\nc1: conv2d(32, kernel=2, pad=%s)\n' \$v >bl\$v.cnn
        '$cnnc' bl\$v.cnn -o bl\$v.c || exit 1
    done
    test \$((\$(wc -c <dw100000.c) - \$(wc -c <dw1000.c))) -lt 1000 &&
    test \$((\$(wc -c <bl2000.c) - \$(wc -c <bl10.c))) -lt 1000"
