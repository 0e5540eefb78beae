#!/usr/bin/python3
"""int8 against float32 (`make bench`'s quantized part, issue 13): ResNet-18
and MobileNetV2 at batch 1, one thread, side by side:

  float32 cnnc       the float network, cnnc --main, cc -O3 -march=native
  int8 cnnc          the same network quantized by PyTorch (onednn engine),
                     its int8 weights and scales exported to cnnc's keys
  int8 PyTorch       PyTorch 1.13's quantized model itself (onednn engine)
  float32 PyTorch    for reference

Usage: /usr/bin/python3 bench/qnets.py [--nets resnet18,mobilenet_v2] [--runs N]
                                       [--out FILE]

The networks are built here from one layer list, which gives both the
PyTorch module (eager mode: QuantStub/DeQuantStub, conv + relu fused with
fuse_modules, FloatFunctional add) and the .cnn text, with the same layer
names. BatchNorm is left out (fold_batchnorm would fold it into the convs;
weights are random: speed does not depend on them). MobileNetV2's ReLU6 is
ReLU, as in torchvision's quantizable MobileNetV2 (so that PyTorch fuses it
into its convs). Calibration is on random data (8 batches). The quantized
model is written with tests/gen/gen_golden_quant.py's state() (eager mode:
the exporter tools/torch2cnn.py is not used here).

Before timing, cnnc's int8 output is checked against PyTorch's int8 output
(the fraction within one output quantization step) and the float programs'
outputs against each other. Times are medians of --runs runs (the
program's own --bench; PyTorch in process, torch.set_num_threads(1)).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD") or "build")
CNNC = os.path.join(BUILD, "cnnc")
CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c99", "-O3", "-march=native"]

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.ao.quantization as tq

    sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
    from cnnlib import write_safetensors
    import gen_golden_quant as ggq  # state(): cnnc's keys of a quantized module
except ImportError as exc:
    print("qnets: skipped: %s (needs /usr/bin/python3 with python3-torch)" % exc)
    sys.exit(0)


# ---- the networks: (kind, name, args) lists ---------------------------------

def conv(name, cin, cout, k, s=1, p=0, g=1, relu=False):
    return ("conv", name, dict(cin=cin, cout=cout, k=k, s=s, p=p, g=g, relu=relu))


def resnet18():
    L = [conv("stem", 3, 64, 7, 2, 3, relu=True), ("maxpool", "mp", {})]
    cin = 64
    for i, (c, s) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
        for b in range(2):
            st = s if b == 0 else 1
            n = "l%d_%d" % (i + 1, b)
            body = [conv(n + "_c1", cin, c, 3, st, 1, relu=True), conv(n + "_c2", c, c, 3, 1, 1)]
            short = [conv(n + "_ds", cin, c, 1, st)] if st != 1 or cin != c else []
            L.append(("block", n, dict(body=body, short=short, relu=True)))
            cin = c
    return L + [("gap", "gap", {}), ("fc", "fc", dict(cin=512, cout=1000))]


def mobilenet_v2():
    L = [conv("stem", 3, 32, 3, 2, 1, relu=True)]
    cin = 32
    for bi, (t, c, n, s) in enumerate([(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]):
        for r in range(n):
            st = s if r == 0 else 1
            name = "b%d_%d" % (bi, r)
            h = cin * t
            body = [conv(name + "_ex", cin, h, 1, relu=True)] if t != 1 else []
            body += [conv(name + "_dw", h, h, 3, st, 1, g=h, relu=True),
                     conv(name + "_pr", h, c, 1)]
            if st == 1 and cin == c:
                L.append(("block", name, dict(body=body, short=[], relu=False)))
            else:
                L += body
            cin = c
    L.append(conv("last", cin, 1280, 1, relu=True))
    return L + [("gap", "gap", {}), ("fc", "fc", dict(cin=1280, cout=1000))]


NETS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2}


class QNet(nn.Module):
    """The layer list as a module: flat attribute names as the .cnn's labels."""

    def __init__(self, layers):
        super().__init__()
        self.layers = layers
        self.q, self.dq = tq.QuantStub(), tq.DeQuantStub()
        self.fuse = []
        for kind, name, a in self._all(layers):
            if kind == "conv":
                setattr(self, name, nn.Conv2d(a["cin"], a["cout"], a["k"], a["s"], a["p"],
                                              groups=a["g"]))
                if a["relu"]:
                    setattr(self, name + "_r", nn.ReLU())
                    self.fuse.append([name, name + "_r"])
            elif kind == "block":
                setattr(self, name + "_add", nn.quantized.FloatFunctional())
            elif kind == "maxpool":
                self.mp = nn.MaxPool2d(3, 2, 1)
            elif kind == "gap":
                self.gap = nn.AdaptiveAvgPool2d(1)
            elif kind == "fc":
                self.fc = nn.Linear(a["cin"], a["cout"])

    @staticmethod
    def _all(layers):
        for l in layers:
            yield l
            if l[0] == "block":
                yield from QNet._all(l[2]["body"] + l[2]["short"])

    def _conv(self, name, a, x):
        x = getattr(self, name)(x)
        return getattr(self, name + "_r")(x) if a["relu"] else x

    def _run(self, layers, x):
        for kind, name, a in layers:
            if kind == "conv":
                x = self._conv(name, a, x)
            elif kind == "block":
                y = self._run(a["body"], x)
                s = self._run(a["short"], x)
                f = getattr(self, name + "_add")
                x = f.add_relu(y, s) if a["relu"] else f.add(y, s)
            elif kind == "maxpool":
                x = self.mp(x)
            elif kind == "gap":
                x = torch.flatten(self.gap(x), 1)
            elif kind == "fc":
                x = self.fc(x)
        return x

    def forward(self, x):
        return self.dq(self._run(self.layers, self.q(x)))


