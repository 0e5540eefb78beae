"""Writing a network as .cnn text, shared by tools/torch2cnn.py and
tools/onnx2cnn.py.

Both tools build a list of ops, each with .kind, .inputs (ops or the network
input), .attrs ((name or None, text) pairs), .label (a layer label or None),
.name (filled in here where the tensor needs one) and, optionally, .group (a
(path, class name) pair: the block it belongs to, written as a comment). The
functions here prune dead ops, order them so that chains stay together, name
the tensors that need a name, and render chains joined with '->'.
"""

import os
import re

from safetensors_io import write_safetensors

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Ops that take several tensors; in a chain the incoming one is left out of
# their arguments.
MULTI_INPUT = ("add", "mul", "sub", "div", "maximum", "minimum", "concat")

LINE = 100


def unique(base, taken):
    """base, else base_2, base_3, ...: the first not in the set taken, added to it."""
    name, k = base, 2
    while name in taken:
        name = "%s_%d" % (base, k)
        k += 1
    taken.add(name)
    return name


def remove_dead(ops, outputs, op_type):
    """Drop ops whose results are never used (iteratively), and fill users.
    op_type: the tool's op class (other inputs are the network input)."""
    live = set(id(o) for o in outputs)
    for o in reversed(ops):
        if id(o) in live:
            for i in o.inputs:
                live.add(id(i))
    ops = [o for o in ops if id(o) in live]
    for o in ops:
        o.users = []
    for o in ops:
        for k, i in enumerate(o.inputs):
            if isinstance(i, op_type):
                i.users.append((o, k))
    return ops


def chain_input(op, prev):
    """Can `op` follow `prev` after '->'? Only if it takes prev as its first
    input; add and mul also as their second (a + b == b + a and a * b == b * a
    exactly), sub never (a - b)."""
    if not op.inputs:
        return False
    if op.inputs[0] is prev:
        return True
    return (op.kind in ("add", "mul") and op.inputs[1] is prev and op.inputs[0] is not prev)


def schedule(ops, op_type):
    """Order ops so that chains stay together: after an op whose single user
    can follow it with '->', emit that user next if its inputs are ready."""
    done = set()
    order = []

    def ready(o):
        return all(not isinstance(i, op_type) or id(i) in done for i in o.inputs)

    for start in ops:
        o = start
        while o is not None and id(o) not in done and ready(o):
            order.append(o)
            done.add(id(o))
            nxt = None
            if len(o.users) == 1:
                u = o.users[0][0]
                if chain_input(u, o):
                    nxt = u
            o = nxt
    assert len(order) == len(ops)
    return order


def render_op(op, chained_from, fmt_label):
    """`label: op(args)`; in a chain the incoming tensor is left out of a
    multi-input op's arguments."""
    args = []
    if op.kind in MULTI_INPUT:
        rest = list(op.inputs)
        if chained_from is not None:
            rest.remove(chained_from)
        args = [i.name for i in rest]
    args += [v if k is None else "%s=%s" % (k, v) for k, v in op.attrs]
    text = op.kind + ("(%s)" % ", ".join(args) if args else "")
    if op.label is not None:
        text = "%s: %s" % (fmt_label(op.label), text)
    return text


def wrap(head, parts):
    """Join chain parts with ' -> ', continuing long lines with '    -> '."""
    lines = [head + parts[0]]
    for p in parts[1:]:
        if len(lines[-1]) + 4 + len(p) > LINE:
            lines.append("    -> " + p)
        else:
            lines[-1] += " -> " + p
    return lines


def render(ops, inp, outputs, used, op_type, tensor_name, fmt_label, continues,
           starts_free):
    """The body of the .cnn: chains, named tensors, comments per block.

    used: the names taken (the input's among them); op_type: the tool's op
    class; tensor_name(op, used): a fresh name, added to used;
    fmt_label(path): a layer label as text; continues(op, prev): may op,
    which can follow prev, join its statement after '->'; starts_free: the
    kinds whose inputs are all written as arguments when they start a
    statement."""
    order = schedule(ops, op_type)
    last = order[-1]
    single_last = len(outputs) == 1 and outputs[0] is last

    # Which values need a name: all but those whose single use follows them.
    for k, o in enumerate(order):
        nxt = order[k + 1] if k + 1 < len(order) else None
        chained = (len(o.users) == 1 and nxt is o.users[0][0] and chain_input(nxt, o)
                   and o not in outputs)
        if not chained and not (o is last and single_last):
            o.name = tensor_name(o, used)

    # Statements: lists of ops, each continuing the previous with '->'.
    statements = []
    for k, o in enumerate(order):
        prev = order[k - 1] if k else None
        chained = prev is not None and prev.name is None and chain_input(o, prev)
        if chained and continues(o, prev):
            statements[-1].append(o)
        else:
            statements.append([o])

    lines = []
    prev_result = inp
    prev_group = None
    for k, st in enumerate(statements):
        first = st[0]
        group = getattr(first, "group", None)
        if group != prev_group:
            if lines:
                lines.append("")
            if group is not None:
                lines.append("# %s (%s)" % group)
            prev_group = group
        # Where the chain starts: a multi-input op's arguments, implicitly the
        # previous statement's result if that has no name (or is the input,
        # for the first statement), or else a named source.
        if first.kind in starts_free:
            parts = []
            chained_from = None
        elif first.inputs[0] is prev_result and (prev_result.name is None or k == 0) \
                and not (first.kind in MULTI_INPUT and prev_result.name is not None):
            parts = []
            chained_from = prev_result
        else:
            parts = [first.inputs[0].name]
            chained_from = first.inputs[0]
        for o in st:
            parts.append(render_op(o, chained_from, fmt_label))
            chained_from = o
        head = "%s = " % st[-1].name if st[-1].name else ""
        lines.extend(wrap(head, parts))
        prev_result = st[-1]

    if not single_last:
        lines.append("output %s" % ", ".join(o.name for o in outputs))
    return "\n".join(lines) + "\n"


def network_name(path, reserved):
    """The network's name from the .cnn file name: an identifier, not one of
    the words in `reserved`."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    if not IDENT.match(name):
        name = "net_" + name
    if name in reserved:
        name = "net_" + name
    return name


def write_network(path, text, weights, tensors):
    """Write the .cnn `text` to `path` and `tensors` ((key, numpy array)
    pairs) to the safetensors file `weights`, creating the folder."""
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    write_safetensors(weights, tensors)
    with open(path, "w") as f:
        f.write(text)
