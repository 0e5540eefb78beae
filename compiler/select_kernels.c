/* select_kernels.c - choose how each layer is computed, from its fixed shape.
 *
 * conv2d, in this order (docs/kernels.md has the measurements behind each rule):
 *   - fewer than DIRECT_MAX_MACS multiply-adds: plain direct loops;
 *   - one input and one output channel per group (depthwise): KERNEL_DEPTHWISE,
 *     rows of outputs as vectors (emit_conv.c);
 *   - 1x1, stride 1, unpadded (pointwise) with at least GEMM_MIN_OUTPUTS
 *     outputs and fewer than POINTWISE_BLOCKED_CIN input channels per
 *     group: KERNEL_GEMM, a matrix product on the NCHW input as it is
 *     (OpenBLAS, no copy);
 *   - everything else (any KxK, stride, dilation, padding, groups):
 *     KERNEL_BLOCKED, the register-blocked direct kernel of emit_conv.c.
 *     It replaced im2col + GEMM, which it beats on every measured layer
 *     (no unfolding, no multiply-adds on padding, no packing per call).
 * A quantized conv2d or linear (quint8 input, emit_quant.c) is KERNEL_QDOT: its input
 * unfolded to bytes in scratch, then u8 x s8 dot products; direct loops
 * where the scratch would pass QDOT_MAX_SCRATCH or an int32 sum could
 * overflow. The other quantized layers are direct loops.
 * linear is a GEMM (a GEMV at batch 1). The choice is recorded in the IR so
 * the memory planner can reserve the scratch and the emitter can print the
 * matching code.
 *
 * A conv2d with a fused pool (fuse_pool.c) works in bands of pooled rows:
 * its scratch holds one band's conv output (and for im2col its unfolded
 * input), never the whole image. A band is
 *   - at most half the pooled rows: a band covering the whole image would
 *     need as much scratch as the unfused unfolding plus conv output it
 *     replaces, and the pooled output would come on top;
 *   - within that, at least BAND_MIN_COLS GEMM columns wide: each call packs
 *     the whole weight matrix and unfolds each kernel tap once, costs that
 *     only wide products amortise (cifar_vgg with 64-column bands ran 27%
 *     slower than unfused, with 256 columns 9% faster);
 *   - and taller still while its scratch fits BAND_BYTES.
 * Both limits are build-time knobs: make CFLAGS="-O2 -DBAND_MIN_COLS=512".
 *
 * The data layouts these kernels imply (kernels.h) are computed here too:
 * the blocked conv's blocks and packed weights, the sparse conv's input. */
#include "kernels.h"

#include <string.h>

#include "opdef.h"

/* Below this many multiply-adds a layer is plain loops: any kernel's set-up
 * (a GEMM call, a row of accumulators) would cost more than it saves. */
#define DIRECT_MAX_MACS 4096
/* A 1x1, stride-1, unpadded convolution is a GEMM on the input as it is; it
 * goes to the GEMM (OpenBLAS) when the product has at least this many
 * outputs, the blocked kernel otherwise (measured in docs/kernels.md). */
#ifndef GEMM_MIN_OUTPUTS
#define GEMM_MIN_OUTPUTS 0
#endif
/* A pointwise conv with at least this many input channels per group goes
 * to the blocked kernel (its per-set register tiles) rather than OpenBLAS:
 * on MobileNet-v2 at plain cc -O2 its layers with 16 to 320 input channels
 * ran 1.1-4x faster in the tiles (docs/kernels.md); below 16, not
 * measured, a tile does few multiply-adds per store and OpenBLAS keeps them.
 * -DPOINTWISE_BLOCKED_CIN=1000000000 sends every pointwise conv to the GEMM. */
#ifndef POINTWISE_BLOCKED_CIN
#define POINTWISE_BLOCKED_CIN 16
#endif
/* 0 brings back im2col + GEMM for the convolutions the blocked kernel takes,
 * for comparisons: make CFLAGS="-O2 -DBLOCKED_CONV=0". */
