"""Quantized models for tools/torch2cnn.py (docs/quantization.md, docs/exporter.md).

torch2cnn.py calls register() once, which adds the handlers below to its
tables, and check() after each conversion. Together they export models
converted with torch.ao.quantization on the onednn and qnnpack engines:

- eager mode: QuantStub/DeQuantStub (nnq.Quantize, nnq.DeQuantize after
  convert), nnq.Conv2d, nniq.ConvReLU2d (fuse_modules conv + bn + relu),
  nnq.Linear, nniq.LinearReLU, nnq.ReLU6, FloatFunctional add / add_relu / cat
  (torch.ops.quantized.add, add_relu, cat inside QFunctional);
- FX graph mode (prepare_fx, convert_fx): torch.quantize_per_tensor with the
  scale and zero point as attributes, the same quantized modules,
  torch.ops.quantized.add / add_relu, torch.cat of quantized tensors (whose
  inputs share their quantization parameters), Tensor.dequantize.

Pools, relu, relu6, flatten and dropout on a quantized tensor are the float
handlers' ops; cnnc computes them on quint8 because their input is. The
output scale and zero point of every op are taken from the example run
(fx's tensor_meta.qparams), the weights from the quantized modules; the keys
are those of docs/quantization.md: NAME.weight (I8), NAME.weight_scale (F32
[C_out]), NAME.weight_zero_point (I64 [C_out], all 0), NAME.bias (F32),
NAME.scale (F32 []), NAME.zero_point (I64 []).
"""

import numpy as np
import torch
import torch.fx as fx
import torch.ao.nn.quantized as nnq
import torch.nn.intrinsic.quantized as nniq
from torch.fx.passes.shape_prop import TensorMetadata

try:
    import torch.ao.nn.quantized.dynamic as nnqd
except ImportError:  # older layouts
    import torch.nn.quantized.dynamic as nnqd

# The ops cnnc computes on quint8 tensors (docs/quantization.md).
QUANT_OPS = {"conv2d", "linear", "add", "concat", "relu", "relu6", "maxpool", "avgpool",
             "global_avgpool", "adaptive_avgpool", "flatten", "dropout", "dequantize"}
# Of those, the ones that read an output scale and zero point (a weights key).
WITH_SCALE = {"conv2d", "linear", "add", "concat"}

SUPPORTED_QUANT = (
    "quantized (torch.ao.quantization, eager or FX, onednn or qnnpack): QuantStub/DeQuantStub, "
    "torch.quantize_per_tensor (quint8), Tensor.dequantize, quantized Conv2d, ConvReLU2d, "
    "Linear, LinearReLU, ReLU6, FloatFunctional add/add_relu/cat, torch.ops.quantized.add/"
    "add_relu/cat, and relu, relu6, pools, flatten, dropout on quantized tensors")

_t = None  # the torch2cnn module, set by register()


def _qparams(node):
    """(scale, zero point) of a node's quantized result in the example run, or None."""
    tm = node.meta.get("tensor_meta") if node is not None else None
    if not isinstance(tm, TensorMetadata) or not tm.is_quantized:
        return None
    qp = tm.qparams
    if qp.get("qscheme") not in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return None
    return float(qp["scale"]), int(qp["zero_point"])


def _is_quant(v):
    return isinstance(v, _t.Value) and _qparams(v.node) is not None


def _scale_tensors(c, node, label, scale, zero_point):
    """NAME.scale and NAME.zero_point: float32 and int64 scalars."""
    s = np.float32(scale)
    if not (np.isfinite(s) and s > 0):
        c.fail(node, "has the output scale %r; cnnc needs a positive finite scale" % scale)
    if not 0 <= zero_point <= 255:
        c.fail(node, "has the output zero point %d; cnnc's quint8 needs 0..255" % zero_point)
    return [(label + ".scale", np.array(s, np.float32)),
            (label + ".zero_point", np.array(zero_point, np.int64))]


def _weight_tensors(c, node, label, m):
    """The int8 weight, its per-channel scales and zero points, the float bias."""
    w = m.weight()
    if w.dtype != torch.qint8:
        c.fail(node, "has %s weights; cnnc's quantized layers take qint8 weights" % w.dtype)
    oc = w.shape[0]
    if w.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        scales = np.full(oc, w.q_scale(), np.float64)
        zeros = np.full(oc, w.q_zero_point(), np.int64)
    elif w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        if w.q_per_channel_axis() != 0:
            c.fail(node, "has weight scales along axis %d; cnnc's are per output channel "
                   "(axis 0)" % w.q_per_channel_axis())
        scales = w.q_per_channel_scales().double().numpy()
        zeros = w.q_per_channel_zero_points().numpy().astype(np.int64)
    else:
        c.fail(node, "has weights quantized with %s; cnnc takes per-tensor or per-channel "
               "affine int8 weights" % w.qscheme())
    if np.any(zeros != 0):
        c.fail(node, "has nonzero weight zero points; cnnc's int8 weights are symmetric (use a "
               "qconfig with a symmetric weight observer, as onednn's and qnnpack's defaults)")
    out = [(label + ".weight", w.int_repr().numpy().astype(np.int8)),
           (label + ".weight_scale", scales.astype(np.float32)),
           (label + ".weight_zero_point", zeros)]
    b = m.bias()
    if b is not None:
        out.append((label + ".bias", b.detach().float().numpy().astype(np.float32)))
    return out + _scale_tensors(c, node, label, float(m.scale), int(m.zero_point))


