#!/usr/bin/python3
"""Generate the quantized golden cases tests/golden/q_* (docs/quantization.md).

Usage: /usr/bin/python3 tests/gen/gen_golden_quant.py [case ...]   (--list: names)

Each case is an eager-mode PyTorch model, float32 at its edges (QuantStub
`q`, DeQuantStub `dq`), quantized with PyTorch's own flow on the onednn
engine: fuse_modules (conv + relu), the onednn qconfig (per-channel
symmetric int8 weights, quint8 activations), prepare, calibration on seeded
random batches, convert. The case directory is laid out as gen_golden.py's:

    net.cnn              the network; `quantize(...)` gets QuantStub's scale and
                         zero point
    weights.safetensors  the quantized state under cnnc's key names: for each
                         quantized conv2d / linear NAME, NAME.weight (I8),
                         NAME.weight_scale (F32 [C_out]), NAME.weight_zero_point
                         (I64 [C_out]), NAME.bias (F32), NAME.scale (F32 []),
                         NAME.zero_point (I64 []); for add and concat
                         (FloatFunctional) NAME.scale and NAME.zero_point
    input.f32            the input batch (input.seed for the large q_conv_wide)
    expected.f32         the quantized PyTorch model's (dequantized) output
    flags                --batch N
    tolerance            one output quantization step (x 1.01): every element
                         must be within one step of PyTorch's

The script prints how many output elements are bit-identical to PyTorch's
when cnnc's build/ is given (--compare), which is how docs/quantization.md's
figures were measured.
"""

import os
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.ao.quantization as tq
import torch.nn.quantized as nnq

from cnnlib import write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden")

torch.backends.quantized.engine = "onednn"
CASES = []


def case(name, what, cnn, make, inp, batch=2, fuse=(), seeded=False):
    CASES.append((name, what, cnn, make, inp, batch, fuse, seeded))


class Net(nn.Module):
    """QuantStub -> body(self, x) -> DeQuantStub, with the modules given."""

    def __init__(self, body, **mods):
        super().__init__()
        self.q = tq.QuantStub()
        self.dq = tq.DeQuantStub()
        for k, v in mods.items():
            setattr(self, k, v)
        self._body = body

    def forward(self, x):
        return self.dq(self._body(self, self.q(x)))


def chain(*names):
    def body(m, x):
        for n in names:
            x = getattr(m, n)(x)
        return x
    return body


FF = nn.quantized.FloatFunctional
R = nn.ReLU

# -- conv2d --------------------------------------------------------------------

case("q_conv", "quantized conv2d 3x3, pad 1, per-channel int8 weights, with bias",
     "c1: conv2d(6, kernel=3, pad=1)",
     lambda: Net(chain("c1"), c1=nn.Conv2d(3, 6, 3, padding=1)), (3, 7, 7))

case("q_conv_relu", "quantized conv2d + relu (fused by fuse_modules; stride 2, no bias)",
     "c1: conv2d(5, kernel=3, stride=2, bias=false) -> relu",
     lambda: Net(chain("c1", "r1"), c1=nn.Conv2d(3, 5, 3, stride=2, bias=False), r1=R()),
     (3, 9, 8), fuse=(["c1", "r1"],))

case("q_conv_relu6", "quantized conv2d then relu6 (the clamp to [zero, q(6)]), dilation 2",
     "c1: conv2d(4, kernel=3, pad=2, dilation=2) -> relu6",
     lambda: Net(chain("c1", "r1"), c1=nn.Conv2d(3, 4, 3, padding=2, dilation=2), r1=nn.ReLU6()),
     (3, 6, 7))

case("q_depthwise", "quantized depthwise conv2d (groups = channels), per-channel scales, then pointwise",
     """
     dw: conv2d(4, kernel=3, pad=1, groups=4) -> relu
     pw: conv2d(6, kernel=1)
     """,
     lambda: Net(chain("dw", "r1", "pw"), dw=nn.Conv2d(4, 4, 3, padding=1, groups=4), r1=R(),
                 pw=nn.Conv2d(4, 6, 1)), (4, 6, 6), fuse=(["dw", "r1"],))

case("q_grouped", "quantized grouped conv2d (groups 2), stride (2, 1), non-square kernel",
     "c1: conv2d(6, kernel=(3, 2), stride=(2, 1), pad=1, groups=2)",
     lambda: Net(chain("c1"), c1=nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, groups=2)),
     (4, 7, 6))

case("q_conv_bands", "quantized conv2d unfolded in bands of 8 output rows (20 rows: 8, 8, 4), stride 1, pad 1",
     "c1: conv2d(8, kernel=3, pad=1) -> relu",
     lambda: Net(chain("c1", "r1"), c1=nn.Conv2d(16, 8, 3, padding=1), r1=R()), (16, 20, 40),
     batch=1, fuse=(["c1", "r1"],), seeded=True)

