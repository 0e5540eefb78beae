/* fuse_pool.c - pass fuse-pool: a conv2d writes the maxpool or avgpool of its
 * output directly, and the pre-pool tensor is never stored in the arena.
 *
 * Design note. In conv -> act -> pool chains the convolution's output is the
 * largest tensor and lives only to be pooled. After this pass the conv2d node
 * carries the pool (Node.fuse.pool, with the pool's attributes and the conv's
 * own output shape in fuse.conv_dims), its output is the pooled tensor, and
 * how the pre-pool values are produced depends on the kernel
 * select_kernels() picks afterwards:
 *
 *   - direct loops: for each pooled output, each window position's conv value
 *     is accumulated in a register, biased, activated and folded into the max
 *     or sum at once. Overlapping windows recompute a few conv values; conv
 *     outputs no window reads (floor mode) are never computed.
 *   - GEMM (1x1 or im2col): the image is cut into bands of pooled rows; for
 *     each band only the conv rows its windows need are unfolded (im2col of
 *     those rows) and multiplied into node scratch, then bias, activation and
 *     the pool are applied reading the scratch. Bands are sized so unfold plus
 *     product stay within a fixed budget and at most half the image
 *     (select_kernels.c), so the scratch is smaller than what it replaces.
 *
 * A maxpool takes the max of raw conv values and applies bias and activation
 * once per pooled output (emit_c.c): max(act(x + b)) == act(max(x) + b)
 * exactly in float32 for relu, relu6, clamp and leaky_relu(slope >= 0), as adding a
 * constant and these activations are monotone under rounding; sigmoid and
 * tanh (libm) are applied per value. The max is a branch-free select with the
 * last NaN carried apart (PyTorch's NaN-wins rule): branching on each value
 * made the first version slower than -O0.
 *
 * The direct kernel computes exactly the values of the unfused layers, in the
 * same order: its results are bit-identical to -fno-fuse-pool. The GEMM
 * kernels multiply narrower matrices, for which OpenBLAS may choose another
 * kernel and summation order: results then differ in the last bits (about
 * 1e-6 relative on the golden cases).
 *
 * Legality: the conv's output must have the pool as its only consumer and not
 * be a graph output. Any pool attributes are allowed (padding, dilation,
 * ceil_mode, count_include_pad): the fused loops use the same window and
 * divisor rules as the standalone pools. Only float conv2d producers are
 * fused; batchnorm that stays, pools after other layers, or after a quantized
 * conv2d, run as before.
 *
 * Bounds: the fused loops recompute or unroll per window tap and use int
 * positions, so a pool with a window over FUSE_POOL_MAX_WINDOW taps, or a
 * stride, padding or dilation over FUSE_POOL_MAX_STEP, stays standalone
 * (whose loops do not depend on those magnitudes): no real network has one,
 * and a hostile one (maxpool(1000001, pad=500000), kernel 2^31) made
 * hundreds of MB of C or int overflows. */
#include <string.h>

#include "opdef.h"
#include "passes.h"

#define FUSE_POOL_MAX_WINDOW 4096
#define FUSE_POOL_MAX_STEP 65536

static bool small_pool(const Attrs *a)
{
    const int64_t steps[] = {a->sh, a->sw, a->ph, a->pw, a->pb, a->pr, a->dh, a->dw};
    for (int i = 0; i < 8; i++)
        if (steps[i] > FUSE_POOL_MAX_STEP)
            return false;
    return a->kh <= FUSE_POOL_MAX_WINDOW && a->kw <= FUSE_POOL_MAX_WINDOW &&
           a->kh * a->kw <= FUSE_POOL_MAX_WINDOW;
}

bool fuse_pool(Graph *g, PassStats *st)
{
    for (int i = 0; i < g->nnodes;) {
        Node *pool = g->nodes[i];
        bool is_pool = op_has(pool->op, OPT_POOL);
        Node *c = is_pool ? pool->in[0]->producer : NULL;
        if (!is_pool || !small_pool(&pool->a) || !c || c->op != OP_CONV2D || c->fuse.pool ||
            ir_node_quant(c) || pass_sole_consumer(g, c->out) != pool) {
            i++;
            continue;
        }
        c->fuse.pool = true;
        c->fuse.pool_op = pool->op;
        c->fuse.pool_a = pool->a;
        memcpy(c->fuse.conv_dims, c->out->dims, sizeof c->fuse.conv_dims);
        pass_absorb(g, c, pool, st);
        st->fused++;
    }
    return true;
}
