/* prune_channels.c - pass prune-channels: structured pruning. Output channels whose
 * weights are all zero are removed, with the matching input channels of
 * every layer that reads them.
 *
 * Design note. A conv2d (or linear) output channel whose weights are all
 * zero is not zero: it is its bias b everywhere, and after it a batchnorm, an
 * activation, pools and so on turn b into another constant c (per channel,
 * the same at every position and in every image). Removing the channel is
 * exact only where every reader can do without it:
 *
 *   - a conv2d (groups 1) reading it: if c == 0 the channel adds nothing; if
 *     the conv has no padding, every tap reads c, so the channel adds
 *     c * sum(W[co, ci, :, :]) to output co, which is folded into co's bias
 *     (created if missing). With padding and c != 0 the border taps read 0
 *     instead of c, so the channel stays;
 *   - a linear reading it (also through flatten: channel k is features
 *     k*H*W ... (k+1)*H*W-1): c * W[o, j] folds into bias o;
 *   - an elementwise or per-channel layer (batchnorm, activations, pools,
 *     upsample, dropout, flatten) maps channel k to channel k: the channel
 *     goes from its input and its output together, and only if the output
 *     channel can go too; batchnorm loses that channel's parameters;
 *   - concat: channel k of input i is channel offset_i + k of the output;
 *   - add, mul, sub, div of equal shapes or with an [N, C, 1, 1] operand:
 *     channel k goes from both operands and the result together, so both
 *     operands' channel must be constant and removable (a broadcast
 *     [N, C, 1, 1] operand too: one value per channel);
 *   - anything else (softmax, a grouped conv, other broadcasts, a constant
 *     layer, a graph input or output) keeps all its channels.
 *
 * So the pass (1) computes, in graph order, which channels of every tensor
 * are a known constant and its value, evaluated in float32 with the
 * emitter's formulas (avgpool with count_include_pad and padding keeps only
 * c == 0: its border outputs are c scaled down); (2) joins the channels that
 * must go together (union-find over (tensor, channel)); (3) keeps a group if
 * any member is not constant or has a reader above that cannot absorb it, or
 * if the producer cannot drop it (only conv2d with groups 1 and linear drop
 * rows); (4) never empties a tensor: if every channel of one could go, the
 * group of its channel 0 stays; (5) folds the constants into the readers'
 * biases (in double, rounded once) and slices weights, masks, biases and
 * batchnorm parameters. Outputs equal the unpruned network's up to that
 * rounding (the golden tests compare both with PyTorch), for finite inputs:
 * 0 * inf is NaN in the dense network but a removed channel reads nothing.
 * A channel read by an inf or NaN weight stays (reads_nonfinite).
 *
 * It runs after fold-batchnorm (a folded layer's zero rows carry the folded
 * bias, and a batchnorm with gamma 0 has zeroed its rows) and before fusion,
 * so it sees activations and pools as nodes; a node with anything fused into
 * it keeps its channels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "passes.h"
#include "util.h"

typedef struct Prune {
    Graph *g;
    int64_t *base;   /* first unit of tensor t: base[t->id]; a unit is (tensor, channel) */
    int64_t units;   /* total */
    int64_t *parent; /* union-find */
    bool *known;     /* the unit is a constant ... */
    float *value;    /* ... of this value */
    bool *blocked;   /* the unit must stay (on a group's root after close_groups) */
} Prune;

static int64_t channels(const Tensor *t)
{
    return t->rank >= 2 ? t->dims[1] : 1;
}

static int64_t unit(const Prune *p, const Tensor *t, int64_t k)
{
    return p->base[t->id] + k;
}

static int64_t find(Prune *p, int64_t u)
{
    while (p->parent[u] != u)
        u = p->parent[u] = p->parent[p->parent[u]];
    return u;
}

static void join(Prune *p, int64_t a, int64_t b)
{
    a = find(p, a);
    b = find(p, b);
    if (a != b)
        p->parent[a > b ? a : b] = a < b ? a : b; /* the lower root wins: deterministic */
}

static void block_tensor(Prune *p, const Tensor *t)
{
    for (int64_t k = 0; k < channels(t); k++)
        p->blocked[unit(p, t, k)] = true;
}

/* Fused, or quantized (the pass keeps every channel of a quantized layer). */
static bool is_fused(const Node *n)
{
    return n->fuse.act != OP_NONE || n->fuse.pool || ir_node_quant(n);
}

/* A node that keeps every channel of its input and output: anything fused
 * into it, or a linear over the last dimension of a tensor of rank > 2
 * (its features are not dimension 1). */
static bool keeps_channels(const Node *n)
{
    return is_fused(n) || (n->op == OP_LINEAR && n->out->rank > 2);
}

/* ---- 1. known constants --------------------------------------------------- */

