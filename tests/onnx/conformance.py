#!/usr/bin/python3
"""ONNX conformance of tools/onnx2cnn.py + cnnc (make check-onnx).

For every test directory of libonnx-testdata's node/, pytorch-converted/ and
pytorch-operator/ sets (model.onnx and test_data_set_*/input_*.pb,
output_*.pb): import the model with onnx2cnn (the first graph input is the
network input, every other graph input a constant given with
--input-as-weights, as ONNX's node tests pass weights), compile it with
`cnnc --main`, build the C with `cc -std=c99 -Wall -Wextra -pedantic -Werror`,
run every test data set and compare with the expected outputs.

A test passes when every output value satisfies
    |got - expected| <= atol + rtol * |expected|
with rtol = 1e-3 and atol = 1e-7 (numpy.allclose's rule; NaN matches NaN),
for every op. --sum-atol F adds F * max |expected| to atol for models with
sums of products (Conv, Gemm, MatMul, pools, ...), where float32 sums in
another order leave an absolute error of the size of the terms' rounding;
no test in libonnx-testdata 1.12 needs it.

Prints a per-op table (passed / failed / not supported) and the reasons,
and exits 1 if any test the importer accepted fails, or the importer fails
on a valid model (an internal error, or a malformed-model error). Tests the
importer reports as unsupported do not fail the run.
"""

import argparse
import collections
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

DATA = "/usr/share/libonnx-testdata/data"
SETS = ("node", "pytorch-converted", "pytorch-operator")
RTOL, ATOL = 1e-3, 1e-7
SUM_ATOL = 0.0  # --sum-atol: times max |expected|, for the ops below
SUM_OPS = {"Conv", "Gemm", "MatMul", "BatchNormalization", "AveragePool", "GlobalAveragePool",
           "Resize", "Upsample", "Softmax"}
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2"]

G = {}  # per-worker globals


def _init(cnnc, cflags, libs, tmp, cc, keep, sum_atol):
    G.update(cnnc=cnnc, cflags=cflags, libs=libs, tmp=tmp, cc=cc, keep=keep, sum_atol=sum_atol)


