#!/usr/bin/python3
"""onnx2cnn: import an ONNX model as a cnnc network (.cnn + .safetensors).

    tools/onnx2cnn.py model.onnx -o net.cnn
    tools/onnx2cnn.py conv.onnx -o net.cnn --input-as-weights W=test_data_set_0/input_1.pb

writes net.cnn and, beside it, net.safetensors: the initializers the layers
use, under keys derived from their ONNX names (docs/onnx.md, "Keys"). Every
node is mapped to cnnc ops with exactly ONNX's semantics, or reported: all
nodes cnnc cannot express are listed in one run, each with its name, op type,
the reason and the nearest supported alternative. Shapes come from the
model's input shape (ONNX shape inference); a symbolic batch dimension is
--batch.

Needs only Debian's python3-onnx and python3-numpy (run with /usr/bin/python3).
docs/onnx.md lists what maps to what and what cnnc cannot express yet.
"""

import argparse
import difflib
import math
import os
import re
import sys
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnn_text  # noqa: E402
import onnx_lower  # noqa: E402

try:
    import onnx
    from onnx import numpy_helper
    HAVE_ONNX = True
except ImportError:  # reported by main()
    HAVE_ONNX = False

__all__ = ["convert", "OnnxError", "Unsupported", "UnsupportedModel", "SUPPORTED_OPS"]


class OnnxError(Exception):
    """The file is not a usable ONNX model (malformed, inconsistent)."""


class Unsupported(Exception):
    """One node (or the graph itself) uses something cnnc cannot express."""

    def __init__(self, reason, alternative=None):
        super().__init__(reason)
        self.reason = reason
        self.alternative = alternative
        self.node = None  # filled in by the converter

    def line(self):
        if self.node is None:
            text = self.reason
        else:
            text = "node %s (%s): %s" % (_node_desc(self.node), self.node.op_type, self.reason)
        if self.alternative:
            text += "; nearest supported: " + self.alternative
        return text


class UnsupportedModel(Exception):
    """Every Unsupported found in a model, in graph order."""

    def __init__(self, items):
        super().__init__("%d unsupported" % len(items))
        self.items = items


_INDEX = {}  # id(node) -> its position in the graph, for nodes without a name


def _node_desc(node):
    if node.name:
        return "'%s'" % node.name
    k = _INDEX.get(id(node))
    return "#%d" % k if k is not None else "(unnamed)"


# ---------------------------------------------------------------------------
# What is supported, and what to suggest instead

SUPPORTED_OPS = (
    "Conv", "BatchNormalization", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSwish",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
    "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Add", "Concat", "Resize", "Upsample",
    "Softmax", "Dropout", "Identity", "ReduceMean", "ReduceMax", "Sub", "ConvTranspose",
    "HardSigmoid", "LayerNormalization", "Split", "Div", "Expand", "Max", "Min", "Sum", "Mean",
    "LogSoftmax", "ReduceSum", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare",
    "ReduceLogSum", "ReduceLogSumExp", "PRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign",
    "Size", "InstanceNormalization", "Tile",
    # evaluated at import time when their inputs are constants (shape arithmetic)
    "Constant", "Shape", "Gather", "Cast", "Transpose", "Slice",
    "Pad", "Mul",
    # unary math ops (_unary_math)
    "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Floor", "Ceil", "Sin", "Cos",
)

NEAREST = {
    "ConvTranspose": "conv_transpose2d",
    "Conv3d": "conv2d", "MaxPool3d": "maxpool",
    "Mul": "mul of equal shapes or [N, C, 1, 1] with [N, C, H, W]; scale",
    "Sub": "sub of equal shapes or [N, C, 1, 1] with [N, C, H, W]; scale(bias=true)",
    "Div": "scale by 1/d (a constant divisor; rounds differently from x / d)",
    "Pad": "pad (constant, H and W)",
    "Erf": "gelu (as x * 0.5 * (1 + Erf(x / sqrt(2))))",
    "PRelu": "leaky_relu (one slope for all channels)",
    "Elu": "leaky_relu", "Selu": "leaky_relu", "Celu": "leaky_relu",
    "Softplus": "relu", "Softsign": "tanh", "HardSigmoid": "hardsigmoid",
    "Gelu": "gelu", "Mish": "silu", "ThresholdedRelu": "relu",
    "LogSoftmax": "softmax", "Softmin": "softmax", "Hardmax": "softmax",
    "ReduceSum": "global_avgpool (a mean)",
    "GlobalLpPool": "global_avgpool", "LpPool": "avgpool", "MaxUnpool": "upsample",
    "InstanceNormalization": "batchnorm", "LayerNormalization": "layernorm",
    "GroupNormalization": "batchnorm", "LRN": "batchnorm",
    "Split": "narrow (axis 1)", "Slice": "none", "Transpose": "none",
    "Sum": "add (two tensors of equal shape)", "Max": "relu (max with 0)",
    "Min": "relu6 (min with 6 after relu)",
    "Expand": "none", "Tile": "upsample (nearest, integer scales)",
    "DepthToSpace": "none", "SpaceToDepth": "none",
}


def _nearest(op_type):
    if op_type in NEAREST:
        return NEAREST[op_type]
    close = difflib.get_close_matches(op_type, SUPPORTED_OPS, n=1, cutoff=0.6)
    return close[0] if close else "none"


# ---------------------------------------------------------------------------
# .cnn text

KEYWORDS = {"network", "input", "weights", "init", "param", "output", "block", "true", "false",
            "in", "prune"}
OPS = {"conv2d", "batchnorm", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "maxpool",
       "avgpool", "global_avgpool", "flatten", "linear", "dropout", "softmax", "add", "concat",
       "upsample", "adaptive_avgpool", "hardswish", "silu"}
RESERVED = KEYWORDS | OPS
IDENT = cnn_text.IDENT
SEGMENT = re.compile(r"^[A-Za-z0-9_]+$")
MAX_NAME = 200


