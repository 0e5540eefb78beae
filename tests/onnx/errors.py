#!/usr/bin/python3
"""tools/onnx2cnn.py's own error handling (make check-onnx).

Builds small ONNX models with onnx.helper in a temporary directory and runs
the importer on them: a malformed file (truncated, empty, not protobuf,
missing), a node reading an undefined tensor, weights of the wrong shape, a
cycle, must each give one line `onnx2cnn: error: ...` and status 1, never a
traceback; a model with several unsupported nodes must name every one of
them (name, op type, nearest supported op) in one run; and a good model
must import with PyTorch-style keys and compile with cnnc.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(ROOT, "tools", "onnx2cnn.py")
CNNC = os.environ.get("CNNC", os.path.join(ROOT, "build", "cnnc"))

failures = []


def run(args):
    p = subprocess.run(["/usr/bin/python3", TOOL] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check(name, cond, detail=""):
    if cond:
        print("ok    %s" % name)
        if os.environ.get("V") == "1" and detail:
            print(detail)
    else:
        print("FAIL  %s %s" % (name, detail))
        failures.append(name)


def expect_error(name, model_path, pattern, extra=()):
    rc, out, err = run([model_path, "-o", os.path.join(TMP, name + ".cnn")] + list(extra))
    lines = err.strip().splitlines()
    ok = (rc == 1 and len(lines) == 1 and lines[0].startswith("onnx2cnn: error: ")
          and "Traceback" not in err and re.search(pattern, lines[0]) is not None
          and not os.path.exists(os.path.join(TMP, name + ".cnn")))
    check(name, ok, "\n  status %d, stderr:\n%s" % (rc, err))


def pad_errors():
    """9. padding cnnc cannot express: one unsupported node each."""
    x = [vi("x", [1, 2, 3, 4])]
    cases = [
        ("pad_reflect_past_axis", helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect"),
         [("p", np.array([0, 0, 0, 4, 0, 0, 0, 0], dtype=np.int64))], [1, 2, 3, 8],
         r"Pad mode 'reflect' with pads .* smaller than its axis"),
        ("pad_edge_negative", helper.make_node("Pad", ["x", "p"], ["y"], mode="edge"),
         [("p", np.array([0, 0, -1, 0, 0, 0, 0, 0], dtype=np.int64))], [1, 2, 2, 4],
         r"Pad mode 'edge' with pads .* needs each pad at least 0"),
        ("maxpool_pad_past_kernel", helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2],
                                                     pads=[0, 0, 2, 0]),
         [], [1, 2, 4, 3], r"pads \[0, 0, 2, 0\] .* not smaller than the kernel"),
        ("convt_extend_begin", helper.make_node("ConvTranspose", ["x", "wt"], ["y"],
                                                output_shape=[7, 8]),
         [("wt", w((2, 2, 2, 2)))], [1, 2, 7, 8], r"extend the output at the beginning"),
    ]
    for name, node, inits, yshape, pattern in cases:
        p = save(name, [node], x, [vi("y", yshape)], inits)
        rc, out, err = run([p, "-o", os.path.join(TMP, name + ".cnn")])
        lines = err.strip().splitlines()
        check(name, rc == 1 and "Traceback" not in err and len(lines) == 2
              and re.search(pattern, lines[0]) is not None
              and "1 node cannot be expressed" in lines[1],
              "\n  status %d, stderr:\n%s" % (rc, err))


def w(shape, seed=0):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


def save(name, nodes, inputs, outputs, inits=(), opset=13, check_model=True):
    g = helper.make_graph(nodes, name, inputs, outputs,
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if check_model:
        onnx.checker.check_model(m)
    path = os.path.join(TMP, name + ".onnx")
    onnx.save(m, path)
    return path


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def good_model():
    nodes = [
        helper.make_node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"],
                         name="/features/features.0/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/features/features.1/Relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="/fc/Gemm",
                         transB=1),
    ]
    inits = [("features.0.weight", w((4, 3, 3, 3))), ("features.0.bias", w((4,), 1)),
             ("fc.weight", w((5, 4), 2)), ("fc.bias", w((5,), 3))]
    return nodes, [vi("x", ["batch", 3, 8, 8])], [vi("y", ["batch", 5])], inits


def main():
    global TMP
    TMP = tempfile.mkdtemp(prefix="cnnc-onnx-err-")
    try:
        nodes, ins, outs, inits = good_model()
        good = save("good", nodes, ins, outs, inits)

        # 1. a good model: PyTorch-style keys, compiles
        out_cnn = os.path.join(TMP, "good.cnn")
        rc, out, err = run([good, "-o", out_cnn, "--batch", "2"])
        text = open(out_cnn).read() if os.path.exists(out_cnn) else ""
        check("good model imports", rc == 0 and "features.0: conv2d(4, kernel=3, pad=1)" in text
              and "fc: linear(5)" in text and "input x[3, 8, 8]" in text,
              "\n" + err + text)
        if os.path.exists(CNNC) and rc == 0:
            p = subprocess.run([CNNC, out_cnn, "--batch", "2", "-o",
                                os.path.join(TMP, "good.c")], stderr=subprocess.PIPE)
            check("good model compiles with cnnc", p.returncode == 0, p.stderr.decode())

        # 2. malformed files
        data = open(good, "rb").read()
        for name, blob in (("truncated", data[: len(data) // 2]),
                           ("truncated_header", data[:7]),
                           ("empty", b""),
                           ("garbage", b"\xff\xfe not a protobuf \x00\x01" * 10)):
            p = os.path.join(TMP, name + ".onnx")
            with open(p, "wb") as f:
                f.write(blob)
            expect_error(name, p, r"(not an ONNX model|is empty|cannot read)")
        expect_error("missing_file", os.path.join(TMP, "no-such.onnx"), r"cannot read")

        # 3. a node reading a tensor nobody defines (a missing initializer)
        n2 = list(nodes)
        p = save("missing_init", n2, ins, outs, inits[1:], check_model=False)
        expect_error("missing_initializer", p, r"reads 'features\.0\.weight', which no node")

        # 4. weights of the wrong shape
        bad = [("features.0.weight", w((4, 2, 3, 3)))] + inits[1:]
        p = save("wrong_shape", nodes, ins, outs, bad, check_model=False)
        expect_error("wrong_conv_weight_shape", p, r"(shape|channels)")
        bad = [inits[0], inits[1], ("fc.weight", w((5, 7), 2)), inits[3]]
        p = save("wrong_gemm", nodes, ins, outs, bad, check_model=False)
        expect_error("wrong_gemm_weight_shape", p, r"(shape|features|Gemm)")
        bnn = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                                name="bn")]
        p = save("wrong_bn", bnn, [vi("x", [1, 3, 4, 4])], [vi("y", [1, 3, 4, 4])],
                 [("s", w((3,))), ("b", w((3,))), ("m", w((3,))), ("v", w((2,)))],
                 check_model=False)
        expect_error("wrong_batchnorm_shape", p, r"(shape|BatchNormalization)")
        big = np.zeros(4, dtype=np.float32)
        t = numpy_helper.from_array(big, "features.0.bias")
        t.raw_data = t.raw_data[:6]
        m = onnx.load(good)
        m.graph.initializer[1].CopyFrom(t)
        p = os.path.join(TMP, "short_raw.onnx")
        onnx.save(m, p)
        expect_error("initializer_data_too_short", p, r"features\.0\.bias")

        # lowered ops (tools/onnx_lower.py) on broken models: the same errors
        gt = [helper.make_node("Gemm", ["x", "gw"], ["y"], name="gemm_t", transA=1)]
        t = numpy_helper.from_array(w((4, 3)), "gw")
        t.raw_data = t.raw_data[:10]
        g = helper.make_graph(gt, "g", [vi("x", [4, 2])], [vi("y", [2, 3])], [t])
        p = os.path.join(TMP, "gemm_short.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p)
        expect_error("lowered_gemm_initializer_too_short", p, r"'gw'")
        rl = [helper.make_node("ReduceL2", ["x"], ["y"], name="l2", axes=[5])]
        p = save("reduce_axes", rl, [vi("x", [1, 3, 4])], [vi("y", [1, 3, 4])],
                 check_model=False)
        expect_error("lowered_reduce_axes_out_of_range", p, r"(axes|axis|shape inference)")

        # 5. a cycle
        cyc = [helper.make_node("Relu", ["x2"], ["x1"], name="a"),
               helper.make_node("Relu", ["x1"], ["x2"], name="b"),
               helper.make_node("Add", ["x", "x1"], ["y"], name="c")]
        p = save("cycle", cyc, [vi("x", [1, 4])], [vi("y", [1, 4])], check_model=False)
        expect_error("cycle", p, r"cycle through nodes 'a' \(Relu\), 'b' \(Relu\)|cycle through "
                     r"nodes 'b' \(Relu\), 'a' \(Relu\)")

        # 6. bad command line input
        tpb = os.path.join(TMP, "t.pb")
        with open(tpb, "wb") as f:
            f.write(numpy_helper.from_array(w((2, 2)), "t").SerializeToString())
        expect_error("input_as_weights_unknown", good, r"no input 'nope'",
                     ["--input-as-weights", "nope=" + tpb])

        # 7. every unsupported node is listed, with its op type and an alternative
        # (a node that fails leaves its output's shape unknown, which hides the
        # nodes after it: each unsupported node reads the input, and is an output)
        un = [
            helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv_asym",
                             pads=[2, 2, -1, -1]),
            helper.make_node("ConvTranspose", ["x", "w2"], ["t"], name="deconv",
                             pads=[-1, -1, 1, 1]),
            helper.make_node("Pad", ["x", "pads"], ["pd"], name="pad", mode="wrap"),
            helper.make_node("Flatten", ["x"], ["f"], name="flat"),
            helper.make_node("Gemm", ["f", "w3"], ["g"], name="gemm_transa", transA=1,
                             transB=1),
            helper.make_node("CumSum", ["x", "k"], ["y"], name="cumsum"),
        ]
        uinits = [("w1", w((4, 3, 3, 3))), ("k", np.array(1, dtype=np.int64)),
                  ("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)),
                  ("w2", w((3, 2, 2, 2))), ("w3", w((3, 1)))]
        outs = [vi("c1", [1, 4, 7, 7]), vi("t", [1, 2, 7, 7]), vi("pd", [1, 3, 10, 10]),
                vi("g", [192, 3]), vi("y", [1, 3, 8, 8])]
        p = save("unsupported", un, [vi("x", [1, 3, 8, 8])], outs, uinits)
        rc, out, err = run([p, "-o", os.path.join(TMP, "unsupported.cnn")])
        lines = err.strip().splitlines()
        want = [r"node 'conv_asym' \(Conv\): negative pads .*nearest supported: pad ",
                r"node 'deconv' \(ConvTranspose\): pads .* extend the output at the "
                r"beginning.*nearest supported: conv_transpose2d",
                r"node 'pad' \(Pad\): Pad mode 'wrap'.*nearest supported: pad",
                # Gemm transA=1 is lowered to Transpose(A) then MatMul (onnx_lower.py)
                r"node 'gemm_transa_at' \(Transpose\): Transpose \[1, 0\] of \[1, 192\] "
                r"moves axis 0.*nearest supported: permute",
                # (Tile by constant repeats is lowered to Concats since 17293c0)
                r"node 'cumsum' \(CumSum\): op CumSum is not supported by cnnc; "
                r"nearest supported: "]
        ok = rc == 1 and "Traceback" not in err and len(lines) == len(want) + 1
        for pat, line in zip(want, lines):
            ok = ok and line.startswith("onnx2cnn: error: ") and re.search(pat, line)
        ok = ok and "5 nodes cannot be expressed" in lines[-1]
        check("unsupported nodes all listed", ok, "\n  status %d, stderr:\n%s" % (rc, err))
        check("nothing written for an unsupported model",
              not os.path.exists(os.path.join(TMP, "unsupported.cnn")))

        # 8. two real inputs: one line naming both
        two = [helper.make_node("Add", ["a", "b"], ["y"], name="add")]
        p = save("two_inputs", two, [vi("a", [1, 4]), vi("b", [1, 4])], [vi("y", [1, 4])])
        rc, out, err = run([p, "-o", os.path.join(TMP, "two.cnn")])
        check("two graph inputs", rc == 1 and "Traceback" not in err and
              re.search(r"onnx2cnn: error: the graph has 2 inputs \(a, b\)", err),
              "\n  status %d, stderr:\n%s" % (rc, err))
        pad_errors()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failed" % len(failures) if failures else "all importer error tests passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
