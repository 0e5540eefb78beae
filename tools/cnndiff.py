#!/usr/bin/python3
"""cnndiff: find the first layer where cnnc's generated code and PyTorch diverge.

    tools/cnndiff.py model.py:Net --input 1,28,28 --cnn net.cnn
    tools/cnndiff.py model.py:Net --input 1,28,28 --dump DIR --data in.f32

runs the same input through the PyTorch module and through the network
compiled by cnnc with --dump-tensors, and prints, layer by layer, the largest
absolute and relative error of every tensor the C code dumped, then the first
layer whose error exceeds the tolerance and by how much.

With --cnn, cnndiff compiles NET.cnn itself (build/cnnc --main
--dump-tensors, plus any --cnnc-arg), builds and runs it; with --dump it reads
a directory a program made with `cnnc --dump-tensors` wrote (./prog --dump DIR
IN.f32 OUT.f32) for the input --data.

A dumped tensor is matched to PyTorch by its name (index.tsv): the layer names
tools/torch2cnn.py gives the module's layers (torch2cnn.layer_names: module
paths for layers with weights, cnnc's "relu_3" for the rest), else the path of
a submodule, whose output a forward hook records. So a .cnn exported by
torch2cnn matches layer for layer, and a hand-written one wherever its labels
are module paths. At -O2 a fused group (conv1 +bn1 +relu_1 +maxpool_1) is
dumped once, under its last layer; -O0 dumps every layer.

Exit status: 0 if no tensor diverges, 1 if one does, 2 on an error.
Needs Debian's python3-torch and python3-numpy.
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.fx as fx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch2cnn import ExportError, _parse_kwarg, layer_names, load_module  # noqa: E402


class DiffError(Exception):
    pass


# ---------------------------------------------------------------------------
# PyTorch's side


class _Recorder(fx.Interpreter):
    """Runs a traced module and keeps a copy of every node's tensor result
    (copied at once: a later in-place op must not change it)."""

    def __init__(self, gm):
        super().__init__(gm)
        self.values = {}

    def run_node(self, n):
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            self.values[n] = result.detach().clone()
        return result


def _module_outputs(module, x):
    """Every submodule's output by its path (forward hooks)."""
    outputs, hooks = {}, []

    def hook_for(path):
        def hook(_m, _inputs, out):
            if isinstance(out, torch.Tensor):
                outputs[path] = out.detach().clone()
        return hook

    for path, m in module.named_modules():
        if path:
            hooks.append(m.register_forward_hook(hook_for(path)))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in hooks:
            h.remove()
    return outputs


def torch_tensors(module, x):
    """name -> PyTorch tensor for every name a cnnc layer can have: the
    exporter's layer names first, then submodule paths."""
    named = _module_outputs(module, x)
    try:
        layers, gm = layer_names(module, x)
    except ExportError as e:
        why = [line for line in str(e).split("\n") if not line.startswith("  supported")][:2]
        sys.stderr.write("cnndiff: note: torch2cnn cannot name this module's layers, so only "
                         "submodule paths are matched:\n  %s\n" % "\n  ".join(why))
        return named
    rec = _Recorder(gm)
    with torch.no_grad():
        rec.run(x)
    for name, _op, node in layers:
        if node in rec.values:
            named[name] = rec.values[node]
    return named


# ---------------------------------------------------------------------------
# cnnc's side


def read_index(dump):
    """The dump's index.tsv as a list of dicts: file, label, op, shape, layers."""
    path = os.path.join(dump, "index.tsv")
    try:
        with open(path) as f:
            lines = [line.rstrip("\n") for line in f if not line.startswith("#")]
    except OSError as e:
        raise DiffError("cannot read %s: %s (was the program compiled with cnnc "
                        "--dump-tensors and run with --dump %s?)" % (path, e.strerror, dump))
    rows = []
    for line in lines:
        f = line.split("\t")
        if len(f) != 5:
            raise DiffError("%s: malformed line %r" % (path, line))
        shape = tuple(int(d) for d in f[3].split(","))
        rows.append(dict(file=f[0], label=f[1], op=f[2], shape=shape, layers=f[4]))
    return rows


