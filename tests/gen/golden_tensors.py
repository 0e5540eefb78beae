"""Golden cases for constants, broadcasting and tensors of any layout:
`constant`, add/sub/mul/div with PyTorch's broadcasting, concat over any
dimension. Imported by gen_golden.py, which passes its case() and helpers
(add_cases); every expected output is computed by PyTorch."""

import torch
import torch.nn as nn


class Const(nn.Module):
    """A constant tensor: its state_dict key is NAME.weight, as cnnc's
    `NAME: constant(...)` reads it. lo..hi keeps divisors away from zero."""

    def __init__(self, *shape, lo=-1.0, hi=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(*shape) * (hi - lo) + lo)

    def forward(self):
        return self.weight


def _broadcast_const(L, x):
    k, j, m = L("k")(), L("j")(), L("m")()
    a = x + k                    # [N, 3, 4, 5] + [5]
    b = a * j                    # * [4, 1]
    c = m - b                    # [3, 1, 1] - ...
    d = c / m                    # / [3, 1, 1]
    e = k / d                    # [5] / [N, 3, 4, 5]
    return e


def _broadcast_computed(L, x):
    y = L("c1")(x)                                        # [N, 4, 4, 5]
    row = nn.functional.adaptive_avg_pool2d(y, (1, 5))    # [N, 4, 1, 5]
    col = nn.functional.adaptive_avg_pool2d(y, (4, 1))    # [N, 4, 4, 1]
    outer = row * col                                     # both broadcast: [N, 4, 4, 5]
    return torch.cat([y - row, outer, col / (outer * outer + L("one").weight), y + col], dim=1)


def _concat_dims(L, x):
    a = torch.relu(L("c1")(x))                       # [N, 2, 3, 4]
    b = torch.cat([x, a], dim=2)                     # [N, 2, 6, 4]
    c = torch.cat([b, b, b], dim=-1)                 # [N, 2, 6, 12]
    d = torch.cat([a, L("k").weight], dim=3)           # k: [2, 2, 3, 1], the batch's 2
    f = torch.flatten(c, 1)
    g = torch.cat([f, f[:, :5]], dim=1)
    return torch.cat([torch.flatten(d, 1), g], dim=-1)


def _max_min(L, x):
    y = L("c1")(x)                                             # [N, 3, 4, 5]
    k = L("k")()                                               # [5]
    a = torch.maximum(x, y)
    b = torch.minimum(k, y)                                    # the constant first
    g = nn.functional.adaptive_avg_pool2d(y, 1)                # [N, 3, 1, 1]
    c = torch.maximum(y, g)
    d = torch.minimum(g, x)
    return torch.cat([a, b, c, d], dim=1)


def add_cases(case, simple, Net):
    case("broadcast_const", "constants of shape [5], [4, 1] and [3, 1, 1] with add, mul, sub and "
         "div of [N, 3, 4, 5] (PyTorch's broadcasting, the constant first or second), batch 2",
         simple("""
            k: constant(5)
            j: constant(4, 1)
            m: constant(3, 1, 1)
            a = add(x, k)
            b = a -> mul(j)
            c = sub(m, b)
            d = c -> div(m)
            div(k, d)
         """, (3, 4, 5)),
         lambda: Net([("k", Const(5)), ("j", Const(4, 1)), ("m", Const(3, 1, 1, lo=0.5, hi=2.0))],
                     _broadcast_const), (3, 4, 5), batch=2)

    case("max_min", "maximum and minimum (torch.maximum, torch.minimum) of equal shapes, "
         "with a constant [5] first, and with [N, C, 1, 1] in both orders, batch 2",
         simple("""
            y = c1: conv2d(3, kernel=3, pad=1)
            k: constant(5)
            a = maximum(x, y)
            b = minimum(k, y)
            g = y -> global_avgpool
            c = y -> maximum(g)
            d = minimum(g, x)
            concat(a, b, c, d)
         """, (3, 4, 5)),
         lambda: Net([("c1", nn.Conv2d(3, 3, 3, padding=1)), ("k", Const(5))], _max_min),
         (3, 4, 5), batch=2)

    case("broadcast_computed", "add, sub, mul, div of computed tensors that broadcast other "
         "than [N, C, 1, 1]: [N, 4, 1, 5] and [N, 4, 4, 1] with [N, 4, 4, 5] and with each "
         "other (an outer product), a constant 1 added, batch 2",
         simple("""
            y = c1: conv2d(4, kernel=3, pad=1)
            row = y -> adaptive_avgpool((1, 5))
            col = y -> adaptive_avgpool((4, 1))
            outer = mul(row, col)
            one: constant(1)
            q = mul(outer, outer) -> add(one)
            s = sub(y, row)
            r = div(col, q)
            t = add(y, col)
            concat(s, outer, r, t)
         """, (3, 4, 5)),
         lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("one", _One())],
                     _broadcast_computed), (3, 4, 5), batch=2)


class _One(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))


def add_concat_cases(case, simple, Net):
    case("concat_dims", "concat over H (dim=2), W (dim=-1, three tensors) and of a constant "
         "[2, 2, 3, 1] (the batch's 2 images) along W (torch.cat(dim)), then over the features of [N, F], batch 2",
         simple("""
            a = c1: conv2d(2, kernel=3, pad=1) -> relu
            b = concat(x, a, dim=2)
            c = concat(b, b, b, dim=-1)
            k: constant(2, 2, 3, 1)
            d = concat(a, k, dim=3) -> flatten
            f = c -> flatten
            head = f -> narrow(0, 5)
            g = concat(f, head)
            concat(d, g, dim=-1)
         """, (2, 3, 4)),
         lambda: Net([("c1", nn.Conv2d(2, 2, 3, padding=1)), ("k", Const(2, 2, 3, 1))],
                     _concat_dims), (2, 3, 4), batch=2)


