"""Golden cases for issue 16's activation, Gemm and Resize modes (clamp,
hardsigmoid(alpha, beta), linear(alpha, beta), upsample's coordinate and
rounding modes), imported by gen_golden.py, which calls add_cases().

Expected outputs come from PyTorch where it has the op (torch.clamp,
torch.addmm, F.interpolate); where it has no such mode the case's
description says so and the reference is numpy following the ONNX spec's
formula in float32, as ONNX's reference implementation computes it."""

import numpy as np
import torch
import torch.nn as nn


class Fn(nn.Module):
    """A module without parameters computing fn(x)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _numpy(fn):
    """fn on the numpy float32 array of x, back as a tensor (ONNX references)."""
    return lambda x: torch.from_numpy(np.ascontiguousarray(fn(x.numpy()), dtype=np.float32))


def add_cases(case, simple, seq, Net, act_shape):
    # ---- clamp: torch.clamp(x, min, max), either bound optional
    def clamps(L, x):
        return (torch.clamp(x, -1.5, 2.25), torch.clamp(x, max=0.5), torch.clamp(x, min=-0.25),
                torch.clamp(x, 1.0, -1.0))

    case("act_clamp", "clamp(min=-1.5, max=2.25), clamp(max=0.5), clamp(min=-0.25) and "
         "clamp(1, -1) (min > max: every value is max, as torch.clamp), applied to the input, "
         "four outputs, batch 2",
         simple("""
            a = clamp(min=-1.5, max=2.25)
            b = x -> clamp(max=0.5)
            c = x -> clamp(min=-0.25)
            d = x -> clamp(1, -1)
            output a, b, c, d
         """, act_shape), lambda: Net([], clamps), act_shape, scale=3.0, batch=2)

    case("act_clamp_layers", "clamp after conv2d (fused), after conv2d before maxpool (both "
         "fused: max commutes with clamp), after linear (fused)",
         simple("""
            c1: conv2d(6, kernel=3, pad=1) -> clamp(min=-0.5, max=0.75)
            c2: conv2d(4, kernel=3, pad=1) -> clamp(max=0.3) -> maxpool(2)
            flatten
            fc: linear(8) -> clamp(min=0.1)
         """, (3, 6, 6)),
         lambda: seq(("c1", nn.Conv2d(3, 6, 3, padding=1)), ("a1", Fn(lambda x: x.clamp(-0.5, 0.75))),
                     ("c2", nn.Conv2d(6, 4, 3, padding=1)), ("a2", Fn(lambda x: x.clamp(max=0.3))),
                     ("p", nn.MaxPool2d(2)), ("f", nn.Flatten()), ("fc", nn.Linear(36, 8)),
                     ("a3", Fn(lambda x: x.clamp(min=0.1)))),
         (3, 6, 6), scale=3.0)
