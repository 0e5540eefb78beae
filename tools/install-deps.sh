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
#                                  times cnnc's code alone and says PyTorch was skipped);
#                                  then ONNX Runtime's CPU library from npm's
#                                  onnxruntime-node (ORT_VERSION, below) into
#                                  $BUILD/ort/, best effort: without npm, or if the
#                                  download fails, the benchmark says ONNX Runtime was
#                                  skipped. Debian packages no ONNX Runtime, and the
#                                  benchmark uses no PyPI; npm's package ships the
#                                  library, which bench/ortcapi.py calls through ctypes.
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

# The Debian packages; returns 1 if a required one is missing and cannot be installed.
install_debian() {
    local missing missing_opt sudo p
    # shellcheck disable=SC2086
    missing=$(missing_of $pkgs)
    # shellcheck disable=SC2086
    missing_opt=$(missing_of $optional)
    [ -z "$missing$missing_opt" ] && return 0

    if [ "$(id -u)" = 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        [ -n "$missing" ] && echo "cnnc: please install:$missing (not root, and no sudo)" >&2
        [ -n "$missing_opt" ] && echo "cnnc: optional, not installed:$missing_opt" >&2
        [ -z "$missing" ]
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || true
    if [ -n "$missing" ]; then
        echo "cnnc: installing missing packages:$missing"
        # shellcheck disable=SC2086
        $sudo apt-get install -y -qq $missing >/dev/null || {
            echo "cnnc: apt-get install$missing failed" >&2
            return 1
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
    return 0
}

# ONNX Runtime for `make bench` (its second reference beside PyTorch): npm's
# onnxruntime-node, whose package carries the CPU library
# (bin/napi-v6/linux/x64/libonnxruntime.so.1). --ignore-scripts: its install
# script only fetches GPU providers. Installed under $BUILD/ort (not committed);
# nothing happens when that version is there already. Best effort: returns 0.
ORT_VERSION=${ORT_VERSION:-1.31.1}
install_ort() {
    local root build dir
    root=$(cd "$(dirname "$0")/.." && pwd)
    build=${BUILD:-build}
    case "$build" in
    /*) dir="$build/ort" ;;
    *) dir="$root/$build/ort" ;;
    esac
    if grep -qs "\"version\": \"$ORT_VERSION\"" "$dir/node_modules/onnxruntime-node/package.json" &&
        ls "$dir"/node_modules/onnxruntime-node/bin/napi-v*/linux/*/libonnxruntime.so* >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "cnnc: npm not found: make bench will skip ONNX Runtime (install npm, then make deps-bench)" >&2
        return 0
    fi
    mkdir -p "$dir" || return 0
    echo "cnnc: installing onnxruntime-node@$ORT_VERSION with npm into $dir (ONNX Runtime for make bench)"
    if ! (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --prefix . \
        "onnxruntime-node@$ORT_VERSION") >"$dir/npm.log" 2>&1; then
        echo "cnnc: npm install onnxruntime-node@$ORT_VERSION failed ($dir/npm.log):" \
            "make bench will skip ONNX Runtime" >&2
    fi
    return 0
}

install_debian
rc=$?
[ "${1:-}" = bench ] && install_ort
exit $rc