case("q_conv_wide", "quantized conv2d with a 257x257 kernel: 66049 taps, past KERNEL_QDOT's int32 bound, so the direct loops (64-bit sums)",
     "c1: conv2d(1, kernel=257)",
     lambda: Net(chain("c1"), c1=nn.Conv2d(1, 1, 257)), (1, 257, 258), batch=1, seeded=True)

case("q_linear_wide", "quantized linear with 66049 input features: past KERNEL_QDOT's int32 bound, so the direct loop (64-bit sums)",
     "fc: linear(1)",
     lambda: Net(chain("fc"), fc=nn.Linear(66049, 1)), (66049,), batch=1, seeded=True)

# -- the fast kernels (emit_qfast.c): int8-direct, int8-depthwise ------------------
# Channel counts that are not whole fours (input) or eights (output), rows
# whose 16-position tiles wrap into the next row and past the last one.

case("q_fast_pointwise", "int8-direct 1x1 conv2d: 13 -> 19 channels + relu, then 1x1 stride 2 (downsample)",
     """
     pw: conv2d(19, kernel=1) -> relu
     ds: conv2d(10, kernel=1, stride=2)
     """,
     lambda: Net(chain("pw", "r1", "ds"), pw=nn.Conv2d(13, 19, 1), r1=R(),
                 ds=nn.Conv2d(19, 10, 1, stride=2)), (13, 9, 11), fuse=(["pw", "r1"],))

case("q_fast_conv", "int8-direct 3x3 conv2d: pad 1 + relu6, then stride 2 pad 1, then pad (0, 2) dilation 2",
     """
     c1: conv2d(24, kernel=3, pad=1) -> relu6
     c2: conv2d(17, kernel=3, stride=2, pad=1)
     c3: conv2d(9, kernel=3, pad=(0, 2), dilation=2)
     """,
     lambda: Net(chain("c1", "r1", "c2", "c3"), c1=nn.Conv2d(20, 24, 3, padding=1), r1=nn.ReLU6(),
                 c2=nn.Conv2d(24, 17, 3, stride=2, padding=1),
                 c3=nn.Conv2d(17, 9, 3, padding=(0, 2), dilation=2)), (20, 13, 17), batch=1)

case("q_fast_stem", "int8-direct 7x7 stride 2 pad 3 conv2d on 3 channels + relu (the ResNet stem)",
     "c1: conv2d(16, kernel=7, stride=2, pad=3) -> relu",
     lambda: Net(chain("c1", "r1"), c1=nn.Conv2d(3, 16, 7, stride=2, padding=3), r1=R()),
     (3, 30, 27), fuse=(["c1", "r1"],))

case("q_fast_depthwise", "int8-depthwise: 3x3 pad 1 + relu6, 3x3 stride 2 pad 1 + relu, 5x5 stride 2 pad 2, 12 channels, rows of 70 and 35",
     """
     d1: conv2d(12, kernel=3, pad=1, groups=12) -> relu6
     d2: conv2d(12, kernel=3, stride=2, pad=1, groups=12) -> relu
     d3: conv2d(12, kernel=5, stride=2, pad=2, groups=12)
     """,
     lambda: Net(chain("d1", "r1", "d2", "r2", "d3"), d1=nn.Conv2d(12, 12, 3, padding=1, groups=12),
                 r1=nn.ReLU6(), d2=nn.Conv2d(12, 12, 3, stride=2, padding=1, groups=12), r2=R(),
                 d3=nn.Conv2d(12, 12, 5, stride=2, padding=2, groups=12)), (12, 9, 70),
     fuse=(["d2", "r2"],))

# -- linear, flatten, dropout ----------------------------------------------------

case("q_linear", "quantized conv2d -> flatten -> dropout -> linear + relu -> linear",
     """
     c1: conv2d(4, kernel=3)
     flatten
     dropout(0.2)
     f1: linear(10) -> relu
     f2: linear(5)
     """,
     lambda: Net(chain("c1", "fl", "do", "f1", "r1", "f2"), c1=nn.Conv2d(2, 4, 3),
                 fl=nn.Flatten(), do=nn.Dropout(0.2), f1=nn.Linear(36, 10), r1=R(),
                 f2=nn.Linear(10, 5)), (2, 5, 5), fuse=(["f1", "r1"],))

# -- pools ------------------------------------------------------------------------

