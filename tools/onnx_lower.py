"""ONNX patterns lowered for tools/onnx2cnn.py (docs/onnx.md, "Lowered ops").

Two parts, kept here so that onnx2cnn.py does not grow:

- lower(model, input_weights): a rewrite of the graph before conversion.
  ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp
  become the elementwise ops and the ReduceSum ONNX's reference computes
  (Abs, Mul(x, x), Exp; Sqrt, Log after); a Gemm that cnnc's linear cannot
  take as it is (transA=1, a constant C with a different row per sample, a
  computed C that is scaled or broadcast) becomes Transpose(A), MatMul by
  the constant B (transposed at import), Mul by alpha and Add of beta * C.
  PRelu, Elu, Selu, Celu, Softplus, Softsign, LayerNormalization (with its
  Mean or InvStdDev output used) and InstanceNormalization become the
  elementwise ops and reductions of ONNX's reference formulas; Tile by
  constant repeats a Concat of copies per repeated axis.
- install(handlers, module): handlers for ReduceSum, ReduceMean, ReduceMax
  and ReduceMin over any axes but the batch, with or without keepdims:
  cnnc's sum, mean, amax and amin (compiler/ops/reduce.c); Size, and the
  unary math ops of constants, evaluated at import time.
"""

import numpy as np

import cnn_text

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError:  # onnx2cnn reports it
    onnx = None

O = None  # the onnx2cnn module, set by install()

# ONNX reduce op -> (elementwise op before the ReduceSum, op after it)
REDUCE_LOWER = {
    "ReduceL1": ("Abs", None),
    "ReduceL2": ("Square", "Sqrt"),
    "ReduceSumSquare": ("Square", None),
    "ReduceLogSum": (None, "Log"),
    "ReduceLogSumExp": ("Exp", "Log"),
}

REDUCE_KIND = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "amax",
               "ReduceMin": "amin"}


class _Names:
    """Fresh tensor names that collide with none in the graph."""

    def __init__(self, graph):
        self.taken = set()
        for n in graph.node:
            self.taken.update(n.input)
            self.taken.update(n.output)
        for vi in list(graph.input) + list(graph.output):
            self.taken.add(vi.name)
        for t in graph.initializer:
            self.taken.add(t.name)

    def __call__(self, base):
        return cnn_text.unique(base, self.taken)


def _opset(model):
    return max([imp.version for imp in model.opset_import if imp.domain in ("", "ai.onnx")]
               or [1])


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _lower_reduce(node, names, opset, inits):
    pre, post = REDUCE_LOWER[node.op_type]
    base = node.name or node.output[0]
    x = node.input[0]
    out = []
    if pre is not None:
        y = names(base + "_" + pre.lower())
        if pre == "Square":
            out.append(helper.make_node("Mul", [x, x], [y], name=y))
        else:
            out.append(helper.make_node(pre, [x], [y], name=y))
        x = y
    axes = _attr(node, "axes", None)
    keep = _attr(node, "keepdims", 1)
    s = names(base + "_sum") if post else node.output[0]
    inputs = [x]
    attrs = {"keepdims": keep}
    if axes is not None:
        if opset >= 13:  # ReduceSum takes its axes as an input from opset 13
            a = names(base + "_axes")
            inits.append(numpy_helper.from_array(np.asarray(axes, dtype=np.int64), a))
            inputs.append(a)
        else:
            attrs["axes"] = list(axes)
    out.append(helper.make_node("ReduceSum", inputs, [s], name=node.name or s, **attrs))
    if post:
        out.append(helper.make_node(post, [s], [node.output[0]], name=names(base + "_log")))
    return out


