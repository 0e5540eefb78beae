#!/usr/bin/python3
"""Prune the example's network with torch.nn.utils.prune and hand the result
to cnnc as PyTorch saves it.

    /usr/bin/python3 torch_prune.py OUTDIR      (make torch does it)

Builds fmnist.cnn's network as a PyTorch module (random weights, fixed seed),
prunes it as `-D sparsity=0.7 -D channels=0.5` would (l1_unstructured(0.7) on
every conv2d and linear, then ln_structured(0.5, n=1, dim=0) on conv1, conv2
and fc1 on top), and writes to OUTDIR:

    fmnist_pruned.safetensors  the pruned model's state_dict: conv1.weight_orig,
                               conv1.weight_mask, ... (what torch.save would hold)
    input.f32                  4 random 28x28 images, raw float32
    expected.f32               the pruned model's logits for them, from PyTorch

`make torch` then compiles fmnist.cnn with --weights OUTDIR/fmnist_pruned.safetensors
and --batch 4, runs it, and compares with expected.f32. Needs Debian's
python3-torch (1.13) and python3-numpy.
"""

import collections
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from safetensors_io import write_safetensors  # noqa: E402


def fmnist():
    """fmnist.cnn as a module, with the same state_dict key names."""
    return nn.Sequential(collections.OrderedDict([
        ("conv1", nn.Conv2d(1, 32, 3, padding=1)), ("bn1", nn.BatchNorm2d(32)),
        ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(32, 64, 3, padding=1)), ("bn2", nn.BatchNorm2d(64)),
        ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(64 * 7 * 7, 128)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(128, 10)),
    ]))


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = fmnist().eval()
    with torch.no_grad():  # batchnorm statistics as a trained model would have them
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.5)
            bn.running_mean.normal_(0.0, 0.5)
            bn.running_var.uniform_(0.25, 1.75)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            prune.l1_unstructured(m, "weight", amount=0.7)
    for m in (model.conv1, model.conv2, model.fc1):
        prune.ln_structured(m, "weight", amount=0.5, n=1, dim=0)

    os.makedirs(out, exist_ok=True)
    sd = [(k, v.detach().numpy()) for k, v in model.state_dict().items()]
    write_safetensors(os.path.join(out, "fmnist_pruned.safetensors"), sd)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(out, "input.f32"))
    y.numpy().astype("<f4").tofile(os.path.join(out, "expected.f32"))
    pruned = [k for k, _ in sd if k.endswith("_mask")]
    zeros = sum(int((getattr(m, "weight") == 0).sum()) for m in model.modules()
                if isinstance(m, (nn.Conv2d, nn.Linear)))
    print("wrote %s: %d tensors, masks %s; %d zero weights" % (
        os.path.join(out, "fmnist_pruned.safetensors"), len(sd), ", ".join(pruned), zeros))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build")
