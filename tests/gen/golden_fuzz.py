"""Golden cases of the bugs the differential fuzzer found (issue 14;
tests/fuzz/differential.sh), each reduced from the fuzzer's network by hand
and computed by PyTorch (gen_golden.py adds them with add_cases)."""

import torch.nn as nn
import torch.nn.functional as F

from cnnlib import seq


class Up(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return F.interpolate(x, **self.kw)


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
