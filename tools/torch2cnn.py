#!/usr/bin/python3
"""torch2cnn: export a PyTorch module to a cnnc network (.cnn + .safetensors).

    from torch2cnn import export
    export(model, torch.randn(1, 3, 224, 224), "resnet18.cnn")

writes resnet18.cnn and, beside it, resnet18.safetensors (the weights, under
PyTorch's state_dict names). The command line does the same for a module
given as FILE.py:NAME or package.module:NAME, NAME being an nn.Module class or
a function returning a module:

    tools/torch2cnn.py model.py:Net --input 1,28,28 -o net.cnn
    tools/torch2cnn.py torchvision.models:resnet18 --input 3,224,224

The module is traced with torch.fx (symbolic tracing) in eval mode, shapes are
propagated with the example input, and every node is mapped to a cnnc op with
its exact attributes. Anything cnnc cannot express is an ExportError naming
the module path (or function) and, when fx knows it, the source line.
docs/exporter.md lists what maps to what.

Needs only Debian's python3-torch and python3-numpy.
"""

import argparse
import importlib
import importlib.util
import inspect
import math
import operator
import os
import re
import sys
import textwrap

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import TensorMetadata, _extract_tensor_metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnn_text  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

__all__ = ["export", "ExportError", "load_module", "layer_names"]


class ExportError(Exception):
    """The module cannot be exported; the message says why and where.
    `blockers` lists the Blocker of each node cnnc cannot express (every one
    of the model, not only the first), empty for errors that are not about a
    node (a second input, tracing failures, ...)."""

    def __init__(self, message, blockers=()):
        super().__init__(message)
        self.blockers = list(blockers)


class Blocker:
    """One node of the traced model that cnnc cannot express.

    kind: what it is, without its place: 'nn.GELU', 'function operator.mul (*)',
    'method Tensor.permute'; msg: why ('is not supported by cnnc', ...);
    place: the module path of a module call, else the path of the module whose
    forward() the node sits in ('' for the top level); owner: that module's
    class for function and method calls (None for module calls); where: the
    source line ('file:line in func: code', the innermost frame outside torch)
    or None; text: the whole one-blocker message."""

    def __init__(self, kind, msg, place, owner, where, supported, text):
        self.kind = kind
        self.msg = msg
        self.place = place
        self.owner = owner
        self.where = where
        self.supported = supported
        self.text = text

    @property
    def short(self):
        """A short name of the kind: 'GELU', 'mul', 'permute', 'layer_norm'."""
        k = self.kind.split(" (")[0]
        k = k.split(" ")[-1]
        return k.rsplit(".", 1)[-1]

    def __repr__(self):
        return "Blocker(%r, %r, %r)" % (self.kind, self.msg, self.place)


# ---------------------------------------------------------------------------
# What cnnc supports (for messages), and names the .cnn must avoid

SUPPORTED_MODULES = (
    "Conv2d, ConvTranspose2d (without output_size=), "
    "BatchNorm1d, BatchNorm2d, ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, Hardswish, SiLU, "
    "Hardsigmoid, Hardtanh(0, 6), GELU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Linear, "
    "Dropout "
    "(and Dropout1d/2d/3d, AlphaDropout), Softmax(dim=1), Upsample (nearest, bilinear with "
    "align_corners=False), ZeroPad2d, ConstantPad2d, ReflectionPad2d, ReplicationPad2d, "
    "ChannelShuffle, LayerNorm (over [N, F], "
    "or over the channels between permute(0, 2, 3, 1) and permute(0, 3, 1, 2), with Linear and "
    "activations there too), Identity; torchvision's FrozenBatchNorm2d, StochasticDepth (eval), "
    "LayerNorm2d, and shufflenetv2.InvertedResidual"
)
SUPPORTED_FUNCTIONS = (
    "F.relu/relu6/leaky_relu/sigmoid/tanh/hardswish/silu/hardtanh(0, 6), torch.relu/sigmoid/"
    "tanh, their in-place forms, torch.clamp(min=0[, max=6]), F.max_pool2d, F.avg_pool2d, "
    "F.adaptive_avg_pool2d, torch.mean over (2, 3), torch.flatten(x, 1), view/reshape/"
    "squeeze that flatten to [N, F], F.dropout (eval), F.softmax/torch.softmax(dim=1), "
    "a+b, torch.add, +=, torch.cat(dim=1), F.interpolate (nearest, bilinear), "
    "contiguous/clone/detach, torchvision.ops.stochastic_depth (eval), F.gelu, F.layer_norm "
    "(as LayerNorm), F.pad (constant, reflect, replicate), F.channel_shuffle, x.chunk/torch.chunk/split along dim 1 "
    "(each result indexed), x * a parameter of shape [C, 1, 1] (a layer scale), "
    "a*b, a-b of tensors (equal shapes, or [N, C, 1, 1] with [N, C, H, W]), torch.add/mul/sub, *=, "
    "-=, F.hardsigmoid"
)
SUPPORTED = "\n".join(textwrap.fill(text, 100, subsequent_indent="    ") for text in (
    "supported modules: " + SUPPORTED_MODULES, "supported functions: " + SUPPORTED_FUNCTIONS))

KEYWORDS = {"network", "input", "weights", "init", "param", "output", "block", "true", "false",
            "in"}
OPS = {"conv2d", "conv_transpose2d", "batchnorm", "relu", "relu6", "leaky_relu", "sigmoid",
       "tanh", "maxpool", "avgpool", "global_avgpool", "flatten", "linear", "dropout", "softmax", "add", "concat",
       "upsample", "adaptive_avgpool", "hardswish", "silu", "hardsigmoid", "mul", "sub", "mean",
       "gelu", "layernorm", "scale", "pad", "channel_shuffle", "chunk", "narrow"}
RESERVED = KEYWORDS | OPS

IDENT = cnn_text.IDENT
SEGMENT = re.compile(r"^[A-Za-z0-9_]+$")

# The tensors of a layer cnnc reads, in state_dict order.
PARAM_NAMES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

# cnnc's limits on the outputs of a network (IR_MAX_INPUTS) and on the inputs
# of one layer (IR_MAX_NODE_INPUTS): longer concatenations are nested.
MAX_OUTPUTS = 16
MAX_CONCAT = 125

# The ops that take several tensors, as arguments.
MULTI_INPUT = cnn_text.MULTI_INPUT

REQUIRED = object()  # marks a function parameter without a default in bind()


# ---------------------------------------------------------------------------
# The values of the graph being built


class Value:
    """A tensor of the exported network: the input or the result of an op."""

    def __init__(self, shape, node):
        self.shape = tuple(shape)  # full shape, batch first
        self.node = node  # the fx node that produced it
        self.name = None  # tensor name in the .cnn, if it needs one


class Input(Value):
    """The network input."""


class Op(Value):
    """One cnnc layer: op name, attributes, label, input values."""

    def __init__(self, kind, inputs, attrs, shape, node, label=None, module=None):
        super().__init__(shape, node)
        self.kind = kind
        self.inputs = list(inputs)
        self.attrs = attrs  # list of (attribute name or None for positional, text)
        self.label = label
        self.module = module  # the nn.Module whose tensors the layer loads
        self.users = []  # (op, argument index) pairs; filled in later
        self.group = None  # (path, class name) of the block it belongs to, for comments
        # (key, tensor) pairs written instead of the module's state_dict
        # tensors (a Linear on channels as a 1x1 conv2d, a layer scale)
        self.tensors = None


class Pending:
    """An intermediate reshape (e.g. the rank-3 tensor of x.squeeze(-1)) that
    is not a cnnc tensor; fine only if another reshape turns it into one."""

    def __init__(self, source, node):
        self.source = source
        self.node = node


class Permuted:
    """x.permute(0, 2, 3, 1) of the cnnc tensor `source` (channels last): fine
    for LayerNorm and Linear over the channels and elementwise activations,
    whose results are Permuted too, until permute(0, 3, 1, 2) gives back a
    cnnc tensor (convnext's CNBlock)."""

    def __init__(self, source, node):
        self.source = source
        self.node = node


class Parts:
    """The results of x.chunk(n, dim=1) or x.split(sizes, dim=1): each
    result, x[i], is one cnnc layer (chunk or narrow)."""

    def __init__(self, source, node, ranges, chunks=None):
        self.source = source
        self.node = node
        self.ranges = ranges  # (start, length) of each result
        self.chunks = chunks  # x.chunk's n, else None (split: narrow)


class NotTensor:
    """A non-tensor result (x.size(0), x.shape[-2:], ...): its value is known
    from the example run and only consumed as an argument."""


NOT_TENSOR = NotTensor()


class Blocked(Value):
    """The tensor of a node that cnnc cannot express (a Blocker was recorded):
    it stands in with the shape of the example run, so that the nodes after
    it are converted too and their own blockers reported, not consequences
    of this one."""


class BlockedResults:
    """The same for a blocked node with several results (x.chunk(2)):
    indexing it gives Blocked tensors."""


BLOCKED_RESULTS = BlockedResults()


# ---------------------------------------------------------------------------
# Tracing and shape propagation


class _Tracer(fx.Tracer):
    """fx tracer that records source lines and, for every node, the stack of
    module calls it sits in (torch 1.13's fx does not). Subclasses of the
    supported torch.nn modules that do not override forward stay leaves."""

    LEAF_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Linear,
                  nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Upsample, nn.Softmax)

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True
        self.scope = []

    def is_leaf_module(self, m, qualname):
        for base in self.LEAF_TYPES + _torchvision_leaves():
            if isinstance(m, base) and type(m).forward is base.forward:
                return True
        return super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        self.scope.append((self.path_of_module(m), type(m).__name__, type(m)))
        try:
            forward = _traceable_forward(m) or forward
            return super().call_module(m, forward, args, kwargs)
        except Exception as e:
            # Where tracing failed, for the message: the innermost module.
            if getattr(e, "torch2cnn_scope", None) is None:
                try:
                    e.torch2cnn_scope = tuple(self.scope)
                except AttributeError:
                    pass
            raise
        finally:
            self.scope.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["torch2cnn_scope"] = tuple(self.scope)
        return node


def _shufflenet_unit(m, x):
    """torchvision's shufflenetv2.InvertedResidual.forward, the same values
    in a form fx can trace: its `x1, x2 = x.chunk(2, dim=1)` iterates over a
    Proxy, and its channel_shuffle() unpacks x.size(). The view, transpose,
    view of channel_shuffle(x, 2) is F.channel_shuffle(x, 2)."""
    if m.stride == 1:
        parts = x.chunk(2, dim=1)
        out = torch.cat((parts[0], m.branch2(parts[1])), dim=1)
    else:
        out = torch.cat((m.branch1(x), m.branch2(x)), dim=1)
    return F.channel_shuffle(out, 2)


