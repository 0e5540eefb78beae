#!/usr/bin/python3
"""run.py - real models through the whole pipeline (make check-models; not in make check).

    /usr/bin/python3 tests/models/run.py [--models resnet18,alexnet] [--timeout S]
                                         [--out FILE.md] [--keep DIR]

For each model: build it with torchvision (weights=None: no downloads; seeded
random init, BatchNorm affine parameters randomised and running statistics
measured on seeded random batches, FrozenBatchNorm2d buffers randomised),
export it with tools/torch2cnn.py, compile the .cnn with build/cnnc --main at
-O2 and at -O0, build each with `cc -O2` (under /usr/bin/time -v for the peak
memory), run both on a seeded input and compare every output with PyTorch's:
|ours - torch| <= 1e-4 + 1e-3 * max|torch| (per output).

Then it times the -O2 program (`prog --bench N`, its median_ms=) against
torch.jit.freeze(torch.jit.trace(model)), both at one thread and batch 1,
alternating in rounds (--bench-budget seconds per model, default 10; 0: no
timing): wall-clock medians, so on a shared machine they move with its load.

Prints a table (model, parameters, C source size + weights blob size, cnnc
seconds, cc seconds, cc peak MB, max error, cnnc ms, PyTorch frozen ms,
status) to stdout and writes it as markdown, with every blocker the exporter
reported, to --out (default $BUILD/models/report.md).
Status: pass, fail (which stage and why; also a cc that takes more than
--cc-max-s wall-clock seconds, default 60, or more than --cc-max-mb MB, default
2048), timeout, or blocked: the kinds the exporter cannot express, with their
counts. Exits 1 if a model fails or times out (blocked models do not count:
they are the exporter's report).

Big models (vgg11_bn, wide_resnet50_2, alexnet) have their weights in a blob
beside the C source (cnnc's default --weights-as=auto), so cc takes seconds and
little memory; the whole list still takes a while: run it niced on a shared machine.
"""

import argparse
import gc
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("check-models: skipped: %s cannot import torch (install python3-torch)"
          % sys.executable)
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)

from torch2cnn import ExportError, export  # noqa: E402

ATOL = 1e-4
RTOL = 1e-3
OPTS = ("-O2", "-O0")


# ---------------------------------------------------------------------------
# The models


def _classifier(name):
    def build():
        import torchvision
        return getattr(torchvision.models, name)(weights=None)
    return build


def _segmentation(name):
    def build():
        import torchvision
        return getattr(torchvision.models.segmentation, name)(weights=None,
                                                              weights_backbone=None)
    return build


def _fpn():
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    return resnet_fpn_backbone(backbone_name="resnet18", weights=None)


def _unet():
    from unet import UNet
    return UNet()


IMAGE = (3, 224, 224)
# name, builder, input shape (without the batch)
MODELS = [(n, _classifier(n), IMAGE) for n in (
    "alexnet", "vgg11_bn", "resnet18", "resnet34", "resnet50", "resnext50_32x4d",
    "wide_resnet50_2", "squeezenet1_0", "squeezenet1_1", "densenet121", "googlenet")]
MODELS += [("inception_v3", _classifier("inception_v3"), (3, 299, 299))]
MODELS += [(n, _classifier(n), IMAGE) for n in (
    "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "mnasnet0_5", "efficientnet_b0", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny")]
MODELS += [
    ("resnet18_fpn", _fpn, IMAGE),
    ("deeplabv3_mobilenet_v3_large", _segmentation("deeplabv3_mobilenet_v3_large"), IMAGE),
    ("lraspp_mobilenet_v3_large", _segmentation("lraspp_mobilenet_v3_large"), IMAGE),
    ("unet", _unet, (3, 64, 64)),
]


