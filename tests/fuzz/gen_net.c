/* gen_net.c - random valid networks for the differential fuzzer.
 *
 *     gen_net SEED DIR
 *
 * Writes a golden-case-shaped directory (tests/run-golden.sh): DIR/net.cnn, a
 * random network that cnnc must accept, with `init he` or `init xavier`
 * weights (so no weights file); DIR/flags, its cnnc options (--batch N); and
 * DIR/input.seed, the f32gen seed of its input. Prints the ops it used, one
 * line, for the driver's coverage count (tests/fuzz/differential.sh).
 *
 * Every op of compiler/ops.h is drawn, with legal but extreme attributes:
 * strides, paddings and dilations up to 2^31 where the output stays small
 * (a conv2d whose taps all fall in the padding), pool padding at half the
 * kernel, ceil_mode windows that start in the padding, transposed convs with
 * output_padding just under the stride or the dilation, groups and depthwise,
 * 1xN images, flat inputs, negative pads, chunks that leave fewer than asked;
 * and half the networks with a conv2d or linear prune some of them (`prune`,
 * fractions or a count, unstructured or structured, once or twice), for the
 * sparse kernels and prune-channels.
 * Tensors stay small (at most MAX_C channels of MAX_HW x MAX_HW, flat ones
 * MAX_F) so that a case runs in well under a second under the sanitizers.
 *
 * The text is a subset of the language that tests/fuzz/torch_ref.py reads:
 * one statement per line, `tN = SOURCE -> LABEL: op(args) -> ...` or
 * `tN = LABEL: op(tA, tB)`, every layer labelled, arguments named (but the
 * tensors of add/mul/sub/concat and pad's four sides), then `output` and
 * `prune` statements.
 * The same SEED always gives the same network (the compiler's documented
 * splitmix64, init_next). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "weights.h"

#define MAX_TENSORS 24
#define MAX_C 12
#define MAX_HW 20
#define MAX_F 400
#define HUGE_COUNT 5

/* Attribute values far past any tensor size, up to the maximum 2^31. */
static const int64_t huge[HUGE_COUNT] = {65537, (int64_t)1 << 30, ((int64_t)1 << 30) + 1,
                                         ((int64_t)1 << 31) - 1, (int64_t)1 << 31};

static InitRng rng;

static int64_t rnd(int64_t n) /* uniform in [0, n) */
{
    return n > 0 ? (int64_t)(init_next(&rng) % (uint64_t)n) : 0;
}

static int64_t range(int64_t lo, int64_t hi) /* uniform in [lo, hi] */
{
    return lo + rnd(hi - lo + 1);
}

static int chance(double p)
{
    return init_uniform(&rng) < p;
}

/* A tensor's shape without the batch: [c, h, w] (rank 4) or [c] (rank 2). */
typedef struct Shape {
    int rank;
    int64_t c, h, w;
} Shape;

static Shape tensors[MAX_TENSORS];
static int ntensors, nlabels;
static StrBuf ops_used;
/* The labels of the conv2d and linear layers written, for `prune`. */
static int prunable[64], nprunable;

static int same_shape(Shape a, Shape b)
{
    return a.rank == b.rank && a.c == b.c && (a.rank == 2 || (a.h == b.h && a.w == b.w));
}

/* An integer attribute, or a pair when the axes differ (sometimes when not). */
static void put_pair(StrBuf *sb, const char *name, int64_t h, int64_t w)
{
    if (h == w && chance(0.7))
        sb_printf(sb, ", %s=%" PRId64, name, h);
    else
        sb_printf(sb, ", %s=(%" PRId64 ", %" PRId64 ")", name, h, w);
}

static const char *boolean(int b)
{
    return b ? "true" : "false";
}

/* ---- window ops: one spatial axis at a time ------------------------------ */

typedef struct Axis {
    int64_t k, s, p, d, op, out;
} Axis;

