#!/usr/bin/python3
"""Benchmark cnnc's generated code (`make bench`): against PyTorch, eager and
frozen, and ONNX Runtime; -O0 against -O2; pruned networks against unpruned
ones.

Usage (from any directory; Debian's python3 and, optionally, python3-torch,
python3-numpy and python3-torchvision, and ONNX Runtime's library from npm's
onnxruntime-node under build/ort/, which `tools/install-deps.sh bench`
installs; no PyPI):

    /usr/bin/python3 bench/bench.py [--quick] [--sections pytorch,optimizer,pruning]
                                    [--nets lenet5,cifar_vgg] [--ghz 3.6]
                                    [--flops-per-cycle 32] [--batches 1,64]
                                    [--threads 1,2] [--budget S] [--out FILE]
                                    [--no-profile] [--check]

Three sections, all run by default; --sections picks some:

- pytorch (below): cnnc against PyTorch and ONNX Runtime, per batch size
  and thread count, and per-layer profiles.
- optimizer: every network of ZOO compiled with `cnnc -O0` and `-O2`, batch 1:
  the activation arena of each (`cnnc --stats`), what -O2 did, and CPU time per
  inference of both (CpuTime, alternating in rounds), after checking that
  their outputs agree.
- pruning: each network of PRUNED with the `prune` statements of
  PRUNE_VARIANTS appended (unpruned, 70% unstructured, the same with
  --sparse-min=off, 50% structured, both), at -O2: parameters and MACs (all,
  and of nonzero weights) with their ratio to the unpruned network, sparse
  layers, arena and CPU time per inference, built with CFLAGS and with plain
  -O2 (PRUNE_CC_FLAGS).

The last two compare cnnc with itself and need no PyTorch. --quick leaves the
slow-to-compile networks (resnet18, mobilenet_v2) out of the optimizer section
and builds the pruning variants with CFLAGS only. --nets names networks of
ZOO and PRUNED (fmnist_pruning is examples/pruning's). --check (make check's
`bench-smoke`) exits 1 when a count is wrong (check_results), never on times.

For every network of ZOO below whose .cnn exists, and for each batch size,
the pytorch section does:

1. cnnc compiles it with `--main --batch B` and `cc -O3 -march=native` builds
   the program. Weights: the .cnn's own `init` (the PyTorch module draws the
   same values with tests/gen/gen_golden.py's apply_init) or its weights file
   (loaded into the module); a network whose weights file is absent, or whose
   entry says weights="torch", gets the module's he(seed=1) init written to a
   safetensors file and passed with `cnnc --weights`.
2. One run on a random input checks that our output and PyTorch's agree
   (max abs difference within 1e-3 of the largest output), so a benchmark
   never times wrong code. A network that disagrees is not timed.
   The module is exported with torch.onnx.export (opset ORT_OPSET) and run
   once by ONNX Runtime (bench/ortcapi.py: its C API through ctypes, the CPU
   provider, graph optimizations all, sequential execution); its output is
   checked against PyTorch's in the same way, and ONNX Runtime is timed only
   if it agrees. Without its library (build/ort/, or the file CNNC_ORT_LIB
   names) or without PyTorch (which exports the models), ONNX Runtime is
   skipped and says why.
3. For 1 and 2 threads (never more than the cores available; ours compiled
   with `cnnc --threads T` and -fopenmp for T > 1, with OPENBLAS_NUM_THREADS
   and OMP_NUM_THREADS, PyTorch through
   torch.set_num_threads and openblas_set_num_threads, ONNX Runtime with
   T intra-op threads), ours (`prog --bench N`, which prints the median of
   N runs after N/10+1 warm-up runs), PyTorch eager, PyTorch frozen
   (torch.jit.trace + torch.jit.freeze) and ONNX Runtime (inputs and
   outputs bound once, one Run call per run) are timed in alternating
   rounds: ours, eager, frozen, ORT, ours, ... Each round times N runs of one
   implementation after a warm-up and keeps their median; the figure reported
   is the median of the rounds.

Then a per-layer profile of each network at batch 1, 1 thread (`cnnc
--profile`). It prints the tables and writes them, with the machine they ran
on, to bench/RESULTS.md (a full run; a run of some sections in full replaces
those sections there and keeps the others) or build/bench/RESULTS.md (--quick,
--nets or other partial runs, so a smoke test never overwrites the committed
figures).

GFLOP/s counts 2 FLOPs per multiply-add, with the MACs cnnc prints in the
generated file's header comment. Peak = FLOP/cycle/core from /proc/cpuinfo's
flags (avx512f: 32, avx2+fma: 16, otherwise 8) x the clock ("cpu MHz" in
/proc/cpuinfo, or --ghz) x threads; both assumptions are printed. A second
column uses the peak bench/fma_peak.c measures instead (one core's FMA
throughput at whatever clock the core really runs), which is the truer one
where the rule above is wrong (two 512-bit FMA units, turbo clocks).
Other processes' CPU use during the run is measured and reported too.

To add a network, add one line to ZOO: its name, its .cnn (relative to the
repository), and a function returning the PyTorch module (None if there is
none: then only ours is timed).
"""

import argparse
import array
import ctypes
import datetime
import math
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

import ortcapi  # ONNX Runtime's C API through ctypes (loads nothing until asked)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD") or "build")  # make exports BUILD
CNNC = os.path.join(BUILD, "cnnc")
WORK = os.path.join(BUILD, "bench")
CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c99", "-O3", "-march=native"]

# PyTorch is optional: without it only cnnc's code is timed.
try:
    import numpy as np
    import torch
    import torch.nn as nn

    sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
    import gen_golden  # apply_init, read/write_safetensors, seq, the golden cases' modules

    TORCH_MISSING = None
except ImportError as exc:  # python3-torch (or numpy) not installed
    torch = None
    TORCH_MISSING = str(exc)


class Skip(Exception):
    """A network (or its PyTorch side) cannot be run here; the message says why."""


# --------------------------------------------------------------------------
# The PyTorch modules of the zoo. Each builder returns an nn.Module whose
# state_dict keys are the .cnn's labels and whose parameters are registered in
# the order the .cnn lists its layers (what apply_init relies on).


def lenet5():
    return gen_golden._LeNet5()


def fmnist_cnn():
    """bench/zoo/fmnist_cnn.cnn"""
    S = gen_golden.seq
    return S(("conv1", nn.Conv2d(1, 32, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(32)),
             ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)),
             ("conv2", nn.Conv2d(32, 64, 3, padding=1, bias=False)), ("bn2", nn.BatchNorm2d(64)),
             ("r2", nn.ReLU()), ("p2", nn.MaxPool2d(2)),
             ("f", nn.Flatten()), ("fc1", nn.Linear(64 * 7 * 7, 128)), ("r3", nn.ReLU()),
             ("fc2", nn.Linear(128, 10)))


def cifar_vgg():
    """bench/zoo/cifar_vgg.cnn: features.N as in torchvision's VGG, then fc."""
    layers = []
    cin = 3
    for stage in (64, 128, 256):
        for _ in range(2):
            layers += [nn.Conv2d(cin, stage, 3, padding=1, bias=False), nn.BatchNorm2d(stage),
                       nn.ReLU()]
            cin = stage
        layers.append(nn.MaxPool2d(2))
    return gen_golden.seq(("features", nn.Sequential(*layers)), ("gap", nn.AdaptiveAvgPool2d(1)),
                          ("flatten", nn.Flatten()), ("fc", nn.Linear(256, 10)))


def torchvision_model(name):
    """A builder for torchvision.models.<name>, with no pretrained weights."""
    def build():
        try:
            import torchvision
        except ImportError:
            raise Skip("python3-torchvision is not installed (tools/install-deps.sh bench)")
        return getattr(torchvision.models, name)(weights=None)
    return build


def golden_case_module(case_name):
    """A builder for the module of tests/gen/gen_golden.py's case `case_name`."""
    def build():
        for c in gen_golden.CASES:
            if c.name == case_name:
                return c.build()
        raise Skip("no golden case '%s' in tests/gen/gen_golden.py to build the PyTorch module"
                   % case_name)
    return build