def _randomize(model, shape, seed):
    """Non-trivial normalisation: BatchNorm weight and bias random, running
    statistics measured in train mode on two seeded random batches (so the
    activations keep a sane scale through deep networks); FrozenBatchNorm2d
    buffers random. Leaves the model in eval mode."""
    frozen = ()
    try:
        from torchvision.ops.misc import FrozenBatchNorm2d
        frozen = (FrozenBatchNorm2d,)
    except ImportError:
        pass
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
            elif frozen and isinstance(m, frozen):
                c = m.weight.numel()
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
        if bns:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the batches below
            model.train()
            for _ in range(2):
                model(torch.randn((2,) + tuple(shape), generator=gen))
            for m in bns:
                m.momentum = 0.1
    return model.eval()


def _outputs(y):
    if isinstance(y, torch.Tensor):
        return [y]
    if isinstance(y, dict):
        return list(y.values())
    return list(y)


# ---------------------------------------------------------------------------
# Running things


class Timeout(Exception):
    pass


def _run(cmd, deadline, cwd=None, env=None):
    """Run `cmd` (its own process group, killed whole at the deadline);
    returns (status, seconds, output)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise Timeout()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=left)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise Timeout()
    return p.returncode, time.monotonic() - t0, out.decode("utf-8", "replace")


def _first_lines(text, n=3):
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[:n])


def _blocked_reason(e):
    """'mul x16, Hardsigmoid x8' from the exporter's blockers, or the first
    line (and the 'at' line) of an error that is not about nodes."""
    if e.blockers:
        counts, texts = {}, {}
        for b in e.blockers:
            k = b.short
            if b.msg != "is not supported by cnnc":  # supported, but not like this
                k += " " + re.split(r"[;(]", b.msg, 1)[0].strip().rstrip(":")
            key = re.sub(r"[0-9]+", "N", k)  # one entry for 'concatenates 17/18/.. tensors'
            counts[key] = counts.get(key, 0) + 1
            texts[key] = k if texts.get(key, k) == k else key
        return ", ".join("%s x%d" % (texts[k], n) if n > 1 else texts[k]
                         for k, n in counts.items())
    lines = str(e).splitlines()
    first = re.sub(r"^torch\.fx could not trace \w+: ", "fx: ", lines[0])
    at = [ln.strip().split(": ", 1)[0] for ln in lines[1:] if ln.strip().startswith("at ")]
    return first + (" " + at[0] if at else "")


def run_model(name, build, shape, args, work, deadline):
    """One row of the table (a dict), and the exporter's message if blocked."""
    row = {"model": name, "params": "", "c_mb": "", "cnnc_s": "", "cc_s": "", "cc_mb": "",
           "err": "", "ours_ms": "", "torch_ms": "", "status": ""}
    torch.manual_seed(args.seed)
    model = build()
    row["params"] = "{:,}".format(sum(p.numel() for p in model.parameters()))
    model = _randomize(model, shape, args.seed)
    x = torch.randn((1,) + tuple(shape), generator=torch.Generator().manual_seed(args.seed + 1))
    with torch.no_grad():
        refs = [t.detach().float().numpy().ravel() for t in _outputs(model(x))]
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    cnn = os.path.join(d, name + ".cnn")
    try:
        export(model, x, cnn)
    except ExportError as e:
        row["status"] = "blocked: " + _blocked_reason(e)
        return row, str(e)
    inp = os.path.join(d, "input.f32")
    x.numpy().astype("<f4").tofile(inp)

    cflags = subprocess.check_output([args.cnnc, "--cflags"], text=True).split()
    libs = subprocess.check_output([args.cnnc, "--libs"], text=True).split()
    cnnc_s, c_mb, cc_s, cc_mb, errs = [], [], [], [], []
    worst, worst_rel = 0.0, 0.0
    for opt in OPTS:
        tag = opt.lstrip("-")
        c = os.path.join(d, "%s_%s.c" % (name, tag))
        prog = os.path.join(d, "prog_" + tag)
        try:
            st, secs, out = _run([args.cnnc, cnn, opt, "--main", "-o", c], deadline)
            if st:
                row["status"] = "fail: cnnc %s: %s" % (opt, _first_lines(out, 2))
                return row, None
            cnnc_s.append("%.1f" % secs)
            size = "%.2g" % (os.path.getsize(c) / 1e6)
            if os.path.exists(c + ".weights"):  # --weights-as=incbin: the blob beside it
                size += " + %.1f" % (os.path.getsize(c + ".weights") / 1e6)
            c_mb.append(size)
            st, secs, out = _run(["/usr/bin/time", "-v", args.cc, "-std=c99", "-O2", c]
                                 + cflags + ["-o", prog] + libs, deadline)
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
            if st:
                row["status"] = "fail: cc (%s): %s" % (opt, _first_lines(out, 2))
                return row, None
            cc_s.append("%.1f" % secs)
            cc_mb.append("%.0f" % (int(m.group(1)) / 1024) if m else "?")
            if secs > args.cc_max_s:
                errs.append("cc (%s) took %.0f s > %g s" % (opt, secs, args.cc_max_s))
            if m and int(m.group(1)) / 1024 > args.cc_max_mb:
                errs.append("cc (%s) needed %.0f MB > %g MB"
                            % (opt, int(m.group(1)) / 1024, args.cc_max_mb))
            got = os.path.join(d, "out_%s.f32" % tag)
            st, secs, out = _run([prog, inp, got], deadline)
            if st:
                row["status"] = "fail: run (%s): %s" % (opt, _first_lines(out, 2))
                return row, None
        except Timeout:
            row["status"] = "timeout (%s, after %d s)" % (opt, args.timeout)
            return row, None
        finally:
            row["cnnc_s"], row["c_mb"] = " / ".join(cnnc_s), " / ".join(c_mb)
            row["cc_s"], row["cc_mb"] = " / ".join(cc_s), " / ".join(cc_mb)
        y = np.fromfile(got, dtype="<f4")
        if y.size != sum(r.size for r in refs):
            row["status"] = "fail: %s wrote %d values, PyTorch has %d" % (
                opt, y.size, sum(r.size for r in refs))
            return row, None
        at = 0
        for r in refs:
            diff = np.abs(y[at:at + r.size].astype(np.float64) - r)
            at += r.size
            scale = float(np.abs(r).max()) if r.size else 0.0
            err = float(diff.max()) if r.size else 0.0
            if not np.all(np.isfinite(y)):
                err = float("inf")
            worst = max(worst, err)
            worst_rel = max(worst_rel, err / scale if scale else err)
            if not err <= ATOL + RTOL * scale:
                errs.append("%s: max err %.3g > %.3g (scale %.3g)"
                            % (opt, err, ATOL + RTOL * scale, scale))
    row["err"] = "%.2g (%.1g)" % (worst, worst_rel)
    row["status"] = "fail: " + "; ".join(errs) if errs else "pass"
    if args.bench_budget > 0:
        try:
            ours, theirs = bench(os.path.join(d, "prog_O2"), inp, os.path.join(d, "bench.f32"),
                                 model, x, args.bench_budget, deadline)
            row["ours_ms"], row["torch_ms"] = "%.1f" % ours, "%.1f" % theirs
        except Timeout:
            row["status"] += "; timeout while timing"
        except Exception as e:  # noqa: BLE001 - a timing that failed is a note, not a fail
            row["torch_ms"] = "? (%s: %s)" % (type(e).__name__, str(e).splitlines()[0][:80])
    return row, None


