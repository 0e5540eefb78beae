"""Golden cases of the convolution kernel paths of issue 15 (plain `cc -O2`
speed), imported by gen_golden.py, which calls add_cases(): pointwise (1x1)
convolutions with at least 64 input channels per group on the blocked
kernel's register tiles, and depthwise layers whose fused activation is
applied inside the vectorized loop. Expected outputs are PyTorch's."""

import torch.nn as nn


def add_cases(case, simple, seq):
    # the first pointwise layers of MobileNet-v2: 16 and 24 input channels
    case("kern_pointwise_blocked_few", "pointwise 1x1 convs with 16 and 24 input channels (the "
         "least that take the blocked kernel) with relu6, and 12 (OpenBLAS)",
         simple("""
            p1: conv2d(24, kernel=1) -> relu6
            p2: conv2d(12, kernel=1)
            p3: conv2d(20, kernel=1) -> relu6
         """, (16, 15, 14)),
         lambda: seq(("p1", nn.Conv2d(16, 24, 1)), ("a1", nn.ReLU6()),
                     ("p2", nn.Conv2d(24, 12, 1)),
                     ("p3", nn.Conv2d(12, 20, 1)), ("a3", nn.ReLU6())),
         (16, 15, 14))

    case("kern_pointwise_blocked", "pointwise 1x1 convs with >= 16 input channels per group on "
         "the blocked kernel (select_kernels.c POINTWISE_BLOCKED_CIN): 64 -> 80 with batchnorm and "
         "relu6 (a partial 16-channel block, 11 columns: a partial tile), 80 -> 72 without bias, "
         "grouped 72 -> 24 with 12 channels per group (below 16: OpenBLAS), 1x1 256 -> 40 on a "
         "7x7 plane with leaky_relu after a 3x3 expand; batch 2",
         simple("""
            p1: conv2d(80, kernel=1) -> bn1: batchnorm -> relu6
            p2: conv2d(72, kernel=1, bias=false)
            p3: conv2d(24, kernel=1, groups=6)
            e4: conv2d(256, kernel=3, stride=2, pad=1) -> relu
            p4: conv2d(40, kernel=1) -> leaky_relu(slope=0.1)
         """, (64, 13, 11)),
         lambda: seq(("p1", nn.Conv2d(64, 80, 1)), ("bn1", nn.BatchNorm2d(80)), ("a1", nn.ReLU6()),
                     ("p2", nn.Conv2d(80, 72, 1, bias=False)),
                     ("p3", nn.Conv2d(72, 24, 1, groups=6)),
                     ("e4", nn.Conv2d(24, 256, 3, stride=2, padding=1)), ("a4", nn.ReLU()),
                     ("p4", nn.Conv2d(256, 40, 1)), ("a5", nn.LeakyReLU(0.1))),
         (64, 13, 11), batch=2)

    case("kern_depthwise_act", "depthwise 3x3 layers with the fused activation applied in the "
         "vectorized loop (emit_depthwise_band): relu6 after batchnorm on 7x7 planes (a "
         "MobileNet-v2 tail), leaky_relu(-0.5) with stride 2, hardswish, sigmoid, on a plane of "
         "several bands relu, and clamp; inputs spanning +-6 so every piece of each activation "
         "is taken",
         simple("""
            d1: conv2d(40, kernel=3, pad=1, groups=40) -> bn1: batchnorm -> relu6
            d2: conv2d(40, kernel=3, stride=2, pad=1, groups=40) -> leaky_relu(slope=-0.5)
            d3: conv2d(40, kernel=3, pad=1, groups=40) -> hardswish
            d4: conv2d(40, kernel=3, pad=1, groups=40, bias=false) -> sigmoid
         """, (40, 7, 7)),
         lambda: seq(("d1", nn.Conv2d(40, 40, 3, padding=1, groups=40)),
                     ("bn1", nn.BatchNorm2d(40)), ("a1", nn.ReLU6()),
                     ("d2", nn.Conv2d(40, 40, 3, stride=2, padding=1, groups=40)),
                     ("a2", nn.LeakyReLU(-0.5)),
                     ("d3", nn.Conv2d(40, 40, 3, padding=1, groups=40)), ("a3", nn.Hardswish()),
                     ("d4", nn.Conv2d(40, 40, 3, padding=1, groups=40, bias=False)),
                     ("a4", nn.Sigmoid())),
         (40, 7, 7), scale=6.0)

    case("kern_depthwise_act_bands", "depthwise 3x3 with relu and 5x5 stride 2 with clamp on a "
         "plane of several bands (a partial last one), the activation in the vectorized loop; "
         "batch 2",
         simple("""
            d1: conv2d(3, kernel=3, pad=1, groups=3) -> relu
            d2: conv2d(3, kernel=5, stride=2, pad=2, groups=3) -> clamp(min=-0.5, max=0.75)
         """, (3, 101, 93)),
         lambda: seq(("d1", nn.Conv2d(3, 3, 3, padding=1, groups=3)), ("a1", nn.ReLU()),
                     ("d2", nn.Conv2d(3, 3, 5, stride=2, padding=2, groups=3)),
                     ("a2", Clamp(-0.5, 0.75))),
         (3, 101, 93), batch=2)


class Clamp(nn.Module):
    def __init__(self, lo, hi):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return x.clamp(self.lo, self.hi)
