/* gen_ops.c - the differential fuzzer's generator of each op: legal but
 * extreme attributes for one input shape (see gen_net.c's comment). Every op
 * of compiler/ops.h is here or in gen_net.c (add, sub, mul, div, maximum,
 * minimum, concat, constant). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gen_net.h"

/* ---- window ops: one spatial axis at a time ------------------------------ */

typedef struct Axis {
    int64_t k, s, p, d, op, out;
    int64_t pe; /* pools: the end side's pad, where it differs (sides) */
} Axis;

/* conv2d: out = (n + 2p - d(k-1) - 1) / s + 1, the dilated kernel within the
 * padded input. Extreme draws put a stride, padding or dilation near 2^31. */
static Axis axis_conv(int64_t n)
{
    for (int t = 0; t < 64; t++) {
        Axis a = {range(1, 5),
                  chance(0.3) ? range(2, 3) : 1,
                  range(0, 3),
                  chance(0.2) ? range(2, 3) : 1,
                  0,
                  0,
                  0};
        if (chance(0.12)) {
            int64_t h = gen_huge[rnd(HUGE_COUNT)];
            switch (rnd(3)) {
            case 0: /* a stride past the input: one or two output rows */
                a.s = h;
                if (chance(0.5))
                    a.p = gen_huge[rnd(2)];
                break;
            case 1: /* padding so large every tap of the first rows reads zeros */
                a.p = h;
                a.s = gen_huge[rnd(HUGE_COUNT)];
                break;
            default: /* a dilation padded up to fit */
                a.d = h;
                a.k = range(2, 3);
                a.p = (a.d * (a.k - 1) + 1 - n + 1) / 2 + rnd(2);
                if (a.p > ((int64_t)1 << 31))
                    continue;
                break;
            }
        }
        int64_t num = n + 2 * a.p - a.d * (a.k - 1) - 1;
        if (num < 0)
            continue;
        a.out = num / a.s + 1;
        if (a.out <= MAX_HW)
            return a;
    }
    return (Axis){1, 1, 0, 1, 0, n, 0};
}

/* maxpool/avgpool: pad at most half the kernel; ceil_mode drops a last window
 * that would start in the right padding (PyTorch's rule). With sides (never
 * with ceil_mode), each side's pad up to kernel - 1, ONNX's pads. */
static Axis axis_pool(int64_t n, int dilation, int ceil_mode, int sides)
{
    for (int t = 0; t < 64; t++) {
        Axis a = {range(1, 4), 0, 0, dilation && chance(0.3) ? range(2, 3) : 1, 0, 0, 0};
        a.s = chance(0.4) ? a.k : range(1, 3);
        if (chance(0.1))
            a.s = gen_huge[rnd(HUGE_COUNT)];
        a.p = chance(0.5) ? a.k / 2 : range(0, a.k / 2);
        a.pe = a.p;
        if (sides) {
            a.p = range(0, a.k - 1);
            a.pe = range(0, a.k - 1);
        }
        int64_t num = n + a.p + a.pe - a.d * (a.k - 1) - 1;
        if (num < 0)
            continue;
        a.out = ceil_mode ? (num + a.s - 1) / a.s + 1 : num / a.s + 1;
        if (ceil_mode && (a.out - 1) * a.s >= n + a.p)
            a.out--;
        if (a.out >= 1 && a.out <= MAX_HW)
            return a;
    }
    return (Axis){1, 1, 0, 1, 0, n, 0};
}

/* conv_transpose2d: out = (n-1)s - 2p + d(k-1) + output_padding + 1, with
 * output_padding below the stride or the dilation. Huge strides only where
 * n = 1 (then the stride never moves), huge dilations with k = 1. */
static Axis axis_convt(int64_t n)
{
    for (int t = 0; t < 64; t++) {
        Axis a = {range(1, 4), range(1, 3), range(0, 2), chance(0.2) ? 2 : 1, 0, 0, 0};
        if (chance(0.15)) {
            if (n == 1 && chance(0.5)) {
                a.s = gen_huge[rnd(HUGE_COUNT)];
            } else {
                a.k = 1;
                a.d = gen_huge[rnd(HUGE_COUNT)];
            }
        }
        int64_t opmax = (a.s > a.d ? a.s : a.d) - 1;
        a.op = chance(0.5) ? (opmax < 3 ? opmax : range(0, 3)) : 0;
        a.out = (n - 1) * a.s - 2 * a.p + a.d * (a.k - 1) + a.op + 1;
        if (a.out >= 1 && a.out <= MAX_HW)
            return a;
    }
    return (Axis){1, 1, 0, 1, 0, n, 0};
}

