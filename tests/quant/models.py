"""Small models for tests/quant/run.py, each written once for both of
PyTorch's quantization flows: eager=True gives the eager-mode form (QuantStub,
DeQuantStub, FloatFunctional add/add_relu/cat; FUSE lists what fuse_modules
fuses), eager=False the plain float model FX's prepare_fx/convert_fx
quantize (a + b, torch.cat; FX fuses conv + bn + relu itself).

INPUT is each model's input shape without the batch; FLOAT_PARTS the module
paths left in float32 (qconfig None) for a partly quantized network.
"""

import torch
import torch.nn as nn
import torch.ao.quantization as tq


class _Edges(nn.Module):
    """QuantStub / DeQuantStub and FloatFunctionals in eager mode only."""

    def __init__(self, eager, functionals=()):
        super().__init__()
        self.eager = eager
        if eager:
            self.q = tq.QuantStub()
            self.dq = tq.DeQuantStub()
            for name in functionals:
                setattr(self, name, nn.quantized.FloatFunctional())

    def quant(self, x):
        return self.q(x) if self.eager else x

    def dequant(self, x):
        return self.dq(x) if self.eager else x


class ResCat(_Edges):
    """conv + bn + relu, a residual add (different input scales), add + relu,
    a depthwise conv, a concat of tensors with different scales, maxpool,
    avgpool, global pooling, linear + relu, dropout, linear."""

    INPUT = (3, 12, 12)
    BATCH = 48
    FUSE = (["c0", "bn0", "r0"], ["c1", "r1"], ["dw", "r2"], ["f1", "r3"])

    def __init__(self, eager):
        super().__init__(eager, ("add", "add2", "cat"))
        self.c0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.r0 = nn.ReLU()
        self.c1 = nn.Conv2d(8, 8, 3, padding=1)
        self.r1 = nn.ReLU()
        self.c2 = nn.Conv2d(8, 8, 1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.r2 = nn.ReLU()
        self.mp = nn.MaxPool2d(2)
        self.ap = nn.AvgPool2d(3, stride=1, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.f1 = nn.Linear(24, 16)
        self.r3 = nn.ReLU()
        self.drop = nn.Dropout(0.3)
        self.f2 = nn.Linear(16, 10)
        with torch.no_grad():  # batchnorm statistics that are not the identity
            self.bn0.running_mean.uniform_(-0.5, 0.5)
            self.bn0.running_var.uniform_(0.5, 2.0)
            self.bn0.weight.uniform_(0.5, 1.5)
            self.bn0.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        x = self.quant(x)
        a = self.r0(self.bn0(self.c0(x)))
        b = self.c2(self.r1(self.c1(a)))
        s = self.add.add(a, b) if self.eager else a + b
        d = self.r2(self.dw(s))
        t = self.add2.add_relu(d, s) if self.eager else torch.relu(d + s)
        y = self.cat.cat([t, d, a], dim=1) if self.eager else torch.cat([t, d, a], 1)
        y = self.ap(self.mp(y))
        y = torch.flatten(self.pool(y), 1)
        y = self.f2(self.drop(self.r3(self.f1(y))))
        return self.dequant(y)


class Grouped(_Edges):
    """A strided grouped conv with a non-square kernel, dilation, a conv
    without bias, adaptive pooling to 3x2, flatten, linear."""

    INPUT = (4, 15, 13)
    BATCH = 64
    FUSE = (["g", "r0"],)

    def __init__(self, eager):
        super().__init__(eager)
        self.g = nn.Conv2d(4, 12, (3, 5), stride=(2, 1), padding=(1, 2), groups=2)
        self.r0 = nn.ReLU()
        self.c = nn.Conv2d(12, 6, 3, padding=2, dilation=2, bias=False)
        self.ap = nn.AdaptiveAvgPool2d((3, 2))
        self.fc = nn.Linear(36, 7)

    def forward(self, x):
        x = self.quant(x)
        y = self.c(self.r0(self.g(x)))
        y = self.fc(torch.flatten(self.ap(y), 1))
        return self.dequant(y)


class Relu6Net(_Edges):
    """MobileNet's inverted residual with relu6 after each expanding conv:
    a standalone relu6 on a quantized tensor (the clamp at q(6)). Not run on
    qnnpack: PyTorch's qnnpack relu6 is wrong on channels-last tensors."""

    INPUT = (8, 10, 10)
    FUSE = (["e", "bn"],)
    QNNPACK = False

    def __init__(self, eager):
        super().__init__(eager, ("add",))
        self.e = nn.Conv2d(8, 24, 1, bias=False)
        self.bn = nn.BatchNorm2d(24)
        self.r1 = nn.ReLU6()
        self.dw = nn.Conv2d(24, 24, 3, padding=1, groups=24)
        self.r2 = nn.ReLU6()
        self.p = nn.Conv2d(24, 8, 1)

    def forward(self, x):
        x = self.quant(x)
        y = self.p(self.r2(self.dw(self.r1(self.bn(self.e(x))))))
        y = self.add.add(x, y) if self.eager else x + y
        return self.dequant(y)


class Spatial(_Edges):
    """A feature map as the output (many elements to compare): conv + relu,
    a 1x1 conv added to it, a concat with the input, avgpool without the
    padding in its count, a last conv with per-channel scales."""

    INPUT = (4, 16, 16)
    FUSE = (["c0", "r0"],)

    def __init__(self, eager):
        super().__init__(eager, ("add", "cat"))
        self.c0 = nn.Conv2d(4, 12, 3, padding=1)
        self.r0 = nn.ReLU()
        self.c1 = nn.Conv2d(12, 12, 1)
        self.ap = nn.AvgPool2d(3, stride=2, padding=1)
        self.c2 = nn.Conv2d(16, 8, 3, padding=1)

    def forward(self, x):
        x = self.quant(x)
        a = self.r0(self.c0(x))
        b = self.c1(a)
        s = self.add.add(a, b) if self.eager else a + b
        y = self.cat.cat([s, x], dim=1) if self.eager else torch.cat([s, x], 1)
        return self.dequant(self.c2(self.ap(y)))


class Partly(nn.Module):
    """Partly quantized: a float conv, the quantized middle, a float linear."""

    INPUT = (2, 9, 9)
    BATCH = 64
    FUSE = (["c1", "r1"],)
    FLOAT_PARTS = ("f0", "fc")

    def __init__(self, eager):
        super().__init__()
        self.eager = eager
        self.f0 = nn.Conv2d(2, 6, 3)
        if eager:
            self.q = tq.QuantStub()
            self.dq = tq.DeQuantStub()
        self.c1 = nn.Conv2d(6, 6, 3, padding=1)
        self.r1 = nn.ReLU()
        self.mp = nn.MaxPool2d(2, ceil_mode=True)
        self.fc = nn.Linear(6 * 4 * 4, 5)

    def forward(self, x):
        x = self.f0(x)
        if self.eager:
            x = self.q(x)
        x = self.mp(self.r1(self.c1(x)))
        if self.eager:
            x = self.dq(x)
        return self.fc(torch.flatten(x, 1))


MODELS = [ResCat, Grouped, Relu6Net, Spatial, Partly]