def _quant_input(c, node, arg):
    x = c.tensor(node, arg)
    if not _is_quant(x):
        c.fail(node, "expects a quantized (quint8) input")
    return x


def _relu_after(c, node, o):
    """The relu of a fused quantized layer (ConvReLU2d, LinearReLU, add_relu):
    cnnc folds it into the layer's clamp (fuse-activation)."""
    return c.op(node, "relu", [o])


def _qconv(c, node, m):
    """nnq.Conv2d, nniq.ConvReLU2d -> conv2d (-> relu), the int8 weights."""
    if getattr(m, "padding_mode", "zeros") != "zeros":
        c.fail(node, "padding_mode='%s' is not supported (only 'zeros')" % m.padding_mode)
    if len(m.kernel_size) != 2:
        c.fail(node, "is not a 2-d convolution")
    x = _quant_input(c, node, node.args[0])
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    P = _t._pair
    attrs = [(None, m.out_channels), ("kernel", P(m.kernel_size, "kernel_size"))]
    for name, v in (("stride", P(m.stride, "stride")), ("pad", P(m.padding, "padding")),
                    ("dilation", P(m.dilation, "dilation"))):
        if v != ((0, 0) if name == "pad" else (1, 1)):
            attrs.append((name, v))
    if m.groups != 1:
        attrs.append(("groups", m.groups))
    if m.bias() is None:
        attrs.append(("bias", False))
    o = c.op(node, "conv2d", [x], attrs, label=node.target)
    o.tensors = _weight_tensors(c, node, node.target, m)
    return _relu_after(c, node, o) if isinstance(m, nniq.ConvReLU2d) else o


def _qlinear(c, node, m):
    """nnq.Linear, nniq.LinearReLU -> linear (-> relu)."""
    if isinstance(m, nnqd.Linear):
        c.fail(node, "is dynamically quantized (float activations); cnnc compiles statically "
               "quantized models (prepare, calibrate, convert)")
    x = _quant_input(c, node, node.args[0])
    c.need_rank(node, x, (2,), "an [N, F] tensor (flatten before it)")
    attrs = [(None, m.out_features)]
    if m.bias() is None:
        attrs.append(("bias", False))
    o = c.op(node, "linear", [x], attrs, label=node.target)
    o.tensors = _weight_tensors(c, node, node.target, m)
    return _relu_after(c, node, o) if isinstance(m, nniq.LinearReLU) else o


def _quantize_op(c, node, x, dtype):
    if dtype != torch.quint8:
        c.fail(node, "quantizes to %s; cnnc's quantized tensors are quint8" % dtype)
    qp = _qparams(node)
    if qp is None:
        c.fail(node, "does not give a per-tensor quantized tensor")
    s, z = qp
    s32 = float(np.float32(s))
    if not (np.isfinite(s32) and s32 > 0) or not 0 <= z <= 255:
        c.fail(node, "has scale %r and zero point %d; cnnc needs a positive finite scale and "
               "a zero point in 0..255" % (s, z))
    if _is_quant(x):
        c.fail(node, "quantizes a tensor that is already quantized")
    return c.op(node, "quantize", [x], [("scale", s32), ("zero_point", z)])


def _m_quantize(c, node, m):
    """QuantStub after convert (nnq.Quantize)."""
    return _quantize_op(c, node, c.tensor(node, node.args[0]), m.dtype)


def _f_quantize(c, node):
    """torch.quantize_per_tensor(x, scale, zero_point, dtype) (FX)."""
    args = list(node.args) + [node.kwargs.get(k) for k in ("scale", "zero_point", "dtype")
                              if k in node.kwargs]
    if len(args) != 4:
        c.fail(node, "expects (input, scale, zero_point, dtype)")
    return _quantize_op(c, node, c.tensor(node, args[0]), args[3])


def _dequantize(c, node, m=None):
    """DeQuantStub after convert (nnq.DeQuantize), x.dequantize(), torch.dequantize(x)."""
    return c.op(node, "dequantize", [_quant_input(c, node, node.args[0])])


def _fn_label(node):
    """A label for a quantized add or cat: the FloatFunctional's path in eager
    mode (the call sits in QFunctional.add), fx's node name in FX mode."""
    scope = _t._scope_of(node)
    if scope and issubclass(scope[-1][2], nnq.QFunctional) and scope[-1][0]:
        return scope[-1][0]
    return node.name