def _traceable_forward(m):
    """A replacement forward() for modules fx cannot trace as written, or None."""
    cls = _torchvision_attr("torchvision.models.shufflenetv2", "InvertedResidual")
    if cls is not None and isinstance(m, cls) and type(m).forward is cls.forward:
        return lambda *args, **kwargs: _shufflenet_unit(m, *args, **kwargs)
    return None


class _ShapeProp(fx.Interpreter):
    """Runs the traced graph on the example input and records, per node, the
    shape of its tensor result (meta "tensor_meta", as fx's ShapeProp) or the
    value of a non-tensor result (meta "torch2cnn_value": sizes, ints)."""

    def run_node(self, n):
        try:
            result = super().run_node(n)
        except Exception as e:
            where = _where(n)
            raise ExportError("running the traced module on the example input failed at %s: "
                              "%s: %s%s" % (n.format_node(), type(e).__name__, e,
                                            "\n  at " + where if where else ""))
        found = []

        def extract(obj):
            if isinstance(obj, torch.Tensor):
                found.append(obj)
                return _extract_tensor_metadata(obj)
            return obj

        meta = fx.node.map_aggregate(result, extract)
        if found:
            n.meta["tensor_meta"] = meta
        else:
            n.meta["torch2cnn_value"] = result
        return result


def _trace(module, example):
    """Trace `module` with fx and run it on `example`, recording shapes."""
    # forward()'s parameters after the first must have defaults: fx traces
    # with those values (concrete_args), so they are no inputs.
    concrete = {}
    params = list(inspect.signature(module.forward).parameters.values())
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise ExportError("%s.forward() takes a second input '%s'; cnnc networks have "
                              "exactly one input" % (type(module).__name__, p.name))
        concrete[p.name] = p.default
    try:
        with torch.no_grad():
            module(example)
    except Exception as e:
        raise ExportError("%s fails on the example input %s: %s: %s"
                          % (type(module).__name__, list(example.shape), type(e).__name__, e))
    tracer = _Tracer()
    try:
        graph = tracer.trace(module, concrete_args=concrete or None)
    except Exception as e:
        # fx's messages run on with advice about fx: the first sentence says it.
        what = "%s: %s" % (type(e).__name__,
                           re.split(r"(?<=[.:])\s+(?=[A-Z])", str(e).strip(), 1)[0].rstrip(".:"))
        import traceback
        if any(fr.name == "__iter__" and fr.filename.endswith(os.path.join("fx", "proxy.py"))
               for fr in traceback.extract_tb(e.__traceback__)):
            # fx's Proxy.__iter__ itself fails on some Python versions (reading
            # the caller's bytecode) instead of raising its TraceError.
            what = "TraceError: Proxy object cannot be iterated"
        text = "torch.fx could not trace %s: %s" % (type(module).__name__, what)
        scope = getattr(e, "torch2cnn_scope", None)
        if scope:
            text += "\n  in %s (%s)" % (scope[-1][0], _cls_desc(scope[-1][2]))
        where = _where_tb(e.__traceback__)
        if where:
            text += "\n  at %s" % where
        text += ("\n(fx's symbolic tracing cannot branch on tensor values, iterate over or "
                 "unpack a tensor (a, b = x.chunk(2)), nor pass sizes computed from tensors to "
                 "C functions such as F.avg_pool2d)")
        raise ExportError(text) from None
    gm = fx.GraphModule(module, graph)
    with torch.no_grad():
        _ShapeProp(gm).run(example)
    return gm


# ---------------------------------------------------------------------------
# Small helpers


def _pair(v, what):
    """An int or a 1- or 2-sequence of ints as an (h, w) tuple."""
    if isinstance(v, (list, tuple, torch.Size)):
        v = tuple(v)
        if len(v) == 1:
            v = (v[0], v[0])
        if len(v) != 2:
            raise ExportError("%s: expected one or two values, got %r" % (what, v))
    else:
        v = (v, v)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise ExportError("%s: expected integers, got %r" % (what, v))
    return v


def fmt_value(v):
    """A Python value as .cnn text: ints, floats, booleans, strings, pairs."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ExportError("the value %r has no .cnn form" % v)
        if v == int(v) and abs(v) < 1e15:
            return "%d.0" % int(v)
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(v, tuple):
        if len(v) == 2 and v[0] == v[1]:
            return fmt_value(v[0])
        return "(%s)" % ", ".join(fmt_value(x) for x in v)
    raise TypeError("no .cnn form for %r" % (v,))


def fmt_label(path):
    """A module path as a layer label: bare if it is a dotted path of
    identifier-like segments, quoted otherwise."""
    segs = path.split(".")
    if (all(SEGMENT.match(s) for s in segs) and IDENT.match(segs[0]) and segs[0] not in KEYWORDS):
        return path
    return fmt_value(path)


OPERATOR_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//",
                    "matmul": "@", "pow": "**", "neg": "unary -", "getitem": "[]",
                    "iadd": "+=", "isub": "-=", "imul": "*=", "itruediv": "/="}


def _func_name(f):
    """A readable name for an fx call_function target."""
    for prefix, mod in (("F.", F), ("torch.", torch), ("operator.", operator)):
        name = getattr(f, "__name__", None)
        if name and getattr(mod, name, None) is f:
            if mod is operator and name in OPERATOR_SYMBOLS:
                return "operator.%s (%s)" % (name, OPERATOR_SYMBOLS[name])
            return prefix + name
    mod = getattr(f, "__module__", None) or ""
    return (mod + "." if mod else "") + getattr(f, "__name__", repr(f))


def _in_torch(path):
    """Is `path` a file of torch itself (or of this exporter)? Compared by path
    components: .../dist-packages/torchvision/ is not inside .../dist-packages/torch."""
    p = os.path.abspath(path)
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    return (p == torch_dir or p.startswith(torch_dir + os.sep)
            or p == os.path.abspath(__file__))


def _short_path(path):
    """A source path for messages: from the package on for installed packages
    (torchvision/models/resnet.py), relative to the working directory if it is
    below it, else as it is."""
    p = os.path.abspath(path)
    parts = p.split(os.sep)
    for k in range(len(parts) - 1, -1, -1):
        if parts[k] in ("site-packages", "dist-packages") and k + 1 < len(parts):
            return os.path.join(*parts[k + 1:])
    rel = os.path.relpath(p)
    return path if rel.startswith("..") else rel


def _fmt_frame(path, line, func, code):
    return "%s:%s in %s: %s" % (_short_path(path), line, func, (code or "").strip())


def _where(node):
    """'file:line in func: code' of the innermost frame outside torch of the
    code that made `node`, if fx recorded it (torchvision counts as user code)."""
    trace = node.stack_trace if node is not None else None
    if not trace:
        return None
    for m in re.finditer(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)', trace):
        path, line, func, code = m.groups()
        if not _in_torch(path):
            return _fmt_frame(path, line, func, code)
    return None


def _where_tb(tb):
    """The same for an exception's traceback: its innermost frame outside torch."""
    import traceback
    for fr in reversed(traceback.extract_tb(tb)):
        if not _in_torch(fr.filename) and not fr.filename.startswith("<"):
            return _fmt_frame(fr.filename, fr.lineno, fr.name, fr.line)
    return None


def _cls_desc(cls):
    """nn.Conv2d, torchvision.ops.misc.SqueezeExcitation, models.Net."""
    if cls.__module__.startswith("torch.nn"):
        return "nn." + cls.__name__
    return cls.__module__ + "." + cls.__name__


def _mod_desc(path, m):
    return "%s (%s)" % (path, _cls_desc(type(m)))


def _sep(msg):
    """' ' before a message that continues the subject ('is not supported'), else ': '."""
    return " " if msg.split(" ")[0] in ("is", "expects", "returns", "uses", "adds",
                                        "its") else ": "


def _names(items, n=3):
    """'a, b, c and 4 more'."""
    if len(items) <= n + 1:
        return ", ".join(items)
    return "%s and %d more" % (", ".join(items[:n]), len(items) - n)


def _format_blockers(model, blockers):
    """Every blocker of a model, one entry per kind (and message), each with
    its places grouped by source line (at most three lines, three places
    each shown)."""
    groups = {}
    for b in blockers:  # messages that differ only in numbers (shapes) are one kind
        groups.setdefault((b.kind, re.sub(r"[0-9]+", "#", b.msg)), []).append(b)
    lines = ["%s cannot be exported: %d blocker%s of %d kind%s" % (
        model, len(blockers), "" if len(blockers) == 1 else "s",
        len(groups), "" if len(groups) == 1 else "s")]
    for k, ((kind, _), bs) in enumerate(groups.items(), 1):
        msg = bs[0].msg
        variants = len(set(b.msg for b in bs))
        lines.append("%d. %s%s%s (%s%d place%s)" % (
            k, kind, _sep(msg), msg,
            "the first of %d variants; " % variants if variants > 1 else "",
            len(bs), "" if len(bs) == 1 else "s"))
        by_where = {}
        for b in bs:
            by_where.setdefault(b.where, []).append(b)
        wheres = list(by_where.items())
        for where, wbs in wheres[:3]:
            places = [b.place or "the top level" for b in wbs]
            owners = sorted(set(b.owner for b in wbs if b.owner))
            lines.append("   %s%s%s" % ("in " if wbs[0].owner or not wbs[0].place else "",
                                        _names(places),
                                        " (%s)" % ", ".join(owners) if owners else ""))
            if where:
                lines.append("     at %s" % where)
        rest = sum(len(w) for _, w in wheres[3:])
        if rest:
            lines.append("   and %d more place%s on %d other source line%s" % (
                rest, "" if rest == 1 else "s", len(wheres) - 3,
                "" if len(wheres) == 4 else "s"))
    if any(b.supported for b in blockers):
        lines.append(SUPPORTED)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The converter: fx graph -> list of Ops