#ifndef BLOCKED_CONV
#define BLOCKED_CONV 1
#endif
/* Bands of a GEMM conv with a fused pool: least GEMM columns, scratch budget. */
#ifndef BAND_MIN_COLS
#define BAND_MIN_COLS 256
#endif
#ifndef BAND_BYTES
#define BAND_BYTES (32 * 1024)
#endif

static int64_t round16(int64_t floats)
{
    return (floats + 15) / 16 * 16;
}

/* Most conv rows the windows of `rows` consecutive pooled rows can read. */
static int64_t band_conv_rows(const Node *n, int64_t rows, int64_t conv_h)
{
    const Attrs *p = &n->fuse.pool_a;
    int64_t need = (rows - 1) * p->sh + (p->kh - 1) * p->dh + 1;
    return need < conv_h ? need : conv_h;
}

/* Scratch of one band: unfolded input (im2col only, rounded to 64 bytes) and
 * the conv output of one group, for `span` conv rows. */
static int64_t band_bytes(const Node *n, int64_t span, int64_t conv_w)
{
    int64_t cin_g = n->in[0]->dims[1] / n->a.groups, cout_g = n->a.channels / n->a.groups;
    int64_t col = 0;
    if (n->kernel == KERNEL_IM2COL)
        col = round16(cin_g * n->a.kh * n->a.kw * span * conv_w);
    return (col + cout_g * span * conv_w) * (int64_t)sizeof(float);
}

static void plan_bands(Node *n, int64_t conv_h, int64_t conv_w)
{
    int64_t pooled_h = n->out->dims[2], rows = 1;
    int64_t max_rows = pooled_h > 1 ? (pooled_h + 1) / 2 : 1;
    while (rows < max_rows) {
        bool narrow = band_conv_rows(n, rows, conv_h) * conv_w < BAND_MIN_COLS;
        bool fits = band_bytes(n, band_conv_rows(n, rows + 1, conv_h), conv_w) <= BAND_BYTES;
        if (!narrow && !fits)
            break;
        rows++;
    }
    n->fuse.band_rows = rows;
    n->fuse.band_conv_rows = band_conv_rows(n, rows, conv_h);
    n->scratch_bytes = band_bytes(n, n->fuse.band_conv_rows, conv_w);
}

static void select_conv(Node *n)
{
    const Attrs *a = &n->a;
    const Tensor *in = n->in[0];
    int64_t cin_g = in->dims[1] / a->groups, cout_g = a->channels / a->groups, oh, ow;
    ir_conv_out_hw(n, &oh, &ow);
    int64_t macs_per_group = cout_g * cin_g * a->kh * a->kw * oh * ow;
    n->kernel = KERNEL_DIRECT;
    n->scratch_bytes = 0;
    n->fuse.band_rows = n->fuse.band_conv_rows = 0;
    /* an attribute near 2^31: only the direct loops compute in long long */
    if (macs_per_group * a->groups < DIRECT_MAX_MACS ||
        !ir_window_fits_int(a, in->dims[2], in->dims[3]))
        return;
    bool pointwise = a->kh == 1 && a->kw == 1 && a->sh == 1 && a->sw == 1 && a->ph == 0 &&
                     a->pw == 0 && a->pb == 0 && a->pr == 0;
    if (cin_g == 1 && cout_g == 1)
        n->kernel = KERNEL_DEPTHWISE;
    else if (pointwise && cout_g * oh * ow >= GEMM_MIN_OUTPUTS && cin_g < POINTWISE_BLOCKED_CIN)
        n->kernel = KERNEL_GEMM;
    else
        n->kernel = BLOCKED_CONV ? KERNEL_BLOCKED : pointwise ? KERNEL_GEMM : KERNEL_IM2COL;
    if (n->fuse.pool)
        plan_bands(n, oh, ow);
    else if (n->kernel == KERNEL_IM2COL)
        n->scratch_bytes = cin_g * a->kh * a->kw * oh * ow * (int64_t)sizeof(float);
}

