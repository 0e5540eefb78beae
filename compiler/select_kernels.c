/* select_kernels.c - choose how each layer is computed, from its fixed shape.
 *
 * conv2d, in this order (docs/kernels.md has the measurements behind each rule):
 *   - fewer than DIRECT_MAX_MACS multiply-adds: plain direct loops;
 *   - one input and one output channel per group (depthwise): KERNEL_DEPTHWISE,
 *     rows of outputs as vectors (emit_conv.c);
 *   - 1x1, stride 1, unpadded (pointwise) with at least GEMM_MIN_OUTPUTS
 *     outputs: KERNEL_GEMM, a matrix product on the NCHW input as it is
 *     (OpenBLAS, no copy);
 *   - everything else (any KxK, stride, dilation, padding, groups):
 *     KERNEL_BLOCKED, the register-blocked direct kernel of emit_conv.c.
 *     It replaced im2col + GEMM, which it beats on every measured layer
 *     (no unfolding, no multiply-adds on padding, no packing per call).
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
 * Both limits are build-time knobs: make CFLAGS="-O2 -DBAND_MIN_COLS=512". */
#include "ir.h"

/* Below this many multiply-adds a layer is plain loops: any kernel's set-up
 * (a GEMM call, a row of accumulators) would cost more than it saves. */
#define DIRECT_MAX_MACS 4096
/* A 1x1, stride-1, unpadded convolution is a GEMM on the input as it is; it
 * goes to the GEMM (OpenBLAS) when the product has at least this many
 * outputs, the blocked kernel otherwise (measured in docs/kernels.md). */
#ifndef GEMM_MIN_OUTPUTS
#define GEMM_MIN_OUTPUTS 0
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
    if (macs_per_group * a->groups < DIRECT_MAX_MACS)
        return;
    bool pointwise = a->kh == 1 && a->kw == 1 && a->sh == 1 && a->sw == 1 && a->ph == 0 &&
                     a->pw == 0;
    if (cin_g == 1 && cout_g == 1)
        n->kernel = KERNEL_DEPTHWISE;
    else if (pointwise && cout_g * oh * ow >= GEMM_MIN_OUTPUTS)
        n->kernel = KERNEL_GEMM;
    else
        n->kernel = BLOCKED_CONV ? KERNEL_BLOCKED : pointwise ? KERNEL_GEMM : KERNEL_IM2COL;
    if (n->fuse.pool)
        plan_bands(n, oh, ow);
    else if (n->kernel == KERNEL_IM2COL)
        n->scratch_bytes = cin_g * a->kh * a->kw * oh * ow * (int64_t)sizeof(float);
}

void select_kernels(Graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        n->scratch_bytes = 0;
        if (n->op == OP_CONV2D)
            select_conv(n);
        else if (n->op == OP_LINEAR)
            n->kernel = KERNEL_GEMM;
        else
            n->kernel = KERNEL_DIRECT;
    }
}