/* ---- the ops: each appends "op(args)" for input x, or returns 0 ---------- */

static int64_t pick_groups(int64_t c)
{
    int64_t g = range(1, c);
    while (c % g)
        g--;
    return chance(0.3) ? 1 : chance(0.3) ? c : g;
}

static int gen_conv(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    if (x.rank != 4)
        return 0;
    int transpose = op[4] == '_';
    /* up to MAX_C outputs (past 4096 multiply-adds: the blocked, depthwise and
     * GEMM kernels), or a few */
    int64_t g = pick_groups(x.c), out = g * range(1, chance(0.5) || MAX_C / g < 3 ? MAX_C / g : 3);
    Axis h = transpose ? axis_convt(x.h) : axis_conv(x.h);
    Axis w = transpose ? axis_convt(x.w) : axis_conv(x.w);
    if (!transpose && chance(0.3)) { /* a network's conv: 3x3 pad 1 or 1x1, often wide */
        int64_t k = chance(0.7) ? 3 : 1;
        h = (Axis){k, 1, k / 2, 1, 0, x.h, 0};
        w = (Axis){k, 1, k / 2, 1, 0, x.w, 0};
        out = g * range(1, MAX_C / g);
    }
    sb_printf(sb, "%s(%" PRId64, op, out);
    put_pair(sb, "kernel", h.k, w.k);
    put_pair(sb, "stride", h.s, w.s);
    put_pair(sb, "pad", h.p, w.p);
    if (transpose && (h.op || w.op || chance(0.2)))
        put_pair(sb, "output_padding", h.op, w.op);
    put_pair(sb, "dilation", h.d, w.d);
    sb_printf(sb, ", groups=%" PRId64 ", bias=%s)", g, boolean(chance(0.7)));
    *y = (Shape){4, out, h.out, w.out, 0, 0};
    return 1;
}

static int gen_pool(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    if (x.rank != 4)
        return 0;
    int max = op[0] == 'm', ceil_mode = chance(0.4), sides = !ceil_mode && chance(0.3);
    Axis h = axis_pool(x.h, max, ceil_mode, sides), w = axis_pool(x.w, max, ceil_mode, sides);
    sb_printf(sb, "%s(kernel=", op);
    if (h.k == w.k)
        sb_printf(sb, "%" PRId64, h.k);
    else
        sb_printf(sb, "(%" PRId64 ", %" PRId64 ")", h.k, w.k);
    put_pair(sb, "stride", h.s, w.s);
    if (sides)
        sb_printf(sb, ", pad=(%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ")", h.p, w.p, h.pe,
                  w.pe);
    else
        put_pair(sb, "pad", h.p, w.p);
    if (max)
        put_pair(sb, "dilation", h.d, w.d);
    sb_printf(sb, ", ceil_mode=%s", boolean(ceil_mode));
    if (!max)
        sb_printf(sb, ", count_include_pad=%s", boolean(chance(0.5)));
    sb_puts(sb, ")");
    *y = (Shape){4, x.c, h.out, w.out, 0, 0};
    return 1;
}

static int gen_plain(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const char *const slopes[] = {"0.01", "0", "-0.5", "3", "1e-3", "-2.5"};
    static const char *const ps[] = {"0", "0.5", "1", "0.999"};
    sb_puts(sb, op);
    if (strcmp(op, "leaky_relu") == 0 && chance(0.8))
        sb_printf(sb, "(slope=%s)", slopes[rnd(6)]);
    else if (strcmp(op, "gelu") == 0 && chance(0.7))
        sb_printf(sb, "(approximate=\"%s\")", chance(0.5) ? "tanh" : "none");
    else if (strcmp(op, "dropout") == 0 && chance(0.7))
        sb_printf(sb, "(p=%s)", ps[rnd(4)]);
    *y = x;
    return 1;
}

static int gen_norm(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const char *const eps[] = {"1e-5", "0.001", "0.5", "1e-12"};
    if (op[0] == 's')
        sb_printf(sb, "scale(bias=%s)", boolean(chance(0.5)));
    else
        /* layernorm: not 1e-12, where PyTorch's rounding of x - mean is amplified 1e6 times */
        sb_printf(sb, "%s(eps=%s, affine=%s)", op, eps[rnd(op[0] == 'l' ? 3 : 4)],
                  boolean(chance(0.7)));
    *y = x;
    return 1;
}

