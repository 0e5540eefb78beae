#!/usr/bin/env python3
"""Convert IDX images (MNIST, Fashion-MNIST; gzipped or not) to raw float32.

    tools/idx2f32.py IMAGES.idx3-ubyte[.gz] OUT.f32 [--count N] [--offset K]
                     [--mean M --std S]

writes images K .. K+N-1 as little-endian float32, x = pixel / 255, then
(x - M) / S in float32 if given, one [1, 28, 28] sample after the other: a
calibration file for `cnnc --quantize=int8 --calibrate OUT.f32`.
examples/fashion_mnist was trained with --mean 0.2860 --std 0.3530 (its
eval.c's preprocessing, bit for bit). Needs only the standard library."""
import argparse
import array
import gzip
import struct
import sys


def fail(msg):
    print("idx2f32.py: error: " + msg, file=sys.stderr)
    sys.exit(1)


def f32(x):
    """x rounded to float32 (each float32 operation, computed in double, is
    correctly rounded so)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("images")
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=None, help="images to write (default: all)")
    ap.add_argument("--offset", type=int, default=0, help="the first image (default 0)")
    ap.add_argument("--mean", type=float, default=0.0, help="subtracted (default 0)")
    ap.add_argument("--std", type=float, default=1.0, help="divided by (default 1)")
    a = ap.parse_args()
    if not (a.std > 0 and a.std < float("inf")) or a.mean != a.mean or abs(a.mean) == float("inf"):
        fail("--std must be positive and finite, --mean finite")
    opener = gzip.open if a.images.endswith(".gz") else open
    try:
        with opener(a.images, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        fail("cannot read %s: %s" % (a.images, e))
    if len(data) < 16 or struct.unpack(">I", data[:4])[0] != 0x803:
        fail("%s is not an IDX file of unsigned-byte images (magic 0x00000803)" % a.images)
    n, rows, cols = struct.unpack(">III", data[4:16])
    size = rows * cols
    if len(data) != 16 + n * size:
        fail("%s: %d bytes, expected %d for %d images of %dx%d"
             % (a.images, len(data), 16 + n * size, n, rows, cols))
    count = n - a.offset if a.count is None else a.count
    if a.offset < 0 or count < 1 or a.offset + count > n:
        fail("%s has %d images; images %d to %d asked for"
             % (a.images, n, a.offset, a.offset + count - 1))
    pix = data[16 + a.offset * size:16 + (a.offset + count) * size]
    mean, std = f32(a.mean), f32(a.std)
    table = [f32(f32(f32(p / 255.0) - mean) / std) for p in range(256)]
    out = array.array("f", (table[p] for p in pix))
    if sys.byteorder != "little":
        out.byteswap()
    try:
        with open(a.out, "wb") as f:
            out.tofile(f)
    except OSError as e:
        fail("cannot write %s: %s" % (a.out, e))
    print("%s: %d images of %dx%d" % (a.out, count, rows, cols))


if __name__ == "__main__":
    main()