class _Builder:
    """Nodes computing one ONNX node's output from elementwise ops, named
    after it; scalars become float32 initializers."""

    def __init__(self, node, names, inits, opset):
        self.base = node.name or node.output[0]
        self.out = node.output[0]
        self.names, self.inits, self.nodes, self.opset = names, inits, [], opset

    def const(self, v, what):
        k = self.names("%s_%s" % (self.base, what))
        self.inits.append(numpy_helper.from_array(np.asarray(v, dtype=np.float32), k))
        return k

    def __call__(self, op, inputs, what=None):
        """A node; its output is the original one if `what` is None."""
        y = self.names("%s_%s" % (self.base, what)) if what else self.out
        # before opset 7, Add, Sub, Mul, Div broadcast a scalar second operand
        # with broadcast=1 (and take their output shape from the first)
        bc = {"broadcast": 1} if op in ("Add", "Sub", "Mul", "Div") and self.opset < 7 else {}
        self.nodes.append(helper.make_node(op, inputs, [y], name=y, **bc))
        return y

    def min0(self, x, what):
        """min(x, 0): Min with a scalar from opset 8 (broadcasting), else
        -relu(-x) (the same value; negation is exact)."""
        if self.opset >= 8:
            return self("Min", [x, self.const(0.0, "zero")], what)
        return self("Neg", [self("Relu", [self("Neg", [x], what + "_neg")], what + "_relu")],
                    what)


def _lower_activation(node, names, inits, opset, consts, shapes):
    """PRelu, Elu, Selu, Celu, Softplus, Softsign in the elementwise ops of
    ONNX's reference formulas (onnx/backend/test/case/node), in their order."""
    op, x = node.op_type, node.input[0]
    b = _Builder(node, names, inits, opset)
    alpha = _attr(node, "alpha", {"Elu": 1.0, "Celu": 1.0}.get(op, 1.6732632423543772))
    if op == "PRelu":  # clip(x, 0, inf) + clip(x, -inf, 0) * slope
        if len(node.input) < 2:
            return None
        r = b("Relu", [x], "pos")
        m = b.min0(x, "neg")
        slope = node.input[1]
        xs, sv = shapes.get(x), consts.get(slope)
        if opset < 7 and sv is not None and np.ndim(sv) == 1 and np.size(sv) > 1 and xs \
                and len(xs) >= 3 and xs[1] == np.size(sv):
            # PRelu-6: a slope of C values is one per channel (axis 1)
            slope = b.const(np.reshape(sv, (-1,) + (1,) * (len(xs) - 2)), "slope")
        b("Add", [r, b("Mul", [m, slope], "neg_slope")])
    elif op in ("Elu", "Selu"):
        # clip(x, 0, inf) [* gamma] + (exp(clip(x, -inf, 0)) - 1) * alpha [* gamma]
        r = b("Relu", [x], "pos")
        e = b("Exp", [b.min0(x, "neg")], "exp")
        t = b("Mul", [b("Sub", [e, b.const(1.0, "one")], "expm1"), b.const(alpha, "alpha")],
              "neg_alpha")
        if op == "Selu":
            gamma = b.const(_attr(node, "gamma", 1.0507009873554805), "gamma")
            r = b("Mul", [r, gamma], "pos_gamma")
            t = b("Mul", [t, gamma], "neg_gamma")
        b("Add", [r, t])
    elif op == "Celu":  # maximum(0, x) + minimum(0, alpha * (exp(x / alpha) - 1))
        a = b.const(alpha, "alpha")
        e = b("Exp", [b("Div", [x, a], "div")], "exp")
        t = b("Mul", [b("Sub", [e, b.const(1.0, "one")], "expm1"), a], "neg_alpha")
        b("Add", [b("Relu", [x], "pos"), b.min0(t, "neg")])
    elif op == "Softplus":  # log(exp(x) + 1)
        b("Log", [b("Add", [b("Exp", [x], "exp"), b.const(1.0, "one")], "exp1")])
    elif op == "Softsign":  # x / (1 + abs(x))
        b("Div", [x, b("Add", [b("Abs", [x], "abs"), b.const(1.0, "one")], "abs1")])
    return b.nodes


