#!/usr/bin/env bash
# Install the Debian packages cnnc needs, if any are missing.
#
#   tools/install-deps.sh          build and test: used by `make deps` (`make deps check`)
#                                  and `make demo`. Python/torch is never needed here.
#   tools/install-deps.sh fuzz     clang and libFuzzer, for `make fuzz` (and the fuzz
#                                  smoke run of `make check`, which skips without them).
#   tools/install-deps.sh bench    the above, plus what `make bench` uses: python3
#                                  (required), and python3-torch and python3-torchvision
#                                  (optional: if they cannot be installed, the benchmark
#                                  times cnnc's code alone and says PyTorch was skipped).
set -u
pkgs="gcc make flex bison libopenblas-dev check pkg-config valgrind"
optional=""
case "${1:-}" in
"") ;;
fuzz)
    pkgs="clang-14 libclang-rt-14-dev"
    ;;
bench)
    pkgs="$pkgs python3"
    optional="python3-torch python3-torchvision"
    ;;
*)
    echo "usage: $0 [bench|fuzz]" >&2
    exit 2
    ;;
esac

missing_of() {
    local m=""
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || m="$m $p"
    done
    printf '%s' "$m"
}

# shellcheck disable=SC2086
missing=$(missing_of $pkgs)
# shellcheck disable=SC2086
missing_opt=$(missing_of $optional)
[ -z "$missing$missing_opt" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    [ -n "$missing" ] && echo "cnnc: please install:$missing (not root, and no sudo)" >&2
    [ -n "$missing_opt" ] && echo "cnnc: optional, not installed:$missing_opt" >&2
    [ -z "$missing" ]
    exit
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || true
if [ -n "$missing" ]; then
    echo "cnnc: installing missing packages:$missing"
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq $missing >/dev/null || {
        echo "cnnc: apt-get install$missing failed" >&2
        exit 1
    }
fi
if [ -n "$missing_opt" ]; then
    echo "cnnc: installing optional packages:$missing_opt"
    # One at a time, so one that is unavailable does not keep the others out.
    for p in $missing_opt; do
        $sudo apt-get install -y -qq "$p" >/dev/null ||
            echo "cnnc: could not install $p (optional; the benchmark goes on without it)" >&2
    done
fi
exit 0