static int gen_resample(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    if (x.rank != 4)
        return 0;
    int64_t h, w;
    if (op[0] == 'a') { /* adaptive_avgpool: larger or smaller than the input */
        h = range(1, x.h + 3);
        w = chance(0.5) ? h : range(1, x.w + 3);
        sb_puts(sb, "adaptive_avgpool(size=");
        if (h == w && chance(0.5))
            sb_printf(sb, "%" PRId64 ")", h);
        else
            sb_printf(sb, "(%" PRId64 ", %" PRId64 "))", h, w);
    } else if (chance(0.25)) { /* a float scale: floor(in * s), coordinates by 1/s */
        /* 1.1 and 1.3 keep small sizes, 2.2 doubles them: not copies or shifts */
        static const char *const fs[] = {"0.5", "0.75", "1.3", "1.5", "2.5",
                                         "1.0", "0.3",  "1.1", "2.2"};
        static const double fv[] = {0.5, 0.75, 1.3, 1.5, 2.5, 1.0, 0.3, 1.1, 2.2};
        int i = (int)rnd(9);
        h = (int64_t)((double)x.h * fv[i]);
        w = (int64_t)((double)x.w * fv[i]);
        if (h < 1 || w < 1 || h > MAX_HW || w > MAX_HW)
            return 0;
        sb_printf(sb, "upsample(scale=%s, mode=\"%s\")", fs[i],
                  chance(0.5) ? "bilinear" : "nearest");
    } else if (chance(0.5)) {
        int64_t sh = range(1, 3), sw = chance(0.6) ? sh : range(1, 3);
        h = x.h * sh;
        w = x.w * sw;
        if (h > MAX_HW || w > MAX_HW)
            return 0;
        sb_puts(sb, "upsample(");
        if (sh == sw)
            sb_printf(sb, "scale=%" PRId64, sh);
        else
            sb_printf(sb, "scale=(%" PRId64 ", %" PRId64 ")", sh, sw);
        sb_printf(sb, ", mode=\"%s\")", chance(0.5) ? "bilinear" : "nearest");
    } else {
        h = range(1, MAX_HW);
        w = range(1, MAX_HW);
        sb_printf(sb, "upsample(size=(%" PRId64 ", %" PRId64 "), mode=\"%s\")", h, w,
                  chance(0.5) ? "bilinear" : "nearest");
    }
    *y = (Shape){4, x.c, h, w, 0, 0};
    return 1;
}

