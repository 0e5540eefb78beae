#!/usr/bin/python3
"""Whole networks exported by PyTorch to ONNX, imported with
tools/onnx2cnn.py, compiled with cnnc and compared with PyTorch
(make check-onnx; skipped without python3-torch and python3-torchvision).

torchvision's resnet18, mobilenet_v2 and squeezenet1_0 (10 classes, 64x64,
random weights and batchnorm statistics), exported at opset 13 with a
symbolic batch dimension and compiled with --batch 2; and a small network
with every other op the importer maps (batchnorm kept: exported without
constant folding; 1-d conv and pool, upsample nearest and bilinear, concat,
avgpool with ceil_mode, leaky_relu, hardswish, sigmoid, tanh, softmax,
dropout, flatten, linear), at opsets 11 and 13; and networks for the
mappings of issue 16's second step: a squeeze-and-excitation block (mul,
sub, add of [N, C, 1, 1] with [N, C, H, W], hardsigmoid, scale with a
bias), a ConvTranspose decoder with pads and crops, a convnext-style block
(LayerNormalization between permutes at opset 17, and PyTorch's
decomposition of it at opset 13; GELU as PyTorch exports it with Erf,
layer scale), torchvision's convnext block (nn.LayerNorm and nn.Linear over
the last axis of NHWC, permutes), a shufflenet unit (chunk, channel
shuffle, split) and per-side padding (TensorFlow-style zero pads before a
strided conv and an avgpool, and "same" padding for an even kernel).
`torch_models.py NAME ...` runs only those. Tolerance: rtol 1e-3 and
atol 1e-5 * max |expected| (deep float32 sums in another order).
"""

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
CNNC = os.environ.get("CNNC", os.path.join(ROOT, "build", "cnnc"))
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2"]

import warnings

warnings.filterwarnings("ignore")
try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError:
    print("torch models: skipped (python3-torch and python3-torchvision are needed)")
    sys.exit(0)


class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.c1d = nn.Conv1d(8, 4, 3, padding=1)
        self.p1d = nn.MaxPool1d(2)
        self.head = nn.Conv2d(20, 6, 1)  # noqa
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6 * 3 * 3 + 4 * 28, 12)
        self.bn2 = nn.BatchNorm1d(12)

    def forward(self, x):
        a = F.relu(self.bn1(self.conv1(x)))                         # [8, 16, 16]
        b = F.leaky_relu(self.conv2(a), 0.1)
        p = self.pool(a + b)                                       # [8, 8, 8] (ceil)
        up = F.interpolate(p, size=(15, 15), mode="nearest")       # [8, 15, 15]
        bl = F.interpolate(p, size=(15, 15), mode="bilinear", align_corners=False)
        c = torch.cat([F.hardswish(up), torch.sigmoid(bl), torch.tanh(a[:, :4])], 1)
        h = F.max_pool2d(self.head(c), 4)                          # [6, 3, 3]
        s = F.softmax(h, dim=1)
        seq = a.mean(2)                                            # [8, 15]
        t = self.p1d(F.relu6(self.c1d(seq)))                       # [4, 7]
        flat = torch.cat([torch.flatten(self.drop(s), 1), t.repeat(1, 1, 4).flatten(1)], 1)
        return F.softmax(self.bn2(self.fc(flat)), dim=-1)


class Unsup(nn.Module):
    """Two ops cnnc cannot express, each reading a conv: both reported."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        a = self.conv(x)
        return a.cumsum(3) + a.prod(3, keepdim=True)


class Small(nn.Module):
    """Zoo without the parts cnnc cannot express (slicing, mean, repeat)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.head = nn.Conv2d(24, 6, 1)
        self.head2 = nn.Conv2d(8, 6, 1)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6 * 3 * 3, 12)
        self.bn2 = nn.BatchNorm1d(12)

    def forward(self, x):
        a = F.relu(self.bn1(self.conv1(x)))
        b = F.leaky_relu(self.conv2(a), 0.1)
        p = self.pool(a + b)
        up = F.interpolate(p, size=(15, 15), mode="nearest")
        up2 = F.interpolate(p, scale_factor=2, mode="nearest")
        bl = F.interpolate(p, size=(15, 15), mode="bilinear", align_corners=False)
        bl2 = F.interpolate(p, scale_factor=2, mode="bilinear", align_corners=False)
        c = torch.cat([F.hardswish(up), torch.sigmoid(bl), torch.tanh(a)], 1)
        h = F.max_pool2d(self.head(c), 4) + F.max_pool2d(self.head2(up2 + bl2), 5)
        s = F.softmax(h, dim=1)
        return F.softmax(self.bn2(self.fc(torch.flatten(self.drop(s), 1))), dim=-1)


class Seq1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 5, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.p = nn.MaxPool1d(3, stride=2, padding=1)
        self.a = nn.AvgPool1d(2)
        self.fc = nn.Linear(8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.a(self.p(F.relu(self.bn(self.c1(x))))), 1))


