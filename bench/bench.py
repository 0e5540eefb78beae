#!/usr/bin/python3
"""Benchmark cnnc's generated code against PyTorch, eager and frozen (`make bench`).

Usage (from any directory; Debian's python3 and, optionally, python3-torch,
python3-numpy and python3-torchvision; no PyPI):

    /usr/bin/python3 bench/bench.py [--quick] [--nets lenet5,cifar_vgg] [--ghz 3.6]
                                    [--flops-per-cycle 32] [--batches 1,64]
                                    [--threads 1,2] [--budget S] [--out FILE]
                                    [--no-profile]

For every network of ZOO below whose .cnn exists, and for each batch size:

1. cnnc compiles it with `--main --batch B` and `cc -O3 -march=native` builds
   the program. Weights: the .cnn's own `init` (the PyTorch module draws the
   same values with tests/gen/gen_golden.py's apply_init) or its weights file
   (loaded into the module); a network whose weights file is absent, or whose
   entry says weights="torch", gets the module's he(seed=1) init written to a
   safetensors file and passed with `cnnc --weights`.
2. One run on a random input checks that our output and PyTorch's agree
   (max abs difference within 1e-3 of the largest output), so a benchmark
   never times wrong code. A network that disagrees is not timed.
3. For 1 and 2 threads (never more than the cores available; ours through
   OPENBLAS_NUM_THREADS and OMP_NUM_THREADS, PyTorch through
   torch.set_num_threads and openblas_set_num_threads), ours (`prog --bench N`, which prints the median of
   N runs after N/10+1 warm-up runs), PyTorch eager and PyTorch frozen
   (torch.jit.trace + torch.jit.freeze) are timed in alternating rounds:
   ours, eager, frozen, ours, ... Each round times N runs of one
   implementation after a warm-up and keeps their median; the figure reported
   is the median of the rounds.

Then a per-layer profile of each network at batch 1, 1 thread (`cnnc
--profile`). It prints the table and writes it, with the machine it ran on, to
bench/RESULTS.md (a full run) or build/bench/RESULTS.md (--quick, --nets or
other partial runs, so a smoke test never overwrites the committed figures).

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
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
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

    def __init__(self, name, cnn, build, weights="source"):
        self.name = name
        self.cnn = os.path.join(ROOT, cnn)
        self.build = build
        self.weights = weights


ZOO = [
    Net("lenet5", "examples/lenet5/lenet5.cnn", lenet5),
    Net("fmnist_cnn", "bench/zoo/fmnist_cnn.cnn", fmnist_cnn),
    Net("cifar_vgg", "bench/zoo/cifar_vgg.cnn", cifar_vgg),
    Net("tiny_fpn", "examples/tiny_fpn/tiny_fpn.cnn", golden_case_module("tiny_fpn")),
    Net("resnet18", "examples/resnet18/resnet18.cnn", torchvision_model("resnet18"), "torch"),
    Net("mobilenet_v2", "examples/mobilenet_v2/mobilenet_v2.cnn",
        torchvision_model("mobilenet_v2"), "torch"),
]

# --------------------------------------------------------------------------
# Small helpers


def log(msg):
    print(msg, flush=True)


def run(cmd, env=None, timeout=1800):
    """Run a command; return its stdout, or raise Skip with its first error lines."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=timeout, universal_newlines=True)
    if p.returncode != 0:
        lines = [l for l in (p.stderr + p.stdout).splitlines() if l.strip()]
        raise Skip("%s failed: %s" % (os.path.basename(cmd[0]), " | ".join(lines[:3])))
    return p.stdout


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


