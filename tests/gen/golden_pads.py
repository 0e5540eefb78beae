"""Golden cases of per-side padding, pad=(top, left, bottom, right), on conv2d,
conv_transpose2d, maxpool and avgpool, and of the pad layer's reflect and
replicate modes (gen_golden.py adds them with add_cases).

PyTorch's layers pad both sides alike, so each reference pads explicitly with
F.pad(x, (left, right, top, bottom)) and runs the op with padding 0 (maxpool
pads with -inf; conv_transpose2d crops its full output instead): the
semantics ONNX gives `pads=[top, left, bottom, right]`. avgpool without
count_include_pad divides the pooled sum by the pooled count of real
elements (a pooled ones-mask), computed by PyTorch all the same. The pad
modes are nn.ReflectionPad2d and nn.ReplicationPad2d."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlib import seq


def _fpad(p):
    """cnnc's (top, left, bottom, right) as F.pad's (left, right, top, bottom)."""
    t, l, b, r = p
    return (l, r, t, b)


class PadConv2d(nn.Conv2d):
    """conv2d(pad=(t, l, b, r)): zeros by F.pad, then nn.Conv2d with padding 0
    (the same parameter keys as nn.Conv2d)."""

    def __init__(self, cin, cout, k, pads, **kw):
        super().__init__(cin, cout, k, **kw)
        self.pads = _fpad(pads)

    def forward(self, x):
        return super().forward(F.pad(x, self.pads))


class CropConvTranspose2d(nn.ConvTranspose2d):
    """conv_transpose2d(pad=(t, l, b, r)): the full output (padding 0), its
    top t, left l, bottom b and right r rows and columns cropped."""

    def __init__(self, cin, cout, k, pads, **kw):
        super().__init__(cin, cout, k, **kw)
        self.pads = pads

    def forward(self, x):
        t, l, b, r = self.pads
        y = super().forward(x)
        return y[:, :, t:y.shape[2] - b, l:y.shape[3] - r]


class PadMaxPool(nn.Module):
    def __init__(self, k, pads, stride=None, dilation=1):
        super().__init__()
        self.k, self.pads, self.stride, self.dilation = k, _fpad(pads), stride, dilation

    def forward(self, x):
        x = F.pad(x, self.pads, value=float("-inf"))
        return F.max_pool2d(x, self.k, self.stride, 0, self.dilation)


class PadAvgPool(nn.Module):
    def __init__(self, k, pads, stride=None, count_include_pad=True):
        super().__init__()
        self.k, self.pads, self.stride, self.incl = k, _fpad(pads), stride, count_include_pad

    def forward(self, x):
        pool = lambda t: F.avg_pool2d(F.pad(t, self.pads), self.k, self.stride, 0,  # noqa: E731
                                      divisor_override=1)
        s = pool(x)
        if self.incl:
            k = self.k if isinstance(self.k, tuple) else (self.k, self.k)
            return s / float(k[0] * k[1])
        count = pool(torch.ones_like(x[:, :1]))
        assert bool((count > 0).all())  # no window entirely in the padding
        return s / count


def add_cases(case, simple):
    case("conv_pad_sides", "conv2d with per-side pad=(top, left, bottom, right) through the "
         "blocked kernel, depthwise (stride 1 and 2), direct loops, and pools with per-side pads "
         "fused into a conv (maxpool; avgpool without count_include_pad); batch 2",
         simple("""
            c1: conv2d(8, kernel=3, pad=(0, 1, 2, 0))
            dw: conv2d(8, kernel=3, pad=(2, 0, 0, 2), groups=8)
            dw2: conv2d(8, kernel=3, stride=2, pad=(0, 0, 1, 2), groups=8)
            c3: conv2d(6, kernel=(2, 3), pad=(1, 2, 0, 1)) -> maxpool(2, pad=(1, 0, 0, 1))
            c4: conv2d(4, kernel=3, pad=(1, 0, 0, 1))
                -> avgpool(2, stride=1, pad=(0, 1, 1, 0), count_include_pad=false)
         """, (4, 16, 17)),
         lambda: seq(("c1", PadConv2d(4, 8, 3, (0, 1, 2, 0))),
                     ("dw", PadConv2d(8, 8, 3, (2, 0, 0, 2), groups=8)),
                     ("dw2", PadConv2d(8, 8, 3, (0, 0, 1, 2), stride=2, groups=8)),
                     ("c3", PadConv2d(8, 6, (2, 3), (1, 2, 0, 1))),
                     ("p3", PadMaxPool(2, (1, 0, 0, 1))),
                     ("c4", PadConv2d(6, 4, 3, (1, 0, 0, 1))),
                     ("p4", PadAvgPool(2, (0, 1, 1, 0), stride=1, count_include_pad=False))),
         (4, 16, 17), batch=2)

    case("conv_pad_sides_sparse", "conv2d with per-side pads through the sparse kernel "
         "(--sparse-min=0), with stride 2 and without",
         simple("""
            s1: conv2d(6, kernel=3, stride=2, pad=(0, 1, 2, 0))
            s2: conv2d(5, kernel=3, pad=(1, 0, 0, 2))
         """, (3, 9, 10)),
         lambda: seq(("s1", PadConv2d(3, 6, 3, (0, 1, 2, 0), stride=2)),
                     ("s2", PadConv2d(6, 5, 3, (1, 0, 0, 2)))),
         (3, 9, 10), flags="--sparse-min=0")

    case("maxpool_pad_sides", "standalone maxpool with per-side pads up to kernel - 1 (ONNX "
         "allows more than PyTorch's half kernel; every window still holds an input element), "
         "with dilation; batch 2",
         simple("""
            maxpool(3, stride=1, pad=(2, 0, 1, 2))
            maxpool(2, stride=2, dilation=2, pad=(1, 1, 0, 1))
         """, (3, 7, 8)),
         lambda: seq(("m1", PadMaxPool(3, (2, 0, 1, 2), stride=1)),
                     ("m2", PadMaxPool(2, (1, 1, 0, 1), stride=2, dilation=2))),
         (3, 7, 8), batch=2)

    case("avgpool_pad_sides", "standalone avgpool with per-side pads up to kernel - 1, counting "
         "the padding (the divisor is the whole window) and not (the real elements only)",
         simple("""
            avgpool(3, stride=2, pad=(2, 0, 1, 2))
            avgpool((2, 3), stride=1, pad=(1, 2, 0, 1), count_include_pad=false)
         """, (3, 7, 8)),
         lambda: seq(("a1", PadAvgPool(3, (2, 0, 1, 2), stride=2)),
                     ("a2", PadAvgPool((2, 3), (1, 2, 0, 1), stride=1, count_include_pad=False))),
         (3, 7, 8), shift=1.0)

    case("convt_pad_sides", "conv_transpose2d with per-side pads (crops of the full output), "
         "with stride 2 and output_padding, then stride 1",
         simple("""
            t1: conv_transpose2d(4, kernel=3, stride=2, pad=(0, 1, 2, 0), output_padding=1)
            t2: conv_transpose2d(3, kernel=2, pad=(1, 0, 0, 1))
         """, (3, 5, 6)),
         lambda: seq(("t1", CropConvTranspose2d(3, 4, 3, (0, 1, 2, 0), stride=2,
                                                output_padding=1)),
                     ("t2", CropConvTranspose2d(4, 3, 2, (1, 0, 0, 1)))),
         (3, 5, 6))

    case("pad_reflect_replicate", "pad with mode=\"reflect\" (nn.ReflectionPad2d, ONNX's reflect) "
         "and mode=\"replicate\" (nn.ReplicationPad2d, ONNX's edge), per side, reflect's sides up "
         "to the input size - 1, before a conv; batch 2",
         simple("""
            pad(2, 4, 1, 3, mode="reflect")
            pad(1, 4, 3, 0, mode="replicate")
            pad(1, 1, 1, 1, mode="reflect") -> c1: conv2d(4, kernel=3)
            pad(0, 2, 0, 0, mode="replicate")
         """, (3, 4, 5)),
         lambda: seq(("p1", nn.ReflectionPad2d((2, 4, 1, 3))),
                     ("p2", nn.ReplicationPad2d((1, 4, 3, 0))),
                     ("p3", nn.ReflectionPad2d(1)), ("c1", nn.Conv2d(3, 4, 3)),
                     ("p4", nn.ReplicationPad2d((0, 2, 0, 0)))),
         (3, 4, 5), batch=2)