def read_tensor(dump, row):
    path = os.path.join(dump, row["file"])
    data = np.fromfile(path, dtype="<f4")
    if data.size != int(np.prod(row["shape"])):
        raise DiffError("%s: %d floats, but its shape is %s" % (path, data.size, list(row["shape"])))
    return data.reshape(row["shape"])


def default_cnnc():
    return os.environ.get("CNNC") or os.path.join(os.path.dirname(HERE), "build", "cnnc")


def _run(cmd, what):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise DiffError("%s failed (%s):\n%s" % (what, " ".join(shlex.quote(c) for c in cmd),
                                                 r.stdout.strip()))
    return r.stdout


def compile_and_dump(cnn, cnnc, cnnc_args, batch, data_path, work):
    """cnnc --main --dump-tensors on cnn, cc, run on data_path; the dump directory."""
    c_file = os.path.join(work, "net.c")
    _run([cnnc, cnn, "--main", "--dump-tensors", "--batch", str(batch), "-o", c_file]
         + cnnc_args, "cnnc")
    flags = _run([cnnc, "--cflags"], "cnnc --cflags").split()
    libs = _run([cnnc, "--libs"], "cnnc --libs").split()
    prog = os.path.join(work, "net")
    cc = os.environ.get("CC", "cc")
    _run([cc, "-std=c99", "-O1", c_file] + flags + ["-o", prog] + libs, cc)
    dump = os.path.join(work, "dump")
    os.makedirs(dump, exist_ok=True)
    _run([prog, "--dump", dump, data_path, os.path.join(work, "out.f32")], prog)
    return dump


# ---------------------------------------------------------------------------
# Comparing


def compare(got, want, tol):
    """Errors of got against want (same size): max abs err, max rel err (max
    abs err over the largest |want|), how many values differ by more than tol
    absolute AND relative (cnnrt_compare_f32's rule), and the worst index."""
    g = got.astype(np.float64).ravel()
    w = want.astype(np.float64).ravel()
    diff = np.abs(g - w)
    nan_ok = np.isnan(g) & np.isnan(w)
    diff[nan_ok] = 0.0
    diff[np.isnan(diff)] = np.inf
    bad = (diff > tol) & (diff > tol * np.abs(w))
    worst = int(np.argmax(diff)) if diff.size else 0
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.nanmax(np.abs(w))) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else np.inf)
    return max_abs, max_rel, int(bad.sum()), worst


def diff_rows(rows, dump, named, tol):
    """One result per dumped tensor, in order: (row, status, errors)."""
    results = []
    for row in rows:
        want = named.get(row["label"])
        if want is None:
            results.append((row, "no PyTorch tensor of this name", None))
            continue
        got = read_tensor(dump, row)
        want = want.float().numpy()
        if want.size != got.size:
            results.append((row, "PyTorch's is %s (pruned channels?)" % list(want.shape), None))
            continue
        results.append((row, None, compare(got, want.reshape(got.shape), tol)))
    return results


def _index(shape, flat):
    return list(int(i) for i in np.unravel_index(flat, shape))


def report(results, dump, named, tol, out):
    """Print the table and the first divergence; returns True if one was found."""
    w = max([len("layer")] + [len(r["label"]) for r, _, _ in results])
    ow = max([len("op")] + [len(r["op"]) for r, _, _ in results])
    out.write("%-*s  %-*s  %-18s  %12s  %12s\n" % (w, "layer", ow, "op", "shape", "max abs err",
                                                   "max rel err"))
    first = None
    for row, status, err in results:
        shape = "[%s]" % ", ".join(str(d) for d in row["shape"])
        if err is None:
            out.write("%-*s  %-*s  %-18s  %s\n" % (w, row["label"], ow, row["op"], shape, status))
            continue
        mark = ""
        if err[2] and first is None:
            first = (row, err)
            mark = "  <- first divergence"
        out.write("%-*s  %-*s  %-18s  %12.3g  %12.3g%s\n" % (w, row["label"], ow, row["op"],
                                                             shape, err[0], err[1], mark))
    compared = sum(1 for _, s, _ in results if s is None)
    if first is None:
        out.write("no divergence: %d of %d dumped tensors compared, all within %g (abs or rel)\n"
                  % (compared, len(results), tol))
        return False
    row, (max_abs, max_rel, nbad, worst) = first
    got = read_tensor(dump, row).ravel()[worst]
    want = named[row["label"]].float().numpy().ravel()[worst]
    covers = "" if row["layers"] == row["label"] else " (computes %s)" % row["layers"]
    out.write("first divergence: %s%s, %s: %d of %d values differ by more than %g; max abs err "
              "%.6g (rel %.3g) at %s: cnnc %.8g, PyTorch %.8g\n"
              % (row["label"], covers, row["op"], nbad, int(np.prod(row["shape"])), tol, max_abs,
                 max_rel, _index(row["shape"], worst), got, want))
    return True