def machine(args, peak_text, measured_text, cores):
    ci = cpuinfo()
    m = [("CPU", ci["model"]), ("cores available", str(cores)),
         ("compiler", "%s (%s)" % (first_line([CC, "--version"]), " ".join(CFLAGS))),
         ("OpenBLAS", first_line(["dpkg-query", "-W", "-f", "${Version}\n", "libopenblas0"])),
         ("cnnc", first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"])),
         ("Python", platform.python_version())]
    if torch is not None:
        m.append(("PyTorch", "%s (oneDNN %s)" % (
            torch.__version__, "on" if torch.backends.mkldnn.is_available() else "off")))
    else:
        m.append(("PyTorch", "not installed (%s): skipped" % TORCH_MISSING))
    m.append(("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    m.append(("peak (flags)", peak_text))
    m.append(("peak (measured)", measured_text))
    return m


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


def build_program(net, batch, flags, workdir, profile=False):
    """Compile with cnnc and cc; return (program, .c path, .h path)."""
    stem = os.path.join(workdir, "%s_b%d%s" % (net.name, batch, "_prof" if profile else ""))
    cmd = [CNNC, net.cnn, "--main", "--batch", str(batch), "-o", stem + ".c"] + flags
    if profile:
        cmd.append("--profile")
    run(cmd)
    cflags = run([CNNC, "--cflags"]).split()
    libs = run([CNNC, "--libs"]).split()
    run([CC] + CFLAGS + [stem + ".c"] + cflags + ["-o", stem] + libs)
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

    def __init__(self, impls, quick, budget_s):
        self.impls = impls  # ordered {name: fn}
        self.quick = quick
        self.budget_s = budget_s

    def measure(self):
        # Calibrate: one short measurement each (also warms every implementation up).
        est = {k: max(fn(1), 1e-3) for k, fn in self.impls.items()}
        round_ms = 40.0 if self.quick else 250.0
        runs = {k: int(min(2000, max(1, round_ms / t))) for k, t in est.items()}
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

        for threads in thread_list:
            impls["ours"] = lambda n, t=threads: time_ours(prog, inp, out, n, t)
            if module is not None:
                set_torch_threads(threads)
            ms, runs = Timer(impls, args.quick, args.budget).measure()
            gflops = 2.0 * macs / (ms["ours"] * 1e6)
            row = {"net": net.name, "batch": batch, "threads": threads, "ours": ms["ours"],
                   "eager": ms.get("eager"), "frozen": ms.get("frozen"), "gflops": gflops,
                   "peak": 100.0 * gflops / (peak_core * threads),
                   "mpeak": 100.0 * gflops / (args.measured_peak * threads)
                   if args.measured_peak else None, "runs": runs["ours"],
                   "truns": runs.get("eager")}
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
# Output


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.3f" % v if v < 100 else "%.1f" % v


def fmt_ratio(a, b):
    return "-" if a is None or b is None else "%.2f" % (a / b)


COLUMNS = ["network", "batch", "threads", "ours ms", "eager ms", "frozen ms", "ours GFLOP/s",
           "% of peak", "% of measured peak", "ours/eager", "ours/frozen", "runs (ours/torch)"]


def row_cells(r):
    return [r["net"], str(r["batch"]), str(r["threads"]), fmt_ms(r["ours"]), fmt_ms(r["eager"]),
            fmt_ms(r["frozen"]), "%.1f" % r["gflops"], "%.0f%%" % r["peak"],
            "%.0f%%" % r["mpeak"] if r["mpeak"] is not None else "-",
            fmt_ratio(r["ours"], r["eager"]), fmt_ratio(r["ours"], r["frozen"]),
            "%d/%s" % (r["runs"], r["truns"] if r["truns"] else "-")]


def format_row(r, plain=False):
    cells = row_cells(r)
    if plain:
        return "  ".join("%s=%s" % (k, v) for k, v in zip(COLUMNS[1:], cells[1:]))
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join(["---"] * 3 + ["---:"] * (len(COLUMNS) - 3)) + "|"]
    lines += [format_row(r) for r in rows]
    return "\n".join(lines)


def report(args, mach, rows, notes, profiles):
    out = ["# cnnc benchmark results", "",
           "Written by `make bench` (bench/bench.py); do not edit by hand.", "",
           "## Machine", ""]
    out += ["- %s: %s" % kv for kv in mach]
    out += ["", "## Latency (median ms per batch)", "",
            "ours = cnnc's generated C (`cnnc --main --batch B`, `cc %s`, OpenBLAS with "
            "OPENBLAS_NUM_THREADS=threads); eager = the PyTorch module under torch.no_grad(); "
            "frozen = torch.jit.freeze(torch.jit.trace(module)); PyTorch with "
            "torch.set_num_threads(threads) and its OpenBLAS set to as many. Timed in one run, alternating ours, eager, frozen "
            "in rounds; each figure is the median over rounds of each round's median. "
            "GFLOP/s = 2 x MACs / time. %% of peak is of `threads` cores, with the peak from "
            "/proc/cpuinfo's flags and clock; %% of measured peak uses what bench/fma_peak.c "
            "reached instead (see Machine). A ratio below 1 means ours is faster. "
            "runs = timed runs in all rounds." % " ".join(CFLAGS), ""]
    out.append(markdown_table(rows) if rows else "(no network was timed)")
    if notes:
        out += ["", "## Checks and notes", ""]
        out += ["- " + n for n in notes]
    if profiles:
        out += ["", "## Per-layer profile (batch 1, 1 thread, `cnnc --profile`)", "",
                "Mean ms per call of each layer over the timed runs of `prog --bench N`; the "
                "last line is the median of the same runs (a mean is more sensitive to "
                "other load than a median)."]
        for name, table in profiles:
            out += ["", "### %s" % name, "", "```"] + table + ["```"]
    out += ["", "Reproduce: `make bench` (options: `BENCH_QUICK=1`, `BENCH_NETS=a,b`; see "
            "`/usr/bin/python3 bench/bench.py --help`).", ""]
    return "\n".join(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Benchmark cnnc's generated code against PyTorch.")
    p.add_argument("--quick", action="store_true", help="few runs: a smoke test")
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
    p.add_argument("--out", help="where to write the results (default: bench/RESULTS.md for a "
                   "full run, build/bench/RESULTS.md otherwise)")
    args = p.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.threads = [int(t) for t in args.threads.split(",") if t]
    args.nets = [n for n in args.nets.split(",") if n]
    return args


def main(argv):
    args = parse_args(argv)
    if not os.access(CNNC, os.X_OK):
        sys.stderr.write("bench: %s not found; run make first\n" % os.path.relpath(CNNC))
        return 2
    known = [n.name for n in ZOO]
    unknown = [n for n in args.nets if n not in known]
    if unknown:
        sys.stderr.write("bench: unknown network(s) %s; the zoo has %s\n" % (
            ", ".join(unknown), ", ".join(known)))
        return 2
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    thread_list = [t for t in args.threads if t <= cores]
    if len(thread_list) < len(args.threads):
        log("bench: %d core(s) available: threads limited to %s" % (cores, thread_list))
    os.makedirs(WORK, exist_ok=True)
    peak_core, peak_text, flags = peak_model(args)
    # Measured before the networks, and again after them: the larger is kept
    # (on a busy machine one of the two may have shared its core).
    measured, how = measured_peak(flags)
    args.measured_peak = measured
    mach = machine(args, peak_text, "see below", cores)
    for k, v in mach:
        log("%s: %s" % (k, v))
    if torch is None:
        log("bench: PyTorch skipped (%s); timing cnnc's code alone. "
            "`tools/install-deps.sh bench` installs python3-torch." % TORCH_MISSING)
    else:
        torch.manual_seed(0)

    busy = LoadMeter.now()
    if busy is not None and busy > 0.05:
        log("bench: WARNING: other processes keep %.2f of %d cores busy; figures (2-thread "
            "ones most) will be slower and noisier than on an idle machine" % (busy, cores))
    meter = LoadMeter()
    rows, notes, profiles = [], [], []
    for net in ZOO:
        if args.nets and net.name not in args.nets:
            continue
        try:
            bench_net(net, args, thread_list, peak_core, rows, notes, profiles)
        except Skip as e:
            notes.append("%s: stopped: %s" % (net.name, e))
            log("   stopped: %s" % e)

    other = meter.other_cores()
    again, _ = measured_peak(flags)
    if measured and again and again > measured:
        rescale = measured / again  # the % of measured peak columns used the first figure
        for r in rows:
            r["mpeak"] = r["mpeak"] * rescale if r["mpeak"] is not None else None
        measured = again
    mach = [(k, "%.1f GFLOP/s per core (%s, before and after the networks, the larger), "
             "%.2f x the peak from flags" % (measured, how, measured / peak_core)
             if measured else "not measured: " + how) if k == "peak (measured)" else (k, v)
            for k, v in mach]
    if other is not None:
        mach.append(("other load", "%.2f of %d cores busy with other processes during the "
                         "run, on average (%.2f just before it)%s" % (
                             other, cores, busy if busy is not None else float("nan"),
                             ": the figures are slower and noisier than on an idle machine, "
                             "2-thread ones most (each parallel region waits for whichever of "
                             "its threads shares a core with another process, and PyTorch has "
                             "one per op)" if max(other, busy or 0) > 0.05 else "")))
    text = report(args, mach, rows, notes, profiles)
    full = not (args.quick or args.nets) and args.batches == [1, 64] and args.threads == [1, 2]
    out = args.out or os.path.join(ROOT, "bench" if full else "build/bench", "RESULTS.md")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    log("")
    log(markdown_table(rows))
    log("")
    for n in notes:
        log("note: " + n)
    log("\nwrote %s" % os.path.relpath(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