class Net:
    """One zoo entry. weights: "source" uses what the .cnn says (init or its
    weights file; a missing file falls back to "torch"); "torch" writes the
    module's he(seed=1) init to a safetensors file for `cnnc --weights` (for
    modules whose layer order may differ from the .cnn's, such as torchvision's)."""

    def __init__(self, name, cnn, build, weights="source", big=False):
        self.name = name
        self.cnn = os.path.join(ROOT, cnn)
        self.build = build
        self.weights = weights
        self.big = big  # slow to compile: left out of --quick's optimizer section


ZOO = [
    Net("lenet5", "examples/lenet5/lenet5.cnn", lenet5),
    Net("fmnist_cnn", "bench/zoo/fmnist_cnn.cnn", fmnist_cnn),
    Net("cifar_vgg", "bench/zoo/cifar_vgg.cnn", cifar_vgg),
    Net("tiny_fpn", "examples/tiny_fpn/tiny_fpn.cnn", golden_case_module("tiny_fpn")),
    Net("resnet18", "examples/resnet18/resnet18.cnn", torchvision_model("resnet18"), "torch",
        big=True),
    Net("mobilenet_v2", "examples/mobilenet_v2/mobilenet_v2.cnn",
        torchvision_model("mobilenet_v2"), "torch", big=True),
]


class Pruned:
    """A network of the pruning section: its .cnn, and the layers whose output
    channels the structured variants prune (the unstructured ones prune every
    conv2d and linear, `*`)."""

    def __init__(self, name, cnn, channel_layers):
        self.name = name
        self.cnn = os.path.join(ROOT, cnn)
        self.channel_layers = channel_layers


PRUNED = [
    Pruned("fmnist_pruning", "examples/pruning/fmnist.cnn", "conv1, conv2, fc1"),
    Pruned("cifar_vgg", "bench/zoo/cifar_vgg.cnn",
           "features.0, features.3, features.7, features.10, features.14, features.17"),
]

# The variants of each pruned network: `prune` statements (docs/language.md,
# *Pruning*) appended to a copy of its .cnn, and cnnc options. "both" prunes
# channels on top of the unstructured masks, as a PyTorch PruningContainer does
# (and as examples/pruning's -D sparsity=0.7 -D channels=0.5). The
# `--sparse-min=off` row keeps the zeros in dense kernels: what the sparse
# kernels (chosen by select_kernels.c's measured rule) gain over them.
UNSTRUCTURED = "prune(amount=0.7) *"
STRUCTURED = "prune(amount=0.5, structured=true) {channels}"
PRUNE_VARIANTS = [
    ("unpruned", [], []),
    ("70% unstructured", [UNSTRUCTURED], []),
    ("70% unstructured, --sparse-min=off", [UNSTRUCTURED], ["--sparse-min=off"]),
    ("50% structured", [STRUCTURED], []),
    ("both", [UNSTRUCTURED, STRUCTURED], []),
]

# The pruning section builds every variant twice: with CFLAGS, and with plain
# -O2 for baseline x86-64 (what examples/pruning's Makefile uses), because the
# sparse kernels are plain C while the dense ones gain most from -march=native.
# --quick: CFLAGS only.
PRUNE_CC_FLAGS = [CFLAGS, ["-std=c99", "-O2"]]

SECTIONS = ["pytorch", "optimizer", "pruning"]

# --------------------------------------------------------------------------
# Small helpers


def log(msg):
    print(msg, flush=True)


