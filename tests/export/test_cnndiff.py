#!/usr/bin/python3
"""Tests of tools/cnndiff.py: a model exported by torch2cnn, compiled by
build/cnnc with --dump-tensors, agrees with PyTorch layer by layer; with one
weight changed in the safetensors file cnnc compiles, cnndiff names exactly
that layer (or, at -O2, the fused group holding it) as the first divergence.
Run by tests/export/run.sh (`make check-export`), or alone:
/usr/bin/python3 tests/export/test_cnndiff.py
"""

import io
import os
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import cnndiff  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from torch2cnn import main as export_main  # noqa: E402

MODELS = os.path.join(HERE, "models.py")


class CnndiffTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cnndiff-test.")
        for model, shape in (("FmnistCNN", "1,28,28"), ("Functional", "3,14,13")):
            with redirect_stdout(io.StringIO()):
                rc = export_main(["%s:%s" % (MODELS, model), "--input", shape, "--seed", "1",
                                  "-o", cls.path(model + ".cnn")])
            assert rc == 0, "export of %s failed" % model

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def perturb(self, model, key, index, delta):
        """A copy of the model's weights with one value changed; its path."""
        t = {k: np.array(v) for k, v in read_safetensors(self.path(model + ".safetensors")).items()}
        t[key][index] += delta
        out = self.path("%s-%s.safetensors" % (model, key))
        write_safetensors(out, list(t.items()))
        return out

    def diff(self, model, shape, *cnnc_args, batch=1):
        """cnndiff on the exported model (PyTorch with the exported weights):
        exit status and output."""
        argv = ["%s:%s" % (MODELS, model), "--input", shape, "--cnn", self.path(model + ".cnn"),
                "--state-dict", self.path(model + ".safetensors"), "--batch", str(batch)]
        argv += ["--cnnc-arg=%s" % a for a in cnnc_args]
        out = io.StringIO()
        with redirect_stdout(out):
            rc = cnndiff.main(argv)
        return rc, out.getvalue()

    def test_agrees_at_O0_every_layer(self):
        rc, out = self.diff("FmnistCNN", "1,28,28", "-O0", batch=2)
        self.assertEqual(rc, 0, out)
        self.assertIn("no divergence: 13 of 13 dumped tensors compared, all within 0.0001", out)
        for name in ("features.0", "features.1", "relu_1", "maxpool_1", "flatten_1", "dropout_1",
                     "fc1", "relu_3", "fc2"):
            self.assertRegex(out, r"\n%s +[a-z0-9]+ +\[2, " % name.replace(".", r"\."))

    def test_functional_ops_are_named_as_cnnc_names_them(self):
        """F.* calls, methods and operators: every dumped layer has its PyTorch tensor."""
        rc, out = self.diff("Functional", "3,14,13", "-O0", batch=2)
        self.assertEqual(rc, 0, out)
        self.assertIn("no divergence: 31 of 31 dumped tensors compared", out)
        self.assertNotIn("no PyTorch tensor", out)
        for name in ("relu_1", "silu_1", "hardswish_1", "add_1", "mean_1", "global_avgpool_1",
                     "flatten_2", "softmax_1", "sigmoid_1"):
            self.assertRegex(out, r"\n%s +" % name)

    def test_perturbed_conv_weight_is_the_first_divergence(self):
        bad = self.perturb("FmnistCNN", "features.4.weight", (5, 7, 1, 1), 0.5)
        rc, out = self.diff("FmnistCNN", "1,28,28", "-O0", "--weights=" + bad)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"\nmaxpool_1 +maxpool +\[1, 32, 14, 14\] +[0-9.e-]+ +[0-9.e-]+\n")
        self.assertRegex(out, r"\nfeatures\.4 +conv2d +\[1, 64, 14, 14\] +[0-9.]+ +[0-9.]+ "
                              r" <- first divergence\n")
        line = [s for s in out.split("\n") if s.startswith("first divergence:")]
        self.assertEqual(len(line), 1, out)
        self.assertTrue(line[0].startswith("first divergence: features.4, conv2d: "), line[0])
        self.assertIn(" at [0, 5, ", line[0])  # output channel 5 is the changed one

    def test_perturbed_weight_at_O2_names_the_fused_group(self):
        bad = self.perturb("FmnistCNN", "features.4.weight", (5, 7, 1, 1), 0.5)
        rc, out = self.diff("FmnistCNN", "1,28,28", "--weights=" + bad)
        self.assertEqual(rc, 1, out)
        self.assertIn("first divergence: maxpool_2 (computes features.4 +features.5 +relu_2 "
                      "+maxpool_2), conv2d+relu+maxpool: ", out)

    def test_perturbed_linear_bias(self):
        bad = self.perturb("FmnistCNN", "fc2.bias", (3,), 1.0)
        rc, out = self.diff("FmnistCNN", "1,28,28", "-O0", "--weights=" + bad)
        self.assertEqual(rc, 1, out)
        self.assertIn("first divergence: fc2, linear: 1 of 10 values differ", out)
        self.assertIn(" at [0, 3]: ", out)

    def test_module_the_exporter_rejects_is_matched_by_submodule_paths(self):
        """nn.Mish compiled as relu (a hand-written .cnn): the exporter cannot
        name the layers, forward hooks still find conv and fc."""
        with open(self.path("gelu.py"), "w") as f:
            f.write("import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                    "    def __init__(self):\n        super().__init__()\n"
                    "        self.conv = nn.Conv2d(1, 4, 3)\n        self.act = nn.Mish()\n"
                    "        self.fc = nn.Linear(4 * 6 * 6, 3)\n\n"
                    "    def forward(self, x):\n"
                    "        return self.fc(self.act(self.conv(x)).flatten(1))\n")
        with open(self.path("gelu.cnn"), "w") as f:
            f.write('input x[1, 8, 8]\nweights "gelu.safetensors"\n'
                    'conv: conv2d(4, kernel=3) -> relu\nflatten\nfc: linear(3)\n')
        torch.manual_seed(0)
        net = cnndiff.load_module(self.path("gelu.py") + ":Net")
        write_safetensors(self.path("gelu.safetensors"),
                          [(k, v.numpy()) for k, v in net.state_dict().items()])
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = cnndiff.main([self.path("gelu.py") + ":Net", "--input", "1,8,8", "--cnn",
                               self.path("gelu.cnn"), "--state-dict",
                               self.path("gelu.safetensors"), "--cnnc-arg=-O0"])
        self.assertEqual(rc, 1, out.getvalue())
        self.assertIn("only submodule paths are matched:\n  act (nn.Mish) is not supported",
                      err.getvalue())
        self.assertRegex(out.getvalue(), r"\nconv +conv2d +\[1, 4, 6, 6\] +[0-9.e-]+ +[0-9.e-]+\n")
        self.assertRegex(out.getvalue(), r"\nrelu_1 +relu +\[1, 4, 6, 6\] +no PyTorch tensor")
        self.assertIn("first divergence: fc, linear: ", out.getvalue())


if __name__ == "__main__":
    torch.manual_seed(0)
    unittest.main(verbosity=2)