static bool row_is_zero(const Const *w, int64_t row)
{
    int64_t cols = ir_numel(w->rank - 1, w->dims + 1);
    for (int64_t i = 0; i < cols; i++)
        if (w->data[row * cols + i] != 0.0f)
            return false;
    return true;
}

/* Unit u is the constant v. Only finite constants count: folding an inf or a
 * NaN into a bias would not give the dense network's NaN pattern. */
static void set_known(Prune *p, int64_t u, float v)
{
    p->known[u] = isfinite(v);
    p->value[u] = v;
}

/* conv2d / linear: a channel with all-zero weights is its bias (linear's
 * alpha * 0 + beta * bias with alpha and beta). */
static void known_weighted(Prune *p, const Node *n)
{
    for (int64_t co = 0; co < n->a.channels; co++) {
        if (!row_is_zero(n->param[PARAM_WEIGHT], co))
            continue;
        float b = n->param[PARAM_BIAS] ? n->param[PARAM_BIAS]->data[co] : 0.0f;
        set_known(p, unit(p, n->out, co), n->a.alpha_beta ? (float)n->a.beta * b : b);
    }
}

/* The channel of input i that output channel k of n reads, or -1: channel k
 * of the one input for OPT_PER_CHANNEL ops, else the op's channel_in (flatten,
 * add, mul, sub, div, concat). */
static int64_t channel_in(const Node *n, int i, int64_t k)
{
    if (op_has(n->op, OPT_PER_CHANNEL))
        return i == 0 ? k : -1;
    return op_def(n->op)->channel_in(n, i, k);
}

/* Whether n maps each output channel onto channels of its inputs. */
static bool passes_channels(const Node *n)
{
    const OpDef *d = op_def(n->op);
    return op_has(n->op, OPT_PER_CHANNEL) ||
           (d->channel_in && (!d->maps_channels || d->maps_channels(n)));
}

/* The value n gives output channel k when the channels it reads are the
 * constants x[], as cnnc computes it (OpDef.channel_value, or act_eval). */
static float channel_value(const Node *n, int64_t k, const float *x)
{
    const OpDef *d = op_def(n->op);
    if (d->channel_value)
        return d->channel_value(n, k, x);
    if (d->act_eval)
        return d->act_eval(&n->a, x[0]);
    return x[0]; /* maxpool, pools to a size, upsample, dropout, flatten, concat */
}

static void propagate_known(Prune *p, const Node *n)
{
    const Tensor *out = n->out;
    if (keeps_channels(n))
        return;
    if (op_has(n->op, OPT_PRUNABLE)) {
        known_weighted(p, n);
        return;
    }
    if (!passes_channels(n))
        return;
    for (int64_t k = 0; k < channels(out); k++) {
        float x[IR_MAX_NODE_INPUTS];
        int nx = 0;
        bool known = true;
        for (int i = 0; known && i < n->nin; i++) {
            int64_t c = channel_in(n, i, k);
            if (c < 0)
                continue;
            int64_t u = unit(p, n->in[i], c);
            known = p->known[u];
            x[nx++] = p->value[u];
        }
        if (known && nx > 0)
            set_known(p, unit(p, out, k), channel_value(n, k, x));
    }
}

/* ---- 2. and 3. groups, and what keeps them --------------------------------- */

/* Join the units a node maps onto each other (it passes channels through). */
static void join_through(Prune *p, const Node *n)
{
    if (!passes_channels(n))
        return;
    for (int64_t k = 0; k < channels(n->out); k++) {
        for (int i = 0; i < n->nin; i++) {
            int64_t c = channel_in(n, i, k);
            if (c >= 0)
                join(p, unit(p, n->in[i], c), unit(p, n->out, k));
        }
    }
}

/* Whether a conv2d or linear reading constant c can fold it into its bias. */
static bool absorbs(const Node *n, float c)
{
    return op_def(n->op)->absorbs && op_def(n->op)->absorbs(n, c);
}

/* Whether a weight of conv2d or linear n that reads input channel k is an
 * inf or a NaN: the dense layer gives NaN (0 * inf) or inf where the channel
 * is constant, so removing the channel would not be exact. */
static bool reads_nonfinite(const Node *n, int64_t k)
{
    const Const *w = n->param[PARAM_WEIGHT];
    int64_t rows = w->dims[0], cin = w->dims[1], taps = ir_numel(w->rank - 2, w->dims + 2);
    for (int64_t o = 0; o < rows; o++)
        for (int64_t t = 0; t < taps; t++)
            if (!isfinite(w->data[(o * cin + k) * taps + t]))
                return true;
    return false;
}

/* Mark the units node n needs: what it reads but cannot do without, and what
 * it writes but cannot stop writing. */
