#!/usr/bin/python3
"""Generate the golden-output regression cases in tests/golden/.

Usage (from any directory; needs Debian's python3-torch and python3-numpy only):

    /usr/bin/python3 tests/gen/gen_golden.py [case ...]

With no arguments every case is (re)generated; otherwise only the named ones.
`--list` prints the case names. The script is deterministic (every random
number comes from a seed derived from the case name), and its output is
committed: `make check` never runs it, it runs tests/run-golden.sh on what this
script wrote.

Each case is a directory tests/golden/<case>/ holding:

    net.cnn               the network; its first line is a comment saying what
                          the case covers
    weights.safetensors   the torch module's state_dict, PyTorch's key names
                          (absent for `init he(...)` / `init xavier(...)` cases)
    input.f32             the whole input batch, raw little-endian float32
    expected.f32          the output computed by PyTorch, raw little-endian
                          float32, row-major NCHW or [N, F]; with several
                          outputs, each whole output in turn (as --main writes)
    flags                 (optional) extra cnnc arguments, one line
    tolerance             (optional) one number, default 1e-4 (abs or rel)

Two substitutes keep the large cases (the examples, 224x224 inputs) small:

    source                instead of net.cnn: the path of the .cnn to compile,
                          relative to the case directory, on the first line
                          (the example cases compile examples/<name>/<name>.cnn
                          itself); the second line says what the case covers
    input.seed            instead of input.f32: one integer S; the input is
                          splitmix64 U(-1, 1) values from state S (seeded_input
                          below), which tests/run-golden.sh writes with
                          build/tools/f32gen S COUNT

Every expected output is computed by PyTorch (torch.nn modules, eval mode,
float32), never by cnnc. For init cases the script reimplements the
deterministic splitmix64 init of docs/language.md and loads those values into
the torch module, so both sides use the same weights bit for bit.
"""

import collections
import math
import os
import shutil
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn

# The safetensors writer/reader (tools/safetensors_io.py) and small module helpers.
from cnnlib import randomize_bn, read_safetensors, seq, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden")
DEFAULT_TOL = 1e-4

# --------------------------------------------------------------------------
# The deterministic init of docs/language.md ("Deterministic init")

MASK64 = (1 << 64) - 1
SM_GAMMA = 0x9E3779B97F4A7C15
SM_M1 = 0xBF58476D1CE4E5B9
SM_M2 = 0x94D049BB133111EB