def _layout(L, x):
    y = L("c1")(x)                                   # [N, 4, 3, 5]
    a = y.permute(0, 3, 1, 2)                        # [N, 5, 4, 3]
    b = y.permute(0, -1, -2, 1)                      # [N, 5, 3, 4]
    c = y.reshape(y.shape[0], 12, -1).permute(0, 2, 1)   # [N, 5, 12]
    d = torch.cat([a.reshape(a.shape[0], 60), b.reshape(b.shape[0], -1),
                   c.reshape(c.shape[0], 60)], dim=1)
    return torch.relu(L("fc")(d))


def _narrow_dims(L, x):
    y = L("c1")(x)                                            # [N, 4, 5, 6]
    a = torch.narrow(y, 2, 1, 3)                              # rows 1..3
    b = torch.narrow(y, -1, 2, 4)                             # columns 2..5
    c = torch.narrow(torch.flatten(y, 1), 1, 7, 50)           # features 7..56
    return torch.cat([torch.flatten(a, 1), torch.flatten(b, 1), c], dim=1)


def add_layout_cases(case, simple, Net):
    case("permute_reshape", "permute (x.permute(0, 3, 1, 2), negative dims) and reshape "
         "(x.reshape(N, 12, -1), a view) of [N, 4, 3, 5], a permute of the rank-3 result, "
         "reshaped back to [N, F] for a linear, batch 2",
         simple("""
            y = c1: conv2d(4, kernel=3, pad=1)
            a = y -> permute(0, 3, 1, 2) -> reshape(60)
            b = y -> permute(0, -1, -2, 1) -> reshape(-1)
            c = y -> reshape(12, -1) -> permute(0, 2, 1) -> reshape(60)
            concat(a, b, c) -> fc: linear(7) -> relu
         """, (3, 3, 5)),
         lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1)), ("fc", nn.Linear(180, 7))],
                     _layout), (3, 3, 5), batch=2)
    case("narrow_dims", "narrow over H (dim=2), W (dim=-1) and the features of [N, F] "
         "(torch.narrow(x, dim, start, length)), batch 2",
         simple("""
            y = c1: conv2d(4, kernel=3, pad=1)
            a = y -> narrow(1, 3, dim=2) -> flatten
            b = y -> narrow(2, 4, dim=-1) -> flatten
            c = y -> flatten -> narrow(7, 50)
            concat(a, b, c)
         """, (3, 5, 6)),
         lambda: Net([("c1", nn.Conv2d(3, 4, 3, padding=1))], _narrow_dims), (3, 5, 6),
         batch=2)


def _linear_last(L, x):
    y = L("c1")(x)                                          # [N, 6, 4, 5]
    t = y.permute(0, 2, 3, 1)                               # NHWC [N, 4, 5, 6]
    h = torch.relu(L("fc1")(t))                             # [N, 4, 5, 8]
    z = L("fc2")(h).permute(0, 3, 1, 2)                     # [N, 6, 4, 5]
    r = L("fc3")(y.reshape(y.shape[0], 6, 20))              # rank 3: [N, 6, 3]
    return torch.cat([torch.flatten(y + z, 1), torch.flatten(r, 1)], dim=1)


def _zero_fc1_row(m):
    m.fc1.weight[2].zero_()
    m.fc1.bias[2] = 0.0


def add_linear_cases(case, simple, Net):
    body = """
            y = c1: conv2d(6, kernel=3, pad=1)
            z = y -> permute(0, 2, 3, 1) -> fc1: linear(8) -> relu -> fc2: linear(6)
                -> permute(0, 3, 1, 2)
            s = add(y, z) -> flatten
            r = y -> reshape(6, 20) -> fc3: linear(3, bias=false) -> flatten
            concat(s, r)
         """
    layers = lambda: Net([("c1", nn.Conv2d(3, 6, 3, padding=1)), ("fc1", nn.Linear(6, 8)),  # noqa: E731
                          ("fc2", nn.Linear(8, 6)), ("fc3", nn.Linear(20, 3, bias=False))],
                         _linear_last)
    case("linear_last_axis", "linear over the last dimension of NHWC [N, H, W, C] between "
         "permutes (convnext's nn.Linear; relu fused into fc1) and of a rank-3 reshape; fc1's "
         "row 2 and bias zero (a constant feature prune-channels must leave), batch 2",
         simple(body, (3, 4, 5)), layers, (3, 4, 5), batch=2, post=_zero_fc1_row)
    case("linear_last_axis_sparse", "linear_last_axis with the sparse kernels (--sparse-min 0)",
         simple(body, (3, 4, 5)), layers, (3, 4, 5), batch=2, flags="--sparse-min 0")
    case("linear_last_axis_bn", "a batchnorm after a linear over the last dimension of "
         "[N, 3, 4, 5]: its channels are dimension 1, not the features, so fold-batchnorm "
         "leaves it, batch 2",
         simple("""
            fc: linear(6) -> bn: batchnorm -> relu
         """, (3, 4, 5)),
         lambda: Net([("fc", nn.Linear(5, 6)), ("bn", nn.BatchNorm2d(3))],
                     lambda L, x: torch.relu(L("bn")(L("fc")(x)))), (3, 4, 5), batch=2)
