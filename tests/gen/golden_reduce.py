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
