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


def raw_header(text, data=b""):
    """A file whose header is exactly `text` (bytes), then data."""
    return struct.pack("<Q", len(text)) + text + data


def entry(name, dtype, shape, begin, end):
    return '"%s":{"dtype":"%s","shape":%s,"data_offsets":[%s,%s]}' % (name, dtype, shape, begin, end)


def malformed_weights(good):
    """Broken variants of a valid fc.weight [2, 4] + fc.bias [2] file (tests/errors/weights_*)."""
    hlen = struct.unpack("<Q", good[:8])[0]
    w = lambda name, data: write("weights_%s.safetensors" % name, data)
    w("empty", b"")
    w("truncated_in_length", good[:5])
    w("truncated_in_header", good[:8 + hlen // 2])
    w("truncated_after_header", good[:8 + hlen])
    w("truncated_in_data", good[:8 + hlen + 13])
    w("header_past_end", struct.pack("<Q", hlen + 1000) + good[8:])
    w("header_zero", struct.pack("<Q", 0) + good[8:])
    fc = entry("fc.weight", "F32", "[2,4]", 0, 32) + "," + entry("fc.bias", "F32", "[2]", 32, 40)
    data = b"\0" * 40
    w("json_trailing_garbage", raw_header(("{%s} x" % fc).encode(), data))
    w("json_not_object", raw_header(b"[1, 2, 3]", data))
    w("json_unterminated_string", raw_header(b'{"fc.weight', data))
    w("json_bad_utf8", raw_header(b'{"fc.w\xffeight":{}}', data))
    w("json_float_offset", raw_header(("{%s}" % entry("fc.weight", "F32", "[2,4]", 0, "32.0")).encode(), data))
    w("json_missing_shape", raw_header(b'{"fc.weight":{"dtype":"F32","data_offsets":[0,32]}}', data))
    w("json_negative_dim", raw_header(("{%s}" % entry("fc.weight", "F32", "[-2,4]", 0, 32)).encode(), data))
    w("offsets_past_end", raw_header(("{%s,%s}" % (entry("fc.weight", "F32", "[2,4]", 0, 32), entry("fc.bias", "F32", "[4]", 32, 48))).encode(), data))
    w("offsets_reversed", raw_header(("{%s,%s}" % (entry("fc.weight", "F32", "[2,4]", 32, 0), entry("fc.bias", "F32", "[2]", 32, 40))).encode(), data))
    w("offsets_overlap", raw_header(("{%s,%s}" % (entry("fc.weight", "F32", "[2,4]", 0, 32), entry("fc.bias", "F32", "[2]", 24, 32))).encode(), data))
    w("offsets_hole", raw_header(("{%s,%s}" % (entry("fc.weight", "F32", "[2,4]", 0, 32), entry("fc.bias", "F32", "[2]", 40, 48))).encode(), b"\0" * 48))
    w("offsets_huge", raw_header(("{%s}" % entry("fc.weight", "F32", "[2,4]", 18446744073709551600, 18446744073709551615)).encode(), data))
    w("dtype_unknown", raw_header(("{%s}" % entry("fc.weight", "F33", "[2,4]", 0, 32)).encode(), data))
    w("dtype_f64", raw_header(("{%s,%s}" % (entry("fc.weight", "F64", "[2,4]", 0, 64), entry("fc.bias", "F32", "[2]", 64, 72))).encode(), b"\0" * 72))
    w("shape_size_mismatch", raw_header(("{%s,%s}" % (entry("fc.weight", "F32", "[2,4]", 0, 16), entry("fc.bias", "F32", "[2]", 16, 24))).encode(), b"\0" * 24))
    w("shape_overflow", raw_header(("{%s}" % entry("fc.weight", "F32", "[4294967296,4294967296]", 0, 32)).encode(), data))
    w("duplicate_name", raw_header(("{%s,%s}" % (entry("fc.weight", "F32", "[2,4]", 0, 32), entry("fc.weight", "F32", "[2]", 32, 40))).encode(), data))
    w("metadata_not_string", raw_header(('{"__metadata__":{"format":1},%s}' % fc).encode(), data))


def quant_weights():
    """A quantized linear fc [4] -> [2] (docs/quantization.md's keys), and
    broken variants of it (tests/errors/q_*)."""
    def keys(**bad):
        k = {
            "fc.weight": ("I8", [2, 4], struct.pack("<8b", *range(-4, 4))),
            "fc.weight_scale": ("F32", [2], struct.pack("<2f", 0.01, 0.02)),
            "fc.weight_zero_point": ("I64", [2], struct.pack("<2q", 0, 0)),
            "fc.bias": ("F32", [2], struct.pack("<2f", 0.5, -0.5)),
            "fc.scale": ("F32", [], struct.pack("<f", 0.05)),
            "fc.zero_point": ("I64", [], struct.pack("<q", 128)),
        }
        k.update(bad)
        return safetensors([(n,) + v for n, v in k.items() if v is not None])
    write("q_scale_zero.safetensors", keys(**{"fc.scale": ("F32", [], struct.pack("<f", 0.0))}))
    write("q_weight_scale_nan.safetensors",
          keys(**{"fc.weight_scale": ("F32", [2], struct.pack("<2f", 0.01, float("nan")))}))
    write("q_zero_range.safetensors", keys(**{"fc.zero_point": ("I64", [], struct.pack("<q", 300))}))
    write("q_missing_scale.safetensors", keys(**{"fc.scale": None}))
    write("q_weight_dtype.safetensors", keys(**{"fc.weight": ("F32", [2, 4], struct.pack("<8f", *[0.5] * 8))}))
    write("q_weight_zero_point.safetensors",
          keys(**{"fc.weight_zero_point": ("I64", [2], struct.pack("<2q", 0, 3))}))
    write("q_scale_shape.safetensors", keys(**{"fc.weight_scale": ("F32", [3], struct.pack("<3f", 1, 1, 1))}))


def main():
    t = lambda name, spec: (name, spec[0], spec[1], spec[2])
    write("linear_shape.safetensors", safetensors([t("fc1.weight", f32([120, 256])), t("fc1.bias", f32([120]))]))
    write("linear_needs_flatten.safetensors", safetensors([t("fc.weight", f32([10, 192])), t("fc.bias", f32([10]))]))
    write("conv_shape.safetensors", safetensors([t("conv1.weight", f32([6, 1, 3, 3])), t("conv1.bias", f32([6]))]))
    write("missing_key.safetensors", safetensors([t("features.0.weight", f32([4, 3, 3, 3])), t("features.0.bias", f32([4]))]))
    write("wrong_dtype.safetensors", safetensors([("fc.weight", "F16", [2, 4], b"\0" * 16), t("fc.bias", f32([2]))]))
    good = safetensors([t("fc.weight", f32([2, 4])), t("fc.bias", f32([2]))])
    write("truncated_weights.safetensors", good[:-5])
    write("huge_header.safetensors", struct.pack("<Q", 1 << 63) + good[8:])
    write("bad_json.safetensors", struct.pack("<Q", 8) + b'{"fc":  ')
    malformed_weights(good)
    # torch.nn.utils.prune's form: <key>_orig with <key>_mask (missing, or of the wrong shape)
    write("prune_mask_missing.safetensors", safetensors([t("conv1.weight_orig", f32([4, 3, 3, 3])), t("conv1.bias", f32([4]))]))
    write("prune_mask_shape.safetensors", safetensors([t("conv1.weight_orig", f32([4, 3, 3, 3])), t("conv1.weight_mask", f32([4, 3, 3])), t("conv1.bias", f32([4]))]))
    quant_weights()
    write("../cli/unused_tensor.safetensors", safetensors([t("fc.weight", f32([2, 4])), t("fc.bias", f32([2])), t("extra.weight", f32([3]))]))


if __name__ == "__main__":
    main()