def _lower_layernorm(node, names, inits, shapes, used):
    """LayerNormalization whose Mean or InvStdDev output is used, as ONNX's
    reference computes it: the mean over axes axis..r-1, the deviation, its
    mean square plus epsilon, sqrt, reciprocal; y = d * inv * W + B."""
    xs = shapes.get(node.input[0])
    if xs is None or len(node.input) < 2:
        return None
    r = len(xs)
    axis = _attr(node, "axis", -1)
    axis = axis + r if axis < 0 else axis
    if not 0 <= axis < r:
        return None
    axes = list(range(axis, r))
    b = _Builder(node, names, inits, 17)
    outs = list(node.output) + [""] * 3

    def out(k, what):  # the node's output k if used, else a fresh name
        return outs[k] if outs[k] and outs[k] in used else names("%s_%s" % (b.base, what))

    x = node.input[0]
    mean = out(1, "mean")
    b.nodes.append(helper.make_node("ReduceMean", [x], [mean], name=mean, axes=axes, keepdims=1))
    d = b("Sub", [x, mean], "dev")
    v = b("ReduceMean", [b("Mul", [d, d], "dev2")], "var")
    b.nodes[-1].attribute.extend([helper.make_attribute("axes", axes),
                                  helper.make_attribute("keepdims", 1)])
    sd = b("Sqrt", [b("Add", [v, b.const(_attr(node, "epsilon", 1e-5), "eps")], "var_eps")],
           "std")
    inv = out(2, "inv_std")
    b.nodes.append(helper.make_node("Reciprocal", [sd], [inv], name=inv))
    y = b("Mul", [d, inv], "norm")
    has_b = len(node.input) > 2 and node.input[2]
    y = b("Mul", [y, node.input[1]], "scaled" if has_b else None)
    if has_b:
        b("Add", [y, node.input[2]])
    return b.nodes


def _lower_instancenorm(node, names, inits, opset, consts, shapes):
    """InstanceNormalization as ONNX's reference computes it: s * (x - mean)
    / sqrt(var + epsilon) + bias, mean and var over the spatial axes."""
    xs = shapes.get(node.input[0])
    if xs is None or len(xs) < 3 or len(node.input) < 3:
        return None
    sv, bv = consts.get(node.input[1]), consts.get(node.input[2])
    if sv is None or bv is None or np.size(sv) != xs[1] or np.size(bv) != xs[1]:
        return None  # the converter reports what it cannot do
    axes = list(range(2, len(xs)))
    shape = (-1,) + (1,) * (len(xs) - 2)
    b = _Builder(node, names, inits, opset)
    x = node.input[0]

    def mean(t, what):
        y = names("%s_%s" % (b.base, what))
        b.nodes.append(helper.make_node("ReduceMean", [t], [y], name=y, axes=axes, keepdims=1))
        return y

    d = b("Sub", [x, mean(x, "mean")], "dev")
    v = mean(b("Mul", [d, d], "dev2"), "var")
    sd = b("Sqrt", [b("Add", [v, b.const(_attr(node, "epsilon", 1e-5), "eps")], "var_eps")],
           "std")
    t = b("Mul", [d, b.const(np.reshape(sv, shape), "scale")], "scaled")
    b("Add", [b("Div", [t, sd], "norm"), b.const(np.reshape(bv, shape), "bias")])
    return b.nodes


def _lower_tile(node, names, consts):
    """Tile by constant repeats: a Concat of copies along each repeated axis
    (the leading axis first: joined in order, as Tile repeats)."""
    reps = consts.get(node.input[1]) if len(node.input) > 1 else None
    if reps is None or np.ndim(reps) != 1 or np.any(np.asarray(reps) < 1):
        return None  # the converter reports it
    x, out, base = node.input[0], [], node.name or node.output[0]
    axes = [a for a, r in enumerate(np.asarray(reps).tolist()) if r > 1]
    if not axes:
        return [helper.make_node("Identity", [x], [node.output[0]], name=base)]
    for k, a in enumerate(axes):
        y = node.output[0] if k == len(axes) - 1 else names("%s_axis%d" % (base, a))
        out.append(helper.make_node("Concat", [x] * int(reps[a]), [y], name=y, axis=a))
        x = y
    return out


