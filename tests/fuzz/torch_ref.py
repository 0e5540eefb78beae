"""PyTorch's outputs for the networks of tests/fuzz/gen_net.c (the differential
fuzzer, tests/fuzz/differential.sh).

    /usr/bin/python3 tests/fuzz/torch_ref.py CASE_DIR...

For each case directory (net.cnn, flags, input.seed, as gen_net writes them)
writes CASE_DIR/expected.f32: every output of the network, concatenated in
order, computed by torch.nn.functional in float32 on the CPU, or
CASE_DIR/torch_skipped with the reason when PyTorch itself cannot run the
case (a dilation of 2^31 overflows its int32), even with oneDNN off. A case
directory is then a golden case as tests/run-golden.sh reads it.

It reads only gen_net's subset of the language: one statement a line,
`tN = SOURCE -> LABEL: op(args) -> ...` or `tN = LABEL: op(tA, tB)`, the
arguments as Python call arguments (evaluated with the tensors and true/false
in scope), and `output`. Weights follow `init he|xavier(seed=S)` of
docs/language.md: tests/gen/gen_golden.py's SplitMix64, drawn in layer order.
A conv2d or linear weight named by `prune` statements (or `*`) is pruned
by torch.nn.utils.prune (l1_unstructured, or ln_structured with n=1 on
dim 0), statement by statement, as docs/language.md (Pruning) specifies.
The input is gen_golden's seeded_input (tests/tools/f32gen.c's values).
Exit status 0, or 2 on a case it cannot read (a gen_net bug).
"""

import math
import os
import re
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as tprune

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gen"))
from gen_golden import SplitMix64, seeded_input  # noqa: E402


class Net:
    def __init__(self, scheme, seed, prunes):
        self.scheme = scheme
        self.rng = SplitMix64(seed)
        self.prunes = prunes  # [(amount, structured, set of labels or {"*"})]
        self.label = None  # the layer whose parameters are drawn

    def pruned(self, w):
        """w after the prune statements naming the current layer, in order."""
        m = nn.Module()
        m.weight = nn.Parameter(w)
        for amount, structured, targets in self.prunes:
            if self.label in targets or "*" in targets:
                if structured:
                    tprune.ln_structured(m, "weight", amount, n=1, dim=0)
                else:
                    tprune.l1_unstructured(m, "weight", amount)
        return m.weight.detach()

    def draw(self, lo, hi, shape):
        return torch.from_numpy(self.rng.U(lo, hi, tuple(shape)))

    def conv_params(self, *args):
        """conv2d and linear: fan_params, then pruned."""
        w, b = self.fan_params(*args)
        return self.pruned(w), b

    def fan_params(self, wshape, fan_in, fan_out, bias, nbias):
        if self.scheme == "he":
            b = math.sqrt(6.0 / fan_in)
        else:
            b = math.sqrt(6.0 / (fan_in + fan_out))
        w = self.draw(-b, b, wshape)
        bb = 1.0 / math.sqrt(fan_in)
        return w, (self.draw(-bb, bb, (nbias,)) if bias else None)

    def affine(self, c, bias=True):
        w = self.draw(0.5, 1.5, (c,))
        return w, (self.draw(-0.5, 0.5, (c,)) if bias else None)


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def per_channel(v, x):
    return v.view(1, -1, 1, 1) if x.dim() == 4 else v.view(1, -1)


def side_pool(op, x, kw):
    """A pool with pad=(top, left, bottom, right) (gen_net draws it without
    ceil_mode): F.pad, -inf for maxpool and 0 for avgpool, then the pool
    without padding; avgpool without count_include_pad divides by the pooled
    count of real elements (a pooled ones-mask), as tests/gen/golden_pads.py."""
    t, l, b, r = kw["pad"]
    k = pair(kw["kernel"])
    s = pair(kw.get("stride", k))
    if op == "maxpool":
        xp = F.pad(x, (l, r, t, b), value=-math.inf)
        return F.max_pool2d(xp, k, s, 0, pair(kw.get("dilation", 1)))
    pool = lambda v: F.avg_pool2d(F.pad(v, (l, r, t, b)), k, s, 0,  # noqa: E731
                                  divisor_override=1)
    if kw.get("count_include_pad", True):
        return pool(x) / float(k[0] * k[1])
    return pool(x) / pool(torch.ones_like(x[:, :1]))