# ---------------------------------------------------------------------------
# Command line


def _input_tensor(a, shape):
    if a.data:
        x = np.fromfile(a.data, dtype="<f4")
        per = int(np.prod(shape))
        if x.size == 0 or x.size % per:
            raise DiffError("%s: %d floats is no whole batch of %s" % (a.data, x.size,
                                                                      list(shape)))
        return torch.from_numpy(x.reshape((x.size // per,) + shape).copy())
    gen = torch.Generator().manual_seed(a.seed)
    return torch.randn((a.batch,) + shape, generator=gen)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="cnndiff.py",
        description="Compare every intermediate tensor of a cnnc network (cnnc "
                    "--dump-tensors) with the PyTorch module's, and name the first layer "
                    "where they diverge.")
    p.add_argument("model", help="FILE.py:NAME or package.module:NAME, as for torch2cnn.py")
    p.add_argument("--input", required=True, metavar="C,H,W", help="input shape without the "
                   "batch: C,H,W or F")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--cnn", metavar="NET.cnn", help="compile, build and run this network "
                     "with its dumps on")
    src.add_argument("--dump", metavar="DIR", help="read the tensors a --dump-tensors program "
                     "wrote to DIR (then --data must be the input it ran on)")
    p.add_argument("--data", metavar="IN.f32", help="the input, raw float32, whole batch "
                   "(default: random, --seed)")
    p.add_argument("--state-dict", metavar="FILE", help="the module's weights: torch.save of a "
                   "state_dict, or a .safetensors file (e.g. the one torch2cnn wrote)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="constructor keyword argument, as for torch2cnn.py; repeatable")
    p.add_argument("--cnnc-arg", action="append", default=[], metavar="ARG",
                   help="extra cnnc argument with --cnn (e.g. -O0, --weights=FILE); repeatable")
    p.add_argument("--cnnc", default=default_cnnc(), help="the cnnc to use (default: "
                   "$CNNC, else build/cnnc of this tree)")
    p.add_argument("--tol", type=float, default=1e-4, help="a value diverges if it differs "
                   "by more than this, absolute and relative (default 1e-4)")
    p.add_argument("--batch", type=int, default=1, help="batch of the random input (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input")
    p.add_argument("--keep", metavar="DIR", help="with --cnn: build and dump in DIR, and keep it")
    a = p.parse_args(argv)
    try:
        shape = tuple(int(s) for s in a.input.split(","))
        if a.dump and not a.data:
            raise DiffError("--dump needs --data, the input the program ran on")
        module = load_module(a.model, dict(_parse_kwarg(t) for t in a.arg), a.state_dict)
        x = _input_tensor(a, shape)
        named = torch_tensors(module, x)
        with tempfile.TemporaryDirectory(prefix="cnndiff.") as tmp:
            work = a.keep or tmp
            dump = a.dump
            if a.cnn:
                os.makedirs(work, exist_ok=True)
                data = os.path.join(work, "input.f32")
                x.numpy().astype("<f4").tofile(data)
                dump = compile_and_dump(a.cnn, a.cnnc, a.cnnc_arg, x.shape[0], data, work)
            rows = read_index(dump)
            sys.stdout.write("cnndiff: %s vs %s, input %s\n"
                             % (a.model, a.cnn or dump, list(x.shape)))
            results = diff_rows(rows, dump, named, a.tol)
            return 1 if report(results, dump, named, a.tol, sys.stdout) else 0
    except (DiffError, ExportError, ValueError) as e:
        sys.stderr.write("cnndiff: error: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
