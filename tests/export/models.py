"""The models tests/export/run.sh exports with tools/torch2cnn.py, compiles with
cnnc and compares with PyTorch. Each name is given to the exporter's command
line as tests/export/models.py:NAME; classes and functions both work. Every
model is in eval mode with non-trivial BatchNorm statistics (torch.manual_seed
is set by the exporter's --seed before a model is built)."""

import collections
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gen"))
from cnnlib import randomize_bn  # noqa: E402


def _ready(m):
    randomize_bn(m)
    return m.eval()


def sequential_cnn():
    """A plain nn.Sequential: numeric labels ("0", "3", ...) and one long chain."""
    return _ready(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.LeakyReLU(0.1),
        nn.AvgPool2d(2),
        nn.Conv2d(16, 16, 3, padding=(1, 0), stride=(1, 2), dilation=1, groups=4), nn.Tanh(),
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(16 * 8 * 2, 32), nn.Sigmoid(), nn.Linear(32, 10), nn.Softmax(dim=1)))


class LeNet5(nn.Module):
    """LeNet-5 as usually written: functional activations and pooling, a view."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), (2, 2))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class FmnistCNN(nn.Module):
    """The Fashion-MNIST classifier of issue 6: conv-BN-ReLU-pool twice,
    dropout, two linear layers."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2))
        self.dropout = nn.Dropout(0.3)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        randomize_bn(self)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        x = self.dropout(x)
        return self.fc2(torch.relu(self.fc1(x)))


def cifar_vgg():
    """A VGG-11-style network for 32x32 CIFAR images (BN after every conv)."""
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.BatchNorm2d(v),
                       nn.ReLU(inplace=True)]
            c = v

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(512, 512), nn.ReLU(True),
                                            nn.Dropout(), nn.Linear(512, 10))

        def forward(self, x):
            x = self.features(x)
            x = x.view(x.size(0), -1)
            return self.classifier(x)

    return _ready(VGG())


def resnet18():
    import torchvision
    return _ready(torchvision.models.resnet18())


def mobilenet_v2():
    import torchvision
    return _ready(torchvision.models.mobilenet_v2())


class TinyFPN(nn.Module):
    """A small feature pyramid: a strided backbone, 1x1 lateral convolutions,
    top-down nearest upsampling added to the laterals, 3x3 output convs, and
    three outputs (plus a bilinear-upsampled, concatenated fusion head)."""

    def __init__(self, c=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.c3 = nn.Sequential(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU())
        self.c4 = nn.Sequential(nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), nn.ReLU())
        self.c5 = nn.Sequential(nn.Conv2d(4 * c, 8 * c, 3, stride=2, padding=1), nn.ReLU())
        self.lat = nn.ModuleList([nn.Conv2d(k * c, 16, 1) for k in (2, 4, 8)])
        self.out = nn.ModuleList([nn.Conv2d(16, 16, 3, padding=1) for _ in range(3)])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.fuse = nn.Conv2d(48, 4, 1)
        randomize_bn(self)

    def forward(self, x):
        c3 = self.c3(self.stem(x))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        p5 = self.lat[2](c5)
        p4 = self.lat[1](c4) + self.up(p5)
        p3 = self.lat[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        p3, p4, p5 = self.out[0](p3), self.out[1](p4), self.out[2](p5)
        fused = torch.cat([p3,
                           F.interpolate(p4, scale_factor=2, mode="bilinear",
                                         align_corners=False),
                           F.interpolate(p5, scale_factor=4.0, mode="bilinear")], dim=1)
        return p3, p4, p5, torch.sigmoid(self.fuse(fused))


class ConvTDecoder(nn.Module):
    """A decoder of nn.ConvTranspose2d layers (issue 12): U-Net up-sampling
    (kernel 2, stride 2) joined to an encoder map by torch.cat, then
    kernel 3 stride 2 with output_padding, grouped without bias before a
    BatchNorm2d, dilated, and non-square."""

    def __init__(self, c=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU())
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.up2 = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c, c, 3, padding=1, groups=2, bias=False), nn.BatchNorm2d(c),
            nn.ConvTranspose2d(c, 4, 3, dilation=2, padding=2),
            nn.ConvTranspose2d(4, 2, (2, 3), stride=(1, 2), padding=(0, 1), output_padding=(0, 1)))
        randomize_bn(self)

    def forward(self, x):
        e = self.enc(x)
        d = torch.cat([self.up(torch.relu(self.down(e))), e], dim=1)
        return self.up2(d)


