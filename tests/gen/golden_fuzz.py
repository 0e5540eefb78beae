"""Golden cases of the bugs the differential fuzzer found (issue 14;
tests/fuzz/differential.sh), each reduced from the fuzzer's network by hand
and computed by PyTorch (gen_golden.py adds them with add_cases)."""

import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as tprune

from cnnlib import seq
from golden_pads import PadAvgPool


class Up(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return F.interpolate(x, **self.kw)


def _prune_c1(m):
    tprune.ln_structured(m.c1, "weight", 0.5, n=1, dim=0)


def add_cases(case, simple):
    case("up_nearest_float_same", "upsample(scale=1.3) nearest on 3x5: rows 3 -> 3 (the same "
         "size, but rows 0, 0, 1 by 1/1.3: no copy shortcut), columns 5 -> 6; and scale=2.0 on "
         "3x6 -> 6x12 (the exact half: a shift), batch 2",
         simple("""
            a: upsample(scale=1.3)
            b: upsample(scale=2.0)
         """, (2, 3, 5)),
         lambda: seq(("a", Up(scale_factor=1.3, mode="nearest")),
                     ("b", Up(scale_factor=2.0, mode="nearest"))), (2, 3, 5), batch=2)

    case("avgpool_pad_end", "avgpool(3, stride=1, pad=(0, 0, 2, 2)) on 2x2 then (3, 2) stride 2 "
         "pad (1, 0, 2, 1) on its 2x2, counting the padding: each window's divisor ends at the "
         "bottom pad, not the top's (a window ending in the bottom padding was divided by 16)",
         simple("""
            a1: avgpool(3, stride=1, pad=(0, 0, 2, 2))
            a2: avgpool((3, 2), stride=2, pad=(1, 0, 2, 1))
         """, (3, 2, 2)),
         lambda: seq(("a1", PadAvgPool(3, (0, 0, 2, 2), stride=1)),
                     ("a2", PadAvgPool((3, 2), (1, 0, 2, 1), stride=2))), (3, 2, 2), shift=1.0)

    case("prune_linear_last_dim", "prune-channels beside a linear over the last dimension: "
         "conv2d(4) on 3x4x4 with 2 of its 4 channels pruned (structured), then linear(5) over "
         "the 4 columns: the linear keeps its 5 rows (-O2 sliced them to the 4 channels), "
         "batch 2",
         simple("""
            c1: conv2d(4, kernel=1, bias=false)
            fc: linear(5)
            prune(amount=0.5, structured=true) c1
         """, (3, 4, 4)),
         lambda: seq(("c1", nn.Conv2d(3, 4, 1, bias=False)), ("fc", nn.Linear(4, 5))),
         (3, 4, 4), batch=2, prune=_prune_c1)