def layer(net, label, op, x, args, kw):
    """One layer of the network on x (a tensor, or the tensors of add/...)."""
    net.label = label
    if op == "conv2d":
        c, g = x.shape[1], kw.get("groups", 1)
        kh, kw_ = pair(kw["kernel"])
        w, b = net.conv_params((args[0], c // g, kh, kw_), c // g * kh * kw_, args[0] * kh * kw_,
                              kw.get("bias", True), args[0])
        return F.conv2d(x, w, b, pair(kw.get("stride", 1)), pair(kw.get("pad", 0)),
                        pair(kw.get("dilation", 1)), g)
    if op == "conv_transpose2d":
        c, g = x.shape[1], kw.get("groups", 1)
        kh, kw_ = pair(kw["kernel"])
        w, b = net.fan_params((c, args[0] // g, kh, kw_), args[0] // g * kh * kw_, c * kh * kw_,
                              kw.get("bias", True), args[0])
        return F.conv_transpose2d(x, w, b, pair(kw.get("stride", 1)), pair(kw.get("pad", 0)),
                                  pair(kw.get("output_padding", 0)), g, pair(kw.get("dilation", 1)))
    if op == "linear":
        f = x.shape[-1]  # over the last dimension
        w, b = net.conv_params((args[0], f), f, args[0], kw.get("bias", True), args[0])
        return F.linear(x, w, b)
    if op == "batchnorm":
        c = x.shape[1]
        w, b = net.affine(c) if kw.get("affine", True) else (None, None)
        mean = net.draw(-0.5, 0.5, (c,))
        var = net.draw(0.5, 1.5, (c,))
        return F.batch_norm(x, mean, var, w, b, False, 0.0, kw.get("eps", 1e-5))
    if op == "layernorm":
        c = x.shape[1]
        w, b = net.affine(c) if kw.get("affine", True) else (None, None)
        if x.dim() == 2:
            return F.layer_norm(x, (c,), w, b, kw.get("eps", 1e-5))
        y = F.layer_norm(x.permute(0, 2, 3, 1), (c,), w, b, kw.get("eps", 1e-5))
        return y.permute(0, 3, 1, 2).contiguous()
    if op == "scale":
        w, b = net.affine(x.shape[1], kw.get("bias", False))
        y = x * per_channel(w, x)
        return y + per_channel(b, x) if b is not None else y
    simple = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
              "hardswish": F.hardswish, "silu": F.silu, "hardsigmoid": F.hardsigmoid,
              "dropout": lambda t: t}
    if op in simple:
        return simple[op](x)
    if op == "leaky_relu":
        return F.leaky_relu(x, kw.get("slope", 0.01))
    if op == "gelu":
        return F.gelu(x, approximate=kw.get("approximate", "none"))
    if op in ("maxpool", "avgpool") and len(pair(kw.get("pad", 0))) == 4:
        return side_pool(op, x, kw)
    if op == "maxpool":
        k = pair(kw["kernel"])
        return F.max_pool2d(x, k, pair(kw.get("stride", k)), pair(kw.get("pad", 0)),
                            pair(kw.get("dilation", 1)), kw.get("ceil_mode", False))
    if op == "avgpool":
        k = pair(kw["kernel"])
        return F.avg_pool2d(x, k, pair(kw.get("stride", k)), pair(kw.get("pad", 0)),
                            kw.get("ceil_mode", False), kw.get("count_include_pad", True))
    if op == "global_avgpool":
        return F.adaptive_avg_pool2d(x, 1)
    if op == "adaptive_avgpool":
        return F.adaptive_avg_pool2d(x, pair(kw["size"]))
    if op == "flatten":
        return torch.flatten(x, 1)
    if op == "softmax":
        return F.softmax(x, kw.get("dim", 1))
    if op == "mean":
        return torch.mean(x, kw["dim"], kw.get("keepdim", False))
    if op == "upsample":
        mode = kw.get("mode", "nearest")
        corners = False if mode == "bilinear" else None
        if "size" in kw:
            return F.interpolate(x, size=pair(kw["size"]), mode=mode, align_corners=corners)
        s = pair(kw["scale"])
        return F.interpolate(x, scale_factor=(float(s[0]), float(s[1])), mode=mode,
                             align_corners=corners)
    if op == "pad":
        return F.pad(x, tuple(args[:4]), value=float(kw.get("value", 0)))
    if op == "channel_shuffle":
        n, c, h, w = x.shape
        g = kw["groups"]
        return x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)
    if op == "narrow":
        return torch.narrow(x, 1, kw["start"], kw["length"])
    if op == "chunk":
        return x.chunk(kw["chunks"], 1)[kw["index"]].contiguous()
    if op in BINARY:
        a, b = args
        return BINARY[op](a, b)
    if op in MATH:
        return MATH[op](x)
    if op == "clamp":
        return torch.clamp(x, kw.get("min"), kw.get("max"))
    if op == "log_softmax":
        return F.log_softmax(x, kw.get("dim", 1))
    if op in ("sum", "amax", "amin"):
        return getattr(torch, op)(x, kw["dim"], kw.get("keepdim", False))
    if op == "permute":
        return x.permute(*args).contiguous()
    if op == "reshape":
        return x.reshape(x.shape[0], *args)
    if op == "constant":  # init: U(-1, 1), drawn in layer order
        return net.draw(-1.0, 1.0, args)
    if op == "quantize":
        return torch.quantize_per_tensor(x, float(kw["scale"]), kw["zero_point"], torch.quint8)
    if op == "dequantize":
        return x.dequantize()
    if op == "concat":
        return torch.cat(args, 1)
    raise ValueError("unknown op '%s'" % op)