class _Pruned(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 8 * 8, 10)
        randomize_bn(self)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


def pruned_unstructured():
    """Magnitude (L1) pruning of every conv and linear weight, 60%, plus a
    random unstructured mask on conv1's bias."""
    m = _Pruned()
    for mod in (m.conv1, m.conv2, m.fc):
        prune.l1_unstructured(mod, "weight", amount=0.6)
    prune.random_unstructured(m.conv1, "bias", amount=0.5)
    return m.eval()


def pruned_structured():
    """Structured pruning: half the output channels of conv1 and conv2 (L2
    norm, ln_structured dim 0), a quarter of the input columns of fc (dim 1),
    applied on top of an unstructured mask (masks combine)."""
    m = _Pruned()
    prune.ln_structured(m.conv1, "weight", amount=0.5, n=2, dim=0)
    prune.ln_structured(m.conv2, "weight", amount=0.5, n=2, dim=0)
    prune.l1_unstructured(m.conv2, "weight", amount=0.3)
    prune.ln_structured(m.fc, "weight", amount=0.25, n=1, dim=1)
    return m.eval()


class Functional(nn.Module):
    """The rest of the mapping table: functional and in-place activations,
    pooling variants, adaptive pooling, torch.mean, clamp, hardtanh, softmax,
    x + y with a dropout, and reshapes that flatten in two steps; padding="same"
    with an odd and an even kernel (the latter per side)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding="same")
        self.same = nn.Conv2d(12, 12, (4, 2), padding="same")
        self.dw = nn.Conv2d(12, 24, 3, padding=2, dilation=2, groups=12)
        self.bn = nn.BatchNorm2d(24, eps=1e-3)
        self.pw = nn.Conv2d(24, 12, 1)
        self.act = nn.Hardswish()
        self.silu = nn.SiLU(inplace=True)
        self.relu6 = nn.ReLU6(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d((3, 3))
        self.bn1d = nn.BatchNorm1d(12 * 9, affine=False)
        self.fc = nn.Linear(12 * 9, 8)
        self.head = nn.Linear(12, 8, bias=False)
        randomize_bn(self)

    def forward(self, x):
        x = self.same(self.conv(x))
        x.relu_()
        y = self.silu(self.bn(self.dw(x)))
        y = self.act(self.pw(y))
        y = F.leaky_relu(y, 0.2) + torch.clamp(x, min=0, max=6)
        y = F.dropout(y, p=0.1, training=self.training)
        z = F.max_pool2d(y, 3, stride=2, padding=1, dilation=1, ceil_mode=True)
        z = F.avg_pool2d(z, 3, stride=1, padding=1, count_include_pad=False)
        z = F.hardtanh(z, 0.0, 6.0) - 0.0 if False else F.hardtanh(z, 0.0, 6.0)
        a = self.pool(z).squeeze(-1).reshape(z.size(0), -1)
        a = torch.tanh(self.fc(self.bn1d(a)))
        g = z.mean((2, 3))
        g = F.silu(F.hardswish(self.head(g)))
        s = torch.softmax(F.relu6(a) + self.relu6(g), dim=-1)
        return s, torch.sigmoid(F.adaptive_avg_pool2d(z, 1).flatten(1))


class Resample(nn.Module):
    """Upsampling corners: nearest and bilinear to sizes that are not integer
    multiples (and smaller than the input), a scale pair, adaptive pooling to
    sizes that do not divide the input, then concatenation and addition of
    flat tensors and a dropout with p=1 (identity in eval mode)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.Upsample(scale_factor=(2, 3))
        self.pool = nn.AdaptiveAvgPool2d((4, 3))
        self.fc_a = nn.Linear(4 * 12, 6)
        self.fc_b = nn.Linear(4 * 12, 6)
        self.drop = nn.Dropout(p=1.0)

    def forward(self, x):
        x = self.conv(x)
        a = F.interpolate(x, size=(13, 9), mode="nearest")
        b = F.interpolate(x, size=(5, 11), mode="bilinear", align_corners=False)
        c = self.up(x)
        a = self.pool(a).flatten(1)
        b = self.pool(b).flatten(1)
        c = torch.flatten(F.adaptive_avg_pool2d(c, (4, 3)), 1)
        cat = torch.cat((a, b, c), dim=-1)
        s = self.drop(torch.add(self.fc_a(a), self.fc_b(b)))
        return cat, s, F.adaptive_avg_pool2d(x, (5, 4))


