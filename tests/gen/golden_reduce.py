"""Golden cases of the unary math ops (exp, log, neg, abs, sqrt, reciprocal,
floor, ceil, sin, cos) and of the reductions over chosen dimensions
(gen_golden.py adds them with add_cases). Every expected output is PyTorch's:
torch.exp, torch.log, ... in float32, and torch.sum / torch.mean /
torch.amax / torch.amin with dim and keepdim."""

import torch
import torch.nn as nn


def _unary_all(L, x):
    e = torch.exp(x)
    return (e, torch.log(e + x * x), torch.sqrt(torch.abs(-x)), torch.reciprocal(e),
            torch.floor(x), torch.ceil(x), torch.sin(x), torch.cos(x))


def _unary_fused(L, x):
    y = L("c1")(x)
    return torch.exp(L("c2")(torch.abs(y))), torch.neg(L("fc")(torch.flatten(y, 1)))


def _reduce_dims(L, x):
    f = L("fc")(torch.flatten(x, 1))
    return (torch.sum(x, 1), torch.sum(x, (2, 3), keepdim=True), torch.mean(x, (1, 2, 3)),
            torch.mean(x, -1, keepdim=True), torch.amax(x, (3, 1)),
            torch.amax(x, (1, 2, 3), keepdim=True), torch.amin(x, 2),
            torch.amin(x, (-3, -1), keepdim=True), torch.sum(f, 1, keepdim=True),
            torch.amax(f, -1))


def add_cases(case, simple, Net):
    case("unary_math", "exp, log, neg, abs, sqrt, reciprocal, floor, ceil, sin and cos "
         "standalone, each in its domain (log of exp(x) + x^2 > 0, sqrt of |-x|), on inputs "
         "in (-3, 3); batch 2",
         simple("""
            e = x -> exp
            q = mul(x, x)
            l = add(e, q) -> log
            s = x -> neg -> abs -> sqrt
            r = e -> reciprocal
            f = x -> floor
            c = x -> ceil
            si = x -> sin
            co = x -> cos
            output e, l, s, r, f, c, si, co
         """, (3, 4, 5)),
         lambda: Net([], _unary_all), (3, 4, 5), batch=2, scale=3.0)

    case("unary_fused", "exp and neg fused into the epilogues of a conv2d and a linear at -O2, "
         "abs standalone between them",
         simple("""
            y = c1: conv2d(4, kernel=3, pad=1)
            a = y -> abs -> c2: conv2d(3, kernel=1) -> exp
            b = y -> flatten -> fc: linear(5) -> neg
            output a, b
         """, (2, 4, 4)),
         lambda: Net([("c1", nn.Conv2d(2, 4, 3, padding=1)), ("c2", nn.Conv2d(4, 3, 1)),
                      ("fc", nn.Linear(64, 5))], _unary_fused), (2, 4, 4))

    case("reduce_dims", "sum, mean, amax and amin over one dimension, several, and every "
         "non-batch one (also negative and unordered), keepdim true and false, on [N, C, H, W] "
         "and on a linear's [N, F]; batch 2",
         simple("""
            s1 = x -> sum(1)
            s2 = x -> sum((2, 3), keepdim=true)
            m1 = x -> mean((1, 2, 3))
            m2 = x -> mean(-1, keepdim=true)
            a1 = x -> amax((3, 1))
            a2 = x -> amax((1, 2, 3), keepdim=true)
            n1 = x -> amin(2)
            n2 = x -> amin((-3, -1), keepdim=true)
            f = x -> flatten -> fc: linear(6)
            fs = f -> sum(1, keepdim=true)
            fa = f -> amax(-1)
            output s1, s2, m1, m2, a1, a2, n1, n2, fs, fa
         """, (3, 4, 5)),
         lambda: Net([("fc", nn.Linear(60, 6))], _reduce_dims), (3, 4, 5), batch=2)