/* ---- sparse kernels ---------------------------------------------------------
 *
 * A conv2d or linear whose weights are mostly zero (magnitude pruning,
 * prune_weights.c, or a pruned state_dict) runs on KERNEL_SPARSE: per output
 * channel, a compile-time list of its nonzero weights (emit_sparse.c,
 * emit_conv_sparse / emit_linear_sparse), so zeros cost nothing. The list
 * costs an offset per weight, the kernel does a multiply and an add per
 * weight (no FMA) and is serial, so it wins only from some fraction of zeros
 * on, against the kernel the layer would otherwise get. Measured
 * (docs/optimizer.md, "Sparse kernels"; CPU time, gcc -O3 -march=native,
 * one layer per program, weights pruned with prune(amount=Z) *), the sparse
 * conv's time follows its work over the blocks it sweeps (its plane: the
 * output rows at the padded width, rounded up to a block), so a conv goes
 * sparse when
 *     nonzero fraction x plane / outputs <= F
 * with F the measured break-even, conservatively rounded, by the dense
 * kernel and the taps K = input channels per group x KH x KW behind each
 * output:
 *   - KERNEL_BLOCKED, stride 1: 0.60 for K < 32 (measured 0.60-1.1: 1 and 3
 *     input channels), 0.30 for K < 512 (0.31), 0.17 above (0.17-0.23 on
 *     resnet18's 3x3 layers, where the blocked kernel runs near the FMA
 *     peak);
 *   - KERNEL_BLOCKED with a stride: 0.17 (0.17-0.18; the sparse kernel
 *     first splits the input into phases);
 *   - KERNEL_GEMM (1x1, stride 1): 0.33 (0.33-0.43);
 *   - KERNEL_DEPTHWISE: never; the sparse kernel was slower at every
 *     fraction measured up to 95% zeros, by 1.1x-3.6x, except on 7x7 planes
 *     from 80% (9-20% faster), not worth a rule;
 * a direct-loop conv (fewer than DIRECT_MAX_MACS) goes sparse from 10%
 * zeros; a linear from 90% zeros (measured 88-90%: a gather per weight
 * against OpenBLAS's streaming GEMV). --sparse-min=Z replaces all this with
 * "at least Z zeros" (select_kernels' sparse_min). */

#ifndef SPARSE_F_FEW_TAPS
#define SPARSE_F_FEW_TAPS 0.60
#endif
#ifndef SPARSE_F_SMALL
#define SPARSE_F_SMALL 0.30
#endif
#ifndef SPARSE_F_LARGE
#define SPARSE_F_LARGE 0.17
#endif
#ifndef SPARSE_FEW_TAPS
#define SPARSE_FEW_TAPS 32
#endif
#ifndef SPARSE_LARGE_TAPS
#define SPARSE_LARGE_TAPS 512
#endif
#ifndef SPARSE_F_POINTWISE
#define SPARSE_F_POINTWISE 0.33
#endif
#ifndef SPARSE_F_STRIDED
#define SPARSE_F_STRIDED 0.17
#endif
#ifndef SPARSE_MIN_DIRECT
#define SPARSE_MIN_DIRECT 0.10
#endif
#ifndef SPARSE_MIN_LINEAR
#define SPARSE_MIN_LINEAR 0.90
#endif

/* Relative cost per computed value of blocks of 16 and 8 against 32. */
#ifndef SPARSE_COST16
#define SPARSE_COST16 1.06
#endif
#ifndef SPARSE_COST8
#define SPARSE_COST8 1.4
#endif

static int64_t round_up(int64_t v, int64_t to)
{
    return (v + to - 1) / to * to;
}

/* Values computed per block: 32 amortise each weight's offset and value
 * loads best, but a block that mostly overhangs a small plane wastes the
 * overhang, so 16 or 8 are taken where they cover the plane more tightly,
 * weighted by their measured cost per value. */