class SplitMix64:
    """splitmix64, vectorised with numpy uint64 (wrapping) arithmetic."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next_u64(self, n):
        steps = np.arange(1, n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z = np.uint64(self.state) + steps * np.uint64(SM_GAMMA)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(SM_M1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(SM_M2)
            z = z ^ (z >> np.uint64(31))
        self.state = (self.state + n * SM_GAMMA) & MASK64
        return z

    def uniform(self, n):
        # (next() >> 11) * 2^-53: 53-bit integers convert to double exactly
        return (self.next_u64(n) >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)

    def U(self, lo, hi, shape):
        """(float)(lo + (hi - lo) * uniform()), computed in double, rounded to
        float32 (round to nearest even, as a C cast)."""
        n = int(np.prod(shape)) if len(shape) else 1
        lo = float(lo)
        hi = float(hi)
        u = self.uniform(n)
        return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


def seeded_input(seed, n):
    """The input of an input.seed case: n float32 values U(-1, 1) from the
    splitmix64 stream at state `seed`, as tests/tools/f32gen.c writes them."""
    return SplitMix64(seed).U(-1.0, 1.0, (n,))


def _splitmix_reference(seed, n):
    """An independent plain-int implementation, used to check SplitMix64."""
    state = seed & MASK64
    out = []
    for _ in range(n):
        state = (state + SM_GAMMA) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * SM_M1) & MASK64
        z = ((z ^ (z >> 27)) * SM_M2) & MASK64
        out.append(z ^ (z >> 31))
    return out


def self_check_init(verbose=False):
    ref = _splitmix_reference(0, 8)
    # Published first output of splitmix64 with state 0 (Vigna's reference code).
    assert ref[0] == 0xE220A8397B1DCDAF, hex(ref[0])
    for seed in (0, 1, 42, 0xFFFFFFFFFFFFFFFF):
        ref = _splitmix_reference(seed, 100)
        rng = SplitMix64(seed)
        got = list(rng.next_u64(37)) + list(rng.next_u64(63))
        assert [int(x) for x in got] == ref, "splitmix64 mismatch for seed %d" % seed
    # U() against a scalar computation with plain ints and Python floats
    rng = SplitMix64(0)
    vals = rng.U(-0.75, 0.75, (6,))
    ref = [np.float32(-0.75 + 1.5 * ((z >> 11) * 2.0 ** -53)) for z in _splitmix_reference(0, 6)]
    assert [v.tobytes() for v in vals] == [r.tobytes() for r in ref]
    if verbose:
        print("splitmix64 seed 0:", " ".join("%016x" % z for z in _splitmix_reference(0, 4)))
        print("U(-0.75, 0.75) seed 0:", " ".join(repr(float(v)) for v in vals))


def fans(mod):
    if isinstance(mod, nn.ConvTranspose2d):  # weight [in, out/groups, kh, kw]
        kh, kw = mod.kernel_size
        return mod.out_channels // mod.groups * kh * kw, mod.in_channels * kh * kw
    if isinstance(mod, nn.Conv2d):
        kh, kw = mod.kernel_size
        return mod.in_channels // mod.groups * kh * kw, mod.out_channels * kh * kw
    return mod.in_features, mod.out_features


def apply_init(module, scheme, seed):
    """Overwrite every parameter of `module` with the documented init. Layers
    are visited in registration order, which each case builds to match the
    order of layers in its .cnn. Tensors a layer does not have (bias=false,
    affine=false) are not drawn."""
    rng = SplitMix64(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in, fan_out = fans(m)
                if scheme == "he":
                    b = math.sqrt(6.0 / fan_in)
                else:
                    b = math.sqrt(6.0 / (fan_in + fan_out))
                m.weight.copy_(torch.from_numpy(rng.U(-b, b, tuple(m.weight.shape))))
                if m.bias is not None:
                    bb = 1.0 / math.sqrt(fan_in)
                    m.bias.copy_(torch.from_numpy(rng.U(-bb, bb, tuple(m.bias.shape))))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = (m.num_features,)
                if m.affine:
                    m.weight.copy_(torch.from_numpy(rng.U(0.5, 1.5, c)))
                    m.bias.copy_(torch.from_numpy(rng.U(-0.5, 0.5, c)))
                m.running_mean.copy_(torch.from_numpy(rng.U(-0.5, 0.5, c)))
                m.running_var.copy_(torch.from_numpy(rng.U(0.5, 1.5, c)))


# --------------------------------------------------------------------------
# Cases


class Case:
    def __init__(self, name, covers, cnn, build, shape, batch=1, flags="", tol=None,
                 scale=1.0, shift=0.0, init=None, crlf=False, post=None, empty_weights=False,
                 source=None, input_seed=False, prune=None):
        self.name = name
        self.covers = covers
        self.cnn = cnn
        self.build = build
        self.shape = tuple(shape)  # per-sample shape (C, H, W) or (F,)
        self.batch = batch
        self.flags = flags
        self.tol = tol
        self.scale = scale
        self.shift = shift
        self.init = init  # None or (scheme, seed)
        self.crlf = crlf
        self.post = post  # called with the module after randomize_bn
        self.empty_weights = empty_weights
        self.source = source  # a .cnn path relative to the repository, compiled in place
        self.input_seed = input_seed  # write input.seed instead of input.f32
        # Called with the module after its state_dict is taken: what the .cnn's
        # `prune` statements do, done by torch.nn.utils.prune for the expected output.
        self.prune = prune


CASES = []


def case(*args, **kw):
    CASES.append(Case(*args, **kw))


def dedent(text):
    lines = text.strip("\n").split("\n")
    ind = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return "\n".join(l[ind:] for l in lines) + "\n"


HEADER = "@HEADER@"


def simple(body, inp):
    """A .cnn with an `input x[...]` line, the weights/init line, then body.
    generate() fills in the weights/init line: `init ...` for init cases,
    `weights "weights.safetensors"` for networks with parameters, and
    `init he(seed=0)` for networks without any (unless empty_weights is set,
    which writes an empty safetensors file instead)."""
    dims = ", ".join(str(d) for d in inp)
    return "input x[%s]\n%s\n%s" % (dims, HEADER, dedent(body))


R = nn.ReLU

# --------------------------------------------------------------------------
# conv2d

case("conv_basic", "conv2d 3x3, stride 1, no padding, with bias",
     simple("c1: conv2d(5, kernel=3)", (3, 8, 8)),
     lambda: seq(("c1", nn.Conv2d(3, 5, 3))), (3, 8, 8))

case("conv_positional_pad", "conv2d with the kernel given positionally and pad=1",
     simple("c1: conv2d(6, 3, pad=1)", (2, 7, 7)),
     lambda: seq(("c1", nn.Conv2d(2, 6, 3, padding=1))), (2, 7, 7))

case("conv_nonsquare", "conv2d on a non-square input with a non-square kernel=(3,5)",
     simple("c1: conv2d(4, kernel=(3, 5))", (2, 7, 11)),
     lambda: seq(("c1", nn.Conv2d(2, 4, (3, 5)))), (2, 7, 11))

case("conv_stride2_odd", "conv2d stride 2 on odd input sizes (9x11), with and without padding",
     simple("""
        c1: conv2d(4, kernel=3, stride=2)
        c2: conv2d(3, kernel=3, stride=2, pad=1)
     """, (3, 9, 11)),
     lambda: seq(("c1", nn.Conv2d(3, 4, 3, stride=2)),
                 ("c2", nn.Conv2d(4, 3, 3, stride=2, padding=1))), (3, 9, 11))

case("conv_stride_pair", "conv2d with a stride pair stride=(2,1) and stride=(1,3)",
     simple("""
        c1: conv2d(3, kernel=3, stride=(2, 1))
        c2: conv2d(4, kernel=(1, 3), stride=(1, 3))
     """, (2, 10, 13)),
     lambda: seq(("c1", nn.Conv2d(2, 3, 3, stride=(2, 1))),
                 ("c2", nn.Conv2d(3, 4, (1, 3), stride=(1, 3)))), (2, 10, 13))

case("conv_pad_pair", "conv2d with a padding pair pad=(1,2) and pad=(0,2)",
     simple("""
        c1: conv2d(3, kernel=(3, 5), pad=(1, 2))
        c2: conv2d(4, kernel=3, pad=(0, 2))
     """, (2, 6, 7)),
     lambda: seq(("c1", nn.Conv2d(2, 3, (3, 5), padding=(1, 2))),
                 ("c2", nn.Conv2d(3, 4, 3, padding=(0, 2)))), (2, 6, 7))

case("conv_dilation2", "conv2d with dilation=2 (with and without padding)",
     simple("""
        c1: conv2d(3, kernel=3, dilation=2, pad=2)
        c2: conv2d(4, kernel=3, dilation=2)
     """, (2, 10, 10)),
     lambda: seq(("c1", nn.Conv2d(2, 3, 3, dilation=2, padding=2)),
                 ("c2", nn.Conv2d(3, 4, 3, dilation=2))), (2, 10, 10))

case("conv_dilation_pair", "conv2d with a dilation pair dilation=(2,3) plus pad pair and stride",
     simple("c1: conv2d(4, kernel=3, dilation=(2, 3), pad=(1, 0), stride=(1, 2))", (2, 11, 13)),
     lambda: seq(("c1", nn.Conv2d(2, 4, 3, dilation=(2, 3), padding=(1, 0), stride=(1, 2)))),
     (2, 11, 13))

case("conv_groups2", "grouped conv2d, groups=2 (4 -> 6 channels)",
     simple("c1: conv2d(6, kernel=3, pad=1, groups=2)", (4, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(4, 6, 3, padding=1, groups=2))), (4, 6, 6))

case("conv_depthwise", "depthwise conv2d (groups = channels = 4)",
     simple("dw: conv2d(4, kernel=3, pad=1, groups=4)", (4, 7, 7)),
     lambda: seq(("dw", nn.Conv2d(4, 4, 3, padding=1, groups=4))), (4, 7, 7))

case("conv_depthwise_mult", "depthwise conv2d with channel multiplier 2 (4 -> 8, groups=4), stride 2",
     simple("dw: conv2d(8, kernel=3, stride=2, pad=1, groups=4)", (4, 9, 9)),
     lambda: seq(("dw", nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4))), (4, 9, 9))

case("conv_nobias", "conv2d with bias=false (no .bias in the weights file)",
     simple("c1: conv2d(4, kernel=3, pad=1, bias=false)", (3, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(3, 4, 3, padding=1, bias=False))), (3, 6, 6))

case("conv_pointwise", "1x1 (pointwise) conv2d, kernel=1 and kernel=(1,1) with stride 2",
     simple("""
        pw1: conv2d(8, kernel=1)
        pw2: conv2d(5, kernel=(1, 1), stride=2)
     """, (6, 7, 9)),
     lambda: seq(("pw1", nn.Conv2d(6, 8, 1)), ("pw2", nn.Conv2d(8, 5, 1, stride=2))), (6, 7, 9))

case("conv_chain_wide", "two wider conv2d layers (8 -> 16 -> 32 channels), pad 1 then stride 2",
     simple("""
        c1: conv2d(16, kernel=3, pad=1) -> relu
        c2: conv2d(32, kernel=3, stride=2, pad=1)
     """, (8, 12, 12)),
     lambda: seq(("c1", nn.Conv2d(8, 16, 3, padding=1)), ("r", R()),
                 ("c2", nn.Conv2d(16, 32, 3, stride=2, padding=1))), (8, 12, 12))

# --------------------------------------------------------------------------
# batchnorm

case("bn_default", "batchnorm (BatchNorm2d, default eps=1e-5) after conv2d, random stats",
     simple("c1: conv2d(6, kernel=3) -> bn1: batchnorm", (3, 7, 7)),
     lambda: seq(("c1", nn.Conv2d(3, 6, 3)), ("bn1", nn.BatchNorm2d(6))), (3, 7, 7))

case("bn_eps", "batchnorm(eps=1e-3) with small running_var (0.001..0.011), where eps matters",
     simple("c1: conv2d(5, kernel=3, pad=1) -> bn1: batchnorm(eps=1e-3)", (3, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(3, 5, 3, padding=1)), ("bn1", nn.BatchNorm2d(5, eps=1e-3))),
     (3, 6, 6), post=lambda m: m.bn1.running_var.copy_(torch.rand(5) * 0.01 + 0.001))

case("bn_input", "batchnorm directly after the input, then relu",
     simple("bn0: batchnorm -> relu", (4, 5, 6)),
     lambda: seq(("bn0", nn.BatchNorm2d(4)), ("r", R())), (4, 5, 6))

case("bn_flat", "batchnorm on flat tensors (BatchNorm1d): on the input and after linear",
     simple("bn0: batchnorm\nfc1: linear(12) -> bn1: batchnorm -> relu", (20,)),
     lambda: seq(("bn0", nn.BatchNorm1d(20)), ("fc1", nn.Linear(20, 12)),
                 ("bn1", nn.BatchNorm1d(12)), ("r", R())), (20,))

case("bn_noaffine", "batchnorm(affine=false): only running_mean/running_var in the file",
     simple("c1: conv2d(4, kernel=3) -> bn1: batchnorm(affine=false)", (3, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(3, 4, 3)), ("bn1", nn.BatchNorm2d(4, affine=False))), (3, 6, 6))

# --------------------------------------------------------------------------
# activations (inputs span about +-6..9, so saturation matters)

ACT_SHAPE = (3, 6, 7)
for nm, op, mod, what in [
    ("act_relu", "relu", lambda: nn.ReLU(), "relu"),
    ("act_relu6", "relu6", lambda: nn.ReLU6(), "relu6 (clips at 0 and 6)"),
    ("act_leaky_relu", "leaky_relu", lambda: nn.LeakyReLU(), "leaky_relu with the default slope 0.01"),
    ("act_leaky_relu_slope", "leaky_relu(slope=0.2)", lambda: nn.LeakyReLU(0.2),
     "leaky_relu(slope=0.2)"),
    ("act_sigmoid", "sigmoid", lambda: nn.Sigmoid(), "sigmoid"),
    ("act_tanh", "tanh", lambda: nn.Tanh(), "tanh"),
]:
    case(nm, what + ", applied to the input (values spanning +-6 and beyond)",
         simple(op, ACT_SHAPE), (lambda mod=mod: seq(("a", mod()))), ACT_SHAPE, scale=3.0)

case("act_after_layers", "activations after conv2d/linear: relu6, leaky_relu(0.2), tanh, sigmoid",
     simple("""
        c1: conv2d(4, kernel=3, pad=1) -> relu6
        c2: conv2d(4, kernel=3) -> leaky_relu(slope=0.2)
        c3: conv2d(3, kernel=1) -> tanh
        flatten
        fc: linear(7) -> sigmoid
     """, (3, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(3, 4, 3, padding=1)), ("a1", nn.ReLU6()),
                 ("c2", nn.Conv2d(4, 4, 3)), ("a2", nn.LeakyReLU(0.2)),
                 ("c3", nn.Conv2d(4, 3, 1)), ("a3", nn.Tanh()),
                 ("f", nn.Flatten()), ("fc", nn.Linear(48, 7)), ("a4", nn.Sigmoid())),
     (3, 6, 6), scale=4.0)

# --------------------------------------------------------------------------
# maxpool (inputs shifted negative so padding must act as -inf)

case("maxpool_k2", "maxpool(2) on 8x9 (floor drops the last column); a network without "
     "parameters given an empty weights file",
     simple("maxpool(2)", (3, 8, 9)),
     lambda: seq(("p", nn.MaxPool2d(2))), (3, 8, 9), empty_weights=True)

case("maxpool_k3s2p1", "maxpool(3, stride=2, pad=1) on inputs shifted by -3, so most windows are all negative (padding must act as -inf)",
     simple("maxpool(3, stride=2, pad=1)", (3, 9, 10)),
     lambda: seq(("p", nn.MaxPool2d(3, stride=2, padding=1))), (3, 9, 10), shift=-3.0)

case("maxpool_dilation2", "maxpool(3, stride=1, pad=1, dilation=2) and a dilation pair",
     simple("""
        maxpool(3, stride=1, pad=1, dilation=2)
        maxpool(2, stride=(1, 2), dilation=(2, 1))
     """, (2, 9, 10)),
     lambda: seq(("p1", nn.MaxPool2d(3, stride=1, padding=1, dilation=2)),
                 ("p2", nn.MaxPool2d(2, stride=(1, 2), dilation=(2, 1)))), (2, 9, 10), shift=-1.0)

case("maxpool_pairs", "maxpool with kernel, stride and pad pairs",
     simple("maxpool(kernel=(2, 3), stride=(2, 1), pad=(1, 1))", (2, 7, 8)),
     lambda: seq(("p", nn.MaxPool2d((2, 3), stride=(2, 1), padding=(1, 1)))), (2, 7, 8),
     shift=-1.0)

case("maxpool_ceil", "maxpool(2, ceil_mode=true) on 7x7 (4x4 instead of 3x3)",
     simple("maxpool(2, ceil_mode=true)", (3, 7, 7)),
     lambda: seq(("p", nn.MaxPool2d(2, ceil_mode=True))), (3, 7, 7), shift=-1.0)

case("maxpool_ceil_drop", "maxpool(kernel=(2,3), stride=2, pad=1, ceil_mode=true) on 5x8: "
     "the last row window would start in the padding and is dropped (3 rows, not 4); "
     "ceil adds a column (5, not 4)",
     simple("maxpool(kernel=(2, 3), stride=2, pad=1, ceil_mode=true)", (3, 5, 8)),
     lambda: seq(("p", nn.MaxPool2d((2, 3), stride=2, padding=1, ceil_mode=True))), (3, 5, 8),
     shift=-1.0)

# --------------------------------------------------------------------------
# avgpool

case("avgpool_plain", "avgpool(2) and avgpool(3, stride=2) without padding",
     simple("avgpool(2)\navgpool(3, stride=2)", (3, 14, 16)),
     lambda: seq(("p1", nn.AvgPool2d(2)), ("p2", nn.AvgPool2d(3, stride=2))), (3, 14, 16))

case("avgpool_pad_incl", "avgpool(3, stride=2, pad=1), count_include_pad default (true)",
     simple("avgpool(3, stride=2, pad=1)", (3, 7, 8)),
     lambda: seq(("p", nn.AvgPool2d(3, stride=2, padding=1))), (3, 7, 8), shift=1.0)

case("avgpool_pad_excl", "avgpool(3, stride=2, pad=1, count_include_pad=false)",
     simple("avgpool(3, stride=2, pad=1, count_include_pad=false)", (3, 7, 8)),
     lambda: seq(("p", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False))),
     (3, 7, 8), shift=1.0)

case("avgpool_ceil_incl", "avgpool(3, stride=2, pad=1, ceil_mode=true, count_include_pad=true) "
     "on 6x8: the last window reaches beyond the padding (divisor clipped)",
     simple("avgpool(3, stride=2, pad=1, ceil_mode=true, count_include_pad=true)", (3, 6, 8)),
     lambda: seq(("p", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                    count_include_pad=True))), (3, 6, 8), shift=1.0)

case("avgpool_ceil_excl", "avgpool(3, stride=2, pad=1, ceil_mode=true, count_include_pad=false) "
     "on 6x8",
     simple("avgpool(3, stride=2, pad=1, ceil_mode=true, count_include_pad=false)", (3, 6, 8)),
     lambda: seq(("p", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                    count_include_pad=False))), (3, 6, 8), shift=1.0)

case("avgpool_ceil_drop", "avgpool(kernel=(2,3), stride=2, pad=1, ceil_mode=true) on 5x8: "
     "last row window dropped, last column window clipped",
     simple("avgpool(kernel=(2, 3), stride=2, pad=1, ceil_mode=true)", (3, 5, 8)),
     lambda: seq(("p", nn.AvgPool2d((2, 3), stride=2, padding=1, ceil_mode=True))), (3, 5, 8),
     shift=1.0)

case("avgpool_ceil_nopad", "avgpool(2, ceil_mode=true) on 7x9 without padding (partial last "
     "windows) and a pair kernel with ceil_mode and pad",
     simple("""
        avgpool(2, ceil_mode=true)
        avgpool(kernel=(2, 3), stride=(1, 2), pad=(1, 1), ceil_mode=true)
     """, (2, 7, 9)),
     lambda: seq(("p1", nn.AvgPool2d(2, ceil_mode=True)),
                 ("p2", nn.AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1), ceil_mode=True))),
     (2, 7, 9), shift=1.0)

case("global_avgpool", "global_avgpool on a non-square input -> [N, C, 1, 1]",
     simple("global_avgpool", (5, 6, 7)),
     lambda: seq(("g", nn.AdaptiveAvgPool2d(1))), (5, 6, 7))

# --------------------------------------------------------------------------
# flatten, linear, dropout, softmax

case("flatten_out", "flatten as the output: C, H, W order on a non-square 3x4x5 conv output",
     simple("c1: conv2d(3, kernel=(1, 2)) -> flatten", (2, 4, 6)),
     lambda: seq(("c1", nn.Conv2d(2, 3, (1, 2))), ("f", nn.Flatten())), (2, 4, 6))

case("flatten_linear", "flatten of a non-square 2x3x5 tensor into linear (weight columns in "
     "C, H, W order)",
     simple("c1: conv2d(2, kernel=(2, 3)) -> flatten -> fc: linear(7)", (3, 4, 7)),
     lambda: seq(("c1", nn.Conv2d(3, 2, (2, 3))), ("f", nn.Flatten()), ("fc", nn.Linear(30, 7))),
     (3, 4, 7))

case("linear_bias", "linear(10) on a flat input",
     simple("fc: linear(10)", (24,)),
     lambda: seq(("fc", nn.Linear(24, 10))), (24,))

case("linear_nobias", "linear(10, bias=false) on a flat input",
     simple("fc: linear(10, bias=false)", (24,)),
     lambda: seq(("fc", nn.Linear(24, 10, bias=False))), (24,))

case("linear_mlp", "an MLP: linear -> relu -> linear -> tanh -> linear(bias=false)",
     simple("""
        fc1: linear(64) -> relu
        fc2: linear(16) -> tanh
        fc3: linear(4, bias=false)
     """, (32,)),
     lambda: seq(("fc1", nn.Linear(32, 64)), ("r", R()), ("fc2", nn.Linear(64, 16)),
                 ("t", nn.Tanh()), ("fc3", nn.Linear(16, 4, bias=False))), (32,))

case("dropout", "dropout (identity at inference), default p and p=0.2, on NCHW and flat",
     simple("""
        c1: conv2d(4, kernel=3) -> dropout
        flatten -> dropout(p=0.2)
        fc: linear(6)
     """, (2, 5, 5)),
     lambda: seq(("c1", nn.Conv2d(2, 4, 3)), ("d1", nn.Dropout()), ("f", nn.Flatten()),
                 ("d2", nn.Dropout(0.2)), ("fc", nn.Linear(36, 6))), (2, 5, 5))

case("softmax_flat", "softmax over features of a flat tensor, after linear (large logits)",
     simple("fc: linear(10) -> softmax", (16,)),
     lambda: seq(("fc", nn.Linear(16, 10)), ("s", nn.Softmax(dim=1))), (16,), scale=4.0)

case("softmax_nchw", "softmax(dim=1) on an NCHW tensor: over channels at every pixel",
     simple("c1: conv2d(5, kernel=3, pad=1) -> softmax(dim=1)", (3, 4, 6)),
     lambda: seq(("c1", nn.Conv2d(3, 5, 3, padding=1)), ("s", nn.Softmax(dim=1))), (3, 4, 6),
     scale=3.0)

case("softmax_dims", "softmax over H (dim=2) and W (dim=-1) of NCHW, and dim=-1 of a flat tensor",
     simple("""
        c1: conv2d(4, kernel=3, pad=1) -> softmax(dim=2) -> softmax(dim=-1)
        flatten -> softmax(dim=-1)
     """, (2, 5, 6)),
     lambda: seq(("c1", nn.Conv2d(2, 4, 3, padding=1)), ("s2", nn.Softmax(dim=2)),
                 ("s3", nn.Softmax(dim=-1)), ("f", nn.Flatten()), ("s4", nn.Softmax(dim=-1))),
     (2, 5, 6), scale=3.0)

case("dropout_p1", "dropout(p=1.0) is still the identity at inference",
     simple("c1: conv2d(3, kernel=1) -> dropout(p=1.0)", (2, 3, 3)),
     lambda: seq(("c1", nn.Conv2d(2, 3, 1)), ("d", nn.Dropout(1.0))), (2, 3, 3))

# --------------------------------------------------------------------------
# batch, params, labels


def _batch_net():
    return seq(("c1", nn.Conv2d(3, 4, 3, padding=1)), ("bn1", nn.BatchNorm2d(4)), ("r", R()),
               ("p", nn.MaxPool2d(2)), ("f", nn.Flatten()), ("fc", nn.Linear(64, 5)))


case("batch2", "batch 2 (--batch 2): conv2d + batchnorm + relu + maxpool + flatten + linear",
     simple("""
        c1: conv2d(4, kernel=3, pad=1) -> bn1: batchnorm -> relu -> maxpool(2)
        flatten
        fc: linear(5)
     """, (3, 8, 8)),
     _batch_net, (3, 8, 8), batch=2)

case("batch3_flat", "batch 3 (--batch 3) on a flat network: linear + batchnorm + softmax",
     simple("fc1: linear(8) -> bn1: batchnorm -> relu\nfc2: linear(4) -> softmax", (10,)),
     lambda: seq(("fc1", nn.Linear(10, 8)), ("bn1", nn.BatchNorm1d(8)), ("r", R()),
                 ("fc2", nn.Linear(8, 4)), ("s", nn.Softmax(dim=1))), (10,), batch=3)

case("param_override", "param k = 3 in the file, overridden by -D k=5 on the command line",
     simple("""
        param k = 3
        param c = 4
        c1: conv2d(c, kernel=k, pad=k/2) -> relu
        c2: conv2d(2 * c, kernel=k, stride=2)
     """, (2, 11, 11)),
     lambda: seq(("c1", nn.Conv2d(2, 4, 5, padding=2)), ("r", R()),
                 ("c2", nn.Conv2d(4, 8, 5, stride=2))), (2, 11, 11), flags="-D k=5")


class _Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn1(self.conv1(x)))


class _Dotted(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = seq(("0", nn.Conv2d(3, 6, 3, padding=1)), ("1", nn.BatchNorm2d(6)),
                            ("2", R()), ("3", nn.MaxPool2d(2)))
        self.layer1 = seq(("0", _Block(6, 8)))
        self.classifier = seq(("0", nn.Dropout()), ("1", nn.Linear(8 * 4 * 4, 10)))

    def forward(self, x):
        x = self.layer1(self.features(x))
        return self.classifier(torch.flatten(x, 1))


case("labels_dotted", "dotted labels as PyTorch keys: features.0, features.1, "
     "layer1.0.conv1, layer1.0.bn1, classifier.1",
     simple("""
        features.0: conv2d(6, kernel=3, pad=1) -> features.1: batchnorm -> relu -> maxpool(2)
        layer1.0.conv1: conv2d(8, kernel=3, pad=1, bias=false) -> layer1.0.bn1: batchnorm -> relu
        flatten -> dropout
        classifier.1: linear(10)
     """, (3, 8, 8)),
     _Dotted, (3, 8, 8))


def _labels_string():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 6, 3, bias=False), nn.BatchNorm2d(6)), nn.ReLU(),
        nn.Flatten(), nn.Linear(6 * 3 * 4, 10))


case("labels_string", "string labels for nn.Sequential keys: \"0\", \"2.0\", \"2.1\", \"5\"",
     simple("""
        "0": conv2d(4, kernel=3) -> relu
        "2.0": conv2d(6, 3, bias=false) -> "2.1": batchnorm -> relu
        flatten
        "5": linear(10)
     """, (3, 7, 8)),
     _labels_string, (3, 7, 8))

# --------------------------------------------------------------------------
# deterministic init


def _init_he_net():
    return seq(("c1", nn.Conv2d(3, 6, 3, padding=1)), ("bn1", nn.BatchNorm2d(6)), ("r1", R()),
               ("p1", nn.MaxPool2d(2)),
               ("c2", nn.Conv2d(6, 8, 3, groups=2)), ("r2", R()),
               ("f", nn.Flatten()), ("fc1", nn.Linear(8 * 2 * 2, 12)), ("r3", R()),
               ("fc2", nn.Linear(12, 5)))


INIT_BODY = """
    c1: conv2d(6, kernel=3, pad=1) -> bn1: batchnorm -> relu -> maxpool(2)
    c2: conv2d(8, kernel=3, groups=2) -> relu
    flatten
    fc1: linear(12) -> relu
    fc2: linear(5)
