"""Small helpers shared by the PyTorch test generators (tests/gen/gen_golden.py)
and the exporter's round-trip models (tests/export/models.py)."""

import collections
import os
import sys

import torch
import torch.nn as nn

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(ROOT, "tools") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tools"))

from safetensors_io import read_safetensors, write_safetensors  # noqa: E402,F401


def seq(*layers):
    """nn.Sequential with explicit names: ("label", module) pairs."""
    return nn.Sequential(collections.OrderedDict(layers))


def randomize_bn(module):
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                if m.affine:
                    m.weight.copy_(torch.rand(c) + 0.5)
                    m.bias.copy_(torch.randn(c) * 0.5)
                m.running_mean.copy_(torch.randn(c) * 0.5)
                m.running_var.copy_(torch.rand(c) * 1.5 + 0.25)
                m.num_batches_tracked.fill_(7)