class EvalIdentities(nn.Module):
    """torchvision's eval-time identities: StochasticDepth (module and
    function) and nn.Identity, which the exporter drops, and
    FrozenBatchNorm2d (with its own eps), which it writes as batchnorm; the
    output is a dict, whose keys name the outputs."""

    def __init__(self):
        super().__init__()
        from torchvision.ops import StochasticDepth, stochastic_depth
        from torchvision.ops.misc import FrozenBatchNorm2d
        self.stochastic_depth = stochastic_depth
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = FrozenBatchNorm2d(8, eps=1e-3)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = FrozenBatchNorm2d(8)
        self.drop = StochasticDepth(0.3, "row")
        self.skip = nn.Identity()
        self.head = nn.Conv2d(8, 4, 1)
        with torch.no_grad():
            for bn in (self.bn1, self.bn2):
                bn.weight.copy_(torch.rand(8) + 0.5)
                bn.bias.copy_(torch.randn(8) * 0.5)
                bn.running_mean.copy_(torch.randn(8) * 0.5)
                bn.running_var.copy_(torch.rand(8) * 1.5 + 0.25)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        z = self.drop(self.bn2(self.conv2(y)))
        z = self.stochastic_depth(z, 0.2, "batch", self.training) + self.skip(y)
        return {"features": z, "logits": self.head(z)}


def eval_identities():
    return EvalIdentities().eval()


class ConvNextLike(nn.Module):
    """Issue 12's convnext pieces: torchvision's CNBlock (Permute, nn.LayerNorm
    over channels-last, Linear, GELU, Linear, Permute, layer_scale *) and
    LayerNorm2d, a hand-written permute -> F.layer_norm -> F.gelu(tanh) ->
    Linear without bias -> permute, nn.LayerNorm over [N, F]."""

    def __init__(self):
        super().__init__()
        from torchvision.models.convnext import CNBlock, LayerNorm2d
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 2, stride=2), LayerNorm2d(16, eps=1e-6))
        self.block = CNBlock(16, layer_scale=0.5, stochastic_depth_prob=0.1)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 24, bias=False)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(24 * 5 * 4, 10), nn.LayerNorm(10))
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.copy_(torch.rand(m.weight.shape) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape) * 0.5)
            self.block.layer_scale.copy_(torch.rand(self.block.layer_scale.shape) + 0.5)

    def forward(self, x):
        x = self.block(self.stem(x))
        y = x.permute(0, 2, 3, 1)
        y = F.layer_norm(y, (16,), self.norm.weight, self.norm.bias, 1e-5)
        y = self.fc(F.gelu(y, approximate="tanh")).permute(0, 3, 1, 2)
        return self.head(y)


def convnext_like():
    return ConvNextLike().eval()


class ShuffleLike(nn.Module):
    """Issue 12's shufflenet pieces: torchvision's InvertedResidual (stride 2
    and 1: chunk, channel_shuffle), x.chunk and torch.split indexed,
    nn.ChannelShuffle, nn.ZeroPad2d, nn.ConstantPad2d, F.pad, nn.GELU."""

    def __init__(self):
        super().__init__()
        from torchvision.models.shufflenetv2 import InvertedResidual
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.units = nn.Sequential(InvertedResidual(8, 16, 2), InvertedResidual(16, 16, 1))
        self.shuffle = nn.ChannelShuffle(4)
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))
        self.cpad = nn.ConstantPad2d(1, -0.5)
        self.act = nn.GELU()
        self.head = nn.Conv2d(20, 4, 3)

    def forward(self, x):
        x = self.shuffle(self.units(self.conv(x)))
        a = x.chunk(3, dim=1)
        b = torch.split(x, [4, 12], dim=1)
        y = torch.cat((a[2], b[0], a[0], a[1]), dim=1)  # 4 + 4 + 6 + 6 channels
        y = self.act(self.cpad(self.pad(y)))
        return self.head(F.pad(y, (0, 1, -1, 0)))


def shuffle_like():
    return _ready(ShuffleLike())