def fmt_value(v):
    """A Python value as .cnn text: ints, floats, booleans, strings, pairs."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            raise Unsupported("the value %r has no .cnn form" % f)
        text = str(np.float32(f)) if np.float32(f) == f else repr(f)
        if re.match(r"^-?\d+$", text):
            text += ".0"
        return text
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(v, tuple):
        if len(v) == 2 and v[0] == v[1]:
            return fmt_value(v[0])
        return "(%s)" % ", ".join(fmt_value(x) for x in v)
    raise TypeError("no .cnn form for %r" % (v,))


def sanitize_label(name):
    """An ONNX name as a cnnc layer label (a dotted path): runs of characters
    other than letters, digits, '_' and '.' become '_', empty segments go,
    a leading digit gets 'n' in front, a reserved word a trailing '_'."""
    s = re.sub(r"[^A-Za-z0-9_.]+", "_", name)
    segs = [g.strip("_") or "_" for g in s.split(".") if g]
    segs = [g for g in segs if g != "_"]
    if not segs:
        return ""
    if not IDENT.match(segs[0]):
        segs[0] = "n" + segs[0]
    if segs[0] in RESERVED and len(segs) == 1:
        segs[0] += "_"
    return ".".join(segs)[:MAX_NAME]


def sanitize_ident(name):
    """An ONNX tensor name as a .cnn tensor name (an identifier)."""
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:MAX_NAME]
    if not s:
        s = "t"
    if not IDENT.match(s):
        s = "t_" + s
    if s in RESERVED:
        s += "_"
    return s


def scope_path(name):
    """The module path in a name PyTorch's exporter gives: node
    '/layer1/layer1.0/conv1/Conv' and its output
    '/layer1/layer1.0/conv1/Conv_output_0' are in module 'layer1.0.conv1'.
    None for other names."""
    if not name.startswith("/"):
        return None
    comps = [x for x in name.split("/") if x]
    if len(comps) < 2:
        return None
    path, prev = "", None
    for comp in comps[:-1]:
        if prev and comp.startswith(prev + "."):  # 'layer1' then 'layer1.0': a child of it
            path += comp[len(prev):]
        else:
            path = path + "." + comp if path else comp
        prev = comp
    return path


def fmt_label(path):
    segs = path.split(".")
    if all(SEGMENT.match(s) for s in segs) and IDENT.match(segs[0]) and segs[0] not in KEYWORDS:
        return path
    return fmt_value(path)


# ---------------------------------------------------------------------------
# The network being built

class Value:
    """A cnnc tensor: the input or one layer's result. cshape is its cnnc
    shape, [N, C, H, W] or [N, F], batch first."""

    def __init__(self, cshape):
        self.cshape = tuple(int(d) for d in cshape)
        self.name = None
        self.users = []


class Input(Value):
    pass


class Op(Value):
    def __init__(self, kind, inputs, attrs, cshape, label=None, tensors=(), onnx_name=None):
        super().__init__(cshape)
        self.kind = kind
        self.inputs = list(inputs)
        self.attrs = list(attrs)  # (name or None, text)
        self.label = label
        self.tensors = list(tensors)  # (key, float32 array)
        self.onnx_name = onnx_name  # the ONNX tensor it computes (for naming)


class T:
    """An ONNX runtime tensor: the cnnc Value holding its bytes, and its ONNX shape."""

    def __init__(self, val, oshape, why=None):
        self.val = val
        self.oshape = None if oshape is None else tuple(int(d) for d in oshape)
        self.why = why  # the reshape that left it in a cnnc shape other than natural()


class Poison:
    """The result of an unsupported node: only its ONNX shape (if known) is known."""

    def __init__(self, oshape):
        self.oshape = None if oshape is None else tuple(int(d) for d in oshape)


def natural(oshape):
    """The cnnc shape an ONNX tensor of this shape is held in: rank 4 and 2
    as they are, [N, C, L] as [N, C, 1, L] (1-d convolutions and pools are
    2-d ones with a height of 1), [F] as [1, F], a scalar as [1, 1], rank 5
    and more as [N, C, D1*...*Dk-1, Dk]."""
    r = len(oshape)
    if r in (2, 4):
        return tuple(oshape)
    if r == 3:
        return (oshape[0], oshape[1], 1, oshape[2])
    if r == 1:
        return (1, oshape[0])
    if r == 0:
        return (1, 1)
    return (oshape[0], oshape[1], int(np.prod(oshape[2:-1])), oshape[-1])


def _prod(s):
    return int(np.prod(s, dtype=np.int64)) if len(s) else 1


# ---------------------------------------------------------------------------
# Loading and checking the model

ONNX_FLOAT = 1


def _one_line(text):
    return " ".join(str(text).split())


def load_model(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise OnnxError("cannot read %s: %s" % (path, e.strerror or e))
    if not data:
        raise OnnxError("%s is empty" % path)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # google.protobuf.message.DecodeError and friends
        raise OnnxError("%s is not an ONNX model (protobuf: %s)" % (path, _one_line(e)))
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise OnnxError("%s is not an ONNX model (no graph)" % path)
    _check_names(model, path)
    # external data (weights in other files), if any, relative to the model
    try:
        from onnx.external_data_helper import load_external_data_for_model
        load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
    except Exception as e:
        raise OnnxError("cannot load the external data of %s: %s" % (path, _one_line(e)))
    return model


def _check_names(model, path):
    """Every name the importer reads must be text (protobuf hands invalid
    UTF-8 back as bytes)."""
    g = model.graph
    names = [g.name]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        names.append(vi.name)
    for t in g.initializer:
        names.append(t.name)
    for n in g.node:
        names += [n.name, n.op_type, n.domain] + list(n.input) + list(n.output)
        names += [a.name for a in n.attribute]
    for imp in model.opset_import:
        names.append(imp.domain)
    names += [model.producer_name, model.producer_version]
    for x in names:
        if not isinstance(x, str):
            raise OnnxError("%s is not a valid ONNX model (a name is not UTF-8 text: %r)"
                            % (path, bytes(x)[:40]))


def load_tensor_file(path):
    """A tensor from a serialized TensorProto (.pb, as in ONNX test data) or a .npy file."""
    try:
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        with open(path, "rb") as f:
            data = f.read()
        t = onnx.TensorProto()
        t.ParseFromString(data)
        return numpy_helper.to_array(t)
    except OnnxError:
        raise
    except Exception as e:
        raise OnnxError("cannot read the tensor %s: %s" % (path, _one_line(e)))


def _to_array(t, what):
    try:
        return numpy_helper.to_array(t)
    except Exception as e:
        raise OnnxError("%s '%s' cannot be read: %s" % (what, t.name, _one_line(e)))


def _topo_order(graph, known):
    """The graph's nodes in an order where each node follows the producers of
    its inputs; OnnxError on a missing input or a cycle."""
    producer = {}
    for i, n in enumerate(graph.node):
        _INDEX[id(n)] = i
        for o in n.output:
            if o:
                if o in producer or o in known:
                    raise OnnxError("tensor '%s' is defined twice (node %s)" % (o, _node_desc(n)))
                producer[o] = i
    deps = []
    for i, n in enumerate(graph.node):
        d = set()
        for name in n.input:
            if not name:
                continue  # an omitted optional input
            if name in producer:
                d.add(producer[name])
            elif name not in known:
                raise OnnxError("node %s (%s) reads '%s', which no node, graph input or "
                                "initializer defines" % (_node_desc(n), n.op_type, name))
        # subgraphs (If, Loop) may read outer names: not followed
        deps.append(d)
    order, state = [], [0] * len(graph.node)  # 0 new, 1 on stack, 2 done
    for start in range(len(graph.node)):
        if state[start]:
            continue
        stack = [(start, iter(sorted(deps[start])))]
        state[start] = 1
        while stack:
            i, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[i] = 2
                order.append(graph.node[i])
            elif state[nxt] == 1:
                cyc = [graph.node[j] for j, _ in stack[[j for j, _ in stack].index(nxt):]]
                raise OnnxError("the graph has a cycle through nodes %s"
                                % ", ".join("%s (%s)" % (_node_desc(c), c.op_type) for c in cyc))
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(deps[nxt]))))
    for name in [o.name for o in graph.output]:
        if name not in producer and name not in known:
            raise OnnxError("graph output '%s' is not computed by any node" % name)
    return order


def _dtype_name(elem_type):
    try:
        return onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:
        return "element type %d" % elem_type


def _np_dtype(elem_type):
    try:
        if hasattr(onnx.helper, "tensor_dtype_to_np_dtype"):
            return onnx.helper.tensor_dtype_to_np_dtype(elem_type)
        return onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type]
    except (KeyError, ValueError):
        raise OnnxError("unknown element type %d" % elem_type)


def _attrs(node):
    out = {}
    for a in node.attribute:
        try:
            out[a.name] = onnx.helper.get_attribute_value(a)
        except Exception as e:
            raise OnnxError("node %s (%s): attribute '%s' cannot be read: %s"
                            % (_node_desc(node), node.op_type, a.name, _one_line(e)))
        if isinstance(out[a.name], bytes):
            out[a.name] = out[a.name].decode("utf-8", "replace")
    return out


def _dims(tp):
    """The dims of a value's tensor type: ints, or strings for symbolic dims,
    or None when the rank is unknown."""
    if not tp.HasField("tensor_type") or not tp.tensor_type.HasField("shape"):
        return None
    out = []
    for d in tp.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or "?")
    return out


# ---------------------------------------------------------------------------
# The converter

class Converter:
    def __init__(self, model, batch=1, input_weights=None, name_hint="net"):
        self.model = model
        self.batch = batch
        self.input_weights = dict(input_weights or {})
        self.name_hint = name_hint
        self.ops = []
        self.env = {}  # ONNX name -> T or Poison
        self.const = {}  # ONNX name -> numpy array
        self.unsupported = []
        self.used_labels = set()
        self.skip = set()  # nodes fused into another
        self.fused = {}  # id(Mul node) -> "hardswish" or "silu"
        self.folded_pad = {}  # output of a Pad folded into its pool or conv -> spatial pads,
        # the begin ones then the end ones, as ONNX's pads
        self.softmax_swap = {}  # id(Softmax node) -> the axis it runs over (see find_patterns)
        self.alias = {}  # tensor name -> the tensor it equals (skipped Transposes)
        self.ln_swap = set()  # id(LayerNormalization) between NCHW <-> NHWC Transposes
        self.gelu = {}  # id(last Mul of an Erf GELU) -> its input x
        self.ln_decomposed = {}  # id(last node of PyTorch's decomposed LayerNorm) -> ...
        self.counts = {}
        self.constant_ops = {}  # (ONNX constant, cnnc shape) -> its constant layer
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = imp.version

    # -- errors and helpers

    def fail(self, reason, alternative=None):
        raise Unsupported(reason, alternative)

    def shape_of(self, name):
        return self.oshapes.get(name)

    def get(self, node, k, what=None):
        """Input k of node as a runtime tensor (T or Poison)."""
        name = node.input[k] if k < len(node.input) else ""
        if not name:
            raise OnnxError("node %s (%s) lacks its input %d" % (_node_desc(node), node.op_type, k))
        if name in self.const:
            self.fail("%s '%s' is a constant; cnnc computes this op on the network's tensors "
                      "only" % (what or "input", name))
        return self.env[name]

    def resolve_aliases(self):
        for a, b in self.alias.items():
            if b in self.env and a not in self.env:
                self.env[a] = self.env[b]

    def cst(self, node, k, what, optional=False):
        """Input k of node as a constant numpy array (None if omitted and optional)."""
        name = node.input[k] if k < len(node.input) else ""
        if not name:
            if optional:
                return None
            raise OnnxError("node %s (%s) lacks its %s (input %d)"
                            % (_node_desc(node), node.op_type, what, k))
        if name not in self.const:
            self.fail("its %s '%s' is computed at run time; cnnc needs it to be an initializer "
                      "(or a graph input given with --input-as-weights)" % (what, name))
        return self.const[name]

    def out_shape(self, node, k=0):
        return self.oshapes.get(node.output[k])

    def define(self, node, val, oshape=None, k=0):
        if oshape is None:
            oshape = self.out_shape(node, k)
        if oshape is None:
            oshape = val.cshape
        self.env[node.output[k]] = T(val, oshape)

    def used(self, name):
        return bool(name) and (name in self.consumers or name in self.graph_outputs)

    def only_first_output(self, node):
        for k, o in enumerate(node.output):
            if k and self.used(o):
                self.fail("its output %d ('%s') is used; cnnc computes only the first" % (k, o))

    def need_float(self, node, name):
        et = self.elem_types.get(name)
        if et is not None and et != ONNX_FLOAT:
            self.fail("tensor '%s' is %s; cnnc computes in float32 only"
                      % (name, _dtype_name(et).lower()))

    def need_natural(self, t, what="its input"):
        if isinstance(t, Poison):
            return
        if t.val.cshape != natural(t.oshape):
            self.fail("%s %s is held by cnnc as %s (after %s), which this op cannot read; "
                      "cnnc reshapes only [N, C, H, W] to [N, C*H*W]"
                      % (what, list(t.oshape), list(t.val.cshape), t.why or "a flatten"),
                      "flatten")

    def channels_view(self, t):
        """Ops per channel (batchnorm, global pools, concat) read any cnnc
        shape that keeps N and C first: [N, C, D, H, W] as [N, C, D*H, W]."""
        if isinstance(t, Poison):
            return
        cs, o = t.val.cshape, t.oshape
        if len(o) == 2 and cs == o:
            return
        if len(o) >= 3 and len(cs) == 4 and cs[:2] == o[:2]:
            return
        self.need_natural(t)

    def swapped(self, t):
        """Is a rank-4 tensor [N, C, L, 1] held as [N, C, 1, L] (the natural
        form of [N, C, L], before an Unsqueeze)? Window ops then run with
        height and width exchanged."""
        if isinstance(t, Poison) or t.val.cshape == natural(t.oshape):
            return False
        o = t.oshape
        if len(o) == 4 and t.val.cshape == (o[0], o[1], o[3], o[2]) and 1 in (o[2], o[3]):
            return True
        self.need_natural(t)

    def need_rank(self, t, ranks, what):
        if t.oshape is not None and len(t.oshape) not in ranks:
            self.fail("%s on a rank-%d tensor %s; cnnc has it for %s"
                      % (what, len(t.oshape), list(t.oshape), what_ranks(ranks)))

    def label(self, node, params, suffixes):
        """A layer label: the common prefix of the initializer names if they
        are PREFIX.weight, PREFIX.bias, ... (PyTorch's names), else the node
        name, else '<op>_<n>'; sanitized and made unique."""
        cands = []
        prefixes = set()
        for name, suf in zip(params, suffixes):
            if name is None:
                continue
            if not name.endswith("." + suf):
                prefixes.add(None)
            else:
                prefixes.add(name[: -len(suf) - 1])
        if len(prefixes) == 1 and None not in prefixes:
            cands.append(prefixes.pop())
        if node.name:
            cands.append(scope_path(node.name) or node.name)
        for c in cands:
            lab = sanitize_label(c)
            if lab:
                break
        else:
            k = self.counts.get(node.op_type, 0) + 1
            self.counts[node.op_type] = k
            lab = "%s_%d" % (re.sub(r"(?<!^)(?=[A-Z])", "_", node.op_type).lower(), k)
        return cnn_text.unique(lab, self.used_labels)

    def op(self, node, kind, inputs, attrs=(), cshape=None, label=None, tensors=(), k=0):
        vals = []
        for t in inputs:
            vals.append(t.val if isinstance(t, T) else None)
        if cshape is None:
            cshape = natural(self.out_shape(node, k)) if self.out_shape(node, k) is not None \
                else (vals[0].cshape if vals and vals[0] is not None else (1, 1))
        o = Op(kind, vals, attrs, cshape, label=label, tensors=tensors,
               onnx_name=node.output[k] if k < len(node.output) else None)
        if all(v is not None for v in vals):
            self.ops.append(o)
        return o

    # -- the run

    def run(self):
        m = self.model
        g = m.graph
        inits = {}
        for t in g.initializer:
            inits[t.name] = t
        # The inputs: real ones and those made weights.
        real = []
        for vi in g.input:
            if vi.name in inits:
                continue
            if vi.name in self.input_weights:
                continue
            real.append(vi)
        for name in self.input_weights:
            if name not in [vi.name for vi in g.input]:
                raise OnnxError("--input-as-weights: the graph has no input '%s' (inputs: %s)"
                                % (name, ", ".join(vi.name for vi in g.input) or "none"))
        # Fix the batch dimension and turn constant inputs into initializers
        # so that shape inference sees their values.
        model = onnx.ModelProto()
        model.CopyFrom(m)
        g2 = model.graph
        keep = []
        for vi in g2.input:
            if vi.name in self.input_weights:
                arr = self.input_weights[vi.name]
                if arr is None:
                    if vi.name in inits:
                        continue
                    raise OnnxError("--input-as-weights %s: no value given (NAME=FILE)" % vi.name)
                g2.initializer.append(numpy_helper.from_array(np.asarray(arr), vi.name))
                if model.ir_version < 4:  # IR 3: every initializer is a graph input too
                    keep.append(vi)
                continue
            keep.append(vi)
        del g2.input[:]
        g2.input.extend(keep)
        self.symbolic_batch = False
        for vi in g2.input:
            if vi.name in inits:
                continue
            dims = vi.type.tensor_type.shape.dim
            for k, d in enumerate(dims):
                if not d.HasField("dim_value"):
                    if k == 0:
                        d.dim_value = self.batch
                        self.symbolic_batch = True
                    else:
                        raise Unsupported("input '%s' has a symbolic dimension %d ('%s'); cnnc "
                                          "needs every dimension but the batch fixed"
                                          % (vi.name, k, d.dim_param))
        self.inference_error = None
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        except Exception as e:
            # Either the model is inconsistent, or ONNX's inference fails on an op
            # (1.12 does on some valid models). Carry on with what the lenient
            # mode infers; if every node converts, the model is reported as bad.
            self.inference_error = _one_line(e)[:400]
            try:
                inferred = onnx.shape_inference.infer_shapes(model)
            except Exception:
                inferred = model
        g2 = inferred.graph
        self.oshapes = {}
        self.elem_types = {}
        for vi in list(g2.input) + list(g2.value_info) + list(g2.output):
            d = _dims(vi.type)
            if vi.type.HasField("tensor_type"):
                self.elem_types[vi.name] = vi.type.tensor_type.elem_type
            if d is not None and all(isinstance(x, int) for x in d):
                self.oshapes[vi.name] = tuple(d)
        for t in g2.initializer:
            self.const[t.name] = _to_array(t, "initializer")
            self.oshapes[t.name] = tuple(self.const[t.name].shape)
            self.elem_types[t.name] = t.data_type
        self.graph_outputs = [o.name for o in g2.output]

        real_names = [vi.name for vi in g2.input if vi.name not in self.const]
        if len(real_names) != 1:
            raise Unsupported(
                "the graph has %d inputs (%s); a cnnc network has exactly one (give constant "
                "inputs with --input-as-weights NAME=FILE)"
                % (len(real_names), ", ".join(real_names) or "none"))
        iname = real_names[0]
        ishape = self.oshapes.get(iname)
        if ishape is None:
            raise Unsupported("input '%s' has no fixed shape" % iname)
        if 0 in ishape:
            raise Unsupported("input '%s' %s has no elements; cnnc tensors are never empty"
                              % (iname, list(ishape)))
        et = self.elem_types.get(iname)
        if et != ONNX_FLOAT:
            raise Unsupported("input '%s' is %s; cnnc networks take float32"
                              % (iname, _dtype_name(et).lower() if et else
                                 "not a tensor"))
        self.input = Input(natural(ishape))
        self.input.name = sanitize_ident(iname)
        self.input_oshape = ishape
        self.input_onnx_name = iname
        self.env[iname] = T(self.input, ishape)

        order = _topo_order(g2, set(self.const) | {iname})
        self.consumers = {}
        for n in order:
            for name in n.input:
                if name:
                    self.consumers.setdefault(name, []).append(n)
        self.graph = g2
        self.find_patterns(order)
        for n in order:
            if id(n) in self.skip:
                continue
            self.convert_node(n)
        if self.unsupported:
            raise UnsupportedModel(self.unsupported)
        if self.inference_error:
            raise OnnxError("shape inference failed: %s" % self.inference_error)
        self.resolve_aliases()
        outs = []
        for name in self.graph_outputs:
            if name in self.const:
                u = Unsupported("graph output '%s' is a constant; cnnc outputs are computed "
                                "tensors" % name)
                raise UnsupportedModel([u])
            et = self.elem_types.get(name)
            if et is not None and et != ONNX_FLOAT:
                raise UnsupportedModel([Unsupported(
                    "graph output '%s' is %s; cnnc computes float32"
                    % (name, _dtype_name(et).lower()))])
            outs.append(self.env[name].val)
        if not outs:
            raise OnnxError("the graph has no outputs")
        # an output that is the input, or the same tensor twice: a dropout copy
        seen = set()
        for k, v in enumerate(outs):
            if isinstance(v, Input) or id(v) in seen:
                o = Op("dropout", [v], [], v.cshape)
                o.onnx_name = self.graph_outputs[k]
                self.ops.append(o)
                outs[k] = o
            seen.add(id(outs[k]))
        self.outputs = outs
        self.output_oshapes = [self.env[n].oshape for n in self.graph_outputs]

    def find_patterns(self, order):
        """x * HardSigmoid(x) (alpha 1/6, beta 0.5) is hardswish and
        x * Sigmoid(x) silu, as PyTorch exports them before opset 14."""
        producer = {o: n for n in order for o in n.output if o}
        # Transpose (swap axes d and last) -> Softmax (last axis) -> the same
        # Transpose: softmax over axis d, as PyTorch exports it before opset 13.
        for n in order:
            if n.op_type != "Softmax" or len(n.input) < 1:
                continue
            t1 = producer.get(n.input[0])
            users = self.consumers.get(n.output[0], [])
            if t1 is None or t1.op_type != "Transpose" or len(users) != 1 \
                    or users[0].op_type != "Transpose" or n.output[0] in self.graph_outputs \
                    or len(self.consumers.get(t1.output[0], [])) != 1:
                continue
            t2 = users[0]
            p1, p2 = _attrs(t1).get("perm"), _attrs(t2).get("perm")
            r = len(p1 or [])
            if not p1 or p1 != p2 or r < 2:
                continue
            moved = [k for k in range(r) if p1[k] != k]
            axis = _attrs(n).get("axis", -1 if self.opset >= 13 else 1)
            if len(moved) != 2 or moved[1] != r - 1 or axis not in (-1, r - 1):
                continue
            self.softmax_swap[id(n)] = moved[0]
            self.skip.add(id(t1))
            self.skip.add(id(t2))
            self.alias[n.input[0]] = t1.input[0]
            self.alias[t2.output[0]] = n.output[0]
        self.find_layernorm(order, producer)
        self.find_layernorm_decomposed(order, producer)
        self.find_gelu(order, producer)
        for n in order:
            if n.op_type != "Mul" or len(n.input) != 2:
                continue
            for k in range(2):
                act = producer.get(n.input[k])
                other = n.input[1 - k]
                if act is None or act.op_type not in ("HardSigmoid", "Sigmoid"):
                    continue
                if act.input[0] != other or len(self.consumers.get(n.input[k], [])) != 1 \
                        or n.input[k] in self.graph_outputs:
                    continue
                if act.op_type == "HardSigmoid":
                    a = _attrs(act)
                    if not (np.isclose(a.get("alpha", 0.2), 1 / 6, rtol=1e-6)
                            and a.get("beta", 0.5) == 0.5):
                        continue
                self.fused[id(n)] = ("hardswish" if act.op_type == "HardSigmoid" else "silu", k)
                self.skip.add(id(act))
                break

    def const_value(self, name, producer):
        """The value of a tensor that is an initializer or a Constant node's
        output (before conversion), else None."""
        if name in self.const:
            return self.const[name]
        p = producer.get(name)
        if p is not None and p.op_type == "Identity" and p.input:  # PyTorch's shared weights
            return self.const_value(p.input[0], producer)
        if p is not None and p.op_type == "Constant":
            v = _attrs(p).get("value")
            if v is not None:
                return numpy_helper.to_array(v)
            if "value_float" in _attrs(p):
                return np.float32(_attrs(p)["value_float"])
        return None

    def sole_user(self, name, op_type):
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.graph_outputs or users[0].op_type != op_type:
            return None
        return users[0]

    def find_layernorm(self, order, producer):
        """Transpose [0, 2, 3, 1] -> LayerNormalization (last axis) ->
        Transpose [0, 3, 1, 2]: a layer norm over the channels of NCHW
        (PyTorch's permute, nn.LayerNorm, permute back)."""
        for n in order:
            if n.op_type != "LayerNormalization" or not n.input:
                continue
            t1 = producer.get(n.input[0])
            if t1 is None or t1.op_type != "Transpose" or \
                    list(_attrs(t1).get("perm", [])) != [0, 2, 3, 1] or \
                    self.sole_user(t1.output[0], "LayerNormalization") is None:
                continue
            t2 = self.sole_user(n.output[0], "Transpose")
            if t2 is None or list(_attrs(t2).get("perm", [])) != [0, 3, 1, 2]:
                continue
            if _attrs(n).get("axis", -1) not in (-1, 3):
                continue
            self.ln_swap.add(id(n))
            self.skip.add(id(t1))
            self.skip.add(id(t2))
            self.alias[n.input[0]] = t1.input[0]
            self.alias[t2.output[0]] = n.output[0]

    def find_layernorm_decomposed(self, order, producer):
        """nn.LayerNorm as PyTorch exports it before opset 17: m =
        ReduceMean(x, last axis); d = x - m; v = ReduceMean(Pow(d, 2), last
        axis); y = d / Sqrt(v + eps) [* weight] [+ bias]; over the features
        of [N, F], or over the channels of NCHW between Transposes [0, 2, 3, 1]
        and [0, 3, 1, 2]."""
        def const(name):
            v = self.const_value(name, producer)
            return None if v is None else np.asarray(v)

        def last_axis(n, r):
            a = _attrs(n)
            axes = a.get("axes")
            if axes is None and len(n.input) > 1 and n.input[1]:
                v = const(n.input[1])
                axes = None if v is None else [int(t) for t in v.reshape(-1)]
            return axes is not None and len(axes) == 1 and axes[0] in (-1, r - 1) and \
                a.get("keepdims", 1) == 1

        for r1 in order:
            if r1.op_type != "ReduceMean" or not r1.input:
                continue
            x = r1.input[0]
            xs = self.oshapes.get(x)
            if xs is None or len(xs) not in (2, 4) or not last_axis(r1, len(xs)):
                continue
            s_ = self.sole_user(r1.output[0], "Sub")
            if s_ is None or s_.input[0] != x or s_.input[1] != r1.output[0]:
                continue
            if sorted(u.op_type for u in self.consumers.get(x, [])) != ["ReduceMean", "Sub"] \
                    or x in self.graph_outputs:
                continue
            users = self.consumers.get(s_.output[0], [])
            if len(users) != 2 or s_.output[0] in self.graph_outputs:
                continue
            pw = [u for u in users if u.op_type == "Pow"]
            dv = [u for u in users if u.op_type == "Div"]
            if len(pw) != 1 or len(dv) != 1:
                continue
            pw, dv = pw[0], dv[0]
            two = const(pw.input[1]) if len(pw.input) > 1 else None
            if pw.input[0] != s_.output[0] or two is None or two.size != 1 or \
                    float(two.reshape(-1)[0]) != 2.0:
                continue
            r2 = self.sole_user(pw.output[0], "ReduceMean")
            if r2 is None or not last_axis(r2, len(xs)):
                continue
            ad = self.sole_user(r2.output[0], "Add")
            if ad is None:
                continue
            eps = const(ad.input[1 if ad.input[0] == r2.output[0] else 0])
            if eps is None or eps.size != 1:
                continue
            sq = self.sole_user(ad.output[0], "Sqrt")
            if sq is None or self.sole_user(sq.output[0], "Div") is not dv or \
                    dv.input[0] != s_.output[0] or dv.input[1] != sq.output[0]:
                continue
            nodes = [r1, s_, pw, r2, ad, sq, dv]
            last, weight, bias = dv, None, None
            m = self.sole_user(dv.output[0], "Mul")
            if m is not None:
                w = m.input[1 if m.input[0] == dv.output[0] else 0]
                wv = const(w)
                if wv is not None and wv.size == xs[-1]:
                    weight, last = w, m
                    nodes.append(m)
            a = self.sole_user(last.output[0], "Add")
            if a is not None:
                b = a.input[1 if a.input[0] == last.output[0] else 0]
                bv = const(b)
                if bv is not None and bv.size == xs[-1]:
                    bias, last = b, a
                    nodes.append(a)
            swap = False
            if len(xs) == 4:
                t1 = producer.get(x)
                t2 = self.sole_user(last.output[0], "Transpose")
                if t1 is None or t1.op_type != "Transpose" or \
                        list(_attrs(t1).get("perm", [])) != [0, 2, 3, 1] or t2 is None or \
                        list(_attrs(t2).get("perm", [])) != [0, 3, 1, 2]:
                    continue
                self.skip.add(id(t1))
                self.skip.add(id(t2))
                self.alias[t2.output[0]] = last.output[0]
                x = t1.input[0]
                swap = True
            for n in nodes[:-1]:
                self.skip.add(id(n))
            self.ln_decomposed[id(last)] = (x, float(eps.reshape(-1)[0]), weight, bias, swap,
                                            nodes)

    def find_gelu(self, order, producer):
        """x * 0.5 * (1 + Erf(x / sqrt(2))) (PyTorch's GELU before opset 20:
        Div, Erf, Add, Mul, Mul, or with x * 0.5 first; x * (1/sqrt(2)) for
        the Div): gelu."""
        def is_const(name, value, rtol=1e-6):
            v = self.const_value(name, producer)
            return v is not None and np.size(v) == 1 and \
                np.isclose(float(np.asarray(v).reshape(-1)[0]), value, rtol=rtol, atol=0)

        for e in order:
            if e.op_type != "Erf" or not e.input:
                continue
            d = producer.get(e.input[0])
            if d is None or len(d.input) != 2 or \
                    self.sole_user(d.output[0], "Erf") is None:
                continue
            if d.op_type == "Div" and is_const(d.input[1], math.sqrt(2)):
                x = d.input[0]
            elif d.op_type == "Mul" and is_const(d.input[1], math.sqrt(0.5)):
                x = d.input[0]
            elif d.op_type == "Mul" and is_const(d.input[0], math.sqrt(0.5)):
                x = d.input[1]
            else:
                continue
            add = self.sole_user(e.output[0], "Add")
            if add is None or not is_const(add.input[1 if add.input[0] == e.output[0] else 0],
                                           1.0, 0):
                continue
            m = self.sole_user(add.output[0], "Mul")
            if m is None or len(m.input) != 2:
                continue
            other = m.input[1 if m.input[0] == add.output[0] else 0]
            if other == x:  # (x * (1 + erf)) * 0.5
                last = self.sole_user(m.output[0], "Mul")
                if last is None or not is_const(
                        last.input[1 if last.input[0] == m.output[0] else 0], 0.5, 0):
                    continue
                inner = [d, e, add, m]
            else:  # (x * 0.5) * (1 + erf)
                h = producer.get(other)
                if h is None or h.op_type != "Mul" or len(h.input) != 2 or \
                        x not in h.input or \
                        not is_const(h.input[1 if h.input[0] == x else 0], 0.5, 0) or \
                        self.sole_user(h.output[0], "Mul") is not m:
                    continue
                last, inner = m, [d, e, add, h]
            self.gelu[id(last)] = x
            for k in inner:
                self.skip.add(id(k))

    def convert_node(self, node):
        self.resolve_aliases()
        h = HANDLERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if id(node) in self.ln_decomposed:
            h = _layernorm_decomposed
        poisoned = any(isinstance(self.env.get(i), Poison) for i in node.input if i)
        try:
            if h is None:
                dom = "" if node.domain in ("", "ai.onnx") else " of domain '%s'" % node.domain
                raise Unsupported("op %s%s is not supported by cnnc" % (node.op_type, dom),
                                  _nearest(node.op_type))
            h(self, node)
        except Unsupported as u:
            u.node = node
            if u.alternative is None:
                u.alternative = _nearest(node.op_type) if node.op_type not in SUPPORTED_OPS \
                    else None
            self.unsupported.append(u)
            self.poison(node)
        except OnnxError:
            raise
        except Exception:
            if not poisoned:
                raise
            self.poison(node)  # cannot judge a node fed by an unsupported one any further

    def poison(self, node):
        for o in node.output:
            if o and o not in self.env and o not in self.const:
                self.env[o] = Poison(self.oshapes.get(o))


def what_ranks(ranks):
    names = {2: "[N, F]", 3: "[N, C, L]", 4: "[N, C, H, W]"}
    return " and ".join(names.get(r, "rank %d" % r) for r in sorted(ranks))


# ---------------------------------------------------------------------------
# Handlers, one per ONNX op

HANDLERS = {}


def handler(*names):
    def deco(f):
        for n in names:
            HANDLERS[n] = f
        return f
    return deco


def _all_const(c, node):
    return all((not i) or i in c.const for i in node.input)


def _fold(c, node, value):
    c.const[node.output[0]] = np.asarray(value)


@handler("Constant")
def _constant(c, node):
    a = _attrs(node)
    if "value" in a:
        _fold(c, node, numpy_helper.to_array(a["value"]))
    elif "value_float" in a:
        _fold(c, node, np.float32(a["value_float"]))
    elif "value_floats" in a:
        _fold(c, node, np.array(a["value_floats"], dtype=np.float32))
    elif "value_int" in a:
        _fold(c, node, np.int64(a["value_int"]))
    elif "value_ints" in a:
        _fold(c, node, np.array(a["value_ints"], dtype=np.int64))
    else:
        c.fail("a Constant of this kind (%s) is not supported" % ", ".join(a) or "no value")


@handler("Shape")
def _shape(c, node):
    name = node.input[0]
    s = c.const[name].shape if name in c.const else c.shape_of(name)
    if s is None and isinstance(c.env.get(name), (T, Poison)):
        s = c.env[name].oshape  # computed here where ONNX's inference left it unknown
    if s is None:
        c.fail("the shape of '%s' is not known at import time" % name)
    a = _attrs(node)
    s = list(s)[a.get("start", 0): a.get("end", len(s))] if a else list(s)
    _fold(c, node, np.array(s, dtype=np.int64))


@handler("ConstantOfShape")
def _constant_of_shape(c, node):
    if not _all_const(c, node):
        c.fail("ConstantOfShape of a computed shape")
    shape = [int(v) for v in c.const[node.input[0]].reshape(-1)]
    v = _attrs(node).get("value")
    val = numpy_helper.to_array(v).reshape(-1)[0] if v is not None else np.float32(0)
    _fold(c, node, np.full(shape, val, dtype=np.asarray(val).dtype))


@handler("Div")
def _div(c, node):
    if not _all_const(c, node):
        return _binary(c, node)
    a, b = c.const[node.input[0]], c.const[node.input[1]]
    if np.issubdtype(np.result_type(a, b), np.integer):
        q = np.trunc(np.asarray(a, np.float64) / np.asarray(b, np.float64))
        return _fold(c, node, q.astype(np.result_type(a, b)))
    _fold(c, node, np.divide(a, b))


@handler("Gather")
def _gather(c, node):
    if not _all_const(c, node):
        c.fail("Gather of a computed tensor is not supported (only of constants)")
    axis = _attrs(node).get("axis", 0)
    _fold(c, node, np.take(c.const[node.input[0]], c.const[node.input[1]], axis=axis))


@handler("Cast")
def _cast(c, node):
    to = _attrs(node).get("to")
    if node.input[0] in c.const:
        dt = _np_dtype(to)
        _fold(c, node, c.const[node.input[0]].astype(dt))
        return
    t = c.get(node, 0)
    if to != ONNX_FLOAT:
        c.fail("Cast to %s; cnnc computes in float32 only"
               % _dtype_name(to).lower())
    c.define(node, t.val, t.oshape)  # float to float: nothing to do


@handler("Transpose")
def _transpose(c, node):
    if not _all_const(c, node):
        t = c.get(node, 0)
        perm = _attrs(node).get("perm")
        if t.oshape is not None:
            if perm is None:
                perm = list(range(len(t.oshape)))[::-1]
            moved = [p for k, p in enumerate(perm) if p != k and t.oshape[p] != 1]
            if not moved:  # only dims of size 1 move: the bytes stay
                return _reshape_to(c, node, t, tuple(t.oshape[p] for p in perm))
            # [N, C, H, W] viewed as [N, g, C/g, H, W], groups and channels
            # exchanged: a channel shuffle (the Reshape that follows is free)
            o = t.oshape
            if len(o) == 5 and list(perm) == [0, 2, 1, 3, 4] \
                    and t.val.cshape == (o[0], o[1] * o[2], o[3], o[4]):
                out = c.op(node, "channel_shuffle", [t], [(None, str(o[1]))],
                           cshape=t.val.cshape)
                c.env[node.output[0]] = T(out, (o[0], o[2], o[1], o[3], o[4]),
                                          why="a channel shuffle %s" % _node_desc(node))
                return
            return _permute(c, node, t, list(perm))
        c.fail("Transpose of a computed tensor is not supported (only of constants)", "none")
    x = c.const[node.input[0]]
    perm = _attrs(node).get("perm")
    _fold(c, node, np.transpose(x, perm))


def _permute(c, node, t, perm):
    """A Transpose as cnnc's permute of the natural forms (*Shapes*): the
    batch stays first; rank 3 [N, C, L] held as [N, C, 1, L] moves the
    inserted axis nowhere; rank 5 and more only where the merged middle axes
    stay together."""
    if isinstance(t, Poison):
        return c.poison(node)
    o = t.oshape
    r = len(o)
    c.need_natural(t)
    if perm[0] != 0 and r >= 2:
        c.fail("Transpose %s of %s moves axis 0, which cnnc holds as the batch" % (perm, list(o)),
               "permute (the batch first)")
    if r in (2, 4):
        cperm = perm
    elif r == 3:
        m = {0: 0, 1: 1, 2: 3}
        cperm = [m[perm[0]], m[perm[1]], 2, m[perm[2]]]
    else:
        c.fail("Transpose %s of a rank-%d tensor %s; cnnc permutes tensors of rank 2 to 4"
               % (perm, r, list(o)), "permute")
    oshape = tuple(o[p] for p in perm)
    out = c.op(node, "permute", [t], [(None, str(d)) for d in cperm], cshape=natural(oshape))
    c.define(node, out, oshape)


@handler("Identity")
def _identity(c, node):
    if node.input[0] in c.const:
        _fold(c, node, c.const[node.input[0]])
        return
    t = c.get(node, 0)
    if isinstance(t, Poison):
        c.poison(node)
        return
    c.define(node, t.val, t.oshape)


@handler("Slice")
def _slice(c, node):
    computed = node.input[0] not in c.const
    if computed:
        t = c.get(node, 0)
        if t.oshape is None:
            return c.poison(node)
        shape = t.oshape
    else:
        x = c.const[node.input[0]]
        shape = x.shape
    if c.opset < 10:
        a = _attrs(node)
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in c.cst(node, 1, "starts").reshape(-1)]
        ends = [int(v) for v in c.cst(node, 2, "ends").reshape(-1)]
        ax = c.cst(node, 3, "axes", optional=True)
        st = c.cst(node, 4, "steps", optional=True)
        axes = [int(v) for v in ax.reshape(-1)] if ax is not None else list(range(len(starts)))
        steps = [int(v) for v in st.reshape(-1)] if st is not None else [1] * len(starts)
    idx = [slice(None)] * len(shape)
    for a_, b, e, st in zip(axes, starts, ends, steps):
        idx[a_ + len(shape) if a_ < 0 else a_] = slice(b, e, st)
    if not computed:
        return _fold(c, node, x[tuple(idx)])
    # of a computed tensor: channels start:end (step 1) only, as narrow
    ranges = [range(*sl.indices(d)) for sl, d in zip(idx, shape)]
    moved = [k for k, (rg, d) in enumerate(zip(ranges, shape)) if rg != range(d)]
    if not moved:
        if isinstance(t, Poison):
            return c.poison(node)
        return c.define(node, t.val, t.oshape)
    if any(len(r_) == 0 for r_ in ranges):
        c.fail("Slice %s of %s is empty; cnnc tensors are never empty"
               % (["%d:%d:%d" % (r_.start, r_.stop, r_.step) for r_ in ranges], list(shape)))
    if moved != [1]:
        return _slice_any(c, node, t, ranges, moved)
    rg = ranges[moved[0]]
    if rg.step != 1:
        c.fail("Slice %s of a computed tensor %s; cnnc slices with step 1 only, with narrow"
               % (["%d:%d:%d" % (r_.start, r_.stop, r_.step) for r_ in ranges], list(shape)),
               "narrow")
    if isinstance(t, Poison):
        return c.poison(node)
    c.channels_view(t)
    oshape = shape[:1] + (len(rg),) + tuple(shape[2:])
    cshape = t.val.cshape[:1] + (len(rg),) + t.val.cshape[2:]
    c.define(node, c.op(node, "narrow", [t], [(None, str(rg.start)), (None, str(len(rg)))],
                        cshape=cshape), oshape)


def _slice_any(c, node, t, ranges, moved):
    """A Slice of a computed tensor along any axes but the batch, step 1: one
    narrow(dim=) per axis, on the natural form."""
    shape = t.oshape
    r = len(shape)
    dims = [_cnnc_axis(r, a) for a in moved]
    if any(ranges[a].step != 1 for a in moved) or None in dims:
        c.fail("Slice %s of a computed tensor %s; cnnc slices with step 1 along axes but the "
               "batch (and, of rank 5 and more, the middle ones), with narrow"
               % (["%d:%d:%d" % (r_.start, r_.stop, r_.step) for r_ in ranges], list(shape)),
               "narrow")
    if isinstance(t, Poison):
        return c.poison(node)
    c.need_natural(t)
    oshape = list(shape)
    for a, d in zip(moved, dims):
        rg = ranges[a]
        oshape[a] = len(rg)
        attrs = [(None, str(rg.start)), (None, str(len(rg)))] + ([] if d == 1 else
                                                                 [("dim", str(d))])
        o = c.op(node, "narrow", [t], attrs, cshape=natural(tuple(oshape)))
        t = T(o, tuple(oshape))
    c.define(node, t.val, tuple(oshape))


@handler("Pad")
def _pad(c, node):
    a = _attrs(node)
    mode = a.get("mode", "constant")
    if c.opset < 11:
        pads = list(a.get("pads", []))
        value = a.get("value", 0.0)
    else:
        pads = [int(v) for v in c.cst(node, 1, "pads").reshape(-1)]
        v = c.cst(node, 2, "constant_value", optional=True)
        value = float(np.asarray(v).reshape(-1)[0]) if v is not None and v.size else 0.0
        if len(node.input) > 3 and node.input[3]:
            c.fail("Pad with axes", "the pad= of conv2d/avgpool")
    t = c.get(node, 0)
    r = len(pads) // 2
    if t.oshape is not None and len(pads) != 2 * len(t.oshape):
        raise OnnxError("node %s (Pad): %d pads for a rank-%d tensor"
                        % (_node_desc(node), len(pads), len(t.oshape)))
    if not any(pads):
        if isinstance(t, Poison):
            return c.poison(node)
        return c.define(node, t.val, t.oshape)
    users = c.consumers.get(node.output[0], [])
    begin, end = pads[:r], pads[r:]
    # zeros before a Conv or AveragePool, -inf before a MaxPool: its pad=
    folds = ("Conv", "AveragePool") if value == 0.0 else ("MaxPool",) if value == -math.inf \
        else ()
    if mode == "constant" and not any(begin[:2]) and not any(end[:2]) \
            and min(pads) >= 0 and len(users) == 1 \
            and node.output[0] not in c.graph_outputs \
            and users[0].op_type in folds \
            and users[0].input[0] == node.output[0]:
        if isinstance(t, Poison):
            return c.poison(node)
        c.folded_pad[node.output[0]] = begin[2:] + end[2:]
        c.env[node.output[0]] = T(t.val, t.oshape)
        return
    # a standalone pad(left, right, top, bottom, value=, mode=)
    if mode not in ("constant", "reflect", "edge"):
        c.fail("Pad mode '%s'; cnnc's pad has constant, reflect and edge (replicate) padding"
               % mode, "pad (constant)")
    if any(begin[:2]) or any(end[:2]):
        c.fail("pads %s pad the batch or channel axis; cnnc's pad pads H and W only" % pads,
               "pad (spatial axes)")
    if r not in (3, 4):
        c.fail("Pad of a rank-%d tensor; cnnc's pad takes [N, C, H, W] (and [N, C, L])" % r,
               "pad")
    if mode == "constant" and not math.isfinite(value):
        c.fail("Pad value %r; the .cnn language has no infinite constants" % value)
    if isinstance(t, Poison):
        return c.poison(node)
    c.need_natural(t)
    if mode != "constant":
        _check_mirror_pads(c, mode, pads, t.oshape)
    if r == 4:
        top, left, bottom, right = begin[2], begin[3], end[2], end[3]
    else:
        top, bottom, left, right = 0, 0, begin[2], end[2]
    oshape = tuple(d + b_ + e for d, b_, e in zip(t.oshape, begin, end))
    if min(oshape) < 1:
        c.fail("Pad crops %s to %s; cnnc tensors are never empty" % (list(t.oshape),
                                                                       list(oshape)))
    attrs = [(None, str(left)), (None, str(right)), (None, str(top)), (None, str(bottom))]
    if value != 0.0 and mode == "constant":
        attrs.append(("value", fmt_value(float(np.float32(value)))))
    if mode != "constant":
        attrs.append(("mode", fmt_value("reflect" if mode == "reflect" else "replicate")))
    c.define(node, c.op(node, "pad", [t], attrs, cshape=natural(oshape)), oshape)


def _check_mirror_pads(c, mode, pads, shape):
    """Pad in reflect or edge mode: pads from 0 (no crop), reflect's smaller
    than the axis (numpy, ONNX's reference, reflects again past it; cnnc
    follows PyTorch's ReflectionPad2d)."""
    for p, d in zip(pads, tuple(shape) * 2):
        if p < 0 or (mode == "reflect" and p >= d):
            c.fail("Pad mode '%s' with pads %s of %s; cnnc's (PyTorch's) needs each pad at least "
                   "0%s" % (mode, pads, list(shape), " and smaller than its axis"
                            if mode == "reflect" else ""), "pad (constant)")
            return


@handler("Mul")
def _mul(c, node):
    if id(node) in c.gelu:
        x = c.env.get(c.gelu[id(node)])
        if x is None:
            x = c.get(node, 0)  # a constant: reported
        c.need_float(node, c.gelu[id(node)])
        if isinstance(x, Poison):
            return c.poison(node)
        return c.define(node, c.op(node, "gelu", [x], cshape=x.val.cshape), x.oshape)
    fused = c.fused.get(id(node))
    if fused is None:
        if _all_const(c, node):
            return _fold(c, node, c.const[node.input[0]] * c.const[node.input[1]])
        return _binary(c, node)
    kind, act_k = fused
    k = 1 - act_k
    t = c.get(node, k)
    c.need_float(node, node.input[k])
    if isinstance(t, Poison):
        return c.poison(node)
    c.define(node, c.op(node, kind, [t], cshape=t.val.cshape), t.oshape)


# -- reshapes

def _reshape_to(c, node, t, target):
    target = tuple(int(d) for d in target)
    if isinstance(t, Poison) or t.oshape is None:
        c.poison(node)
        return
    if _prod(target) != _prod(t.oshape):
        raise OnnxError("node %s (%s): cannot reshape %s (%d elements) to %s"
                        % (_node_desc(node), node.op_type, list(t.oshape), _prod(t.oshape),
                           list(target)))
    cs = t.val.cshape
    nat = natural(target)
    if nat == cs:
        c.define(node, t.val, target)
        return
    if len(cs) == 4 and nat == (cs[0], _prod(cs[1:])):
        o = c.op(node, "flatten", [t], cshape=nat)
        c.define(node, o, target)
        return
    # Any other reshape keeps the bytes where they are: fine for elementwise
    # ops and outputs; an op that needs the layout reports it.
    c.env[node.output[0]] = T(t.val, target, why="%s %s from %s to %s" % (
        node.op_type, _node_desc(node), list(t.oshape), list(target)))


@handler("Reshape")
def _reshape(c, node):
    shape = c.cst(node, 1, "shape").astype(np.int64).reshape(-1)
    if node.input[0] in c.const:
        x = c.const[node.input[0]]
        _fold(c, node, x.reshape(_resolve_shape(node, x.shape, shape, _attrs(node))))
        return
    t = c.get(node, 0)
    if isinstance(t, Poison) or t.oshape is None:
        c.poison(node)
        return
    _reshape_to(c, node, t, _resolve_shape(node, t.oshape, shape, _attrs(node)))


def _resolve_shape(node, src, shape, a):
    out = []
    allowzero = a.get("allowzero", 0)
    for k, d in enumerate(shape):
        if d == 0 and not allowzero:
            if k >= len(src):
                raise OnnxError("node %s (Reshape): 0 at dimension %d of a rank-%d tensor"
                                % (_node_desc(node), k, len(src)))
            out.append(src[k])
        else:
            out.append(int(d))
    if out.count(-1) > 1:
        raise OnnxError("node %s (Reshape): more than one -1 in the shape" % _node_desc(node))
    if -1 in out:
        rest = _prod([d for d in out if d != -1])
        if rest == 0 or _prod(src) % rest:
            raise OnnxError("node %s (Reshape): cannot reshape %s to %s"
                            % (_node_desc(node), list(src), list(shape)))
        out[out.index(-1)] = _prod(src) // rest
    return tuple(out)


@handler("Flatten")
def _flatten(c, node):
    if node.input[0] in c.const:
        x = c.const[node.input[0]]
        axis = _attrs(node).get("axis", 1)
        axis = axis + x.ndim if axis < 0 else axis
        return _fold(c, node, x.reshape(_prod(x.shape[:axis]), _prod(x.shape[axis:])))
    t = c.get(node, 0)
    if isinstance(t, Poison) or t.oshape is None:
        return c.poison(node)
    r = len(t.oshape)
    axis = _attrs(node).get("axis", 1)
    if axis < 0:
        axis += r
    if not 0 <= axis <= r:
        raise OnnxError("node %s (Flatten): axis %d out of range for rank %d"
                        % (_node_desc(node), axis, r))
    _reshape_to(c, node, t, (_prod(t.oshape[:axis]), _prod(t.oshape[axis:])))


def _axes(c, node, k_input, r):
    a = _attrs(node)
    if "axes" in a:
        axes = list(a["axes"])
    elif len(node.input) > k_input and node.input[k_input]:
        axes = [int(x) for x in c.cst(node, k_input, "axes").reshape(-1)]
    else:
        axes = None
    if axes is not None:
        axes = [x + r if x < 0 else x for x in axes]
    return axes


@handler("Squeeze")
def _squeeze(c, node):
    src = c.const.get(node.input[0])
    s = src.shape if src is not None else c.get(node, 0).oshape
    if s is None:
        return c.poison(node)
    axes = _axes(c, node, 1, len(s))
    if axes is None:
        axes = [k for k, d in enumerate(s) if d == 1]
    target = tuple(d for k, d in enumerate(s) if k not in axes)
    if src is not None:
        return _fold(c, node, src.reshape(target))
    _reshape_to(c, node, c.get(node, 0), target)


@handler("Unsqueeze")
def _unsqueeze(c, node):
    src = c.const.get(node.input[0])
    s = src.shape if src is not None else c.get(node, 0).oshape
    if s is None:
        return c.poison(node)
    r = len(s)
    a = _attrs(node)
    axes = list(a["axes"]) if "axes" in a else [int(x) for x in
                                                  c.cst(node, 1, "axes").reshape(-1)]
    n = r + len(axes)
    axes = sorted(x + n if x < 0 else x for x in axes)
    target = list(s)
    for x in axes:
        target.insert(x, 1)
    if src is not None:
        return _fold(c, node, src.reshape(target))
    _reshape_to(c, node, c.get(node, 0), tuple(target))


@handler("Concat")
def _concat(c, node):
    if _all_const(c, node):
        axis = _attrs(node).get("axis", 0)
        return _fold(c, node, np.concatenate([c.const[i] for i in node.input if i], axis=axis))
    names = [i for i in node.input if i]
    for i in names:
        c.need_float(node, i)
    if any(i in c.const for i in names):
        return _concat_any(c, node)
    ins = [c.get(node, k, "input %d" % k) for k in range(len(node.input)) if node.input[k]]
    known = [t for t in ins if not isinstance(t, Poison) and t.oshape is not None]
    if not known:
        return c.poison(node)
    r = len(known[0].oshape)
    axis = _attrs(node).get("axis", 1 if r else 0)
    if axis < 0:
        axis += r
    if len(ins) == 1:
        c.define(node, ins[0].val, ins[0].oshape)
        return
    if axis != 1 or r < 2:
        return _concat_any(c, node)
    for t in ins:
        c.channels_view(t)
    if isinstance(ins[0], Poison) or any(isinstance(t, Poison) for t in ins):
        return c.poison(node)
    rest = set(t.val.cshape[2:] for t in ins)
    if len(rest) != 1:
        for t in ins:
            c.need_natural(t)
    cs = ins[0].val.cshape
    cshape = (cs[0], sum(t.val.cshape[1] for t in ins)) + tuple(cs[2:])
    oshape = ins[0].oshape[:1] + (sum(t.oshape[1] for t in ins),) + ins[0].oshape[2:]
    # cnnc's concat takes at most 125 tensors (IR_MAX_NODE_INPUTS): chain them
    # (DenseNet concatenates more); joining in steps gives the same bytes.
    k = 0
    while len(ins) > MAX_CONCAT:
        part = ins[:MAX_CONCAT]
        ch = sum(t.val.cshape[1] for t in part)
        o = c.op(node, "concat", part, cshape=(cs[0], ch) + tuple(cs[2:]))
        k += 1
        o.onnx_name = "%s_part%d" % (node.output[0], k)
        ins = [T(o, (cs[0], ch))] + ins[MAX_CONCAT:]
    c.define(node, c.op(node, "concat", ins, cshape=cshape), oshape)


MAX_CONCAT = 125


def _cnnc_axis(r, axis):
    """The cnnc dimension that holds ONNX axis `axis` of a rank-r tensor
    (natural()), or None: the batch, or a merged middle axis other than the
    first (joining along the first of them keeps the bytes in order)."""
    if r == 1:
        return 1
    if axis == 0:
        return None
    if r in (2, 4):
        return axis
    if r == 3:
        return (1, 3)[axis - 1]
    if axis in (1, 2):
        return axis
    return 3 if axis == r - 1 else None


def _concat_any(c, node):
    """Concat along any axis but the batch, constants among the tensors (a
    cnnc constant layer each, in the natural form of their shape)."""
    names = [i for i in node.input if i]
    shapes = []
    for i in names:
        if i in c.const:
            shapes.append(tuple(np.shape(c.const[i])))
            continue
        t = c.env[i]
        if isinstance(t, Poison) or t.oshape is None:
            return c.poison(node)
        c.need_natural(t)
        shapes.append(t.oshape)
    r = len(shapes[0])
    axis = _attrs(node).get("axis", 1 if r else 0)
    if axis < 0:
        axis += r
    d = _cnnc_axis(r, axis)
    if d is None:
        c.fail("Concat over axis %d of rank-%d tensors %s: %s" % (
            axis, r, list(shapes[0]), "cnnc holds axis 0 as the batch" if axis == 0 else
            "cnnc holds axes 2 to %d as one" % (r - 2)), "concat (dim=1 and on)")
    vals = []
    for i, sh in zip(names, shapes):
        vals.append(T(_constant_op(c, i, natural(sh)), sh) if i in c.const else c.env[i])
    oshape = list(shapes[0])
    oshape[axis] = sum(sh[axis] for sh in shapes)
    oshape = tuple(oshape)
    attrs = [] if d == 1 else [("dim", str(d))]
    cs = list(natural(oshape))
    # cnnc's concat takes at most 125 tensors: chain them (the same bytes)
    k = 0
    while len(vals) > MAX_CONCAT:
        part = vals[:MAX_CONCAT]
        pcs = list(cs)
        pcs[d] = sum(t.val.cshape[d] for t in part)
        o = c.op(node, "concat", part, attrs, cshape=tuple(pcs))
        k += 1
        o.onnx_name = "%s_part%d" % (node.output[0], k)
        vals = [T(o, tuple(pcs))] + vals[MAX_CONCAT:]
    c.define(node, c.op(node, "concat", vals, attrs, cshape=tuple(cs)), oshape)


def _per_channel(arr, t):
    """A constant that broadcasts over t (rank >= 3) per channel: a scalar,
    or shape [C, 1, ..., 1] aligned with axis 1 (leading 1s allowed): its C
    values as float32, else None."""
    o = t.oshape
    if o is None or len(o) < 3:
        return None
    a = np.asarray(arr)
    if a.ndim > len(o):
        return None
    if a.size == 1:
        return np.full(o[1], float(a.reshape(-1)[0]), dtype=np.float32)
    shape = list(a.shape)
    while len(shape) > len(o) - 1 and shape[0] == 1:
        shape.pop(0)
    if len(shape) == len(o) - 1 and shape[0] == o[1] and all(d == 1 for d in shape[1:]):
        return a.reshape(-1).astype(np.float32)
    return None


def _scale_op(c, node, t, weight, bias):
    """x * weight (+ bias) per channel: cnnc's scale."""
    c.channels_view(t)
    label = c.label(node, [], [])
    tensors = [(label + ".weight", weight.astype(np.float32))]
    attrs = []
    if bias is not None:
        tensors.append((label + ".bias", bias.astype(np.float32)))
        attrs.append(("bias", "true"))
    return c.op(node, "scale", [t], attrs, cshape=t.val.cshape, label=label, tensors=tensors)


BINARY = {"Add": ("add", np.add), "Mul": ("mul", np.multiply), "Sub": ("sub", np.subtract),
          "Div": ("div", np.divide)}


def _aligned(shape, R):
    """An operand's ONNX shape, aligned with the broadcast result R as cnnc
    holds R (natural()): leading 1s to R's rank, then natural(); None where
    merged middle axes (rank 5 and more) are neither all 1 nor all R's."""
    r = len(R)
    s = (1,) * (r - len(shape)) + tuple(int(d) for d in shape)
    mid = s[2:-1]
    if r >= 5 and not (all(d == 1 for d in mid) or mid == tuple(R[2:-1])):
        return None
    return natural(s)


def _strip_ones(s):
    s = tuple(s)
    while len(s) > 1 and s[0] == 1:
        s = s[1:]
    return s


def _constant_op(c, name, cshape):
    """A cnnc constant layer holding the ONNX constant `name` in cnnc shape
    cshape (its own shape, without a batch), one per constant and shape."""
    key = (name, tuple(cshape))
    if key in c.constant_ops:
        return c.constant_ops[key]
    arr = np.asarray(c.const[name], dtype=np.float32).reshape(cshape)
    label = c.label(types.SimpleNamespace(name=name, op_type="Constant"), [], [])
    o = Op("constant", [], [(None, str(d)) for d in cshape], tuple(cshape), label=label,
           tensors=[(label + ".weight", arr)], onnx_name=name)
    c.ops.append(o)
    c.constant_ops[key] = o
    return o


def _binary_bcast(c, node, kind):
    """PyTorch's (numpy's) broadcasting of any two shapes, a constant operand
    a cnnc constant layer: cnnc's add, sub, mul, div broadcast the same way
    on the cnnc shapes, which hold the ONNX ones with the same 1s inserted."""
    shapes = []
    for k in range(2):
        name = node.input[k]
        c.need_float(node, name)
        if name in c.const:
            shapes.append(tuple(np.shape(c.const[name])))
        else:
            t = c.env[name]
            if isinstance(t, Poison) or t.oshape is None:
                return c.poison(node)
            c.need_natural(t)
            shapes.append(t.oshape)
    try:
        R = tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise OnnxError("node %s (%s): shapes %s and %s do not broadcast"
                        % (_node_desc(node), node.op_type, list(shapes[0]), list(shapes[1])))
    cR = natural(R)
    vals = []
    for k in range(2):
        name = node.input[k]
        a = _aligned(shapes[k], R)
        if a is None:
            c.fail("%s of %s and %s: the broadcast merges dimensions cnnc holds as one"
                   % (node.op_type, list(shapes[0]), list(shapes[1])))
        if name in c.const:
            vals.append(T(_constant_op(c, name, _strip_ones(a)), shapes[k]))
        else:
            t = c.env[name]
            if _strip_ones(t.val.cshape) != _strip_ones(a) and len(a) >= 2 and \
                    a[0] == t.val.cshape[0] and _prod(a) == _prod(t.val.cshape):
                # a lower rank, aligned with the result: the same bytes, a view
                o = c.op(node, "reshape", [t], [(None, str(d)) for d in a[1:]], cshape=a)
                o.onnx_name = name + "_aligned"
                t = T(o, shapes[k])
            if _strip_ones(t.val.cshape) != _strip_ones(a):
                c.fail("%s of %s and %s: the operand %s is held by cnnc as %s, which does not "
                       "broadcast as ONNX's shape does"
                       % (node.op_type, list(shapes[0]), list(shapes[1]), list(shapes[k]),
                          list(t.val.cshape)))
            vals.append(t)
    computed = [t for k, t in enumerate(vals) if node.input[k] not in c.const]
    big = max(computed, key=lambda t: len(t.val.cshape))
    if len(big.val.cshape) != len(cR) or big.val.cshape[0] != cR[0]:
        c.fail("%s of %s and %s gives %s, whose first dimension (cnnc's batch) is not that of "
               "the computed operand %s" % (node.op_type, list(shapes[0]), list(shapes[1]),
                                            list(R), list(big.oshape)))
    return c.define(node, c.op(node, kind, vals, cshape=cR), R)


def _binary(c, node):
    kind, fn = BINARY[node.op_type]
    if _all_const(c, node):
        return _fold(c, node, fn(c.const[node.input[0]], c.const[node.input[1]]))
    if len(node.input) != 2:
        raise OnnxError("node %s (%s) has %d inputs" % (_node_desc(node), node.op_type,
                                                        len(node.input)))
    for k in range(2):
        if node.input[k] in c.const:
            return _binary_const(c, node, kind, k)
    a, b = c.get(node, 0), c.get(node, 1)
    for i in node.input:
        c.need_float(node, i)
    if isinstance(a, Poison) or isinstance(b, Poison) or a.oshape is None or b.oshape is None:
        return c.poison(node)
    if a.oshape == b.oshape:
        if a.val.cshape != b.val.cshape:
            c.need_natural(a)
            c.need_natural(b)
        return c.define(node, c.op(node, kind, [a, b], cshape=a.val.cshape), a.oshape)
    return _binary_bcast(c, node, kind)


@handler("Expand")
def _expand(c, node):
    """Expand of a computed tensor: a mul by ones of the shape it broadcasts
    to (x * 1 is x exactly, signed zeros, infinities and NaNs too)."""
    shape = [int(d) for d in c.cst(node, 1, "shape").reshape(-1)]
    if node.input[0] in c.const:
        x = c.const[node.input[0]]
        return _fold(c, node, x * np.ones(shape, dtype=x.dtype))
    t = c.get(node, 0)
    if isinstance(t, Poison) or t.oshape is None:
        return c.poison(node)
    R = tuple(int(d) for d in np.broadcast_shapes(t.oshape, tuple(shape)))
    if R == t.oshape:
        return c.define(node, t.val, R)
    x = (1,) * (len(R) - len(t.oshape)) + t.oshape
    ones = tuple(r if d == 1 else 1 for d, r in zip(x, R))
    name = node.output[0] + "_ones"
    c.const[name] = np.ones(ones, dtype=np.float32)
    c.elem_types[name] = ONNX_FLOAT
    mul = types.SimpleNamespace(input=[node.input[0], name], output=node.output,
                                op_type="Expand", name=node.name)
    _binary_bcast(c, mul, "mul")


def _binary_const(c, node, kind, k):
    """A computed tensor and a per-channel constant: cnnc's scale (a Mul, or
    an Add/Sub as x * 1 + b, exact), with a following Add or Sub of another
    per-channel constant joined as its bias."""
    t = c.get(node, 1 - k)
    c.need_float(node, node.input[1 - k])
    arr = c.const[node.input[k]]
    if t.oshape is None:
        return c.poison(node)
    v = _per_channel(arr, t)
    if kind == "div" or v is None or not np.all(np.isfinite(v)) or \
            tuple(np.broadcast_shapes(np.shape(arr), t.oshape)) != t.oshape:
        # x / d is not x * (1/d) in float32: a constant layer, as any other shape
        return _binary_bcast(c, node, kind)
    if isinstance(t, Poison):
        return c.poison(node)
    C = t.oshape[1]
    if kind == "mul":
        weight, bias = v, None
        # x * w followed by + b (or - b) per channel: one scale with a bias
        users = c.consumers.get(node.output[0], [])
        if len(users) == 1 and node.output[0] not in c.graph_outputs \
                and users[0].op_type in ("Add", "Sub") and len(users[0].input) == 2:
            u = users[0]
            j = 1 if u.input[0] == node.output[0] else 0
            if u.input[1 - j] == node.output[0] and (u.op_type == "Add" or j == 1) \
                    and u.input[j] in c.const and u.input[j] != node.output[0]:
                tt = T(t.val, t.oshape)
                b = _per_channel(c.const[u.input[j]], tt)
                bshape = np.shape(c.const[u.input[j]])
                if b is not None and np.all(np.isfinite(b)) and \
                        tuple(np.broadcast_shapes(bshape, t.oshape)) == t.oshape:
                    bias = b if u.op_type == "Add" else -b
                    c.skip.add(id(u))
                    o = _scale_op(c, u, t, weight, bias)
                    c.define(node, o, t.oshape)
                    c.define(u, o, t.oshape)
                    return
    elif kind == "add":
        weight, bias = np.ones(C, np.float32), v
    elif k == 1:  # x - b
        weight, bias = np.ones(C, np.float32), -v
    else:  # b - x
        weight, bias = -np.ones(C, np.float32), v
    c.define(node, _scale_op(c, node, t, weight, bias), t.oshape)


VARIADIC = {"Max": ("maximum", np.maximum), "Min": ("minimum", np.minimum),
            "Sum": ("add", np.add), "Mean": ("add", np.add)}


@handler("Max", "Min", "Sum", "Mean")
def _variadic(c, node):
    """Max, Min, Sum, Mean of any number of tensors: maximum, minimum or add
    of each in turn (with broadcasting, constants as constant layers), Mean
    then divided by the count."""
    kind, fn = VARIADIC[node.op_type]
    names = [i for i in node.input if i]
    if not names:
        raise OnnxError("node %s (%s) has no inputs" % (_node_desc(node), node.op_type))
    acc = names[0]
    for k, name in enumerate(names[1:] + ([None] if node.op_type == "Mean" else [])):
        last = k == len(names) - (1 if node.op_type == "Mean" else 2)
        out = node.output[0] if last else "%s_%d" % (node.output[0], k + 1)
        if name is None:  # Mean: the sum divided by the count
            name, kind = out + "_count", "div"
            c.const[name] = np.float32(len(names))
        if acc in c.const and name in c.const:
            c.const[out] = fn(c.const[acc], c.const[name]) if kind != "div" else \
                np.divide(c.const[acc], c.const[name])
        else:
            step = types.SimpleNamespace(input=[acc, name], output=[out], op_type=node.op_type,
                                         name=node.name)
            _binary_bcast(c, step, kind)
        acc = out
    if len(names) == 1 and node.op_type != "Mean":
        if acc in c.const:
            return _fold(c, node, c.const[acc])
        t = c.get(node, 0)
        c.define(node, t.val, t.oshape)


HANDLERS["Add"] = _binary
HANDLERS["Sub"] = _binary


# -- elementwise activations

def _unary(kind, attrs=()):
    def h(c, node):
        t = c.get(node, 0)
        c.need_float(node, node.input[0])
        if isinstance(t, Poison):
            return c.poison(node)
        c.define(node, c.op(node, kind, [t], list(attrs), cshape=t.val.cshape), t.oshape)
    return h


for _onnx, _kind in (("Relu", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"),
                     ("HardSwish", "hardswish")):
    HANDLERS[_onnx] = _unary(_kind)


# -- unary math ops: one C library call per element, as PyTorch computes them

UNARY_MATH = {"Exp": "exp", "Log": "log", "Neg": "neg", "Abs": "abs", "Sqrt": "sqrt",
              "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil", "Sin": "sin",
              "Cos": "cos"}
for _onnx, _kind in UNARY_MATH.items():
    HANDLERS[_onnx] = _unary(_kind)


@handler("HardSigmoid")
def _hardsigmoid(c, node):
    # ONNX's max(0, min(1, alpha * x + beta)) exactly: cnnc's hardsigmoid with
    # alpha given (PyTorch's relu6(x + 3) / 6 rounds differently at alpha 1/6)
    a = _attrs(node)
    alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
    attrs = [("alpha", fmt_value(np.float32(alpha)))]
    if np.float32(beta) != np.float32(0.5):
        attrs.append(("beta", fmt_value(np.float32(beta))))
    _unary("hardsigmoid", attrs)(c, node)


@handler("Split")
def _split(c, node):
    t = c.get(node, 0)
    c.need_float(node, node.input[0])
    a = _attrs(node)
    n = len(node.output)
    if t.oshape is None:
        return c.poison(node)
    r = len(t.oshape)
    axis = a.get("axis", 0)
    if axis < 0:
        axis += r
    if "split" in a:
        sizes = list(a["split"])
    elif len(node.input) > 1 and node.input[1]:
        sizes = [int(v) for v in c.cst(node, 1, "split").reshape(-1)]
    else:
        if t.oshape[axis] % n:
            raise OnnxError("node %s (Split): %d does not split into %d equal parts"
                            % (_node_desc(node), t.oshape[axis], n))
        sizes = [t.oshape[axis] // n] * n
    if len(sizes) != n or sum(sizes) != t.oshape[axis] or min(sizes) < 0:
        raise OnnxError("node %s (Split): split %s does not fit axis %d of size %d into %d "
                        "outputs" % (_node_desc(node), sizes, axis, t.oshape[axis], n))
    d = _cnnc_axis(r, axis)
    if d is None:
        c.fail("Split along axis %d of a rank-%d tensor; cnnc splits along axes but the batch "
               "(and, of rank 5 and more, the middle ones), with narrow" % (axis, r), "narrow")
    if 0 in sizes:
        c.fail("Split %s has an empty part; cnnc tensors are never empty" % sizes)
    if isinstance(t, Poison):
        return c.poison(node)
    if d == 1 and r >= 2:
        c.channels_view(t)
    else:
        c.need_natural(t)
    start = 0
    for k, size in enumerate(sizes):
        if c.used(node.output[k]):
            oshape = t.oshape[:axis] + (size,) + t.oshape[axis + 1:]
            cshape = list(t.val.cshape)
            cshape[d] = size
            attrs = [(None, str(start)), (None, str(size))] + ([] if d == 1 else
                                                               [("dim", str(d))])
            c.define(node, c.op(node, "narrow", [t], attrs, cshape=tuple(cshape), k=k),
                     oshape, k=k)
        start += size


@handler("LayerNormalization")
def _layernorm(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    scale = c.cst(node, 1, "scale")
    bias = c.cst(node, 2, "bias", optional=True)
    c.only_first_output(node)
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    a = _attrs(node)
    r = len(x.oshape)
    axis = a.get("axis", -1)
    swap = id(node) in c.ln_swap  # over the channels of NCHW, between Transposes
    if swap:
        axis = 1
    elif axis < 0:
        axis += r
    # over the last axis of [N, H, W, C] (convnext's NHWC blocks): the channels
    # of NCHW between two permutes
    nhwc = x.oshape
    last_of_nhwc = not swap and r == 4 and axis == 3 and x.val.cshape == natural(nhwc)
    if last_of_nhwc:
        nchw = (nhwc[0], nhwc[3], nhwc[1], nhwc[2])
        x = T(c.op(node, "permute", [x], [(None, "0"), (None, "3"), (None, "1"), (None, "2")],
                   cshape=nchw), nchw)
        x.val.onnx_name = node.output[0] + "_nchw"
        axis = 1
    if axis != 1 or (not swap and any(d != 1 for d in x.oshape[2:]) and not last_of_nhwc):
        c.fail("LayerNormalization over axes %s of %s; cnnc's layernorm normalizes the "
               "channels of [N, C, H, W] (between Transposes to NHWC and back, PyTorch's "
               "permute, nn.LayerNorm, permute back) or the features of [N, F]"
               % (list(range(axis, r)), list(x.oshape)), "layernorm")
    c.channels_view(x)
    C = x.oshape[1]
    if scale.size != C or (bias is not None and bias.size != C):
        c.fail("scale %s or bias %s not of the %d normalized values"
               % (list(scale.shape), None if bias is None else list(bias.shape), C))
    eps = a.get("epsilon", 1e-5)
    label = c.label(node, [node.input[1], node.input[2] if bias is not None else None],
                    ["weight", "bias"])
    b = bias.reshape(-1) if bias is not None else np.zeros(C, np.float32)
    tensors = [(label + ".weight", scale.reshape(-1).astype(np.float32)),
               (label + ".bias", b.astype(np.float32))]
    attrs = [] if np.float32(eps) == np.float32(1e-5) else [("eps", fmt_value(float(eps)))]
    o = c.op(node, "layernorm", [x], attrs, cshape=x.val.cshape, label=label, tensors=tensors)
    if not last_of_nhwc:
        return c.define(node, o, x.oshape)
    o = c.op(node, "permute", [T(o, x.oshape)], [(None, "0"), (None, "2"), (None, "3"),
                                                 (None, "1")], cshape=nhwc)
    c.define(node, o, nhwc)


def _layernorm_decomposed(c, node):
    xname, eps, wname, bname, swap, nodes = c.ln_decomposed[id(node)]
    x = c.env.get(xname)
    if x is None:
        c.fail("a layer norm of the constant '%s'" % xname)
    c.need_float(node, xname)
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    if len(x.oshape) == 2:
        c.need_natural(x)
    else:
        c.channels_view(x)
    C = x.oshape[1]
    label = c.label(node, [wname, bname], ["weight", "bias"])
    w = c.const[wname].reshape(-1) if wname else np.ones(C, np.float32)
    b = c.const[bname].reshape(-1) if bname else np.zeros(C, np.float32)
    tensors = [(label + ".weight", w.astype(np.float32)), (label + ".bias", b.astype(np.float32))]
    attrs = [] if np.float32(eps) == np.float32(1e-5) else [("eps", fmt_value(eps))]
    c.define(node, c.op(node, "layernorm", [x], attrs, cshape=x.val.cshape, label=label,
                        tensors=tensors), x.oshape)


@handler("LeakyRelu")
def _leaky(c, node):
    alpha = _attrs(node).get("alpha", 0.01)
    attrs = [] if np.float32(alpha) == np.float32(0.01) else [("slope", fmt_value(alpha))]
    _unary("leaky_relu", [(k, v) for k, v in attrs])(c, node)


@handler("Clip")
def _clip(c, node):
    if c.opset < 11:
        a = _attrs(node)
        lo = a.get("min", None)
        hi = a.get("max", None)
    else:
        lo = c.cst(node, 1, "min", optional=True)
        hi = c.cst(node, 2, "max", optional=True)
        lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0]) \
            if np.asarray(lo).size == 1 else c.fail("its min is not a scalar")
        hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0]) \
            if np.asarray(hi).size == 1 else c.fail("its max is not a scalar")
    if hi == math.inf:
        hi = None
    if lo == -math.inf:
        lo = None
    if lo == 0 and hi == 6:
        return _unary("relu6")(c, node)
    if lo == 0 and hi is None:
        return _unary("relu")(c, node)
    if lo is None and hi is None:
        return _identity(c, node)
    bounds = [(k, fmt_value(np.float32(v))) for k, v in (("min", lo), ("max", hi))
              if v is not None]
    _unary("clamp", bounds)(c, node)