def _read_pb(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def _sh(cmd, what, timeout=300):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if p.returncode != 0:
        text = p.stdout.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("%s failed (status %d): %s" % (what, p.returncode,
                                                          " | ".join(text[:6])))
    return p.stdout.decode("utf-8", "replace")


def run_test(job):
    """(set, name) -> dict(status=pass|fail|unsupported, ops, reason, detail)."""
    import onnx
    import onnx2cnn
    setname, name = job
    d = os.path.join(DATA, setname, name)
    res = {"set": setname, "name": name, "ops": [], "status": "fail", "reason": ""}
    try:
        model = onnx.load(os.path.join(d, "model.onnx"))
    except Exception as e:
        res["reason"] = "onnx.load: %s" % e
        return res
    res["ops"] = sorted(set(n.op_type for n in model.graph.node))
    inits = {t.name for t in model.graph.initializer}
    inputs = [vi.name for vi in model.graph.input if vi.name not in inits]
    for vi in model.graph.input:
        if vi.name not in inits and not vi.type.HasField("tensor_type"):
            res.update(status="unsupported", reason="graph input '%s' is a %s, not a tensor"
                       % (vi.name, vi.type.WhichOneof("value")))
            return res
    sets = sorted(x for x in os.listdir(d) if x.startswith("test_data_set_"))
    if not sets:
        res.update(status="unsupported", reason="no test data")
        return res
    work = os.path.join(G["tmp"], setname + "_" + name)
    os.makedirs(work, exist_ok=True)
    built = {}  # the weights' files -> program
    worst = 0.0
    try:
        for ds in sets:
            dd = os.path.join(d, ds)
            ins = sorted((f for f in os.listdir(dd) if f.startswith("input_")),
                         key=lambda f: int(f[6:-3]))
            outs = sorted((f for f in os.listdir(dd) if f.startswith("output_")),
                          key=lambda f: int(f[7:-3]))
            if len(ins) != len(inputs):
                res.update(status="unsupported", reason="%d input files for %d graph inputs"
                           % (len(ins), len(inputs)))
                return res
            weights = {inputs[k]: os.path.join(dd, ins[k]) for k in range(1, len(ins))}
            key = tuple(open(p, "rb").read() for p in weights.values())
            if key not in built:
                sub = os.path.join(work, "b%d" % len(built))
                os.makedirs(sub, exist_ok=True)
                cnn = os.path.join(sub, "net.cnn")
                try:
                    info = onnx2cnn.convert(os.path.join(d, "model.onnx"), cnn,
                                            input_weights={n: onnx2cnn.load_tensor_file(p)
                                                           for n, p in weights.items()})
                except onnx2cnn.UnsupportedModel as e:
                    res.update(status="unsupported", reason=e.items[0].line(),
                               all_reasons=[u.line() for u in e.items])
                    return res
                except onnx2cnn.OnnxError as e:
                    res["reason"] = "onnx2cnn: error: %s" % e
                    return res
                except Exception as e:
                    res["reason"] = "onnx2cnn internal error: %s: %s" % (type(e).__name__, e)
                    return res
                progs = []
                for opt in ("-O2", "-O0"):
                    csrc = os.path.join(sub, "net%s.c" % opt)
                    prog = os.path.join(sub, "net%s" % opt)
                    _sh([G["cnnc"], cnn, opt, "--main", "--batch", str(info["batch"]), "-o",
                         csrc], "cnnc %s" % opt)
                    _sh([G["cc"]] + CFLAGS + [csrc, "-o", prog] + G["cflags"] + G["libs"],
                        "cc (cnnc %s)" % opt)
                    progs.append(prog)
                built[key] = progs
            for prog in built[key]:
                bad = _compare(res, prog, dd, ds, ins, outs, work)
                if bad:
                    res["reason"] = "cnnc %s: %s" % (prog[-3:], bad)
                    return res
            worst = max(worst, res.pop("worst", 0.0))
        res.update(status="pass", reason="worst error %.3g of the tolerance" % worst)
        return res
    except subprocess.TimeoutExpired as e:
        res["reason"] = "timeout: %s" % " ".join(e.cmd[:2])
        return res
    except RuntimeError as e:
        res["reason"] = str(e)
        return res
    finally:
        if not G.get("keep"):
            shutil.rmtree(work, ignore_errors=True)


def _compare(res, prog, dd, ds, ins, outs, work):
    """Run prog on data set ds; None if every output is within tolerance, else why not."""
    x = _read_pb(os.path.join(dd, ins[0])).astype(np.float32)
    exp = [_read_pb(os.path.join(dd, f)) for f in outs]
    fin = os.path.join(work, ds + ".in.f32")
    fout = os.path.join(work, ds + ".out.f32")
    np.ascontiguousarray(x).tofile(fin)
    _sh([prog, fin, fout], "the compiled network", timeout=120)
    got = np.fromfile(fout, dtype=np.float32)
    total = sum(e.size for e in exp)
    if got.size != total:
        return "%s: %d output values, expected %d" % (ds, got.size, total)
    worst = res.get("worst", 0.0)
    off = 0
    for k, e in enumerate(exp):
        g = got[off:off + e.size].astype(np.float64)
        off += e.size
        e = e.astype(np.float64).reshape(-1)
        atol = ATOL
        if SUM_OPS & set(res["ops"]) and e.size and G.get("sum_atol"):
            atol = max(ATOL, G["sum_atol"] * float(np.max(np.abs(e[np.isfinite(e)]),
                                                          initial=0)))
        err = np.abs(g - e)
        bad = ~((err <= atol + RTOL * np.abs(e)) | (np.isnan(g) & np.isnan(e)) |
                (g == e))
        if e.size:
            worst = max(worst, float(np.nanmax(err / (atol + RTOL * np.abs(e)))))
        if bad.any():
            i = int(np.argmax(bad))
            return ("%s output %d: %d of %d values differ; at %d got %.9g expected %.9g "
                    "(atol %.3g, rtol %.3g)"
                    % (ds, k, int(bad.sum()), e.size, i, g[i], e[i], atol, RTOL))
    res["worst"] = worst
    return None


def main():
    global DATA
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "cnnc"))
    ap.add_argument("--data", default=None, help="default: " + DATA)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("-k", "--filter", action="append", default=[],
                    help="only tests whose name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    ap.add_argument("--sum-atol", type=float, default=SUM_ATOL,
                    help="for models with sums of products, add this times max |expected| to "
                         "atol (default 0)")
    ap.add_argument("--summary", help="also write the tables to this file (markdown)")
    args = ap.parse_args()
    DATA = args.data or DATA
    cc = os.environ.get("CC", "cc")
    cflags = _sh([args.cnnc, "--cflags"], "cnnc --cflags").split()
    libs = _sh([args.cnnc, "--libs"], "cnnc --libs").split()
    jobs = []
    for s in SETS:
        p = os.path.join(DATA, s)
        if not os.path.isdir(p):
            continue
        for t in sorted(os.listdir(p)):
            if os.path.exists(os.path.join(p, t, "model.onnx")) and (
                    not args.filter or any(f in t for f in args.filter)):
                jobs.append((s, t))
    tmp = tempfile.mkdtemp(prefix="cnnc-onnx-")
    t0 = time.time()
    try:
        with multiprocessing.Pool(args.jobs, initializer=_init,
                                  initargs=(args.cnnc, cflags, libs, tmp, cc, args.keep,
                                            args.sum_atol)) as pool:
            results = []
            for r in pool.imap_unordered(run_test, jobs, chunksize=4):
                results.append(r)
                if args.verbose:
                    print("%-11s %-60s %s" % (r["status"], r["set"] + "/" + r["name"],
                                              r["reason"][:200]), flush=True)
    finally:
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results.sort(key=lambda r: (r["set"], r["name"]))
    report(results, time.time() - t0, args.summary)
    failed = [r for r in results if r["status"] == "fail"]
    return 1 if failed else 0


