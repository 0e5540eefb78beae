"""ONNX Runtime's C API through ctypes, for bench/bench.py: no Python package
of ONNX Runtime is needed (Debian has none, and the benchmark uses no PyPI),
only the CPU library libonnxruntime.so that the npm package onnxruntime-node
ships (`tools/install-deps.sh bench` installs it under build/ort/).

The C API is a table of function pointers (struct OrtApi in ONNX Runtime's
include/onnxruntime/core/session/onnxruntime_c_api.h) that
OrtGetApiBase()->GetApi(version) returns. The table only grows at its end
from one release to the next, so the indices below, those of ORT_API_VERSION
1 to 13, hold for every later library; GetApi is asked for version 13 (ONNX
Runtime 1.13, 2022), which any later library serves.

    lib = ortcapi.find_library(build_dir)        # None if not installed
    rt = ortcapi.Runtime(lib)
    s = rt.session("net.onnx", threads=1)        # optimizations all, sequential
    s.bind({"input": x}, {"out0": y})            # numpy float32 arrays, kept
    s.run()                                      # writes into y
    s.close()
"""

import ctypes
import glob
import os

API_VERSION = 13

# Indices into struct OrtApi (pointers, in declaration order).
GET_ERROR_MESSAGE = 2
CREATE_ENV = 3
CREATE_SESSION = 7
RUN = 9
CREATE_SESSION_OPTIONS = 10
SET_SESSION_EXECUTION_MODE = 13
SET_SESSION_GRAPH_OPTIMIZATION_LEVEL = 23
SET_INTRA_OP_NUM_THREADS = 24
SET_INTER_OP_NUM_THREADS = 25
CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE = 49
CREATE_CPU_MEMORY_INFO = 69
RELEASE_ENV = 92
RELEASE_STATUS = 93
RELEASE_MEMORY_INFO = 94
RELEASE_SESSION = 95
RELEASE_VALUE = 96
RELEASE_SESSION_OPTIONS = 100
API_SIZE = 101  # entries read from the table (up to ReleaseSessionOptions)

ORT_LOGGING_LEVEL_ERROR = 3
ORT_SEQUENTIAL = 0
ORT_ENABLE_ALL = 99
ORT_ARENA_ALLOCATOR = 1
ORT_MEM_TYPE_DEFAULT = 0
ONNX_FLOAT = 1

P = ctypes.c_void_p
_status = P  # OrtStatus*, NULL on success


def find_library(build_dir):
    """libonnxruntime.so under BUILD/ort (npm's onnxruntime-node), or the file
    $CNNC_ORT_LIB names; None if there is none."""
    env = os.environ.get("CNNC_ORT_LIB")
    if env:
        return env if os.path.exists(env) else None
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(os.uname().machine, "?")
    found = sorted(glob.glob(os.path.join(build_dir, "ort", "node_modules", "onnxruntime-node",
                                          "bin", "napi-v*", "linux", arch, "libonnxruntime.so*")))
    return found[-1] if found else None


class OrtError(Exception):
    pass


class _ApiBase(ctypes.Structure):
    _fields_ = [("GetApi", ctypes.CFUNCTYPE(P, ctypes.c_uint32)),
                ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]


def _fn(table, index, *argtypes, restype=_status):
    return ctypes.CFUNCTYPE(restype, *argtypes)(table[index])