@handler("Dropout")
def _dropout(c, node):
    a = _attrs(node)
    ratio = a.get("ratio", 0.5)
    if c.opset >= 12:
        r = c.cst(node, 1, "ratio", optional=True)
        if r is not None:
            ratio = float(np.asarray(r).reshape(-1)[0])
        tm = c.cst(node, 2, "training_mode", optional=True)
        if tm is not None and bool(np.asarray(tm).reshape(-1)[0]):
            c.fail("training_mode is true (random masking); cnnc compiles inference",
                   "dropout (inference)")
    c.only_first_output(node)
    attrs = []
    if 0 <= ratio < 1 and ratio != 0.5:
        attrs = [("p", fmt_value(ratio))]
    _unary("dropout", attrs)(c, node)


@handler("Softmax")
def _softmax(c, node):
    _softmax_like(c, node, "softmax")


@handler("LogSoftmax")
def _log_softmax(c, node):
    _softmax_like(c, node, "log_softmax")


def _softmax_like(c, node, kind):
    """Softmax or LogSoftmax (cnnc's softmax or log_softmax) over ONNX's axes."""
    t = c.get(node, 0)
    c.need_float(node, node.input[0])
    if isinstance(t, Poison) or t.oshape is None:
        return c.poison(node)
    r = len(t.oshape)
    axis = _attrs(node).get("axis", -1 if c.opset >= 13 else 1)
    if id(node) in c.softmax_swap:  # between two Transposes (find_patterns)
        axis = c.softmax_swap[id(node)]
    if axis < 0:
        axis += r
    if not 0 <= axis < max(r, 1):
        raise OnnxError("node %s (%s): axis out of range" % (_node_desc(node), node.op_type))
    axes = [axis] if c.opset >= 13 or id(node) in c.softmax_swap else list(range(axis, r))
    c.need_natural(t)
    # ONNX axis -> cnnc dim of the natural view
    if r in (2, 4):
        dim_of = list(range(r))
    elif r == 3:
        dim_of = [0, 1, 3]
    elif r == 1:
        dim_of = [1]
    else:
        dim_of = None
    big = [x for x in axes if t.oshape[x] != 1]
    cs = t.val.cshape
    if dim_of is not None and len(big) <= 1:
        d = dim_of[big[0]] if big else dim_of[axes[-1]] if axes else 1
        if d == 0:
            c.fail("%s over the batch dimension (axis 0); cnnc's %s runs over one dimension "
                   "of each sample" % (kind, kind), "%s (dim 1 or later)" % kind)
        o = c.op(node, kind, [t], [] if d == 1 else [("dim", str(d))], cshape=cs)
        return c.define(node, o, t.oshape)
    if axes and axes[0] == 1 and axes == list(range(1, r)) and len(cs) == 4:
        # over everything but the batch: flatten, softmax; held as [N, F]
        f = c.op(node, "flatten", [t], cshape=(cs[0], _prod(cs[1:])))
        f.onnx_name = None
        o = c.op(node, kind, [T(f, None)], cshape=f.cshape)
        return c.define(node, o, t.oshape)
    c.fail("%s over axes %s of %s together; cnnc's %s runs over one dimension"
           % (kind, axes, list(t.oshape), kind), "%s (one dimension)" % kind)