ACTIVATIONS = ("PRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign")


def _gemm_needs_lowering(node, consts, shapes):
    """Can onnx2cnn's Gemm handler not take this node as it is?"""
    if len(node.input) < 2 or node.input[1] not in consts:
        return False  # a computed B: the handler reports it
    if _attr(node, "transA", 0):
        return True
    if len(node.input) < 3 or not node.input[2]:
        return False
    beta = _attr(node, "beta", 1.0)
    C = consts.get(node.input[2])
    if C is None:  # computed: linear then add, of the output's shape, unscaled
        return np.float32(beta) != 1 or shapes.get(node.input[2]) != shapes.get(node.output[0])
    C = np.asarray(C)
    if C.ndim == 2 and C.shape[0] > 1 and not np.all(C == C[:1]):
        return True  # a bias per row
    return False


def _lower_gemm(node, names, consts, inits):
    base = node.name or node.output[0]
    a = node.input[0]
    out = []
    if _attr(node, "transA", 0):
        t = names(base + "_at")
        out.append(helper.make_node("Transpose", [a], [t], name=t, perm=[1, 0]))
        a = t
    B = np.asarray(consts[node.input[1]], dtype=np.float32)
    if B.ndim != 2:
        return None  # the handler reports the shape
    if _attr(node, "transB", 0):
        B = B.T
    bname = names(base + "_b")
    inits.append(numpy_helper.from_array(np.ascontiguousarray(B), bname))
    alpha = np.float32(_attr(node, "alpha", 1.0))
    beta = np.float32(_attr(node, "beta", 1.0))
    has_c = len(node.input) > 2 and node.input[2] and beta != 0
    p = names(base + "_ab") if (alpha != 1 or has_c) else node.output[0]
    out.append(helper.make_node("MatMul", [a, bname], [p], name=node.name or p))
    if alpha != 1:
        q = names(base + "_alpha_ab") if has_c else node.output[0]
        k = names(base + "_alpha")
        inits.append(numpy_helper.from_array(np.asarray(alpha, dtype=np.float32), k))
        out.append(helper.make_node("Mul", [p, k], [q], name=q))
        p = q
    if has_c:
        cname = node.input[2]
        if cname in consts:  # ONNX's reference: c * beta, in float32
            v = np.asarray(consts[cname], dtype=np.float32) * beta
            cname = names(base + "_beta_c")
            inits.append(numpy_helper.from_array(np.ascontiguousarray(v, dtype=np.float32),
                                                 cname))
        elif beta != 1:
            k = names(base + "_beta")
            inits.append(numpy_helper.from_array(np.asarray(beta, dtype=np.float32), k))
            bc = names(base + "_beta_c")
            out.append(helper.make_node("Mul", [cname, k], [bc], name=bc))
            cname = bc
        out.append(helper.make_node("Add", [p, cname], [node.output[0]], name=names(base + "_c")))
    return out


