#!/usr/bin/env bash
# make install / make uninstall, and using an installed cnnc: files, the paths
# cnnc --cflags/--libs and pkg-config print, a network compiled and run against
# the installed runtime only, the man page, and examples/embed built with make
# and with CMake (skipped if cmake is missing).
set -u
if [ "${SAN:-}" = 1 ]; then
    # What this checks (install layout, flags, pkg-config) is the same in the
    # plain pass; linking the sanitized library into outside builds is not.
    echo "install: skipped in a sanitizer build"
    exit 0
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
CHECK_LOG_LINES=15
. "$root/tests/check-lib.sh"

# The installed binaries are built in $tmp/ib, so the test leaves the build
# tree's own install build (build/install, for PREFIX=/usr/local) alone.
mk() { make -C "$root" --no-print-directory INSTALL_BUILD="$tmp/ib" "$@"; }

# ---- a staged install: DESTDIR=$stage PREFIX=/usr ---------------------------
stage=$tmp/stage
check "make install DESTDIR=... PREFIX=/usr" mk install DESTDIR="$stage" PREFIX=/usr
files="bin/cnnc lib/libcnnrt.a include/cnnrt.h lib/pkgconfig/cnnrt.pc share/man/man1/cnnc.1
       share/doc/cnnc/README.md share/doc/cnnc/language.md"
check "every file is installed under DESTDIR/PREFIX" bash -c "
    for f in $(echo $files); do test -s '$stage/usr/'\$f || { echo missing \$f; exit 1; }; done
    test -x '$stage/usr/bin/cnnc' && test \$(find '$stage' -type f | wc -l) -eq 7"
check "the staged cnnc prints PREFIX paths, not DESTDIR's or the build tree's" bash -c "
    test \"\$('$stage/usr/bin/cnnc' --cflags)\" = '-I/usr/include' &&
    '$stage/usr/bin/cnnc' --libs | grep -q '^-L/usr/lib -lcnnrt .*-lm\$' &&
    ! '$stage/usr/bin/cnnc' --libs | grep -q -e '$stage' -e '$root'"
check "cnnrt.pc in DESTDIR works with PKG_CONFIG_SYSROOT_DIR" bash -c "
    export PKG_CONFIG_PATH='$stage/usr/lib/pkgconfig' PKG_CONFIG_SYSROOT_DIR='$stage'
    test \"\$(echo \$(pkg-config --cflags cnnrt))\" = '-I$stage/usr/include' &&
    pkg-config --libs cnnrt | grep -q -- '^-L$stage/usr/lib -lcnnrt ' &&
    # pkgconf puts the sysroot before path variables too, pkg-config does not
    case \$(pkg-config --variable=cnnc cnnrt) in /usr/bin/cnnc | '$stage/usr/bin/cnnc') ;; *) exit 1;; esac &&
    test \"\$(pkg-config --modversion cnnrt)\" = \"\$('$stage/usr/bin/cnnc' --version | cut -d' ' -f2)\""
check "make uninstall DESTDIR=... removes every file" bash -c "
    make -C '$root' --no-print-directory INSTALL_BUILD='$tmp/ib' uninstall DESTDIR='$stage' PREFIX=/usr &&
    test -z \"\$(find '$stage' -type f)\" && test ! -e '$stage/usr/share/doc/cnnc'"

# ---- a real install in a temporary prefix -----------------------------------
prefix=$tmp/prefix
check "make install PREFIX=..." mk install PREFIX="$prefix"
cnnc=$prefix/bin/cnnc
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
check "the installed cnnc prints the installed paths" bash -c "
    test \"\$('$cnnc' --cflags)\" = '-I$prefix/include' &&
    '$cnnc' --libs | grep -q '^-L$prefix/lib -lcnnrt .*-lm\$'"
check "pkg-config --cflags --libs cnnrt gives the same flags as the installed cnnc" bash -c "
    a=\$(pkg-config --cflags --libs cnnrt | tr -s ' ' '\n' | grep . | sort -u | tr '\n' ' ')
    b=\$( { '$cnnc' --cflags; '$cnnc' --libs; } | tr -s ' ' '\n' | grep . | sort -u | tr '\n' ' ')
    echo \"pkg-config: \$a\"; echo \"cnnc:       \$b\"; test \"\$a\" = \"\$b\" &&
    test \"\$(pkg-config --variable=cnnc cnnrt)\" = '$cnnc'"

cat >net.cnn <<'CNN'
network small
input x[3, 8, 8]
init he(seed=7)
conv: conv2d(4, kernel=3, pad=1) -> relu -> maxpool(2)
flatten
fc: linear(10)
CNN
check "a network compiles and runs against the installed runtime only" bash -c "
    flags=\"\$('$cnnc' --cflags) \$('$cnnc' --libs)\"
    case \"\$flags\" in *'$root'*) echo \"flags name the build tree: \$flags\"; exit 1;; esac
    '$cnnc' net.cnn --main -o inst.c &&
    cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 inst.c \$('$cnnc' --cflags) -o inst \$('$cnnc' --libs) &&
    head -c 768 /dev/urandom > in.f32 && ./inst in.f32 out_inst.f32 &&
    '$root/build/cnnc' net.cnn --main -o tree.c &&
    cc -std=c99 -O2 tree.c \$('$root/build/cnnc' --cflags) -o tree \$('$root/build/cnnc' --libs) &&
    ./tree in.f32 out_tree.f32 && cmp out_inst.f32 out_tree.f32"