static int sparse_block(int64_t values)
{
#ifdef SPARSE_FORCE_BLOCK
    (void)values;
    return SPARSE_FORCE_BLOCK;
#else
    static const int blocks[] = {32, 16, 8};
    static const double cost[] = {1.0, SPARSE_COST16, SPARSE_COST8};
    int best = 0;
    for (int i = 1; i < 3; i++)
        if ((double)round_up(values, blocks[i]) * cost[i] <
            (double)round_up(values, blocks[best]) * cost[best])
            best = i;
    return blocks[best];
#endif
}

void sparse_conv_layout(const Node *n, SparseConv *sc)
{
    const Attrs *a = &n->a;
    const Tensor *in = n->in[0];
    int64_t oh, ow, c = in->dims[1];
    ir_conv_out_hw(n, &oh, &ow);
    sc->hq = (in->dims[2] + a->ph + a->pb + a->sh - 1) / a->sh;
    sc->wq = (in->dims[3] + a->pw + a->pr + a->sw - 1) / a->sw;
    sc->block = sparse_block(oh * sc->wq);
    sc->plane = round_up(oh * sc->wq, sc->block);
    /* all phases, and as far as the farthest tap of any phase is read from
     * the last block position */
    int64_t reach = a->sh * a->sw * c * sc->hq * sc->wq, cin_g = c / a->groups;
    for (int64_t k = 0; k < a->kh * a->kw; k++) {
        int64_t r = sparse_conv_offset(n, sc, a->channels - 1, (cin_g - 1) * a->kh * a->kw + k);
        reach = r + sc->plane > reach ? r + sc->plane : reach;
    }
    sc->xp = round16(reach);
}

int64_t sparse_conv_offset(const Node *n, const SparseConv *sc, int64_t co, int64_t col)
{
    const Attrs *a = &n->a;
    int64_t c = n->in[0]->dims[1], cin_g = c / a->groups, cout_g = a->channels / a->groups;
    int64_t ci = co / cout_g * cin_g + col / (a->kh * a->kw);
    int64_t y = col / a->kw % a->kh * a->dh, x = col % a->kw * a->dw;
    int64_t phase = y % a->sh * a->sw + x % a->sw;
    return ((phase * c + ci) * sc->hq + y / a->sh) * sc->wq + x / a->sw;
}

/* Scratch of a sparse conv: its plane and padded input (SparseConv). */
static int64_t sparse_scratch(const Node *n)
{
    if (n->op != OP_CONV2D)
        return 0;
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    return (sc.plane + sc.xp) * (int64_t)sizeof(float);
}

static double zero_fraction(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    if (!w || !w->data)
        return 0.0;
    return (double)ir_const_zeros(w) / (double)ir_numel(w->rank, w->dims);
}

/* Whether the sparse kernel beats the dense one the node has (see above). */
static bool sparse_wins(const Node *n)
{
    double zeros = zero_fraction(n);
    if (n->op == OP_LINEAR)
        return zeros >= SPARSE_MIN_LINEAR;
    if (n->kernel == KERNEL_DIRECT)
        return zeros >= SPARSE_MIN_DIRECT;
    if (n->kernel == KERNEL_DEPTHWISE)
        return false;
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    int64_t oh, ow;
    ir_conv_out_hw(n, &oh, &ow);
    double work = (1.0 - zeros) * (double)sc.plane / (double)(oh * ow);
    int64_t taps = n->in[0]->dims[1] / n->a.groups * n->a.kh * n->a.kw;
    double f = SPARSE_F_LARGE;
    if (n->kernel == KERNEL_GEMM)
        f = SPARSE_F_POINTWISE;
    else if (n->a.sh > 1 || n->a.sw > 1)
        f = SPARSE_F_STRIDED;
    else if (taps < SPARSE_FEW_TAPS)
        f = SPARSE_F_FEW_TAPS;
    else if (taps < SPARSE_LARGE_TAPS)
        f = SPARSE_F_SMALL;
    return work <= f;
}

