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