"""

case("init_he", "init he(seed=1): conv2d (incl. groups=2) + batchnorm + linear, every he rule",
     simple(INIT_BODY, (3, 8, 8)),
     _init_he_net, (3, 8, 8), init=("he", 1))

case("init_xavier", "init xavier(seed=7): conv2d (incl. groups=2) + batchnorm + linear, "
     "every xavier rule",
     simple(INIT_BODY, (3, 8, 8)),
     _init_he_net, (3, 8, 8), init=("xavier", 7))

case("init_he_seed0_flat", "init he(seed=0) on a flat network: linear + BatchNorm1d + linear",
     simple("fc1: linear(16) -> bn1: batchnorm -> relu\nfc2: linear(3)", (9,)),
     lambda: seq(("fc1", nn.Linear(9, 16)), ("bn1", nn.BatchNorm1d(16)), ("r", R()),
                 ("fc2", nn.Linear(16, 3))), (9,), init=("he", 0))

case("init_absent_tensors", "init xavier(seed=3) with bias=false and batchnorm(affine=false): "
     "tensors a layer does not have are not drawn",
     simple("""
        c1: conv2d(4, kernel=3, bias=false) -> bn1: batchnorm(affine=false) -> relu
        flatten
        fc1: linear(6, bias=false)
        fc2: linear(3)
     """, (2, 5, 5)),
     lambda: seq(("c1", nn.Conv2d(2, 4, 3, bias=False)), ("bn1", nn.BatchNorm2d(4, affine=False)),
                 ("r", R()), ("f", nn.Flatten()), ("fc1", nn.Linear(36, 6, bias=False)),
                 ("fc2", nn.Linear(6, 3))), (2, 5, 5), init=("xavier", 3))

# --------------------------------------------------------------------------
# syntax and whole networks

case("syntax", "syntax: CRLF line ends, ';', '->' continuation lines, comments, param "
     "expressions (floor /, %, float), named tensors, a chain from a named source, output",
     dedent("""
        network syntax_case   # a comment after a statement
        input img[3, 9, 8]; weights "weights.safetensors"
        param c = 2 * 3 - 1          # 5
        param k = 7 / 2              # floor division: 3
        param e = 1e-3 * 2           # a float param
        feat = img -> c1: conv2d(c, kernel=k, pad=(k - 1) / 2)
            -> bn1: batchnorm(eps=e)
            -> relu
        logits = feat -> maxpool(2)
            -> flatten
        -> fc: linear(
               2 * c + 11 % 4 - -1   # 5*2 + 3 + 1 = 14
           )
        side = feat -> tanh          # a later chain that is not the output
        output logits
     """),
     lambda: seq(("c1", nn.Conv2d(3, 5, 3, padding=1)), ("bn1", nn.BatchNorm2d(5, eps=0.002)),
                 ("r", R()), ("p", nn.MaxPool2d(2)), ("f", nn.Flatten()),
                 ("fc", nn.Linear(5 * 4 * 4, 14))), (3, 9, 8), crlf=True)


class _LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


case("lenet5", "LeNet-5 end to end, the network of docs/language.md",
     dedent("""
        network lenet5
        input image[1, 28, 28]          # C, H, W; the batch size is --batch (default 1)
        weights "weights.safetensors"   # PyTorch state_dict saved with safetensors
        param k = 5

        conv1: conv2d(6, kernel=k, pad=k/2) -> relu -> maxpool(2)
        conv2: conv2d(16, kernel=k) -> relu -> maxpool(2)
        flatten
        fc1: linear(120) -> relu
        fc2: linear(84) -> relu
        fc3: linear(10)
     """),
     _LeNet5, (1, 28, 28))


def _mini_mobilenet():
    return seq(("stem", nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)),
               ("stem_bn", nn.BatchNorm2d(8)), ("r0", nn.ReLU6()),
               ("dw", nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)),
               ("dw_bn", nn.BatchNorm2d(8)), ("r1", nn.ReLU6()),
               ("pw", nn.Conv2d(8, 16, 1, bias=False)), ("pw_bn", nn.BatchNorm2d(16)),
               ("r2", nn.ReLU6()), ("g", nn.AdaptiveAvgPool2d(1)), ("f", nn.Flatten()),
               ("d", nn.Dropout(0.2)), ("fc", nn.Linear(16, 10)), ("s", nn.Softmax(dim=1)))


case("mini_mobilenet", "a MobileNet-like block stack, batch 2: conv/bn/relu6, depthwise, "
     "pointwise, global_avgpool, dropout, linear, softmax",
     simple("""
        stem: conv2d(8, kernel=3, stride=2, pad=1, bias=false) -> stem_bn: batchnorm -> relu6
        dw: conv2d(8, kernel=3, pad=1, groups=8, bias=false) -> dw_bn: batchnorm -> relu6
        pw: conv2d(16, kernel=1, bias=false) -> pw_bn: batchnorm -> relu6
        global_avgpool -> flatten -> dropout(p=0.2)
        fc: linear(10) -> softmax
     """, (3, 16, 15)),
     _mini_mobilenet, (3, 16, 15), batch=2)

# --------------------------------------------------------------------------
# Branches and blocks: add, concat, upsample, adaptive_avgpool, hardswish,
# silu, named tensors, blocks, '* N', several outputs


class Net(nn.Module):
    """Layers at dotted paths ("layer1.0.conv1" has the keys
    "layer1.0.conv1.weight", ...), registered in the order given (the init
    order), and forward(x) = fn(L, x), where L("path") is the layer at path."""

    def __init__(self, layers, fn):
        super().__init__()
        for path, mod in layers:
            parent = self
            parts = path.split(".")
            for part in parts[:-1]:
                if part not in parent._modules:
                    parent.add_module(part, nn.Module())
                parent = parent._modules[part]
            parent.add_module(parts[-1], mod)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.get_submodule, x)


relu = torch.relu
cat = lambda *ts: torch.cat(ts, dim=1)  # noqa: E731


def _add_skip(L, x):
    a = relu(L("c1")(x))
    y = L("c3")(relu(L("c2")(a)))
    return relu(a + y)


case("add_skip", "add: a skip connection across a three-layer branch (the skip tensor stays "
     "live across it), batch 2",
     simple("""
        a = c1: conv2d(4, kernel=3, pad=1) -> relu
        y = a -> c2: conv2d(4, kernel=3, pad=1) -> relu -> c3: conv2d(4, kernel=3, pad=1)
        add(a, y) -> relu            # the skip connection
     """, (3, 6, 7)),
     lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("c2", nn.Conv2d(4, 4, 3, padding=1)),
                  ("c3", nn.Conv2d(4, 4, 3, padding=1))], _add_skip), (3, 6, 7), batch=2)


def _add_forms(L, x):
    a = L("c1")(x)
    b = a + x
    c = b + b
    f = L("fc1")(torch.flatten(c, 1))
    g = torch.tanh(L("fc2")(f))
    return relu(g + f)


case("add_forms", "add: the chain form 'a -> add(x)' with the network input as an operand, "
     "a tensor added to itself, add of flat tensors, batch 2",
     simple("""
        a = c1: conv2d(3, kernel=1)
        b = a -> add(x)              # add(a, x)
        c = add(b, b)
        f = c -> flatten -> fc1: linear(6)
        g = f -> fc2: linear(6) -> tanh
        add(g, f) -> relu
     """, (3, 4, 5)),
     lambda: Net([("c1", nn.Conv2d(3, 3, 1)), ("fc1", nn.Linear(60, 6)),
                  ("fc2", nn.Linear(6, 6))], _add_forms), (3, 4, 5), batch=2)

case("concat_two", "concat of 2 NCHW tensors with different channel counts (the input's 3 "
     "and a conv's 5), batch 2",
     simple("""
        a = c1: conv2d(5, kernel=3, pad=1)
        concat(x, a)
     """, (3, 5, 6)),
     lambda: Net([("c1", nn.Conv2d(3, 5, 3, padding=1))], lambda L, x: cat(x, L("c1")(x))),
     (3, 5, 6), batch=2)


def _concat_three(L, x):
    a = relu(L("c1")(x))
    b = L("c2")(x)
    return cat(a, x, b)


case("concat_three", "concat of 3 NCHW tensors (4, 2 and 1 channels) in the chain form "
     "'a -> concat(x, b)'",
     simple("""
        a = c1: conv2d(4, kernel=3, pad=1) -> relu
        b = x -> c2: conv2d(1, kernel=1)
        a -> concat(x, b)            # concat(a, x, b)
     """, (2, 5, 7)),
     lambda: Net([("c1", nn.Conv2d(2, 4, 3, padding=1)), ("c2", nn.Conv2d(2, 1, 1))],
                 _concat_three), (2, 5, 7))


def _concat_flat(L, x):
    a = L("fc1")(x)
    b = L("fc2")(x)
    return cat(a, x, b), cat(b, a)


case("concat_flat", "concat of flat tensors: 3 inputs (3, 6 and 5 features) and 2 inputs, "
     "as two outputs, batch 3",
     simple("""
        a = fc1: linear(3)
        b = x -> fc2: linear(5)
        u = concat(a, x, b)
        v = b -> concat(a)
        output u, v
     """, (6,)),
     lambda: Net([("fc1", nn.Linear(6, 3)), ("fc2", nn.Linear(6, 5))], _concat_flat), (6,),
     batch=3)


def _up(**kw):
    return lambda: seq(("u", nn.Upsample(**kw)))


case("up_nearest_s2", "upsample(scale=2) (nearest, the default mode) on 4x5, batch 2",
     simple("upsample(scale=2)", (3, 4, 5)), _up(scale_factor=2), (3, 4, 5), batch=2)

case("up_nearest_s3", "upsample(scale=3, mode=\"nearest\") on 3x4",
     simple("upsample(scale=3, mode=\"nearest\")", (2, 3, 4)), _up(scale_factor=3), (2, 3, 4))

case("up_nearest_pair", "upsample(scale=(2, 3)) nearest: a scale pair, 3x4 -> 6x12, batch 2",
     simple("upsample(scale=(2, 3))", (2, 3, 4)), _up(scale_factor=(2, 3)), (2, 3, 4), batch=2)

def _two_sizes(mode, s1, s2):
    def fwd(L, x):
        return L("u1")(x), L("u2")(x)
    return lambda: Net([("u1", nn.Upsample(size=s1, mode=mode)),
                        ("u2", nn.Upsample(size=s2, mode=mode))], fwd)


case("up_nearest_size", "upsample nearest by size, as two outputs of the input: size=(8, 9) "
     "(non-integer ratios 5 -> 8, 6 -> 9) and size=(3, 4) (shrinking), batch 2",
     simple("""
        y = upsample(size=(8, 9))
        z = x -> upsample(size=(3, 4))
        output y, z
     """, (2, 5, 6)), _two_sizes("nearest", (8, 9), (3, 4)), (2, 5, 6), batch=2)

case("up_nearest_size_float", "upsample(size=(4, 46)) nearest: 3 -> 4, and 14 -> 46 where "
     "PyTorch's float index floor(23 * (14f / 46)) is 6, not the exact 7",
     simple("upsample(size=(4, 46))", (2, 3, 14)), _up(size=(4, 46)), (2, 3, 14))

case("up_bilinear_s2", "upsample(scale=2, mode=\"bilinear\") (align_corners=False), batch 2",
     simple("upsample(scale=2, mode=\"bilinear\")", (3, 4, 5)),
     _up(scale_factor=2, mode="bilinear"), (3, 4, 5), batch=2)

case("up_bilinear_s3_pair", "bilinear by scale 3, then by the pair (1, 2) (one axis unscaled)",
     simple("upsample(scale=3, mode=\"bilinear\") -> upsample(scale=(1, 2), mode=\"bilinear\")",
            (2, 3, 4)),
     lambda: seq(("u1", nn.Upsample(scale_factor=3, mode="bilinear")),
                 ("u2", nn.Upsample(scale_factor=(1, 2), mode="bilinear"))), (2, 3, 4))

case("up_bilinear_size", "bilinear by size, as two outputs of the input: 5x7 -> 8x12 "
     "(non-integer ratios) and 5x7 -> 3x9 (one axis shrinking), batch 2",
     simple("""
        y = upsample(size=(8, 12), mode="bilinear")
        z = x -> upsample(size=(3, 9), mode="bilinear")
        output y, z
     """, (2, 5, 7)), _two_sizes("bilinear", (8, 12), (3, 9)), (2, 5, 7), batch=2)

case("adaptive_avgpool_1", "adaptive_avgpool(1) on 5x7 -> [N, C, 1, 1], batch 2",
     simple("adaptive_avgpool(1)", (4, 5, 7)),
     lambda: seq(("p", nn.AdaptiveAvgPool2d(1))), (4, 5, 7), batch=2)

case("adaptive_avgpool_pair", "adaptive_avgpool((2, 3)) on 6x7 after a conv: 6 -> 2 divides, "
     "7 -> 3 does not",
     simple("c1: conv2d(3, kernel=3, pad=1) -> adaptive_avgpool((2, 3))", (2, 6, 7)),
     lambda: seq(("c1", nn.Conv2d(2, 3, 3, padding=1)), ("p", nn.AdaptiveAvgPool2d((2, 3)))),
     (2, 6, 7))

case("adaptive_avgpool_nondiv", "adaptive_avgpool(size=3) on 7x8 (overlapping windows), then "
     "adaptive_avgpool(size=(5, 4)) growing 3 -> 5, batch 2",
     simple("adaptive_avgpool(size=3) -> adaptive_avgpool(size=(5, 4))", (3, 7, 8)),
     lambda: seq(("p1", nn.AdaptiveAvgPool2d(3)), ("p2", nn.AdaptiveAvgPool2d((5, 4)))),
     (3, 7, 8), batch=2)

for nm, op, mod in [("act_hardswish", "hardswish", nn.Hardswish), ("act_silu", "silu", nn.SiLU),
                    ("act_hardsigmoid", "hardsigmoid", nn.Hardsigmoid)]:
    case(nm, op + ", applied to the input (values spanning +-6 and beyond), batch 2",
         simple(op, ACT_SHAPE), (lambda mod=mod: seq(("a", mod()))), ACT_SHAPE, scale=3.0,
         batch=2)

case("act_hardswish_silu_layers", "hardswish and silu after conv2d and linear",
     simple("""
        c1: conv2d(6, kernel=3, pad=1) -> hardswish
        c2: conv2d(4, kernel=3, stride=2) -> silu
        flatten
        fc: linear(8) -> hardswish -> silu
     """, (3, 7, 7)),
     lambda: seq(("c1", nn.Conv2d(3, 6, 3, padding=1)), ("a1", nn.Hardswish()),
                 ("c2", nn.Conv2d(6, 4, 3, stride=2)), ("a2", nn.SiLU()), ("f", nn.Flatten()),
                 ("fc", nn.Linear(36, 8)), ("a3", nn.Hardswish()), ("a4", nn.SiLU())),
     (3, 7, 7), scale=3.0)

case("act_hardsigmoid_layers", "hardsigmoid after conv2d and linear (fused at -O2)",
     simple("""
        c1: conv2d(6, kernel=3, pad=1) -> hardsigmoid
        flatten
        fc: linear(8) -> hardsigmoid
     """, (3, 5, 5)),
     lambda: seq(("c1", nn.Conv2d(3, 6, 3, padding=1)), ("a1", nn.Hardsigmoid()),
                 ("f", nn.Flatten()), ("fc", nn.Linear(150, 8)), ("a2", nn.Hardsigmoid())),
     (3, 5, 5), scale=3.0)

# --------------------------------------------------------------------------
# Issue 12 ("Real models"): concat of many tensors, mul, sub, broadcast add,
# mean, squeeze-and-excitation blocks

_MANY = ["x", "a", "b"] * 7  # 21 tensors, more than the old limit of 16


def _concat_many(L, x):
    a = relu(L("c1")(x))
    b = L("c2")(x)
    t = {"x": x, "a": a, "b": b}
    return L("c3")(torch.cat([t[k] for k in _MANY], dim=1))


case("concat_many", "concat of 21 tensors (a tensor repeated), then a 1x1 conv, batch 2",
     simple("""
        a = c1: conv2d(3, kernel=1) -> relu
        b = x -> c2: conv2d(1, kernel=3, pad=1)
        concat(%s)
            -> c3: conv2d(4, kernel=1)
     """ % ", ".join(_MANY), (2, 4, 4)),
     lambda: Net([("c1", nn.Conv2d(2, 3, 1)), ("c2", nn.Conv2d(2, 1, 3, padding=1)),
                  ("c3", nn.Conv2d(7 * 6, 4, 1))], _concat_many), (2, 4, 4), batch=2)

case("concat_max", "concat of 125 tensors, the most one layer takes (the input 125 times)",
     simple("concat(%s)" % ", ".join(["x"] * 125), (3,)),
     lambda: Net([], lambda L, x: torch.cat([x] * 125, dim=1)), (3,), batch=2)


def _binary_equal(L, x):
    a = L("c1")(x)
    b = torch.tanh(L("c2")(x))
    p = a * b
    q = a - b
    r = q * q
    f = L("fc1")(torch.flatten(r - p, 1))
    g = torch.sigmoid(L("fc2")(f))
    h = g * f
    return f - h


case("binary_equal", "mul and sub of equal shapes: NCHW and flat, the chain form 'a -> sub(b)' "
     "(a - b), a tensor times itself, operands that stay live (no in-place), batch 2",
     simple("""
        a = c1: conv2d(4, kernel=3, pad=1)
        b = x -> c2: conv2d(4, kernel=3, pad=1) -> tanh
        p = mul(a, b)
        q = a -> sub(b)              # sub(a, b): a - b
        r = mul(q, q)
        f = sub(r, p) -> flatten -> fc1: linear(6)
        g = f -> fc2: linear(6) -> sigmoid
        h = mul(g, f)
        sub(f, h)
     """, (3, 4, 5)),
     lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("c2", nn.Conv2d(3, 4, 3, padding=1)),
                  ("fc1", nn.Linear(80, 6)), ("fc2", nn.Linear(6, 6))], _binary_equal),
     (3, 4, 5), batch=2)


def _binary_broadcast(L, x):
    y = L("c1")(x)
    pooled = nn.functional.adaptive_avg_pool2d(y, 1)
    g = L("s")(pooled)
    t = L("t")(pooled)
    return torch.cat([g * y, y * g, g - y, y - g, g + y, y * g + t], dim=1)


case("binary_broadcast", "add, mul and sub of [N, C, 1, 1] with [N, C, H, W] in both orders "
     "(PyTorch's broadcasting: g - y and y - g), and x * scale + shift, batch 2",
     simple("""
        y = c1: conv2d(4, kernel=3, pad=1)
        pooled = y -> global_avgpool
        g = pooled -> s: conv2d(4, kernel=1)
        t = pooled -> t: conv2d(4, kernel=1)
        m1 = mul(g, y)
        m2 = y -> mul(g)
        s1 = sub(g, y)
        s2 = y -> sub(g)
        a1 = add(g, y)
        a2 = m2 -> add(t)            # y * scale + shift
        concat(m1, m2, s1, s2, a1, a2)
     """, (3, 5, 6)),
     lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("s", nn.Conv2d(4, 4, 1)),
                  ("t", nn.Conv2d(4, 4, 1))], _binary_broadcast), (3, 5, 6), batch=2)


class _SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation, its forward copied (so that this
    script needs torch only): scale = sigma(fc2(delta(fc1(avgpool(x))))),
    returns scale * x."""

    def __init__(self, c, s, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, s, 1)
        self.fc2 = nn.Conv2d(s, c, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


SE_BLOCKS = """
    block se(c, s) {             # ReLU and Sigmoid (RegNet)
        g = global_avgpool -> fc1: conv2d(s, kernel=1) -> relu -> fc2: conv2d(c, kernel=1)
            -> sigmoid
        mul(g, in)
    }
    block se_hard(c, s) {        # ReLU and Hardsigmoid (MobileNetV3)
        g = global_avgpool -> fc1: conv2d(s, kernel=1) -> relu -> fc2: conv2d(c, kernel=1)
            -> hardsigmoid
        mul(g, in)
    }
    block se_silu(c, s) {        # SiLU and Sigmoid (EfficientNet)
        g = global_avgpool -> fc1: conv2d(s, kernel=1) -> silu -> fc2: conv2d(c, kernel=1)
            -> sigmoid
        mul(g, in)
    }
"""

case("se_blocks", "squeeze-and-excitation blocks as torchvision's SqueezeExcitation: "
     "ReLU/Sigmoid, ReLU/Hardsigmoid, SiLU/Sigmoid (the gate fused into fc2 at -O2, the "
     "mul in place), the last one inside a residual add, batch 2",
     simple(dedent(SE_BLOCKS) + dedent("""
        c1: conv2d(8, kernel=3, pad=1) -> b1: batchnorm -> relu
        se1: se(8, 2)
        c2: conv2d(8, kernel=3, pad=1, bias=false) -> b2: batchnorm -> hardswish
        y = se2: se_hard(8, 4)
        z = y -> c3: conv2d(8, kernel=1) -> silu -> se3: se_silu(8, 2)
        add(z, y) -> global_avgpool -> flatten -> fc: linear(5)
     """), (3, 7, 6)),
     lambda: Net([("c1", nn.Conv2d(3, 8, 3, padding=1)), ("b1", nn.BatchNorm2d(8)),
                  ("se1", _SqueezeExcitation(8, 2)),
                  ("c2", nn.Conv2d(8, 8, 3, padding=1, bias=False)), ("b2", nn.BatchNorm2d(8)),
                  ("se2", _SqueezeExcitation(8, 4, scale_activation=nn.Hardsigmoid)),
                  ("c3", nn.Conv2d(8, 8, 1)),
                  ("se3", _SqueezeExcitation(8, 2, activation=nn.SiLU)),
                  ("fc", nn.Linear(8, 5))], _se_blocks), (3, 7, 6), batch=2, scale=2.0)


def _se_blocks(L, x):
    y = L("se2")(nn.functional.hardswish(L("b2")(L("c2")(
        L("se1")(relu(L("b1")(L("c1")(x))))))))
    z = L("se3")(nn.functional.silu(L("c3")(y)))
    return L("fc")(torch.flatten(nn.functional.adaptive_avg_pool2d(z + y, 1), 1))


def _se_prune_zero(m):
    """Channels 1 and 5 of c1 and of the gate's fc2: constants through the
    relu, the pool and the mul (gate and gated alike)."""
    for k in (1, 5):
        m.c1.weight[k].zero_()
        m.se.fc2.weight[k].zero_()


case("se_prune", "an SE block whose gate and gated tensor have the same all-zero channels: "
     "at -O2 prune-channels removes them through global_avgpool and mul, folding the "
     "constants into fc1's and c2's biases",
     simple("""
        block se(c, s) {
            g = global_avgpool -> fc1: conv2d(s, kernel=1) -> relu -> fc2: conv2d(c, kernel=1)
                -> sigmoid
            mul(g, in)
        }
        c1: conv2d(8, kernel=3, pad=1) -> relu
        se: se(8, 3)
        c2: conv2d(4, kernel=1)
     """, (3, 6, 6)),
     lambda: Net([("c1", nn.Conv2d(3, 8, 3, padding=1)), ("se", _SqueezeExcitation(8, 3)),
                  ("c2", nn.Conv2d(8, 4, 1))],
                 lambda L, x: L("c2")(L("se")(relu(L("c1")(x))))), (3, 6, 6), batch=2,
     post=_se_prune_zero)


def _mean_dims(L, x):
    y = relu(L("c1")(x))
    g = torch.sigmoid(L("fc")(y.mean((2, 3), keepdim=True)))
    f = torch.mean(y * g, (-1, -2))
    return f, L("fc2")(f)


case("mean_dims", "mean over (2, 3) with keepdim=true ([N, C, 1, 1], gating as in an SE "
     "block) and over (-1, -2) without ([N, C], into a linear; also an output), batch 2",
     simple("""
        y = c1: conv2d(4, kernel=3, pad=1) -> relu
        g = y -> mean((2, 3), keepdim=true) -> fc: conv2d(4, kernel=1) -> sigmoid
        f = mul(y, g) -> mean(dim=(-1, -2))
        o = f -> fc2: linear(3)
        output f, o
     """, (3, 5, 7)),
     lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("fc", nn.Conv2d(4, 4, 1)),
                  ("fc2", nn.Linear(4, 3))], _mean_dims), (3, 5, 7), batch=2)