class _Converter:
    """Walks the traced graph in order and maps each node to a cnnc op."""

    def __init__(self, gm, name="the module"):
        self.gm = gm
        self.name = name  # for messages
        self.modules = dict(gm.named_modules())
        self.values = {}  # fx node -> Value / Pending / NOT_TENSOR
        self.ops = []
        self.input = None
        self.outputs = []
        self.calls = {}  # module path -> number of calls, for modules with tensors

    # -- errors ------------------------------------------------------------

    def owner(self, node):
        """(path, class description) of the module whose forward() made a
        function or method node, or None at the top level."""
        scope = _scope_of(node)
        if not scope:
            return None
        path, _, cls = scope[-1]
        return path, _cls_desc(cls)

    def kind(self, node):
        if node.op == "call_module":
            return _cls_desc(type(self.modules[node.target]))
        if node.op == "call_function":
            return "function %s" % _func_name(node.target)
        if node.op == "call_method":
            return "method Tensor.%s" % node.target
        return "%s %s" % (node.op, node.target)

    def describe(self, node):
        if node.op == "call_module":
            return _mod_desc(node.target, self.modules[node.target])
        owner = self.owner(node) if node.op in ("call_function", "call_method") else None
        text = self.kind(node)
        if owner:
            text += " in %s (%s)" % owner
        return text

    def fail(self, node, msg, supported=False):
        """Raise an ExportError about `node`: 'features.3 (nn.GELU) is not
        supported ...', with the source line and, if asked, what is. Its
        Blocker lets run() go on and report every blocker of the model."""
        text = self.describe(node) + _sep(msg) + msg
        where = _where(node)
        if where:
            text += "\n  at %s" % where
        if node.op == "call_module":
            place, owner = node.target, None
        else:
            o = self.owner(node)
            place, owner = (o[0], o[1]) if o else ("", None)
        b = Blocker(self.kind(node), msg, place, owner, where, supported, text)
        raise ExportError(text + ("\n" + SUPPORTED if supported else ""), [b])

    # -- arguments -----------------------------------------------------------

    def shape(self, node):
        return tuple(node.meta["tensor_meta"].shape)

    def tensor(self, node, arg, what="input"):
        """The Value an argument of `node` refers to (it must be a tensor)."""
        if not isinstance(arg, fx.Node):
            self.fail(node, "%s must be a tensor, got %r" % (what, arg))
        v = self.values.get(arg)
        if isinstance(v, Value):
            return v
        if v is BLOCKED_RESULTS:  # already reported
            return Blocked((), arg)
        if isinstance(v, Permuted):
            self.fail(node, "its %s is channels-last (from %s); cnnc follows permute(0, 2, 3, 1) "
                      "only through LayerNorm, Linear and activations over the channels, back to "
                      "permute(0, 3, 1, 2)" % (what, v.node.name))
        if isinstance(v, Parts):
            self.fail(node, "its %s is the several results of %s; index them (x[0], x[1])"
                      % (what, v.node.name))
        if isinstance(v, Pending):
            self.fail(node, "its %s has shape %s (from %s), but cnnc tensors are [N, C, H, W] "
                      "or [N, F]; only reshapes that flatten to [N, F] are supported"
                      % (what, list(self.shape(arg)), self.describe(arg)))
        if arg.op == "get_attr":
            self.fail(node, "uses the parameter or buffer '%s' directly as a tensor; cnnc "
                      "only has the layers listed below" % arg.target, supported=True)
        self.fail(node, "%s is not a tensor" % what)

    def concrete(self, node, v):
        """An argument with fx nodes replaced by the values of the example run."""
        def sub(a):
            if a.op == "get_attr" or isinstance(a.meta.get("tensor_meta"), TensorMetadata):
                self.fail(node, "expected a constant argument, got the tensor %s" % a.name)
            return a.meta.get("torch2cnn_value")
        return fx.node.map_arg(v, sub)

    def bind(self, node, spec, tensors=1):
        """Match node.args/kwargs to `spec`, a list of (name, default) pairs
        (REQUIRED: no default), like a Python call. Returns a dict. The first
        `tensors` arguments stay fx nodes; the others become the constants
        they were in the example run."""
        names = [n for n, _ in spec]
        args = list(node.args)
        if len(args) > len(spec):
            self.fail(node, "too many arguments")
        out = {}
        for (name, _), a in zip(spec, args):
            out[name] = a
        for k, v in node.kwargs.items():
            if k not in names:
                self.fail(node, "unexpected argument '%s'" % k)
            out[k] = v
        for name, default in spec:
            if name not in out:
                if default is REQUIRED:
                    self.fail(node, "missing argument '%s'" % name)
                out[name] = default
        for k in names[tensors:]:
            out[k] = self.concrete(node, out[k])
        return out

    # -- building ops --------------------------------------------------------

    def op(self, node, kind, inputs, attrs=(), label=None, module=None):
        """Append a new Op producing `node`'s tensor. attrs: (name, value)
        pairs, name None for positional; values are Python values."""
        if not isinstance(node.meta.get("tensor_meta"), TensorMetadata):
            self.fail(node, "returns several tensors; cnnc layers have one result")
        shape = self.shape(node)
        if len(shape) not in (2, 4):
            self.fail(node, "its result has shape %s; cnnc tensors are [N, C, H, W] or [N, F]"
                      % list(shape))
        text = [(k, fmt_value(v)) for k, v in attrs]
        o = Op(kind, inputs, text, shape, node, label=label, module=module)
        if label is not None:
            self.calls[label] = self.calls.get(label, 0) + 1
            if self.calls[label] > 1:
                self.fail(node, "is called more than once; cnnc needs one layer per set of "
                          "weights (shared weights are not supported)")
        self.ops.append(o)
        return o

    def elementwise(self, node, kind, arg, attrs=()):
        """An elementwise op on `arg`; on a channels-last (Permuted) tensor it
        is the op on its cnnc tensor, still channels-last."""
        v = self.values.get(arg) if isinstance(arg, fx.Node) else None
        if isinstance(v, Permuted):
            o = self.op(node, kind, [v.source], attrs)
            o.shape = v.source.shape
            return Permuted(o, node)
        return self.op(node, kind, [self.tensor(node, arg)], attrs)

    def need_rank(self, node, v, ranks, what):
        if len(v.shape) not in ranks:
            self.fail(node, "expects %s but its input has shape %s" % (what, list(v.shape)))

    # -- the walk ------------------------------------------------------------

    def run(self):
        """Convert every node. A node cnnc cannot express is recorded (its
        Blocker) and stands in as a Blocked tensor of its example shape, so
        that one run finds all of them; the ExportError at the end lists
        every blocker (grouped by kind, see _format_blockers)."""
        blockers = []
        for node in self.gm.graph.nodes:
            try:
                if node.op == "placeholder":
                    self.placeholder(node)
                elif node.op == "get_attr":
                    self.values[node] = None  # an error if a layer uses it as a tensor
                elif node.op == "output":
                    self.output(node)
                elif "tensor_meta" not in node.meta:
                    self.values[node] = NOT_TENSOR  # sizes and other Python values
                elif self.follows_blocked(node):
                    pass
                else:
                    self.call(node)
            except ExportError as e:
                if not e.blockers or node.op not in ("call_module", "call_function",
                                                     "call_method"):
                    if blockers:  # not about a node: report it after the others
                        raise ExportError("%s\nand then: %s" % (
                            _format_blockers(self.name, blockers), e), blockers)
                    raise
                blockers += e.blockers
                meta = node.meta.get("tensor_meta")
                if isinstance(meta, TensorMetadata):
                    self.values[node] = Blocked(meta.shape, node)
                else:
                    self.values[node] = BLOCKED_RESULTS
        if len(blockers) == 1:
            b = blockers[0]
            raise ExportError(b.text + ("\n" + SUPPORTED if b.supported else ""), blockers)
        if blockers:
            raise ExportError(_format_blockers(self.name, blockers), blockers)

    def follows_blocked(self, node):
        """Nodes that only take apart or reshape a blocked result are blocked
        too, not blockers of their own: x[i] of a blocked x.chunk(2), and views
        of a blocked tensor (which might otherwise not be cnnc tensors)."""
        if not node.args or not isinstance(node.args[0], fx.Node):
            return False
        v = self.values.get(node.args[0])
        reshape = node.target in (torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze,
                                  "view", "reshape", "flatten", "squeeze", "unsqueeze",
                                  "contiguous", "clone", "detach")
        if not ((node.target is operator.getitem and v is BLOCKED_RESULTS)
                or (reshape and isinstance(v, Blocked))):
            return False
        meta = node.meta.get("tensor_meta")
        if isinstance(meta, TensorMetadata):
            self.values[node] = Blocked(meta.shape, node)
        else:
            self.values[node] = BLOCKED_RESULTS
        return True

    def placeholder(self, node):
        if node.args:  # a parameter fixed to its default value (concrete_args)
            self.values[node] = NOT_TENSOR
            return
        if self.input is not None:
            raise ExportError("forward() takes a second input '%s'; cnnc networks have exactly "
                              "one input" % node.target)
        if not isinstance(node.meta.get("tensor_meta"), TensorMetadata):
            self.fail(node, "the input must be a tensor")
        shape = self.shape(node)
        if len(shape) not in (2, 4):
            raise ExportError("the example input has shape %s; cnnc inputs are [N, C, H, W] or "
                              "[N, F]" % list(shape))
        v = Input(shape, node)
        name = str(node.target)  # forward()'s argument name ("input" would be a keyword)
        if not IDENT.match(name) or name in RESERVED:
            name = "x"
        v.name = name
        self.input = v
        self.values[node] = v

    def output(self, node):
        out = node.args[0]
        keys = None
        if isinstance(out, fx.Node):
            outs = [out]
        elif isinstance(out, (tuple, list)):
            outs = list(out)
        elif isinstance(out, dict):  # in its order; the keys name the outputs
            keys = [str(k) for k in out]
            outs = list(out.values())
        else:
            raise ExportError("forward() returns %s; cnnc needs a tensor, or a tuple, list or "
                              "dict of tensors" % type(out).__name__)
        for k, o in enumerate(outs):
            if not isinstance(o, fx.Node):
                raise ExportError("forward() returns %r among its outputs; cnnc outputs are "
                                  "tensors (nested tuples or dicts and constants are not "
                                  "supported)" % (o,))
            v = self.tensor(node, o, "output")
            if keys is not None and isinstance(v, Op):
                name = re.sub(r"\W", "_", keys[k])
                v.preferred = name if IDENT.match(name) else "out_" + name
            if v is self.input:
                raise ExportError("an output of forward() is the input itself")
            if v in self.outputs:
                raise ExportError("forward() returns the tensor of %s twice; cnnc outputs are "
                                  "distinct tensors" % self.describe(o))
            self.outputs.append(v)
        if len(self.outputs) > MAX_OUTPUTS:
            raise ExportError("forward() returns %d tensors; cnnc networks have at most %d "
                              "outputs" % (len(self.outputs), MAX_OUTPUTS))

    def call(self, node):
        if node.op == "call_module":
            m = self.modules[node.target]
            handler = None
            for cls, h in _torchvision_module_handlers() + MODULE_HANDLERS:
                if isinstance(m, cls):
                    handler = h
                    break
            if handler is None:
                self.unsupported(node)
            v = handler(self, node, m)
            inplace = bool(getattr(m, "inplace", False))
        elif node.op == "call_function":
            handler = FUNCTION_HANDLERS.get(node.target) or _torchvision_function_handlers().get(
                node.target)
            if handler is None:
                self.unsupported(node)
            v = handler(self, node)
            k = INPLACE_ARG.get(node.target)
            inplace = (node.target in INPLACE_FUNCTIONS or node.kwargs.get("inplace") is True
                       or (k is not None and len(node.args) > k and node.args[k] is True))
        else:  # call_method
            handler = METHOD_HANDLERS.get(node.target)
            if handler is None:
                self.unsupported(node)
            v = handler(self, node)
            inplace = node.target.endswith("_") and not node.target.startswith("__")
            inplace = inplace or node.target in ("__iadd__", "__imul__", "__isub__")
        self.values[node] = v
        if inplace and node.args and isinstance(node.args[0], fx.Node):
            # Later uses of the mutated tensor (and of its aliases) see the result.
            old = self.values.get(node.args[0])
            if isinstance(old, Value):
                for k in list(self.values):
                    if self.values[k] is old:
                        self.values[k] = v

    def unsupported(self, node):
        if node.op == "call_function" and node.target in (F.conv2d, F.linear, F.batch_norm):
            self.fail(node, "is not supported: layers with weights must be modules "
                      "(nn.Conv2d, nn.Linear, nn.BatchNorm2d) so their weights have "
                      "state_dict names", supported=True)
        self.fail(node, "is not supported by cnnc", supported=True)


