#!/usr/bin/python3
"""Train LeNet-5 on Fashion-MNIST and export it for cnnc.

    /usr/bin/python3 train.py               # the shipped weights (5x5 kernels)
    /usr/bin/python3 train.py --kernel 3    # a variant, for cnnc lenet5.cnn -D k=3

Needs Debian's python3-torch and python3-numpy, and the Fashion-MNIST data from
the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist).
Writes, next to this script:

    lenet5.safetensors         the trained parameters (state_dict keys conv1.weight, ...)
    samples/images.f32         the first 16 test images, preprocessed, float32 [16,1,28,28]
    samples/labels.txt         their true labels, one integer per line
    samples/expected_logits.f32  PyTorch's logits for those images, float32 [16,10]

With --kernel K (K other than 5) the weights go to lenet5_kK.safetensors and
the logits to samples/expected_logits_kK.f32 instead, leaving the shipped files
alone (the images and labels do not depend on K).

Preprocessing (the C side must feed the network exactly this):

    x = pixel / 255            pixel is the 0..255 byte from the IDX file
    x = (x - MEAN) / STD       MEAN = 0.2860, STD = 0.3530 (the training set's
                               pixel mean and standard deviation, rounded)

The run is deterministic: fixed seeds, a fixed shuffle order, 2 threads.
"""

import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

MEAN = 0.2860
STD = 0.3530

SEED = 0
EPOCHS = 8
BATCH = 64
LR = 1e-3
NUM_SAMPLES = 16


# ---- data -------------------------------------------------------------------

def read_idx(name):
    """Read an IDX file (gzipped or not) into a numpy uint8 array."""
    path = os.path.join(DATA_DIR, name)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def preprocess(images_u8):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], as documented above."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x.astype(np.float32)).unsqueeze(1)


# ---- model ------------------------------------------------------------------

class LeNet5(nn.Module):
    """The network of lenet5.cnn. The attribute names are the state_dict keys
    (conv1.weight, conv1.bias, ...), which are the layer labels in lenet5.cnn."""

    def __init__(self, k=5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=k, padding=k // 2)  # -> [6, 28, 28]
        self.conv2 = nn.Conv2d(6, 16, kernel_size=k)                 # -> [16, 10, 10]
        # The side of conv2's pooled output (5 for k=5), as cnnc infers it.
        side = ((28 + 2 * (k // 2) - k + 1) // 2 - k + 1) // 2
        self.fc1 = nn.Linear(16 * side * side, 120)                  # 400 -> 120
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # [6, 14, 14]     (shapes for k=5)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # [16, 5, 5]
        x = torch.flatten(x, 1)                      # [400], C, H, W order
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# ---- training ---------------------------------------------------------------

def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", type=int, default=5, metavar="K",
                    help="convolution kernel size, the k of lenet5.cnn (default 5)")
    args = ap.parse_args()
    k = args.kernel
    suffix = "" if k == 5 else "_k%d" % k

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train = preprocess(read_idx("train-images-idx3-ubyte"))
    y_train = torch.from_numpy(read_idx("train-labels-idx1-ubyte").astype(np.int64))
    test_u8 = read_idx("t10k-images-idx3-ubyte")
    x_test = preprocess(test_u8)
    y_test = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte").astype(np.int64))
    print("train %s, test %s; train pixel mean %.4f std %.4f (using %.4f, %.4f)" % (
        tuple(x_train.shape), tuple(x_test.shape),
        float((x_train * STD + MEAN).mean()), float((x_train * STD + MEAN).std()), MEAN, STD))

    model = LeNet5(k)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
    gen = torch.Generator().manual_seed(SEED)

    start = time.time()
    for epoch in range(1, EPOCHS + 1):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), BATCH):
            idx = perm[i:i + BATCH]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        acc = evaluate(model, x_test, y_test)
        print("epoch %d: train loss %.4f, test accuracy %.2f%% (%.0f s)" % (
            epoch, total / len(x_train), 100 * acc, time.time() - start), flush=True)
    print("training time %.0f s" % (time.time() - start))
    print("final test accuracy: %.2f%% on %d images" % (100 * acc, len(x_test)))

    # The trained parameters, under their state_dict names.
    model.eval()
    state = model.state_dict()
    path = os.path.join(HERE, "lenet5%s.safetensors" % suffix)
    write_safetensors(path, [(name, t.numpy()) for name, t in state.items()])
    back = read_safetensors(path)
    assert list(back) == list(state)
    for name, t in state.items():
        assert np.array_equal(back[name], t.numpy()), name
    print("wrote %s (%d bytes): %s" % (
        os.path.relpath(path), os.path.getsize(path),
        ", ".join("%s%s" % (n, list(t.shape)) for n, t in state.items())))

    # The first 16 test images, their labels, and PyTorch's logits for them.
    sdir = os.path.join(HERE, "samples")
    os.makedirs(sdir, exist_ok=True)
    images = x_test[:NUM_SAMPLES].contiguous()
    with torch.no_grad():
        logits = model(images)
    images.numpy().astype("<f4").tofile(os.path.join(sdir, "images.f32"))
    logits.numpy().astype("<f4").tofile(os.path.join(sdir, "expected_logits%s.f32" % suffix))
    with open(os.path.join(sdir, "labels.txt"), "w") as f:
        for label in y_test[:NUM_SAMPLES].tolist():
            f.write("%d\n" % label)
    pred = logits.argmax(1)
    print("wrote samples/: %d images, PyTorch gets %d/%d right" % (
        NUM_SAMPLES, int((pred == y_test[:NUM_SAMPLES]).sum()), NUM_SAMPLES))


if __name__ == "__main__":
    main()