/* conv2d: out = (n + 2p - d(k-1) - 1) / s + 1, the dilated kernel within the
 * padded input. Extreme draws put a stride, padding or dilation near 2^31. */
static Axis axis_conv(int64_t n)
{
    for (int t = 0; t < 64; t++) {
        Axis a = {range(1, 5), chance(0.3) ? range(2, 3) : 1,
                  range(0, 3), chance(0.2) ? range(2, 3) : 1,
                  0,           0};
        if (chance(0.12)) {
            int64_t h = huge[rnd(HUGE_COUNT)];
            switch (rnd(3)) {
            case 0: /* a stride past the input: one or two output rows */
                a.s = h;
                if (chance(0.5))
                    a.p = huge[rnd(2)];
                break;
            case 1: /* padding so large every tap of the first rows reads zeros */
                a.p = h;
                a.s = huge[rnd(HUGE_COUNT)];
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
    return (Axis){1, 1, 0, 1, 0, n};
}

/* maxpool/avgpool: pad at most half the kernel; ceil_mode drops a last window
 * that would start in the right padding (PyTorch's rule). */
static Axis axis_pool(int64_t n, int dilation, int ceil_mode)
{
    for (int t = 0; t < 64; t++) {
        Axis a = {range(1, 4), 0, 0, dilation && chance(0.3) ? range(2, 3) : 1, 0, 0};
        a.s = chance(0.4) ? a.k : range(1, 3);
        if (chance(0.1))
            a.s = huge[rnd(HUGE_COUNT)];
        a.p = chance(0.5) ? a.k / 2 : range(0, a.k / 2);
        int64_t num = n + 2 * a.p - a.d * (a.k - 1) - 1;
        if (num < 0)
            continue;
        a.out = ceil_mode ? (num + a.s - 1) / a.s + 1 : num / a.s + 1;
        if (ceil_mode && (a.out - 1) * a.s >= n + a.p)
            a.out--;
        if (a.out >= 1 && a.out <= MAX_HW)
            return a;
    }
    return (Axis){1, 1, 0, 1, 0, n};
}

/* conv_transpose2d: out = (n-1)s - 2p + d(k-1) + output_padding + 1, with
 * output_padding below the stride or the dilation. Huge strides only where
 * n = 1 (then the stride never moves), huge dilations with k = 1. */
static Axis axis_convt(int64_t n)
{
    for (int t = 0; t < 64; t++) {
        Axis a = {range(1, 4), range(1, 3), range(0, 2), chance(0.2) ? 2 : 1, 0, 0};
        if (chance(0.15)) {
            if (n == 1 && chance(0.5)) {
                a.s = huge[rnd(HUGE_COUNT)];
            } else {
                a.k = 1;
                a.d = huge[rnd(HUGE_COUNT)];
            }
        }
        int64_t opmax = (a.s > a.d ? a.s : a.d) - 1;
        a.op = chance(0.5) ? (opmax < 3 ? opmax : range(0, 3)) : 0;
        a.out = (n - 1) * a.s - 2 * a.p + a.d * (a.k - 1) + a.op + 1;
        if (a.out >= 1 && a.out <= MAX_HW)
            return a;
    }
    return (Axis){1, 1, 0, 1, 0, n};
}

/* ---- the ops: each appends "op(args)" for input x, or returns 0 ---------- */

typedef int (*GenFn)(StrBuf *sb, const char *op, Shape x, Shape *y);

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
        h = (Axis){k, 1, k / 2, 1, 0, x.h};
        w = (Axis){k, 1, k / 2, 1, 0, x.w};
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
    *y = (Shape){4, out, h.out, w.out};
    return 1;
}

static int gen_pool(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    if (x.rank != 4)
        return 0;
    int max = op[0] == 'm', ceil_mode = chance(0.4);
    Axis h = axis_pool(x.h, max, ceil_mode), w = axis_pool(x.w, max, ceil_mode);
    sb_printf(sb, "%s(kernel=", op);
    if (h.k == w.k)
        sb_printf(sb, "%" PRId64, h.k);
    else
        sb_printf(sb, "(%" PRId64 ", %" PRId64 ")", h.k, w.k);
    put_pair(sb, "stride", h.s, w.s);
    put_pair(sb, "pad", h.p, w.p);
    if (max)
        put_pair(sb, "dilation", h.d, w.d);
    sb_printf(sb, ", ceil_mode=%s", boolean(ceil_mode));
    if (!max)
        sb_printf(sb, ", count_include_pad=%s", boolean(chance(0.5)));
    sb_puts(sb, ")");
    *y = (Shape){4, x.c, h.out, w.out};
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

static int gen_global(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    if (x.rank != 4)
        return 0;
    if (op[0] == 'g') {
        sb_puts(sb, "global_avgpool");
        *y = (Shape){4, x.c, 1, 1};
    } else if (op[0] == 'f') {
        if (x.c * x.h * x.w > MAX_F)
            return 0;
        sb_puts(sb, "flatten");
        *y = (Shape){2, x.c * x.h * x.w, 0, 0};
    } else {
        static const char *const dims[] = {"(2, 3)", "(-2, -1)", "(3, 2)"};
        int keep = chance(0.3);
        sb_printf(sb, "mean(dim=%s, keepdim=%s)", dims[rnd(3)], boolean(keep));
        *y = keep ? (Shape){4, x.c, 1, 1} : (Shape){2, x.c, 0, 0};
    }
    return 1;
}

static int gen_linear(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    (void)op;
    if (x.rank != 2)
        return 0;
    int64_t f = range(1, 12);
    sb_printf(sb, "linear(%" PRId64 ", bias=%s)", f, boolean(chance(0.7)));
    *y = (Shape){2, f, 0, 0};
    return 1;
}

static int gen_softmax(StrBuf *sb, const char *op, Shape x, Shape *y)
{
    (void)op;
    static const int dims4[] = {1, 2, 3, -1, -2, -3}, dims2[] = {1, -1};
    sb_printf(sb, "softmax(dim=%d)", x.rank == 4 ? dims4[rnd(6)] : dims2[rnd(2)]);
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
    *y = (Shape){4, x.c, h, w};
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
    *y = (Shape){4, x.c, x.h + t + b, x.w + l + r};
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

typedef struct OpGen {
    const char *name;
    GenFn fn;
    int weight; /* how often it is drawn, relative to the others */
} OpGen;

/* The ops with one tensor input; add, mul, sub and concat are in gen_multi.
 * The kernels' ops (conv2d's blocked, depthwise, GEMM and sparse kernels,
 * the pools fused into it) are drawn more often. */
static const OpGen unary[] = {
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
    {"mean", gen_global, 1},
    {"upsample", gen_resample, 1},
    {"adaptive_avgpool", gen_resample, 1},
    {"hardswish", gen_plain, 1},
    {"silu", gen_plain, 1},
    {"hardsigmoid", gen_plain, 1},
    {"gelu", gen_plain, 1},
    {"layernorm", gen_norm, 1},
    {"scale", gen_norm, 1},
    {"pad", gen_pad, 1},
    {"channel_shuffle", gen_channels, 1},
    {"narrow", gen_channels, 1},
    {"chunk", gen_channels, 1},
};
#define NUNARY ((int)(sizeof unary / sizeof *unary))

static const OpGen *draw_op(void)
{
    int total = 0;
    for (int i = 0; i < NUNARY; i++)
        total += unary[i].weight;
    int64_t r = rnd(total);
    for (int i = 0;; i++)
        if ((r -= unary[i].weight) < 0)
            return &unary[i];
}

static int fits(Shape s)
{
    return s.c >= 1 && s.c <= (s.rank == 2 ? MAX_F : MAX_C) &&
           (s.rank == 2 || (s.h >= 1 && s.w >= 1 && s.h <= MAX_HW && s.w <= MAX_HW));
}

/* One layer "lN: op(...)" on x into sb; 0 if the drawn op does not apply. */
static int gen_layer(StrBuf *sb, Shape x, Shape *y)
{
    for (int t = 0; t < 32; t++) {
        const OpGen *g = draw_op();
        StrBuf text = {0};
        if (g->fn(&text, g->name, x, y) && fits(*y)) {
            sb_printf(sb, "l%d: %s", ++nlabels, text.data);
            sb_printf(&ops_used, " %s", g->name);
            if ((strcmp(g->name, "conv2d") == 0 || strcmp(g->name, "linear") == 0) &&
                nprunable < (int)(sizeof prunable / sizeof *prunable))
                prunable[nprunable++] = nlabels;
            sb_free(&text);
            return 1;
        }
        sb_free(&text);
    }
    return 0;
}

/* add/mul/sub of two tensors of one shape or [C,1,1] with [C,H,W], or a
 * concat of 2 to 5 with the same rows and columns (repeats allowed). */
static int gen_multi(StrBuf *sb, int a, Shape *y)
{
    static const char *const binary[] = {"add", "mul", "sub"};
    Shape x = tensors[a];
    int cand[MAX_TENSORS], n = 0;
    if (chance(0.6)) {
        for (int i = 0; i < ntensors; i++) {
            Shape s = tensors[i];
            int bcast = s.rank == 4 && x.rank == 4 && s.c == x.c &&
                        ((s.h == 1 && s.w == 1) || (x.h == 1 && x.w == 1));
            if (same_shape(s, x) || bcast)
                cand[n++] = i;
        }
        int b = cand[rnd(n)]; /* x itself is a candidate */
        const char *op = binary[rnd(3)];
        int first = chance(0.5) ? a : b, second = first == a ? b : a;
        sb_printf(sb, "l%d: %s(t%d, t%d)", ++nlabels, op, first, second);
        sb_printf(&ops_used, " %s", op);
        Shape o = tensors[first];
        if (o.rank == 4 && o.h * o.w < tensors[second].h * tensors[second].w)
            o = tensors[second];
        *y = o;
        return 1;
    }
    for (int i = 0; i < ntensors; i++) {
        Shape s = tensors[i];
        if (s.rank == x.rank && (s.rank == 2 || (s.h == x.h && s.w == x.w)))
            cand[n++] = i;
    }
    int k = (int)range(2, 5);
    *y = x;
    y->c = 0;
    sb_printf(sb, "l%d: concat(", ++nlabels);
    for (int i = 0; i < k; i++) {
        int b = i == 0 ? a : cand[rnd(n)];
        sb_printf(sb, "%st%d", i ? ", " : "", b);
        y->c += tensors[b].c;
    }
    sb_puts(sb, ")");
    sb_printf(&ops_used, " concat");
    return fits(*y);
}

/* Sometimes one or two `prune` statements on some conv2d and linear layers or
 * `*`, unstructured or structured, a fraction or (first) a count of one;
 * applied in order, as torch.nn.utils.prune's containers do. */
static void gen_prune(StrBuf *net)
{
    static const char *const amounts[] = {"0.5", "0.3", "0.9", "1.0", "0.0", "0.75"};
    if (nprunable == 0 || !chance(0.5))
        return;
    for (int k = (int)range(1, 2), i = 0; i < k; i++) {
        sb_puts(net, "prune(amount=");
        sb_puts(net, i == 0 && chance(0.2) ? "1" : amounts[rnd(6)]);
        if (chance(0.4))
            sb_puts(net, ", structured=true");
        sb_puts(net, ")");
        if (chance(0.3)) {
            sb_puts(net, " *\n");
            continue;
        }
        int first = 1;
        for (int j = 0; j < nprunable; j++)
            if (chance(0.6) || (first && j == nprunable - 1)) {
                sb_printf(net, "%s l%d", first ? "" : ",", prunable[j]);
                first = 0;
            }
        sb_puts(net, "\n");
    }
    sb_puts(&ops_used, " prune");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "gen_net: cannot write %s\n", path);
        exit(2);
    }
    free(path);
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 3 || !*argv[1]) {
        fprintf(stderr, "usage: gen_net SEED DIR\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], &end, 10);
    if (*end) {
        fprintf(stderr, "gen_net: SEED must be a decimal integer\n");
        return 2;
    }
    rng.state = seed;
    StrBuf net = {0};
    sb_printf(&net, "# gen_net %" PRIu64 " (tests/fuzz/gen_net.c)\nnetwork fz\n", seed);
    Shape in;
    if (chance(0.15)) {
        in = (Shape){2, range(1, 24), 0, 0};
        sb_printf(&net, "input t0[%" PRId64 "]\n", in.c);
    } else {
        int64_t h = chance(0.2) ? 1 : range(1, 12), w = chance(0.2) ? 1 : range(1, 12);
        in = (Shape){4, range(1, 8), h, w};
        sb_printf(&net, "input t0[%" PRId64 ", %" PRId64 ", %" PRId64 "]\n", in.c, in.h, in.w);
    }
    sb_printf(&net, "init %s(seed=%" PRId64 ")\n", chance(0.5) ? "he" : "xavier", rnd(1000000));
    tensors[ntensors++] = in;

    int nstmts = (int)range(1, 9);
    for (int i = 0; i < nstmts && ntensors < MAX_TENSORS; i++) {
        /* mostly the newest tensor, so that networks are deep as well as wide */
        int a = chance(0.6) ? ntensors - 1 : (int)rnd(ntensors);
        StrBuf stmt = {0};
        Shape y;
        size_t used = ops_used.len;
        int pruned = nprunable;
        int ok;
        if (chance(0.2)) {
            ok = gen_multi(&stmt, a, &y);
        } else {
            sb_printf(&stmt, "t%d", a);
            Shape x = tensors[a];
            int k = chance(0.3) ? (int)range(2, 3) : 1;
            ok = 1;
            for (int j = 0; j < k && ok; j++) {
                sb_puts(&stmt, " -> ");
                ok = gen_layer(&stmt, x, &y);
                x = y;
            }
        }
        if (ok) {
            sb_printf(&net, "t%d = %s\n", ntensors, stmt.data);
            tensors[ntensors++] = y;
        } else if (ops_used.data) { /* not written: not used */
            ops_used.len = used;
            ops_used.data[used] = '\0';
            nprunable = pruned;
        }
        sb_free(&stmt);
    }
    if (ntensors == 1) { /* at least one layer */
        sb_printf(&net, "t1 = t0 -> l%d: relu\n", ++nlabels);
        sb_puts(&ops_used, " relu");
        ntensors++;
    }
    if (chance(0.5)) { /* outputs: the last tensor and perhaps others, in any order */
        int outs[3], nouts = 1;
        outs[0] = ntensors - 1;
        for (int k = (int)rnd(3); k > 0; k--) {
            int o = 1 + (int)rnd(ntensors - 1), dup = 0;
            for (int j = 0; j < nouts; j++)
                dup |= outs[j] == o;
            if (!dup)
                outs[nouts++] = o;
        }
        sb_puts(&net, "output");
        for (int j = nouts - 1; j >= 0; j--)
            sb_printf(&net, "%s t%d", j == nouts - 1 ? "" : ",", outs[j]);
        sb_puts(&net, "\n");
    }
    gen_prune(&net);
    write_file(argv[2], "net.cnn", net.data);
    char line[64];
    snprintf(line, sizeof line, "--batch %" PRId64 "\n", chance(0.5) ? 1 : range(2, 3));
    write_file(argv[2], "flags", line);
    snprintf(line, sizeof line, "%" PRIu64 "\n", init_next(&rng));
    write_file(argv[2], "input.seed", line);
    printf("%s\n", ops_used.data ? ops_used.data + 1 : "");
    sb_free(&net);
    sb_free(&ops_used);
    return 0;
}