# --------------------------------------------------------------------------
# conv_transpose2d (nn.ConvTranspose2d). Most cases have at least 4096
# multiply-adds (cnnc's GEMM + col2im kernel); convt_direct and
# convt_nonsquare are smaller (its direct loops).

CT = nn.ConvTranspose2d

case("convt_k2s2", "conv_transpose2d kernel=2 stride=2 (the U-Net up-sampling layer), "
     "8 -> 6 channels on 6x7",
     simple("up: conv_transpose2d(6, kernel=2, stride=2)", (8, 6, 7)),
     lambda: seq(("up", CT(8, 6, 2, stride=2))), (8, 6, 7))

case("convt_k3s2_outpad", "conv_transpose2d kernel=3 stride=2 pad=1 output_padding=1 "
     "(exactly doubles 5x7 to 10x14)",
     simple("up: conv_transpose2d(4, 3, stride=2, pad=1, output_padding=1)", (6, 5, 7)),
     lambda: seq(("up", CT(6, 4, 3, stride=2, padding=1, output_padding=1))), (6, 5, 7))

case("convt_dilation2", "conv_transpose2d with dilation=2 and pad=1; then stride 1, "
     "dilation 2 and output_padding=1 (allowed: smaller than the dilation)",
     simple("""
        u1: conv_transpose2d(5, kernel=3, dilation=2, pad=1)
        u2: conv_transpose2d(3, kernel=3, dilation=2, output_padding=1)
     """, (4, 6, 6)),
     lambda: seq(("u1", CT(4, 5, 3, dilation=2, padding=1)),
                 ("u2", CT(5, 3, 3, dilation=2, output_padding=1))), (4, 6, 6))

case("convt_groups2", "grouped conv_transpose2d, groups=2 (6 -> 8 channels), kernel 3 stride 2 "
     "pad 1",
     simple("up: conv_transpose2d(8, kernel=3, stride=2, pad=1, groups=2)", (6, 5, 5)),
     lambda: seq(("up", CT(6, 8, 3, stride=2, padding=1, groups=2))), (6, 5, 5))

case("convt_nobias", "conv_transpose2d with bias=false (no .bias in the weights file), "
     "kernel 4 stride 2 pad 1 (DCGAN's generator layer)",
     simple("up: conv_transpose2d(3, kernel=4, stride=2, pad=1, bias=false)", (5, 6, 6)),
     lambda: seq(("up", CT(5, 3, 4, stride=2, padding=1, bias=False))), (5, 6, 6))

case("convt_nonsquare", "conv_transpose2d on a non-square input with kernel=(2,3), "
     "stride=(2,1), pad=(0,1), output_padding=(1,0) (direct loops)",
     simple("up: conv_transpose2d(4, kernel=(2, 3), stride=(2, 1), pad=(0, 1), "
            "output_padding=(1, 0))", (3, 5, 8)),
     lambda: seq(("up", CT(3, 4, (2, 3), stride=(2, 1), padding=(0, 1),
                           output_padding=(1, 0)))), (3, 5, 8))

case("convt_batch2", "conv_transpose2d kernel 3 stride 2 then kernel 2 stride 2, batch 2",
     simple("""
        u1: conv_transpose2d(6, kernel=3, stride=2)
        u2: conv_transpose2d(3, kernel=2, stride=2)
     """, (4, 5, 6)),
     lambda: seq(("u1", CT(4, 6, 3, stride=2)), ("u2", CT(6, 3, 2, stride=2))), (4, 5, 6),
     batch=2)

case("convt_relu", "conv_transpose2d followed by relu and by leaky_relu (fused into its "
     "epilogue at -O2)",
     simple("""
        u1: conv_transpose2d(6, kernel=2, stride=2) -> relu
        u2: conv_transpose2d(4, kernel=3, stride=2, pad=1, output_padding=1) -> leaky_relu(0.1)
     """, (5, 5, 6)),
     lambda: seq(("u1", CT(5, 6, 2, stride=2)), ("r1", nn.ReLU()),
                 ("u2", CT(6, 4, 3, stride=2, padding=1, output_padding=1)),
                 ("r2", nn.LeakyReLU(0.1))), (5, 5, 6))

case("convt_bn", "conv_transpose2d followed by batchnorm (folded along C_out at -O2): "
     "without bias and groups 2, then with bias and relu, batch 2",
     simple("""
        u1: conv_transpose2d(8, kernel=2, stride=2, groups=2, bias=false) -> bn1: batchnorm
        u2: conv_transpose2d(4, kernel=3, pad=1) -> bn2: batchnorm -> relu
     """, (4, 5, 5)),
     lambda: seq(("u1", CT(4, 8, 2, stride=2, groups=2, bias=False)), ("bn1", nn.BatchNorm2d(8)),
                 ("u2", CT(8, 4, 3, padding=1)), ("bn2", nn.BatchNorm2d(4)), ("r", nn.ReLU())),
     (4, 5, 5), batch=2)

case("convt_direct", "small conv_transpose2d layers (direct loops): groups 2, stride (2,3), "
     "pad (1,0), output_padding (1,2), dilation (1,2), kernel (3,2); then relu fused",
     simple("""
        u1: conv_transpose2d(4, kernel=(3, 2), stride=(2, 3), pad=(1, 0),
                             output_padding=(1, 2), dilation=(1, 2), groups=2) -> relu
        u2: conv_transpose2d(2, kernel=1, bias=false)
     """, (2, 3, 4)),
     lambda: seq(("u1", CT(2, 4, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                           dilation=(1, 2), groups=2)), ("r", nn.ReLU()),
                 ("u2", CT(4, 2, 1, bias=False))), (2, 3, 4))

case("convt_gaps_crop", "conv_transpose2d with stride larger than the kernel (outputs no tap "
     "reaches are the bias) and with padding beyond the kernel (taps cropped away)",
     simple("""
        u1: conv_transpose2d(4, kernel=2, stride=3, pad=1)
        u2: conv_transpose2d(3, kernel=3, stride=2, pad=4)
     """, (5, 6, 6)),
     lambda: seq(("u1", CT(5, 4, 2, stride=3, padding=1)),
                 ("u2", CT(4, 3, 3, stride=2, padding=4))), (5, 6, 6))

for scheme in ("he", "xavier"):
    case("convt_init_" + scheme, "conv_transpose2d with init %s(seed=4): PyTorch's fans of the "
         "weight [in, out/groups, kh, kw] (groups 2)" % scheme,
         simple("""
            u1: conv_transpose2d(6, kernel=3, stride=2, groups=2)
            u2: conv_transpose2d(3, kernel=2, stride=2, bias=false)
         """, (4, 5, 5)),
         lambda: seq(("u1", CT(4, 6, 3, stride=2, groups=2)), ("u2", CT(6, 3, 2, stride=2,
                                                                        bias=False))),
         (4, 5, 5), init=(scheme, 4))


def _convt_unet(L, x):
    e1 = relu(L("e1")(x))
    e2 = relu(L("e2")(torch.max_pool2d(e1, 2)))
    b = relu(L("b")(torch.max_pool2d(e2, 2)))
    d2 = relu(L("bn2")(L("dec2")(cat(L("up2")(b), e2))))
    d1 = relu(L("dec1")(cat(relu(L("up1")(d2)), e1)))
    return L("head")(d1)