def cnn_text(name, layers, weights, qline):
    """The .cnn of the layer list; qline: the quantize statement, or None (float)."""
    lines = ["network %s" % name, "input x[3, 224, 224]", 'weights "%s"' % weights]
    if qline:
        lines.append("xq = " + qline)
    prev = ["xq" if qline else "x"]
    count = [0]

    def fresh():
        count[0] += 1
        return "t%d" % count[0]

    def emit(layers, src):
        for kind, n, a in layers:
            t = fresh()
            if kind == "conv":
                lines.append("%s = %s -> %s: conv2d(%d, kernel=%d, stride=%d, pad=%d, groups=%d)%s"
                             % (t, src, n, a["cout"], a["k"], a["s"], a["p"], a["g"],
                                " -> relu" if a["relu"] else ""))
            elif kind == "block":
                y = emit(a["body"], src)
                s = emit(a["short"], src) if a["short"] else src
                lines.append("%s = %s_add: add(%s, %s)%s" % (t, n, y, s,
                                                           " -> relu" if a["relu"] else ""))
            elif kind == "maxpool":
                lines.append("%s = %s -> maxpool(3, stride=2, pad=1)" % (t, src))
            elif kind == "gap":
                lines.append("%s = %s -> global_avgpool -> flatten" % (t, src))
            elif kind == "fc":
                lines.append("%s = %s -> fc: linear(%d)" % (t, src, a["cout"]))
            src = t
        return src

    last = emit(layers, prev[0])
    if qline:
        lines.append("y = %s -> dequantize" % last)
    return "\n".join(lines) + "\n"


# ---- running ------------------------------------------------------------------

def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    if p.returncode != 0:
        raise SystemExit("qnets: %s failed:\n%s" % (" ".join(cmd[:3]), p.stdout[-2000:]))
    return p.stdout


def build(cnn_path, stem):
    run([CNNC, cnn_path, "--main", "-o", stem + ".c"])
    run([CC] + CFLAGS + [stem + ".c"] + run([CNNC, "--cflags"]).split() + ["-o", stem]
        + run([CNNC, "--libs"]).split())
    return stem


def time_prog(prog, inp, out, runs):
    text = run([prog, "--bench", str(runs), inp, out])
    return float(re.search(r"median_ms=([0-9.eE+-]+)\s*$", text).group(1))