class Reduce(nn.Module):
    """Means and maxima over the whole plane: ReduceMean / ReduceMax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        y = F.relu(self.conv(x))
        a = y.mean((2, 3))                                         # [N, 8]
        b = torch.amax(y, dim=(2, 3), keepdim=True).flatten(1)     # [N, 8]
        return self.fc(torch.cat([a, b], 1))


class Dense(nn.Module):
    """A concatenation of 20 tensors (DenseNet-style): more than cnnc's
    concat takes at once (16)."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(3, 2, 1) for _ in range(20))

    def forward(self, x):
        return torch.cat([F.relu(c(x)) for c in self.convs], 1)


class SE(nn.Module):
    """Squeeze-and-excitation (efficientnet, mobilenet_v3): a computed
    [N, C, 1, 1] gate times [N, C, H, W] (Mul), hardsigmoid, a constant
    per-channel Mul and Add (scale with bias), Sub of two tensors."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc1 = nn.Conv2d(8, 4, 1)
        self.fc2 = nn.Conv2d(4, 8, 1)
        self.gamma = nn.Parameter(torch.rand(8, 1, 1) + 0.5)
        self.beta = nn.Parameter(torch.rand(1, 8, 1, 1) - 0.5)

    def forward(self, x):
        y = F.relu(self.conv(x))
        g = F.hardsigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(y, 1)))))
        z = y * g
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(z.mean((2, 3), keepdim=True)))))
        return (z * s) * self.gamma + self.beta - (z - s) - 0.25


class Decoder(nn.Module):
    """ConvTranspose (stride, pad, output_padding, dilation, groups, no bias)
    and Pad (zero, constant, negative: a crop)."""

    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose2d(6, 8, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2, bias=False)
        self.up3 = nn.ConvTranspose2d(4, 3, 3, dilation=2, padding=(1, 2))

    def forward(self, x):
        a = F.pad(F.relu(self.up1(x)), (1, 0, 2, 1), value=0.5)
        return self.up3(F.pad(F.relu(self.up2(a)), (-1, 2, 0, -2)))


class ConvNeXt(nn.Module):
    """A convnext-style block: depthwise conv, permute, nn.LayerNorm,
    permute back (LayerNormalization at opset 17), 1x1 convs with GELU
    (Erf), layer scale (a constant per-channel Mul), residual add."""

    def __init__(self, c=8):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 2, stride=2)
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pw1 = nn.Conv2d(c, 4 * c, 1)
        self.pw2 = nn.Conv2d(4 * c, c, 1)
        self.gamma = nn.Parameter(torch.rand(c, 1, 1))
        self.head_norm = nn.LayerNorm(c)
        self.fc = nn.Linear(c, 5)

    def forward(self, x):
        x = self.stem(x)
        y = self.norm(self.dw(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        y = self.pw2(F.gelu(self.pw1(y)))
        x = x + self.gamma * y
        return self.fc(self.head_norm(x.mean((2, 3))))


class ConvNeXtLinear(nn.Module):
    """torchvision's CNBlock: depthwise conv, permute to NHWC, nn.LayerNorm
    and two nn.Linear over the last axis with GELU, permute back, layer
    scale, residual add."""

    def __init__(self, c=8):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 2, stride=2)
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pw1 = nn.Linear(c, 4 * c)
        self.pw2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.rand(c, 1, 1))

    def forward(self, x):
        x = self.stem(x)
        y = self.norm(self.dw(x).permute(0, 2, 3, 1))
        y = self.pw2(F.gelu(self.pw1(y))).permute(0, 3, 1, 2)
        return x + self.gamma * y


class Shuffle(nn.Module):
    """A shufflenet_v2 unit: Split (chunk) of the channels, the
    Reshape/Transpose/Reshape channel shuffle, and a split into unequal
    parts."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.branch = nn.Conv2d(6, 6, 1)

    def forward(self, x):
        y = F.relu(self.conv(x))
        a, b = y.chunk(2, dim=1)
        y = torch.cat([a, F.relu(self.branch(b))], 1)
        n, c, h, w = y.shape
        y = y.view(n, 3, c // 3, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        p, q, r = torch.split(y, [2, 7, 3], dim=1)
        return torch.cat([r, p * 2.0, torch.tanh(q)], 1)


class Pads(nn.Module):
    """Padding with a different begin and end: F.pad (0, 1, 0, 1) before a
    stride-2 conv, (1, 0, 0, 2) before an avgpool and -inf (0, 1, 1, 0)
    before a maxpool (Pads folded into the consumer's pad=(top, left,
    bottom, right)), and the padding of
    Conv2d(padding="same") with a 4x4 kernel, (1, 2, 1, 2), by hand (PyTorch
    does not export padding="same")."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2)
        self.same = nn.Conv2d(8, 6, 4)

    def forward(self, x):
        y = F.relu(self.down(F.pad(x, (0, 1, 0, 1))))
        y = F.avg_pool2d(F.pad(y, (1, 0, 0, 2)), 3, stride=2)
        y = F.max_pool2d(F.pad(y, (0, 1, 1, 0), value=float("-inf")), 2, stride=1)
        return self.same(F.pad(y, (1, 2, 1, 2)))


def randomize(m):
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            mod.running_mean.uniform_(-0.5, 0.5, generator=g)
            mod.running_var.uniform_(0.5, 1.5, generator=g)
            mod.weight.data.uniform_(0.5, 1.5, generator=g)
            mod.bias.data.uniform_(-0.5, 0.5, generator=g)
    return m.eval()


def cases():
    for name in ("resnet18", "mobilenet_v2", "squeezenet1_0"):
        yield name, lambda n=name: getattr(torchvision.models, n)(num_classes=10), \
            (3, 64, 64), 13, True, None
    for opset in (11, 13):
        yield "small_opset%d" % opset, Small, (3, 15, 15), opset, False, None
    yield "seq1d", Seq1d, (4, 32), 13, False, None
    yield "reduce", Reduce, (3, 9, 9), 13, False, None
    yield "dense", Dense, (3, 5, 5), 13, False, None
    yield "se", SE, (3, 9, 9), 13, False, None
    yield "decoder", Decoder, (6, 5, 5), 13, True, None
    yield "convnext", ConvNeXt, (3, 16, 16), 17, True, None
    yield "convnext_opset13", ConvNeXt, (3, 16, 16), 13, True, None
    yield "convnext_linear", ConvNeXtLinear, (3, 16, 16), 17, True, None
    yield "shuffle", Shuffle, (3, 6, 6), 13, True, None
    yield "pads", Pads, (3, 14, 13), 13, True, None
    # zoo: slicing, x.mean(2) then a Conv1d, x.repeat (Tile) since onnx_lower.py
    yield "zoo", Zoo, (3, 15, 15), 13, False, None
    yield "unsupported", Unsup, (3, 6, 6), 13, False, ["CumSum", "ReduceProd"]


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def main():
    import onnx2cnn
    tmp = tempfile.mkdtemp(prefix="cnnc-onnx-torch-")
    failed = []
    cflags = run([CNNC, "--cflags"])[1].split()
    libs = run([CNNC, "--libs"])[1].split()
    try:
        torch.manual_seed(0)
        only = sys.argv[1:]
        for name, make, shape, opset, fold, unsupported in cases():
            if only and name not in only:
                continue
            m = randomize(make())
            batch = 2
            x = torch.randn((batch,) + shape)
            path = os.path.join(tmp, name + ".onnx")
            torch.onnx.export(m, x, path, opset_version=opset, input_names=["x"],
                              output_names=["y"], do_constant_folding=fold,
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
            cnn = os.path.join(tmp, name + ".cnn")
            try:
                onnx2cnn.convert(path, cnn, batch=batch)
            except onnx2cnn.UnsupportedModel as e:
                ops = sorted(set(u.node.op_type for u in e.items if u.node is not None))
                if unsupported and set(ops) <= set(unsupported):
                    print("ok    %-16s not supported, as expected: %s" % (name, ", ".join(ops)))
                else:
                    print("FAIL  %-16s %s" % (name, "; ".join(u.line() for u in e.items)))
                    failed.append(name)
                continue
            if unsupported:
                print("FAIL  %-16s imported, but should report %s" % (name, unsupported))
                failed.append(name)
                continue
            csrc = os.path.join(tmp, name + ".c")
            prog = os.path.join(tmp, name)
            ok = True
            for opt in ("-O2", "-O0"):
                rc, out = run([CNNC, cnn, opt, "--main", "--batch", str(batch), "-o", csrc])
                if rc == 0:
                    rc, out = run(["cc"] + CFLAGS + [csrc, "-o", prog] + cflags + libs)
                if rc == 0:
                    x.numpy().tofile(prog + ".in")
                    rc, out = run([prog, prog + ".in", prog + ".out"])
                if rc != 0:
                    print("FAIL  %-16s %s: %s" % (name, opt, out.strip()[:400]))
                    ok = False
                    continue
                got = np.fromfile(prog + ".out", dtype=np.float32)
                with torch.no_grad():
                    exp = m(x).numpy().reshape(-1)
                atol = 1e-5 * float(np.abs(exp).max())
                err = float(np.abs(got - exp).max()) if got.size == exp.size else float("inf")
                if got.size != exp.size or not np.allclose(got, exp, rtol=1e-3, atol=atol):
                    print("FAIL  %-16s %s: max error %.3g (atol %.3g)" % (name, opt, err, atol))
                    ok = False
                else:
                    print("ok    %-16s %s: max error %.3g (max |expected| %.3g)"
                          % (name, opt, err, float(np.abs(exp).max())))
            if not ok:
                failed.append(name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("torch models: %s" % ("%d failed: %s" % (len(failed), ", ".join(failed)) if failed
                                else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