def run(cmd, env=None, timeout=1800, stderr=False):
    """Run a command; return its stdout (and stderr if asked), or raise Skip
    with its first error lines."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=timeout, universal_newlines=True)
    if p.returncode != 0:
        lines = [l for l in (p.stderr + p.stdout).splitlines() if l.strip()]
        raise Skip("%s failed: %s" % (os.path.basename(cmd[0]), " | ".join(lines[:3])))
    return (p.stdout, p.stderr) if stderr else p.stdout


def cnn_source_weights(path):
    """("init", scheme, seed) or ("file", path) or None, from the .cnn text."""
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0]
        m = re.match(r'\s*init\s+(he|xavier)\s*(?:\(\s*(?:seed\s*=\s*)?(\d+)\s*\))?', line)
        if m:
            return ("init", m.group(1), int(m.group(2) or 0))
        m = re.search(r'(?:^|;)\s*weights\s+"((?:[^"\\]|\\.)*)"', line)
        if m:
            return ("file", os.path.join(os.path.dirname(path), m.group(1)))
    return None


def header_shapes(h_path):
    """The inputs and outputs of a generated header: lists of (name, shape)."""
    ins, outs = [], []
    for line in open(h_path, encoding="utf-8"):
        m = re.match(r"\s*\*\s+(input|output)\s+(\S+)\s+float32\s+\[([0-9, ]+)\]", line)
        if m:
            shape = tuple(int(d) for d in m.group(3).split(","))
            (ins if m.group(1) == "input" else outs).append((m.group(2), shape))
    return ins, outs


def generated_macs(c_path):
    with open(c_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.search(r"MACs: (\d+)\.", line)
            if m:
                return int(m.group(1))
            if line.startswith(" */"):
                break
    raise Skip("no 'MACs:' line in the header comment of %s" % c_path)


def generated_kernels(c_path):
    """The kernel of each layer with parameters, from the layer table that opens
    the generated .c (` *   conv1  conv2d+relu+maxpool  [1, 24, 14, 14]  240  169344  sparse`)."""
    kernels = []
    with open(c_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"\s\*\s+\S+\s+\S+\s+\[[0-9, ]+\]\s+(\d+)\s+\d+\s+(\S+)\s*$", line)
            if m and int(m.group(1)) > 0:
                kernels.append(m.group(2))
            if line.startswith(" */"):
                break
    return kernels


def cnnc_stats(text):
    """What `cnnc --stats` printed: {"params": (before, after), "nonzero_params":
    (before, after), "macs": ..., "nonzero_macs": ..., "arena": bytes,
    "folded"/"removed"/"fused"/"channels": totals over the passes}. "Before" is
    the graph before the first pass, after any `prune` statements."""
    st = {"folded": 0, "removed": 0, "fused": 0, "channels": 0}
    for line in text.splitlines():
        m = re.match(r"stats: parameters: (\d+) -> (\d+) \(nonzero: (\d+) -> (\d+)\)", line)
        if m:
            st["params"] = (int(m.group(1)), int(m.group(2)))
            st["nonzero_params"] = (int(m.group(3)), int(m.group(4)))
        m = re.match(r"stats: MACs: (\d+) -> (\d+) \(of nonzero weights: (\d+) -> (\d+)\)", line)
        if m:
            st["macs"] = (int(m.group(1)), int(m.group(2)))
            st["nonzero_macs"] = (int(m.group(3)), int(m.group(4)))
        m = re.match(r"stats: arena: (\d+) bytes", line)
        if m:
            st["arena"] = int(m.group(1))
        m = re.match(r"stats: [a-z-]+: (\d+) folded, (\d+) removed, (\d+) fused"
                     r"(?:, \d+ bytes saved)?(?:, (\d+) channels removed)?", line)
        if m:
            for k, g in (("folded", 1), ("removed", 2), ("fused", 3), ("channels", 4)):
                st[k] += int(m.group(g) or 0)
    missing = [k for k in ("params", "macs", "arena") if k not in st]
    if missing:
        raise Skip("cnnc --stats printed no %s line" % "/".join(missing))
    return st


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def read_f32(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a


# --------------------------------------------------------------------------
# The machine


def cpuinfo():
    info = {"model": platform.processor() or platform.machine(), "flags": set(), "mhz": []}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, val = line.partition(":")
            key, val = key.strip(), val.strip()
            if key == "model name":
                info["model"] = val
            elif key == "flags":
                info["flags"] = set(val.split())
            elif key == "cpu MHz":
                info["mhz"].append(float(val))
    except OSError:
        pass
    return info


def peak_model(args):
    """FLOP/cycle/core, GHz, and a sentence saying where both came from."""
    ci = cpuinfo()
    flags = ci["flags"]
    if args.flops_per_cycle:
        fpc, why = args.flops_per_cycle, "given with --flops-per-cycle"
    elif "avx512f" in flags:
        fpc, why = 32, "avx512f: assumed two 256-bit FMA per cycle (as Zen 4); " \
                       "a core with two 512-bit FMA units does 64"
    elif "avx2" in flags and "fma" in flags:
        fpc, why = 16, "avx2+fma: two 256-bit FMA per cycle"
    else:
        fpc, why = 8, "no avx2+fma: 4-wide add + 4-wide multiply per cycle"
    if args.ghz:
        ghz, gwhy = args.ghz, "given with --ghz"
    elif ci["mhz"]:
        ghz, gwhy = max(ci["mhz"]) / 1000.0, "\"cpu MHz\" in /proc/cpuinfo (not the turbo clock)"
    else:
        ghz, gwhy = 3.0, "unknown clock, 3.0 GHz assumed (give --ghz)"
    text = "%d FLOP/cycle/core (%s) x %.3f GHz (%s) = %.1f GFLOP/s per core" % (
        fpc, why, ghz, gwhy, fpc * ghz)
    return fpc * ghz, text, flags


def measured_peak(flags):
    """One core's FP32 FMA throughput in GFLOP/s, measured by bench/fma_peak.c
    with the widest vectors the flags offer; None if it cannot be built."""
    vec = 64 if "avx512f" in flags else 32 if "avx" in flags else 16
    exe = os.path.join(WORK, "fma_peak")
    try:
        run([CC, "-O2", "-march=native", "-ffp-contract=fast", "-DVEC_BYTES=%d" % vec,
             os.path.join(ROOT, "bench", "fma_peak.c"), "-o", exe])
        m = re.search(r"gflops=([0-9.]+)", run([exe], timeout=120))
    except (Skip, OSError):
        return None, "bench/fma_peak.c could not be built or run"
    if not m:
        return None, "no result from bench/fma_peak.c"
    return float(m.group(1)), "%d-bit FMA, best of 40 trials of bench/fma_peak.c" % (vec * 8)


def first_line(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout
        return out.splitlines()[0].strip() if out.strip() else "?"
    except OSError:
        return "?"


def machine(cores):
    """What every section ran on (each section adds its own date, cnnc version and load)."""
    ci = cpuinfo()
    return [("CPU", ci["model"]), ("cores available", str(cores)),
            ("compiler", "%s (%s)" % (first_line([CC, "--version"]), " ".join(CFLAGS))),
            ("OpenBLAS", first_line(["dpkg-query", "-W", "-f", "${Version}\n", "libopenblas0"])),
            ("Python", platform.python_version())]


class LoadMeter:
    """How busy the machine is with work other than this benchmark: the busy
    time of all CPUs in /proc/stat (including time stolen by the hypervisor)
    minus the CPU time of this process and its children, as an average number
    of cores. Figures taken while other work runs are slower and noisier."""

    def __init__(self):
        self.start = self.sample()

    @staticmethod
    def sample():
        busy = None
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal ...
            busy = (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) \
                / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
        t = os.times()
        return busy, t.user + t.system + t.children_user + t.children_system, time.monotonic()

    def other_cores(self, since=None):
        b0, own0, w0 = since or self.start
        b1, own1, w1 = self.sample()
        if b0 is None or b1 is None or w1 <= w0:
            return None
        return max(0.0, (b1 - b0) - (own1 - own0)) / (w1 - w0)

    @classmethod
    def now(cls, seconds=1.0):
        """Other work right now, over `seconds` of idle waiting."""
        start = cls.sample()
        time.sleep(seconds)
        return cls().other_cores(since=start)


# --------------------------------------------------------------------------
# Building


def torch_module(net, workdir):
    """(module, cnnc weight flags, None) with the same weights on both sides,
    or (None, [], reason) when only ours can run (with the .cnn's own weights).
    Raises Skip when not even ours can."""
    src = cnn_source_weights(net.cnn)
    own = src is not None and (src[0] == "init" or os.path.exists(src[1]))
    module, reason = None, None
    if torch is None:
        reason = "PyTorch not installed"
    else:
        try:
            module = net.build()
        except Skip as e:
            reason = str(e)
    if module is None:
        if not own:
            raise Skip("%s, and the .cnn has no weights of its own (%s)" % (
                reason, "no init, and %s is absent" % os.path.relpath(src[1], ROOT)
                if src else "neither init nor weights"))
        return None, [], reason
    module.eval()
    module.float()
    flags = []
    if net.weights == "torch" or not own:
        gen_golden.apply_init(module, "he", 1)
        path = os.path.join(workdir, "weights.safetensors")
        gen_golden.write_safetensors(path, [(k, v.detach().contiguous().numpy())
                                            for k, v in module.state_dict().items()])
        flags = ["--weights", path]
    elif src[0] == "init":
        gen_golden.apply_init(module, src[1], src[2])
    else:
        tensors = gen_golden.read_safetensors(src[1])
        module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()},
                               strict=False)
    return module, flags, None


def build_program(net, batch, flags, workdir, profile=False, tag="", cc_flags=None):
    """Compile with cnnc and cc (CFLAGS, or cc_flags); return (program, .c path,
    .h path). What `cnnc --stats` printed is kept in PROGRAM.stats (see
    cnnc_stats)."""
    stem = os.path.join(workdir, "%s_b%d%s%s" % (net.name, batch, tag, "_prof" if profile else ""))
    cmd = [CNNC, net.cnn, "--main", "--batch", str(batch), "--stats", "-o", stem + ".c"] + flags
    if profile:
        cmd.append("--profile")
    _, err = run(cmd, stderr=True)
    with open(stem + ".stats", "w", encoding="utf-8") as f:
        f.write(err)
    cflags = run([CNNC, "--cflags"]).split()
    libs = run([CNNC, "--libs"]).split()
    run([CC] + (cc_flags or CFLAGS) + [stem + ".c"] + cflags + ["-o", stem] + libs)
    return stem, stem + ".c", stem + ".h"


def make_input(shape, path, seed):
    """A standard normal input, written as raw float32; returned as a tensor (or None)."""
    if torch is not None:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(shape, generator=g, dtype=torch.float32)
        x.numpy().astype("<f4").tofile(path)
        return x
    rng = random.Random(seed)
    a = array.array("f", (rng.gauss(0.0, 1.0) for _ in range(numel(shape))))
    if sys.byteorder != "little":
        a.byteswap()
    with open(path, "wb") as f:
        a.tofile(f)
    return None


def flat_output(y):
    """The module's output(s) as one flat float32 numpy array (outputs concatenated)."""
    if isinstance(y, (tuple, list)):
        return np.concatenate([flat_output(t) for t in y])
    if isinstance(y, dict):
        return np.concatenate([flat_output(t) for t in y.values()])
    return y.detach().reshape(-1).numpy().astype(np.float32)


# --------------------------------------------------------------------------
# Timing


def thread_env(threads):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def set_torch_threads(threads):
    """PyTorch's intra-op threads, and the OpenBLAS it calls for linear layers
    (Debian's torch loads OpenBLAS twice, as libblas.so.3 and libopenblas.so.0,
    each with a thread pool as large as the machine unless told otherwise)."""
    torch.set_num_threads(threads)
    for lib in ("libblas.so.3", "libopenblas.so.0"):
        try:
            f = getattr(ctypes.CDLL(lib, mode=os.RTLD_NOLOAD), "openblas_set_num_threads")
        except (OSError, AttributeError):
            continue  # not loaded in this process, or not OpenBLAS
        f(threads)


def time_ours(prog, inp, out, runs, threads):
    """Median ms of `runs` runs (the program's own --bench, after its warm-up)."""
    text = run([prog, "--bench", str(runs), inp, out], env=thread_env(threads))
    m = re.search(r"median_ms=([0-9.eE+-]+)\s*$", text)
    if not m:
        raise Skip("no median_ms= line from %s" % prog)
    return float(m.group(1))


class CpuTime:
    """time_ours's counterpart for the sections that compare cnnc with itself:
    a function runs -> CPU ms per inference of `prog --bench runs` (user +
    system time of the process, what perf stat's task-clock counts: time on a
    CPU, not time waiting for one, so it holds up on a shared machine where
    wall-clock medians do not). The program runs N/10 + 1 warm-up runs, then
    min(N, CNNRT_BENCH_MAX_RUNS) timed ones; its start (loading, reading the
    input, the first touch of the weights) is cancelled by subtracting the CPU
    time of `--bench 1` (start + 2 runs, the least of three):
    (cpu(N) - cpu(1)) / (runs in all - 2). With N=1 it returns the least of
    those three runs' wall-clock times (Timer's calibration)."""

    def __init__(self, prog, inp, out, threads=1):
        self.cmd = lambda runs: [prog, "--bench", str(runs), inp, out]
        self.env = thread_env(threads)
        self.base = None

    def cpu(self, runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        text = run(self.cmd(runs), env=self.env)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        m = re.search(r"median_ms=([0-9.eE+-]+)\s*$", text)
        if not m:
            raise Skip("no median_ms= line from %s" % self.cmd(runs)[0])
        return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), float(m.group(1))

    def __call__(self, runs):
        if self.base is None:
            ones = [self.cpu(1) for _ in range(3)]
            self.base, self.one = min(c for c, _ in ones), min(m for _, m in ones)
        if runs < 2:
            return self.one
        cpu, _ = self.cpu(runs)
        total = min(runs, CNNRT_BENCH_MAX_RUNS) + runs // 10 + 1
        return max(0.0, cpu - self.base) * 1e3 / (total - 2)


def time_ort(session, runs, warmup):
    """time_torch's counterpart for an ONNX Runtime session (inputs and
    outputs bound once: each run is one OrtApi::Run call through ctypes)."""
    for _ in range(warmup):
        session.run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def time_torch(fn, x, runs, warmup):
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


class Timer:
    """Times a set of implementations of one network, batch and thread count in
    alternating rounds. Each implementation is a function runs -> median ms."""

    def __init__(self, impls, quick, budget_s, round_ms=250.0, max_runs=2000):
        self.impls = impls  # ordered {name: fn}
        self.quick = quick
        self.budget_s = budget_s
        self.round_ms = round_ms  # each implementation's share of a round
        self.max_runs = max_runs

    def measure(self):
        # Calibrate: one short measurement each (also warms every implementation up).
        est = {k: max(fn(1), 1e-3) for k, fn in self.impls.items()}
        round_ms = 40.0 if self.quick else self.round_ms
        runs = {k: int(min(self.max_runs, max(1, round_ms / t))) for k, t in est.items()}
        per_round = sum(runs[k] * est[k] * 1.2 for k in self.impls) / 1e3
        if self.quick:
            rounds = 2
        else:
            rounds = int(max(3, min(9, self.budget_s / max(per_round, 1e-9))))
        medians = {k: [] for k in self.impls}
        for _ in range(rounds):
            for k, fn in self.impls.items():
                medians[k].append(fn(runs[k]))
                time.sleep(0.01)  # let idle worker threads of the other side go to sleep
        result = {k: statistics.median(v) for k, v in medians.items()}
        total_runs = {k: rounds * runs[k] for k in self.impls}
        return result, total_runs


# --------------------------------------------------------------------------
# One network


def agree(ours, ref):
    """max |ours - ref| and whether it is within 1e-3 of max |ref| (at least 1e-4)."""
    o = np.frombuffer(ours, dtype=np.float32) if not isinstance(ours, np.ndarray) else ours
    if o.shape != ref.shape:
        return float("inf"), False
    diff = float(np.max(np.abs(o.astype(np.float64) - ref))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    ok = diff <= max(1e-4, 1e-3 * scale) and np.all(np.isfinite(o))
    return diff, bool(ok)


# --------------------------------------------------------------------------
# ONNX Runtime: the second reference. Each network's PyTorch module is
# exported with torch.onnx.export and run by ONNX Runtime's CPU library (the
# one npm's onnxruntime-node ships; bench/ortcapi.py calls its C API through
# ctypes), in the same process and the same alternating rounds as PyTorch.

ORT_OPSET = 17  # the newest torch 1.13 exports
ORT_DIR = os.path.join(BUILD, "ort")  # where tools/install-deps.sh bench installs it
ORT = None  # ortcapi.Runtime once load_ort() found the library
ORT_MISSING = "not loaded"


def load_ort():
    """Load ONNX Runtime for the pytorch section; sets ORT, or ORT_MISSING to
    why it is skipped."""
    global ORT, ORT_MISSING
    if torch is None:
        ORT_MISSING = "needs PyTorch to export the networks (torch.onnx.export)"
        return
    lib = ortcapi.find_library(BUILD)
    if lib is None and os.environ.get("CNNC_ORT_LIB"):
        ORT_MISSING = "CNNC_ORT_LIB=%s does not exist" % os.environ["CNNC_ORT_LIB"]
        return
    if lib is None:
        ORT_MISSING = ("libonnxruntime.so not found under %s (`tools/install-deps.sh bench` "
                       "installs npm's onnxruntime-node there; CNNC_ORT_LIB=path names "
                       "another)" % os.path.relpath(ORT_DIR, ROOT))
        return
    try:
        ORT = ortcapi.Runtime(lib)
        ORT_MISSING = None
    except (OSError, AttributeError, ortcapi.OrtError) as e:
        ORT_MISSING = "%s could not be loaded: %s" % (lib, e)


def ort_version_text():
    if ORT is None:
        return "skipped: %s" % ORT_MISSING
    lib = os.path.relpath(ORT.path, ROOT) if ORT.path.startswith(ROOT) else ORT.path
    return ("%s, CPU provider (%s, C API through ctypes); graph optimizations all, "
            "sequential execution, intra-op threads = threads" % (ORT.version, lib))


def export_onnx(module, x, path):
    """Export the module at x's shape to path (opset ORT_OPSET, input "input",
    outputs "out0", ...); return {output name: zeroed float32 array} in the
    order of flat_output."""
    import contextlib
    import io
    import warnings
    with torch.no_grad():
        y = module(x)
    ys = list(y) if isinstance(y, (tuple, list)) else list(y.values()) if isinstance(y, dict) \
        else [y]
    names = ["out%d" % i for i in range(len(ys))]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), path, input_names=["input"], output_names=names,
                          opset_version=ORT_OPSET, do_constant_folding=True)
    return {n: np.zeros(tuple(t.shape), dtype=np.float32) for n, t in zip(names, ys)}


