#!/bin/bash
# make check-onnx: the ONNX importer's error tests, whole torchvision networks
# exported by PyTorch (skipped without python3-torch), then ONNX conformance
# (libonnx-testdata's node, pytorch-converted and pytorch-operator tests
# through tools/onnx2cnn.py, build/cnnc and cc). Skips, with status 0, when
# Debian's python3-onnx or libonnx-testdata is missing. Runs at nice 10 on
# 2 cores (ONNX_JOBS overrides); temporary files under one mktemp directory.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
DATA=${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
if ! [ -x "$PY" ] || ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
    echo "check-onnx: skipped: /usr/bin/python3 with python3-onnx and python3-numpy is needed (apt-get install python3-onnx)"
    exit 0
fi
if ! [ -d "$DATA/node" ]; then
    echo "check-onnx: skipped: libonnx-testdata is not installed (apt-get install libonnx-testdata)"
    exit 0
fi
status=0
nice -n 10 "$PY" tests/onnx/errors.py || status=1
nice -n 10 "$PY" tests/onnx/torch_models.py 2>/dev/null || status=1
nice -n 10 "$PY" tests/onnx/conformance.py -j "${ONNX_JOBS:-2}" --data "$DATA" "$@" || status=1
exit $status