check "... and with pkg-config's flags" bash -c "
    cc -std=c99 -O2 inst.c \$(pkg-config --cflags --libs cnnrt) -o inst_pc && ./inst_pc in.f32 out_pc.f32 &&
    cmp out_inst.f32 out_pc.f32"

# The man page: groff's warnings, then the page as man shows it (or groff, if
# man is not installed), which must list every option of cnnc --help.
man_page=$prefix/share/man/man1/cnnc.1
if command -v man >/dev/null 2>&1; then
    render() { MANPATH="$prefix/share/man" LC_ALL=C MANWIDTH=80 man cnnc 2>/dev/null | col -b; }
else
    render() { LC_ALL=C groff -man -Tascii -P-c "$man_page" | col -b; }
fi
if command -v groff >/dev/null 2>&1; then
    check "the man page has no groff warnings" bash -c "
        groff -man -ww -z '$man_page' 2>&1 | tee groff.err; test ! -s groff.err"
    render > man.txt
    check "the installed man page renders" bash -c "
        grep -q '^NAME' man.txt && grep -q '^SYNOPSIS' man.txt && grep -q '^OPTIONS' man.txt &&
        grep -q '^EXIT STATUS' man.txt && grep -q '^EXAMPLES' man.txt"
    check "the man page documents every option of cnnc --help" bash -c "
        missing=''
        for o in \$('$cnnc' --help | grep -E '^  -' | sed -E 's/^  //; s/  .*//; s/, / /g' |
                   tr ' ' '\n' | grep '^-' | sed -E 's/=[A-Z].*//' | sort -u); do
            grep -qE -- \"(^|[^-a-z])\$o([^-a-z]|\\\$)\" man.txt || missing=\"\$missing \$o\"
        done
        test -z \"\$missing\" || { echo \"not in docs/cnnc.1:\$missing\"; exit 1; }"
else
    echo "install: groff not found, skipping the man page checks"
fi

# ---- examples/embed ---------------------------------------------------------
expected="Ankle boot|Pullover|Trouser|Trouser|Shirt|Trouser|Coat|Shirt|Sandal|Sneaker|Coat|Sandal|Sandal|Dress|Coat|Trouser"
classified() { # classified FILE : the app's 16 answers, as above
    test "$(sed 's/^image *[0-9]*: //' "$1" | paste -sd'|')" = "$expected"
}
export -f classified
export expected
images=$root/examples/lenet5/samples/images.f32
check "examples/embed with make and the installed cnnc" bash -c "
    make -C '$root/examples/embed' --no-print-directory BUILD='$tmp/embed-make' CNNC='$cnnc' > make.log &&
    ! grep -- '$root/build' make.log &&
    '$tmp/embed-make/app' '$images' > make.out && classified make.out"
check "examples/embed with make and the build tree's cnnc" bash -c "
    make -C '$root/examples/embed' --no-print-directory BUILD='$tmp/embed-tree' run > tree.out &&
    grep '^image' tree.out > tree.txt && classified tree.txt"
if command -v cmake >/dev/null 2>&1; then
    check "examples/embed with CMake and the installed cnnc (CMAKE_PREFIX_PATH)" bash -c "
        env -u PKG_CONFIG_PATH cmake -S '$root/examples/embed' -B cm-inst \
            -DCNNC_USE_INSTALLED=ON -DCMAKE_PREFIX_PATH='$prefix' > cm-inst.log &&
        grep -q -- '-- cnnc: $cnnc ' cm-inst.log &&
        cmake --build cm-inst > /dev/null && cm-inst/app '$images' > cm-inst.out && classified cm-inst.out &&
        grep -q -- '$prefix/lib/libcnnrt.a' cm-inst/CMakeFiles/app.dir/link.txt &&
        ! grep -q -- '$root/build' cm-inst/CMakeFiles/app.dir/link.txt"
    check "examples/embed with CMake and the build tree (cnnrt-uninstalled.pc)" bash -c "
        env -u PKG_CONFIG_PATH cmake -S '$root/examples/embed' -B cm-tree > cm-tree.log &&
        grep -q -- '-- cnnc: $root/build/cnnc ' cm-tree.log &&
        cmake --build cm-tree > /dev/null && cm-tree/app '$images' > cm-tree.out && classified cm-tree.out &&
        grep -q -- '$root/build/libcnnrt.a' cm-tree/CMakeFiles/app.dir/link.txt"
else
    echo "install: cmake not found, skipping the CMake builds of examples/embed"
fi

check "make uninstall PREFIX=... removes every file" bash -c "
    make -C '$root' --no-print-directory INSTALL_BUILD='$tmp/ib' uninstall PREFIX='$prefix' &&
    test -z \"\$(find '$prefix' -type f)\""

check_done install
