#!/usr/bin/python3
"""Fashion-MNIST in int8: PyTorch's quantization (convert_fx, onednn) compiled
by cnnc, against the float model, on all 10,000 test images.

    /usr/bin/python3 quantize.py [--data DIR] [--cnnc PATH] [--calib N]

Reuses examples/fashion_mnist: its FashionCNN (train.py), trained weights
(fmnist.safetensors), exported network (fmnist.cnn) and preprocessing. Then:

1. PyTorch int8: prepare_fx / convert_fx with the onednn engine's default
   qconfig mapping (per-channel symmetric int8 weights, quint8 activations,
   histogram observers), calibrated on the first N (1,000) training images;
   FX fuses conv + batchnorm + relu itself.
2. cnnc int8: that quantized model exported by tools/torch2cnn.py
   (build/fmnist_q.cnn and .safetensors) and compiled by cnnc.
3. cnnc's own calibration, if this cnnc has it (`cnnc --help` mentions
   --calibrate): fmnist.cnn compiled with --quantize=int8 --calibrate on the
   same N training images.
4. cnnc float: fmnist.cnn compiled as it is.

Every cnnc network is compiled with --name net and linked with run.c, which
runs it image by image (batch 1) and times each call. Prints, for float /
PyTorch int8 / cnnc int8 (/ cnnc's own int8): accuracy, macro precision,
recall and F1, model bytes (PyTorch: its state_dict as torch.save writes it;
cnnc: the compiled network's code and data, `size` of its object file), arena
bytes, the median latency of one image on one thread; then how closely cnnc's
int8 follows PyTorch's. Writes only into build/ beside this script.
"""

import argparse
import io
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
FM = os.path.join(TOP, "examples", "fashion_mnist")
BUILD = os.path.join(HERE, "build")
sys.path.insert(0, FM)
sys.path.insert(0, os.path.join(TOP, "tools"))
import train as fm  # noqa: E402  FashionCNN, read_idx, preprocess
from torch2cnn import export, load_module  # noqa: E402
import torch.ao.quantization as tq  # noqa: E402
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx  # noqa: E402

LATENCY_IMAGES = 1000  # PyTorch's latency: the median over this many batch-1 calls


def fail(msg):
    sys.stderr.write("quantize.py: error: %s\n" % msg)
    sys.exit(1)


def sh(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode != 0:
        fail("%s failed:\n%s" % (" ".join(cmd), p.stdout.strip()))
    return p.stdout


def metrics(pred, labels, k=10):
    """accuracy and the macro averages of per-class precision, recall and F1 (in %)."""
    prec, rec, f1 = [], [], []
    for c in range(k):
        tp = np.sum((pred == c) & (labels == c))
        p = tp / max(1, np.sum(pred == c))
        r = tp / max(1, np.sum(labels == c))
        prec.append(p)
        rec.append(r)
        f1.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return [100.0 * np.mean(pred == labels), 100 * np.mean(prec), 100 * np.mean(rec),
            100 * np.mean(f1)]


def torch_run(model, x):
    """Logits of every image (batches of 1000) and the median ms of one
    batch-1 call over the first LATENCY_IMAGES images, one thread."""
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)]).numpy()
        for i in range(20):
            model(x[i:i + 1])
        ms = []
        for i in range(min(LATENCY_IMAGES, len(x))):
            t0 = time.perf_counter()
            model(x[i:i + 1])
            ms.append((time.perf_counter() - t0) * 1e3)
    return logits, float(np.median(ms))


def state_bytes(model):
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return len(buf.getvalue())