case("convt_unet", "a small U-Net: two encoder levels, decoders up-sampling with "
     "conv_transpose2d(kernel=2, stride=2) and joining the encoder's maps by concat, batch 2",
     simple("""
        e1 = e1: conv2d(4, kernel=3, pad=1) -> relu
        e2 = e1 -> maxpool(2) -> e2: conv2d(8, kernel=3, pad=1) -> relu
        b = e2 -> maxpool(2) -> b: conv2d(16, kernel=3, pad=1) -> relu
        d2 = b -> up2: conv_transpose2d(8, kernel=2, stride=2) -> concat(e2)
            -> dec2: conv2d(8, kernel=3, pad=1) -> bn2: batchnorm -> relu
        d1 = d2 -> up1: conv_transpose2d(4, kernel=2, stride=2) -> relu -> concat(e1)
            -> dec1: conv2d(4, kernel=3, pad=1) -> relu
        d1 -> head: conv2d(2, kernel=1)
     """, (3, 8, 12)),
     lambda: Net([("e1", nn.Conv2d(3, 4, 3, padding=1)), ("e2", nn.Conv2d(4, 8, 3, padding=1)),
                  ("b", nn.Conv2d(8, 16, 3, padding=1)), ("up2", CT(16, 8, 2, stride=2)),
                  ("dec2", nn.Conv2d(16, 8, 3, padding=1)), ("bn2", nn.BatchNorm2d(8)),
                  ("up1", CT(8, 4, 2, stride=2)), ("dec1", nn.Conv2d(8, 4, 3, padding=1)),
                  ("head", nn.Conv2d(4, 2, 1))], _convt_unet), (3, 8, 12), batch=2)


def _cbr(cin, c, k=3, stride=1):
    return [("conv", nn.Conv2d(cin, c, k, stride=stride, padding=k // 2)),
            ("bn", nn.BatchNorm2d(c))]


def _prefixed(prefix, layers):
    return [(prefix + "." + p, m) for p, m in layers]


def _block_params(L, x):
    for b in ("b1", "b2", "b3", "b4"):
        x = relu(L(b + ".bn")(L(b + ".conv")(x)))
    return L("last")(x)


case("block_params", "a block with default parameters, used with defaults only, a named "
     "argument, all arguments by name in another order, and all positional (an expression); "
     "its parameter k shadows the top-level param k",
     simple("""
        param k = 7
        block cbr(c, k = 3, stride = 1) {
            conv: conv2d(c, kernel=k, stride=stride, pad=k / 2) -> bn: batchnorm -> relu
        }
        b1: cbr(4)                   # k = 3, stride = 1
        b2: cbr(6, stride=2)         # k = 3
        b3: cbr(k=1, c=5)
        b4: cbr(2 * 2, 5, 1)
        last: conv2d(3, kernel=k)    # the top-level k = 7
     """, (3, 16, 16)),
     lambda: Net(_prefixed("b1", _cbr(3, 4)) + _prefixed("b2", _cbr(4, 6, stride=2)) +
                 _prefixed("b3", _cbr(6, 5, k=1)) + _prefixed("b4", _cbr(5, 4, k=5)) +
                 [("last", nn.Conv2d(4, 3, 7))], _block_params), (3, 16, 16))


RES_BLOCK = """
    block res(c) {
        y = conv1: conv2d(c, kernel=3, pad=1, bias=false) -> bn1: batchnorm -> relu
            -> conv2: conv2d(c, kernel=3, pad=1, bias=false) -> bn2: batchnorm
        add(y, in) -> relu
    }
"""


def _res_layers(prefix, c):
    return [(prefix + ".conv1", nn.Conv2d(c, c, 3, padding=1, bias=False)),
            (prefix + ".bn1", nn.BatchNorm2d(c)),
            (prefix + ".conv2", nn.Conv2d(c, c, 3, padding=1, bias=False)),
            (prefix + ".bn2", nn.BatchNorm2d(c))]


def _res(L, prefix, x):
    y = relu(L(prefix + ".bn1")(L(prefix + ".conv1")(x)))
    y = L(prefix + ".bn2")(L(prefix + ".conv2")(y))
    return relu(y + x)


def _block_repeat(L, x):
    x = L("features.1")(L("features.0")(x))
    for i in range(3):
        x = _res(L, "layer1.%d" % i, x)
    return x


case("block_repeat", "'* N' with dotted labels: an op repeated (features: conv2d * 2 -> "
     "features.0, features.1) and a residual block repeated (layer1: res * 3 -> layer1.0 .. "
     "layer1.2, keys layer1.2.conv1.weight ...), batch 2",
     simple(RES_BLOCK + """
        features: conv2d(6, kernel=3, pad=1) * 2
        layer1: res(6) * 3
     """, (3, 6, 6)),
     lambda: Net([("features.0", nn.Conv2d(3, 6, 3, padding=1)),
                  ("features.1", nn.Conv2d(6, 6, 3, padding=1))] +
                 _res_layers("layer1.0", 6) + _res_layers("layer1.1", 6) +
                 _res_layers("layer1.2", 6), _block_repeat), (3, 6, 6), batch=2)


def _block_nested(L, x):
    for st in ("layer1", "layer2"):
        for b in (".down", ".blocks.0", ".blocks.1"):
            x = relu(L(st + b + ".bn")(L(st + b + ".conv")(x)))
    return x


case("block_nested", "a block using a block, with '* N' of a parameter inside: stage(c) is "
     "down: cbr(c, stride=2) -> blocks: cbr(c) * n; keys compose (layer2.blocks.1.conv.weight)",
     simple("""
        block cbr(c, stride = 1) {
            conv: conv2d(c, kernel=3, stride=stride, pad=1, bias=false) -> bn: batchnorm -> relu
        }
        block stage(c, n = 2) {
            down: cbr(c, stride=2) -> blocks: cbr(c) * n
        }
        layer1: stage(4) -> layer2: stage(8)
     """, (3, 11, 12)),
     lambda: Net([(st + b + "." + p, m)
                  for st, cin, c in (("layer1", 3, 4), ("layer2", 4, 8))
                  for b, ci, s in ((".down", cin, 2), (".blocks.0", c, 1), (".blocks.1", c, 1))
                  for p, m in (("conv", nn.Conv2d(ci, c, 3, stride=s, padding=1, bias=False)),
                               ("bn", nn.BatchNorm2d(c)))], _block_nested), (3, 11, 12))


def _block_unlabelled(L, x):
    for b in ("blk_1", "blk_2", "head"):
        x = relu(L(b + ".conv")(x))
    return x


case("block_unlabelled", "blocks used unlabelled are named <block>_<n>: keys blk_1.conv.weight, "
     "blk_2.conv.weight, then a labelled use",
     simple("""
        block blk(c) {
            conv: conv2d(c, kernel=3, pad=1) -> relu
        }
        blk(4) -> blk(6)
        head: blk(2)
     """, (3, 5, 5)),
     lambda: Net([("blk_1.conv", nn.Conv2d(3, 4, 3, padding=1)),
                  ("blk_2.conv", nn.Conv2d(4, 6, 3, padding=1)),
                  ("head.conv", nn.Conv2d(6, 2, 3, padding=1))], _block_unlabelled), (3, 5, 5))


def _block_output(L, x):
    for b in ("p", "q"):
        x = relu(L(b + ".conv")(x))
        torch.sigmoid(L(b + ".gate")(x))  # computed by the block, not its result
    return x


case("block_output", "'output a' inside a block: its result is a named tensor, not its last "
     "chain (which is computed and unused)",
     simple("""
        block two(c) {
            a = conv: conv2d(c, kernel=3, pad=1) -> relu
            z = a -> gate: conv2d(c, kernel=1) -> sigmoid
            output a
        }
        p: two(3) -> q: two(4)
     """, (2, 5, 6)),
     lambda: Net([("p.conv", nn.Conv2d(2, 3, 3, padding=1)), ("p.gate", nn.Conv2d(3, 3, 1)),
                  ("q.conv", nn.Conv2d(3, 4, 3, padding=1)), ("q.gate", nn.Conv2d(4, 4, 1))],
                 _block_output), (2, 5, 6))


def _multi_output(L, x):
    a = relu(L("c1")(x))
    b = L("c2")(torch.max_pool2d(a, 2))
    v = L("fc")(torch.flatten(b, 1))
    return v, a, b


case("multi_output", "several outputs in an order unlike their definition (output v, a, b): "
     "flat and NCHW, one of them also the input of later layers, batch 2",
     simple("""
        a = c1: conv2d(4, kernel=3, pad=1) -> relu
        b = a -> maxpool(2) -> c2: conv2d(6, kernel=3, pad=1)
        v = b -> flatten -> fc: linear(5)
        output v, a, b
     """, (3, 6, 6)),
     lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("c2", nn.Conv2d(4, 6, 3, padding=1)),
                  ("fc", nn.Linear(54, 5))], _multi_output), (3, 6, 6), batch=2)


def _fanout3(L, x):
    t = relu(L("c0")(x))
    p = L("c1")(t)
    q = torch.tanh(L("c2")(t))
    r = L("c3")(torch.max_pool2d(t, 3, stride=1, padding=1))
    return relu(L("c4")(cat(p, q, r)))


case("fanout3", "a tensor used by three later layers (two convs and a maxpool), the branches "
     "joined by concat, batch 2",
     simple("""
        t = c0: conv2d(4, kernel=3, pad=1) -> relu
        p = t -> c1: conv2d(3, kernel=1)
        q = t -> c2: conv2d(3, kernel=3, pad=1) -> tanh
        r = t -> maxpool(3, stride=1, pad=1) -> c3: conv2d(2, kernel=1)
        concat(p, q, r) -> c4: conv2d(4, kernel=1) -> relu
     """, (3, 6, 5)),
     lambda: Net([("c0", nn.Conv2d(3, 4, 3, padding=1)), ("c1", nn.Conv2d(4, 3, 1)),
                  ("c2", nn.Conv2d(4, 3, 3, padding=1)), ("c3", nn.Conv2d(4, 2, 1)),
                  ("c4", nn.Conv2d(8, 4, 1))], _fanout3), (3, 6, 5), batch=2)


# Memory planning of branching graphs (the planner works in place for
# elementwise ops: these check it never writes a tensor still needed)

case("inplace_output_operand", "an output consumed by an elementwise op (output a, b with "
     "b = a -> relu: relu must not work in place on a), batch 2",
     simple("""
        a = c1: conv2d(4, kernel=3, pad=1)
        b = a -> relu
        output a, b
     """, (3, 5, 5)),
     lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1))],
                 lambda L, x: (L("c1")(x), relu(L("c1")(x)))), (3, 5, 5), batch=2)

case("inplace_input", "elementwise ops straight on the network input (never written) and "
     "the input added back after them, batch 2",
     simple("""
        a = b0: batchnorm -> relu -> hardswish
        add(a, x) -> sigmoid
     """, (3, 5, 5)),
     lambda: Net([("b0", nn.BatchNorm2d(3))],
                 lambda L, x: torch.sigmoid(nn.functional.hardswish(relu(L("b0")(x))) + x)),
     (3, 5, 5), batch=2)


def _concat_dense(L, x):
    t = x
    for i in range(4):
        t = cat(t, relu(L("d%d" % i)(t)))
    return t


case("concat_dense", "DenseNet-like: every layer's output concatenated onto all the earlier "
     "ones (each tensor read by two later layers), batch 2",
     simple("""
        a0 = d0: conv2d(2, kernel=3, pad=1) -> relu
        t1 = concat(x, a0)
        a1 = t1 -> d1: conv2d(2, kernel=3, pad=1) -> relu
        t2 = concat(t1, a1)
        a2 = t2 -> d2: conv2d(2, kernel=3, pad=1) -> relu
        t3 = concat(t2, a2)
        a3 = t3 -> d3: conv2d(2, kernel=3, pad=1) -> relu
        concat(t3, a3)
     """, (3, 6, 6)),
     lambda: Net([("d%d" % i, nn.Conv2d(3 + 2 * i, 2, 3, padding=1)) for i in range(4)],
                 _concat_dense), (3, 6, 6), batch=2)


def _unet(L, x):
    up = nn.functional.interpolate
    e1 = relu(L("e1")(x))
    e2 = relu(L("e2")(torch.max_pool2d(e1, 2)))
    e3 = relu(L("e3")(torch.max_pool2d(e2, 2)))
    d2 = relu(L("u2")(cat(up(e3, scale_factor=2, mode="bilinear"), e2)))
    d1 = relu(L("u1")(cat(up(d2, scale_factor=2), e1)))
    return L("out")(d1), e3


case("unet_skips", "U-Net-like: an encoder, a decoder joining upsampled maps (bilinear, "
     "nearest) with the encoder's by concat; the bottleneck is also an output, batch 2",
     simple("""
        e1 = e1: conv2d(4, kernel=3, pad=1) -> relu
        e2 = e1 -> maxpool(2) -> e2: conv2d(8, kernel=3, pad=1) -> relu
        e3 = e2 -> maxpool(2) -> e3: conv2d(16, kernel=3, pad=1) -> relu
        d2 = e3 -> upsample(scale=2, mode="bilinear") -> concat(e2)
            -> u2: conv2d(8, kernel=3, pad=1) -> relu
        d1 = d2 -> upsample(scale=2) -> concat(e1) -> u1: conv2d(4, kernel=3, pad=1) -> relu
        o = d1 -> out: conv2d(2, kernel=1)
        output o, e3
     """, (3, 8, 12)),
     lambda: Net([("e1", nn.Conv2d(3, 4, 3, padding=1)), ("e2", nn.Conv2d(4, 8, 3, padding=1)),
                  ("e3", nn.Conv2d(8, 16, 3, padding=1)), ("u2", nn.Conv2d(24, 8, 3, padding=1)),
                  ("u1", nn.Conv2d(12, 4, 3, padding=1)), ("out", nn.Conv2d(4, 2, 1))], _unet),
     (3, 8, 12), batch=2)

# --------------------------------------------------------------------------
# The examples (examples/<name>/<name>.cnn, compiled in place), with their
# `init he(seed=1)` weights, at batch 1 and 2. Inputs are seeded (input.seed).


def _resnet18():
    import torchvision
    return torchvision.models.resnet18()


def _mobilenet_v2():
    import torchvision
    return torchvision.models.mobilenet_v2()


class ConvBNReLU(nn.Sequential):
    """conv (3x3, no bias) -> bn -> relu; keys .conv and .bn."""

    def __init__(self, cin, c, stride=1):
        super().__init__(collections.OrderedDict([
            ("conv", nn.Conv2d(cin, c, 3, stride=stride, padding=1, bias=False)),
            ("bn", nn.BatchNorm2d(c)), ("relu", nn.ReLU())]))