def lower(model, input_weights=None):
    """The model with the patterns above rewritten (a copy), or the model
    itself if it has none."""
    g = model.graph
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    todo = [n for n in g.node if n.domain in ("", "ai.onnx") and
            (n.op_type in REDUCE_LOWER or n.op_type in ACTIVATIONS or
             n.op_type in ("Gemm", "InstanceNormalization", "Tile") or
             (n.op_type == "LayerNormalization" and
              any(o in used for o in n.output[1:])))]
    if not todo:
        return model
    wanted = {i for n in todo if n.op_type in ("Gemm", "PRelu", "InstanceNormalization", "Tile")
              for i in n.input[1:3]}
    consts = {}
    for t in g.initializer:
        if t.name in wanted:
            try:
                consts[t.name] = numpy_helper.to_array(t)
            except Exception:  # malformed: onnx2cnn reports it
                pass
    for n in g.node:  # Constant nodes (PyTorch's repeats)
        if n.op_type == "Constant" and n.output and n.output[0] in wanted:
            v = _attr(n, "value", None)
            if v is not None:
                try:
                    consts[n.output[0]] = numpy_helper.to_array(v)
                except Exception:
                    pass
    for name, arr in (input_weights or {}).items():
        if arr is not None:
            consts[name] = np.asarray(arr)
    shapes = {}
    if any(n.op_type in ("Gemm", "PRelu", "LayerNormalization", "InstanceNormalization")
           for n in todo):
        try:
            inf = onnx.shape_inference.infer_shapes(model).graph
            for vi in list(inf.input) + list(inf.value_info) + list(inf.output):
                tt = vi.type.tensor_type
                if vi.type.HasField("tensor_type") and tt.HasField("shape"):
                    shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                            for d in tt.shape.dim)
        except Exception:
            pass
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g2 = m.graph
    names = _Names(g2)
    opset = _opset(model)
    inits = []
    nodes = []
    changed = False
    for n in g2.node:
        new = None
        if n.domain in ("", "ai.onnx"):
            if n.op_type in REDUCE_LOWER and n.input and n.output:
                new = _lower_reduce(n, names, opset, inits)
            elif n.op_type == "LayerNormalization" and n in todo:
                new = _lower_layernorm(n, names, inits, shapes, used)
            elif n.op_type == "InstanceNormalization" and n.input and n.output:
                new = _lower_instancenorm(n, names, inits, opset, consts, shapes)
            elif n.op_type == "Tile" and n.input and n.output:
                new = _lower_tile(n, names, consts)
            elif n.op_type in ACTIVATIONS and n.input and n.output:
                new = _lower_activation(n, names, inits, opset, consts, shapes)
            elif n.op_type == "Gemm" and n.output and _gemm_needs_lowering(n, consts, shapes):
                new = _lower_gemm(n, names, consts, inits)
        if new is None:
            nodes.append(n)
        else:
            nodes.extend(new)
            changed = True
    if not changed:
        return model
    del g2.node[:]
    g2.node.extend(nodes)
    g2.initializer.extend(inits)
    del g2.value_info[:]
    return m


# ---------------------------------------------------------------------------
# Reductions over any axes