def report(results, secs, summary_path):
    lines = []
    per_op = collections.OrderedDict()
    for r in results:
        for op in r["ops"] or ["(none)"]:
            per_op.setdefault(op, collections.Counter())[r["status"]] += 1
    counts = collections.Counter(r["status"] for r in results)
    lines.append("ONNX conformance: %d tests: %d passed, %d failed, %d not supported (%.0f s)"
                 % (len(results), counts["pass"], counts["fail"], counts["unsupported"], secs))
    for s in SETS:
        c = collections.Counter(r["status"] for r in results if r["set"] == s)
        if c:
            lines.append("  %-18s %4d passed, %3d failed, %4d not supported"
                         % (s, c["pass"], c["fail"], c["unsupported"]))
    lines.append("")
    lines.append("per op (a test counts for every op in its model):")
    lines.append("%-28s %7s %7s %14s" % ("op", "passed", "failed", "not supported"))
    import onnx2cnn
    claimed = [op for op in per_op if op in onnx2cnn.SUPPORTED_OPS]
    others = [op for op in per_op if op not in onnx2cnn.SUPPORTED_OPS]
    for op in sorted(claimed) + sorted(others):
        c = per_op[op]
        if op in others and not c["pass"] and not c["fail"]:
            continue
        lines.append("%-28s %7d %7d %14d" % (op + ("" if op in claimed else " *"), c["pass"],
                                              c["fail"], c["unsupported"]))
    rest = sorted(op for op in others if not per_op[op]["pass"] and not per_op[op]["fail"])
    lines.append("(* not an op onnx2cnn maps; it passed as a constant or beside others)")
    lines.append("ops no test could use (%d): %s" % (len(rest), ", ".join(rest)))
    lines.append("")
    fails = [r for r in results if r["status"] == "fail"]
    if fails:
        lines.append("FAILED (%d):" % len(fails))
        for r in fails:
            lines.append("  %s/%s: %s" % (r["set"], r["name"], r["reason"]))
        lines.append("")
    # Why nodes of each op were not supported (every node of every model reported,
    # names, lists and numbers blanked so that equal reasons group).
    why = collections.OrderedDict()
    for r in results:
        for line in r.get("all_reasons") or ([r["reason"]] if r["status"] == "unsupported"
                                             else []):
            m = re.match(r"^node .*? \((\w+)\): (.*)$", line)
            op, reason = (m.group(1), m.group(2)) if m else ("(graph)", line)
            reason = reason.split("; nearest supported:")[0]
            reason = re.sub(r"(?<![A-Za-z])'[^']*'", "'..'", reason)
            reason = re.sub(r"\[[^\]]*\]", "[..]", reason)
            reason = re.sub(r"\b\d+(\.\d+)?(e-?\d+)?\b", "#", reason)
            why.setdefault(op, collections.Counter())[reason] += 1
    lines.append("reasons for not supported, by op (nodes):")
    for op in sorted(why):
        c = why[op]
        lines.append("  %s (%d):" % (op, sum(c.values())))
        for reason, k in c.most_common(6):
            lines.append("    %4d  %s" % (k, reason[:150]))
        if len(c) > 6:
            lines.append("          ... and %d other reasons" % (len(c) - 6))
    lines.append("")
    uns = [r for r in results if r["status"] == "unsupported" and
           any(op in onnx2cnn.SUPPORTED_OPS for op in r["ops"])]
    if uns:
        lines.append("not supported, with an op onnx2cnn maps (%d):" % len(uns))
        for r in uns:
            lines.append("  %s/%s: %s" % (r["set"], r["name"], r["reason"]))
    text = "\n".join(lines)
    print(text)
    if summary_path:
        with open(summary_path, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