case("q_pools", "quantized maxpool (pad 1, ceil) and avgpool (pad 1, count_include_pad) after a conv",
     """
     c1: conv2d(4, kernel=3, pad=1) -> relu
     maxpool(3, stride=2, pad=1, ceil_mode=true)
     avgpool(2, stride=1, pad=1)
     """,
     lambda: Net(chain("c1", "r1", "mp", "ap"), c1=nn.Conv2d(3, 4, 3, padding=1), r1=R(),
                 mp=nn.MaxPool2d(3, 2, 1, ceil_mode=True), ap=nn.AvgPool2d(2, 1, 1)),
     (3, 8, 7), fuse=(["c1", "r1"],))

case("q_avgpool_excl", "quantized avgpool with count_include_pad=false, then global_avgpool",
     """
     c1: conv2d(4, kernel=3)
     avgpool(3, stride=2, pad=1, count_include_pad=false)
     global_avgpool
     """,
     lambda: Net(chain("c1", "ap", "gp"), c1=nn.Conv2d(3, 4, 3),
                 ap=nn.AvgPool2d(3, 2, 1, count_include_pad=False), gp=nn.AdaptiveAvgPool2d(1)),
     (3, 9, 9))

case("q_adaptive", "quantized adaptive_avgpool to (3, 2) from 7x5 (windows of unequal sizes)",
     """
     c1: conv2d(3, kernel=1)
     adaptive_avgpool((3, 2))
     """,
     lambda: Net(chain("c1", "ap"), c1=nn.Conv2d(2, 3, 1), ap=nn.AdaptiveAvgPool2d((3, 2))),
     (2, 7, 5))

# -- add, concat ------------------------------------------------------------------


def _add_body(m, x):
    a = m.c1(x)
    b = m.c2(x)
    return m.add.add(a, b)


case("q_add", "quantized add of two conv outputs with different scales and zero points",
     """
     a = c1: conv2d(4, kernel=3, pad=1)
     b = xq -> c2: conv2d(4, kernel=1)
     add: add(a, b)
     """,
     lambda: Net(_add_body, c1=nn.Conv2d(3, 4, 3, padding=1), c2=nn.Conv2d(3, 4, 1), add=FF()),
     (3, 5, 6))


def _cat_body(m, x):
    a = m.c1(x)
    b = m.c2(x)
    return m.cat.cat([a, x, b], dim=1)


case("q_concat", "quantized concat of three tensors with different scales (two convs and the input)",
     """
     a = c1: conv2d(3, kernel=3, pad=1)
     b = xq -> c2: conv2d(2, kernel=1)
     cat: concat(a, xq, b)
     """,
     lambda: Net(_cat_body, c1=nn.Conv2d(2, 3, 3, padding=1), c2=nn.Conv2d(2, 2, 1), cat=FF()),
     (2, 4, 5))


def _res_body(m, x):
    y = m.r0(m.c0(x))
    z = m.r1(m.c1(y))
    z = m.c2(z)
    y = m.add.add_relu(y, z) if m.fused_add else m.add.add(y, z)
    y = m.gp(y)
    return m.fc(torch.flatten(y, 1))


def _res():
    m = Net(_res_body, c0=nn.Conv2d(3, 8, 3, padding=1), r0=R(),
            c1=nn.Conv2d(8, 8, 3, padding=1), r1=R(), c2=nn.Conv2d(8, 8, 3, padding=1),
            add=FF(), gp=nn.AdaptiveAvgPool2d(1), fc=nn.Linear(8, 5))
    m.fused_add = False
    return m


case("q_resblock", "a small quantized residual block: conv+relu, two convs, add, global pool, linear",
     """
     y = c0: conv2d(8, kernel=3, pad=1) -> relu
     z = c1: conv2d(8, kernel=3, pad=1) -> relu -> c2: conv2d(8, kernel=3, pad=1)
     add: add(y, z)
     global_avgpool
     flatten
     fc: linear(5)
     """,
     _res, (3, 6, 6), fuse=(["c0", "r0"], ["c1", "r1"]))

# -- partly quantized ------------------------------------------------------------------


class Partly(nn.Module):
    """A float conv first, then the quantized part, then a float linear."""

    def __init__(self):
        super().__init__()
        self.f0 = nn.Conv2d(2, 4, 3)
        self.q = tq.QuantStub()
        self.c1 = nn.Conv2d(4, 4, 3, padding=1)
        self.r1 = nn.ReLU()
        self.dq = tq.DeQuantStub()
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = self.dq(self.r1(self.c1(self.q(self.f0(x)))))
        return self.fc(torch.flatten(x, 1))