class MirrorPads(nn.Module):
    """nn.ReflectionPad2d, nn.ReplicationPad2d and F.pad in reflect and
    replicate modes (pad's mode=), around a conv."""

    def __init__(self):
        super().__init__()
        self.rpad = nn.ReflectionPad2d((1, 2, 0, 1))
        self.conv = nn.Conv2d(3, 4, 3)
        self.epad = nn.ReplicationPad2d(1)

    def forward(self, x):
        y = F.relu(self.epad(self.conv(self.rpad(x))))
        return F.pad(F.pad(y, (2, 0, 1, 1), mode="reflect"), (0, 1, 2, 0), mode="replicate")


class Arith(nn.Module):
    """Issue 12's arithmetic: a * b, torch.mul, x.mul, *=, a - b, torch.sub,
    x.sub, -=, add with a [N, C, 1, 1] operand in both orders, x.mean((2, 3))
    with and without keepdim, torch.mean, F.hardsigmoid and nn.Hardsigmoid, a
    gate computed inline (y * sigmoid(y)), and torch.cat of 30 tensors and of
    130 (more than one concat takes: nested)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc1 = nn.Conv2d(6, 3, 1)
        self.fc2 = nn.Conv2d(3, 6, 1)
        self.gate = nn.Hardsigmoid()
        self.shift = nn.Conv2d(6, 6, 1)
        self.bias = nn.Conv2d(6, 6, 1)
        self.head = nn.Linear(6, 4)

    def forward(self, x):
        y = self.conv(x)
        y = y * torch.sigmoid(y)
        s = y.mean((2, 3), keepdim=True)
        g = self.gate(self.fc2(torch.relu(self.fc1(s))))
        z = g * y                          # operator.mul, gate first
        z = torch.mul(z, F.hardsigmoid(self.shift(s)))
        w = z.mul(y) - torch.sub(y, s)     # equal shapes; [N, C, H, W] - [N, C, 1, 1]
        w = w.sub(s - y)                   # [N, C, 1, 1] - [N, C, H, W]
        w += self.bias(s)                  # broadcast add, in place
        w *= z
        w -= y
        t = torch.mean(w, (-1, -2))
        cat = torch.cat([w, z, y] * 10, dim=1)   # 30 tensors
        flat = torch.cat([t] * 130, 1)           # 130: two concats
        return cat, flat, self.head(t.mul(t))


def se_blocks():
    """torchvision's SqueezeExcitation as MobileNetV3 (ReLU, Hardsigmoid),
    EfficientNet (SiLU, Sigmoid) and RegNet (ReLU, Sigmoid) use it."""
    from torchvision.ops import SqueezeExcitation
    return _ready(nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.Hardswish(),
        SqueezeExcitation(16, 4, scale_activation=nn.Hardsigmoid),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.SiLU(),
        SqueezeExcitation(16, 4, activation=nn.SiLU),
        nn.Conv2d(16, 8, 1), nn.ReLU(),
        SqueezeExcitation(8, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)))


# Models the error tests expect to fail, with what the message must say.


class WithMish(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3),
                                      nn.Mish())

    def forward(self, x):
        return self.features(x)


class WithDiv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        return y / torch.sigmoid(y)


def with_divisor():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AvgPool2d(2, divisor_override=3))


def with_indices():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2, return_indices=True))


def tiny():
    """A two-layer model for the command-line tests."""
    return nn.Sequential(collections.OrderedDict([
        ("conv", nn.Conv2d(3, 4, 3)), ("act", nn.ReLU()), ("flat", nn.Flatten()),
        ("fc", nn.Linear(4 * 6 * 6, 5))]))


class ManyBlockers(nn.Module):
    """Three kinds of blockers, in several places: nn.Mish (twice), x / y
    (twice, in two blocks) and a concatenation along the height."""

    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return x / torch.sigmoid(self.conv(x))

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Mish())
        self.gates = nn.Sequential(self.Gate(), self.Gate())
        self.act = nn.Mish()

    def forward(self, x):
        x = self.act(self.gates(self.stem(x)))
        return torch.cat([x] * 3, 2)


class Unpacks(nn.Module):
    """fx cannot trace a.chunk(2) unpacked into two names (in a submodule)."""

    class Split(nn.Module):
        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            return a + b

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.split = self.Split()

    def forward(self, x):
        return self.split(self.conv(x))