class CifarVGG(nn.Module):
    """examples/cifar_vgg: three stages of two ConvBNReLU and a 2x2 maxpool,
    global average pooling, one linear layer."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stage1 = nn.Sequential(ConvBNReLU(3, 64), ConvBNReLU(64, 64))
        self.stage2 = nn.Sequential(ConvBNReLU(64, 128), ConvBNReLU(128, 128))
        self.stage3 = nn.Sequential(ConvBNReLU(128, 256), ConvBNReLU(256, 256))
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x):
        for stage in (self.stage1, self.stage2, self.stage3):
            x = torch.max_pool2d(stage(x), 2)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class FPNStage(nn.Sequential):
    def __init__(self, cin, c):
        super().__init__(collections.OrderedDict([
            ("down", ConvBNReLU(cin, c, stride=2)), ("refine", ConvBNReLU(c, c))]))


class TinyFPN(nn.Module):
    """examples/tiny_fpn: backbone C3, C4, C5 (strides 8, 16, 32), lateral 1x1
    convs, top-down nearest 2x upsampling + add, 3x3 output convs. Modules are
    registered in the order of the .cnn (the init order)."""

    def __init__(self, f=32):
        super().__init__()
        self.stem = ConvBNReLU(3, 16, stride=2)
        self.layer1 = FPNStage(16, 24)
        self.layer2 = FPNStage(24, 32)
        self.layer3 = FPNStage(32, 64)
        self.layer4 = FPNStage(64, 128)
        self.lateral5 = nn.Conv2d(128, f, 1)
        self.lateral4 = nn.Conv2d(64, f, 1)
        self.lateral3 = nn.Conv2d(32, f, 1)
        self.smooth3 = nn.Conv2d(f, f, 3, padding=1)
        self.smooth4 = nn.Conv2d(f, f, 3, padding=1)
        self.smooth5 = nn.Conv2d(f, f, 3, padding=1)

    def forward(self, x):
        c3 = self.layer2(self.layer1(self.stem(x)))
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        up = lambda t: nn.functional.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
        m5 = self.lateral5(c5)
        m4 = self.lateral4(c4) + up(m5)
        m3 = self.lateral3(c3) + up(m4)
        return self.smooth3(m3), self.smooth4(m4), self.smooth5(m5)


for _name, _what, _build, _shape in [
    ("resnet18", "torchvision's resnet18", _resnet18, (3, 224, 224)),
    ("mobilenet_v2", "torchvision's mobilenet_v2", _mobilenet_v2, (3, 224, 224)),
    ("cifar_vgg", "the CIFAR VGG (CifarVGG here)", CifarVGG, (3, 32, 32)),
    ("tiny_fpn", "the feature pyramid network (TinyFPN here), outputs P3, P4, P5", TinyFPN,
     (3, 64, 64)),
]:
    for _batch in (1, 2):
        # resnet18's logits reach +-600, so a logit near 1 carries the float32
        # rounding of values ~600 (ulp 6e-5): cnnc at -O0 is already 2.4e-4 off
        # at worst, and -O2's batchnorm folding rounds differently (measured
        # max abs error 2.0e-4, mean 4.4e-5 at both levels). 1e-4 was luck.
        case(_name + ("" if _batch == 1 else "_batch%d" % _batch),
             "examples/%s/%s.cnn, %s, init he(seed=1), batch %d" % (_name, _name, _what, _batch),
             None, _build, _shape, batch=_batch, init=("he", 1),
             source="examples/%s/%s.cnn" % (_name, _name), input_seed=True,
             tol=1e-3 if _name == "resnet18" else None)


# --------------------------------------------------------------------------
# optimizer (docs/optimizer.md): shapes chosen so each fusion path is taken.
# run-golden.sh runs every case at -O0 and -O2.


def _fmnist(pool, bias, act):
    return seq(("conv1", nn.Conv2d(1, 8, 3, padding=1, bias=bias)), ("bn1", nn.BatchNorm2d(8)),
               ("a1", act()), ("p1", pool(2)),
               ("conv2", nn.Conv2d(8, 16, 3, padding=1, bias=bias)), ("bn2", nn.BatchNorm2d(16)),
               ("a2", act()), ("p2", pool(2)),
               ("f", nn.Flatten()), ("fc1", nn.Linear(16 * 7 * 7, 32)), ("a3", R()),
               ("fc2", nn.Linear(32, 10)))


case("fmnist_bn", "a Fashion-MNIST-style net: (conv2d + batchnorm + relu + maxpool) x 2, "
     "linear + relu, linear; at -O2 batchnorm folds and conv+relu+pool fuse (banded im2col)",
     simple("""
        conv1: conv2d(8, kernel=3, pad=1) -> bn1: batchnorm -> relu -> maxpool(2)
        conv2: conv2d(16, kernel=3, pad=1) -> bn2: batchnorm -> relu -> maxpool(2)
        flatten
        fc1: linear(32) -> relu
        fc2: linear(10)
     """, (1, 28, 28)),
     lambda: _fmnist(nn.MaxPool2d, True, nn.ReLU), (1, 28, 28))

case("fmnist_bn_avg_batch3", "fmnist_bn with bias=false convs (folding creates the bias), relu6 "
     "and avgpool, batch 3",
     simple("""
        conv1: conv2d(8, kernel=3, pad=1, bias=false) -> bn1: batchnorm -> relu6 -> avgpool(2)
        conv2: conv2d(16, kernel=3, pad=1, bias=false) -> bn2: batchnorm -> relu6 -> avgpool(2)
        flatten
        fc1: linear(32) -> relu
        fc2: linear(10)
     """, (1, 28, 28)),
     lambda: _fmnist(nn.AvgPool2d, False, nn.ReLU6), (1, 28, 28), batch=3)

case("fuse_pool_direct", "conv2d on the direct kernel with a fused pool: depthwise + batchnorm "
     "+ leaky_relu + overlapping padded maxpool; a tiny conv + sigmoid + avgpool with ceil_mode "
     "and count_include_pad=false; batch 2",
     simple("""
        dw: conv2d(4, kernel=3, pad=1, groups=4) -> bn: batchnorm -> leaky_relu(slope=0.1)
            -> maxpool(3, stride=2, pad=1)
        c2: conv2d(2, kernel=2) -> sigmoid -> avgpool(3, stride=2, pad=1, ceil_mode=true, count_include_pad=false)
     """, (4, 11, 10)),
     lambda: seq(("dw", nn.Conv2d(4, 4, 3, padding=1, groups=4)), ("bn", nn.BatchNorm2d(4)),
                 ("a1", nn.LeakyReLU(0.1)), ("p1", nn.MaxPool2d(3, stride=2, padding=1)),
                 ("c2", nn.Conv2d(4, 2, 2)), ("a2", nn.Sigmoid()),
                 ("p2", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                     count_include_pad=False))),
     (4, 11, 10), batch=2, scale=2.0)

case("fuse_pool_bands", "im2col conv2d + relu + maxpool(3, stride 2, pad 1, ceil_mode) cut into "
     "several overlapping bands; grouped im2col conv2d + tanh + avgpool with kernel, stride and "
     "pad pairs; 1x1 conv2d (GEMM on the input) + maxpool with dilation; batch 2",
     simple("""
        c1: conv2d(32, kernel=3, pad=1) -> relu -> maxpool(3, stride=2, pad=1, ceil_mode=true)
        c2: conv2d(32, kernel=3, pad=1, groups=2) -> tanh -> avgpool(kernel=(2, 3), stride=(2, 1), pad=(1, 1))
        c3: conv2d(16, kernel=1) -> maxpool(2, dilation=2)
     """, (16, 24, 23)),
     lambda: seq(("c1", nn.Conv2d(16, 32, 3, padding=1)), ("a1", R()),
                 ("p1", nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)),
                 ("c2", nn.Conv2d(32, 32, 3, padding=1, groups=2)), ("a2", nn.Tanh()),
                 ("p2", nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 1))),
                 ("c3", nn.Conv2d(32, 16, 1)), ("p3", nn.MaxPool2d(2, dilation=2))),
     (16, 24, 23), batch=2)

case("fuse_pool_pointwise", "1x1 conv2d (GEMM straight on the input) + relu + padded avgpool in "
     "several bands, so bands start mid-image; then 1x1 conv2d + maxpool",
     simple("""
        pw1: conv2d(48, kernel=1) -> relu -> avgpool(2, pad=1)
        pw2: conv2d(4, kernel=1) -> maxpool(2)
     """, (8, 30, 30)),
     lambda: seq(("pw1", nn.Conv2d(8, 48, 1)), ("a1", R()), ("p1", nn.AvgPool2d(2, padding=1)),
                 ("pw2", nn.Conv2d(48, 4, 1)), ("p2", nn.MaxPool2d(2))),
     (8, 30, 30))

case("bn_standalone", "batchnorms with no conv/linear before them stay (scale and shift) and "
     "take the activation after them: after a pool, after conv+pool, after flatten",
     simple("""
        maxpool(2) -> bn1: batchnorm -> relu6
        c1: conv2d(4, kernel=3) -> maxpool(2) -> bn2: batchnorm -> leaky_relu(slope=0.1)
        flatten -> bn3: batchnorm -> tanh
     """, (3, 14, 12)),
     lambda: seq(("p0", nn.MaxPool2d(2)), ("bn1", nn.BatchNorm2d(3)), ("a1", nn.ReLU6()),
                 ("c1", nn.Conv2d(3, 4, 3)), ("p1", nn.MaxPool2d(2)), ("bn2", nn.BatchNorm2d(4)),
                 ("a2", nn.LeakyReLU(0.1)), ("f", nn.Flatten()), ("bn3", nn.BatchNorm1d(16)),
                 ("a3", nn.Tanh())),
     (3, 14, 12), scale=3.0)

case("linear_bn_nobias", "linear(bias=false) + BatchNorm1d + leaky_relu, batch 2 (folding "
     "creates the bias; GEMM then bias+activation in one pass)",
     simple("""
        fc1: linear(16, bias=false) -> bn1: batchnorm -> leaky_relu(slope=0.05)
        fc2: linear(4) -> sigmoid
     """, (12,)),
     lambda: seq(("fc1", nn.Linear(12, 16, bias=False)), ("bn1", nn.BatchNorm1d(16)),
                 ("a1", nn.LeakyReLU(0.05)), ("fc2", nn.Linear(16, 4)), ("a2", nn.Sigmoid())),
     (12,), batch=2, scale=2.0)

case("dropout_last", "dropout as the last layer: the output tensor survives dropout removal",
     simple("c1: conv2d(4, kernel=3) -> relu -> dropout", (2, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(2, 4, 3)), ("a", R()), ("d", nn.Dropout())), (2, 6, 6))

case("dropout_only", "input -> dropout alone: the output is a copy of the input",
     simple("dropout(p=0.3)", (3, 4, 5)),
     lambda: seq(("d", nn.Dropout(0.3))), (3, 4, 5))


class _DeadBranch(nn.Module):
    """side (c2 -> tanh) is computed at -O0 but feeds no output; -O2 removes it."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 2, 3)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        feat = torch.relu(self.c1(x))
        return self.fc(torch.flatten(torch.max_pool2d(feat, 2), 1))


case("dce_branch", "a branch no output depends on (removed at -O2 with a warning) next to "
     "conv + relu + maxpool + linear",
     simple("""
        feat = c1: conv2d(4, kernel=3, pad=1) -> relu
        side = feat -> c2: conv2d(2, kernel=3) -> tanh
        logits = feat -> maxpool(2) -> flatten -> fc: linear(5)
        output logits
     """, (3, 6, 7)),
     _DeadBranch, (3, 6, 7))

# --------------------------------------------------------------------------
# Convolution kernels (issue 5, compiler/emit_conv.c): shapes large enough for
# select_kernels to pick the blocked and depthwise kernels, sized so that the
# column plan has border blocks, an interior loop and a short last block, and
# channel counts that leave a partial block of 16.

case("kern_blocked_border", "blocked conv 3x3 pad 1, 5 -> 20 channels (a block of 16 and one of "
     "4), 40 columns (border blocks and an interior loop), bias + relu",
     simple("c1: conv2d(20, kernel=3, pad=1) -> relu", (5, 7, 40)),
     lambda: seq(("c1", nn.Conv2d(5, 20, 3, padding=1)), ("r", nn.ReLU())), (5, 7, 40))

case("kern_blocked_stride_dilation", "blocked conv: stride 2, dilation 2, pad 2 on odd sizes; "
     "then kernel (2,4), stride (1,3), pad (1,2), no bias",
     simple("""
        c1: conv2d(33, kernel=3, stride=2, pad=2, dilation=2)
        c2: conv2d(17, kernel=(2, 4), stride=(1, 3), pad=(1, 2), bias=false)
     """, (6, 15, 47)),
     lambda: seq(("c1", nn.Conv2d(6, 33, 3, stride=2, padding=2, dilation=2)),
                 ("c2", nn.Conv2d(33, 17, (2, 4), stride=(1, 3), padding=(1, 2), bias=False))),
     (6, 15, 47))

case("kern_blocked_groups_bn", "blocked conv with groups=2 (8 -> 40), 5x5 pad 2, batchnorm folded "
     "at -O2, leaky_relu; a 1x1 stride-2 conv (blocked, not a GEMM)",
     simple("""
        c1: conv2d(40, kernel=5, pad=2, groups=2) -> bn1: batchnorm -> leaky_relu(0.1)
        c2: conv2d(24, kernel=1, stride=2)
     """, (8, 9, 30)),
     lambda: seq(("c1", nn.Conv2d(8, 40, 5, padding=2, groups=2)), ("bn1", nn.BatchNorm2d(40)),
                 ("a", nn.LeakyReLU(0.1)), ("c2", nn.Conv2d(40, 24, 1, stride=2))), (8, 9, 30))

case("kern_blocked_pool", "blocked conv + relu + fused maxpool (bands), then blocked conv + fused "
     "avgpool(3, stride 2, pad 1); a resnet-like 7x7 stride-2 stem with maxpool(3, 2, 1)",
     simple("""
        c1: conv2d(24, kernel=3, pad=1) -> relu -> maxpool(2)
        c2: conv2d(18, kernel=3, pad=1) -> avgpool(3, stride=2, pad=1)
        c3: conv2d(20, kernel=7, stride=2, pad=3) -> relu -> maxpool(3, stride=2, pad=1)
     """, (6, 41, 50)),
     lambda: seq(("c1", nn.Conv2d(6, 24, 3, padding=1)), ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)),
                 ("c2", nn.Conv2d(24, 18, 3, padding=1)), ("p2", nn.AvgPool2d(3, 2, 1)),
                 ("c3", nn.Conv2d(18, 20, 7, stride=2, padding=3)), ("r3", nn.ReLU()),
                 ("p3", nn.MaxPool2d(3, 2, 1))), (6, 41, 50))

case("kern_depthwise", "depthwise kernel: 3x3 pad 1 + batchnorm + relu6 (32 channels), 3x3 "
     "stride 2 with channel multiplier 2 (blocked: 2 channels per group), 5x5 dilation 2 pad 3 "
     "without bias",
     simple("""
        dw1: conv2d(32, kernel=3, pad=1, groups=32) -> bn1: batchnorm -> relu6
        dw2: conv2d(64, kernel=3, stride=2, pad=1, groups=32)
        dw3: conv2d(64, kernel=5, pad=3, dilation=2, groups=64, bias=false)
     """, (32, 14, 19)),
     lambda: seq(("dw1", nn.Conv2d(32, 32, 3, padding=1, groups=32)), ("bn1", nn.BatchNorm2d(32)),
                 ("a", nn.ReLU6()), ("dw2", nn.Conv2d(32, 64, 3, stride=2, padding=1, groups=32)),
                 ("dw3", nn.Conv2d(64, 64, 5, padding=3, dilation=2, groups=64, bias=False))),
     (32, 14, 19))

case("kern_depthwise_bands", "depthwise kernel in bands of rows (planes larger than one band, a "
     "partial last band): 3x3 pad 1 + relu, 3x3 stride 2, (5,3) stride (2,1) pad (2,3) dilation "
     "(1,2) without bias + fused maxpool",
     simple("""
        dw1: conv2d(4, kernel=3, pad=1, groups=4) -> relu
        dw2: conv2d(4, kernel=3, stride=2, pad=1, groups=4)
        dw3: conv2d(4, kernel=(5,3), stride=(2,1), pad=(2,3), dilation=(1,2), groups=4,
                    bias=false) -> maxpool(2)
     """, (4, 97, 90)),
     lambda: seq(("dw1", nn.Conv2d(4, 4, 3, padding=1, groups=4)), ("a", nn.ReLU()),
                 ("dw2", nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)),
                 ("dw3", nn.Conv2d(4, 4, (5, 3), stride=(2, 1), padding=(2, 3), dilation=(1, 2),
                                   groups=4, bias=False)), ("p", nn.MaxPool2d(2))),
     (4, 97, 90))

case("kern_blocked_all_padding", "blocked conv whose every tap falls on padding (issue 14): a 1x1 "
     "image, kernel 2, pad 1, dilation 2 (the outputs are the bias), relu",
     simple("c1: conv2d(32, kernel=2, pad=1, dilation=2) -> relu", (32, 1, 1)),
     lambda: seq(("c1", nn.Conv2d(32, 32, 2, padding=1, dilation=2)), ("r", nn.ReLU())), (32, 1, 1))

case("kern_blocked_padding_columns", "blocked conv on a 5x1 image, kernel 3, stride 4, pad 3: every "
     "column's taps fall on padding, the rows' do not (issue 14)",
     simple("c1: conv2d(40, kernel=3, stride=4, pad=3)", (96, 5, 1)),
     lambda: seq(("c1", nn.Conv2d(96, 40, 3, stride=4, padding=3))), (96, 5, 1))

