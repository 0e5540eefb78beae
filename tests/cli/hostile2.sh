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