# ---------------------------------------------------------------------------
# Handlers: one per kind of module or function. Each returns the Value (or
# Pending/alias) of the node.


def _conv2d(c, node, m):
    """nn.Conv2d -> conv2d, every attribute that differs from cnnc's default."""
    if m.padding_mode != "zeros":
        c.fail(node, "padding_mode='%s' is not supported (only 'zeros')" % m.padding_mode)
    kernel = _pair(m.kernel_size, "kernel_size")
    dilation = _pair(m.dilation, "dilation")
    stride = _pair(m.stride, "stride")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pad = (0, 0)
        else:  # 'same' (stride 1): total padding d*(k-1), the odd one at the end
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            begin = tuple(t // 2 for t in totals)
            end = tuple(t - b for t, b in zip(totals, begin))
            pad = begin if begin == end else begin + end  # (top, left, bottom, right)
    else:
        pad = _pair(m.padding, "padding")
    return _conv_op(c, node, m, "conv2d", kernel, stride, pad, (0, 0), dilation)


def _conv_op(c, node, m, kind, kernel, stride, pad, output_padding, dilation):
    """The conv2d or conv_transpose2d of module m's input: the arguments that
    differ from cnnc's defaults (output_padding is conv_transpose2d's)."""
    x = c.tensor(node, node.args[0])
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    attrs = [(None, m.out_channels), ("kernel", kernel)]
    if stride != (1, 1):
        attrs.append(("stride", stride))
    if any(pad):
        attrs.append(("pad", pad))
    if output_padding != (0, 0):
        attrs.append(("output_padding", output_padding))
    if dilation != (1, 1):
        attrs.append(("dilation", dilation))
    if m.groups != 1:
        attrs.append(("groups", m.groups))
    if m.bias is None:
        attrs.append(("bias", False))
    return c.op(node, kind, [x], attrs, label=node.target, module=m)


def _conv_transpose2d(c, node, m):
    """nn.ConvTranspose2d -> conv_transpose2d, every attribute that differs from
    cnnc's default. output_size= at call time picks output_padding per call,
    which a fixed-shape layer cannot."""
    if m.padding_mode != "zeros":
        c.fail(node, "padding_mode='%s' is not supported (only 'zeros')" % m.padding_mode)
    extra = list(node.args[1:]) + [v for k, v in node.kwargs.items()]
    if any(v is not None for v in extra):
        c.fail(node, "output_size= at call time is not supported: cnnc's conv_transpose2d has "
               "a fixed output size; give the module output_padding= instead")
    kernel = _pair(m.kernel_size, "kernel_size")
    stride = _pair(m.stride, "stride")
    pad = _pair(m.padding, "padding")
    output_padding = _pair(m.output_padding, "output_padding")
    dilation = _pair(m.dilation, "dilation")
    return _conv_op(c, node, m, "conv_transpose2d", kernel, stride, pad, output_padding,
                    dilation)


def _batchnorm(c, node, m):
    """nn.BatchNorm2d / nn.BatchNorm1d (running statistics) -> batchnorm."""
    if not m.track_running_stats or m.running_mean is None:
        c.fail(node, "track_running_stats=False normalises with batch statistics even in eval "
               "mode; cnnc's batchnorm uses running_mean/running_var")
    x = c.tensor(node, node.args[0])
    if isinstance(m, nn.BatchNorm2d):
        c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    else:
        c.need_rank(node, x, (2,), "an [N, F] tensor (cnnc has no [N, C, L] tensors)")
    attrs = []
    if m.eps != 1e-5:
        attrs.append(("eps", float(m.eps)))
    if not m.affine:
        attrs.append(("affine", False))
    return c.op(node, "batchnorm", [x], attrs, label=node.target, module=m)


def _linear(c, node, m):
    """nn.Linear on [N, F] -> linear; over the channels of a channels-last
    tensor (Permuted) -> conv2d(kernel=1), its weight [out, in] written as
    [out, in, 1, 1]: the same products and sums."""
    v = c.values.get(node.args[0])
    if isinstance(v, Permuted):
        src = v.source
        if src.shape[1] != m.in_features:
            c.fail(node, "expects %d features but the channels-last tensor has %d channels"
                   % (m.in_features, src.shape[1]))
        attrs = [(None, m.out_features), ("kernel", 1)]
        if m.bias is None:
            attrs.append(("bias", False))
        o = c.op(node, "conv2d", [src], attrs, label=node.target, module=m)
        o.shape = (src.shape[0], m.out_features) + tuple(src.shape[2:])
        w = m.weight.detach().cpu().float().reshape(m.out_features, m.in_features, 1, 1)
        o.tensors = [(node.target + ".weight", w.contiguous().numpy())]
        if m.bias is not None:
            o.tensors.append((node.target + ".bias",
                              m.bias.detach().cpu().float().contiguous().numpy()))
        return Permuted(o, node)
    x = c.tensor(node, node.args[0])
    c.need_rank(node, x, (2,), "an [N, F] tensor (add nn.Flatten or torch.flatten(x, 1) "
                "before it; a linear over the last axis of [N, C, H, W] is not supported)")
    attrs = [(None, m.out_features)]
    if m.bias is None:
        attrs.append(("bias", False))
    return c.op(node, "linear", [x], attrs, label=node.target, module=m)


def _simple(kind):
    """Handler for a one-input op without attributes (relu, sigmoid, ...)."""
    def handler(c, node, m=None):
        return c.elementwise(node, kind, node.args[0])
    return handler


def _leaky(c, node, x, slope):
    """leaky_relu, with its slope unless it is PyTorch's default 0.01."""
    attrs = [] if slope == 0.01 else [("slope", float(slope))]
    return c.op(node, "leaky_relu", [x], attrs)


def _hardtanh(c, node, x, lo, hi):
    """hardtanh(0, 6) is relu6; other bounds are not supported."""
    if (lo, hi) == (0, 6):
        return c.op(node, "relu6", [x])
    c.fail(node, "hardtanh(%g, %g) is not supported (only min 0, max 6: relu6)" % (lo, hi))


def _maxpool(c, node, x, kernel, stride, pad, dilation, ceil_mode, return_indices):
    """MaxPool2d / F.max_pool2d arguments -> maxpool (stride None or [] is the kernel)."""
    if return_indices:
        c.fail(node, "return_indices=True is not supported (cnnc pools return values only)")
    kernel = _pair(kernel, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _pair(stride, "stride")
    pad = _pair(pad, "padding")
    dilation = _pair(dilation, "dilation")
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    attrs = [(None, kernel)]
    if stride != kernel:
        attrs.append(("stride", stride))
    if pad != (0, 0):
        attrs.append(("pad", pad))
    if dilation != (1, 1):
        attrs.append(("dilation", dilation))
    if ceil_mode:
        attrs.append(("ceil_mode", True))
    return c.op(node, "maxpool", [x], attrs)


def _avgpool(c, node, x, kernel, stride, pad, ceil_mode, count_include_pad, divisor_override):
    """AvgPool2d / F.avg_pool2d arguments -> avgpool."""
    if divisor_override is not None:
        c.fail(node, "divisor_override=%r is not supported (cnnc divides by the window size)"
               % (divisor_override,))
    kernel = _pair(kernel, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _pair(stride, "stride")
    pad = _pair(pad, "padding")
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    attrs = [(None, kernel)]
    if stride != kernel:
        attrs.append(("stride", stride))
    if pad != (0, 0):
        attrs.append(("pad", pad))
    if ceil_mode:
        attrs.append(("ceil_mode", True))
    if not count_include_pad:
        attrs.append(("count_include_pad", False))
    return c.op(node, "avgpool", [x], attrs)


def _adaptive(c, node, x):
    """Adaptive average pooling to the node's output size: global_avgpool
    for 1x1, else adaptive_avgpool (None entries are already resolved)."""
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    h, w = c.shape(node)[2:]
    if (h, w) == (1, 1):
        return c.op(node, "global_avgpool", [x])
    return c.op(node, "adaptive_avgpool", [x], [(None, (h, w))])


def _dropout(c, node, x, p):
    """Dropout (the identity in eval mode) -> dropout(p=...)."""
    attrs = []
    if 0.0 <= p < 1.0 and p != 0.5:  # cnnc rejects p=1 (identity at inference anyway)
        attrs.append(("p", float(p)))
    return c.op(node, "dropout", [x], attrs)


def _softmax(c, node, x, dim):
    """softmax over dim 1 (features or channels) only."""
    rank = len(x.shape)
    if dim is None:  # PyTorch's legacy implicit dim: 1 for 2-d and 4-d tensors
        dim = 1
    if dim < 0:
        dim += rank
    if dim != 1:
        c.fail(node, "softmax over dim %d of a %d-d tensor is not supported (only dim=1: "
               "features or channels)" % (dim, rank))
    return c.op(node, "softmax", [x])


def _upsample(c, node, x, size, scale, mode, align_corners):
    """Upsample / F.interpolate -> upsample(scale=...) for integer scale
    factors, else upsample(size=...) from the node's output shape."""
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    if mode not in ("nearest", "bilinear"):
        c.fail(node, "mode='%s' is not supported (only 'nearest' and 'bilinear')" % mode)
    if mode == "bilinear" and align_corners:
        c.fail(node, "bilinear with align_corners=True is not supported (cnnc's bilinear is "
               "align_corners=False)")
    attrs = []
    if size is None and scale is not None:
        s = scale if isinstance(scale, (tuple, list)) else (scale, scale)
        if len(s) != 2 or any(float(v) != int(v) or v < 1 for v in s):
            c.fail(node, "scale_factor=%r is not supported (only positive integers; give "
                   "size= instead)" % (scale,))
        attrs.append(("scale", (int(s[0]), int(s[1]))))
    else:
        attrs.append(("size", tuple(c.shape(node)[2:])))
    if mode == "bilinear":
        attrs.append(("mode", "bilinear"))
    return c.op(node, "upsample", [x], attrs)


BINARY_VERBS = {"add": ("adding", "adds", "+"), "mul": ("multiplying by", "multiplies", "*"),
                "sub": ("subtracting", "subtracts", "-")}


def _binary(c, node, kind, a, b):
    """tensor (+, *, -) tensor -> add, mul, sub (in that order): equal shapes,
    or one [N, C, 1, 1] and the other [N, C, H, W], as cnnc broadcasts."""
    gerund, verb, sym = BINARY_VERBS[kind]
    if not isinstance(a, fx.Node) or not isinstance(b, fx.Node):
        c.fail(node, "%s a constant is not supported (only tensor %s tensor)" % (gerund, sym))
    va, vb = c.tensor(node, a), c.tensor(node, b)
    if va.shape != vb.shape and not _channel_broadcast(va.shape, vb.shape):
        c.fail(node, "%s tensors of shapes %s and %s; cnnc's %s needs equal shapes, or one "
               "[N, C, 1, 1] and the other [N, C, H, W]"
               % (verb, list(va.shape), list(vb.shape), kind))
    return c.op(node, kind, [va, vb])


def _channel_broadcast(sa, sb):
    """One shape [N, C, 1, 1] and the other [N, C, H, W]."""
    if len(sa) != 4 or len(sb) != 4 or sa[:2] != sb[:2]:
        return False
    return sa[2:] == (1, 1) or sb[2:] == (1, 1)


def _add(c, node, a, b):
    return _binary(c, node, "add", a, b)


def _cat(c, node, tensors, dim):
    """torch.cat along dim 1 -> concat (a single tensor is itself)."""
    if not isinstance(tensors, (list, tuple)) or not tensors:
        c.fail(node, "expects a list of tensors")
    vs = [c.tensor(node, t) for t in tensors]
    rank = len(vs[0].shape)
    if dim < 0:
        dim += rank
    if dim != 1:
        c.fail(node, "concatenation along dim %d is not supported (only dim=1: channels or "
               "features)" % dim)
    if len(vs) == 1:
        return vs[0]
    # More than one concat takes: concatenate the first ones, then that with
    # the rest (torch.cat is associative, exactly).
    while len(vs) > MAX_CONCAT:
        head = c.op(node, "concat", vs[:MAX_CONCAT])
        head.shape = vs[0].shape[:1] + (sum(v.shape[1] for v in vs[:MAX_CONCAT]),) + \
            vs[0].shape[2:]
        vs = [head] + vs[MAX_CONCAT:]
    return c.op(node, "concat", vs)


def _reshape(c, node, m=None):
    """view/reshape/flatten/squeeze/unsqueeze: decided by the shapes. The same
    shape is an alias, [N, C, H, W] -> [N, C*H*W] is flatten, anything else is
    pending (fine only if a later reshape makes a cnnc tensor of it)."""
    arg = node.args[0]
    v = c.values.get(arg)
    source = v.source if isinstance(v, Pending) else c.tensor(node, arg)
    out = c.shape(node)
    src = source.shape
    if out == src:
        return source
    if len(src) == 4 and out == (src[0], src[1] * src[2] * src[3]):
        return c.op(node, "flatten", [source])
    return Pending(source, node)


def _identity(c, node, m=None):
    """Identity, contiguous, clone, detach: the input itself."""
    return c.tensor(node, node.args[0])


# -- modules ----------------------------------------------------------------


def _m_leaky(c, node, m):
    return _leaky(c, node, c.tensor(node, node.args[0]), m.negative_slope)


def _m_hardtanh(c, node, m):
    return _hardtanh(c, node, c.tensor(node, node.args[0]), m.min_val, m.max_val)


def _m_maxpool(c, node, m):
    return _maxpool(c, node, c.tensor(node, node.args[0]), m.kernel_size, m.stride, m.padding,
                    m.dilation, m.ceil_mode, m.return_indices)


def _m_avgpool(c, node, m):
    return _avgpool(c, node, c.tensor(node, node.args[0]), m.kernel_size, m.stride, m.padding,
                    m.ceil_mode, m.count_include_pad, m.divisor_override)


def _m_adaptive(c, node, m):
    return _adaptive(c, node, c.tensor(node, node.args[0]))


def _m_dropout(c, node, m):
    return _dropout(c, node, c.tensor(node, node.args[0]), m.p)


def _m_softmax(c, node, m):
    return _softmax(c, node, c.tensor(node, node.args[0]), m.dim)


def _m_upsample(c, node, m):
    return _upsample(c, node, c.tensor(node, node.args[0]), m.size, m.scale_factor, m.mode,
                     m.align_corners)


def _gelu(c, node, arg, approximate):
    if approximate not in ("none", "tanh"):
        c.fail(node, "approximate=%r is not supported (only 'none' and 'tanh')" % (approximate,))
    attrs = [("approximate", "tanh")] if approximate == "tanh" else []
    return c.elementwise(node, "gelu", arg, attrs)


def _m_gelu(c, node, m):
    return _gelu(c, node, node.args[0], getattr(m, "approximate", "none"))


def _f_gelu(c, node):
    a = c.bind(node, X + [("approximate", "none")])
    return _gelu(c, node, a["input"], a["approximate"])


def _layernorm(c, node, arg, shape, eps, affine, label, module):
    """LayerNorm over the last dim: the features of [N, F], or the channels
    of a channels-last tensor (Permuted) -> layernorm."""
    v = c.values.get(arg) if isinstance(arg, fx.Node) else None
    src = v.source if isinstance(v, Permuted) else c.tensor(node, arg)
    if not isinstance(v, Permuted) and len(src.shape) != 2:
        c.fail(node, "normalizes the last dim of a tensor of shape %s; cnnc's layernorm is over "
               "the features of [N, F] or, between permute(0, 2, 3, 1) and permute(0, 3, 1, 2), "
               "the channels of [N, C, H, W]" % list(src.shape))
    shape = tuple(shape) if isinstance(shape, (tuple, list, torch.Size)) else (shape,)
    if shape != (src.shape[1],):
        c.fail(node, "normalized_shape %s is not the %d channels (or features)"
               % (list(shape), src.shape[1]))
    attrs = []
    if eps != 1e-5:
        attrs.append(("eps", float(eps)))
    if not affine:
        attrs.append(("affine", False))
    o = c.op(node, "layernorm", [src], attrs, label=label if affine else None,
             module=module if affine else None)
    o.shape = src.shape
    return Permuted(o, node) if isinstance(v, Permuted) else o


def _m_layernorm(c, node, m):
    if m.elementwise_affine and m.bias is None:
        c.fail(node, "LayerNorm without a bias is not supported")
    return _layernorm(c, node, node.args[0], m.normalized_shape, m.eps, m.elementwise_affine,
                      node.target, m)


def _layernorm2d(c, node, m):
    """torchvision's LayerNorm2d (convnext): LayerNorm over the channels of
    [N, C, H, W] -> layernorm."""
    x = c.tensor(node, node.args[0])
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    if tuple(m.normalized_shape) != (x.shape[1],):
        c.fail(node, "normalized_shape %s is not the %d channels"
               % (list(m.normalized_shape), x.shape[1]))
    attrs = [] if m.eps == 1e-5 else [("eps", float(m.eps))]
    if not m.elementwise_affine:
        return c.op(node, "layernorm", [x], attrs + [("affine", False)])
    return c.op(node, "layernorm", [x], attrs, label=node.target, module=m)


def _f_layernorm(c, node):
    """F.layer_norm(x, shape, self.weight, self.bias, eps): the weight and
    bias must be a module's `weight` and `bias` (their state_dict keys)."""
    args = list(node.args) + [None] * (5 - len(node.args))
    spec = ["input", "normalized_shape", "weight", "bias", "eps"]
    a = dict(zip(spec, args[:5]))
    a.update(node.kwargs)
    if a["eps"] is None:
        a["eps"] = 1e-5
    w, b = a["weight"], a["bias"]
    shape = c.concrete(node, a["normalized_shape"])
    eps = c.concrete(node, a["eps"])
    if w is None and b is None:
        return _layernorm(c, node, a["input"], shape, eps, False, None, None)
    ok = (isinstance(w, fx.Node) and w.op == "get_attr" and isinstance(b, fx.Node)
          and b.op == "get_attr" and w.target.endswith(".weight") and b.target.endswith(".bias")
          and w.target[:-7] == b.target[:-5])
    if not ok:
        c.fail(node, "weight and bias must be the `weight` and `bias` of one module")
    label = w.target[:-7]
    return _layernorm(c, node, a["input"], shape, eps, True, label, c.gm.get_submodule(label))


def _permute(c, node):
    """permute(0, 2, 3, 1) of [N, C, H, W] makes a channels-last tensor;
    permute(0, 3, 1, 2) of one gives back its cnnc tensor."""
    rest = [c.concrete(node, a) for a in node.args[1:]]
    dims = node.kwargs.get("dims")
    if dims is not None:
        dims = c.concrete(node, dims)
    elif len(rest) == 1 and isinstance(rest[0], (tuple, list)):
        dims = rest[0]
    else:
        dims = rest
    dims = tuple(dims)
    v = c.values.get(node.args[0])
    if isinstance(v, Permuted):
        if dims != (0, 3, 1, 2):
            c.fail(node, "permute%s of a channels-last tensor is not supported (only (0, 3, 1, "
                   "2) back to [N, C, H, W])" % (dims,))
        return v.source
    x = c.tensor(node, node.args[0])
    if len(x.shape) != 4 or dims != (0, 2, 3, 1):
        c.fail(node, "permute%s is not supported (only (0, 2, 3, 1) of [N, C, H, W] into "
               "LayerNorm/Linear over the channels and back)" % (dims,))
    return Permuted(x, node)


def _pad(c, node, arg, pad, value, mode="constant"):
    x = c.tensor(node, arg)
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    pad = tuple(int(p) for p in pad)
    if len(pad) == 2:
        pad += (0, 0)
    if len(pad) != 4:
        c.fail(node, "padding %s is not supported (only the last two dims: (left, right, top, "
               "bottom))" % (list(pad),))
    attrs = [(None, p) for p in pad]
    value = 0.0 if value is None else float(value)
    if value != 0.0 and mode == "constant":
        attrs.append(("value", value))
    if mode != "constant":
        attrs.append(("mode", mode))
    return c.op(node, "pad", [x], attrs)


def _m_pad(c, node, m):
    return _pad(c, node, node.args[0], m.padding, m.value)


def _m_mirror_pad(mode):
    """nn.ReflectionPad2d, nn.ReplicationPad2d: pad(..., mode=)."""
    return lambda c, node, m: _pad(c, node, node.args[0], m.padding, None, mode)


def _f_pad(c, node):
    a = c.bind(node, X + [("pad", REQUIRED), ("mode", "constant"), ("value", None)])
    if a["mode"] not in ("constant", "reflect", "replicate"):
        c.fail(node, "mode='%s' is not supported (only 'constant', 'reflect' and 'replicate')"
               % a["mode"])
    return _pad(c, node, a["input"], a["pad"], a["value"], a["mode"])


def _channel_shuffle(c, node, arg, groups):
    x = c.tensor(node, arg)
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    return c.op(node, "channel_shuffle", [x], [(None, int(groups))])


def _m_channel_shuffle(c, node, m):
    return _channel_shuffle(c, node, node.args[0], m.groups)


def _f_channel_shuffle(c, node):
    a = c.bind(node, X + [("groups", REQUIRED)])
    return _channel_shuffle(c, node, a["input"], a["groups"])


def _split_parts(c, node, first, size_name, chunk):
    """x.chunk(n, dim) / x.split(sizes, dim) along dim 1: Parts, sized from
    the example run."""
    a = c.bind(node, [(first, REQUIRED), (size_name, REQUIRED), ("dim", 0)])
    x = c.tensor(node, a[first])
    dim = a["dim"] + len(x.shape) if a["dim"] < 0 else a["dim"]
    if dim != 1:
        c.fail(node, "splitting along dim %d is not supported (only dim=1: channels or "
               "features)" % dim)
    metas = node.meta["tensor_meta"]
    ranges, start = [], 0
    for t in metas:
        ranges.append((start, int(t.shape[1])))
        start += int(t.shape[1])
    return Parts(x, node, ranges, int(a[size_name]) if chunk else None)


def _getitem(c, node):
    """x[i] of x.chunk(...) / x.split(...) -> chunk or narrow."""
    v = c.values.get(node.args[0])
    if not isinstance(v, Parts):
        c.unsupported(node)
    i = node.args[1]
    if not isinstance(i, int) or not -len(v.ranges) <= i < len(v.ranges):
        c.fail(node, "index %r of %d results is not supported (only an integer)"
               % (i, len(v.ranges)))
    i %= len(v.ranges)
    start, length = v.ranges[i]
    if v.chunks is not None:
        return c.op(node, "chunk", [v.source], [(None, v.chunks), (None, i)])
    return c.op(node, "narrow", [v.source], [(None, start), (None, length)])


def _scale_or(binary):
    """A product: parameter * x (convnext's layer scale) is a scale; a
    product of two tensors goes to `binary` (mul)."""
    def handler(c, node):
        args = list(node.args) + list(node.kwargs.values())
        if any(isinstance(v, fx.Node) and v.op == "get_attr" for v in args[:2]):
            return _mul(c, node)
        return binary(c, node)
    return handler


def _mul(c, node):
    """parameter * x, the parameter [C, 1, 1] (or [C]) per channel of x:
    convnext's layer scale -> scale, its weight the parameter as [C]."""
    a, b = node.args[0], node.args[1]
    if isinstance(b, fx.Node) and b.op == "get_attr":
        a, b = b, a
    if not (isinstance(a, fx.Node) and a.op == "get_attr" and isinstance(b, fx.Node)):
        c.unsupported(node)
    x = c.tensor(node, b)
    try:
        p = c.gm.get_parameter(a.target)
    except AttributeError:
        p = None
    C = x.shape[1]
    want = [(C,)] if len(x.shape) == 2 else [(C, 1, 1), (1, C, 1, 1)]
    if p is None or tuple(p.shape) not in want:
        c.fail(node, "multiplies by '%s' of shape %s; cnnc's scale takes one factor per channel "
               "(shape %s)" % (a.target, list(p.shape) if p is not None else "?",
                               " or ".join(str(list(s)) for s in want)), supported=True)
    o = c.op(node, "scale", [x], label=a.target)
    o.tensors = [(a.target + ".weight", p.detach().cpu().float().reshape(C).contiguous().numpy())]
    return o


MODULE_HANDLERS = [
    (nn.Conv2d, _conv2d),
    (nn.ConvTranspose2d, _conv_transpose2d),
    (nn.BatchNorm2d, _batchnorm),
    (nn.BatchNorm1d, _batchnorm),
    (nn.Linear, _linear),
    (nn.ReLU, _simple("relu")),
    (nn.ReLU6, _simple("relu6")),  # before Hardtanh, its base class
    (nn.Hardtanh, _m_hardtanh),
    (nn.LeakyReLU, _m_leaky),
    (nn.Sigmoid, _simple("sigmoid")),
    (nn.Tanh, _simple("tanh")),
    (nn.Hardswish, _simple("hardswish")),
    (nn.SiLU, _simple("silu")),
    (nn.GELU, _m_gelu),
    (nn.LayerNorm, _m_layernorm),
    (nn.ZeroPad2d, _m_pad),
    (nn.ConstantPad2d, _m_pad),
    (nn.ReflectionPad2d, _m_mirror_pad("reflect")),
    (nn.ReplicationPad2d, _m_mirror_pad("replicate")),
    (nn.ChannelShuffle, _m_channel_shuffle),
    (nn.Hardsigmoid, _simple("hardsigmoid")),
    (nn.MaxPool2d, _m_maxpool),
    (nn.AvgPool2d, _m_avgpool),
    (nn.AdaptiveAvgPool2d, _m_adaptive),
    (nn.Flatten, _reshape),
    (nn.Dropout, _m_dropout),
    (nn.Dropout2d, _m_dropout),
    (nn.Dropout3d, _m_dropout),
    (nn.AlphaDropout, _m_dropout),
    (nn.FeatureAlphaDropout, _m_dropout),
    (nn.Softmax, _m_softmax),
    (nn.Upsample, _m_upsample),
    (nn.Identity, _identity),
]
if hasattr(nn, "Dropout1d"):
    MODULE_HANDLERS.append((nn.Dropout1d, _m_dropout))


# -- torchvision's eval-time identities and frozen batchnorm -------------------
#
# Looked up only if the model's code has imported torchvision (the exporter
# does not import it): torchvision.ops.misc.FrozenBatchNorm2d (a leaf of the
# trace, exported as batchnorm) and torchvision.ops.stochastic_depth (which fx
# records as a call: the identity in eval mode).


def _frozen_batchnorm(c, node, m):
    """FrozenBatchNorm2d computes x * scale + (bias - running_mean * scale) with
    scale = weight * rsqrt(running_var + eps): a batchnorm with its buffers as
    weight, bias, running_mean, running_var, and its eps."""
    x = c.tensor(node, node.args[0])
    c.need_rank(node, x, (4,), "an [N, C, H, W] tensor")
    attrs = []
    if m.eps != 1e-5:
        attrs.append(("eps", float(m.eps)))
    return c.op(node, "batchnorm", [x], attrs, label=node.target, module=m)


def _stochastic_depth(c, node):
    """torchvision.ops.stochastic_depth(input, p, mode, training): the input
    when not training (StochasticDepth passes self.training)."""
    a = c.bind(node, X + [("p", REQUIRED), ("mode", REQUIRED), ("training", True)])
    if a["training"] and a["p"] != 0.0:
        c.fail(node, "training=True drops rows even in eval mode; pass training=self.training")
    return c.tensor(node, a["input"])


def _torchvision_attr(module, name):
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def _torchvision_leaves():
    classes = (_torchvision_attr("torchvision.ops.misc", "FrozenBatchNorm2d"),
               _torchvision_attr("torchvision.models.convnext", "LayerNorm2d"))
    return tuple(cls for cls in classes if cls is not None)


def _torchvision_module_handlers():
    pairs = ((_torchvision_attr("torchvision.ops.misc", "FrozenBatchNorm2d"), _frozen_batchnorm),
             (_torchvision_attr("torchvision.models.convnext", "LayerNorm2d"), _layernorm2d))
    return [(cls, h) for cls, h in pairs if cls is not None]


def _torchvision_function_handlers():
    f = _torchvision_attr("torchvision.ops.stochastic_depth", "stochastic_depth")
    return {f: _stochastic_depth} if f is not None else {}


# -- functions and methods ----------------------------------------------------


def _one(kind, spec):
    """Handler for a function of one tensor with no attributes that matter
    (e.g. F.relu(input, inplace=False)); `spec` is its signature."""
    def handler(c, node):
        a = c.bind(node, spec)
        return c.elementwise(node, kind, a[spec[0][0]])
    return handler


X = [("input", REQUIRED)]
INPLACE = [("inplace", False)]
SELF = [("self", REQUIRED)]


def _f_leaky(c, node):
    a = c.bind(node, X + [("negative_slope", 0.01), ("inplace", False)])
    return _leaky(c, node, c.tensor(node, a["input"]), a["negative_slope"])


def _f_hardtanh(c, node):
    a = c.bind(node, X + [("min_val", -1.0), ("max_val", 1.0), ("inplace", False)])
    return _hardtanh(c, node, c.tensor(node, a["input"]), a["min_val"], a["max_val"])


def _clamp(c, node, first):
    """clamp(min=0) is relu, clamp(0, 6) relu6; nothing else."""
    a = c.bind(node, [(first, REQUIRED), ("min", None), ("max", None)])
    x = c.tensor(node, a[first])
    if a["min"] == 0 and a["max"] is None:
        return c.op(node, "relu", [x])
    if a["min"] == 0 and a["max"] == 6:
        return c.op(node, "relu6", [x])
    c.fail(node, "clamp(min=%r, max=%r) is not supported (only min=0: relu, and min=0, max=6: "
           "relu6)" % (a["min"], a["max"]))


def _f_maxpool(c, node):
    a = c.bind(node, X + [("kernel_size", REQUIRED), ("stride", None), ("padding", 0),
                          ("dilation", 1), ("ceil_mode", False), ("return_indices", False)])
    return _maxpool(c, node, c.tensor(node, a["input"]), a["kernel_size"], a["stride"],
                    a["padding"], a["dilation"], a["ceil_mode"], a["return_indices"])


def _f_avgpool(c, node):
    a = c.bind(node, X + [("kernel_size", REQUIRED), ("stride", None), ("padding", 0),
                          ("ceil_mode", False), ("count_include_pad", True),
                          ("divisor_override", None)])
    return _avgpool(c, node, c.tensor(node, a["input"]), a["kernel_size"], a["stride"],
                    a["padding"], a["ceil_mode"], a["count_include_pad"], a["divisor_override"])


def _f_adaptive(c, node):
    a = c.bind(node, X + [("output_size", REQUIRED)])
    return _adaptive(c, node, c.tensor(node, a["input"]))


def _mean(c, node, first):
    """x.mean((2, 3)) is global average pooling: mean, [N, C] or, with keepdim,
    [N, C, 1, 1]."""
    a = c.bind(node, [(first, REQUIRED), ("dim", None), ("keepdim", False), ("dtype", None)])
    x = c.tensor(node, a[first])
    dims = a["dim"]
    dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
    if len(x.shape) != 4 or sorted(d % 4 for d in dims) != [2, 3]:
        c.fail(node, "mean over dims %r is not supported (only over (2, 3) of [N, C, H, W]: "
               "global average pooling)" % (a["dim"],))
    if a["dtype"] is not None:
        c.fail(node, "dtype= is not supported")
    attrs = [(None, (2, 3))]
    if a["keepdim"]:
        attrs.append(("keepdim", True))
    return c.op(node, "mean", [x], attrs)


def _f_dropout(c, node):
    """F.dropout: fine only with training=False (self.training in eval mode)."""
    a = c.bind(node, X + [("p", 0.5), ("training", True), ("inplace", False)])
    if a["training"]:
        c.fail(node, "training=True drops activations even in eval mode; pass "
               "training=self.training")
    return _dropout(c, node, c.tensor(node, a["input"]), a["p"])


def _torch_dropout(c, node):
    a = c.bind(node, X + [("p", REQUIRED), ("train", REQUIRED)])
    if a["train"]:
        c.fail(node, "train=True drops activations even in eval mode")
    return _dropout(c, node, c.tensor(node, a["input"]), a["p"])


def _softmax_fn(first):
    def handler(c, node):
        spec = [(first, REQUIRED), ("dim", None), ("_stacklevel", 3), ("dtype", None)]
        a = c.bind(node, spec)
        if a["dtype"] is not None:
            c.fail(node, "dtype= is not supported")
        return _softmax(c, node, c.tensor(node, a[first]), a["dim"])
    return handler


def _add_fn(first, second):
    def handler(c, node):
        a = c.bind(node, [(first, REQUIRED), (second, REQUIRED), ("alpha", 1)], tensors=2)
        if a["alpha"] != 1:
            c.fail(node, "alpha=%r is not supported" % (a["alpha"],))
        return _add(c, node, a[first], a[second])
    return handler


def _op_add(c, node):
    return _add(c, node, node.args[0], node.args[1])


def _binary_fn(kind, first, second):
    """torch.mul(input, other), x.sub(other, alpha=1), ...: alpha must be 1."""
    def handler(c, node):
        spec = [(first, REQUIRED), (second, REQUIRED)]
        if kind == "sub":
            spec.append(("alpha", 1))
        a = c.bind(node, spec, tensors=2)
        if a.get("alpha", 1) != 1:
            c.fail(node, "alpha=%r is not supported" % (a["alpha"],))
        return _binary(c, node, kind, a[first], a[second])
    return handler


def _op_binary(kind):
    """operator.mul (a * b), operator.isub (a -= b), ..."""
    def handler(c, node):
        return _binary(c, node, kind, node.args[0], node.args[1])
    return handler


def _f_cat(c, node):
    a = c.bind(node, [("tensors", REQUIRED), ("dim", 0)])
    return _cat(c, node, a["tensors"], a["dim"])


def _f_interpolate(c, node):
    a = c.bind(node, X + [("size", None), ("scale_factor", None), ("mode", "nearest"),
                          ("align_corners", None), ("recompute_scale_factor", None),
                          ("antialias", False)])
    if a["antialias"]:
        c.fail(node, "antialias=True is not supported")
    return _upsample(c, node, c.tensor(node, a["input"]), a["size"], a["scale_factor"], a["mode"],
                     a["align_corners"])


def _f_upsample(c, node):
    a = c.bind(node, X + [("size", None), ("scale_factor", None), ("mode", "nearest"),
                          ("align_corners", None)])
    return _upsample(c, node, c.tensor(node, a["input"]), a["size"], a["scale_factor"], a["mode"],
                     a["align_corners"])


def _f_upsample_nearest(c, node):
    a = c.bind(node, X + [("size", None), ("scale_factor", None)])
    return _upsample(c, node, c.tensor(node, a["input"]), a["size"], a["scale_factor"],
                     "nearest", None)


FUNCTION_HANDLERS = {
    F.relu: _one("relu", X + INPLACE),
    F.relu_: _one("relu", X),
    torch.relu: _one("relu", X),
    torch.relu_: _one("relu", X),
    F.relu6: _one("relu6", X + INPLACE),
    F.hardtanh: _f_hardtanh,
    F.hardtanh_: _f_hardtanh,
    F.leaky_relu: _f_leaky,
    F.leaky_relu_: _f_leaky,
    torch.sigmoid: _one("sigmoid", X),
    torch.sigmoid_: _one("sigmoid", X),
    F.sigmoid: _one("sigmoid", X),
    torch.tanh: _one("tanh", X),
    torch.tanh_: _one("tanh", X),
    F.tanh: _one("tanh", X),
    F.hardswish: _one("hardswish", X + INPLACE),
    F.silu: _one("silu", X + INPLACE),
    F.hardsigmoid: _one("hardsigmoid", X + INPLACE),
    torch.clamp: lambda c, node: _clamp(c, node, "input"),
    torch.clamp_: lambda c, node: _clamp(c, node, "input"),
    F.max_pool2d: _f_maxpool,
    torch.max_pool2d: _f_maxpool,
    F.avg_pool2d: _f_avgpool,
    F.adaptive_avg_pool2d: _f_adaptive,
    torch.mean: lambda c, node: _mean(c, node, "input"),
    torch.flatten: _reshape,
    torch.reshape: _reshape,
    torch.squeeze: _reshape,
    torch.unsqueeze: _reshape,
    F.dropout: _f_dropout,
    F.dropout2d: _f_dropout,
    F.alpha_dropout: _f_dropout,
    torch.dropout: _torch_dropout,
    F.softmax: _softmax_fn("input"),
    torch.softmax: _softmax_fn("input"),
    operator.add: _op_add,
    operator.iadd: _op_add,
    torch.add: _add_fn("input", "other"),
    operator.mul: _scale_or(_op_binary("mul")),
    operator.imul: _op_binary("mul"),
    torch.mul: _scale_or(_binary_fn("mul", "input", "other")),
    torch.multiply: _binary_fn("mul", "input", "other"),
    operator.sub: _op_binary("sub"),
    operator.isub: _op_binary("sub"),
    torch.sub: _binary_fn("sub", "input", "other"),
    torch.subtract: _binary_fn("sub", "input", "other"),
    torch.cat: _f_cat,
    F.interpolate: _f_interpolate,
    F.upsample: _f_upsample,
    F.upsample_nearest: _f_upsample_nearest,
    torch.clone: _identity,
    F.gelu: _f_gelu,
    F.layer_norm: _f_layernorm,
    torch.layer_norm: _f_layernorm,
    torch.permute: _permute,
    F.pad: _f_pad,
    F.channel_shuffle: _f_channel_shuffle,
    torch.chunk: lambda c, node: _split_parts(c, node, "input", "chunks", True),
    torch.split: lambda c, node: _split_parts(c, node, "tensor", "split_size_or_sections", False),
    operator.getitem: _getitem,
}
if hasattr(torch, "native_channel_shuffle"):
    FUNCTION_HANDLERS[torch.native_channel_shuffle] = _f_channel_shuffle
if hasattr(torch, "concat"):
    FUNCTION_HANDLERS[torch.concat] = _f_cat

# Functions that modify their first argument: always, or if their `inplace`
# argument (keyword, or positional at this index) is True.
INPLACE_FUNCTIONS = {F.relu_, torch.relu_, F.hardtanh_, F.leaky_relu_, torch.sigmoid_,
                     torch.tanh_, torch.clamp_, operator.iadd, operator.imul, operator.isub}
INPLACE_ARG = {F.relu: 1, F.relu6: 1, F.hardswish: 1, F.silu: 1, F.hardsigmoid: 1,
               F.leaky_relu: 2,
               F.hardtanh: 3, F.dropout: 3, F.dropout2d: 3, F.alpha_dropout: 3}

METHOD_HANDLERS = {
    "relu": _one("relu", SELF),
    "relu_": _one("relu", SELF),
    "sigmoid": _one("sigmoid", SELF),
    "sigmoid_": _one("sigmoid", SELF),
    "tanh": _one("tanh", SELF),
    "tanh_": _one("tanh", SELF),
    "clamp": lambda c, node: _clamp(c, node, "self"),
    "clamp_": lambda c, node: _clamp(c, node, "self"),
    "clamp_min": lambda c, node: _clamp(c, node, "self"),
    "mean": lambda c, node: _mean(c, node, "self"),
    "softmax": _softmax_fn("self"),
    "add": _add_fn("self", "other"),
    "add_": _add_fn("self", "other"),
    "__iadd__": _op_add,
    "mul": _scale_or(_binary_fn("mul", "self", "other")),
    "mul_": _binary_fn("mul", "self", "other"),
    "multiply": _binary_fn("mul", "self", "other"),
    "__imul__": _op_binary("mul"),
    "sub": _binary_fn("sub", "self", "other"),
    "sub_": _binary_fn("sub", "self", "other"),
    "subtract": _binary_fn("sub", "self", "other"),
    "__isub__": _op_binary("sub"),
    "view": _reshape,
    "reshape": _reshape,
    "flatten": _reshape,
    "squeeze": _reshape,
    "unsqueeze": _reshape,
    "contiguous": _identity,
    "clone": _identity,
    "detach": _identity,
    "permute": _permute,
    "chunk": lambda c, node: _split_parts(c, node, "self", "chunks", True),
    "split": lambda c, node: _split_parts(c, node, "self", "split_size", False),
}

# Quantized models (torch.ao.quantization): their handlers, in their own module.
import torch2cnn_quant  # noqa: E402
torch2cnn_quant.register(sys.modules[__name__])


# ---------------------------------------------------------------------------
# From ops to .cnn text


def _scope_of(node):
    """The module calls a node sits in, outermost first, without the node's
    own module for call_module nodes."""
    scope = node.meta.get("torch2cnn_scope", ())
    if node.op == "call_module" and scope and scope[-1][0] == node.target:
        scope = scope[:-1]
    return scope


PLAIN_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _group(node):
    """The outermost module around a node that is not a plain container: the
    'block' (a ResNet BasicBlock, a MobileNet InvertedResidual) it belongs to."""
    for path, name, cls in _scope_of(node):
        if cls not in PLAIN_CONTAINERS and path:
            return (path, name)
    return None


def _tensor_name(op, used):
    """A name for a tensor that needs one: the outermost module it is the
    result of (its users all sit outside it), else the fx node's name."""
    scope = _scope_of(op.node)
    users = [u.node for u, _ in op.users]
    name = getattr(op, "preferred", None)  # a dict output's key
    for path, _, _ in scope if name is None else ():
        if path and all(path not in [p for p, _, _ in _scope_of(u)] for u in users):
            name = path.replace(".", "_")
            break
    if name is None:
        name = op.node.name.rstrip("_") or "t"  # fx's names: relu_1, add, cat, ...
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not IDENT.match(name):
        name = "t_" + name
    if name in RESERVED:
        name += "_0"  # fx calls the first add 'add', the next 'add_1'
    return cnn_text.unique(name, used)


def _breaks_before(op, prev):
    """Start a new line (statement) at layers with weights, and at flatten
    unless it follows a global pooling."""
    if op.kind in ("conv2d", "linear"):
        return True
    return op.kind == "flatten" and prev.kind not in ("global_avgpool", "adaptive_avgpool")


def _continues(op, prev):
    """May op, which can follow prev after '->', join its statement? Within
    one block, unless a new line starts before it."""
    return op.kind in MULTI_INPUT or (op.group == prev.group and not _breaks_before(op, prev))


def _render(ops, inp, outputs):
    """The body of the .cnn: chains, named tensors, comments per block."""
    return cnn_text.render(ops, inp, outputs, {inp.name}, Op, _tensor_name, fmt_label,
                           _continues, MULTI_INPUT)


# ---------------------------------------------------------------------------
# Weights


def _layer_tensors(op, keep_masks):
    """(key, numpy array) pairs of one layer, PyTorch's state_dict names.
    A tensor pruned with torch.nn.utils.prune (NAME_orig and NAME_mask) is
    written as orig * mask under NAME, or as both with keep_masks."""
    m = op.module
    out = []
    for name in PARAM_NAMES:
        orig = m._parameters.get(name + "_orig")
        mask = m._buffers.get(name + "_mask")
        key = "%s.%s" % (op.label, name)
        if orig is not None and mask is not None:
            if keep_masks:
                out.append((key + "_orig", orig))
                out.append((key + "_mask", mask))
            else:
                out.append((key, orig * mask))
            continue
        t = getattr(m, name, None)
        if isinstance(t, torch.Tensor):
            out.append((key, t))
    result = []
    for key, t in out:
        t = t.detach().cpu()
        if t.is_floating_point():
            t = t.float()
        result.append((key, t.contiguous().numpy()))
    return result


# ---------------------------------------------------------------------------
# export()


def _convert(module, example_input):
    """Trace `module` in eval mode (its training flag restored) on
    `example_input` and map it to cnnc ops: (the fx GraphModule, the
    _Converter, the live ops)."""
    was_training = module.training
    module.eval()
    try:
        gm = _trace(module, example_input)
        conv = _Converter(gm, type(module).__name__)
        conv.run()
    finally:
        module.train(was_training)

    if conv.input is None:
        raise ExportError("forward() takes no input")
    if not conv.outputs:
        raise ExportError("forward() returns nothing")
    ops = cnn_text.remove_dead(conv.ops, conv.outputs, Op)
    if not ops:
        raise ExportError("the network has no layers")
    torch2cnn_quant.check(conv, ops)
    for o in ops:
        o.group = _group(o.node)
    return gm, conv, ops


def layer_names(module, example_input):
    """The layers export() writes for `module`, in the order of the .cnn, as
    (cnnc layer name, op, fx node) triples, and the fx GraphModule the nodes
    belong to. The name is what cnnc calls the layer (in --dump-tensors files,
    --emit=ir, the profile): the label export() writes (the module path of a
    layer with weights), or cnnc's own "<op>_<n>", the n-th unlabelled layer
    of that op (compiler/sema.c, layer_name). Running the GraphModule gives
    each layer's PyTorch result as the output of its fx node."""
    gm, _conv, ops = _convert(module, example_input)
    names, counts, out = set(), {}, []
    for o in cnn_text.schedule(ops, Op):
        name = o.label
        while name is None or (o.label is None and name in names):
            counts[o.kind] = counts.get(o.kind, 0) + 1
            name = "%s_%d" % (o.kind, counts[o.kind])
        names.add(name)
        out.append((name, o.kind, o.node))
    return out, gm


def export(module, example_input, path, keep_masks=False):
    """Export `module` (an nn.Module) to the cnnc network file `path` (.cnn)
    and its weights beside it (same name, .safetensors).

    example_input: one tensor (or a 1-tuple of it), [N, C, H, W] or [N, F]; it
    fixes the input shape written to the .cnn (the batch size is cnnc's
    --batch). The module is exported in eval mode (its training flag is
    restored afterwards). keep_masks: write pruned tensors as NAME_orig and
    NAME_mask instead of their product NAME (cnnc reads both forms).

    Returns the text of the .cnn. Raises ExportError if the module uses
    anything cnnc cannot express."""
    if isinstance(example_input, (tuple, list)):
        if len(example_input) != 1:
            raise ExportError("cnnc networks have exactly one input; got %d example inputs"
                              % len(example_input))
        example_input = example_input[0]
    if not isinstance(example_input, torch.Tensor):
        raise ExportError("example_input must be a tensor")
    if not isinstance(module, nn.Module):
        raise ExportError("export() needs an nn.Module, got %s" % type(module).__name__)
    if not path.endswith(".cnn"):
        raise ExportError("the output file name must end in .cnn: %s" % path)

    _gm, conv, ops = _convert(module, example_input)
    body = _render(ops, conv.input, conv.outputs)

    tensors = []
    for o in ops:
        if o.tensors is not None:
            tensors += o.tensors
        elif o.module is not None:
            tensors += _layer_tensors(o, keep_masks)
    nparams = sum(int(a.size) for k, a in tensors
                  if not k.endswith(("num_batches_tracked", "_mask", "running_mean",
                                     "running_var")))

    weights = os.path.splitext(path)[0] + ".safetensors"
    shape = conv.input.shape[1:]
    head = ["# %s, exported by tools/torch2cnn.py (torch %s)"
            % (type(module).__name__, torch.__version__.split("+")[0]),
            "# example input %s; %s parameters%s" % (
                list(conv.input.shape), "{:,}".format(nparams),
                "; pruning masks kept (NAME_orig, NAME_mask)" if keep_masks else ""),
            "network %s" % cnn_text.network_name(path, RESERVED),
            "input %s[%s]" % (conv.input.name, ", ".join(str(d) for d in shape)),
            'weights %s' % fmt_value(os.path.basename(weights)),
            ""]
    text = "\n".join(head) + "\n" + body
    cnn_text.write_network(path, text, weights, tensors)
    return text


# ---------------------------------------------------------------------------
# Command line


def _load_object(spec):
    """FILE.py:NAME or package.module:NAME -> the object NAME."""
    if ":" not in spec:
        raise ExportError("the model must be given as FILE.py:NAME or module:NAME, not %r" % spec)
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py") or os.path.isfile(where):
        if not os.path.isfile(where):
            raise ExportError("no such file: %s" % where)
        d = os.path.dirname(os.path.abspath(where))
        if d not in sys.path:
            sys.path.insert(0, d)
        modname = "torch2cnn_user_" + re.sub(r"\W", "_", os.path.splitext(
            os.path.basename(where))[0])
        s = importlib.util.spec_from_file_location(modname, where)
        mod = importlib.util.module_from_spec(s)
        sys.modules[modname] = mod
        s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(where)
    obj = mod
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ExportError("%s has no attribute %r" % (where, part))
        obj = getattr(obj, part)
    return obj


def load_module(spec, kwargs=None, state_dict=None):
    """The nn.Module named by `spec` (FILE.py:NAME or package.module:NAME, NAME
    an nn.Module, a class or a function returning one; called with `kwargs`),
    with the weights of `state_dict` loaded if given: a file saved with
    torch.save (a state_dict, or a dict holding one under "state_dict"), or a
    .safetensors file. In eval mode."""
    obj = _load_object(spec)
    module = obj(**(kwargs or {})) if callable(obj) and not isinstance(obj, nn.Module) else obj
    if not isinstance(module, nn.Module):
        raise ExportError("%s did not give an nn.Module" % spec)
    if state_dict:
        if state_dict.endswith(".safetensors"):
            sd = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(state_dict).items()}
        else:
            sd = torch.load(state_dict, map_location="cpu")
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        if not isinstance(sd, dict):
            raise ExportError("%s does not hold a state_dict" % state_dict)
        module.load_state_dict(sd)
    return module.eval()


def _parse_kwarg(text):
    if "=" not in text:
        raise ExportError("--arg needs NAME=VALUE, not %r" % text)
    k, v = text.split("=", 1)
    import ast
    try:
        v = ast.literal_eval(v)
    except (ValueError, SyntaxError):
        pass  # a plain string
    return k, v


def _outputs_list(y):
    if isinstance(y, torch.Tensor):
        return [y]
    if isinstance(y, (tuple, list)):
        return list(y)
    if isinstance(y, dict):
        return list(y.values())
    raise ExportError("the model returned %s" % type(y).__name__)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="torch2cnn.py",
        description="Export a PyTorch module to a cnnc network (.cnn) and its weights "
                    "(.safetensors beside it).")
    p.add_argument("model", help="FILE.py:NAME or package.module:NAME; NAME is an nn.Module "
                   "class or a function returning a module")
    p.add_argument("--input", required=True, metavar="C,H,W",
                   help="input shape without the batch: C,H,W or F")
    p.add_argument("-o", "--output", metavar="FILE.cnn",
                   help="the .cnn to write (default: NAME in lower case, .cnn)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="constructor keyword argument (a Python literal or a string); "
                   "repeatable")
    p.add_argument("--state-dict", metavar="FILE",
                   help="load these weights (torch.save of a state_dict, or a .safetensors "
                   "file) before exporting")
    p.add_argument("--keep-masks", action="store_true",
                   help="write pruned weights as NAME_orig and NAME_mask instead of their product")
    p.add_argument("--batch", type=int, default=1,
                   help="batch size of the example input (default 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="torch.manual_seed before building the model and the example input")
    p.add_argument("--write-example", action="store_true",
                   help="also write the example input and PyTorch's output beside the .cnn as "
                   "NAME.input.f32 and NAME.expected.f32 (raw float32; outputs concatenated), "
                   "the files a program made with 'cnnc --main' reads and writes")
    a = p.parse_args(argv)

    try:
        try:
            shape = tuple(int(s) for s in a.input.split(","))
        except ValueError:
            raise ExportError("--input must be C,H,W or F, not %r" % a.input)
        if len(shape) not in (1, 3) or min(shape) < 1:
            raise ExportError("--input must be C,H,W or F, not %r" % a.input)
        if a.batch < 1:
            raise ExportError("--batch must be positive")
        torch.manual_seed(a.seed)
        kwargs = dict(_parse_kwarg(t) for t in a.arg)
        module = load_module(a.model, kwargs, a.state_dict)
        out = a.output or a.model.rsplit(":", 1)[1].split(".")[-1].lower() + ".cnn"
        gen = torch.Generator().manual_seed(a.seed + 1)
        x = torch.randn((a.batch,) + shape, generator=gen)
        export(module, x, out, keep_masks=a.keep_masks)
        stem = os.path.splitext(out)[0]
        print("wrote %s and %s" % (out, stem + ".safetensors"))
        if a.write_example:
            with torch.no_grad():
                ys = _outputs_list(module(x))
            x.numpy().astype("<f4").tofile(stem + ".input.f32")
            y = np.concatenate([t.detach().float().numpy().astype("<f4").ravel() for t in ys])
            y.tofile(stem + ".expected.f32")
            print("wrote %s and %s" % (stem + ".input.f32", stem + ".expected.f32"))
    except ExportError as e:
        sys.stderr.write("torch2cnn: error: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