case("q_partial", "a partly quantized network: float conv2d, quantize, quantized conv + relu, dequantize, float linear",
     """
     f0: conv2d(4, kernel=3)
     @Q@
     c1: conv2d(4, kernel=3, pad=1) -> relu
     dequantize
     flatten
     fc: linear(3)
     """,
     Partly, (2, 6, 6), fuse=(["c1", "r1"],))

# --------------------------------------------------------------------------------------


def seed_of(name):
    return zlib.crc32(name.encode())


def quantized(make, inp, batch, fuse, seed):
    torch.manual_seed(seed)
    m = make().eval()
    if fuse:
        tq.fuse_modules(m, [list(f) for f in fuse], inplace=True)
    m.qconfig = tq.get_default_qconfig("onednn")
    if isinstance(m, Partly):
        m.f0.qconfig = m.fc.qconfig = None
    tq.prepare(m, inplace=True)
    with torch.no_grad():
        for _ in range(8):
            m(torch.randn(batch, *inp) * 1.5)
    tq.convert(m, inplace=True)
    return m


def state(m):
    """cnnc's keys for every quantized module (docs/quantization.md)."""
    out = []
    for name, mod in m.named_modules():
        if isinstance(mod, (nnq.Conv2d, nnq.Linear)):
            w = mod.weight()
            if w.qscheme() == torch.per_tensor_affine:
                oc = w.shape[0]
                scales = np.full(oc, w.q_scale(), np.float32)
                zeros = np.full(oc, w.q_zero_point(), np.int64)
            else:
                scales = w.q_per_channel_scales().numpy().astype(np.float32)
                zeros = w.q_per_channel_zero_points().numpy().astype(np.int64)
            out.append((name + ".weight", w.int_repr().numpy().astype(np.int8)))
            out.append((name + ".weight_scale", scales))
            out.append((name + ".weight_zero_point", zeros))
            if mod.bias() is not None:
                out.append((name + ".bias", mod.bias().detach().numpy().astype(np.float32)))
        elif isinstance(mod, nnq.QFunctional):
            pass
        else:
            if isinstance(mod, (nn.Conv2d, nn.Linear)):  # float layers
                for k, v in mod.state_dict().items():
                    out.append((name + "." + k, v.numpy().astype(np.float32)))
            continue
        out.append((name + ".scale", np.array(mod.scale, np.float32)))
        out.append((name + ".zero_point", np.array(mod.zero_point, np.int64)))
    return out


def generate(c):
    name, what, cnn, make, inp, batch, fuse, seeded = c
    seed = seed_of(name)
    m = quantized(make, inp, batch, fuse, seed)
    qs = m.q
    qline = "xq = quantize(scale=%r, zero_point=%d)" % (float(np.float32(qs.scale)), int(qs.zero_point))
    body = "\n".join(l.strip() for l in cnn.strip().split("\n"))
    if "@Q@" in body:
        body = body.replace("@Q@", qline)
    else:
        body = qline + "\n" + body + "\ndequantize"
    dims = ", ".join(str(d) for d in inp)
    text = "# golden case %s: %s, batch %d\ninput x[%s]\nweights \"weights.safetensors\"\n%s\n" % (
        name, what, batch, dims, body)
    if seeded:  # input.seed: tests/tools/f32gen's U(-1, 1) values, as gen_golden.py's cases
        from gen_golden import seeded_input
        x = torch.from_numpy(seeded_input(seed, batch * int(np.prod(inp))).reshape(batch, *inp))
    else:
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(batch, *inp, generator=g) * 1.5
    with torch.no_grad():
        y = m(x)
    last = [mod for mod in m.modules() if hasattr(mod, "scale") and not isinstance(mod, tq.QuantStub)]
    step = float(last[-1].scale) if last else 1e-4
    d = os.path.join(GOLDEN, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "net.cnn"), "w") as f:
        f.write(text)
    write_safetensors(os.path.join(d, "weights.safetensors"), state(m))
    if seeded:
        with open(os.path.join(d, "input.seed"), "w") as f:
            f.write("%d\n" % seed)
    else:
        x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
    y.numpy().astype("<f4").tofile(os.path.join(d, "expected.f32"))
    with open(os.path.join(d, "flags"), "w") as f:
        f.write("--batch %d\n" % batch)
    with open(os.path.join(d, "tolerance"), "w") as f:
        f.write("%.6g\n" % (step * 1.01))
    print("wrote", name)


def main(argv):
    if "--list" in argv:
        for c in CASES:
            print(c[0])
        return 0
    names = [a for a in argv if not a.startswith("-")]
    unknown = set(names) - {c[0] for c in CASES}
    if unknown:
        print("unknown case(s): %s" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    for c in CASES:
        if not names or c[0] in names:
            generate(c)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