BINARY = {"add": torch.add, "mul": torch.mul, "sub": torch.sub, "div": torch.div,
          "maximum": torch.maximum, "minimum": torch.minimum}
MATH = {"exp": torch.exp, "log": torch.log, "neg": torch.neg, "abs": torch.abs,
        "sqrt": torch.sqrt, "reciprocal": torch.reciprocal, "floor": torch.floor,
        "ceil": torch.ceil, "sin": torch.sin, "cos": torch.cos}

LAYER = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*:\s*([a-z_0-9]+)\s*(?:\((.*)\))?\s*$")


def run_case(d):
    with open(os.path.join(d, "net.cnn")) as f:
        lines = [ln.split("#")[0].strip() for ln in f]
    with open(os.path.join(d, "flags")) as f:
        batch = int(f.read().split()[1])
    with open(os.path.join(d, "input.seed")) as f:
        seed = int(f.read().split()[0])
    tensors, net, outputs, last, x, prunes = {}, None, None, None, None, []
    for ln in lines:  # prune statements apply wherever they stand
        m = re.match(r"^prune\(amount=([\d.]+)(, structured=true)?\) (.*)$", ln)
        if m:
            a = m.group(1)
            prunes.append((float(a) if "." in a else int(a), bool(m.group(2)),
                           {t.strip() for t in m.group(3).split(",")}))
    for ln in lines:
        if not ln or ln.startswith("network") or ln.startswith("prune("):
            continue
        m = re.match(r"^input (\w+)\[([\d, ]+)\]$", ln)
        if m:
            shape = [batch] + [int(v) for v in m.group(2).split(",")]
            x = torch.from_numpy(seeded_input(seed, int(np.prod(shape))).reshape(shape))
            tensors[m.group(1)] = last = x
            continue
        m = re.match(r"^init (he|xavier)\(seed=(\d+)\)$", ln)
        if m:
            net = Net(m.group(1), int(m.group(2)), prunes)
            continue
        if ln.startswith("output "):
            outputs = [tensors[n.strip()] for n in ln[len("output "):].split(",")]
            continue
        name, chain = (s.strip() for s in ln.split("=", 1))
        parts = [p.strip() for p in chain.split("->")]
        cur = None
        if not LAYER.match(parts[0]):
            cur = tensors[parts.pop(0)]
        for p in parts:
            m = LAYER.match(p)
            scope = dict(tensors, true=True, false=False, _a=lambda *a, **k: (list(a), k))
            args, kw = eval("_a(%s)" % (m.group(3) or ""), {"__builtins__": {}}, scope)
            cur = layer(net, m.group(1), m.group(2), cur, args, kw)
        tensors[name] = last = cur
    if outputs is None:
        outputs = [last]
    return torch.cat([o.detach().reshape(-1) for o in outputs]).numpy().astype("<f4")


def main(argv):
    torch.set_num_threads(1)
    status = 0
    for d in argv[1:]:
        for stale in ("expected.f32", "torch_skipped"):
            if os.path.exists(os.path.join(d, stale)):
                os.remove(os.path.join(d, stale))
        try:
            with torch.no_grad():
                try:
                    out = run_case(d)
                except RuntimeError:  # oneDNN refuses some huge dilations: native kernels
                    with torch.backends.mkldnn.flags(enabled=False):
                        out = run_case(d)
        except (RuntimeError, MemoryError) as e:  # PyTorch's own limits
            with open(os.path.join(d, "torch_skipped"), "w") as f:
                f.write("%s\n" % str(e).splitlines()[0] if str(e) else type(e).__name__)
            continue
        except Exception as e:  # noqa: BLE001 - a case this script cannot read
            print("torch_ref: %s: %s: %s" % (d, type(e).__name__, e), file=sys.stderr)
            status = 2
            continue
        out.tofile(os.path.join(d, "expected.f32"))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
