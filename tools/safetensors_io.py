"""Read and write safetensors files with numpy only (no `safetensors` package).

The format: an 8-byte little-endian header length, a JSON header mapping each
tensor name to its dtype, shape and byte range in the data that follows, then
the raw little-endian data. Used by tools/torch2cnn.py and the test generators
in tests/gen/.
"""

import collections
import json
import struct

import numpy as np

_ST_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float64"): "F64",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


def write_safetensors(path, tensors):
    """Write `tensors`, ordered (name, numpy array) pairs, to `path`.

    Data is laid out in that order, contiguous, little-endian; the JSON header
    is padded with spaces to a multiple of 8 bytes."""
    header = collections.OrderedDict()
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.array(arr, order="C", copy=True)  # (ascontiguousarray would make 0-d 1-d)
        if arr.dtype not in _ST_DTYPES:
            raise ValueError("safetensors: tensor %r has unsupported dtype %s" % (name, arr.dtype))
        dtype = _ST_DTYPES[arr.dtype]
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Read a safetensors file into an ordered dict of name -> numpy array
    (read-only views of the file's data), checking that the tensors tile the
    data exactly."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    header.pop("__metadata__", None)
    data = buf[8 + n :]
    inv = {v: k for k, v in _ST_DTYPES.items()}
    out = collections.OrderedDict()
    end = 0
    for name, info in header.items():
        b, e = info["data_offsets"]
        assert b == end, "hole or overlap in %s" % path
        end = e
        dt = inv[info["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(tuple(info["shape"]))
    assert end == len(data), "trailing data in %s" % path
    return out