static void block_for(Prune *p, const Node *n)
{
    bool weighted = op_has(n->op, OPT_PRUNABLE);
    if (keeps_channels(n) || (!weighted && !passes_channels(n))) {
        for (int i = 0; i < n->nin; i++)
            block_tensor(p, n->in[i]);
        block_tensor(p, n->out);
        return;
    }
    if (!weighted)
        return;
    const Tensor *in = n->in[0];
    for (int64_t k = 0; k < channels(in); k++) {
        int64_t u = unit(p, in, k);
        if (!p->known[u] || !absorbs(n, p->value[u]) || reads_nonfinite(n, k))
            p->blocked[u] = true;
    }
    if (op_def(n->op)->fixed_channels && op_def(n->op)->fixed_channels(n))
        block_tensor(p, n->out); /* a grouped conv2d */
}

/* A unit can go only if its whole group can: move every mark to the roots. */
static void close_groups(Prune *p)
{
    for (int64_t u = 0; u < p->units; u++)
        if (p->blocked[u] || !p->known[u])
            p->blocked[find(p, u)] = true;
}

static bool removed(Prune *p, const Tensor *t, int64_t k)
{
    return !p->blocked[find(p, unit(p, t, k))];
}

/* Keep channel 0's group of any tensor that would lose every channel. */
static void keep_one_channel(Prune *p)
{
    for (int i = 0; i < p->g->ntensors; i++) {
        const Tensor *t = p->g->tensors[i];
        bool all = true;
        for (int64_t k = 0; all && k < channels(t); k++)
            all = removed(p, t, k);
        if (all)
            p->blocked[find(p, unit(p, t, 0))] = true;
    }
}

/* ---- 5. rewriting ---------------------------------------------------------- */

/* Keep the indices `keep` (ascending, nkeep of them) along `axis` of c. */
static void slice_axis(Const *c, int axis, const int64_t *keep, int64_t nkeep)
{
    int64_t outer = ir_numel(axis, c->dims),
            inner = ir_numel(c->rank - axis - 1, c->dims + axis + 1);
    int64_t old = c->dims[axis];
    float *data = xmalloc(sizeof(float) * (size_t)(outer * nkeep * inner) + 1);
    unsigned char *mask = c->mask ? xmalloc((size_t)(outer * nkeep * inner) + 1) : NULL;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < nkeep; j++) {
            int64_t from = (o * old + keep[j]) * inner, to = (o * nkeep + j) * inner;
            memcpy(data + to, c->data + from, sizeof(float) * (size_t)inner);
            if (mask)
                memcpy(mask + to, c->mask + from, (size_t)inner);
        }
    }
    free(c->data);
    free(c->mask);
    c->data = data;
    c->mask = mask;
    c->dims[axis] = nkeep;
}

/* The channels of t that stay, ascending; returns how many. */
static int64_t kept_channels(Prune *p, const Tensor *t, int64_t *keep)
{
    int64_t n = 0;
    for (int64_t k = 0; k < channels(t); k++)
        if (!removed(p, t, k))
            keep[n++] = k;
    return n;
}

/* bias[o] += sum over removed input channels k of c_k * (sum of W[o, k, ...]). */
static void fold_removed_inputs(Prune *p, Node *n)
{
    const Tensor *in = n->in[0];
    const Const *w = n->param[PARAM_WEIGHT];
    int64_t rows = w->dims[0], cin = w->dims[1], taps = ir_numel(w->rank - 2, w->dims + 2);
    double *delta = xcalloc((size_t)rows, sizeof *delta);
    bool any = false;
    for (int64_t k = 0; k < cin; k++) {
        int64_t u = unit(p, in, k);
        if (!removed(p, in, k) || p->value[u] == 0.0f)
            continue;
        any = true;
        for (int64_t o = 0; o < rows; o++) {
            double sum = 0.0;
            for (int64_t t = 0; t < taps; t++)
                sum += w->data[(o * cin + k) * taps + t];
            delta[o] += (double)p->value[u] * sum;
        }
    }
    if (any) {
        Const *b = pass_ensure_bias(n);
        for (int64_t o = 0; o < rows; o++)
            b->data[o] = (float)((double)b->data[o] + delta[o]);
    }
    free(delta);
}

/* A grouped conv never loses a channel (block_for), so only groups 1 get here
 * with anything to slice. */
static void rewrite_weighted(Prune *p, Node *n, int64_t *keep)
{
    fold_removed_inputs(p, n);
    int64_t nin = kept_channels(p, n->in[0], keep);
    if (nin < channels(n->in[0]))
        slice_axis(n->param[PARAM_WEIGHT], 1, keep, nin);
    int64_t nout = kept_channels(p, n->out, keep);
    if (nout == n->a.channels)
        return;
    for (int q = 0; q < PARAM_MAX; q++)
        if (n->param[q])
            slice_axis(n->param[q], 0, keep, nout);
    if (!n->channels_before_prune)
        n->channels_before_prune = n->a.channels;
    n->a.channels = nout;
}

