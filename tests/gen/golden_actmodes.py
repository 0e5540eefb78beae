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

    # ---- hardsigmoid(alpha=, beta=): ONNX's HardSigmoid; PyTorch has no such
    # op, so the reference is ONNX's own, np.clip(x * alpha + beta, 0, 1) in
    # float32
    def hsig(alpha, beta):
        a, b = np.float32(alpha), np.float32(beta)
        return _numpy(lambda x: np.clip(x * a + b, np.float32(0), np.float32(1)))

    def hsigs(L, x):
        return (hsig(0.2, 0.5)(x), hsig(0.5, 0.6)(x), hsig(1 / 6, 0.25)(x), hsig(-0.3, 0.1)(x))

    case("act_hardsigmoid_alpha_beta", "hardsigmoid(alpha=0.2) (ONNX's default), "
         "hardsigmoid(alpha=0.5, beta=0.6), hardsigmoid(beta=0.25) (alpha 1/6) and "
         "hardsigmoid(alpha=-0.3, beta=0.1): ONNX's max(0, min(1, alpha*x + beta)); reference "
         "numpy as ONNX's reference implementation computes it in float32 (PyTorch has no "
         "alpha/beta); four outputs, batch 2",
         simple("""
            a = hardsigmoid(alpha=0.2)
            b = x -> hardsigmoid(alpha=0.5, beta=0.6)
            c = x -> hardsigmoid(beta=0.25)
            d = x -> hardsigmoid(alpha=-0.3, beta=0.1)
            output a, b, c, d
         """, act_shape), lambda: Net([], hsigs), act_shape, scale=3.0, batch=2)

    case("act_hardsigmoid_alpha_beta_layers", "hardsigmoid(alpha=0.2) fused into conv2d and "
         "hardsigmoid(alpha=0.5, beta=0.6) into linear; the activations' reference is numpy as "
         "ONNX's reference computes them (float32), the layers PyTorch's",
         simple("""
            c1: conv2d(6, kernel=3, pad=1) -> hardsigmoid(alpha=0.2)
            flatten
            fc: linear(8) -> hardsigmoid(alpha=0.5, beta=0.6)
         """, (3, 5, 5)),
         lambda: seq(("c1", nn.Conv2d(3, 6, 3, padding=1)), ("a1", Fn(hsig(0.2, 0.5))),
                     ("f", nn.Flatten()), ("fc", nn.Linear(150, 8)), ("a2", Fn(hsig(0.5, 0.6)))),
         (3, 5, 5), scale=3.0)

    # ---- linear(alpha=, beta=): torch.addmm(bias, x, W^T, beta=beta, alpha=alpha),
    # ONNX's Gemm alpha * (A B) + beta * C
    def addmm(*specs):
        def fwd(L, x):
            for name, alpha, beta, act in specs:
                fc = L(name)
                if fc.bias is None:
                    x = alpha * (x @ fc.weight.t())
                else:
                    x = torch.addmm(fc.bias, x, fc.weight.t(), beta=beta, alpha=alpha)
                x = act(x) if act else x
            return x
        return fwd

    case("linear_alpha_beta", "linear(alpha=0.5, beta=2) (a GEMM at batch 3), linear(alpha=-1.5) "
         "with the default beta, linear(beta=0.25), linear(alpha=3, bias=false), then "
         "linear(alpha=0.5, beta=-1) with relu fused: torch.addmm(bias, x, W^T, beta, alpha)",
         simple("""
            fc1: linear(12, alpha=0.5, beta=2.0)
            fc2: linear(10, alpha=-1.5)
            fc3: linear(9, beta=0.25)
            fc4: linear(8, alpha=3, bias=false)
            fc5: linear(6, alpha=0.5, beta=-1) -> relu
         """, (7,)),
         lambda: Net([("fc1", nn.Linear(7, 12)), ("fc2", nn.Linear(12, 10)),
                      ("fc3", nn.Linear(10, 9)), ("fc4", nn.Linear(9, 8, bias=False)),
                      ("fc5", nn.Linear(8, 6))],
                     addmm(("fc1", 0.5, 2.0, None), ("fc2", -1.5, 1.0, None),
                           ("fc3", 1.0, 0.25, None), ("fc4", 3.0, 1.0, None),
                           ("fc5", 0.5, -1.0, torch.relu))),
         (7,), batch=3)

    case("linear_alpha_beta_gemv", "linear(alpha=0.5, beta=2) at batch 1 (a GEMV), then a "
         "batchnorm, which is not folded into it (alpha and beta scale product and bias apart)",
         simple("""
            fc1: linear(12, alpha=0.5, beta=2.0) -> bn: batchnorm
         """, (7,)),
         lambda: Net([("fc1", nn.Linear(7, 12)), ("bn", nn.BatchNorm1d(12))],
                     lambda L, x: L("bn")(torch.addmm(L("fc1").bias, x, L("fc1").weight.t(),
                                                      beta=2.0, alpha=0.5))),
         (7,))

    # ---- upsample: a float scale, coordinate and rounding modes
    F = torch.nn.functional

    def interp(outs):
        return lambda: Net([], lambda L, x: tuple(F.interpolate(x, **kw) for kw in outs))

    # three outputs: two sizes and a scale, with the same mode arguments
    for nm, covers, shape, args, kw, (s1, s2, k) in [
        ("up_align_corners", "upsample(mode=\"bilinear\", coord=\"align_corners\") by size "
         "5x7 -> 8x12 and 5x7 -> 3x9, and by scale 2: F.interpolate(align_corners=True); three "
         "outputs, batch 2", (2, 5, 7), 'mode="bilinear", coord="align_corners"',
         dict(mode="bilinear", align_corners=True), ((8, 12), (3, 9), 2)),
        ("up_nearest_exact", "upsample(coord=\"half_pixel\", round=\"round_prefer_ceil\") "
         "(nearest): PyTorch's mode=\"nearest-exact\", by size 5x6 -> 8x9 and 5x6 -> 3x4 and "
         "by scale 3; three outputs, batch 2", (2, 5, 6),
         'coord="half_pixel", round="round_prefer_ceil"', dict(mode="nearest-exact"),
         ((8, 9), (3, 4), 3)),
    ]:
        case(nm, covers,
             simple("""
                y = upsample(size=%s, %s)
                z = x -> upsample(size=%s, %s)
                u = x -> upsample(scale=%d, %s)
                output y, z, u
             """ % (s1, args, s2, args, k, args), shape),
             interp([dict(size=s1, **kw), dict(size=s2, **kw), dict(scale_factor=k, **kw)]),
             shape, batch=2)

    case("up_float_scale", "upsample(scale=0.6) and upsample(scale=2.5) nearest and bilinear, "
         "PyTorch's formulas: nn.Upsample(scale_factor=...) (size floor(in * scale), "
         "coordinates by 1/scale); four outputs",
         simple("""
            a = upsample(scale=0.6)
            b = x -> upsample(scale=2.5)
            c = x -> upsample(scale=0.6, mode="bilinear")
            d = x -> upsample(scale=2.5, mode="bilinear")
            output a, b, c, d
         """, (2, 5, 7)),
         interp([dict(scale_factor=0.6), dict(scale_factor=2.5),
                 dict(scale_factor=0.6, mode="bilinear"), dict(scale_factor=2.5, mode="bilinear")]),
         (2, 5, 7))

    # ONNX's Resize by its spec (and ONNX 1.12's reference implementation):
    # the source coordinate in double, nearest by the rounding mode or
    # linear between floor and floor + 1, indices clamped; PyTorch has no
    # such modes
    def onnx_axis(n_in, n_out, scale, coord, rnd, linear):
        s = float(scale) if scale else n_out / n_in
        O = s * n_in
        idx0, idx1, lam = [], [], []
        for x in range(n_out):
            if coord == "half_pixel":
                xo = (x + 0.5) / s - 0.5
            elif coord == "pytorch_half_pixel":
                xo = -0.5 if O == 1 else (x + 0.5) / s - 0.5
            elif coord == "align_corners":
                xo = 0.0 if O == 1 else x * (n_in - 1) / (O - 1)
            elif coord == "asymmetric":
                xo = x / s
            else:  # tf_half_pixel_for_nn
                xo = (x + 0.5) / s
            fl = np.floor(xo)
            f = xo - fl
            up = {"round_prefer_floor": f > 0.5, "round_prefer_ceil": f >= 0.5,
                  "floor": False, "ceil": f > 0}[rnd] if not linear else False
            i0 = int(min(max(fl + up, 0), n_in - 1))
            idx0.append(i0)
            idx1.append(int(min(max(fl + 1, 0), n_in - 1)))
            lam.append(f)
        return np.array(idx0), np.array(idx1), np.array(lam)

    def onnx_resize(size=None, scale=None, coord="half_pixel", rnd="round_prefer_floor",
                    linear=False):
        def fn(x):
            H, W = x.shape[2:]
            OH, OW = size if size else (int(np.floor(H * float(scale))),
                                        int(np.floor(W * float(scale))))
            h0, h1, lh = onnx_axis(H, OH, scale, coord, rnd, linear)
            w0, w1, lw = onnx_axis(W, OW, scale, coord, rnd, linear)
            x = x.astype(np.float64)
            if not linear:
                return x[:, :, h0][:, :, :, w0]
            rows = x[:, :, h0] * (1 - lh)[:, None] + x[:, :, h1] * lh[:, None]
            return rows[:, :, :, w0] * (1 - lw) + rows[:, :, :, w1] * lw
        return _numpy(fn)

    def onnx_modes(L, x):
        return (onnx_resize((10, 9), None, "asymmetric", "round_prefer_ceil")(x),
                onnx_resize((3, 5), None, "tf_half_pixel_for_nn")(x),
                onnx_resize((10, 14), None, "align_corners", "floor")(x),
                onnx_resize((9, 11), None, "half_pixel", "ceil")(x),
                onnx_resize((1, 3), None, "pytorch_half_pixel", linear=True)(x),
                onnx_resize(None, np.float32(0.6), "half_pixel", linear=True)(x),
                onnx_resize(None, np.float32(0.6), "asymmetric", "floor")(x),
                onnx_resize((3, 4), None, "asymmetric", linear=True)(x))

    case("up_onnx_modes", "upsample with ONNX Resize's modes: asymmetric + round_prefer_ceil, "
         "tf_half_pixel_for_nn (round_prefer_floor), align_corners + floor, half_pixel + ceil "
         "(nearest); pytorch_half_pixel to a size of 1 (coordinate -0.5), a float scale 0.6 "
         "(float32's, coordinates by 1/scale) half_pixel, asymmetric (bilinear); nearest "
         "asymmetric + floor by scale 0.6. Reference: numpy following the ONNX spec (as ONNX "
         "1.12's reference implementation, in double); eight outputs, batch 2",
         simple("""
            a = upsample(size=(10, 9), coord="asymmetric", round="round_prefer_ceil")
            b = x -> upsample(size=(3, 5), coord="tf_half_pixel_for_nn")
            c = x -> upsample(size=(10, 14), coord="align_corners", round="floor")
            d = x -> upsample(size=(9, 11), coord="half_pixel", round="ceil")
            e = x -> upsample(size=(1, 3), mode="bilinear", coord="pytorch_half_pixel")
            f = x -> upsample(scale=0.6000000238418579, mode="bilinear", coord="half_pixel")
            g = x -> upsample(scale=0.6000000238418579, coord="asymmetric", round="floor")
            h = x -> upsample(size=(3, 4), mode="bilinear", coord="asymmetric")
            output a, b, c, d, e, f, g, h
         """, (2, 5, 7)), lambda: Net([], onnx_modes), (2, 5, 7), batch=2)

    # ---- log_softmax: nn.LogSoftmax(dim)
    case("log_softmax_dims", "log_softmax over the channels (dim=1, the default), over H "
         "(dim=2) and over W (dim=-1) of [N, C, H, W], and over the features after a linear; "
         "inputs spanning +-9 (saturated exponents), batch 2",
         simple("""
            a = log_softmax
            b = x -> log_softmax(dim=2)
            c = x -> log_softmax(-1)
            d = x -> flatten -> fc: linear(5) -> log_softmax
            output a, b, c, d
         """, (3, 4, 5)),
         lambda: Net([("fc", nn.Linear(60, 5))],
                     lambda L, x: (torch.log_softmax(x, 1), torch.log_softmax(x, 2),
                                   torch.log_softmax(x, -1),
                                   torch.log_softmax(L("fc")(x.flatten(1)), 1))),
         (3, 4, 5), scale=3.0, batch=2)