/* The kernel's tables and offsets are C ints: every index must fit one. */
static bool sparse_fits(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    if (!w || !w->data)
        return false;
    int64_t limit = INT32_MAX, words = ir_numel(w->rank, w->dims) * 2 + n->a.channels + 1;
    if (words >= limit)
        return false;
    if (n->op == OP_LINEAR)
        return true;
    /* The phases (stride_h * stride_w of them) must fit before the layout is
     * computed: with strides near 2^31 their product times the input would
     * overflow 64 bits. A product of integers below 2^53 is exact in a double. */
    const Attrs *a = &n->a;
    const Tensor *in = n->in[0];
    double hq = (double)((in->dims[2] + a->ph + a->pb + a->sh - 1) / a->sh);
    double wq = (double)((in->dims[3] + a->pw + a->pr + a->sw - 1) / a->sw);
    if ((double)a->sh * (double)a->sw * (double)in->dims[1] * hq * wq >= (double)limit)
        return false;
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    return sc.xp + sc.plane < limit;
}

static void select_sparse(Node *n, double sparse_min)
{
    if ((n->op != OP_CONV2D && n->op != OP_LINEAR) || !sparse_fits(n))
        return;
    if (sparse_min >= 0 ? zero_fraction(n) < sparse_min : !sparse_wins(n))
        return;
    n->kernel = KERNEL_SPARSE;
    n->scratch_bytes = sparse_scratch(n);
    n->fuse.band_rows = n->fuse.band_conv_rows = 0;
}

/* The most bytes a quantized conv2d's unfolded input may take. */
#ifndef QDOT_MAX_SCRATCH
#define QDOT_MAX_SCRATCH ((int64_t)1 << 26)
#endif

/* A quantized conv2d of one group (KERNEL_QCONV) or depthwise with one
 * output per channel (KERNEL_QDW), one stride for both axes, whose int32
 * sums cannot overflow and whose packed input fits QDOT_MAX_SCRATCH. */
static bool select_qfast(Node *n)
{
    int64_t C = n->in[0]->dims[1], OC = n->out->dims[1], G = n->a.groups;
    bool dw = G > 1 && G == C && OC == C;
    if ((G != 1 && !dw) || n->a.sh != n->a.sw)
        return false;
    int64_t k = C / G * n->a.kh * n->a.kw;
    n->kernel = dw ? KERNEL_QDW : KERNEL_QCONV;
    QFastGeom q;
    qfast_geom(n, &q);
    if (k * 255 * 128 >= INT32_MAX || q.bytes > QDOT_MAX_SCRATCH || q.pl > INT32_MAX / 64) {
        n->kernel = KERNEL_DIRECT;
        return false;
    }
    n->scratch_bytes = (q.bytes + 63) / 64 * 64;
    return true;
}

/* Quantized conv2d and linear (a 1x1 conv2d on [N, F, 1, 1]): KERNEL_QDOT,
 * its scratch one band of an image's unfolded group (qdot_band_rows() times
 * OW rows of qdot_row() bytes),
 * unless the int32 sums could overflow (then, and for the other quantized
 * ops, direct loops). */
static void select_quant(Node *n)
{
    n->kernel = KERNEL_DIRECT;
    if (n->op != OP_CONV2D && n->op != OP_LINEAR)
        return;
    bool conv = n->op == OP_CONV2D;
    if (conv && select_qfast(n))
        return;
    int64_t k = conv ? n->in[0]->dims[1] / n->a.groups * n->a.kh * n->a.kw : n->in[0]->dims[1];
    int64_t bytes =
        conv ? qdot_band_rows(n->out->dims[2], n->out->dims[3], k) * n->out->dims[3] * qdot_row(k)
             : qdot_row(k);
    if (k * 255 * 128 < INT32_MAX && bytes <= QDOT_MAX_SCRATCH) {
        n->kernel = KERNEL_QDOT;
        n->scratch_bytes = (bytes + 63) / 64 * 64;
    }
}