def _reduce_any(c, node):
    kind = REDUCE_KIND[node.op_type]
    x = c.get(node, 0)
    c.need_float(node, node.input[0])
    if isinstance(x, O.Poison) or x.oshape is None:
        return c.poison(node)
    r = len(x.oshape)
    axes = O._axes(c, node, 1, r)
    keep = bool(O._attrs(node).get("keepdims", 1))
    if not axes:
        if O._attrs(node).get("noop_with_empty_axes", 0):
            return c.define(node, x.val, x.oshape)
        axes = list(range(r))
    if any(a < 0 or a >= r for a in axes) or len(set(axes)) != len(axes):
        raise O.OnnxError("node %s (%s): axes %s do not fit a rank-%d tensor"
                          % (O._node_desc(node), node.op_type, axes, r))
    # The spatial means and maxima PyTorch exports keep their pool form.
    if node.op_type in ("ReduceMean", "ReduceMax") and r >= 3 and \
            sorted(axes) == list(range(2, r)) and x.val.cshape == O.natural(x.oshape):
        return O._reduce(c, node, "global_avgpool" if kind == "mean" else "global_maxpool")
    if 0 in axes:
        if x.oshape[0] != 1 or c.symbolic_batch:
            c.fail("%s over axis 0 of %s, cnnc's batch; cnnc reduces the other axes"
                   % (node.op_type, list(x.oshape)), "%s over axes 1 to %d" % (kind, r - 1))
    c.need_natural(x)
    cs = x.val.cshape
    dims = set()
    for a in axes:
        if a == 0:
            continue  # of size 1 (above)
        if r >= 5 and 2 <= a <= r - 2:
            mid = set(range(2, r - 1))
            if not mid <= set(axes):
                c.fail("%s over axes %s of a rank-%d tensor: cnnc holds axes 2 to %d as one"
                       % (node.op_type, axes, r, r - 2), "%s over all of them" % kind)
            dims.add(2)
        else:
            dims.add(O._cnnc_axis(r, a))
    oshape = tuple(1 if k in axes else d for k, d in enumerate(x.oshape)) if keep else \
        tuple(d for k, d in enumerate(x.oshape) if k not in axes)
    # Without keepdims, also reduce the 1s cnnc inserted (exact: one element)
    # where that leaves the result in its natural form.
    fill = [d for d in range(1, len(cs)) if cs[d] == 1 and d not in dims]
    best = sorted(dims)
    if not keep and fill:
        for extra in ([], fill):
            cand = sorted(dims | set(extra))
            res = tuple(d for k, d in enumerate(cs) if k not in cand)
            if res == O.natural(oshape):
                best = cand
                break
    if not best:  # reducing only axes of size 1 kept: the tensor as it is
        if keep:
            return c.define(node, x.val, oshape)
        best = [len(cs) - 1] if cs[-1] == 1 else []
        if not best:
            return c.define(node, x.val, oshape)
    if len(best) > 4:
        c.fail("%s over %d cnnc dimensions; cnnc's reductions take up to four"
               % (node.op_type, len(best)))
    res = tuple((1 if k in best else d) for k, d in enumerate(cs)) if keep else \
        tuple(d for k, d in enumerate(cs) if k not in best)
    dim = str(best[0]) if len(best) == 1 else "(%s)" % ", ".join(str(d) for d in best)
    attrs = [(None, dim)] + ([("keepdim", "true")] if keep else [])
    t = c.op(node, kind, [x], attrs, cshape=res)
    nat = O.natural(oshape)
    if res != nat and res[0] == nat[0] and O._prod(res) == O._prod(nat):
        # x.mean(2) of [N, C, H, W] is [N, C, W]: held as [N, C, 1, W] (a view)
        t.onnx_name = None
        t = c.op(node, "reshape", [O.T(t, oshape)], [(None, str(d)) for d in nat[1:]],
                 cshape=nat)
        res = nat
    c.env[node.output[0]] = O.T(t, oshape, None if res == nat else
                                "%s without keepdims" % node.op_type)


def _size(c, node):
    """Size: the element count, known at import time (shapes are static)."""
    name = node.input[0]
    s = c.const[name].shape if name in c.const else c.shape_of(name)
    if s is None and isinstance(c.env.get(name), (O.T, O.Poison)):
        s = c.env[name].oshape
    if s is None:
        c.fail("the shape of '%s' is not known at import time" % name)
    O._fold(c, node, np.int64(O._prod(s)))


def install(handlers, module):
    """Register the reduction handlers (and Size) in onnx2cnn's table."""
    global O
    O = module
    for op in REDUCE_KIND:
        handlers[op] = _reduce_any
    handlers["Size"] = _size
    for op, fn in UNARY_FOLD.items():
        handlers[op] = _folding(handlers[op], fn)


# Unary math ops of constants, evaluated at import time as numpy does.
UNARY_FOLD = {"Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt, "Exp": np.exp, "Log": np.log,
              "Reciprocal": np.reciprocal, "Floor": np.floor, "Ceil": np.ceil, "Sin": np.sin,
              "Cos": np.cos}


def _folding(h, fn):
    def fold_or_compute(c, node):
        if node.input and node.input[0] in c.const:
            with np.errstate(all="ignore"):
                return O._fold(c, node, fn(np.asarray(c.const[node.input[0]])))
        return h(c, node)
    return fold_or_compute
