#!/usr/bin/python3
"""Tests of tools/torch2cnn.py that need no C compiler: the text it writes, the
weights file, pruning masks, and its error messages. Run by tests/export/run.sh
(`make check-export`), or alone: /usr/bin/python3 tests/export/test_torch2cnn.py
"""

import collections
import io
import os
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)

import models  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402
from torch2cnn import ExportError, export, load_module, main  # noqa: E402


def body(text):
    """The .cnn without its two comment lines."""
    return "\n".join(text.split("\n")[2:])


class ExportTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.dir = tempfile.mkdtemp(prefix="torch2cnn-test.")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def export(self, module, shape, name="net.cnn", **kw):
        return export(module, torch.randn(shape), self.path(name), **kw)

    def assertFails(self, module, shape, *needles):
        with self.assertRaises(ExportError) as cm:
            self.export(module, shape)
        msg = str(cm.exception)
        for n in needles:
            self.assertIn(n, msg)
        self.assertFalse(os.path.exists(self.path("net.cnn")))
        return msg

    # -- the text ------------------------------------------------------------

    def test_fashion_mnist_example_is_its_export(self):
        """examples/fashion_mnist: fmnist.cnn and fmnist.safetensors are what
        export() writes for FashionCNN with the committed weights."""
        ex = os.path.join(ROOT, "examples", "fashion_mnist")
        model = load_module(os.path.join(ex, "train.py") + ":FashionCNN",
                            state_dict=os.path.join(ex, "fmnist.safetensors"))
        text = self.export(model, (1, 1, 28, 28), name="fmnist.cnn")
        with open(os.path.join(ex, "fmnist.cnn")) as f:
            self.assertEqual(body(f.read()), body(text))
        with open(os.path.join(ex, "fmnist.safetensors"), "rb") as a, \
                open(self.path("fmnist.safetensors"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_lenet5_text(self):
        """LeNet-5 written with F.* calls and a view comes out as the
        language reference's LeNet-5."""
        text = self.export(models.LeNet5(), (1, 1, 28, 28), "lenet5.cnn")
        self.assertEqual(body(text), "\n".join([
            "network lenet5",
            "input x[1, 28, 28]",
            'weights "lenet5.safetensors"',
            "",
            "conv1: conv2d(6, kernel=5, pad=2) -> relu -> maxpool(2)",
            "conv2: conv2d(16, kernel=5) -> relu -> maxpool(2)",
            "flatten",
            "fc1: linear(120) -> relu",
            "fc2: linear(84) -> relu",
            "fc3: linear(10)",
            ""]))

    def test_sequential_labels_quoted(self):
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
        text = self.export(m, (1, 3, 6, 6))
        self.assertIn('"0": conv2d(4, kernel=3) -> relu\nflatten\n"3": linear(2)\n', text)
        # forward(self, input): 'input' is a keyword, so the tensor is x
        self.assertIn("input x[3, 6, 6]", text)

    def test_attributes(self):
        m = nn.Sequential(
            nn.Conv2d(4, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
                      bias=False),
            nn.BatchNorm2d(8, eps=1e-3, affine=False), nn.LeakyReLU(0.25),
            nn.MaxPool2d(3, stride=1, padding=1, dilation=1, ceil_mode=True),
            nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 1), ceil_mode=True,
                         count_include_pad=False),
            nn.Upsample(scale_factor=2, mode="bilinear"))
        text = self.export(m, (1, 4, 9, 11))
        self.assertIn('"0": conv2d(8, kernel=(3, 5), stride=(2, 1), pad=(1, 2), '
                      'dilation=(1, 2), groups=2, bias=false)', text)
        self.assertIn('"1": batchnorm(eps=0.001, affine=false)', text)
        self.assertIn("leaky_relu(slope=0.25)", text)
        self.assertIn("maxpool(3, stride=1, pad=1, ceil_mode=true)", text)
        self.assertIn("avgpool((2, 3), stride=(2, 1), pad=1, ceil_mode=true, "
                      "count_include_pad=false)", text)
        self.assertIn('upsample(scale=2, mode="bilinear")', text)

    def test_conv_transpose2d(self):
        m = nn.Sequential(
            nn.ConvTranspose2d(4, 6, 2, stride=2),
            nn.ConvTranspose2d(6, 4, (3, 5), stride=(2, 1), padding=(1, 2),
                               output_padding=(1, 0), dilation=(1, 2), groups=2, bias=False))
        text = self.export(m, (1, 4, 5, 6))
        self.assertIn('"0": conv_transpose2d(6, kernel=2, stride=2)', text)
        self.assertIn('"1": conv_transpose2d(4, kernel=(3, 5), stride=(2, 1), pad=(1, 2), '
                      'output_padding=(1, 0), dilation=(1, 2), groups=2, bias=false)', text)
        sd = read_safetensors(self.path("net.safetensors"))
        self.assertEqual(list(sd["1.weight"].shape), [6, 2, 3, 5])

    def test_conv_transpose2d_output_size(self):
        class Sized(nn.Module):
            def __init__(self):
                super().__init__()
                self.up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)

            def forward(self, x):
                return self.up(x, output_size=[10, 10])

        self.assertFails(Sized(), (1, 3, 5, 5), "up (nn.ConvTranspose2d)",
                         "output_size= at call time is not supported")

    def test_residual_names_follow_modules(self):
        import torchvision
        text = self.export(torchvision.models.resnet18().eval(), (1, 3, 64, 64))
        self.assertIn("# layer1.0 (BasicBlock)\n", text)
        self.assertIn("layer1_0 = layer1.0.conv2: conv2d(64, kernel=3, pad=1, bias=false)", text)
        self.assertIn("layer1_0 -> layer1.1.conv1:", text)
        self.assertIn("-> add(layer1_0) -> relu", text)
        self.assertNotIn("output ", text)

    def test_several_outputs(self):
        text = self.export(models.TinyFPN(), (1, 3, 32, 32))
        self.assertTrue(text.endswith("output out_0, out_1, out_2, sigmoid_0\n"), text)

    def test_eval_identities(self):
        """StochasticDepth and nn.Identity are dropped, FrozenBatchNorm2d is
        a batchnorm with its eps and buffers, a dict's keys name the outputs."""
        m = models.eval_identities()
        text = self.export(m, (1, 3, 8, 8))
        self.assertIn("bn1: batchnorm(eps=0.001)", text)
        self.assertIn("bn2: batchnorm -> add", text)
        self.assertEqual(text.count("conv2d"), 3)
        self.assertNotIn("dropout", text)
        self.assertTrue(text.endswith("output features, logits\n"), text)
        st = read_safetensors(self.path("net.safetensors"))
        for name in ("weight", "bias", "running_mean", "running_var"):
            self.assertEqual(st["bn1." + name].tobytes(),
                             getattr(m.bn1, name).numpy().tobytes())

    def test_frozen_batchnorm_is_cnnc_batchnorm(self):
        """cnnc's batchnorm, (x - mean) / sqrt(var + eps) * w + b, computed
        from the exported tensors, is FrozenBatchNorm2d's x * scale + shift
        (scale = w * rsqrt(var + eps)) within 1e-5. (The round trip through
        cnnc is run.sh's eval_identities case, at 1e-5.)"""
        from torchvision.ops.misc import FrozenBatchNorm2d
        for eps in (1e-5, 1e-3, 0.1):
            bn = FrozenBatchNorm2d(16, eps=eps)
            bn.weight.copy_(torch.rand(16) * 2 - 0.5)
            bn.bias.copy_(torch.randn(16))
            bn.running_mean.copy_(torch.randn(16))
            bn.running_var.copy_(torch.rand(16) * 2 + 1e-3)
            m = nn.Sequential(collections.OrderedDict([("bn", bn)]))
            x = torch.randn(2, 16, 5, 7) * 3
            text = self.export(m, x.shape)
            self.assertIn("bn: batchnorm%s" % ("" if eps == 1e-5 else "(eps=%r)" % eps), text)
            st = read_safetensors(self.path("net.safetensors"))
            t = {k: torch.from_numpy(np.array(st["bn." + k])).view(1, -1, 1, 1)
                 for k in ("weight", "bias", "running_mean", "running_var")}
            xd = x.double()
            ours = ((xd - t["running_mean"].double()) / torch.sqrt(t["running_var"].double() + eps)
                    * t["weight"].double() + t["bias"].double())
            self.assertLess((ours - bn(x).double()).abs().max().item(), 1e-5)

    def test_training_flag_restored(self):
        m = models.FmnistCNN().train()
        self.export(m, (2, 1, 28, 28))
        self.assertTrue(m.training)

    def test_inplace_mutation_seen_later(self):
        """x.relu_() changes x for every later use, as in PyTorch."""
        class Mutate(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 3, 1)

            def forward(self, x):
                y = self.conv(x)
                z = y.sigmoid()
                y.relu_()
                return torch.cat([y, z], 1), y

        text = self.export(Mutate(), (1, 3, 4, 4))
        self.assertIn("relu_0 = conv -> relu\n", text)
        self.assertIn("concat(relu_0, sigmoid_0)", text)
        self.assertIn("output cat, relu_0", text)

    def test_forward_defaults_are_constants(self):
        class Opt(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x, logits=True, temperature=None):
                y = self.fc(x)
                return y if logits else torch.softmax(y, 1)

        text = self.export(Opt(), (1, 4))
        self.assertIn("input x[4]", text)
        self.assertIn("fc: linear(2)\n", text)

    def test_second_input(self):
        class Two(nn.Module):
            def forward(self, x, y):
                return x + y

        self.assertFails(Two(), (1, 3, 4, 4), "second input 'y'")

    # -- weights ---------------------------------------------------------------

    def test_weights_are_the_state_dict(self):
        m = models.FmnistCNN()
        self.export(m, (1, 1, 28, 28))
        st = read_safetensors(self.path("net.safetensors"))
        sd = m.state_dict()
        self.assertEqual(list(st), list(sd))
        for k, v in sd.items():
            self.assertEqual(st[k].tobytes(), v.numpy().tobytes(), k)

    def test_pruned_effective_weights(self):
        m = models.pruned_unstructured()
        self.export(m, (1, 3, 16, 16))
        st = read_safetensors(self.path("net.safetensors"))
        self.assertFalse([k for k in st if k.endswith(("_orig", "_mask"))])
        w = (m.conv1.weight_orig * m.conv1.weight_mask).detach().numpy()
        self.assertEqual(st["conv1.weight"].tobytes(), w.tobytes())
        b = (m.conv1.bias_orig * m.conv1.bias_mask).detach().numpy()
        self.assertEqual(st["conv1.bias"].tobytes(), b.tobytes())
        self.assertGreater((st["conv2.weight"] == 0).mean(), 0.55)

    def test_pruned_structured_zero_channels(self):
        m = models.pruned_structured()
        self.export(m, (1, 3, 16, 16))
        st = read_safetensors(self.path("net.safetensors"))
        zero = (abs(st["conv1.weight"]).reshape(16, -1).sum(1) == 0).sum()
        self.assertEqual(zero, 8)

    def test_keep_masks(self):
        m = models.pruned_unstructured()
        text = self.export(m, (1, 3, 16, 16), keep_masks=True)
        self.assertIn("pruning masks kept", text)
        st = read_safetensors(self.path("net.safetensors"))
        for k in ("conv1.weight_orig", "conv1.weight_mask", "conv1.bias_orig",
                  "conv1.bias_mask", "fc.weight_orig", "fc.weight_mask", "fc.bias"):
            self.assertIn(k, st)
        self.assertNotIn("conv1.weight", st)
        self.assertEqual(st["fc.weight_mask"].tobytes(), m.fc.weight_mask.numpy().tobytes())

    # -- what it refuses ---------------------------------------------------------

    def test_unsupported_module(self):
        msg = self.assertFails(models.WithMish(), (1, 3, 8, 8), "features.3 (nn.Mish)",
                               "is not supported by cnnc", "supported modules: Conv2d")
        self.assertIn("models.py", msg)

    def test_unsupported_function(self):
        msg = self.assertFails(models.WithDiv(), (1, 3, 8, 8), "function operator.truediv (/)",
                               "supported functions:")
        self.assertIn("return y / torch.sigmoid(y)", msg)

    def test_divisor_override(self):
        self.assertFails(models.with_divisor(), (1, 3, 8, 8), "1 (nn.AvgPool2d)",
                         "divisor_override=3 is not supported")

    def test_return_indices(self):
        self.assertFails(models.with_indices(), (1, 3, 8, 8), "1 (nn.MaxPool2d)",
                         "return_indices=True is not supported")

    def test_shared_module(self):
        class Twice(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 3, 3, padding=1)

            def forward(self, x):
                return self.conv(self.conv(x))

        self.assertFails(Twice(), (1, 3, 8, 8), "conv (nn.Conv2d)", "called more than once")

    def test_bad_softmax_dim(self):
        self.assertFails(nn.Sequential(nn.Softmax(dim=-1)), (1, 3, 4, 5),
                         "softmax over dim 3 of a 4-d tensor")

    def test_linear_on_4d(self):
        self.assertFails(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2)), (1, 3, 6, 6),
                         "1 (nn.Linear)", "expects an [N, F] tensor")

    def test_non_flattening_view(self):
        class Permute(nn.Module):
            def forward(self, x):
                return torch.relu(x.view(x.size(0), 3, -1))

        self.assertFails(Permute(), (1, 3, 4, 4), "function torch.relu", "[1, 3, 16]")

    def test_dropout_training_true(self):
        class Drop(nn.Module):
            def forward(self, x):
                return F.dropout(x, 0.5)

        self.assertFails(Drop(), (1, 3, 4, 4), "F.dropout", "training=True")

    def test_fractional_scale(self):
        class Up(nn.Module):
            def forward(self, x):
                return F.interpolate(x, scale_factor=1.5)

        self.assertFails(Up(), (1, 3, 4, 4), "scale_factor=1.5 is not supported")

    def test_align_corners(self):
        self.assertFails(nn.Sequential(nn.UpsamplingBilinear2d(scale_factor=2)), (1, 3, 4, 4),
                         "align_corners=True")

    def test_arith_text(self):
        """mul, sub, broadcast add, mean and hardsigmoid as written; a
        concat of 130 tensors is a concat of 125 concatenated with the rest."""
        text = self.export(models.Arith(), (1, 3, 7, 5))
        self.assertIn("mean((2, 3), keepdim=true)", text)
        self.assertIn("mean((2, 3))", text.replace("mean((2, 3), keepdim=true)", ""))
        self.assertIn("fc2: conv2d(6, kernel=1) -> hardsigmoid", text)
        self.assertIn("shift: conv2d(6, kernel=1) -> hardsigmoid", text)
        self.assertIn("mul(", text)
        self.assertIn("sub(", text)
        self.assertNotIn("global_avgpool", text)
        concats = [l for l in text.split("\n") if "concat(" in l]
        self.assertEqual(len(concats), 3, text)
        for line in concats:
            self.assertLessEqual(line.split("concat(")[1].count(",") + 1, 125, line)

    def test_sub_keeps_its_order(self):
        """a - b chains only from a; a * b and a + b from either operand."""
        class Sub(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 3, 1)
                self.b = nn.Conv2d(3, 3, 1)

            def forward(self, x):
                return x - self.a(x), self.b(x) * x

        text = self.export(Sub(), (1, 3, 4, 4))
        self.assertIn("a: conv2d(3, kernel=1)", text)
        self.assertRegex(text, r"\n(\w+) = a: conv2d\(3, kernel=1\)\n\w+ = sub\(x, \1\)\n")
        self.assertIn("b: conv2d(3, kernel=1) -> mul(x)", text)

    def test_broadcast_beyond_channels(self):
        """[N, C, H, W] * [N, C]: PyTorch broadcasts over the trailing dims
        (here C == W), cnnc's mul does not."""
        class Odd(nn.Module):
            def forward(self, x):
                return x * x.mean((2, 3))

        self.assertFails(Odd(), (1, 3, 4, 3), "function operator.mul (*)",
                         "multiplies tensors of shapes [1, 3, 4, 3] and [1, 3]; cnnc's mul needs "
                         "equal shapes, or one [N, C, 1, 1] and the other [N, C, H, W]")

    def test_constant_mul_sub(self):
        class Scale(nn.Module):
            def forward(self, x):
                return x * 2

        class Minus(nn.Module):
            def forward(self, x):
                return torch.sub(x, x, alpha=2)

        self.assertFails(Scale(), (1, 3, 4, 4), "multiplying by a constant is not supported")
        self.assertFails(Minus(), (1, 3, 4, 4), "alpha=2 is not supported")

    def test_constant_add(self):
        class AddOne(nn.Module):
            def forward(self, x):
                return x + 1

        self.assertFails(AddOne(), (1, 3, 4, 4), "adding a constant")

    def test_functional_conv(self):
        class FConv(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(4, 3, 3, 3))

            def forward(self, x):
                return F.conv2d(x, self.w)

        self.assertFails(FConv(), (1, 3, 6, 6), "function F.conv2d",
                         "layers with weights must be modules")

    def test_untraceable(self):
        class Branchy(nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x.relu()
                return x.sigmoid()

        msg = self.assertFails(Branchy(), (1, 3, 4, 4), "torch.fx could not trace Branchy",
                               "test_torch2cnn.py:", "in forward: if x.sum() > 0:")
        self.assertNotIn("Traceback", msg)

    def test_untraceable_line_and_module(self):
        """fx's failure names the module and the line, from its traceback."""
        msg = self.assertFails(models.Unpacks(), (1, 3, 4, 4),
                               "torch.fx could not trace Unpacks: TraceError: Proxy object "
                               "cannot be iterated\n", "in split (models.Split)",
                               "models.py:", "in forward: a, b = x.chunk(2, dim=1)")
        self.assertNotIn("See the torch.fx docs", msg)

    def test_shufflenet_traced(self):
        """torchvision's InvertedResidual unpacks x.chunk(2) and x.size(),
        which fx cannot trace: the exporter traces an equivalent forward
        (chunk results indexed, F.channel_shuffle)."""
        import torchvision
        from torch2cnn import layer_names
        names, _ = layer_names(torchvision.models.shufflenet_v2_x0_5().eval(),
                               torch.randn(1, 3, 32, 32))
        kinds = [k for _, k, _ in names]
        self.assertEqual(kinds.count("channel_shuffle"), 16)
        self.assertEqual(kinds.count("chunk"), 2 * 13)
        self.assertIn(("stage2.1.branch2.0", "conv2d"), [(n, k) for n, k, _ in names])

    def test_torchvision_source_line(self):
        """torchvision's files are not torch's (.../torchvision/ starts with
        .../torch): the line is torchvision's, not the export() call's."""
        import torchvision
        se = torchvision.ops.SqueezeExcitation(8, 2, scale_activation=torch.nn.Mish)
        msg = self.assertFails(se.eval(), (1, 8, 4, 4), "(nn.Mish) is not supported by cnnc",
                               "at torchvision/ops/misc.py:", "return self.scale_activation(scale)")
        self.assertNotIn("test_torch2cnn.py", msg)
        import torch2cnn
        torch_dir = os.path.dirname(torch.__file__)
        self.assertTrue(torch2cnn._in_torch(os.path.join(torch_dir, "nn", "modules", "a.py")))
        self.assertFalse(torch2cnn._in_torch(torch_dir + "vision" + os.sep + "ops.py"))

    def test_every_blocker(self):
        """One run reports every blocker: one entry per kind with its count,
        module paths (the owning module of a function) and source lines."""
        with self.assertRaises(ExportError) as cm:
            self.export(models.ManyBlockers(), (1, 3, 8, 8))
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("ManyBlockers cannot be exported: 5 blockers of 3 kinds\n"),
                        msg)
        self.assertIn("1. nn.Mish is not supported by cnnc (2 places)\n", msg)
        self.assertIn("   stem.1, act\n     at tests/export/models.py:", msg)
        self.assertIn("in forward: x = self.act(self.gates(self.stem(x)))", msg)
        self.assertIn("2. function operator.truediv (/) is not supported by cnnc (2 places)\n"
                      "   in gates.0, gates.1 (models.Gate)\n     at tests/export/models.py:", msg)
        self.assertIn("return x / torch.sigmoid(self.conv(x))", msg)
        self.assertIn("3. function torch.cat: concatenation along dim 2 is not supported (only "
                      "dim=1: channels or features) (1 place)\n   in the top level\n", msg)
        self.assertIn("supported modules:", msg)
        b = cm.exception.blockers
        self.assertEqual([x.short for x in b], ["Mish", "truediv", "truediv", "Mish", "cat"])
        self.assertEqual([x.place for x in b], ["stem.1", "gates.0", "gates.1", "act", ""])
        self.assertFalse(os.path.exists(self.path("net.cnn")))

    def test_convnext_layers(self):
        """convnext_tiny: LayerNorm2d and the CNBlock's permute -> LayerNorm ->
        Linear -> GELU -> Linear -> permute, then layer_scale *, become
        layernorm, 1x1 conv2d, gelu and scale; stochastic depth is dropped."""
        import torchvision
        from torch2cnn import layer_names
        names, _ = layer_names(torchvision.models.convnext_tiny().eval(),
                               torch.randn(1, 3, 32, 32))
        got = dict((n, k) for n, k, _ in names)
        self.assertEqual(got["features.0.1"], "layernorm")
        self.assertEqual(got["features.1.0.block.2"], "layernorm")
        self.assertEqual(got["features.1.0.block.3"], "conv2d")
        self.assertEqual(got["features.1.0.layer_scale"], "scale")
        kinds = [k for _, k, _ in names]
        self.assertEqual(kinds.count("gelu"), 18)
        self.assertEqual(kinds.count("layernorm"), 18 + 5)

    def test_permute_elsewhere(self):
        """A permute that is not around a LayerNorm/Linear over the channels."""
        class P(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 1)

            def forward(self, x):
                return self.conv(x.permute(0, 2, 3, 1).permute(0, 3, 1, 2).permute(0, 1, 3, 2))

        self.assertFails(P(), (1, 3, 4, 4), "permute(0, 1, 3, 2) is not supported")

    def test_channels_last_left_unpermuted(self):
        class P(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = nn.LayerNorm(3)

            def forward(self, x):
                return torch.flatten(self.norm(x.permute(0, 2, 3, 1)), 1)

        self.assertFails(P(), (1, 3, 4, 4), "is channels-last")


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="torch2cnn-cli.")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def run_main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_kwargs_and_example(self):
        cnn = os.path.join(self.dir, "le.cnn")
        status, out, err = self.run_main(os.path.join(HERE, "models.py") + ":LeNet5",
                                         "--input", "1,28,28", "--arg", "num_classes=7",
                                         "-o", cnn, "--write-example", "--batch", "2")
        self.assertEqual(status, 0, err)
        with open(cnn) as f:
            self.assertIn("fc3: linear(7)", f.read())
        self.assertEqual(os.path.getsize(os.path.join(self.dir, "le.input.f32")), 2 * 784 * 4)
        self.assertEqual(os.path.getsize(os.path.join(self.dir, "le.expected.f32")), 2 * 7 * 4)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "le.safetensors")))

    def test_state_dict(self):
        torch.manual_seed(5)
        m = models.tiny()
        sd = os.path.join(self.dir, "w.pt")
        torch.save(m.state_dict(), sd)
        cnn = os.path.join(self.dir, "t.cnn")
        status, _, err = self.run_main(os.path.join(HERE, "models.py") + ":tiny", "--input",
                                       "3,8,8", "--state-dict", sd, "-o", cnn)
        self.assertEqual(status, 0, err)
        st = read_safetensors(os.path.join(self.dir, "t.safetensors"))
        self.assertEqual(st["fc.weight"].tobytes(), m.fc.weight.detach().numpy().tobytes())

    def test_error_status(self):
        status, _, err = self.run_main(os.path.join(HERE, "models.py") + ":WithMish",
                                       "--input", "3,8,8", "-o",
                                       os.path.join(self.dir, "g.cnn"))
        self.assertEqual(status, 1)
        self.assertTrue(err.startswith("torch2cnn: error: features.3 (nn.Mish) is not supported by cnnc\n"), err)

    def test_bad_model_spec(self):
        status, _, err = self.run_main("models.py", "--input", "3,8,8")
        self.assertEqual(status, 1)
        self.assertIn("FILE.py:NAME", err)


if __name__ == "__main__":
    unittest.main()