/* A per-channel op's parameters (batchnorm's) lose the removed channels. */
static void rewrite_per_channel(Prune *p, Node *n, int64_t *keep)
{
    int64_t nout = kept_channels(p, n->out, keep);
    if (nout == channels(n->out))
        return;
    for (int q = 0; q < PARAM_MAX; q++)
        if (n->param[q])
            slice_axis(n->param[q], 0, keep, nout);
}

static void count_removed(Prune *p, PassStats *st)
{
    for (int i = 0; i < p->g->ntensors; i++) {
        const Tensor *t = p->g->tensors[i];
        int64_t gone = 0;
        for (int64_t k = 0; k < channels(t); k++)
            gone += removed(p, t, k);
        st->bytes += gone * (ir_tensor_bytes(t) / channels(t));
        if (t->producer && op_has(t->producer->op, OPT_PRUNABLE))
            st->channels += gone;
    }
}

static void rewrite(Prune *p, PassStats *st)
{
    int64_t most = 1;
    for (int i = 0; i < p->g->ntensors; i++)
        most = channels(p->g->tensors[i]) > most ? channels(p->g->tensors[i]) : most;
    int64_t *keep = xmalloc(sizeof *keep * (size_t)most);
    count_removed(p, st);
    for (int i = 0; i < p->g->nnodes; i++) {
        Node *n = p->g->nodes[i];
        if (keeps_channels(n)) /* a linear over the last dim: rows are not channels */
            continue;
        if (op_has(n->op, OPT_PRUNABLE))
            rewrite_weighted(p, n, keep);
        else if (op_has(n->op, OPT_WEIGHTS)) /* per channel: batchnorm */
            rewrite_per_channel(p, n, keep);
    }
    for (int i = 0; i < p->g->nnodes; i++)
        if (!ir_infer_node(p->g->nodes[i]))
            die("prune-channels: node %s no longer valid", p->g->nodes[i]->name);
    free(keep);
}

/* ---- the pass ---------------------------------------------------------------- */

static void prune_init(Prune *p, Graph *g)
{
    *p = (Prune){.g = g};
    p->base = xmalloc(sizeof *p->base * (size_t)(g->ntensors + 1));
    for (int i = 0; i < g->ntensors; i++) {
        p->base[i] = p->units;
        p->units += channels(g->tensors[i]);
    }
    p->parent = xmalloc(sizeof *p->parent * (size_t)(p->units + 1));
    for (int64_t u = 0; u < p->units; u++)
        p->parent[u] = u;
    p->known = xcalloc((size_t)p->units + 1, sizeof *p->known);
    p->value = xcalloc((size_t)p->units + 1, sizeof *p->value);
    p->blocked = xcalloc((size_t)p->units + 1, sizeof *p->blocked);
}

static void prune_free(Prune *p)
{
    free(p->base);
    free(p->parent);
    free(p->known);
    free(p->value);
    free(p->blocked);
}

/* The most (tensor, channel) units the pass tracks: 14 bytes and a few
 * union-find steps each. A flat tensor has one unit per feature, so a
 * network of 2^30-feature tensors would need 15 GB; past this bound (a
 * quarter of a second, 60 MB) the pass does nothing. */
#define PRUNE_MAX_UNITS ((int64_t)1 << 22)

/* Whether the pass could remove anything: only a conv2d or linear output
 * channel with all-zero weights ever goes. */
static bool has_zero_row(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (!op_has(n->op, OPT_PRUNABLE) || keeps_channels(n) || !n->param[PARAM_WEIGHT] ||
            !n->param[PARAM_WEIGHT]->data)
            continue;
        for (int64_t co = 0; co < n->param[PARAM_WEIGHT]->dims[0]; co++)
            if (row_is_zero(n->param[PARAM_WEIGHT], co))
                return true;
    }
    return false;
}

bool prune_channels(Graph *g, PassStats *st)
{
    int64_t units = 0;
    for (int i = 0; i < g->ntensors; i++)
        units += channels(g->tensors[i]);
    if (units > PRUNE_MAX_UNITS || !has_zero_row(g))
        return true;
    Prune p;
    prune_init(&p, g);
    for (int i = 0; i < g->nnodes; i++)
        propagate_known(&p, g->nodes[i]);
    for (int i = 0; i < g->nnodes; i++) {
        join_through(&p, g->nodes[i]);
        block_for(&p, g->nodes[i]);
    }
    for (int i = 0; i < g->ninputs; i++)
        block_tensor(&p, g->inputs[i]);
    for (int i = 0; i < g->noutputs; i++)
        block_tensor(&p, g->outputs[i]);
    close_groups(&p);
    keep_one_channel(&p);
    rewrite(&p, st);
    prune_free(&p);
    return true;
}
