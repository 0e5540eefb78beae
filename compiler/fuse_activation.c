/* fuse_activation.c - pass fuse-activation: an activation is applied in the
 * loop of the layer that produces its input.
 *
 * Design note. The activations (relu, relu6, clamp, ...) are elementwise, so
 * applying one costs a read and a write of the whole tensor when it runs as a
 * layer of its own. After conv2d, linear or batchnorm it becomes an epilogue
 * instead (Node.fuse.act): the producer applies it to each value just before
 * storing it, and the intermediate tensor is never written. Where the emitter
 * puts it:
 *   - direct conv2d: on the accumulator, before the store;
 *   - GEMM conv2d (1x1 or im2col): in the loop that adds the bias after the
 *     product (a loop that now runs even without a bias);
 *   - linear: one pass after the GEMV/GEMM adds the bias and applies it;
 *   - batchnorm: in its scale-and-shift loop;
 *   - quantized conv2d and linear (only relu and relu6 take quint8): in the
 *     requantization's clamp (emit_quant.c), exactly the standalone clamp, as
 *     relu and relu6 keep their input's scale and zero point.
 * The expression is the one the standalone layer uses, so the value stored is
 * the unfused one. (For linear the bias is added after the product instead
 * of being BLAS's beta * y term; the outputs were bit-identical on every
 * golden case all the same.)
 *
 * Legality: the producer's output must have the activation as its only
 * consumer and not be a graph output, and the producer must carry no
 * activation or pool yet (activation(pool(x)) is a different order). The
 * activation's output tensor survives as the producer's output, so names of
 * graph outputs and user-named tensors stay. */
#include "opdef.h"
#include "passes.h"

static bool takes_epilogue(const Node *p)
{
    return op_has(p->op, OPT_EPILOGUE) && p->fuse.act == OP_NONE && !p->fuse.pool;
}

bool fuse_activation(Graph *g, PassStats *st)
{
    for (int i = 0; i < g->nnodes;) {
        Node *a = g->nodes[i];
        Node *p = op_has(a->op, OPT_ACTIVATION) ? a->in[0]->producer : NULL;
        if (!p || !takes_epilogue(p) || pass_sole_consumer(g, p->out) != a) {
            i++;
            continue;
        }
        p->fuse.act = a->op;
        p->fuse.act_a = a->a;
        pass_absorb(g, p, a, st);
        st->fused++;
    }
    return true;
}