/* pad: each side from -2 (a crop) to 3, leaving at least one row and column. */
static int gen_pad(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const char *const values[] = {"0", "-1.5", "2", "1e3"};
    (void)op;
    if (x.rank != 4)
        return 0;
    int64_t l = range(-2, 3), r = range(-2, 3), t = range(-2, 3), b = range(-2, 3);
    if (x.w + l + r < 1 || x.h + t + b < 1 || -l >= x.w || -r >= x.w || -t >= x.h || -b >= x.h)
        return 0;
    sb_printf(sb, "pad(%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64, l, r, t, b);
    if (chance(0.5))
        sb_printf(sb, ", value=%s", values[rnd(4)]);
    sb_puts(sb, ")");
    *y = (Shape){4, x.c, x.h + t + b, x.w + l + r, 0, 0};
    return 1;
}

static int gen_channels(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    *y = x;
    if (op[0] == 'c' && op[1] == 'h' && op[2] == 'a') { /* channel_shuffle */
        if (x.rank != 4)
            return 0;
        int64_t g = range(1, x.c);
        while (x.c % g)
            g--;
        sb_printf(sb, "channel_shuffle(groups=%" PRId64 ")", g);
    } else if (op[0] == 'n') {
        int64_t start = rnd(x.c), len = range(1, x.c - start);
        sb_printf(sb, "narrow(start=%" PRId64 ", length=%" PRId64 ")", start, len);
        y->c = len;
    } else { /* chunk: ceil(C/chunks) channels each, perhaps fewer chunks */
        int64_t chunks = range(1, x.c + 2), size = (x.c + chunks - 1) / chunks;
        int64_t n = (x.c + size - 1) / size, index = rnd(n);
        sb_printf(sb, "chunk(chunks=%" PRId64 ", index=%" PRId64 ")", chunks, index);
        y->c = x.c - index * size < size ? x.c - index * size : size;
    }
    return 1;
}

/* global_avgpool, flatten; sum, mean, amax, amin over dims that keep a
 * shape gen_net knows: keepdim, or the plane (rank 4 -> 2) */
static int gen_global(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    if (op[0] == 'g' || op[0] == 'f') {
        if (x.rank != 4)
            return 0;
        if (op[0] == 'g') {
            sb_puts(sb, "global_avgpool");
            *y = (Shape){4, x.c, 1, 1, 0, 0};
            return 1;
        }
        if (x.c * x.h * x.w > MAX_F)
            return 0;
        sb_puts(sb, "flatten");
        *y = (Shape){2, x.c * x.h * x.w, 0, 0, 0, 0};
        return 1;
    }
    if (x.rank == 2) {
        sb_printf(sb, "%s(dim=%s, keepdim=true)", op, chance(0.5) ? "1" : "-1");
        *y = (Shape){2, 1, 0, 0, 0, 0};
        return 1;
    }
    static const char *const plane[] = {"(2, 3)", "(-2, -1)", "(3, 2)"};
    static const char *const kept[] = {"1", "2", "3", "(1, 3)", "(1, 2, 3)", "(-3, 2)"};
    static const int kc[] = {1, 0, 0, 1, 1, 1}, kh[] = {0, 1, 0, 0, 1, 1},
                     kw[] = {0, 0, 1, 1, 1, 0};
    if (chance(0.4)) {
        sb_printf(sb, "%s(dim=%s, keepdim=false)", op, plane[rnd(3)]);
        *y = (Shape){2, x.c, 0, 0, 0, 0};
        return 1;
    }
    int i = (int)rnd(6);
    sb_printf(sb, "%s(dim=%s, keepdim=true)", op, kept[i]);
    *y = (Shape){4, kc[i] ? 1 : x.c, kh[i] ? 1 : x.h, kw[i] ? 1 : x.w, 0, 0};
    return 1;
}

/* linear over the last dimension: [F] or [C, H, W] (then [C, H, features]) */
static int gen_linear(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    (void)op;
    int64_t f = range(1, 12);
    sb_printf(sb, "linear(%" PRId64 ", bias=%s)", f, boolean(chance(0.7)));
    *y = x;
    if (x.rank == 2)
        y->c = f;
    else
        y->w = f;
    return 1;
}

static int gen_softmax(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const int dims4[] = {1, 2, 3, -1, -2, -3}, dims2[] = {1, -1};
    sb_printf(sb, "%s(dim=%d)", op, x.rank == 4 ? dims4[rnd(6)] : dims2[rnd(2)]);
    *y = x;
    return 1;
}

/* the math functions (exp ... cos) and clamp; exp and log outside their
 * comfortable ranges too (log(-1) is NaN, as in PyTorch) */
static int gen_math(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const char *const bounds[] = {"-0.5", "0", "0.25", "1", "-1e3", "6"};
    *y = x;
    if (strcmp(op, "clamp") != 0) {
        sb_puts(sb, op);
        return 1;
    }
    int which = (int)rnd(3); /* both, min only, max only */
    sb_puts(sb, "clamp(");
    if (which != 2)
        sb_printf(sb, "min=%s", bounds[rnd(6)]);
    if (which != 1)
        sb_printf(sb, "%smax=%s", which == 0 ? ", " : "", bounds[rnd(6)]);
    sb_puts(sb, ")");
    return 1;
}

/* permute of [C, H, W] (or the identity of [F]) */
static int gen_permute(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const int perms[6][3] = {{1, 2, 3}, {1, 3, 2}, {2, 1, 3},
                                    {2, 3, 1}, {3, 1, 2}, {3, 2, 1}};
    (void)op;
    *y = x;
    if (x.rank == 2) {
        sb_puts(sb, chance(0.5) ? "permute(0, 1)" : "permute(0, -1)");
        return 1;
    }
    const int *q = perms[rnd(6)];
    int64_t d[4] = {0, x.c, x.h, x.w};
    sb_printf(sb, "permute(0, %d, %d, %d)", q[0], q[1], q[2]);
    *y = (Shape){4, d[q[0]], d[q[1]], d[q[2]], 0, 0};
    return 1;
}

/* reshape: [C, H, W] to [F], to [C, W, H] or [1, C*H, W]; [F] to [F, 1, 1]
 * or [1, a, F/a] */
static int gen_reshape(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    (void)op;
    if (x.rank == 2) {
        int64_t a = range(1, 5);
        if (x.c % a == 0 && x.c / a <= MAX_HW && a <= MAX_HW && chance(0.6)) {
            sb_printf(sb, "reshape(1, %" PRId64 ", -1)", a);
            *y = (Shape){4, 1, a, x.c / a, 0, 0};
        } else {
            sb_printf(sb, "reshape(%" PRId64 ", 1, 1)", x.c);
            *y = (Shape){4, x.c, 1, 1, 0, 0};
        }
        return 1;
    }
    int64_t n = x.c * x.h * x.w;
    switch (rnd(3)) {
    case 0:
        if (n > MAX_F)
            return 0;
        sb_puts(sb, "reshape(-1)");
        *y = (Shape){2, n, 0, 0, 0, 0};
        return 1;
    case 1:
        sb_printf(sb, "reshape(%" PRId64 ", %" PRId64 ", %" PRId64 ")", x.c, x.w, x.h);
        *y = (Shape){4, x.c, x.w, x.h, 0, 0};
        return 1;
    default:
        sb_printf(sb, "reshape(1, -1, %" PRId64 ")", x.w);
        *y = (Shape){4, 1, x.c * x.h, x.w, 0, 0};
        return 1;
    }
}

/* quantize -> (relu | maxpool | nothing) -> dequantize, with scales from
 * coarse to fine and zero points at the ends of quint8 */
static int gen_quant(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    static const char *const scales[] = {"0.05", "0.01", "0.2", "1", "0.0039"};
    static const int zps[] = {128, 0, 255, 7, 100};
    (void)op;
    *y = x;
    sb_printf(sb, "quantize(scale=%s, zero_point=%d)", scales[rnd(5)], zps[rnd(5)]);
    int mid = (int)rnd(3);
    if (mid == 1)
        sb_printf(sb, " -> l%d: relu", gen_label());
    else if (mid == 2 && x.rank == 4 && x.h >= 2 && x.w >= 2) {
        sb_printf(sb, " -> l%d: maxpool(kernel=2)", gen_label());
        y->h = x.h / 2;
        y->w = x.w / 2;
    }
    sb_printf(sb, " -> l%d: dequantize", gen_label());
    return 1;
}

/* The ops with one tensor input. The kernels' ops (conv2d's blocked,
 * depthwise, GEMM and sparse kernels, the pools fused into it) are drawn more
 * often. quantize stands for quantize and dequantize (a pair). */
const OpGen gen_unary[] = {
    {"conv2d", gen_conv, 8},
    {"conv_transpose2d", gen_conv, 2},
    {"batchnorm", gen_norm, 1},
    {"relu", gen_plain, 1},
    {"relu6", gen_plain, 1},
    {"leaky_relu", gen_plain, 1},
    {"sigmoid", gen_plain, 1},
    {"tanh", gen_plain, 1},
    {"maxpool", gen_pool, 2},
    {"avgpool", gen_pool, 2},
    {"global_avgpool", gen_global, 1},
    {"flatten", gen_global, 1},
    {"linear", gen_linear, 2},
    {"dropout", gen_plain, 1},
    {"softmax", gen_softmax, 1},
    {"log_softmax", gen_softmax, 1},
    {"mean", gen_global, 1},
    {"sum", gen_global, 1},
    {"amax", gen_global, 1},
    {"amin", gen_global, 1},
    {"upsample", gen_resample, 1},
    {"adaptive_avgpool", gen_resample, 1},
    {"hardswish", gen_plain, 1},
    {"silu", gen_plain, 1},
    {"hardsigmoid", gen_plain, 1},
    {"gelu", gen_plain, 1},
    {"clamp", gen_math, 1},
    {"exp", gen_math, 1},
    {"log", gen_math, 1},
    {"neg", gen_math, 1},
    {"abs", gen_math, 1},
    {"sqrt", gen_math, 1},
    {"reciprocal", gen_math, 1},
    {"floor", gen_math, 1},
    {"ceil", gen_math, 1},
    {"sin", gen_math, 1},
    {"cos", gen_math, 1},
    {"layernorm", gen_norm, 1},
    {"scale", gen_norm, 1},
    {"pad", gen_pad, 1},
    {"channel_shuffle", gen_channels, 1},
    {"narrow", gen_channels, 1},
    {"chunk", gen_channels, 1},
    {"permute", gen_permute, 1},
    {"reshape", gen_reshape, 1},
    {"quantize", gen_quant, 1},
};
const int gen_nunary = (int)(sizeof gen_unary / sizeof *gen_unary);