class OrtModel:
    """One network and batch size exported for ONNX Runtime, its input and
    output arrays, and its output checked once against PyTorch eager's."""

    def __init__(self, module, x, ref, workdir, batch):
        self.path = os.path.join(workdir, "b%d.onnx" % batch)
        self.x = np.ascontiguousarray(x.numpy(), dtype=np.float32)
        try:
            self.outs = export_onnx(module, x, self.path)
        except Exception as e:  # torch.onnx raises many kinds
            raise Skip("torch.onnx.export failed: %s" % str(e).splitlines()[0][:200])
        s = self.session(1)
        try:
            s.run()
        finally:
            s.close()
        got = np.concatenate([a.reshape(-1) for a in self.outs.values()])
        self.diff, ok = agree(got, ref)
        if not ok:
            raise Skip("OUTPUT DISAGREES with PyTorch eager (max |ORT - eager| = %.3g), "
                       "not timed" % self.diff)

    def session(self, threads):
        try:
            s = ORT.session(self.path, threads)
            s.bind({"input": self.x}, self.outs)
        except ortcapi.OrtError as e:
            raise Skip(str(e).splitlines()[0][:300])
        return s


def bench_net(net, args, thread_list, peak_core, rows, notes, profiles):
    if not os.path.exists(net.cnn):
        where = os.path.relpath(net.cnn, ROOT)
        notes.append("%s: skipped, %s does not exist yet" % (net.name, where))
        log("== %s: skipped (%s not there yet)" % (net.name, where))
        return
    workdir = os.path.join(WORK, net.name)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    log("== %s (%s)" % (net.name, os.path.relpath(net.cnn, ROOT)))
    try:
        module, wflags, torch_skip = torch_module(net, workdir)
    except Skip as e:
        notes.append("%s: skipped, %s" % (net.name, e))
        log("   skipped: %s" % e)
        return
    if torch_skip:
        notes.append("%s: PyTorch skipped (%s); ours timed alone" % (net.name, torch_skip))
        log("   PyTorch skipped: %s" % torch_skip)

    built = []
    for batch in args.batches:
        try:
            prog, c_path, h_path = build_program(net, batch, wflags, workdir)
            built.append(batch)
        except Skip as e:
            notes.append("%s batch %d: not built: %s" % (net.name, batch, e))
            log("   batch %d: not built: %s" % (batch, e))
            continue
        macs = generated_macs(c_path)
        ins, outs = header_shapes(h_path)
        if len(ins) != 1:
            notes.append("%s: %d inputs; the benchmark handles one" % (net.name, len(ins)))
            return
        inp = os.path.join(workdir, "in_b%d.f32" % batch)
        out = os.path.join(workdir, "out_b%d.f32" % batch)
        x = make_input(ins[0][1], inp, seed=1234 + batch)
        run([prog, inp, out], env=thread_env(1))

        impls = {"ours": None}
        diff_text = "not checked (no PyTorch)"
        if module is not None:
            set_torch_threads(1)
            with torch.no_grad():
                ref = flat_output(module(x)).astype(np.float64)
                frozen = torch.jit.freeze(torch.jit.trace(module, x))
                for _ in range(3):  # the profiling executor optimizes over the first runs
                    frozen(x)
                ref_frozen = flat_output(frozen(x)).astype(np.float64)
            ours_out = np.asarray(read_f32(out), dtype=np.float32)
            diff, ok = agree(ours_out, ref)
            fdiff, fok = agree(ours_out, ref_frozen)
            diff_text = "max |ours - eager| = %.3g, |ours - frozen| = %.3g (max |output| %.3g)" % (
                diff, fdiff, float(np.max(np.abs(ref))) if ref.size else 0.0)
            log("   batch %d: %s" % (batch, diff_text))
            if not ok:
                notes.append("%s batch %d: OUTPUTS DISAGREE, not timed: %s" % (
                    net.name, batch, diff_text))
                log("   OUTPUTS DISAGREE: not timed")
                continue
            if not fok:
                notes.append("%s batch %d: frozen PyTorch disagrees with eager: %s" % (
                    net.name, batch, diff_text))
            impls["eager"] = lambda n, m=module, x=x: time_torch(m, x, n, max(1, n // 10))
            impls["frozen"] = lambda n, f=frozen, x=x: time_torch(f, x, n, max(1, n // 10))
        notes.append("%s batch %d: %s" % (net.name, batch, diff_text))
        ort_model = None
        if module is not None and ORT is not None:
            try:
                ort_model = OrtModel(module, x, ref, workdir, batch)
                log("   batch %d: max |ORT - eager| = %.3g" % (batch, ort_model.diff))
                notes.append("%s batch %d: max |ONNX Runtime - eager| = %.3g" % (
                    net.name, batch, ort_model.diff))
            except Skip as e:
                notes.append("%s batch %d: ONNX Runtime: %s" % (net.name, batch, e))
                log("   batch %d: ONNX Runtime: %s" % (batch, e))

        for threads in thread_list:
            tprog = prog
            if threads > 1:  # ours splits its layers only when compiled for it
                tprog, _, _ = build_program(net, batch, wflags + ["--threads", str(threads)],
                                            workdir, tag="_t%d" % threads,
                                            cc_flags=CFLAGS + ["-fopenmp"])
            impls["ours"] = lambda n, t=threads, p=tprog: time_ours(p, inp, out, n, t)
            if module is not None:
                set_torch_threads(threads)
            impls.pop("ort", None)
            session = None
            if ort_model is not None:
                try:
                    session = ort_model.session(threads)
                    impls["ort"] = lambda n, s=session: time_ort(s, n, max(1, n // 10))
                except Skip as e:
                    notes.append("%s batch %d, %d threads: ONNX Runtime: %s" % (
                        net.name, batch, threads, e))
            try:
                ms, runs = Timer(impls, args.quick, args.budget).measure()
            finally:
                if session is not None:
                    session.close()
            gflops = 2.0 * macs / (ms["ours"] * 1e6)
            row = {"net": net.name, "batch": batch, "threads": threads, "ours": ms["ours"],
                   "eager": ms.get("eager"), "frozen": ms.get("frozen"), "ort": ms.get("ort"),
                   "gflops": gflops, "peak": 100.0 * gflops / (peak_core * threads),
                   "mpeak": 100.0 * gflops / (args.measured_peak * threads)
                   if args.measured_peak else None, "runs": runs["ours"],
                   "truns": runs.get("eager"), "oruns": runs.get("ort")}
            rows.append(row)
            log("   " + format_row(row, plain=True))

    if args.profile and 1 in built:
        try:
            prog, _, _ = build_program(net, 1, wflags, workdir, profile=True)
            inp = os.path.join(workdir, "in_b1.f32")
            n = 200 if args.quick else 2000
            text = run([prog, "--bench", "1", inp, os.path.join(workdir, "p.f32")],
                       env=thread_env(1))
            m = re.search(r"median_ms=([0-9.eE+-]+)", text)
            if m and float(m.group(1)) > 0:
                n = int(max(5, min(n, (1000.0 if args.quick else 5000.0) / float(m.group(1)))))
            text = run([prog, "--bench", str(n), inp, os.path.join(workdir, "p.f32")],
                       env=thread_env(1))
            table = [l for l in text.splitlines() if l.strip()]
            profiles.append((net.name, table))
            log("\n".join("   " + l for l in table))
        except Skip as e:
            notes.append("%s: profile not built: %s" % (net.name, e))


# --------------------------------------------------------------------------
# The sections that compare cnnc with itself (no PyTorch): -O0 vs -O2, and
# pruned vs unpruned. Batch 1, one thread, CPU time per inference (CpuTime),
# the implementations of one table row alternating in rounds (Timer).

CPU_ROUND_MS = 500.0  # per implementation and round; --quick: Timer's 40 ms


def bench_max_runs():
    """CNNRT_BENCH_MAX_RUNS of runtime/cnnrt.h: `prog --bench N` times at most this many."""
    with open(os.path.join(ROOT, "runtime", "cnnrt.h"), encoding="utf-8") as f:
        return int(re.search(r"#define CNNRT_BENCH_MAX_RUNS (\d+)", f.read()).group(1))


CNNRT_BENCH_MAX_RUNS = bench_max_runs()
CPU_MAX_RUNS = CNNRT_BENCH_MAX_RUNS


def own_weight_flags(cnn):
    """cnnc flags for the .cnn's own weights: none for `init`, `--weights FILE`
    for its weights file (so a copy of the .cnn elsewhere finds it too)."""
    src = cnn_source_weights(cnn)
    if src is None:
        raise Skip("%s has neither init nor weights" % os.path.relpath(cnn, ROOT))
    if src[0] == "file":
        if not os.path.exists(src[1]):
            raise Skip("%s is absent" % os.path.relpath(src[1], ROOT))
        return ["--weights", src[1]]
    return []


def f32_agree(path, ref_path):
    """max |a - ref| of two raw float32 files, and whether it is within 1e-3 of
    max |ref| (at least 1e-4), all values finite."""
    a, ref = read_f32(path), read_f32(ref_path)
    if len(a) != len(ref) or not all(math.isfinite(v) for v in a):
        return float("inf"), False
    diff = max((abs(x - y) for x, y in zip(a, ref)), default=0.0)
    scale = max((abs(v) for v in ref), default=0.0)
    return diff, diff <= max(1e-4, 1e-3 * scale)


def single_input(net, h_path, workdir):
    ins, _ = header_shapes(h_path)
    if len(ins) != 1:
        raise Skip("%d inputs; the benchmark handles one" % len(ins))
    inp = os.path.join(workdir, "in.f32")
    make_input(ins[0][1], inp, seed=1234)
    return inp


def time_cpu(progs, inp, args):
    """{label: program} -> ({label: CPU ms per inference}, {label: timed runs}),
    alternating in rounds."""
    clocks = {k: CpuTime(p, inp, p + ".out.f32") for k, p in progs.items()}
    return Timer(clocks, args.quick, args.budget, CPU_ROUND_MS, CPU_MAX_RUNS).measure()


def bench_optimizer(net, args, rows, notes):
    """-O0 and -O2 of one zoo network: arena, CPU time, what the passes did."""
    if args.quick and net.big and net.name not in args.nets:
        notes.append("%s: left out of --quick (slow to compile; `--nets %s` times it)" % (
            net.name, net.name))
        return
    workdir = os.path.join(WORK, "optimizer", net.name)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    log("== optimizer: %s (%s)" % (net.name, os.path.relpath(net.cnn, ROOT)))
    wflags = own_weight_flags(net.cnn)
    progs, stats = {}, {}
    for level in ("-O0", "-O2"):
        prog, _, h_path = build_program(net, 1, [level] + wflags, workdir, tag="_" + level[1:])
        with open(prog + ".stats", encoding="utf-8") as f:
            stats[level] = cnnc_stats(f.read())
        progs[level] = prog
    inp = single_input(net, h_path, workdir)
    for prog in progs.values():
        run([prog, inp, prog + ".out.f32"], env=thread_env(1))
    diff, ok = f32_agree(progs["-O2"] + ".out.f32", progs["-O0"] + ".out.f32")
    if not ok:
        raise Skip("-O2's output differs from -O0's (max abs difference %.3g): not timed" % diff)
    ms, runs = time_cpu(progs, inp, args)
    st = stats["-O2"]
    did = ", ".join("%d %s" % (st[k], k) for k in ("folded", "removed", "fused") if st[k])
    row = {"net": net.name, "arena0": stats["-O0"]["arena"], "arena2": st["arena"],
           "ms0": ms["-O0"], "ms2": ms["-O2"], "did": did or "nothing", "diff": diff,
           "runs": "%d/%d" % (runs["-O0"], runs["-O2"])}
    rows.append(row)
    log("   " + "  ".join("%s=%s" % kv for kv in zip(OPT_COLUMNS[1:], optimizer_cells(row)[1:])))


def bench_pruning(pn, args, rows, notes):
    """The variants of PRUNE_VARIANTS of one network, cnnc -O2, built with each
    of PRUNE_CC_FLAGS: counts and CPU time."""
    workdir = os.path.join(WORK, "pruning", pn.name)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    log("== pruning: %s (%s)" % (pn.name, os.path.relpath(pn.cnn, ROOT)))
    wflags = own_weight_flags(pn.cnn)
    with open(pn.cnn, encoding="utf-8") as f:
        source = f.read()
    cc_sets = PRUNE_CC_FLAGS[:1] if args.quick else PRUNE_CC_FLAGS
    progs, found = {}, []
    for i, (label, statements, options) in enumerate(PRUNE_VARIANTS):
        lines = [st.format(channels=pn.channel_layers) for st in statements]
        path = os.path.join(workdir, "%s_v%d.cnn" % (pn.name, i))
        with open(path, "w", encoding="utf-8") as f:
            f.write(source.rstrip("\n") + "\n\n# appended by bench/bench.py: %s\n" % label)
            f.write("".join(l + "\n" for l in lines))
        for j, cc_flags in enumerate(cc_sets):
            prog, c_path, h_path = build_program(Net("%s_v%d" % (pn.name, i), path, None), 1,
                                                 wflags + options, workdir, tag="_cc%d" % j,
                                                 cc_flags=cc_flags)
            with open(prog + ".stats", encoding="utf-8") as f:
                st = cnnc_stats(f.read())
            cc = " ".join(f for f in cc_flags if f != "-std=c99")
            progs["%s, cc %s" % (label, cc)] = prog
            found.append((j, label, cc, st, generated_kernels(c_path)))
    inp = single_input(pn, h_path, workdir)
    for prog in progs.values():
        run([prog, inp, prog + ".out.f32"], env=thread_env(1))
    ms, runs = time_cpu(progs, inp, args)
    base = {}
    for _, label, cc, st, kernels in sorted(found, key=lambda f: f[0]):  # by cc, stable
        key = "%s, cc %s" % (label, cc)
        row = {"net": pn.name, "variant": label, "cc": cc, "params": st["params"][1],
               "nz_params": st["nonzero_params"][1], "macs": st["macs"][1],
               "nz_macs": st["nonzero_macs"][1], "arena": st["arena"],
               "sparse": sum(1 for k in kernels if k == "sparse"), "layers": len(kernels),
               "channels": st["channels"], "ms": ms[key], "runs": runs[key]}
        row["base"] = base.setdefault(cc, row)
        rows.append(row)
        log("   " + "  ".join("%s=%s" % kv for kv in zip(PRUNE_COLUMNS[1:], pruning_cells(row)[1:])))


# --------------------------------------------------------------------------
# Output


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.3f" % v if v < 100 else "%.1f" % v


def fmt_cpu_ms(v):
    return "%.4f" % v if v < 0.1 else "%.3f" % v if v < 100 else "%.1f" % v


def fmt_ratio(a, b):
    return "-" if a is None or b is None else "%.2f" % (a / b)


def table(columns, cell_rows, left=1):
    """A markdown table: the first `left` columns left-aligned, the others right."""
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join(["---"] * left + ["---:"] * (len(columns) - left)) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in cell_rows]
    return "\n".join(lines)


COLUMNS = ["network", "batch", "threads", "ours ms", "eager ms", "frozen ms", "ORT ms",
           "ours GFLOP/s", "% of peak", "% of measured peak", "ours/eager", "ours/frozen",
           "ours/ORT", "runs (ours/torch/ORT)"]


def row_cells(r):
    return [r["net"], str(r["batch"]), str(r["threads"]), fmt_ms(r["ours"]), fmt_ms(r["eager"]),
            fmt_ms(r["frozen"]), fmt_ms(r.get("ort")), "%.1f" % r["gflops"],
            "%.0f%%" % r["peak"], "%.0f%%" % r["mpeak"] if r["mpeak"] is not None else "-",
            fmt_ratio(r["ours"], r["eager"]), fmt_ratio(r["ours"], r["frozen"]),
            fmt_ratio(r["ours"], r.get("ort")),
            "%d/%s/%s" % (r["runs"], r["truns"] or "-", r.get("oruns") or "-")]


def format_row(r, plain=False):
    cells = row_cells(r)
    if plain:
        return "  ".join("%s=%s" % (k, v) for k, v in zip(COLUMNS[1:], cells[1:]))
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows):
    return table(COLUMNS, [row_cells(r) for r in rows], left=3)


OPT_COLUMNS = ["network", "arena B -O0", "arena B -O2", "-O2/-O0", "CPU ms -O0", "CPU ms -O2",
               "speed-up", "-O2 did (layers)", "runs (-O0/-O2)"]


def optimizer_cells(r):
    return [r["net"], "{:,}".format(r["arena0"]), "{:,}".format(r["arena2"]),
            "%.2f" % (r["arena2"] / r["arena0"]), fmt_cpu_ms(r["ms0"]), fmt_cpu_ms(r["ms2"]),
            "%.2fx" % (r["ms0"] / r["ms2"]), r["did"], r["runs"]]


PRUNE_COLUMNS = ["network", "variant", "cc", "parameters", "nonzero parameters", "MACs",
                 "MACs of nonzero weights", "sparse layers", "arena B", "CPU ms", "speed-up",
                 "runs"]


def with_ratio(v, base):
    return "{:,}".format(v) if v == base else "{:,} ({:.2f})".format(v, v / base)


def pruning_cells(r):
    b = r["base"]
    return [r["net"], r["variant"], r["cc"], with_ratio(r["params"], b["params"]),
            with_ratio(r["nz_params"], b["nz_params"]), with_ratio(r["macs"], b["macs"]),
            with_ratio(r["nz_macs"], b["nz_macs"]), "%d of %d" % (r["sparse"], r["layers"]),
            "{:,}".format(r["arena"]), fmt_cpu_ms(r["ms"]),
            "-" if r is b else "%.2fx" % (b["ms"] / r["ms"]), str(r["runs"])]


def pytorch_text(run_info, rows, notes, profiles):
    out = ["## cnnc vs PyTorch: latency (median ms per batch)", ""]
    out += ["- %s: %s" % kv for kv in run_info]
    out += ["",
            "ours = cnnc's generated C (`cnnc --main --batch B`, `cc %s`; for T > 1 threads "
            "`cnnc --threads T` and `-fopenmp`, OpenBLAS with "
            "OPENBLAS_NUM_THREADS=threads); eager = the PyTorch module under torch.no_grad(); "
            "frozen = torch.jit.freeze(torch.jit.trace(module)); PyTorch with "
            "torch.set_num_threads(threads) and its OpenBLAS set to as many; ORT = ONNX Runtime's "
            "CPU provider on the module exported by torch.onnx.export (opset %d, constant "
            "folding), graph optimizations all, sequential execution, intra-op threads = "
            "threads, inputs and outputs bound once (one OrtApi::Run call per run, through "
            "ctypes: about 2 us of the figure, which matters on lenet5 only). Each "
            "output is checked once against eager's before timing. Timed in one run, "
            "alternating ours, eager, frozen, ORT "
            "in rounds; each figure is the median over rounds of each round's median. "
            "GFLOP/s = 2 x MACs / time. %% of peak is of `threads` cores, with the peak from "
            "/proc/cpuinfo's flags and clock; %% of measured peak uses what bench/fma_peak.c "
            "reached instead (see above). A ratio below 1 means ours is faster. "
            "runs = timed runs in all rounds." % (" ".join(CFLAGS), ORT_OPSET), ""]
    out.append(markdown_table(rows) if rows else "(no network was timed)")
    if notes:
        out += ["", "### Checks and notes", ""]
        out += ["- " + n for n in notes]
    if profiles:
        out += ["", "### Per-layer profile (batch 1, 1 thread, `cnnc --profile`)", "",
                "Mean ms per call of each layer over the timed runs of `prog --bench N`; the "
                "last line is the median of the same runs (a mean is more sensitive to "
                "other load than a median)."]
        for name, table in profiles:
            out += ["", "#### %s" % name, "", "```"] + table + ["```"]
    return "\n".join(out)


CPU_METHOD = (
    "Batch 1, one thread (OPENBLAS_NUM_THREADS=1), %s, each network's own weights "
    "(`init` or its weights file). CPU ms = CPU time (user + system) per inference of "
    "`prog --bench N`, the program's start cancelled by subtracting a `--bench 1` run "
    "(bench.py's CpuTime): time on a CPU, not waiting for one, so it holds up on a shared "
    "machine better than wall-clock. The variants of a row group alternate in rounds; each "
    "figure is the median over rounds. runs = timed runs in all rounds.")


def optimizer_text(run_info, rows, notes):
    out = ["## Optimizer: -O0 vs -O2", ""]
    out += ["- %s: %s" % kv for kv in run_info]
    out += ["", "Every zoo network compiled with `cnnc -O0` (no pass) and `-O2` (every pass, "
            "the default; docs/optimizer.md). Arena = the static activation arena "
            "(`cnnc --stats`, `NAME_ARENA_BYTES`). -O2 did = layers folded into another's "
            "parameters, removed, and fused into another's loops. The outputs of -O0 and -O2 "
            "are compared before timing. " + CPU_METHOD % ("`cc %s`" % " ".join(CFLAGS)), ""]
    out.append(table(OPT_COLUMNS, [optimizer_cells(r) for r in rows])
               if rows else "(no network was timed)")
    if notes:
        out += [""] + ["- " + n for n in notes]
    return "\n".join(out)


def pruning_text(run_info, rows, notes):
    out = ["## Pruning: pruned vs unpruned", ""]
    out += ["- %s: %s" % kv for kv in run_info]
    statements = []
    for label, lines, options in PRUNE_VARIANTS:
        if lines and not options:
            statements.append("%s: `%s`" % (label, "`, `".join(
                l.format(channels="CHANNELS") for l in lines)))
    out += ["", "Each network with `prune` statements appended (docs/language.md, *Pruning*): "
            + "; ".join(statements) + ", CHANNELS being " + "; ".join(
                "%s: %s" % (pn.name, pn.channel_layers) for pn in PRUNED)
            + ". Compiled with cnnc -O2 (the default), then by cc with the flags of column cc "
            "(-std=c99 as well): the benchmark's, and plain -O2 for baseline x86-64, as "
            "examples/pruning builds it (the sparse kernels are plain C; the dense ones gain "
            "most from -march=native). Counts are after the passes (`cnnc --stats`), with "
            "their ratio to the unpruned network's in parentheses; MACs of nonzero weights "
            "are what a kernel skipping zeros does; sparse layers = conv2d and linear layers "
            "given the sparse kernel. The speed-up is against the unpruned network built with "
            "the same flags. " + CPU_METHOD % "cc flags as in column cc", ""]
    out.append(table(PRUNE_COLUMNS, [pruning_cells(r) for r in rows], left=3)
               if rows else "(no network was timed)")
    if notes:
        out += [""] + ["- " + n for n in notes]
    return "\n".join(out)


def begin_marker(name):
    return "<!-- bench.py section %s -->" % name


def end_marker(name):
    return "<!-- end of section %s -->" % name


def old_sections(path):
    """{section: text} of a results file bench.py wrote (between its markers)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}
    found = {}
    for name in SECTIONS:
        m = re.search(re.escape(begin_marker(name)) + r"\n(.*?)\n" + re.escape(end_marker(name)),
                      text, re.S)
        if m:
            found[name] = m.group(1)
    return found


def report(mach, texts):
    out = ["# cnnc benchmark results", "",
           "Written by `make bench` (bench/bench.py); do not edit by hand. A run of some "
           "sections only (`--sections`, `BENCH_SECTIONS`) replaces those and keeps the "
           "others, each with the date and load of the run that measured it.", "",
           "## Machine", ""]
    out += ["- %s: %s" % kv for kv in mach]
    for name in SECTIONS:
        if name in texts:
            out += ["", begin_marker(name), texts[name], end_marker(name)]
    out += ["", "Reproduce: `make bench` (options: `BENCH_QUICK=1`, `BENCH_NETS=a,b`, "
            "`BENCH_SECTIONS=optimizer,pruning`; see `/usr/bin/python3 bench/bench.py --help`).",
            ""]
    return "\n".join(out)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Benchmark cnnc's generated code: against PyTorch, -O0 against -O2, "
        "pruned against unpruned.")
    p.add_argument("--quick", action="store_true", help="few runs: a smoke test (the optimizer "
                   "section leaves out resnet18 and mobilenet_v2 unless --nets names them)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help="comma-separated sections to run (default: all): pytorch (cnnc vs "
                   "PyTorch, per batch and threads, with per-layer profiles), optimizer (-O0 "
                   "vs -O2: arena and CPU time), pruning (pruned vs unpruned); the last two "
                   "need no PyTorch")
    p.add_argument("--nets", default="", help="comma-separated network names (default: all)")
    p.add_argument("--batches", default="1,64", help="batch sizes (default 1,64)")
    p.add_argument("--threads", default="1,2", help="thread counts (default 1,2; capped at the "
                   "cores available)")
    p.add_argument("--ghz", type=float, help="clock for the peak (default: /proc/cpuinfo)")
    p.add_argument("--flops-per-cycle", type=int, help="FP32 FLOP/cycle/core (default: from "
                   "/proc/cpuinfo flags)")
    p.add_argument("--budget", type=float, default=30.0,
                   help="seconds of timing per network, batch and thread count (default 30)")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the per-layer profiles")
    p.add_argument("--check", action="store_true", help="exit 1 unless the optimizer and "
                   "pruning sections' counts are as they must be (-O2's arena no larger than "
                   "-O0's, pruned networks smaller; not the times): make check's smoke test")
    p.add_argument("--out", help="where to write the results (default: bench/RESULTS.md for a "
                   "full run, or a run of some sections in full, whose others it keeps; "
                   "build/bench/RESULTS.md otherwise)")
    args = p.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.threads = [int(t) for t in args.threads.split(",") if t]
    args.nets = [n for n in args.nets.split(",") if n]
    args.sections = [x for x in args.sections.split(",") if x]
    unknown = [x for x in args.sections if x not in SECTIONS]
    if unknown or not args.sections:
        p.error("unknown section(s) %s; the sections are %s" % (
            ", ".join(unknown) or "(none given)", ", ".join(SECTIONS)))
    return args


def load_info(meter, loadavg0, cores):
    """What else ran during a section: `uptime`'s 1-minute load average before
    and after, and the other processes' average CPU use (LoadMeter)."""
    other = meter.other_cores()
    text = "load average (uptime, 1 min) %.2f before, %.2f after" % (
        loadavg0, os.getloadavg()[0])
    if other is not None:
        text += "; other processes kept %.2f of %d cores busy on average" % (other, cores)
    return other, text


def section_pytorch(args, cores, flags, peak_core, peak_text, measured, how):
    thread_list = [t for t in args.threads if t <= cores]
    if len(thread_list) < len(args.threads):
        log("bench: %d core(s) available: threads limited to %s" % (cores, thread_list))
    if torch is None:
        log("bench: PyTorch skipped (%s); timing cnnc's code alone. "
            "`tools/install-deps.sh bench` installs python3-torch." % TORCH_MISSING)
    else:
        torch.manual_seed(0)
    load_ort()
    if ORT is None:
        log("bench: ONNX Runtime skipped (%s)" % ORT_MISSING)
    else:
        log("bench: ONNX Runtime %s (%s)" % (ORT.version, ORT.path))
    busy = LoadMeter.now()
    if busy is not None and busy > 0.05:
        log("bench: WARNING: other processes keep %.2f of %d cores busy; figures (2-thread "
            "ones most) will be slower and noisier than on an idle machine" % (busy, cores))
    meter, loadavg0 = LoadMeter(), os.getloadavg()[0]
    rows, notes, profiles = [], [], []
    for net in ZOO:
        if args.nets and net.name not in args.nets:
            continue
        try:
            bench_net(net, args, thread_list, peak_core, rows, notes, profiles)
        except Skip as e:
            notes.append("%s: stopped: %s" % (net.name, e))
            log("   stopped: %s" % e)
    other, load_text = load_info(meter, loadavg0, cores)
    again, _ = measured_peak(flags)
    if measured and again and again > measured:
        rescale = measured / again  # the % of measured peak columns used the first figure
        for r in rows:
            r["mpeak"] = r["mpeak"] * rescale if r["mpeak"] is not None else None
        measured = again
    info = [("cnnc", first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"]))]
    if torch is not None:
        info.append(("PyTorch", "%s (oneDNN %s)" % (
            torch.__version__, "on" if torch.backends.mkldnn.is_available() else "off")))
    else:
        info.append(("PyTorch", "not installed (%s): skipped" % TORCH_MISSING))
    info.append(("ONNX Runtime", ort_version_text()))
    info.append(("date", now_utc()))
    info.append(("peak (flags)", peak_text))
    info.append(("peak (measured)", "%.1f GFLOP/s per core (%s, before and after the networks, "
                 "the larger), %.2f x the peak from flags" % (measured, how, measured / peak_core)
                 if measured else "not measured: " + how))
    if other is not None:
        info.append(("other load", "%.2f of %d cores busy with other processes during the "
                     "run, on average (%.2f just before it; %s)%s" % (
                         other, cores, busy if busy is not None else float("nan"),
                         load_text.split(";")[0],
                         ": the figures are slower and noisier than on an idle machine, "
                         "2-thread ones most (each parallel region waits for whichever of "
                         "its threads shares a core with another process, and PyTorch has "
                         "one per op)" if max(other, busy or 0) > 0.05 else "")))
    log("")
    log(markdown_table(rows))
    for n in notes:
        log("note: " + n)
    return pytorch_text(info, rows, notes, profiles)


def section_cnnc(name, items, bench_fn, text_fn, args, cores):
    """The optimizer or pruning section: bench_fn(item, args, rows, notes) per item."""
    meter, loadavg0 = LoadMeter(), os.getloadavg()[0]
    rows, notes = [], []
    for item in items:
        if args.nets and item.name not in args.nets:
            continue
        if not os.path.exists(item.cnn):
            notes.append("%s: skipped, %s does not exist" % (
                item.name, os.path.relpath(item.cnn, ROOT)))
            continue
        try:
            bench_fn(item, args, rows, notes)
        except Skip as e:
            notes.append("%s: stopped: %s" % (item.name, e))
            log("   stopped: %s" % e)
    _, load_text = load_info(meter, loadavg0, cores)
    info = [("cnnc", first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"])),
            ("date", now_utc()), ("load", load_text)]
    text = text_fn(info, rows, notes)
    log("")
    log(text)
    return text, rows, notes


def check_results(args, found):
    """--check (make check's smoke test): what must hold whatever the load, as
    a list of failures. Every network asked for has its rows (its outputs at
    -O0 and -O2 agreed); -O2's arena is no larger than -O0's; each pruned
    variant has fewer nonzero weights and MACs than the unpruned network,
    70% unstructured leaves 30% of the weights (and the biases), structured
    pruning removes parameters and channels, and "both" has fewer nonzero
    parameters than either alone. Times are not checked."""
    bad = []
    for name, (_, rows, notes) in found.items():
        bad += ["%s: %s" % (name, n) for n in notes if "stopped" in n or "skipped" in n]
        items = ZOO if name == "optimizer" else PRUNED
        for item in items:
            if (not args.nets or item.name in args.nets) and os.path.exists(item.cnn) and \
                    not (name == "optimizer" and args.quick and item.big and
                         item.name not in args.nets) and \
                    not any(r["net"] == item.name for r in rows):
                bad.append("%s: no row for %s" % (name, item.name))
    for r in found.get("optimizer", (None, [], []))[1]:
        if r["arena2"] > r["arena0"]:
            bad.append("optimizer: %s: arena -O2 %d > -O0 %d" % (r["net"], r["arena2"],
                                                                 r["arena0"]))
    for r in found.get("pruning", (None, [], []))[1]:
        b, v, what = r["base"], r["variant"], "pruning: %s, %s: " % (r["net"], r["variant"])
        if r is b:
            continue
        if not (r["nz_params"] < b["nz_params"] and r["nz_macs"] < b["nz_macs"]):
            bad.append(what + "no fewer nonzero parameters or MACs than unpruned")
        if v.startswith("70% unstructured") and not (
                0.29 < r["nz_params"] / b["nz_params"] < 0.32 and r["params"] == b["params"]):
            bad.append(what + "%d of %d parameters nonzero, not 30%%" % (r["nz_params"],
                                                                          r["params"]))
        if v in ("50% structured", "both") and not (r["params"] < b["params"] and
                                                    r["macs"] < b["macs"] and r["channels"]):
            bad.append(what + "no channel removed")
        if v == "both" and not all(r["nz_params"] < o["nz_params"] for o in
                                   found["pruning"][1] if o["net"] == r["net"] and o is not r
                                   and o["base"] is b and o is not b):
            bad.append(what + "not fewer nonzero parameters than either pruning alone")
    return bad


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def main(argv):
    args = parse_args(argv)
    if not os.access(CNNC, os.X_OK):
        sys.stderr.write("bench: %s not found; run make first\n" % os.path.relpath(CNNC))
        return 2
    known = [n.name for n in ZOO] + [n.name for n in PRUNED if n.name not in
                                     [z.name for z in ZOO]]
    unknown = [n for n in args.nets if n not in known]
    if unknown:
        sys.stderr.write("bench: unknown network(s) %s; the zoo has %s\n" % (
            ", ".join(unknown), ", ".join(known)))
        return 2
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    os.makedirs(WORK, exist_ok=True)
    mach = machine(cores)
    for k, v in mach:
        log("%s: %s" % (k, v))
    log("load average (uptime): %.2f %.2f %.2f" % os.getloadavg())

    texts = {}
    if "pytorch" in args.sections:
        peak_core, peak_text, flags = peak_model(args)
        # Measured before the networks, and again after them: the larger is kept
        # (on a busy machine one of the two may have shared its core).
        measured, how = measured_peak(flags)
        args.measured_peak = measured
        log("peak (flags): %s" % peak_text)
        texts["pytorch"] = section_pytorch(args, cores, flags, peak_core, peak_text, measured,
                                           how)
    found = {}
    if "optimizer" in args.sections:
        found["optimizer"] = section_cnnc("optimizer", ZOO, bench_optimizer, optimizer_text,
                                          args, cores)
    if "pruning" in args.sections:
        found["pruning"] = section_cnnc("pruning", PRUNED, bench_pruning, pruning_text, args,
                                        cores)
    texts.update((name, f[0]) for name, f in found.items())

    full = not (args.quick or args.nets) and (
        "pytorch" not in args.sections or (args.batches == [1, 64] and args.threads == [1, 2]))
    out = args.out or os.path.join(ROOT, "bench" if full else "build/bench", "RESULTS.md")
    if full:  # keep the sections not run from the file's last full run
        for name, text in old_sections(out).items():
            texts.setdefault(name, text)
    with open(out, "w", encoding="utf-8") as f:
        f.write(report(mach, texts))
    log("\nwrote %s" % os.path.relpath(out))
    if args.check:
        bad = check_results(args, found)
        for b in bad:
            sys.stderr.write("bench: check failed: %s\n" % b)
        if bad:
            return 1
        log("bench: checks passed (%s)" % ", ".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