def time_torch(fn, x, runs):
    with torch.no_grad():
        for _ in range(max(2, runs // 10)):
            fn(x)
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn(x)
            ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2] * 1e3


def bench_net(name, runs, work):
    torch.manual_seed(1)
    layers = NETS[name]()
    fm = QNet(layers).eval()
    for m in fm.modules():  # weights of a trained net's size (He), biases small
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, -0.1, 0.1)
    fst = os.path.join(work, name + "_f32.safetensors")
    write_safetensors(fst, [(k, v.numpy()) for k, v in fm.state_dict().items()])
    qm = QNet(layers).eval()
    qm.load_state_dict(fm.state_dict())
    tq.fuse_modules(qm, qm.fuse, inplace=True)
    qm.qconfig = tq.get_default_qconfig("onednn")
    tq.prepare(qm, inplace=True)
    with torch.no_grad():
        for _ in range(8):
            qm(torch.randn(1, 3, 224, 224))
    tq.convert(qm, inplace=True)
    qst = os.path.join(work, name + "_q.safetensors")
    write_safetensors(qst, ggq.state(qm))
    qline = "quantize(scale=%r, zero_point=%d)" % (float(np.float32(qm.q.scale)),
                                                   int(qm.q.zero_point))
    paths = {}
    for tag, w, ql in (("f32", fst, None), ("q", qst, qline)):
        p = os.path.join(work, "%s_%s.cnn" % (name, tag))
        with open(p, "w") as f:
            f.write(cnn_text(name, layers, os.path.basename(w), ql))
        paths[tag] = build(p, os.path.join(work, "%s_%s" % (name, tag)))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    inp = os.path.join(work, name + ".in.f32")
    x.numpy().astype("<f4").tofile(inp)
    outs = {}
    for tag in paths:
        o = os.path.join(work, "%s_%s.out.f32" % (name, tag))
        run([paths[tag], inp, o])
        outs[tag] = np.fromfile(o, "<f4")
    with torch.no_grad():
        yq = qm(x).numpy().ravel()
        yf = fm(x).numpy().ravel()
    step = float(qm.fc.scale)
    within = float(np.mean(np.abs(outs["q"] - yq) <= step * 1.01))
    ident = float(np.mean(outs["q"] == yq))
    fdiff = float(np.max(np.abs(outs["f32"] - yf)) / max(1e-6, float(np.max(np.abs(yf)))))
    torch.set_num_threads(1)
    times = {
        "float32 cnnc": time_prog(paths["f32"], inp, os.path.join(work, "o"), runs),
        "int8 cnnc": time_prog(paths["q"], inp, os.path.join(work, "o"), runs),
        "int8 PyTorch (onednn)": time_torch(qm, x, runs),
        "float32 PyTorch": time_torch(fm, x, runs),
    }
    fbytes = sum(v.numel() * 4 for v in fm.state_dict().values())
    qbytes = sum(a.nbytes for _, a in ggq.state(qm))
    return dict(name=name, times=times, within=within, ident=ident, fdiff=fdiff,
                fbytes=fbytes, qbytes=qbytes)


NOTE = """Written by bench/qnets.py (`make bench`). float32 cnnc and int8 cnnc: `cnnc --main`,
`cc -std=c99 -O3 -march=native`, the program's `--bench` median; PyTorch in process,
torch.set_num_threads(1), median. The networks, calibration and export: bench/qnets.py's
docstring. Weights: float32 state_dict bytes against the int8 file's (int8 weights, float
scales and biases).
"""


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nets", default="resnet18,mobilenet_v2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out", default=None)
    ap.add_argument("--results", default=None,
                    help="replace the int8 section of this markdown file (bench/RESULTS.md)")
    ap.add_argument("--work", default=None, help="keep the files in this directory")
    args = ap.parse_args(argv)
    torch.backends.quantized.engine = "onednn"
    load0 = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cnnc-qnets.") as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        for n in args.nets.split(","):
            if n not in NETS:
                raise SystemExit("qnets: unknown network '%s' (%s)" % (n, ", ".join(NETS)))
            rows.append(bench_net(n, args.runs, work))
    load1 = os.getloadavg()[0]
    cols = ["float32 cnnc", "int8 cnnc", "int8 PyTorch (onednn)", "float32 PyTorch"]
    text = ["### int8 (issue 13): batch 1, one thread, median ms",
            "", "load average %.1f before, %.1f after; torch %s, engine onednn" % (
                load0, load1, torch.__version__), "",
            "| network | " + " | ".join(cols) + " | int8 speed-up | weights f32 -> int8 | "
            "int8 outputs within 1 step of PyTorch's (identical) |",
            "|---" * (len(cols) + 4) + "|"]
    for r in rows:
        t = r["times"]
        text.append("| %s | %s | %.2fx | %.1f MB -> %.1f MB (%.2fx) | %.1f%% (%.1f%%) |" % (
            r["name"], " | ".join("%.2f" % t[c] for c in cols),
            t["float32 cnnc"] / t["int8 cnnc"], r["fbytes"] / 1e6, r["qbytes"] / 1e6,
            r["fbytes"] / r["qbytes"], 100 * r["within"], 100 * r["ident"]))
        if r["fdiff"] > 1e-3:
            text.append("\nWARNING: %s float32 cnnc differs from PyTorch by %.3g (relative)"
                        % (r["name"], r["fdiff"]))
    out = "\n".join(text) + "\n"
    print(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(out)
    if args.results:
        begin, end = "<!-- qnets.py section int8 -->\n", "<!-- end qnets.py section int8 -->\n"
        old = open(args.results).read() if os.path.exists(args.results) else ""
        sec = begin + "## " + out.lstrip("#").lstrip() + "\n" + NOTE + end
        if begin in old and end in old:
            old = old[:old.index(begin)] + sec + old[old.index(end) + len(end):]
        else:
            old = old.rstrip("\n") + "\n\n" + sec
        with open(args.results, "w") as f:
            f.write(old)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
