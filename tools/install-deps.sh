#!/usr/bin/env bash
# Install the Debian packages cnnc needs to build and test, if any are missing.
# Used by `make deps`, `make check` and `make demo`. Python/torch is never needed here.
# With the argument "fuzz" (used by `make fuzz`): clang and libFuzzer instead.
set -u
pkgs="gcc make flex bison libopenblas-dev check pkg-config valgrind"
[ "${1:-}" = fuzz ] && pkgs="clang-14 libclang-rt-14-dev"
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "cnnc: installing missing packages:$missing"
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "cnnc: please install:$missing (not root, and no sudo)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null || {
    echo "cnnc: apt-get install$missing failed" >&2
    exit 1
}