void select_kernels(Graph *g, double sparse_min)
{
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        n->scratch_bytes = 0;
        if (ir_node_quant(n)) { /* emit_quant.c's loops */
            select_quant(n);
            continue;
        }
        if (n->op == OP_CONV2D)
            select_conv(n);
        else if (n->op == OP_LINEAR)
            n->kernel = KERNEL_GEMM;
        else if (op_def(n->op)->select)
            op_def(n->op)->select(n); /* conv_transpose2d */
        else
            n->kernel = KERNEL_DIRECT;
        select_sparse(n, sparse_min);
    }
}

/* ---- KERNEL_BLOCKED weights ------------------------------------------------ */

/* A block is OCB output channels (one or two 512-bit vectors of floats) times
 * up to NJ output columns, OCB x NJ accumulators held in registers; build-time
 * knobs for measurements: -DBLOCKED_OCB=16 -DBLOCKED_NJ=12 force one shape. */
#ifndef BLOCKED_OCB
#define BLOCKED_OCB 0
#endif
#ifndef BLOCKED_NJ
#define BLOCKED_NJ 0
#endif

ConvShape conv_shape(const Node *n)
{
    const Attrs *a = &n->a;
    ConvShape s;
    int64_t oh, ow;
    ir_conv_out_hw(n, &oh, &ow);
    s.N = n->in[0]->dims[0], s.C = n->in[0]->dims[1], s.H = n->in[0]->dims[2];
    s.W = n->in[0]->dims[3], s.OC = a->channels, s.OH = oh, s.OW = ow, s.G = a->groups;
    s.cin_g = s.C / s.G, s.cout_g = s.OC / s.G;
    s.KH = a->kh, s.KW = a->kw, s.SH = a->sh, s.SW = a->sw;
    s.PH = a->ph, s.PW = a->pw, s.PR = a->pr, s.DH = a->dh, s.DW = a->dw;
    s.OCB = s.cout_g > 16 && s.KH * s.KW > 1 ? 32 : 16;
    s.NJ = s.OCB == 32 ? 7 : 12;
    s.PF = false;
    if (BLOCKED_OCB)
        s.OCB = BLOCKED_OCB;
    if (BLOCKED_NJ)
        s.NJ = BLOCKED_NJ;
    s.NB = (s.cout_g + s.OCB - 1) / s.OCB;
    return s;
}

static bool is_blocked_weight(const Node *n, int p)
{
    return n->op == OP_CONV2D && n->kernel == KERNEL_BLOCKED && p == PARAM_WEIGHT;
}

int64_t conv_param_floats(const Node *n, int p)
{
    const Const *c = n->param[p];
    if (!is_blocked_weight(n, p))
        return ir_numel(c->rank, c->dims);
    ConvShape s = conv_shape(n);
    return (int64_t)(s.G * s.NB * s.OCB * s.cin_g * s.KH * s.KW);
}

/* [G][NB][cin_g][KH][KW][OCB] from PyTorch's [OC][cin_g][KH][KW]. */
void conv_param_pack(const Node *n, int p, float *dst)
{
    const Const *c = n->param[p];
    if (!is_blocked_weight(n, p)) {
        memcpy(dst, c->data, sizeof(float) * (size_t)ir_numel(c->rank, c->dims));
        return;
    }
    ConvShape s = conv_shape(n);
    long long taps = s.KH * s.KW, k = 0;
    for (long long g = 0; g < s.G; g++)
        for (long long cb = 0; cb < s.NB; cb++)
            for (long long ci = 0; ci < s.cin_g; ci++)
                for (long long t = 0; t < taps; t++)
                    for (long long o = 0; o < s.OCB; o++, k++) {
                        long long oc = cb * s.OCB + o;
                        dst[k] = oc < s.cout_g
                                     ? c->data[((g * s.cout_g + oc) * s.cin_g + ci) * taps + t]
                                     : 0.0f;
                    }
}