# ---------------------------------------------------------------------------
# Timing: cnnc's -O2 program against PyTorch's frozen TorchScript, one thread


def _one_thread():
    """torch at one intra-op thread, and the OpenBLAS it calls for linear layers
    (Debian's torch loads OpenBLAS as libblas.so.3 and libopenblas.so.0, each
    with a pool as large as the machine unless told): as bench/bench.py does."""
    import ctypes
    torch.set_num_threads(1)
    for lib in ("libblas.so.3", "libopenblas.so.0"):
        try:
            f = getattr(ctypes.CDLL(lib, mode=os.RTLD_NOLOAD), "openblas_set_num_threads")
        except (OSError, AttributeError):
            continue
        f(1)


def bench(prog, inp, out, model, x, budget_s, deadline):
    """(cnnc ms, PyTorch frozen ms): medians over alternating rounds. Ours is
    `prog --bench N` (its own warm-up of N/10 + 1 runs, then the median of N
    runs, wall-clock), at one thread (OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1);
    PyTorch's is torch.jit.freeze(torch.jit.trace(model)) under torch.no_grad(),
    torch.set_num_threads(1), two warm-up calls, then the median of n calls
    (time.perf_counter). A calibration run of each sizes the rounds so that the
    whole takes about budget_s seconds: three rounds, each side's share of a
    round about budget_s / 8, at least 2 runs; the result is the median of
    each side's round medians."""
    _one_thread()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

    def ours(n):
        st, _, text = _run([prog, "--bench", str(n), inp, out], deadline, env=env)
        m = re.search(r"median_ms=([0-9.eE+-]+)\s*$", text)
        if st or not m:
            raise RuntimeError("%s --bench: %s" % (os.path.basename(prog), _first_lines(text, 2)))
        return float(m.group(1))

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        frozen = torch.jit.freeze(torch.jit.trace(model, x, strict=False))

        def theirs(n, warmup=0):
            for _ in range(warmup):
                frozen(x)
            times = []
            for _ in range(n):
                if time.monotonic() > deadline:
                    raise Timeout()
                t0 = time.perf_counter()
                frozen(x)
                times.append(time.perf_counter() - t0)
            return statistics.median(times) * 1e3

        est_ours = max(ours(1), 1e-3)
        est_theirs = max(theirs(1, warmup=2), 1e-3)
        share = budget_s * 1e3 / 8  # ms per side and round: 3 rounds + the calibration
        n_ours = int(min(10000, max(2, share / est_ours)))
        n_theirs = int(min(10000, max(2, share / est_theirs)))
        mine, others = [], []
        for _ in range(3):
            mine.append(ours(n_ours))
            time.sleep(0.01)
            others.append(theirs(n_theirs, warmup=1))
            time.sleep(0.01)
    return statistics.median(mine), statistics.median(others)


