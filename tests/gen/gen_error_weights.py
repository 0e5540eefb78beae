#!/usr/bin/env python3
"""Write the small (and deliberately broken) safetensors files used by
tests/errors/*.cnn. Pure Python, no torch: `python3 tests/gen/gen_error_weights.py`."""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "errors")


def safetensors(tensors, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, blobs, at = {}, [], 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def f32(shape):
    n = 1
    for d in shape:
        n *= d
    return ("F32", shape, struct.pack("<%df" % n, *[0.5] * n))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    t = lambda name, spec: (name, spec[0], spec[1], spec[2])
    write("linear_shape.safetensors", safetensors([t("fc1.weight", f32([120, 256])), t("fc1.bias", f32([120]))]))
    write("conv_shape.safetensors", safetensors([t("conv1.weight", f32([6, 1, 3, 3])), t("conv1.bias", f32([6]))]))
    write("missing_key.safetensors", safetensors([t("features.0.weight", f32([4, 3, 3, 3])), t("features.0.bias", f32([4]))]))
    write("wrong_dtype.safetensors", safetensors([("fc.weight", "F16", [2, 4], b"\0" * 16), t("fc.bias", f32([2]))]))
    good = safetensors([t("fc.weight", f32([2, 4])), t("fc.bias", f32([2]))])
    write("truncated_weights.safetensors", good[:-5])
    write("huge_header.safetensors", struct.pack("<Q", 1 << 63) + good[8:])
    write("bad_json.safetensors", struct.pack("<Q", 8) + b'{"fc":  ')
    # torch.nn.utils.prune's form: <key>_orig with <key>_mask (missing, or of the wrong shape)
    write("prune_mask_missing.safetensors", safetensors([t("conv1.weight_orig", f32([4, 3, 3, 3])), t("conv1.bias", f32([4]))]))
    write("prune_mask_shape.safetensors", safetensors([t("conv1.weight_orig", f32([4, 3, 3, 3])), t("conv1.weight_mask", f32([4, 3, 3])), t("conv1.bias", f32([4]))]))
    write("../cli/unused_tensor.safetensors", safetensors([t("fc.weight", f32([2, 4])), t("fc.bias", f32([2])), t("extra.weight", f32([3]))]))


if __name__ == "__main__":
    main()