class Runtime:
    """One OrtEnv (logging: errors only) and the API table of a loaded library."""

    def __init__(self, path):
        self.path = path
        self.lib = ctypes.CDLL(path)
        self.lib.OrtGetApiBase.restype = ctypes.POINTER(_ApiBase)
        base = self.lib.OrtGetApiBase().contents
        self.version = base.GetVersionString().decode()
        api = base.GetApi(API_VERSION)
        if not api:
            raise OrtError("%s (ONNX Runtime %s) does not serve API version %d" % (
                path, self.version, API_VERSION))
        t = ctypes.cast(api, ctypes.POINTER(P * API_SIZE)).contents
        self._error_message = _fn(t, GET_ERROR_MESSAGE, P, restype=ctypes.c_char_p)
        self._release_status = _fn(t, RELEASE_STATUS, P, restype=None)
        self._create_env = _fn(t, CREATE_ENV, ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(P))
        self._create_session = _fn(t, CREATE_SESSION, P, ctypes.c_char_p, P, ctypes.POINTER(P))
        self.run_fn = _fn(t, RUN, P, P, P, P, ctypes.c_size_t, P, ctypes.c_size_t, P)
        self._create_options = _fn(t, CREATE_SESSION_OPTIONS, ctypes.POINTER(P))
        self._set_mode = _fn(t, SET_SESSION_EXECUTION_MODE, P, ctypes.c_int)
        self._set_level = _fn(t, SET_SESSION_GRAPH_OPTIMIZATION_LEVEL, P, ctypes.c_int)
        self._set_intra = _fn(t, SET_INTRA_OP_NUM_THREADS, P, ctypes.c_int)
        self._set_inter = _fn(t, SET_INTER_OP_NUM_THREADS, P, ctypes.c_int)
        self._create_tensor = _fn(t, CREATE_TENSOR_WITH_DATA_AS_ORT_VALUE, P, P, ctypes.c_size_t,
                                  ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t, ctypes.c_int,
                                  ctypes.POINTER(P))
        self._create_cpu_info = _fn(t, CREATE_CPU_MEMORY_INFO, ctypes.c_int, ctypes.c_int,
                                    ctypes.POINTER(P))
        self._release_env = _fn(t, RELEASE_ENV, P, restype=None)
        self._release_info = _fn(t, RELEASE_MEMORY_INFO, P, restype=None)
        self._release_session = _fn(t, RELEASE_SESSION, P, restype=None)
        self.release_value = _fn(t, RELEASE_VALUE, P, restype=None)
        self._release_options = _fn(t, RELEASE_SESSION_OPTIONS, P, restype=None)
        self.env = self._out(self._create_env, ORT_LOGGING_LEVEL_ERROR, b"cnnc-bench")
        self.cpu_info = self._out(self._create_cpu_info, ORT_ARENA_ALLOCATOR,
                                  ORT_MEM_TYPE_DEFAULT)

    def check(self, status, what="ONNX Runtime"):
        if status:
            msg = self._error_message(status).decode(errors="replace")
            self._release_status(status)
            raise OrtError("%s: %s" % (what, msg))

    def _out(self, fn, *args):
        """Call fn(*args, &out) and return out."""
        out = P()
        self.check(fn(*args, ctypes.byref(out)), getattr(fn, "__name__", "call"))
        return out

    def session(self, model_path, threads):
        """A session on the CPU provider: graph optimizations all, sequential
        execution, `threads` intra-op threads (1 = the calling thread only),
        1 inter-op thread."""
        opts = self._out(self._create_options)
        try:
            self.check(self._set_level(opts, ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel")
            self.check(self._set_mode(opts, ORT_SEQUENTIAL), "SetSessionExecutionMode")
            self.check(self._set_intra(opts, threads), "SetIntraOpNumThreads")
            self.check(self._set_inter(opts, 1), "SetInterOpNumThreads")
            sess = P()
            self.check(self._create_session(self.env, os.fsencode(model_path), opts,
                                            ctypes.byref(sess)), "CreateSession")
        finally:
            self._release_options(opts)
        return Session(self, sess)

    def tensor(self, array):
        """An OrtValue over a C-contiguous float32 numpy array (not copied: the
        array must outlive it)."""
        if array.dtype.str != "<f4" or not array.flags["C_CONTIGUOUS"]:
            raise OrtError("tensor: need a C-contiguous little-endian float32 array")
        shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        return self._out(self._create_tensor, self.cpu_info, array.ctypes.data, array.nbytes,
                         shape, array.ndim, ONNX_FLOAT)

    def close(self):
        if self.cpu_info:
            self._release_info(self.cpu_info)
            self.cpu_info = None
        if self.env:
            self._release_env(self.env)
            self.env = None


class Session:
    def __init__(self, rt, handle):
        self.rt = rt
        self.handle = handle
        self.values = []
        self.args = None

    def bind(self, inputs, outputs):
        """inputs, outputs: {name: float32 numpy array}; Run reads the inputs
        from, and writes the outputs into, these arrays (kept referenced)."""
        self._release_values()
        self.arrays = list(inputs.values()) + list(outputs.values())
        ins = [self.rt.tensor(a) for a in inputs.values()]
        outs = [self.rt.tensor(a) for a in outputs.values()]
        self.values = ins + outs
        in_names = (ctypes.c_char_p * len(ins))(*[n.encode() for n in inputs])
        out_names = (ctypes.c_char_p * len(outs))(*[n.encode() for n in outputs])
        in_vals = (P * len(ins))(*ins)
        out_vals = (P * len(outs))(*outs)
        self.args = (self.handle, None, in_names, in_vals, len(ins), out_names, len(outs),
                     out_vals)

    def run(self):
        status = self.rt.run_fn(*self.args)
        if status:
            self.rt.check(status, "Run")

    def _release_values(self):
        for v in self.values:
            self.rt.release_value(v)
        self.values = []

    def close(self):
        self._release_values()
        if self.handle:
            self.rt._release_session(self.handle)
            self.handle = None
