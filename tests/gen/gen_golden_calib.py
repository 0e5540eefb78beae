#!/usr/bin/python3
"""Generate the golden case tests/golden/q_calib: cnnc's own int8
quantization (--quantize=int8 --calibrate, docs/quantization.md), checked
against PyTorch's quantized engine (onednn).

Usage: /usr/bin/python3 tests/gen/gen_golden_calib.py [BUILD]   (default build/)

The float network (conv2d + relu, depthwise conv2d + relu, add, maxpool,
linear) gets seeded weights and 32 calibration samples. cnnc (BUILD/cnnc)
chooses the activation scales and zero points from them (--emit=ir prints
each quint8 tensor's); the weight scales are its rule, max|w| / 127 per
output channel in float32, int8 values round(w / scale) in [-127, 127]. The
expected output is then PyTorch's: the same numbers in PyTorch's quantized
modules (nniq.ConvReLU2d, nnq.QFunctional, nnq.Linear), run by the onednn
engine on the input batch. cnnc only picks the scales; every output value is
PyTorch's.

    net.cnn              the float network
    weights.safetensors  its float weights (state_dict names)
    calib.f32            the calibration samples, [32, 3, 8, 8]
    flags                --batch 2 --quantize=int8 --calibrate @DIR@/calib.f32
    input.f32            the input batch, expected.f32 PyTorch's output
    tolerance            one output quantization step (x 1.01)
"""

import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.intrinsic.quantized as nniq
import torch.nn.quantized as nnq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from cnnlib import write_safetensors  # noqa: E402

torch.backends.quantized.engine = "onednn"
NAME = "q_calib"
BATCH = 2
CNN = """# golden case q_calib: cnnc's own int8 quantization (--quantize=int8 --calibrate),
# expected output from PyTorch's onednn engine with cnnc's scales, batch 2
network q_calib
input x[3, 8, 8]
weights "weights.safetensors"
a = c1: conv2d(8, kernel=3, pad=1) -> relu
b = a -> c2: conv2d(8, kernel=3, pad=1, groups=8) -> relu
s = sum: add(a, b)
s -> maxpool(2) -> flatten
fc: linear(10)
"""


def qparams(ir):
    """tensor name -> (scale, zero_point) of every quint8 tensor in --emit=ir."""
    out = {}
    for m in re.finditer(r"%(\w+) \[[^\]]*\] quint8\(scale=([0-9.e+-]+), zero_point=(\d+)\)", ir):
        out[m.group(1)] = (float(np.float32(float(m.group(2)))), int(m.group(3)))
    return out


def qweight(w):
    """cnnc's per-channel symmetric int8 weight (calibrate.c, quantize.c)."""
    w = w.detach().numpy().astype(np.float32)
    flat = w.reshape(w.shape[0], -1)
    m = np.abs(flat).max(axis=1).astype(np.float32)
    s = (m / np.float32(127.0)).astype(np.float32)
    q = np.clip(np.round(flat / s[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
    return torch._make_per_channel_quantized_tensor(
        torch.from_numpy(q), torch.from_numpy(s.astype(np.float64)),
        torch.zeros(w.shape[0], dtype=torch.int64), 0)


def main(argv):
    build = argv[0] if argv else os.path.join(ROOT, "build")
    torch.manual_seed(1313)
    c1 = nn.Conv2d(3, 8, 3, padding=1)
    c2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
    fc = nn.Linear(8 * 4 * 4, 10)
    d = os.path.join(ROOT, "tests", "golden", NAME)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "net.cnn"), "w") as f:
        f.write(CNN)
    state = [(k, v.detach().numpy().astype(np.float32))
             for name, mod in (("c1", c1), ("c2", c2), ("fc", fc))
             for k, v in ((name + "." + k, v) for k, v in mod.state_dict().items())]
    write_safetensors(os.path.join(d, "weights.safetensors"), state)
    g = torch.Generator().manual_seed(77)
    calib = torch.randn(32, 3, 8, 8, generator=g)
    calib.numpy().astype("<f4").tofile(os.path.join(d, "calib.f32"))
    x = torch.randn(BATCH, 3, 8, 8, generator=g)
    x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
    flags = "--batch %d --quantize=int8 --calibrate @DIR@/calib.f32" % BATCH
    with open(os.path.join(d, "flags"), "w") as f:
        f.write(flags + "\n")
    ir = subprocess.run([os.path.join(build, "cnnc"), os.path.join(d, "net.cnn"), "--emit=ir"] +
                        flags.replace("@DIR@", d).split(), check=True, capture_output=True,
                        text=True).stdout
    qp = qparams(ir)
    sx, zx = qp["x_q"]
    q1 = nniq.ConvReLU2d(3, 8, 3, padding=1)
    q1.set_weight_bias(qweight(c1.weight), c1.bias.detach())
    q1.scale, q1.zero_point = qp["a"]
    q2 = nniq.ConvReLU2d(8, 8, 3, padding=1, groups=8)
    q2.set_weight_bias(qweight(c2.weight), c2.bias.detach())
    q2.scale, q2.zero_point = qp["b"]
    add = nnq.QFunctional()
    add.scale, add.zero_point = qp["s"]
    ql = nnq.Linear(8 * 4 * 4, 10)
    ql.set_weight_bias(qweight(fc.weight), fc.bias.detach())
    ql.scale, ql.zero_point = qp["fc_q"]
    with torch.no_grad():
        xq = torch.quantize_per_tensor(x, sx, zx, torch.quint8)
        a = q1(xq)
        s = add.add(a, q2(a))
        y = ql(torch.flatten(torch.nn.functional.max_pool2d(s, 2), 1)).dequantize()
    y.numpy().astype("<f4").tofile(os.path.join(d, "expected.f32"))
    with open(os.path.join(d, "tolerance"), "w") as f:
        f.write("%.6g\n" % (qp["fc_q"][0] * 1.01))
    # float reference, to show what quantization costs
    with torch.no_grad():
        af = torch.relu(c1(x))
        yf = fc(torch.flatten(torch.nn.functional.max_pool2d(af + torch.relu(c2(af)), 2), 1))
    print("wrote %s: output step %.4g, int8 vs float max error %.4g"
          % (NAME, qp["fc_q"][0], float((y - yf).abs().max())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