# ---------------------------------------------------------------------------
# The table

COLUMNS = [("model", "model"), ("params", "parameters"), ("c_mb", "C MB (+ blob MB)"),
           ("cnnc_s", "cnnc s"), ("cc_s", "cc s"), ("cc_mb", "cc peak MB"),
           ("err", "max error (rel)"), ("ours_ms", "cnnc ms"),
           ("torch_ms", "PyTorch frozen ms"), ("status", "status")]
NUMERIC = ("params", "c_mb", "cnnc_s", "cc_s", "cc_mb", "err", "ours_ms", "torch_ms")


def table(rows):
    head = "| " + " | ".join(t for _, t in COLUMNS) + " |"
    sep = "|" + "|".join("---:" if k in NUMERIC
                         else "---" for k, _ in COLUMNS) + "|"
    lines = [head, sep]
    for r in rows:
        lines.append("| " + " | ".join(str(r[k]).replace("|", "\\|") for k, _ in COLUMNS)
                     + " |")
    return "\n".join(lines)


def _load():
    """The 1, 5 and 15 minute load averages, as uptime prints them."""
    return ", ".join("%.2f" % v for v in os.getloadavg())


def _machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M).group(1).strip()
    except (OSError, AttributeError):
        pass
    return "%d cores (nproc), %s" % (len(os.sched_getaffinity(0)), cpu)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated names (default: all): "
                   + ", ".join(n for n, _, _ in MODELS))
    p.add_argument("--timeout", type=float, default=1800,
                   help="seconds per model for cnnc, cc and the runs (default 1800)")
    p.add_argument("--out", help="the markdown report (default $BUILD/models/report.md)")
    p.add_argument("--keep", metavar="DIR", help="keep the generated files in DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bench-budget", type=float, default=10, metavar="S",
                   help="seconds of timing per model, cnnc vs PyTorch frozen (default 10; "
                   "0: no timing)")
    p.add_argument("--cc-max-s", type=float, default=60, metavar="S",
                   help="a cc taking longer (wall-clock) fails the model (default 60)")
    p.add_argument("--cc-max-mb", type=float, default=2048, metavar="MB",
                   help="a cc needing more (peak resident set) fails the model (default 2048)")
    p.add_argument("--cnnc", default=os.path.join(ROOT, os.environ.get("BUILD", "build"),
                                                  "cnnc"))
    p.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = p.parse_args(argv)

    known = {n: (b, s) for n, b, s in MODELS}
    names = [n for n, _, _ in MODELS]
    if args.models:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
        bad = [n for n in names if n not in known]
        if bad:
            p.error("unknown model%s %s; known: %s" % ("s" if len(bad) > 1 else "",
                                                       ", ".join(bad), ", ".join(known)))
    if not os.access(args.cnnc, os.X_OK):
        p.error("%s not found; run make first" % args.cnnc)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        print("check-models: skipped: %s cannot import torchvision" % sys.executable)
        return 0
    out = args.out or os.path.join(ROOT, os.environ.get("BUILD", "build"), "models",
                                   "report.md")

    load0, start = _load(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    work = args.keep or tempfile.mkdtemp(prefix="cnnc-models.")
    rows, blockers = [], []
    try:
        for name in names:
            build, shape = known[name]
            deadline = time.monotonic() + args.timeout
            t0 = time.monotonic()
            try:
                row, message = run_model(name, build, shape, args, work, deadline)
            except Exception as e:  # a model that cannot even be built or run in PyTorch
                row = {k: "" for k, _ in COLUMNS}
                row.update(model=name, status="fail: %s: %s" % (type(e).__name__, e))
                message = None
            if message:
                blockers.append((name, message))
            rows.append(row)
            print("%-30s %-6.0fs %s" % (name, time.monotonic() - t0, row["status"]),
                  file=sys.stderr, flush=True)
            if not args.keep:
                shutil.rmtree(os.path.join(work, name), ignore_errors=True)
            gc.collect()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    text = table(rows)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write("# cnnc on real models (make check-models)\n\n")
        f.write("Started %s; %s; load average %s at the start, %s at the end: a shared "
                "machine, so the wall-clock times (cnnc s, cc s, the ms) move with its load."
                "\n\n" % (start, _machine(), load0, _load()))
        f.write("torch %s, torchvision %s; random weights (seed %d), batch 1; C MB (+ the "
                "weights blob beside it, `--weights-as=auto`), cnnc s, "
                "cc s and cc peak MB are -O2 / -O0; cc is `%s -O2`; max error is the largest "
                "absolute difference from PyTorch over both (rel: over the output's largest "
                "magnitude); a pass needs at most "
                "%g + %g * max|output| per output, and cc within %g s and %g MB. cnnc ms: the -O2 "
                "program's `--bench` median; PyTorch frozen ms: "
                "`torch.jit.freeze(torch.jit.trace(model))`; both one thread, batch 1, "
                "alternating in 3 rounds (about %g s per model), median of the round medians."
                "\n\n"
                % (torch.__version__, torchvision.__version__, args.seed, args.cc, ATOL, RTOL,
                   args.cc_max_s, args.cc_max_mb, args.bench_budget))
        f.write(text + "\n")
        if blockers:
            f.write("\n## What the exporter reported\n")
            for name, message in blockers:
                f.write("\n### %s\n\n```\n%s\n```\n" % (name, message))
    print("\nwrote %s" % out)
    bad = [r for r in rows if not (r["status"] == "pass" or r["status"].startswith("blocked"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
