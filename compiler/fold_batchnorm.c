/* fold_batchnorm.c - pass fold-batchnorm: batchnorm disappears into the
 * conv2d or linear before it.
 *
 * Design note. At inference a batchnorm is a per-channel affine map,
 *     y = (x - mean) * s + beta,   s = gamma / sqrt(var + eps)
 * (gamma = 1, beta = 0 without affine). When x is the output of a conv2d or
 * linear, x = W * in + b with one row of W (all of a conv's input channels
 * and taps, or one linear row) and one b per output channel, so
 *     y = (W * s) * in + ((b - mean) * s + beta)
 * is the same layer with rescaled rows and a new bias. The folded layer gains
 * a bias if it had none (the new Const keeps the "<layer>.bias" key). Grouped
 * and depthwise convolutions fold the same way: output channel co owns row co.
 * A conv_transpose2d folds too, its weight [C_in, C_out/groups, kh, kw]
 * scaled along C_out instead of by rows (OpDef.weight_channel names the
 * output channel of each weight element).
 *
 * Precision: each folded value is computed in double from the float32
 * parameters and rounded once to float32. The result is not bit-identical to
 * running the two layers (that rounds after the conv, then after each BN
 * step), but it is within a few ulps of the exact real-number result, and the
 * golden tests check it against PyTorch at both -O0 and -O2.
 *
 * Legality: the producer's output must have the batchnorm as its only consumer
 * and must not be a graph output (the unnormalised value would still be
 * needed), nothing may be fused into the producer yet, and a linear must not
 * have alpha or beta (they scale product and bias apart). A batchnorm with no
 * such producer (after the input, a pool, an add) stays; the emitter computes
 * it as a per-channel scale and shift, and fuse-activation can still merge a
 * following activation into its loop. */
#include <math.h>
#include <stdlib.h>

#include "opdef.h"
#include "passes.h"
#include "util.h"

static bool foldable_producer(const Graph *g, const Node *bn)
{
    const Node *p = bn->in[0]->producer;
    /* conv2d, linear: a weight row per channel; conv_transpose2d: weight_channel */
    if (!p || !(op_has(p->op, OPT_PRUNABLE) || op_def(p->op)->weight_channel))
        return false;
    if (p->fuse.act != OP_NONE || p->fuse.pool)
        return false;
    if (p->out->rank != 2 && p->op == OP_LINEAR) /* over the last dim: not the channels */
        return false;
    if (p->a.alpha_beta) /* linear's alpha and beta: the bias is scaled apart */
        return false;
    return pass_sole_consumer(g, p->out) == bn;
}

/* Per-channel scale s and shift t of the batchnorm: y = x * s + t, in double. */
static void bn_affine(const Node *bn, int64_t c, double *s, double *t)
{
    double gamma = bn->a.affine ? bn->param[PARAM_WEIGHT]->data[c] : 1.0;
    double beta = bn->a.affine ? bn->param[PARAM_BIAS]->data[c] : 0.0;
    double mean = bn->param[PARAM_MEAN]->data[c], var = bn->param[PARAM_VAR]->data[c];
    *s = gamma / sqrt(var + bn->a.eps);
    *t = beta - mean * *s;
}

/* W[co][*] *= s[co] (each weight element of output channel co, by rows or
 * by weight_channel); b[co] = b[co] * s[co] + t[co]. */
static void fold_into(Node *p, const Node *bn)
{
    Const *w = p->param[PARAM_WEIGHT];
    Const *b = pass_ensure_bias(p);
    int64_t (*channel_of)(const Node *, int64_t) = op_def(p->op)->weight_channel;
    int64_t channels = b->dims[0], total = ir_numel(w->rank, w->dims), cols = total / channels;
    double *scale = xmalloc(sizeof *scale * (size_t)channels);
    for (int64_t co = 0; co < channels; co++) {
        double t;
        bn_affine(bn, co, &scale[co], &t);
        b->data[co] = (float)((double)b->data[co] * scale[co] + t);
    }
    for (int64_t k = 0; k < total; k++)
        w->data[k] = (float)((double)w->data[k] * scale[channel_of ? channel_of(p, k) : k / cols]);
    free(scale);
}

bool fold_batchnorm(Graph *g, PassStats *st)
{
    for (int i = 0; i < g->nnodes;) {
        Node *bn = g->nodes[i];
        if (bn->op != OP_BATCHNORM || !foldable_producer(g, bn)) {
            i++;
            continue;
        }
        Node *p = bn->in[0]->producer;
        fold_into(p, bn);
        pass_absorb(g, p, bn, st);
        st->folded++;
    }
    return true;
}