case("kern_depthwise_huge_stride", "depthwise conv, 4096 channels of 1x1, kernel 1, pad 1000, "
     "stride 1000 (issue 14: no 12 MB stack buffer, no code per stride phase; direct loops)",
     simple("c1: conv2d(4096, kernel=1, groups=4096, pad=1000, stride=1000)", (4096, 1, 1)),
     lambda: seq(("c1", nn.Conv2d(4096, 4096, 1, groups=4096, padding=1000, stride=1000))),
     (4096, 1, 1))

case("kern_conv_huge_attrs", "direct conv with a stride and padding near 2^31 (stride 2^30+1, "
     "pad 2^31-1: output row 2 reads rows 3-7, the others only padding) and one with dilation "
     "2^30, pad 2^30+1 (the middle tap reads real rows); ints would overflow (issue 14, found by "
     "the differential fuzzer)",
     simple("""
        c1: conv2d(3, kernel=(5, 1), stride=(1073741825, 1), pad=(2147483647, 3), dilation=(1, 3))
        c2: conv2d(3, kernel=(3, 2), pad=(1073741825, 3), dilation=(1073741824, 2))
     """, (2, 9, 3)),
     lambda: seq(("c1", nn.Conv2d(2, 3, (5, 1), stride=(1073741825, 1), padding=(2147483647, 3),
                                  dilation=(1, 3))),
                 ("c2", nn.Conv2d(3, 3, (3, 2), padding=(1073741825, 3),
                                  dilation=(1073741824, 2)))), (2, 9, 3))

case("kern_depthwise_direct_pool", "depthwise conv 3x3 stride 5 pad 1 (past the band layout's "
     "strides: direct loops) + relu + fused maxpool(2)",
     simple("c1: conv2d(16, kernel=3, stride=5, pad=1, groups=16) -> relu -> maxpool(2)",
            (16, 30, 40)),
     lambda: seq(("c1", nn.Conv2d(16, 16, 3, stride=5, padding=1, groups=16)), ("r", nn.ReLU()),
                 ("p", nn.MaxPool2d(2))), (16, 30, 40))

case("kern_blocked_prefetch", "blocked kernel with 276 KB of weights (the next block's weights "
     "prefetched), groups=2, 80 channels per group (32-channel blocks, a partial one), relu; a "
     "1x1 stride-2 conv (16-channel blocks, a partial one); init he(seed=3)",
     simple("""
        c1: conv2d(160, kernel=3, pad=1, groups=2) -> relu
        c2: conv2d(20, kernel=1, stride=2)
     """, (96, 6, 5)),
     lambda: seq(("c1", nn.Conv2d(96, 160, 3, padding=1, groups=2)), ("r", nn.ReLU()),
                 ("c2", nn.Conv2d(160, 20, 1, stride=2))),
     (96, 6, 5), init=("he", 3))

case("kern_single_channel_pool", "a one-channel input (blocked kernel, 12 channels: one partial "
     "block), 5x5 pad 2, relu, fused maxpool; depthwise + fused avgpool, batch 2",
     simple("""
        c1: conv2d(12, kernel=5, pad=2) -> relu -> maxpool(2)
        dw: conv2d(12, kernel=3, pad=1, groups=12) -> avgpool(2)
     """, (1, 29, 27)),
     lambda: seq(("c1", nn.Conv2d(1, 12, 5, padding=2)), ("r", nn.ReLU()), ("p", nn.MaxPool2d(2)),
                 ("dw", nn.Conv2d(12, 12, 3, padding=1, groups=12)), ("p2", nn.AvgPool2d(2))),
     (1, 29, 27), batch=2)

# --------------------------------------------------------------------------
# pruning (docs/optimizer.md, prune-channels and sparse kernels; docs/language.md,
# `prune`). State dicts of modules pruned with torch.nn.utils.prune keep
# NAME_orig and NAME_mask; cnnc multiplies them as PyTorch does. At -O2 zeroed
# channels are removed and sparse layers skip zero weights.

import torch.nn.utils.prune as tprune  # noqa: E402


def _prune_all(m, how, **kw):
    """Prune the weight of every Conv2d and Linear of m, in module order."""
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            if how == "l1":
                tprune.l1_unstructured(mod, "weight", **kw)
            else:
                tprune.ln_structured(mod, "weight", n=1, dim=0, **kw)


def _fmnist_l1(m):
    _prune_all(m, "l1", amount=0.7)
    tprune.l1_unstructured(m.conv2, "bias", amount=0.25)   # a pruned bias: bias_orig, bias_mask


case("prune_fmnist_l1", "fmnist_bn pruned with torch.nn.utils.prune.l1_unstructured(amount=0.7) "
     "on every conv2d and linear weight and 25% of conv2's bias: the state_dict has "
     "weight_orig/weight_mask (and bias_orig/bias_mask), which cnnc multiplies; sparse kernels "
     "at -O2, batch 2",
     simple("""
        conv1: conv2d(8, kernel=3, pad=1) -> bn1: batchnorm -> relu -> maxpool(2)
        conv2: conv2d(16, kernel=3, pad=1) -> bn2: batchnorm -> relu -> maxpool(2)
        flatten
        fc1: linear(32) -> relu
        fc2: linear(10)
     """, (1, 28, 28)),
     lambda: _fmnist(nn.MaxPool2d, True, nn.ReLU), (1, 28, 28), batch=2, post=_fmnist_l1)


def _fmnist_ln(m):
    for mod in (m.conv1, m.conv2, m.fc1):
        tprune.ln_structured(mod, "weight", amount=0.5, n=1, dim=0)


case("prune_fmnist_ln", "fmnist_bn with ln_structured(amount=0.5, n=1, dim=0) on conv1, conv2 "
     "and fc1 (weight_orig/weight_mask): at -O2 the zeroed channels whose constant relu(bias) "
     "is 0 or which feed the linear (through maxpool and flatten) are removed, the others kept "
     "(conv2 pads)",
     simple("""
        conv1: conv2d(8, kernel=3, pad=1) -> bn1: batchnorm -> relu -> maxpool(2)
        conv2: conv2d(16, kernel=3, pad=1) -> bn2: batchnorm -> relu -> maxpool(2)
        flatten
        fc1: linear(32) -> relu
        fc2: linear(10)
     """, (1, 28, 28)),
     lambda: _fmnist(nn.MaxPool2d, True, nn.ReLU), (1, 28, 28), post=_fmnist_ln)


def _resblock(L, x):
    a = relu(L("bn0")(L("conv0")(x)))
    y = L("bn2")(L("conv2")(relu(L("bn1")(L("conv1")(a)))))
    z = relu(a + y)
    return L("fc")(torch.flatten(torch.nn.functional.avg_pool2d(z, 2), 1))


def _resblock_net():
    return Net([("conv0", nn.Conv2d(3, 16, 3, padding=1, bias=False)), ("bn0", nn.BatchNorm2d(16)),
                ("conv1", nn.Conv2d(16, 16, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(16)),
                ("conv2", nn.Conv2d(16, 16, 3, padding=1, bias=False)), ("bn2", nn.BatchNorm2d(16)),
                ("fc", nn.Linear(16 * 4 * 4, 10))], _resblock)


RESBLOCK = simple("""
    a = conv0: conv2d(16, kernel=3, pad=1, bias=false) -> bn0: batchnorm -> relu
    y = a -> conv1: conv2d(16, kernel=3, pad=1, bias=false) -> bn1: batchnorm -> relu
          -> conv2: conv2d(16, kernel=3, pad=1, bias=false) -> bn2: batchnorm
    add(a, y) -> relu -> avgpool(2) -> flatten
    fc: linear(10)
""", (3, 8, 8))

case("prune_resblock_l1", "a resnet-style block (conv+bn+relu stem, two conv+bn with a skip add, "
     "relu, avgpool, linear) pruned with l1_unstructured(amount=0.7) everywhere; batch 2",
     RESBLOCK, _resblock_net, (3, 8, 8), batch=2, post=lambda m: _prune_all(m, "l1", amount=0.7))


def _resblock_ln(m):
    """ln_structured(0.5) on conv0 and conv2 with the same importance scores, so the
    same 8 channels go on both sides of the add (removable where the constant is 0 or
    reaches only fc), and 25% of conv1 by its own norms."""
    score = torch.rand(16)
    for mod in (m.conv0, m.conv2):
        imp = score.view(16, 1, 1, 1).expand_as(mod.weight).contiguous()
        tprune.ln_structured(mod, "weight", amount=0.5, n=1, dim=0, importance_scores=imp)
    tprune.ln_structured(m.conv1, "weight", amount=0.25, n=1, dim=0)
    # bn0 and bn2 shifts chosen so that some zeroed channels are 0 after the add and
    # relu, others not: both removal paths and the kept ones are exercised
    m.bn0.bias.copy_(torch.linspace(-1.0, 0.5, 16))
    m.bn2.bias.copy_(torch.linspace(-1.0, 0.2, 16))


case("prune_resblock_ln", "the resnet-style block with ln_structured(0.5) on the stem and the "
     "block's last conv along the same channels (the add's operands), 25% on the middle conv; "
     "at -O2 channels go only where both add operands are zeroed and the constant can be "
     "absorbed",
     RESBLOCK, _resblock_net, (3, 8, 8), post=_resblock_ln)


def _concat_net(L, x):
    a = relu(L("c1")(x))
    b = torch.nn.functional.interpolate(relu(L("c2")(torch.max_pool2d(a, 2))), scale_factor=2)
    u = torch.cat([a, b], dim=1)
    v = L("c3")(u)
    return L("fc")(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(relu(v), 2), 1))


case("prune_concat", "ln_structured(0.5) through maxpool, upsample and concat (channel offsets) "
     "into a 1x1 conv (no padding: nonzero constants fold into its bias), then "
     "adaptive_avgpool, flatten, linear; batch 2",
     simple("""
        a = c1: conv2d(6, kernel=3, pad=1) -> relu
        b = a -> maxpool(2) -> c2: conv2d(6, kernel=3, pad=1) -> relu -> upsample(scale=2)
        concat(a, b) -> c3: conv2d(8, kernel=1) -> relu -> adaptive_avgpool(2) -> flatten
        fc: linear(5)
     """, (3, 8, 8)),
     lambda: Net([("c1", nn.Conv2d(3, 6, 3, padding=1)), ("c2", nn.Conv2d(6, 6, 3, padding=1)),
                  ("c3", nn.Conv2d(12, 8, 1)), ("fc", nn.Linear(32, 5))], _concat_net),
     (3, 8, 8), batch=2,
     post=lambda m: [tprune.ln_structured(getattr(m, k), "weight", amount=0.5, n=1, dim=0)
                     for k in ("c1", "c2", "c3")])


def _stmt_prune(m):
    """What the case's prune statements say, in their order."""
    _prune_all(m, "l1", amount=0.7)                      # prune(amount=0.7) *
    tprune.ln_structured(m.conv2, "weight", amount=0.5, n=1, dim=0)  # on top: a container
    tprune.l1_unstructured(m.fc2, "weight", amount=3)    # an integer amount is a count


case("prune_stmt", "the prune statement: l1_unstructured(0.7) on every layer ('*'), then "
     "ln_structured(0.5) on conv2 on top of its mask (PyTorch's PruningContainer: among the "
     "channels left), then 3 more weights of fc2; the generator prunes the same in PyTorch",
     simple("""
        prune(amount=0.7) *
        prune(amount=0.5, structured=true) conv2
        prune(amount=3) fc2
        conv1: conv2d(8, kernel=3, pad=1) -> bn1: batchnorm -> relu -> maxpool(2)
        conv2: conv2d(16, kernel=3, pad=1) -> bn2: batchnorm -> relu -> maxpool(2)
        flatten
        fc1: linear(32) -> relu
        fc2: linear(10)
     """, (1, 28, 28)),
     lambda: _fmnist(nn.MaxPool2d, True, nn.ReLU), (1, 28, 28), prune=_stmt_prune)


def _quantize(m):
    """Weights on a grid of 1/8, so magnitudes tie in every layer."""
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            mod.weight.copy_(torch.round(mod.weight * 8) / 8)


def _ties_prune(m):
    tprune.l1_unstructured(m.c1, "weight", amount=0.45)
    tprune.ln_structured(m.c2, "weight", amount=0.5, n=1, dim=0)
    tprune.l1_unstructured(m.fc, "weight", amount=0.6)


case("prune_stmt_ties", "prune statements on weights quantized to multiples of 1/8, so the "
     "magnitudes (and channel norms) at the cut tie: cnnc must pick the same entries as "
     "torch.topk (libstdc++'s nth_element and partial_sort order)",
     simple("""
        prune(amount=0.45) c1
        prune(amount=0.5, structured=true) c2
        prune(amount=0.6) fc
        c1: conv2d(6, kernel=3) -> relu
        c2: conv2d(8, kernel=1) -> tanh
        flatten
        fc: linear(7)
     """, (4, 6, 6)),
     lambda: seq(("c1", nn.Conv2d(4, 6, 3)), ("a1", R()), ("c2", nn.Conv2d(6, 8, 1)),
                 ("a2", nn.Tanh()), ("f", nn.Flatten()), ("fc", nn.Linear(8 * 4 * 4, 7))),
     (4, 6, 6), post=_quantize, prune=_ties_prune)


def _res_two(L, x):
    x = relu(L("stem")(x))
    for b in ("layer1.0", "layer1.1"):
        y = L(b + ".conv2")(relu(L(b + ".conv1")(x)))
        x = relu(y + x)
    return L("fc")(torch.flatten(x, 1))


def _blocks_prune(m):
    for name in ("layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2"):
        tprune.ln_structured(m.get_submodule(name), "weight", amount=0.5, n=1, dim=0)
    tprune.l1_unstructured(m.get_submodule("layer1.1.conv2"), "weight", amount=0.8)


case("prune_stmt_blocks", "prune statements naming layers inside blocks: a block use "
     "('layer1' prunes every conv2d in both copies) and a composed label (layer1.1.conv2, "
     "pruned again on top); at -O2 the middle channels of each block go where relu(bias) is 0",
     simple("""
        block res(c) {
            y = conv1: conv2d(c, kernel=3, pad=1) -> relu -> conv2: conv2d(c, kernel=3, pad=1)
            add(y, in) -> relu
        }
        prune(amount=0.5, structured=true) layer1
        prune(amount=0.8) layer1.1.conv2
        stem: conv2d(6, kernel=3, pad=1) -> relu
        layer1: res(6) * 2
        flatten
        fc: linear(4)
     """, (2, 5, 5)),
     lambda: Net([("stem", nn.Conv2d(2, 6, 3, padding=1)),
                  ("layer1.0.conv1", nn.Conv2d(6, 6, 3, padding=1)),
                  ("layer1.0.conv2", nn.Conv2d(6, 6, 3, padding=1)),
                  ("layer1.1.conv1", nn.Conv2d(6, 6, 3, padding=1)),
                  ("layer1.1.conv2", nn.Conv2d(6, 6, 3, padding=1)),
                  ("fc", nn.Linear(150, 4))], _res_two), (2, 5, 5), prune=_blocks_prune)

case("sparse_kernels", "the sparse conv2d and linear kernels forced on every layer "
     "(--sparse-min=0) after prune(amount=0.5) *: stride 2 with padding, dilation with groups, "
     "depthwise + relu6 + fused ceil-mode maxpool, strided 1x1, a (1, 3) kernel + fused avgpool, "
     "linear + tanh; batch 2",
     simple("""
        prune(amount=0.5) *
        c1: conv2d(6, kernel=3, stride=2, pad=1) -> relu
        c2: conv2d(6, kernel=3, pad=2, dilation=2, groups=3)
        c3: conv2d(6, kernel=3, pad=1, groups=6) -> relu6 -> maxpool(3, stride=2, pad=1, ceil_mode=true)
        c4: conv2d(8, kernel=1, stride=2)
        c5: conv2d(8, kernel=(1, 3), pad=(0, 1)) -> avgpool(2)
        flatten
        fc: linear(5) -> tanh
     """, (3, 15, 13)),
     lambda: seq(("c1", nn.Conv2d(3, 6, 3, stride=2, padding=1)), ("a1", R()),
                 ("c2", nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=3)),
                 ("c3", nn.Conv2d(6, 6, 3, padding=1, groups=6)), ("a3", nn.ReLU6()),
                 ("p3", nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)),
                 ("c4", nn.Conv2d(6, 8, 1, stride=2)),
                 ("c5", nn.Conv2d(8, 8, (1, 3), padding=(0, 1))), ("p5", nn.AvgPool2d(2)),
                 ("f", nn.Flatten()), ("fc", nn.Linear(8, 5)), ("a6", nn.Tanh())),
     (3, 15, 13), batch=2, flags="--sparse-min=0", prune=lambda m: _prune_all(m, "l1", amount=0.5))

