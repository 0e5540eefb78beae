#!/usr/bin/python3
"""Train a small CNN on Fashion-MNIST and export it for cnnc.

    /usr/bin/python3 train.py              # the shipped files (12 epochs)
    /usr/bin/python3 train.py --epochs 1   # a quick try (overwrites them too)
    /usr/bin/python3 train.py --export-only   # no training: export the committed
                                              # fmnist.safetensors again

Needs Debian's python3-torch and python3-numpy, and the Fashion-MNIST data from
the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist).
Writes, next to this script:

    fmnist.cnn                 the network in cnnc's language and
    fmnist.safetensors         its trained weights under PyTorch's state_dict
                               names, both written by the exporter,
                               tools/torch2cnn.py: export(model, example, path)
    pytorch_predictions.bin    PyTorch's answer for each of the 10,000 test
                               images, for eval.c's agreement check (format below)

Preprocessing (eval.c feeds the compiled network exactly this, in float32):

    x = pixel / 255            pixel is the 0..255 byte from the IDX file
    x = (x - MEAN) / STD       MEAN = 0.2860, STD = 0.3530 (the training set's
                               pixel mean and standard deviation, rounded)

Training also flips each image left to right with probability 1/2, drawn
again every epoch (a mirrored shirt is still a shirt); that is augmentation,
not preprocessing, and the test images are never flipped.

pytorch_predictions.bin, all little-endian:

    8 bytes   "FMNPRED1"
    uint32    N, the number of test images (10000)
    uint32    K, the number of classes (10)
    N uint8   PyTorch's predicted class of each test image (argmax of the logits,
              the first one on a tie)
    N float32 its margin: the largest logit minus the second largest

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
from safetensors_io import read_safetensors  # noqa: E402
from torch2cnn import export, load_module  # noqa: E402

MEAN = 0.2860
STD = 0.3530

C1 = 16        # conv1 channels
C2 = 32        # conv2 channels
HIDDEN = 128   # fc1 features
DROPOUT = 0.25

SEED = 0
EPOCHS = 12
BATCH = 128
LR = 2e-3


# ---- data -------------------------------------------------------------------

def read_idx(name):
    """Read a gzipped IDX file of unsigned bytes into a numpy uint8 array."""
    path = os.path.join(DATA_DIR, name + ".gz")
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        sys.exit("%s: %d bytes of data for dimensions %s" % (path, arr.size, dims))
    return arr.reshape(dims)


def preprocess(images_u8):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], as documented above."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x.astype(np.float32)).unsqueeze(1)


# ---- model ------------------------------------------------------------------

class FashionCNN(nn.Module):
    """The network of fmnist.cnn. The attribute names are the state_dict keys
    (conv1.weight, bn1.running_mean, ...), which the exporter makes the layer
    labels there; forward's argument names the input (fmnist_run's `image`)."""

    def __init__(self):
        super().__init__()
        # The convolutions have no bias: the BatchNorm after each adds its own.
        self.conv1 = nn.Conv2d(1, C1, kernel_size=3, padding=1, bias=False)   # [C1, 28, 28]
        self.bn1 = nn.BatchNorm2d(C1)
        self.conv2 = nn.Conv2d(C1, C2, kernel_size=3, padding=1, bias=False)  # [C2, 14, 14]
        self.bn2 = nn.BatchNorm2d(C2)
        self.dropout = nn.Dropout(DROPOUT)
        self.fc1 = nn.Linear(C2 * 7 * 7, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, 10)

    def forward(self, image):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(image))), 2)  # [C1, 14, 14]
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)  # [C2, 7, 7]
        x = torch.flatten(x, 1)                               # [C2*49], C, H, W order
        x = self.dropout(x)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


# ---- export -----------------------------------------------------------------

def export_model(model):
    """fmnist.cnn and fmnist.safetensors, by the exporter; the weights file is
    read back and checked against the model's state_dict."""
    path = os.path.join(HERE, "fmnist.cnn")
    export(model, torch.zeros(1, 1, 28, 28), path)
    weights = os.path.join(HERE, "fmnist.safetensors")
    back = read_safetensors(weights)
    for name, t in model.state_dict().items():
        if name in back:
            assert np.array_equal(back[name], t.numpy()), name
    print("wrote fmnist.cnn and fmnist.safetensors (%d bytes): %s" % (
        os.path.getsize(weights), ", ".join(back)))


# ---- training ---------------------------------------------------------------

def test_logits(model, x):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])


def train(model, x_train, y_train, x_test, y_test, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(SEED)
    start = time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        flips = torch.rand(len(x_train), generator=gen) < 0.5
        total = 0.0
        for i in range(0, len(perm), BATCH):
            idx = perm[i:i + BATCH]
            xb = x_train[idx]
            flip = flips[i:i + BATCH]
            xb[flip] = xb[flip].flip(3)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        acc = (test_logits(model, x_test).argmax(1) == y_test).float().mean().item()
        print("epoch %2d: train loss %.4f, test accuracy %.2f%% (%.0f s)" % (
            epoch, total / len(x_train), 100 * acc, time.time() - start), flush=True)
    print("training time %.0f s" % (time.time() - start))


def write_predictions(path, logits):
    """pytorch_predictions.bin, as described at the top."""
    top2 = logits.topk(2, dim=1).values
    pred = logits.argmax(1).numpy().astype(np.uint8)
    margin = (top2[:, 0] - top2[:, 1]).numpy().astype("<f4")
    with open(path, "wb") as f:
        f.write(b"FMNPRED1")
        f.write(struct.pack("<II", logits.shape[0], logits.shape[1]))
        f.write(pred.tobytes())
        f.write(margin.tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=EPOCHS,
                    help="training epochs (default %d)" % EPOCHS)
    ap.add_argument("--export-only", action="store_true",
                    help="do not train: load the committed fmnist.safetensors and export "
                    "it again (fmnist.cnn); needs no data")
    args = ap.parse_args()
    if args.export_only:
        model = load_module(os.path.abspath(__file__) + ":FashionCNN",
                            state_dict=os.path.join(HERE, "fmnist.safetensors"))
        export_model(model)
        return

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train = preprocess(read_idx("train-images-idx3-ubyte"))
    y_train = torch.from_numpy(read_idx("train-labels-idx1-ubyte").astype(np.int64))
    x_test = preprocess(read_idx("t10k-images-idx3-ubyte"))
    y_test = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte").astype(np.int64))
    print("train %s, test %s" % (tuple(x_train.shape), tuple(x_test.shape)))

    model = FashionCNN()
    print("%d parameters" % sum(p.numel() for p in model.parameters()))
    train(model, x_train, y_train, x_test, y_test, args.epochs)

    logits = test_logits(model, x_test)
    acc = (logits.argmax(1) == y_test).float().mean().item()
    print("final test accuracy: %.2f%% on %d images" % (100 * acc, len(x_test)))

    export_model(model)
    path = os.path.join(HERE, "pytorch_predictions.bin")
    write_predictions(path, logits)
    print("wrote pytorch_predictions.bin (%d bytes)" % os.path.getsize(path))


if __name__ == "__main__":
    main()