# -- convolution and pooling

def _same_pads(auto, total):
    """auto_pad=SAME_UPPER / SAME_LOWER: the (begin, end) split of an axis's
    total padding, the odd one at the end (UPPER) or the beginning (LOWER)."""
    small = total // 2
    return (small, total - small) if auto == "SAME_UPPER" else (total - small, small)


def _spatial_params(c, node, x, kernel, with_dilation=True):
    """(kernel, stride, dilation) pairs and the pads (top, left, bottom, right)
    for cnnc, from ONNX attributes, for 2-d ([N,C,H,W]) or 1-d ([N,C,L] as
    H = 1) windows."""
    a = _attrs(node)
    sr = len(kernel)
    strides = list(a.get("strides", [1] * sr))
    dil = list(a.get("dilations", [1] * sr))
    if not with_dilation and any(d != 1 for d in dil):
        c.fail("dilations %s; cnnc's avgpool has none" % dil)
    if len(strides) != sr or len(dil) != sr:
        raise OnnxError("node %s (%s): strides/dilations do not match the kernel rank"
                        % (_node_desc(node), node.op_type))
    ins = x.oshape[2:]
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        split = [_same_pads(auto, max((-(-i // s) - 1) * s + (k - 1) * d + 1 - i, 0))
                 for i, k, s, d in zip(ins, kernel, strides, dil)]
        pads = [b for b, _ in split] + [e for _, e in split]
    elif auto == "VALID":
        pads = [0] * 2 * sr
    elif auto == "NOTSET":
        pads = list(a.get("pads", [0] * 2 * sr))
        if len(pads) != 2 * sr:
            raise OnnxError("node %s (%s): pads has %d values, not %d"
                            % (_node_desc(node), node.op_type, len(pads), 2 * sr))
        if min(pads) < 0:
            c.fail("negative pads %s; cnnc's pad= crops nothing" % pads,
                   "pad (negative sides crop) before it")
    else:
        raise OnnxError("node %s (%s): unknown auto_pad '%s'" % (_node_desc(node), node.op_type,
                                                                 auto))
    extra = c.folded_pad.get(node.input[0])
    if extra:
        if node.op_type == "AveragePool" and any(pads):
            c.fail("a Pad before an AveragePool that pads itself too", "avgpool(pad=)")
        if len(extra) != 2 * sr:
            raise OnnxError("node %s (%s): the Pad before it has %d spatial axes, not %d"
                            % (_node_desc(node), node.op_type, len(extra) // 2, sr))
        pads = [p + e for p, e in zip(pads, extra)]
    if sr == 1:
        return (1, kernel[0]), (1, strides[0]), (0, pads[0], 0, pads[1]), (1, dil[0])
    return tuple(kernel), tuple(strides), tuple(pads), tuple(dil)


def _fmt_pads(pads):
    """cnnc's pad= text for pads (top, left, bottom, right): an integer or a
    pair where both sides of each axis agree."""
    pads = tuple(pads)
    return fmt_value(pads[:2]) if pads[:2] == pads[2:] else fmt_value(pads)


def _window_attrs(kernel, stride, pad, dil, stride_default):
    attrs = [(None, fmt_value(tuple(kernel)))]
    if tuple(stride) != tuple(stride_default):
        attrs.append(("stride", fmt_value(tuple(stride))))
    if any(pad):
        attrs.append(("pad", _fmt_pads(pad)))
    if dil is not None and tuple(dil) != (1, 1):
        attrs.append(("dilation", fmt_value(tuple(dil))))
    return attrs


def _out_size(i, k, s, p0, p1, d, ceil):
    span = i + p0 + p1 - d * (k - 1) - 1
    if span < 0:
        return None
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= i + p0:
        o -= 1
    return o


def _check_out(c, node, x, kernel, stride, pad, dil, ceil, what, swap, cout):
    """The cnnc output shape of a window op, checked against ONNX's, and the
    ONNX output shape (computed here where ONNX's inference left it unknown)."""
    cs = x.val.cshape
    exp = c.out_shape(node)
    got = [_out_size(i, k, s, p0, p1, d, ceil) for i, k, s, p0, p1, d in
           zip(cs[2:], kernel, stride, pad[:2], pad[2:], dil)]
    if None in got:
        raise OnnxError("node %s (%s): the window is larger than the padded input"
                        % (_node_desc(node), node.op_type))
    cs_out = (cs[0], cout) + tuple(got)
    if exp is None:
        if len(x.oshape) == 3:
            return cs_out, (x.oshape[0], cout, got[1])
        return cs_out, (x.oshape[0], cout) + (tuple(got[::-1]) if swap else tuple(got))
    want = natural(exp)[2:]
    if swap:
        want = want[::-1]
    if want != tuple(got):
        c.fail("%s: ONNX's output is %s but cnnc's rule gives %s (with ceil_mode cnnc, like "
               "PyTorch, drops a last window that starts in the padding)"
               % (what, list(exp[2:]), got[-len(exp[2:]):]))
    return cs_out, tuple(exp)


def _swap(pairs):
    """H and W exchanged in pairs (h, w) and pads (top, left, bottom, right)."""
    return [tuple(p[::-1]) if len(p) == 2 else (p[1], p[0], p[3], p[2]) for p in pairs]


@handler("Conv")
def _conv(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    w = c.cst(node, 1, "weight")
    b = c.cst(node, 2, "bias", optional=True)
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    r = len(x.oshape)
    if r not in (3, 4):
        c.fail("a %d-d convolution; cnnc has 2-d ones (and 1-d as 2-d with height 1)" % (r - 2),
               "conv2d")
    swap = c.swapped(x)
    if w.ndim != r:
        raise OnnxError("node %s (Conv): weight '%s' has shape %s for a rank-%d input"
                        % (_node_desc(node), node.input[1], list(w.shape), r))
    a = _attrs(node)
    group = a.get("group", 1)
    cin = x.oshape[1]
    if group < 1 or cin % group or w.shape[0] % group or w.shape[1] * group != cin:
        raise OnnxError("node %s (Conv): weight '%s' %s does not fit %d input channels in %d "
                        "groups" % (_node_desc(node), node.input[1], list(w.shape), cin, group))
    kernel = list(w.shape[2:])
    if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
        raise OnnxError("node %s (Conv): kernel_shape %s but weight '%s' has shape %s"
                        % (_node_desc(node), list(a["kernel_shape"]), node.input[1],
                           list(w.shape)))
    if b is not None and b.shape != (w.shape[0],):
        raise OnnxError("node %s (Conv): bias '%s' has shape %s, not [%d]"
                        % (_node_desc(node), node.input[2], list(b.shape), w.shape[0]))
    k2, s2, p2, d2 = _spatial_params(c, node, x, kernel)
    if swap:
        k2, s2, p2, d2 = _swap((k2, s2, p2, d2))
    cshape, oshape = _check_out(c, node, x, k2, s2, p2, d2, False, "output size", swap,
                                w.shape[0])
    label = c.label(node, [node.input[1], node.input[2] if b is not None else None],
                    ["weight", "bias"])
    w4 = w.reshape(w.shape[0], w.shape[1], 1, w.shape[2]) if r == 3 else w
    if swap:
        w4 = np.ascontiguousarray(np.swapaxes(w4, 2, 3))
    tensors = [(label + ".weight", w4.astype(np.float32))]
    if b is not None:
        tensors.append((label + ".bias", b.astype(np.float32)))
    attrs = [(None, str(w.shape[0]))] + [
        ("kernel" if k is None else k, v) for k, v in _window_attrs(k2, s2, p2, d2, (1, 1))]
    if group != 1:
        attrs.append(("groups", str(group)))
    if b is None:
        attrs.append(("bias", "false"))
    c.define(node, c.op(node, "conv2d", [x], attrs, label=label, tensors=tensors,
                        cshape=cshape), oshape)


def _convt_pads(c, node, a, full, ins, strides):
    """ConvTranspose's crops of its full output (output_padding included),
    begin ones then end ones, and the rows and columns to add at the end
    (more output_padding) where ONNX's end pad is negative. output_shape and
    auto_pad give a total per axis, split as the ONNX spec says: the odd one
    at the end with SAME_UPPER, at the beginning otherwise."""
    sr = len(full)
    auto = a.get("auto_pad", "NOTSET")
    if auto not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise OnnxError("node %s (ConvTranspose): unknown auto_pad '%s'"
                        % (_node_desc(node), auto))
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        if "output_shape" in a:
            want = list(a["output_shape"])[-sr:]
        else:
            want = [i * s_ for i, s_ in zip(ins, strides)]
        split = [_same_pads("SAME_UPPER" if auto == "SAME_UPPER" else "SAME_LOWER", f - o)
                 for f, o in zip(full, want)]
        pads = [b for b, _ in split] + [e for _, e in split]
    else:
        pads = list(a.get("pads", [0] * 2 * sr)) if auto == "NOTSET" else [0] * 2 * sr
        if len(pads) != 2 * sr:
            raise OnnxError("node %s (ConvTranspose): pads has %d values, not %d"
                            % (_node_desc(node), len(pads), 2 * sr))
    if min(pads[:sr]) < 0:
        c.fail("pads %s extend the output at the beginning; cnnc's conv_transpose2d crops "
               "(pad=) and extends only at the end (output_padding)" % pads,
               "conv_transpose2d(pad=, output_padding=)")
    extra = [max(-e, 0) for e in pads[sr:]]
    return pads[:sr] + [max(e, 0) for e in pads[sr:]], extra


@handler("ConvTranspose")
def _conv_transpose(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    w = c.cst(node, 1, "weight")
    b = c.cst(node, 2, "bias", optional=True)
    if x.oshape is None:
        return c.poison(node)
    r = len(x.oshape)
    if r not in (3, 4):
        c.fail("a %d-d transposed convolution; cnnc has 2-d ones (and 1-d as 2-d with "
               "height 1)" % (r - 2), "conv_transpose2d")
    c.need_natural(x)
    if w.ndim != r:
        raise OnnxError("node %s (ConvTranspose): weight '%s' has shape %s for a rank-%d input"
                        % (_node_desc(node), node.input[1], list(w.shape), r))
    a = _attrs(node)
    group = a.get("group", 1)
    cin = x.oshape[1]
    if group < 1 or w.shape[0] != cin or cin % group:
        raise OnnxError("node %s (ConvTranspose): weight '%s' %s does not fit %d input "
                        "channels in %d groups" % (_node_desc(node), node.input[1],
                                                   list(w.shape), cin, group))
    cout = w.shape[1] * group
    kernel = list(w.shape[2:])
    sr = len(kernel)
    if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
        raise OnnxError("node %s (ConvTranspose): kernel_shape %s but weight '%s' has shape %s"
                        % (_node_desc(node), list(a["kernel_shape"]), node.input[1],
                           list(w.shape)))
    if b is not None and b.shape != (cout,):
        raise OnnxError("node %s (ConvTranspose): bias '%s' has shape %s, not [%d]"
                        % (_node_desc(node), node.input[2], list(b.shape), cout))
    strides = list(a.get("strides", [1] * sr))
    dil = list(a.get("dilations", [1] * sr))
    opad = list(a.get("output_padding", [0] * sr))
    if len(strides) != sr or len(dil) != sr or len(opad) != sr:
        raise OnnxError("node %s (ConvTranspose): strides/dilations/output_padding do not "
                        "match the kernel rank" % _node_desc(node))
    ins = list(x.oshape[2:])
    full = [s_ * (i - 1) + op + (k - 1) * d + 1
            for i, k, s_, d, op in zip(ins, kernel, strides, dil, opad)]
    pads, extra = _convt_pads(c, node, a, full, ins, strides)
    opad = [op + e for op, e in zip(opad, extra)]
    for op, s_, d in zip(opad, strides, dil):
        if op < 0 or (op >= s_ and op >= d):
            c.fail("output_padding %s not smaller than the stride %s or the dilation %s; "
                   "cnnc (like PyTorch) needs it to be" % (opad, strides, dil))
    out = [f + e - p0 - p1 for f, e, p0, p1 in zip(full, extra, pads[:sr], pads[sr:])]
    if any(o < 1 for o in out):
        raise OnnxError("node %s (ConvTranspose): output size %s" % (_node_desc(node), out))
    oshape = tuple(x.oshape[:2]) + tuple(out)
    oshape = (oshape[0], cout) + oshape[2:]
    exp = c.out_shape(node)
    if exp is not None and tuple(exp) != oshape:
        c.fail("ONNX's output shape is %s but cnnc's rule gives %s" % (list(exp), list(oshape)))
    if isinstance(x, Poison):
        return c.poison(node)
    if sr == 1:
        k2, s2, p2, d2, o2 = (1, kernel[0]), (1, strides[0]), (0, pads[0], 0, pads[1]), \
            (1, dil[0]), (0, opad[0])
        w4 = w.reshape(w.shape[0], w.shape[1], 1, w.shape[2])
    else:
        k2, s2, p2, d2, o2 = tuple(kernel), tuple(strides), tuple(pads), tuple(dil), tuple(opad)
        w4 = w
    label = c.label(node, [node.input[1], node.input[2] if b is not None else None],
                    ["weight", "bias"])
    tensors = [(label + ".weight", w4.astype(np.float32))]
    if b is not None:
        tensors.append((label + ".bias", b.astype(np.float32)))
    attrs = [(None, str(cout)), ("kernel", fmt_value(k2))]
    if s2 != (1, 1):
        attrs.append(("stride", fmt_value(s2)))
    if any(p2):
        attrs.append(("pad", _fmt_pads(p2)))
    if o2 != (0, 0):
        attrs.append(("output_padding", fmt_value(o2)))
    if d2 != (1, 1):
        attrs.append(("dilation", fmt_value(d2)))
    if group != 1:
        attrs.append(("groups", str(group)))
    if b is None:
        attrs.append(("bias", "false"))
    c.define(node, c.op(node, "conv_transpose2d", [x], attrs, label=label, tensors=tensors,
                        cshape=natural(oshape)), oshape)


def _pool(c, node, kind):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    c.only_first_output(node)
    r = len(x.oshape)
    if r not in (3, 4):
        c.fail("%d-d pooling; cnnc pools 2-d (and 1-d as 2-d with height 1)" % (r - 2),
               kind)
    swap = c.swapped(x)
    a = _attrs(node)
    kernel = list(a.get("kernel_shape", []))
    if len(kernel) != r - 2:
        raise OnnxError("node %s (%s): kernel_shape %s for a rank-%d input"
                        % (_node_desc(node), node.op_type, kernel, r))
    k2, s2, p2, d2 = _spatial_params(c, node, x, kernel, with_dilation=(kind == "maxpool"))
    if swap:
        k2, s2, p2, d2 = _swap((k2, s2, p2, d2))
    if any(p >= k for p, k in zip(p2, k2 + k2)):
        c.fail("pads %s (top, left, bottom, right) not smaller than the kernel %s make windows "
               "entirely in the padding; cnnc's %s needs each pad smaller"
               % (list(p2), list(k2), kind))
    ceil = bool(a.get("ceil_mode", 0))
    cshape, oshape = _check_out(c, node, x, k2, s2, p2, d2, ceil, "ceil_mode output size"
                                if ceil else "output size", swap, x.oshape[1])
    attrs = _window_attrs(k2, s2, p2, d2 if kind == "maxpool" else None, k2)
    if ceil:
        attrs.append(("ceil_mode", "true"))
    if kind == "avgpool" and not a.get("count_include_pad", 0) and any(p2) \
            and node.input[0] not in c.folded_pad:
        attrs.append(("count_include_pad", "false"))
    c.define(node, c.op(node, kind, [x], attrs, cshape=cshape), oshape)


HANDLERS["MaxPool"] = lambda c, node: _pool(c, node, "maxpool")
HANDLERS["AveragePool"] = lambda c, node: _pool(c, node, "avgpool")


def _global(c, node, kind):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    r = len(x.oshape)
    if r < 3:
        c.fail("global pooling of a rank-%d tensor; cnnc pools [N, C, H, W]" % r)
    c.channels_view(x)
    cs = x.val.cshape
    oshape = tuple(x.oshape[:2]) + (1,) * (r - 2)
    if kind == "global_avgpool":
        return c.define(node, c.op(node, "global_avgpool", [x], cshape=cs[:2] + (1, 1)), oshape)
    c.define(node, c.op(node, "maxpool", [x], [(None, fmt_value(tuple(cs[2:])))],
                        cshape=cs[:2] + (1, 1)), oshape)


def _reduce(c, node, kind):
    """ReduceMean / ReduceMax over every spatial axis: a global pool."""
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    r = len(x.oshape)
    axes = _axes(c, node, 1, r)
    a = _attrs(node)
    if axes is None:
        if a.get("noop_with_empty_axes", 0):
            return c.define(node, x.val, x.oshape)
        axes = list(range(r))
    if r < 3 or sorted(axes) != list(range(2, r)):
        c.fail("%s over axes %s of a rank-%d tensor; cnnc reduces all spatial axes (2 to %d) "
               "only, as a global pool" % (node.op_type, axes, r, r - 1),
               "global_avgpool" if kind == "global_avgpool" else "maxpool")
    if kind == "global_avgpool" and not a.get("keepdims", 1):
        # x.mean((2, 3)): cnnc's mean (of [N, C, L] held as [N, C, 1, L],
        # and of more spatial axes held as [N, C, D*H, W], the same mean)
        c.channels_view(x)
        return c.define(node, c.op(node, "mean", [x], [(None, "(2, 3)")],
                                   cshape=x.val.cshape[:2]), x.oshape[:2])
    _global(c, node, kind)
    if not a.get("keepdims", 1):
        t = c.env[node.output[0]]
        o = c.op(node, "flatten", [t], cshape=t.val.cshape[:2])
        c.env[node.output[0]] = T(o, x.oshape[:2])


HANDLERS["ReduceMean"] = lambda c, node: _reduce(c, node, "global_avgpool")
HANDLERS["ReduceMax"] = lambda c, node: _reduce(c, node, "global_maxpool")
HANDLERS["GlobalAveragePool"] = lambda c, node: _global(c, node, "global_avgpool")
HANDLERS["GlobalMaxPool"] = lambda c, node: _global(c, node, "global_maxpool")
onnx_lower.install(HANDLERS, sys.modules[__name__])  # Reduce* over any axes


@handler("BatchNormalization")
def _batchnorm(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    names = ["scale", "bias", "mean", "var"]
    vals = [c.cst(node, k + 1, names[k]) for k in range(4)]
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    a = _attrs(node)
    if a.get("training_mode", 0):
        c.fail("training_mode=1 (batch statistics); cnnc compiles inference", "batchnorm")
    if c.opset < 9 and a.get("spatial", 1) == 0:
        c.fail("spatial=0 (per-element statistics); cnnc normalizes per channel", "batchnorm")
    c.only_first_output(node)
    r = len(x.oshape)
    if r < 2:
        c.fail("batch normalization of a rank-%d tensor; cnnc's batchnorm takes [N, C, H, W] "
               "or [N, F]" % r, "batchnorm")
    c.channels_view(x)
    ch = x.oshape[1]
    for nm, v, n in zip(names, vals, node.input[1:5]):
        if v.size != ch:
            raise OnnxError("node %s (BatchNormalization): %s '%s' has shape %s, not [%d]"
                            % (_node_desc(node), nm, n, list(v.shape), ch))
    label = c.label(node, list(node.input[1:5]), ["weight", "bias", "running_mean",
                                                    "running_var"])
    tensors = [(label + "." + k, v.reshape(ch).astype(np.float32)) for k, v in
               zip(("weight", "bias", "running_mean", "running_var"), vals)]
    eps = a.get("epsilon", 1e-5)
    attrs = [] if np.float32(eps) == np.float32(1e-5) else [("eps", fmt_value(eps))]
    c.define(node, c.op(node, "batchnorm", [x], attrs, label=label, tensors=tensors,
                        cshape=x.val.cshape))


def _linear(c, node, x, weight, bias, names, suffix_names=("weight", "bias")):
    """linear(features) from x [N, F] (or [N, ..., F]: over the last axis),
    weight [features, F], bias [features] or None."""
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    if len(x.oshape) < 2:
        c.fail("a matrix product on a rank-%d tensor %s; cnnc's linear takes [N, ..., F]"
               % (len(x.oshape), list(x.oshape)), "flatten, then linear")
    c.need_natural(x)
    if weight.shape[1] != x.oshape[-1]:
        raise OnnxError("node %s (%s): weight %s does not fit an input of %d features"
                        % (_node_desc(node), node.op_type, list(weight.shape), x.oshape[-1]))
    label = c.label(node, names, suffix_names)
    tensors = [(label + ".weight", np.ascontiguousarray(weight, dtype=np.float32))]
    attrs = [(None, str(weight.shape[0]))]
    if bias is None:
        attrs.append(("bias", "false"))
    else:
        tensors.append((label + ".bias", np.ascontiguousarray(bias, dtype=np.float32)))
    return c.op(node, "linear", [x], attrs, cshape=natural(x.oshape[:-1] + (weight.shape[0],)),
                label=label, tensors=tensors)


def _bias_vector(c, what, b, n, rows):
    """A Gemm/Add bias broadcast to [n], if it is one row for every sample."""
    b = np.asarray(b)
    if b.size == 1:
        return np.full((n,), b.reshape(-1)[0], dtype=np.float32)
    if b.shape in ((n,), (1, n)):
        return b.reshape(n)
    if b.ndim == 2 and b.shape[1] == n and b.shape[0] in (1, rows) and np.all(b == b[:1]):
        return b[0]
    c.fail("%s has shape %s, a different value per row; cnnc's linear adds one bias vector "
           "to every sample" % (what, list(b.shape)), "linear with a bias vector")


@handler("Gemm")
def _gemm(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    B = c.cst(node, 1, "matrix B")
    a = _attrs(node)
    if len(node.input) > 2 and node.input[2] and node.input[2] not in c.const:
        return _gemm_computed_c(c, node, x, B, a)
    C = c.cst(node, 2, "bias C", optional=True)
    if a.get("transA", 0):
        c.fail("transA=1 (the input transposed); cnnc's linear takes [N, F]", "linear")
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    if C is not None and beta == 0.0 and np.all(np.isfinite(C)):
        C = None  # beta = 0: no bias (0 * C is 0 for finite C)
    # alpha * (A B) + beta * C, each product rounded: linear(alpha=, beta=)
    scaling = [(k, fmt_value(np.float32(v))) for k, v in (("alpha", alpha), ("beta", beta))
               if np.float32(v) != 1 and (k == "alpha" or C is not None)]
    if B.ndim != 2:
        raise OnnxError("node %s (Gemm): B has shape %s" % (_node_desc(node), list(B.shape)))
    w = B if a.get("transB", 0) else B.T
    bias = None
    if C is not None:
        rows = x.oshape[0] if not isinstance(x, Poison) and x.oshape else 1
        bias = _bias_vector(c, "bias C", C, w.shape[0], rows)
    names = [node.input[1] if a.get("transB", 0) else None,
             node.input[2] if C is not None else None]
    if not a.get("transB", 0):
        names = [None, None]
    o = _linear(c, node, x, w, bias, names)
    if o is not None:
        o.attrs.extend(scaling)
        c.define(node, o)


def _gemm_computed_c(c, node, x, B, a):
    """Gemm whose C is computed: linear(bias=false, alpha=) then add(C), exact
    where C has the output's shape and beta is 1 (fl(alpha A B) + C)."""
    if a.get("transA", 0):
        c.fail("transA=1 (the input transposed); cnnc's linear takes [N, F]", "linear")
    ct = c.get(node, 2)
    c.need_float(node, node.input[2])
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    if np.float32(beta) != 1:
        c.fail("beta=%s with a computed C; cnnc adds a computed tensor unscaled (add)"
               % fmt_value(beta), "linear, then add (beta 1)")
    if B.ndim != 2:
        raise OnnxError("node %s (Gemm): B has shape %s" % (_node_desc(node), list(B.shape)))
    w = B if a.get("transB", 0) else B.T
    o = _linear(c, node, x, w, None, [node.input[1] if a.get("transB", 0) else None, None])
    if o is None or isinstance(ct, Poison) or ct.oshape is None:
        return c.poison(node)
    if tuple(ct.oshape) != (x.oshape[0], w.shape[0]):
        c.fail("a computed C of shape %s to add to [%d, %d]; cnnc's add needs equal shapes"
               % (list(ct.oshape), x.oshape[0], w.shape[0]), "linear, then add")
    if np.float32(alpha) != 1:
        o.attrs.append(("alpha", fmt_value(np.float32(alpha))))
    o.onnx_name = None
    c.need_natural(ct)
    c.define(node, c.op(node, "add", [T(o, (x.oshape[0], w.shape[0])), ct], cshape=o.cshape))


@handler("MatMul")
def _matmul(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    if node.input[1] not in c.const:
        c.fail("MatMul of two computed tensors; cnnc's linear multiplies by a constant weight",
               "linear")
    B = c.const[node.input[1]]
    if B.ndim != 2:
        c.fail("MatMul by a rank-%d constant; cnnc's linear takes a matrix" % B.ndim, "linear")
    # MatMul followed by Add of a bias vector: one linear
    out = node.output[0]
    users = c.consumers.get(out, [])
    bias, add = None, None
    if len(users) == 1 and out not in c.graph_outputs and users[0].op_type == "Add":
        u = users[0]
        other = [i for i in u.input if i != out]
        if len(other) == 1 and other[0] in c.const:
            rows = x.oshape[0] if not isinstance(x, Poison) and x.oshape else 1
            try:
                bias = _bias_vector(c, "the added bias", c.const[other[0]], B.shape[1], rows)
                add = u
            except Unsupported:
                bias = None
    o = _linear(c, node, x, B.T, bias, [None, None])
    if o is None:
        return
    if add is not None:
        c.skip.add(id(add))
        c.define(add, o)
        o.onnx_name = add.output[0]
    else:
        c.define(node, o)


# -- resampling

_COORDS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
           "tf_half_pixel_for_nn")
_ROUNDS = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _nearest_map(I, O, scale, coord, mode):
    """ONNX Resize's source index for each output index along one axis."""
    out = []
    for x in range(O):
        if coord == "half_pixel":
            v = (x + 0.5) / scale - 0.5
        elif coord == "pytorch_half_pixel":
            v = (x + 0.5) / scale - 0.5 if O > 1 else 0.0
        elif coord == "asymmetric":
            v = x / scale
        elif coord == "align_corners":
            v = x * (I - 1) / (O - 1) if O > 1 else 0.0
        elif coord == "tf_half_pixel_for_nn":
            v = (x + 0.5) / scale
        else:
            return None
        if mode == "round_prefer_floor":
            i = math.ceil(v - 0.5)
        elif mode == "round_prefer_ceil":
            i = math.floor(v + 0.5)
        elif mode == "floor":
            i = math.floor(v)
        elif mode == "ceil":
            i = math.ceil(v)
        else:
            return None
        out.append(min(max(i, 0), I - 1))
    return out


def _cnnc_nearest_map(I, O, scale_int):
    """cnnc's (PyTorch's) nearest source index: floor(x / s) for an integer
    scale, else floor(x * (float)(I / O)) clamped."""
    if scale_int:
        return [x // scale_int for x in range(O)]
    s = np.float32(I) / np.float32(O)
    return [min(int(np.floor(np.float32(x) * s)), I - 1) for x in range(O)]


def _resample(c, node, x, mode, coord, nearest_mode, scales, sizes):
    if isinstance(x, Poison) or x.oshape is None:
        return c.poison(node)
    r = len(x.oshape)
    if r != 4:
        c.fail("resizing a rank-%d tensor; cnnc's upsample takes [N, C, H, W]" % r, "upsample")
    c.need_natural(x)
    N, C, H, W = x.oshape
    if sizes is not None:
        sizes = [int(v) for v in np.asarray(sizes).reshape(-1)]
        if len(sizes) != 4:
            raise OnnxError("node %s (%s): sizes has %d values for a rank-4 input"
                            % (_node_desc(node), node.op_type, len(sizes)))
        out = sizes
        sc = [o / i for o, i in zip(out, x.oshape)]
    else:
        sc = [float(v) for v in np.asarray(scales, dtype=np.float64).reshape(-1)]
        if len(sc) != 4:
            raise OnnxError("node %s (%s): scales has %d values for a rank-4 input"
                            % (_node_desc(node), node.op_type, len(sc)))
        # ONNX's output size: floor(input * scale); the reference computes in float32
        out = [int(math.floor(i * np.float32(s))) for i, s in zip(x.oshape, sc)]
    if out[0] != N or out[1] != C:
        c.fail("resizes the batch or channel dimension (scales %s)" % sc, "upsample")
    exp = c.out_shape(node)
    if exp is not None and tuple(exp) != tuple(out):
        out = list(exp)
    oh, ow = out[2], out[3]
    ints = []
    for i, o, s in ((H, oh, sc[2]), (W, ow, sc[3])):
        ints.append(o // i if o % i == 0 and s == o // i else None)
    if mode not in ("nearest", "linear", "bilinear"):
        c.fail("mode=%s; cnnc's upsample has nearest and bilinear" % mode,
               "upsample(mode=\"bilinear\")")
    if coord not in _COORDS:
        c.fail("coordinate_transformation_mode=%s not supported" % coord, "upsample")
    if mode == "nearest" and nearest_mode not in _ROUNDS:
        c.fail("nearest_mode=%s not supported" % nearest_mode, "upsample")
    # the size and the scale cnnc maps coordinates by: ONNX's (the scales
    # given, else out / in)
    if ints[0] and ints[1]:
        attrs = [("scale", fmt_value((ints[0], ints[1])))]
        float_scale = False
    elif sizes is None and sc[2] == sc[3]:
        attrs = [("scale", repr(float(np.float32(sc[2]))))]  # float32's value, exactly
        float_scale = True
    elif sizes is None and (sc[2] != oh / H or sc[3] != ow / W):
        c.fail("scales %s and %s of H and W, not integers: cnnc's upsample takes one float "
               "scale for both axes" % (sc[2], sc[3]), "upsample(size=...)")
    else:
        attrs = [("size", "(%d, %d)" % (oh, ow))]
        float_scale = False
    # PyTorch's formulas (upsample without coord) where they are ONNX's
    if mode == "nearest":
        pytorch = not float_scale and all(
            _nearest_map(i, o, s, coord, nearest_mode) == _cnnc_nearest_map(i, o, si)
            for i, o, s, si in ((H, oh, sc[2], ints[0]), (W, ow, sc[3], ints[1])))
        if not pytorch:
            attrs += [("coord", '"%s"' % coord), ("round", '"%s"' % nearest_mode)]
    else:
        pytorch = not float_scale and (coord == "half_pixel" or (
            coord == "pytorch_half_pixel" and oh > 1 and ow > 1))
        attrs.append(("mode", '"bilinear"'))
        if not pytorch:
            attrs.append(("coord", '"%s"' % coord))
    c.define(node, c.op(node, "upsample", [x], attrs, cshape=(N, C, oh, ow)), tuple(out))


@handler("Upsample")
def _upsample(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    a = _attrs(node)
    mode = a.get("mode", "nearest")
    if c.opset >= 9:
        scales = c.cst(node, 1, "scales")
    else:
        scales = a.get("scales", None)
        if scales is None:
            sc_h, sc_w = a.get("height_scale", 1.0), a.get("width_scale", 1.0)
            scales = [1.0, 1.0, sc_h, sc_w]
    # Upsample: x_original = x / scale (asymmetric); nearest takes the floor
    _resample(c, node, x, mode, "asymmetric", "floor", scales, None)


@handler("Resize")
def _resize(c, node):
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    a = _attrs(node)
    mode = a.get("mode", "nearest")
    if c.opset < 11:
        scales = c.cst(node, 1, "scales")
        return _resample(c, node, x, mode, "asymmetric", "floor" if mode == "nearest" else None,
                         scales, None)
    coord = a.get("coordinate_transformation_mode", "half_pixel")
    if coord == "tf_crop_and_resize":
        c.fail("coordinate_transformation_mode=tf_crop_and_resize (a crop)", "upsample")
    if a.get("antialias", 0):
        c.fail("antialias=1", "upsample")
    if a.get("axes") is not None:
        c.fail("axes (resizing some axes only)", "upsample")
    if a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        c.fail("keep_aspect_ratio_policy=%s" % a["keep_aspect_ratio_policy"], "upsample")
    scales = c.cst(node, 2, "scales", optional=True)
    sizes = c.cst(node, 3, "sizes", optional=True)
    if scales is not None and scales.size == 0:
        scales = None
    if sizes is not None and sizes.size == 0:
        sizes = None
    if (scales is None) == (sizes is None):
        raise OnnxError("node %s (Resize): needs exactly one of scales and sizes"
                        % _node_desc(node))
    _resample(c, node, x, mode, coord, a.get("nearest_mode", "round_prefer_floor"), scales,
              sizes)


# ---------------------------------------------------------------------------
# Rendering the .cnn (tools/cnn_text.py, shared with tools/torch2cnn.py: chains,
# names where the graph branches)

def _tensor_name(op, used):
    base = op.onnx_name or op.label or op.kind
    if base.startswith("/"):  # PyTorch's /scope/Op_output_0
        base = re.sub(r"_output_\d+$", "", base)
    name = sanitize_ident(scope_path(base) or base)
    return cnn_text.unique(name, used)


def _continues(op, prev):
    """May op join the statement of prev, which it can follow after '->'?
    Not at layers with weights."""
    return op.kind not in ("conv2d", "linear")


def _render(ops, inp, outputs, used):
    return cnn_text.render(ops, inp, outputs, used, Op, _tensor_name, fmt_label, _continues,
                           ("add", "concat", "constant"))


# Ops whose meaning stays the same when every tensor gains a leading axis of
# 1 (with Concat's axis and Transpose's perm shifted): see _lift_batch.
LIFTABLE = {"Add", "Sub", "Mul", "Div", "Concat", "Transpose", "Identity", "Relu", "Sigmoid",
            "Tanh", "LeakyRelu", "HardSwish", "Softmax", "LogSoftmax", "Expand", "Slice",
            "Split", "Max", "Min", "Sum", "Mean", "MatMul", "ReduceSum", "ReduceMean",
            "ReduceMax", "ReduceMin"}
LIFTABLE |= set(UNARY_MATH)


def _opset(model):
    return max([imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")] or [1])


# The role of a constant input in a lifted graph: data gains a leading 1,
# Expand's shape a leading 1 value, Slice's axes are shifted, Slice's starts,
# ends and steps and Split's sizes stay.
LIFT_ROLES = {("Expand", 1): "shape", ("Slice", 1): "keep", ("Slice", 2): "keep",
              ("Slice", 3): "axes", ("Slice", 4): "keep", ("Split", 1): "keep",
              ("MatMul", 1): "keep", ("ReduceSum", 1): "axes"}


def _lift_value(role, a):
    a = np.asarray(a)
    if role == "shape":
        return np.concatenate([[1], a.reshape(-1)]).astype(a.dtype)
    if role == "axes":
        return np.where(a >= 0, a + 1, a).astype(a.dtype)
    return a if role == "keep" else a.reshape((1,) + a.shape)


def _lift_node(n, ranks, consts, opset, g2):
    """Shift n's axis attributes for the leading axis (and make the default
    ones explicit); False if it cannot be."""
    attrs = {a.name: a for a in n.attribute}
    op = n.op_type
    if op in ("Concat", "Softmax", "LogSoftmax", "Split") and "axis" in attrs:
        if attrs["axis"].i >= 0:
            attrs["axis"].i += 1
    elif op == "Split" or (op in ("Softmax", "LogSoftmax") and opset < 13):  # 0, or 1 < 13
        n.attribute.extend([onnx.helper.make_attribute("axis", 1 if op == "Split" else 2)])
    if op == "Transpose":
        r = ranks.get(n.input[0])
        if "perm" not in attrs and r is None:
            return False
        perm = list(attrs["perm"].ints) if "perm" in attrs else list(range(r - 1, -1, -1))
        if "perm" in attrs:
            n.attribute.remove(attrs["perm"])
        n.attribute.extend([onnx.helper.make_attribute("perm", [0] + [p + 1 for p in perm])])
    if op.startswith("Reduce") and "axes" in attrs:
        axes = [a + 1 if a >= 0 else a for a in attrs["axes"].ints]
        n.attribute.remove(attrs["axes"])
        n.attribute.extend([onnx.helper.make_attribute("axes", axes)])
    if op == "Slice" and opset < 10:
        axes = list(attrs["axes"].ints) if "axes" in attrs else \
            list(range(len(attrs["starts"].ints)))
        if "axes" in attrs:
            n.attribute.remove(attrs["axes"])
        n.attribute.extend([onnx.helper.make_attribute(
            "axes", [a + 1 if a >= 0 else a for a in axes])])
    elif op == "Slice" and (len(n.input) < 4 or not n.input[3]):
        if n.input[1] not in consts:
            return False
        name = n.output[0] + "_lifted_axes"
        k = np.asarray(consts[n.input[1]]).size
        g2.initializer.append(numpy_helper.from_array(np.arange(1, k + 1, dtype=np.int64), name))
        del n.input[3:]
        n.input.append(name)
    return True


def _lift_batch(model, input_weights):
    """The model with a leading axis of 1 on every tensor, for a graph whose
    axis 0 is not a batch (ONNX's node tests: Concat over axis 0, a
    Transpose moving it): cnnc's batch is then 1 and ONNX's axes are its
    per-sample ones. Only for graphs of LIFTABLE ops on tensors of rank <= 3
    with a fixed first dimension; None otherwise. Returns (model,
    input_weights), both lifted."""
    g = model.graph
    if not all(n.op_type in LIFTABLE and n.domain in ("", "ai.onnx") for n in g.node):
        return None
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
    except Exception:
        return None
    ranks = {}
    for vi in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        d = _dims(vi.type)
        if d is None or len(d) > 3 or (d and not isinstance(d[0], int)):
            return None
        ranks[vi.name] = len(d)
    roles = {}
    for n in g.node:
        for k, name in enumerate(n.input):
            role = LIFT_ROLES.get((n.op_type, k), "data")
            if name and roles.setdefault(name, role) != role:
                return None
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    weights = {}
    for name, arr in (input_weights or {}).items():
        if arr is not None and np.ndim(arr) > 3:
            return None
        if arr is not None:
            consts[name] = arr
        weights[name] = None if arr is None else _lift_value(roles.get(name, "data"), arr)
    if any(roles.get(name) == "data" and np.ndim(a) > 3 for name, a in consts.items()):
        return None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g2 = m.graph
    for vi in list(g2.input) + list(g2.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape") and \
                roles.get(vi.name, "data") == "data":
            vi.type.tensor_type.shape.dim.insert(0, onnx.TensorShapeProto.Dimension(dim_value=1))
    del g2.value_info[:]
    inits = [numpy_helper.from_array(_lift_value(roles.get(t.name, "data"),
                                                 numpy_helper.to_array(t)), t.name)
             for t in g2.initializer]
    del g2.initializer[:]
    g2.initializer.extend(inits)
    opset = _opset(model)
    if not all(_lift_node(n, ranks, consts, opset, g2) for n in g2.node):
        return None
    return m, weights


def _run(conv):
    try:
        conv.run()
    except Unsupported as u:
        raise UnsupportedModel([u])


def convert(model_path, out_path, batch=1, input_weights=None):
    """Import the ONNX model at model_path as out_path (.cnn) and its weights
    beside it (.safetensors). input_weights: {graph input name: numpy array or
    None (its initializer)} for graph inputs that are constants. Returns a dict
    with the .cnn text, the batch size to compile with, the input and output
    ONNX shapes. Raises OnnxError (bad model), Unsupported (the graph as a
    whole) or UnsupportedModel (every unsupported node)."""
    if not out_path.endswith(".cnn"):
        raise OnnxError("the output file name must end in .cnn: %s" % out_path)
    model = onnx_lower.lower(load_model(model_path), input_weights)
    conv = Converter(model, batch=batch, input_weights=input_weights)
    lifted = None
    try:
        _run(conv)
    except UnsupportedModel as first:
        lifted = _lift_batch(model, input_weights)
        if lifted is None:
            raise
        conv = Converter(lifted[0], batch=1, input_weights=lifted[1])
        try:
            _run(conv)
        except (UnsupportedModel, OnnxError):
            raise first
    ops = cnn_text.remove_dead(conv.ops, conv.outputs, Op)
    used = set(conv.used_labels) | {conv.input.name}
    body = _render(ops, conv.input, conv.outputs, used)
    tensors = []
    for o in ops:
        tensors += o.tensors
    nparams = sum(int(a.size) for k, a in tensors
                  if not k.endswith(("running_mean", "running_var")))
    weights = os.path.splitext(out_path)[0] + ".safetensors"
    nbatch = conv.input.cshape[0]
    g = model.graph
    head = ["# %s, imported by tools/onnx2cnn.py from %s (%s%s, opset %d)"
            % (g.name or "model", os.path.basename(model_path),
               model.producer_name or "unknown producer",
               " " + model.producer_version if model.producer_version else "", conv.opset),
            "# ONNX input %s %s%s; %s parameters" % (
                conv.input_onnx_name, list(conv.input_oshape),
                " (batch dimension symbolic: --batch)" if conv.symbolic_batch else "",
                "{:,}".format(nparams)),
            "# outputs: %s" % ", ".join("%s %s" % (n, list(s)) for n, s in
                                        zip(conv.graph_outputs, conv.output_oshapes)),
            "# compile with --batch %d" % nbatch if nbatch != 1 else None,
            "# ONNX's axis 0 is not a batch here: every tensor has a leading axis of 1 "
            "(cnnc's batch)" if lifted else None,
            "network %s" % cnn_text.network_name(out_path, RESERVED),
            "input %s[%s]" % (conv.input.name, ", ".join(str(d) for d in conv.input.cshape[1:])),
            "weights %s" % fmt_value(os.path.basename(weights)),
            ""]
    text = "\n".join(h for h in head if h is not None) + "\n" + body
    cnn_text.write_network(out_path, text, weights, tensors)
    return {"text": text, "batch": nbatch, "weights": weights,
            "input_shape": conv.input_oshape, "output_shapes": conv.output_oshapes}


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="onnx2cnn",
        description="Import an ONNX model as a cnnc network: a readable .cnn and a "
                    ".safetensors of its weights (docs/onnx.md).")
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("-o", dest="out", help="output .cnn (default: MODEL.cnn); the weights go "
                    "beside it as .safetensors")
    ap.add_argument("--batch", type=int, default=1,
                    help="the size of a symbolic batch dimension (default 1)")
    ap.add_argument("--input-as-weights", nargs="+", default=[], metavar="NAME[=FILE]",
                    help="graph inputs that are constants (weights): their value from FILE "
                         "(a TensorProto .pb as in ONNX test data, or .npy), or their "
                         "initializer if the graph has one")
    args = ap.parse_args(argv)
    if not HAVE_ONNX:
        print("onnx2cnn: error: the onnx Python package is missing (Debian: apt-get install "
              "python3-onnx; run with /usr/bin/python3)", file=sys.stderr)
        return 1
    out = args.out or os.path.splitext(os.path.basename(args.model))[0] + ".cnn"
    try:
        if args.batch < 1:
            raise OnnxError("--batch must be at least 1")
        iw = {}
        for spec in args.input_as_weights:
            name, eq, path = spec.partition("=")
            iw[name] = load_tensor_file(path) if eq else None
        res = convert(args.model, out, batch=args.batch, input_weights=iw)
    except OnnxError as e:
        print("onnx2cnn: error: %s" % _one_line(e), file=sys.stderr)
        return 1
    except UnsupportedModel as e:
        for u in e.items:
            print("onnx2cnn: error: %s" % _one_line(u.line()), file=sys.stderr)
        n = sum(1 for u in e.items if u.node is not None)
        if n:
            print("onnx2cnn: %d node%s cannot be expressed in cnnc (docs/onnx.md lists what can)"
                  % (n, "" if n == 1 else "s"), file=sys.stderr)
        return 1
    except RecursionError:
        print("onnx2cnn: error: the model is nested too deeply", file=sys.stderr)
        return 1
    except Exception as e:  # never a traceback
        print("onnx2cnn: error: internal error (%s: %s); please report it"
              % (type(e).__name__, _one_line(e)), file=sys.stderr)
        return 1
    print("onnx2cnn: wrote %s and %s%s" % (out, res["weights"],
                                          " (compile with --batch %d)" % res["batch"]
                                          if res["batch"] != 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