# --------------------------------------------------------------------------
# issue 12 (convnext_tiny, shufflenet_v2): gelu, layernorm over channels,
# scale, pad, channel_shuffle, chunk and narrow.

for nm, op, mod in [("act_gelu", "gelu", lambda: nn.GELU()),
                    ("act_gelu_tanh", 'gelu(approximate="tanh")',
                     lambda: nn.GELU(approximate="tanh"))]:
    case(nm, op + ", applied to the input (values spanning +-6 and beyond), batch 2",
         simple(op, ACT_SHAPE), (lambda mod=mod: seq(("a", mod()))), ACT_SHAPE, scale=3.0,
         batch=2)

case("act_gelu_layers", "gelu and gelu(approximate=\"tanh\") after conv2d and linear (fused at "
     "-O2)",
     simple("""
        c1: conv2d(6, kernel=3, pad=1) -> gelu
        flatten
        fc: linear(8) -> gelu(approximate="tanh")
     """, (3, 5, 5)),
     lambda: seq(("c1", nn.Conv2d(3, 6, 3, padding=1)), ("a1", nn.GELU()),
                 ("f", nn.Flatten()), ("fc", nn.Linear(150, 8)),
                 ("a2", nn.GELU(approximate="tanh"))),
     (3, 5, 5), scale=3.0)


class LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d: nn.LayerNorm over the channels of NCHW."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Scale(nn.Module):
    """x * weight per channel (convnext's layer_scale, as cnnc's scale loads it)."""

    def __init__(self, c, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(c) + 0.5)
        self.bias = nn.Parameter(torch.randn(c)) if bias else None

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        y = x * self.weight.view(shape)
        return y + self.bias.view(shape) if self.bias is not None else y


def _randomize_ln(m):
    for mod in m.modules():
        if isinstance(mod, nn.LayerNorm) and mod.elementwise_affine:
            mod.weight.copy_(torch.rand(mod.weight.shape) + 0.5)
            mod.bias.copy_(torch.randn(mod.bias.shape) * 0.5)


case("layernorm_channels", "layernorm over the channels of [N, C, H, W] (LayerNorm2d, eps=1e-6) "
     "with a fused gelu, scale(bias=true), layernorm without affine and on [N, F] after linear; "
     "inputs shifted off zero; batch 2",
     simple("""
        c1: conv2d(12, kernel=3, pad=1)
        ln1: layernorm(eps=1e-6) -> gelu
        s1: scale(bias=true)
        layernorm(affine=false, eps=0.001)
        flatten
        fc: linear(10)
        ln2: layernorm
     """, (3, 5, 6)),
     lambda: seq(("c1", nn.Conv2d(3, 12, 3, padding=1)), ("ln1", LayerNorm2d(12, eps=1e-6)),
                 ("a1", nn.GELU()), ("s1", Scale(12, bias=True)),
                 ("ln_na", LayerNorm2d(12, eps=0.001, elementwise_affine=False)),
                 ("f", nn.Flatten()), ("fc", nn.Linear(360, 10)), ("ln2", nn.LayerNorm(10))),
     (3, 5, 6), batch=2, scale=2.0, shift=3.0, post=_randomize_ln)


class CNBlockLike(nn.Module):
    """torchvision's CNBlock with its two nn.Linear as 1x1 convolutions (the
    same products; tools/torch2cnn.py reshapes the Linear weights so)."""

    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pw1 = nn.Conv2d(c, 4 * c, 1)
        self.pw2 = nn.Conv2d(4 * c, c, 1)
        self.ls = Scale(c)

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.norm(y).permute(0, 3, 1, 2)
        y = self.pw2(nn.functional.gelu(self.pw1(y)))
        return x + self.ls(y)


case("convnext_block", "a convnext block: depthwise 7x7, layernorm(eps=1e-6) over channels, 1x1 "
     "conv to 4C, gelu, 1x1 conv back, scale (layer scale), residual add; batch 2",
     simple("""
        block cnblock(c) {
            y = dw: conv2d(c, kernel=7, pad=3, groups=c) -> norm: layernorm(eps=1e-6)
                -> pw1: conv2d(4 * c, kernel=1) -> gelu -> pw2: conv2d(c, kernel=1) -> ls: scale
            add(in, y)
        }
        stem: conv2d(8, kernel=2, stride=2)
        b: cnblock(8)
     """, (3, 10, 12)),
     lambda: seq(("stem", nn.Conv2d(3, 8, 2, stride=2)), ("b", CNBlockLike(8))),
     (3, 10, 12), batch=2, post=_randomize_ln)

case("pad_zero", "pad(1, 2, 3, 0): zeros per side as F.pad (left, right, top, bottom), then a "
     "conv2d; pad(0, 0, 0, 0); batch 2",
     simple("""
        pad(1, 2, 3, 0)
        c1: conv2d(4, kernel=3)
        pad(0, 0, 0, 0)
     """, (2, 5, 6)),
     lambda: seq(("p", nn.ZeroPad2d((1, 2, 3, 0))), ("c1", nn.Conv2d(2, 4, 3)),
                 ("p2", nn.ZeroPad2d(0))),
     (2, 5, 6), batch=2)

case("pad_value_crop", "pad with value=-1.5 (nn.ConstantPad2d), negative sides cropping as F.pad "
     "does, padding wider than the input, after relu",
     simple("""
        relu -> pad(2, 0, 1, 1, value=-1.5)
        pad(-1, 2, -2, 0, value=0.25)
        pad(0, 0, 9, 0)
        pad(8, -3, 0, 0, value=2)
     """, (3, 4, 5)),
     lambda: seq(("r", nn.ReLU()), ("p1", nn.ConstantPad2d((2, 0, 1, 1), -1.5)),
                 ("p2", nn.ConstantPad2d((-1, 2, -2, 0), 0.25)), ("p3", nn.ZeroPad2d((0, 0, 9, 0))),
                 ("p4", nn.ConstantPad2d((8, -3, 0, 0), 2.0))),
     (3, 4, 5))


def _shuffle_unit(L, x):
    a, b = x.chunk(2, dim=1)
    b = relu(L("b2")(L("b1")(b)))
    y = nn.functional.channel_shuffle(torch.cat((a, b), dim=1), 2)
    p, q, r = y.chunk(3, dim=1)  # 8 channels: 3, 3, 2
    s = torch.narrow(y, 1, 2, 5)
    return torch.cat((r, p, s), dim=1), q.chunk(4, dim=1)[1]


case("shuffle_chunk_narrow", "a shufflenet unit: chunk(2) into two halves, one through convs, "
     "concat, channel_shuffle(2); then uneven chunks (8 channels in 3: 3, 3, 2), narrow, and "
     "chunk(4) of 3 channels (3 chunks of 1); two outputs, batch 2",
     simple("""
        a = x -> chunk(2, 0)
        b = x -> chunk(2, 1) -> b1: conv2d(4, kernel=1) -> b2: conv2d(4, kernel=3, pad=1, groups=4) -> relu
        y = concat(a, b) -> channel_shuffle(2)
        p = y -> chunk(3, 0)
        q = y -> chunk(3, 1)
        r = y -> chunk(3, 2)
        s = y -> narrow(2, 5)
        out1 = concat(r, p, s)
        out2 = q -> chunk(4, 1)
        output out1, out2
     """, (8, 4, 5)),
     lambda: Net([("b1", nn.Conv2d(4, 4, 1)), ("b2", nn.Conv2d(4, 4, 3, padding=1, groups=4))],
                 _shuffle_unit), (8, 4, 5), batch=2)

case("channel_shuffle_groups", "channel_shuffle(3) then channel_shuffle(2) (nn.ChannelShuffle), "
     "channel_shuffle(1) (the identity), batch 2",
     simple("""
        channel_shuffle(3)
        channel_shuffle(2)
        channel_shuffle(1)
     """, (6, 2, 3)),
     lambda: seq(("s", nn.ChannelShuffle(3)), ("s2", nn.ChannelShuffle(2)),
                 ("s3", nn.ChannelShuffle(1))),
     (6, 2, 3), batch=2)


# constants, broadcasting, tensors of any layout: tests/gen/golden_tensors.py
import golden_tensors  # noqa: E402

golden_tensors.add_cases(case, simple, Net)
golden_tensors.add_concat_cases(case, simple, Net)
golden_tensors.add_layout_cases(case, simple, Net)
golden_tensors.add_linear_cases(case, simple, Net)

# --------------------------------------------------------------------------
# Per-side padding (tests/gen/golden_pads.py)

import golden_pads  # noqa: E402

golden_pads.add_cases(case, simple)

# Issue 16's activation, Gemm and Resize modes (tests/gen/golden_actmodes.py).
import golden_actmodes  # noqa: E402

golden_actmodes.add_cases(case, simple, seq, Net, ACT_SHAPE)
# --------------------------------------------------------------------------
# Unary math ops and reductions over chosen dims (tests/gen/golden_reduce.py)

import golden_reduce  # noqa: E402

golden_reduce.add_cases(case, simple, Net)

# The differential fuzzer's findings (tests/gen/golden_fuzz.py)

import golden_fuzz  # noqa: E402

golden_fuzz.add_cases(case, simple)

# --------------------------------------------------------------------------
# Issue 15's kernel paths: pointwise on the blocked tiles, depthwise
# activations in the vector loop (tests/gen/golden_kernels.py)

import golden_kernels  # noqa: E402

golden_kernels.add_cases(case, simple, seq)


# --------------------------------------------------------------------------
# Generation


def case_seed(name):
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def generate(c):
    seed = case_seed(c.name)
    torch.manual_seed(seed)
    module = c.build()
    module.eval()
    randomize_bn(module)
    if c.post:
        with torch.no_grad():
            c.post(module)
    if c.init:
        apply_init(module, c.init[0], c.init[1])
    module.float()

    if c.input_seed:
        assert c.scale == 1.0 and c.shift == 0.0, c.name  # f32gen writes plain U(-1, 1)
        n = c.batch * int(np.prod(c.shape))
        x = torch.from_numpy(seeded_input(seed, n).reshape((c.batch,) + c.shape))
    else:
        gen = torch.Generator().manual_seed(seed + 1)
        x = torch.randn((c.batch,) + c.shape, generator=gen, dtype=torch.float32)
    x = x * c.scale + c.shift
    sd = [(k, v.detach().cpu().contiguous().numpy().copy()) for k, v in module.state_dict().items()]
    if c.prune:
        with torch.no_grad():
            c.prune(module)
    with torch.no_grad():
        y = module(x)
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    for t in ys:
        assert t.dtype == torch.float32 and t.shape[0] == c.batch

    d = os.path.join(GOLDEN, c.name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)

    first = "# golden case %s: %s\n" % (c.name, c.covers)
    write_weights = not c.init and (sd or c.empty_weights)
    if c.source:
        # Compile the file in place: it must say the init this script used.
        path = os.path.join(ROOT, c.source)
        with open(path) as f:
            src = f.read()
        assert c.init and ("\ninit %s(seed=%d)" % c.init) in src, c.name
        assert not write_weights and not c.crlf, c.name
        with open(os.path.join(d, "source"), "w") as f:
            f.write(os.path.relpath(path, d) + "\n" + first)
    else:
        if c.init:
            header = "init %s(seed=%d)" % c.init
        elif write_weights:
            header = 'weights "weights.safetensors"'
        else:
            header = "init he(seed=0)                # no parameters"
        assert (HEADER in c.cnn) or ("weights " in c.cnn) == bool(write_weights), c.name
        text = first + c.cnn.replace(HEADER, header)
        if c.crlf:
            text = text.replace("\n", "\r\n")
        with open(os.path.join(d, "net.cnn"), "w", newline="") as f:
            f.write(text)

    if write_weights:
        path = os.path.join(d, "weights.safetensors")
        write_safetensors(path, sd)
        back = read_safetensors(path)
        assert list(back) == [k for k, _ in sd]
        for k, v in sd:
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
            assert back[k].tobytes() == v.tobytes()

    if c.input_seed:
        with open(os.path.join(d, "input.seed"), "w") as f:
            f.write("%d\n" % seed)
    else:
        x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
    np.concatenate([t.detach().numpy().astype("<f4").ravel() for t in ys]).tofile(
        os.path.join(d, "expected.f32"))

    flags = []
    if c.batch != 1:
        flags.append("--batch %d" % c.batch)
    if c.flags:
        flags.append(c.flags)
    if flags:
        with open(os.path.join(d, "flags"), "w") as f:
            f.write(" ".join(flags) + "\n")
    if c.tol is not None and c.tol != DEFAULT_TOL:
        with open(os.path.join(d, "tolerance"), "w") as f:
            f.write("%g\n" % c.tol)

    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print("wrote %-22s in %s out %s  %6d bytes%s" % (
        c.name, "x".join(map(str, x.shape)), " + ".join("x".join(map(str, t.shape)) for t in ys), size,
        "  init %s(seed=%d)" % c.init if c.init else ""))


def check_cases():
    """Sanity checks on the case list itself."""
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    # The ceil_mode cases must be ones where ceil_mode matters.
    def shape(pool, h, w):
        return tuple(pool(torch.zeros(1, 1, h, w)).shape[-2:])
    assert shape(nn.MaxPool2d(2), 7, 7) == (3, 3)
    assert shape(nn.MaxPool2d(2, ceil_mode=True), 7, 7) == (4, 4)
    # (2,3)/2/1 on 5x8: floor (3, 4); naive ceil (4, 5); PyTorch drops the row: (3, 5)
    assert shape(nn.MaxPool2d((2, 3), 2, 1), 5, 8) == (3, 4)
    assert shape(nn.MaxPool2d((2, 3), 2, 1, ceil_mode=True), 5, 8) == (3, 5)
    assert shape(nn.AvgPool2d((2, 3), 2, 1, ceil_mode=True), 5, 8) == (3, 5)
    assert shape(nn.AvgPool2d(3, 2, 1), 6, 8) == (3, 4)
    assert shape(nn.AvgPool2d(3, 2, 1, ceil_mode=True), 6, 8) == (4, 5)


def main(argv):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    self_check_init(verbose="--verbose" in argv)
    argv = [a for a in argv if a != "--verbose"]
    check_cases()
    if "--list" in argv:
        for c in CASES:
            print(c.name)
        return 0
    byname = {c.name: c for c in CASES}
    todo = CASES
    if argv:
        unknown = [a for a in argv if a not in byname]
        if unknown:
            sys.stderr.write("gen_golden.py: unknown case(s): %s\n" % " ".join(unknown))
            return 2
        todo = [byname[a] for a in argv]
    else:
        # A full run also removes case directories that no longer exist here.
        if os.path.isdir(GOLDEN):
            for d in sorted(os.listdir(GOLDEN)):
                if d not in byname and (os.path.isfile(os.path.join(GOLDEN, d, "net.cnn")) or
                                        os.path.isfile(os.path.join(GOLDEN, d, "source"))):
                    shutil.rmtree(os.path.join(GOLDEN, d))
                    print("removed stale case", d)
    for c in todo:
        generate(c)
    print("%d case(s) written to %s" % (len(todo), os.path.relpath(GOLDEN)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