def cnnc_run(cnnc, name, cnn, extra, images_f32, n):
    """Compile `cnn` with cnnc (and `extra` options), link run.c, run it on
    every image: (logits [n, 10], median ms, arena bytes, object bytes)."""
    c = os.path.join(BUILD, name + ".c")
    sh([cnnc, cnn, "--name", "net", "-o", c] + extra)
    header = open(os.path.join(BUILD, name + ".h")).read()
    sizes = re.findall(r"#define (NET_\w+_SIZE) (\d+)", header)
    if len(sizes) < 2:
        fail("%s.h: no input and output sizes" % name)
    cc = os.environ.get("CC", "cc")
    warn = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2"]
    cflags = sh([cnnc, "--cflags"]).split()
    libs = sh([cnnc, "--libs"]).split()
    obj = os.path.join(BUILD, name + ".o")
    sh([cc] + warn + cflags + ["-c", c, "-o", obj])
    text_data = sh(["size", obj]).splitlines()[1].split()
    obj_bytes = int(text_data[0]) + int(text_data[1])
    prog = os.path.join(BUILD, "run_" + name)
    sh([cc] + warn + cflags + ["-I" + BUILD, '-DNET_HEADER="%s.h"' % name,
                               "-DIN_SIZE=" + sizes[0][0], "-DOUT_SIZE=" + sizes[-1][0],
                               os.path.join(HERE, "run.c"), obj, "-o", prog] + libs)
    out = os.path.join(BUILD, name + ".logits.f32")
    line = sh([prog, images_f32, out])
    m = re.search(r"images (\d+) median_ms (\S+) mean_ms \S+ arena_bytes (\d+)", line)
    if not m or int(m.group(1)) != n:
        fail("run_%s: unexpected output %r" % (name, line))
    logits = np.fromfile(out, "<f4").reshape(n, -1)
    return logits, float(m.group(2)), int(m.group(3)), obj_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=fm.DATA_DIR,
                    help="the Fashion-MNIST IDX files (default %s)" % fm.DATA_DIR)
    ap.add_argument("--cnnc", default=os.path.join(TOP, "build", "cnnc"))
    ap.add_argument("--calib", type=int, default=1000,
                    help="calibration images, the first of the training set (default 1000)")
    a = ap.parse_args()
    if not os.path.exists(a.cnnc):
        fail("%s not found: run make in %s first" % (a.cnnc, TOP))
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
              "train-images-idx3-ubyte.gz"):
        if not os.path.exists(os.path.join(a.data, f)):
            fail("%s not found (Debian: apt-get install dataset-fashion-mnist)"
                 % os.path.join(a.data, f))
    fm.DATA_DIR = a.data
    os.makedirs(BUILD, exist_ok=True)
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"

    x_test = fm.preprocess(fm.read_idx("t10k-images-idx3-ubyte"))
    y_test = fm.read_idx("t10k-labels-idx1-ubyte").astype(np.int64)
    calib = fm.preprocess(fm.read_idx("train-images-idx3-ubyte")[:a.calib])
    n = len(x_test)
    test_f32 = os.path.join(BUILD, "test.f32")
    calib_f32 = os.path.join(BUILD, "calib.f32")
    x_test.numpy().astype("<f4").tofile(test_f32)
    calib.numpy().astype("<f4").tofile(calib_f32)

    model = load_module(os.path.join(FM, "train.py") + ":FashionCNN",
                        state_dict=os.path.join(FM, "fmnist.safetensors"))
    # PyTorch's int8: FX graph mode, onednn, calibrated on the training images.
    qmap = tq.get_default_qconfig_mapping("onednn")
    prepared = prepare_fx(model, qmap, (x_test[:1],))
    with torch.no_grad():
        for i in range(0, len(calib), 100):
            prepared(calib[i:i + 100])
    qmodel = convert_fx(prepared)
    qcnn = os.path.join(BUILD, "fmnist_q.cnn")
    export(qmodel, x_test[:1], qcnn)
    step = float(qmodel.fc2.scale)

    rows = []
    print("PyTorch float32 ...", flush=True)
    f_logits, f_ms = torch_run(model, x_test)
    rows.append(("PyTorch float32", f_logits, state_bytes(model), None, f_ms))
    print("PyTorch int8 (convert_fx, onednn) ...", flush=True)
    q_logits, q_ms = torch_run(qmodel, x_test)
    rows.append(("PyTorch int8 (convert_fx, onednn)", q_logits, state_bytes(qmodel), None, q_ms))
    print("cnnc float32 ...", flush=True)
    cf, ms, arena, size = cnnc_run(a.cnnc, "fmnist_f32", os.path.join(FM, "fmnist.cnn"), [],
                                   test_f32, n)
    rows.append(("cnnc float32", cf, size, arena, ms))
    print("cnnc int8, PyTorch's quantized model ...", flush=True)
    cq, ms, arena, size = cnnc_run(a.cnnc, "fmnist_q", qcnn, [], test_f32, n)
    rows.append(("cnnc int8 (PyTorch's model)", cq, size, arena, ms))
    own = "--calibrate" in sh([a.cnnc, "--help"])
    if own:
        print("cnnc int8, its own calibration ...", flush=True)
        co, ms, arena, size = cnnc_run(a.cnnc, "fmnist_own", os.path.join(FM, "fmnist.cnn"),
                                       ["--quantize=int8", "--calibrate", calib_f32],
                                       test_f32, n)
        rows.append(("cnnc int8 (own calibration)", co, size, arena, ms))

    print()
    print("Fashion-MNIST, %d test images; int8 calibrated on the first %d training images"
          % (n, a.calib))
    print("%-36s %9s %9s %7s %7s %12s %11s %11s" % ("", "accuracy", "precision", "recall", "F1",
                                                   "model bytes", "arena bytes", "ms / image"))
    for name, logits, size, arena, ms in rows:
        acc, p, r, f = metrics(logits.argmax(1), y_test)
        print("%-36s %8.2f%% %8.2f%% %6.2f%% %6.2f%% %12s %11s %11.4f"
              % (name, acc, p, r, f, "{:,}".format(size),
                 "-" if arena is None else "{:,}".format(arena), ms))
    print("weights files: fmnist.safetensors %s bytes (float32), fmnist_q.safetensors %s bytes "
          "(int8)" % ("{:,}".format(os.path.getsize(os.path.join(FM, "fmnist.safetensors"))),
                      "{:,}".format(os.path.getsize(os.path.join(BUILD, "fmnist_q.safetensors")))))

    print()
    diff = np.abs(cq.astype(np.float64) - q_logits.astype(np.float64))
    print("cnnc int8 against PyTorch int8: the same class for %.2f%% of the images, %.2f%% of "
          "the logits identical, the largest difference %.3f output steps (step %.6g)"
          % (100 * np.mean(cq.argmax(1) == q_logits.argmax(1)), 100 * np.mean(diff == 0),
             diff.max() / step, step))
    print("cnnc float32 against PyTorch float32: the same class for %.2f%% of the images, "
          "largest logit difference %.2g"
          % (100 * np.mean(cf.argmax(1) == f_logits.argmax(1)), np.abs(cf - f_logits).max()))
    if own:
        print("cnnc's own int8 against float32: the same class for %.2f%% of the images, "
              "accuracy %+.2f points"
              % (100 * np.mean(co.argmax(1) == f_logits.argmax(1)),
                 metrics(co.argmax(1), y_test)[0] - metrics(f_logits.argmax(1), y_test)[0]))
    else:
        print("(this cnnc has no --calibrate: no row for cnnc's own calibration)")


if __name__ == "__main__":
    main()
