#!/usr/bin/python3
"""PyTorch's quantized models through tools/torch2cnn.py and cnnc (make check-quant).

    /usr/bin/python3 tests/quant/run.py [--build DIR] [-O0|-O2] [--keep DIR] [case ...]

Every model of tests/quant/models.py is quantized by PyTorch itself in eager
mode (fuse_modules, prepare, convert) and in FX graph mode (prepare_fx,
convert_fx), with the default qconfigs of both engines of Debian's torch 1.13
(onednn and qnnpack), calibrated on seeded random batches. Each converted
model is exported (torch2cnn.export), compiled by cnnc with --main and by cc
with -std=c99 -Wall -Wextra -pedantic -Werror, run on a seeded random batch,
and its output compared with the quantized PyTorch model's:

- every element within one output quantization step (the scale of the tensor
  the network dequantizes last; for a float layer after it, that step times the
  layer's largest row sum of |weights|), else the case fails;
- the share of elements identical to PyTorch's is printed per case and per
  engine and mode (docs/quantization.md quotes it).

Then the exporter's errors for what cnnc cannot compile (dynamic
quantization, a quantized output, affine int8 weights, an unfused batchnorm,
sigmoid on a quantized tensor, qint8 activations) are checked, and the
PyTorch bugs docs/quantization.md mentions (qnnpack's relu6 on a channels-last
tensor, its avgpool with count_include_pad=False) are reproduced.

Case names: MODEL/MODE/ENGINE, e.g. ResCat/fx/qnnpack; a prefix selects
(ResCat, ResCat/eager). Prints PASS/FAIL lines and a summary; exits 1 if any
case failed. Writes only inside a temporary directory (or --keep DIR).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.ao.quantization as tq
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import torch2cnn  # noqa: E402
from models import MODELS  # noqa: E402

ENGINES = ("onednn", "qnnpack")
MODES = ("eager", "fx")
BATCH = 4


def quantize(cls, mode, engine, seed=0):
    """The model `cls`, quantized by PyTorch in `mode` for `engine`."""
    torch.backends.quantized.engine = engine
    torch.manual_seed(seed)
    m = cls(mode == "eager").eval()
    g = torch.Generator().manual_seed(seed + 1)
    calib = [torch.randn((8,) + cls.INPUT, generator=g) * 1.5 for _ in range(4)]
    floats = getattr(cls, "FLOAT_PARTS", ())
    with torch.no_grad():
        if mode == "eager":
            tq.fuse_modules(m, [list(f) for f in cls.FUSE], inplace=True)
            m.qconfig = tq.get_default_qconfig(engine)
            for p in floats:
                getattr(m, p).qconfig = None
            tq.prepare(m, inplace=True)
            for x in calib:
                m(x)
            tq.convert(m, inplace=True)
        else:
            qmap = tq.get_default_qconfig_mapping(engine)
            for p in floats:
                qmap.set_module_name(p, None)
            m = prepare_fx(m, qmap, (calib[0],))
            for x in calib:
                m(x)
            m = convert_fx(m)
    return m


def output_step(m, x):
    """The scale of the last dequantized tensor and the float layers after it:
    one step there is the output's tolerance (times a linear's row sums)."""
    layers, gm = torch2cnn.layer_names(m, x)
    kinds = [k for _, k, _ in layers]
    last = max(i for i, k in enumerate(kinds) if k == "dequantize")
    node = layers[last][2]
    step = float(node.args[0].meta["tensor_meta"].qparams["scale"])
    mods = dict(gm.named_modules())
    for name, kind, n in layers[last + 1:]:
        if kind == "linear":
            w = mods[n.target].weight.detach().double().abs().sum(1).max().item()
            step *= w
        elif kind not in ("flatten", "dropout"):
            raise RuntimeError("no tolerance rule for %s after the last dequantize" % kind)
    return step, last + 1 < len(layers)


def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode != 0:
        lines = [l for l in p.stdout.splitlines() if l.strip()][:4]
        raise RuntimeError("%s: %s" % (what, " | ".join(lines)))
    return p.stdout


def compile_and_run(d, build, opt, x):
    cnnc = os.path.join(build, "cnnc")
    run([cnnc, os.path.join(d, "net.cnn"), "--batch", str(x.shape[0]), opt, "--main",
         "-o", os.path.join(d, "net.c")], "cnnc")
    cflags = run([cnnc, "--cflags"], "cnnc --cflags").split()
    libs = run([cnnc, "--libs"], "cnnc --libs").split()
    cc = os.environ.get("CC", "cc")
    run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror",
         os.path.join(d, "net.c")] + cflags + ["-o", os.path.join(d, "prog")] + libs, "cc")
    x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
    run([os.path.join(d, "prog"), os.path.join(d, "input.f32"), os.path.join(d, "out.f32")],
        "run")
    return np.fromfile(os.path.join(d, "out.f32"), "<f4")


def one_case(cls, mode, engine, tmp, build, opt):
    """(elements, identical, max difference in steps) of one case."""
    m = quantize(cls, mode, engine)
    g = torch.Generator().manual_seed(7)
    x = torch.randn((getattr(cls, "BATCH", BATCH),) + cls.INPUT, generator=g) * 1.5
    torch.backends.quantized.engine = engine
    with torch.no_grad():
        want = m(x).numpy().astype(np.float32).ravel()
    d = os.path.join(tmp, "%s_%s_%s" % (cls.__name__, mode, engine))
    os.makedirs(d, exist_ok=True)
    torch2cnn.export(m, x, os.path.join(d, "net.cnn"))
    got = compile_and_run(d, build, opt, x)
    if got.shape != want.shape:
        raise RuntimeError("cnnc gave %d values, PyTorch %d" % (got.size, want.size))
    step, float_after = output_step(m, x)
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    same = diff <= (1e-5 * np.maximum(1.0, np.abs(want)) if float_after else 0.0)
    return want.size, int(same.sum()), float(diff.max() / step)


# -- the exporter's errors ---------------------------------------------------------


class _Small(nn.Module):
    def __init__(self, dq=True, bn=False, sigmoid=False):
        super().__init__()
        self.q = tq.QuantStub()
        self.c = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3) if bn else nn.Identity()
        self.dq = tq.DeQuantStub() if dq else nn.Identity()
        self.sigmoid = sigmoid
        with torch.no_grad():  # weights not centred on 0: affine observers' zero points
            self.c.weight.add_(0.3)

    def forward(self, x):
        y = self.bn(self.c(self.q(x)))
        if self.sigmoid:
            y = torch.sigmoid(y)
        return self.dq(y)


def _eager(m, qconfig, engine="onednn"):
    torch.backends.quantized.engine = engine
    m.eval().qconfig = qconfig
    tq.prepare(m, inplace=True)
    with torch.no_grad():
        m(torch.randn(2, 2, 6, 6))
    return tq.convert(m, inplace=True)


def error_cases():
    torch.backends.quantized.engine = "onednn"
    qc = tq.get_default_qconfig("onednn")
    affine = tq.QConfig(activation=tq.HistogramObserver.with_args(reduce_range=False),
                        weight=tq.MinMaxObserver.with_args(
                            dtype=torch.qint8, qscheme=torch.per_tensor_affine))
    qint8 = tq.QConfig(activation=tq.MinMaxObserver.with_args(dtype=torch.qint8),
                       weight=tq.default_weight_observer)

    class QOnly(nn.Module):  # quantize, relu, dequantize
        def __init__(self):
            super().__init__()
            self.q, self.dq = tq.QuantStub(), tq.DeQuantStub()

        def forward(self, x):
            return self.dq(torch.relu(self.q(x)))

    dyn = tq.quantize_dynamic(nn.Sequential(nn.Flatten(), nn.Linear(72, 4)).eval(),
                              {nn.Linear}, dtype=torch.qint8)
    return [
        ("dynamic quantization", dyn, "is dynamically quantized"),
        ("quantized output", _eager(_Small(dq=False), qc), "an output of forward() is quantized"),
        ("affine int8 weights", _eager(_Small(), affine, "qnnpack"), "nonzero weight zero points"),
        ("unfused batchnorm", _eager(_Small(bn=True), qc), "not supported on quantized tensors"),
        ("sigmoid on quint8", _eager(_Small(sigmoid=True), qc),
         "not supported on quantized tensors"),
        ("qint8 activations", _eager(QOnly(), qint8), "quantizes to torch.qint8"),
    ]


def check_errors(tmp):
    failed = 0
    for what, m, want in error_cases():
        torch.backends.quantized.engine = "qnnpack" if what.startswith("affine") else "onednn"
        try:
            torch2cnn.export(m, torch.randn(2, 2, 6, 6), os.path.join(tmp, "err.cnn"))
            msg = None
        except torch2cnn.ExportError as e:
            msg = str(e)
        if msg is None or want not in msg:
            print("FAIL error %s: expected %r, got %r" % (what, want, msg))
            failed += 1
        else:
            print("PASS error %s: %s" % (what, msg.splitlines()[0]))
    return failed


def qnnpack_bugs():
    """PyTorch's qnnpack kernels that are wrong (docs/quantization.md): relu6
    (hardtanh) on a channels-last quint8 tensor, and avgpool with
    count_include_pad=False. For each, how many elements differ from what the
    op should give, of how many."""
    torch.backends.quantized.engine = "qnnpack"
    x = torch.randn(1, 8, 5, 5, generator=torch.Generator().manual_seed(3)) * 4
    q = torch.quantize_per_tensor(x, 0.05, 128, torch.quint8)
    want = torch.clamp(q.int_repr().int(), 128, 128 + 120)
    got = nn.ReLU6()(q.contiguous(memory_format=torch.channels_last)).int_repr().int()
    relu6 = (int((got != want).sum()), want.numel())
    pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
    want = torch.round(pool(q.int_repr().float() - 128)) + 128
    got = pool(q).int_repr().float()
    return [("relu6 on a channels-last tensor", relu6),
            ("avgpool with count_include_pad=False", (int((got != want).sum()), want.numel()))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("-O0", dest="opt", action="store_const", const="-O0", default="-O2")
    p.add_argument("-O2", dest="opt", action="store_const", const="-O2")
    p.add_argument("--keep", metavar="DIR", help="keep the exported files in DIR")
    p.add_argument("cases", nargs="*")
    a = p.parse_args(argv)
    if not os.path.exists(os.path.join(a.build, "cnnc")):
        print("check-quant: %s/cnnc not found; run make first" % a.build, file=sys.stderr)
        return 2
    tmp = a.keep or tempfile.mkdtemp(prefix="cnnc-quant.")
    os.makedirs(tmp, exist_ok=True)
    torch.set_num_threads(1)
    totals, failed, passed = {}, 0, 0
    try:
        for cls in MODELS:
            for mode in MODES:
                for engine in ENGINES:
                    name = "%s/%s/%s" % (cls.__name__, mode, engine)
                    if a.cases and not any(name == c or name.startswith(c + "/")
                                           for c in a.cases):
                        continue
                    if engine == "qnnpack" and not getattr(cls, "QNNPACK", True):
                        print("SKIP %-26s (PyTorch's qnnpack relu6 is wrong on channels-last "
                              "tensors)" % name)
                        continue
                    try:
                        n, same, steps = one_case(cls, mode, engine, tmp, a.build, a.opt)
                    except (RuntimeError, torch2cnn.ExportError) as e:
                        print("FAIL %s: %s" % (name, e))
                        failed += 1
                        continue
                    t = totals.setdefault((engine, mode), [0, 0, 0.0])
                    t[0] += n
                    t[1] += same
                    t[2] = max(t[2], steps)
                    ok = steps <= 1.0 + 1e-5  # the scale as float32 and as double
                    print("%s %-26s %5d elements, %6.2f%% identical, max %.3f steps"
                          % ("PASS" if ok else "FAIL", name, n, 100.0 * same / n, steps))
                    if ok:
                        passed += 1
                    else:
                        failed += 1
        if not a.cases:
            e = check_errors(tmp)
            failed += e
            passed += 6 - e
            for what, (bad, n) in qnnpack_bugs():
                print("NOTE PyTorch's qnnpack %s: %d of %d elements wrong (a PyTorch bug, "
                      "docs/quantization.md)" % (what, bad, n))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for (engine, mode), (n, same, steps) in sorted(totals.items()):
        print("  %-8s %-6s %6d elements, %6.2f%% identical to PyTorch, max %.3f steps"
              % (engine, mode, n, 100.0 * same / n, steps))
    print("quant: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