def _qadd(relu):
    """torch.ops.quantized.add(a, b, scale, zero_point) and add_relu."""
    def handler(c, node):
        if len(node.args) < 2:
            c.fail(node, "expects two tensors")
        a = _quant_input(c, node, node.args[0])
        b = _quant_input(c, node, node.args[1])
        if a.shape != b.shape:
            c.fail(node, "adds tensors of shapes %s and %s; cnnc's quantized add needs equal "
                   "shapes" % (list(a.shape), list(b.shape)))
        qp = _qparams(node)
        label = _fn_label(node)
        o = c.op(node, "add", [a, b], label=label)
        o.tensors = _scale_tensors(c, node, label, *qp)
        return _relu_after(c, node, o) if relu else o
    return handler


def _qcat_op(c, node, tensors, dim):
    if not isinstance(tensors, (list, tuple)) or not tensors:
        c.fail(node, "expects a list of tensors")
    vs = [_quant_input(c, node, t) for t in tensors]
    dim = dim + len(vs[0].shape) if dim < 0 else dim
    if dim != 1:
        c.fail(node, "concatenation along dim %d is not supported (only dim=1)" % dim)
    if len(vs) > _t.MAX_CONCAT:
        c.fail(node, "concatenates %d quantized tensors; cnnc's concat takes at most %d"
               % (len(vs), _t.MAX_CONCAT))
    label = _fn_label(node)
    o = c.op(node, "concat", vs, label=label)
    o.tensors = _scale_tensors(c, node, label, *_qparams(node))
    return o


def _qcat(c, node):
    """torch.ops.quantized.cat(tensors, scale, zero_point, dim=0) (eager QFunctional.cat)."""
    a = c.bind(node, [("qx", _t.REQUIRED), ("scale", None), ("zero_point", None), ("dim", 0)])
    return _qcat_op(c, node, a["qx"], a["dim"])


def _cat_or_qcat(float_cat):
    """torch.cat: of quantized tensors (FX) a quantized concat, else the float one."""
    def handler(c, node):
        first = node.args[0] if node.args else node.kwargs.get("tensors")
        if isinstance(first, (list, tuple)) and first and isinstance(first[0], fx.Node) \
                and _qparams(first[0]) is not None:
            a = c.bind(node, [("tensors", _t.REQUIRED), ("dim", 0)])
            return _qcat_op(c, node, a["tensors"], a["dim"])
        return float_cat(c, node)
    return handler


def _unsupported_quant(c, node, m):
    c.fail(node, "is not supported on quantized tensors by cnnc (dequantize before it)",
           supported=True)


def register(t):
    """Add the quantized handlers to torch2cnn's tables (t: the module)."""
    global _t
    _t = t
    t.MODULE_HANDLERS[:0] = [
        (nniq.ConvReLU2d, _qconv), (nnq.Conv2d, _qconv),
        (nnqd.Linear, _qlinear), (nniq.LinearReLU, _qlinear), (nnq.Linear, _qlinear),
        (nnq.Quantize, _m_quantize), (nnq.DeQuantize, _dequantize),
        (nnq.ReLU6, t._simple("relu6")),  # a subclass of nn.ReLU
    ]
    # Other quantized modules (batchnorm not fused, hardswish, ...) are no
    # float module on a quantized tensor: not supported.
    for name in ("BatchNorm2d", "Hardswish", "ELU", "LeakyReLU", "Sigmoid", "LayerNorm",
                 "ConvTranspose2d", "Conv1d", "Conv3d"):
        if hasattr(nnq, name):
            t.MODULE_HANDLERS.insert(8, (getattr(nnq, name), _unsupported_quant))
    q = torch.ops.quantized
    t.FUNCTION_HANDLERS.update({
        torch.quantize_per_tensor: _f_quantize,
        torch.dequantize: _dequantize,
        q.add: _qadd(False),
        q.add_relu: _qadd(True),
        q.cat: _qcat,
        torch.cat: _cat_or_qcat(t.FUNCTION_HANDLERS[torch.cat]),
    })
    if hasattr(torch, "concat"):
        t.FUNCTION_HANDLERS[torch.concat] = t.FUNCTION_HANDLERS[torch.cat]
    t.METHOD_HANDLERS["dequantize"] = _dequantize
    t.RESERVED.update({"quantize", "dequantize"})
    t.SUPPORTED = t.SUPPORTED + "\n" + "\n    ".join(
        __import__("textwrap").wrap(SUPPORTED_QUANT, 96))


def check(c, ops):
    """After conversion: every op on quint8 tensors is one cnnc computes on
    them, none mixes quint8 and float32 inputs, and the outputs are float32."""
    for o in ops:
        q = [_is_quant(i) for i in o.inputs]
        if any(q) and not all(q):
            c.fail(o.node, "mixes quantized and float inputs; dequantize or quantize one")
        if any(q) and o.kind not in QUANT_OPS:
            c.fail(o.node, "is not supported on quantized tensors by cnnc (%s; dequantize "
                   "before it)" % ", ".join(sorted(QUANT_OPS - {"dequantize"})))
        if any(q) and o.kind in WITH_SCALE and o.tensors is None:
            c.fail(o.node, "takes a quantized input but is a float layer")
    for v in c.outputs:
        if _is_quant(v):
            raise _t.ExportError("an output of forward() is quantized (%s); cnnc outputs are "
                                 "float32: end with DeQuantStub or x.dequantize()"
                                 % c.describe(v.node))
