/* quantize.c - pass quantize: cnnc's own post-training int8 quantization of a
 * float network (--quantize=int8 --calibrate FILE; docs/quantization.md,
 * "Quantizing a float network").
 *
 * Design note. The pass turns float layers into the quantized layers a
 * PyTorch-converted network has (ops/quant.c, weights_quant.c, emit_quant.c),
 * with the numbers calibrate.c computes:
 *   - conv2d and linear (without alpha/beta) always become quantized: int8
 *     weights per output channel, the float bias kept, the output's scale and
 *     zero point from its observed range; when the output's one reader is a
 *     relu or relu6, from that activation's range (PyTorch's ConvReLU2d
 *     observes after the relu, so no code is spent on negative values);
 *   - relu, relu6, the pools, flatten, dropout, add (equal shapes) and concat
 *     become quantized when every input is already quint8 (add and concat
 *     with the scale and zero point of their own range);
 *   - every other layer stays float.
 * Where a quantized layer reads a float tensor, a quantize with that tensor's
 * calibrated scale and zero point goes before it; where a float layer or a
 * graph output reads a quint8 tensor, a dequantize goes after its producer
 * (the graph's output tensors stay float, so the generated API is the
 * same). The pass runs after fold-batchnorm (a folded batchnorm quantizes
 * with its conv2d) and before fuse-activation (which folds the relus into the
 * requantization clamp). It reads the graph and the calibration file only:
 * the calibration runs the graph as it is in float (eval.c), so a layer
 * eval.c cannot evaluate is an error at its line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "eval.h"
#include "opdef.h"
#include "passes.h"
#include "util.h"

#define SWAP_PTR(a, b)                                                                             \
    do {                                                                                           \
        float *tmp_ = (a);                                                                         \
        (a) = (b);                                                                                 \
        (b) = tmp_;                                                                                \
    } while (0)

static QuantOptions qopt;
static bool configured;

void quantize_configure(const QuantOptions *o)
{
    if (o)
        qopt = *o;
    configured = o != NULL && o->calib_path != NULL;
}

/* What the pass decided, per tensor id (before the rewrite). */
typedef struct Plan {
    bool *qnode;   /* per node id: computes on quint8 */
    bool *isq;     /* per tensor id: the quint8 version exists (or will) */
    double *scale; /* per tensor id, with isq */
    int64_t *zero;
} Plan;

static bool all_inputs_quant(const Node *n, const Plan *p)
{
    for (int i = 0; i < n->nin; i++)
        if (!p->isq[n->in[i]->id] || !n->in[i]->producer || !p->qnode[n->in[i]->producer->id])
            return false;
    return n->nin > 0;
}

static bool quantizable(const Node *n, const Plan *p)
{
    for (int i = 0; i < n->nin; i++)
        if (ir_is_constant(n->in[i]))
            return false;
    switch (n->op) {
    case OP_CONV2D:
        return true;
    case OP_LINEAR:
        return !n->a.alpha_beta;
    case OP_ADD:
        return n->in[0]->rank == n->in[1]->rank &&
               memcmp(n->in[0]->dims, n->in[1]->dims, sizeof(int64_t) * (size_t)n->in[0]->rank) ==
                   0 &&
               all_inputs_quant(n, p);
    default:
        return op_has(n->op, OPT_QUANT) && all_inputs_quant(n, p);
    }
}

/* The range a qparams op's output is quantized to: its own, or that of the
 * relu/relu6 that is its one reader. */
static Range out_range(const Graph *g, const Node *n, const Range *r)
{
    const Node *c = pass_sole_consumer(g, n->out);
    if (c && (c->op == OP_RELU || c->op == OP_RELU6))
        return r[c->out->id];
    return r[n->out->id];
}

/* t's scale and zero point from range r, or an error at n (where t is
 * quantized) if no float32 scale covers r. */
static bool qparams_of(const Node *n, const Tensor *t, Range r, Plan *p)
{
    if (calib_qparams(r, &p->scale[t->id], &p->zero[t->id]))
        return true;
    diag_error(n->loc,
               "--quantize=int8: '%s' ranges over [%g, %g] on the calibration samples, which "
               "no float32 scale covers",
               t->label, r.lo, r.hi);
    return false;
}

/* A conv2d or linear whose weights are not all finite cannot be quantized. */
static bool weights_finite(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    for (int64_t i = 0; w && i < ir_numel(w->rank, w->dims); i++)
        if (!isfinite(w->data[i])) {
            diag_error(n->loc, "--quantize=int8: %s '%s' has a weight that is not finite (%g)",
                       op_name(n->op), n->name, w->data[i]);
            return false;
        }
    return true;
}

static bool plan(const Graph *g, const Range *r, Plan *p)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (!quantizable(n, p))
            continue;
        p->qnode[i] = true;
        int o = n->out->id;
        p->isq[o] = true;
        if (!weights_finite(n))
            return false;
        if (quant_has_qparams(n->op)) {
            if (!qparams_of(n, n->out, out_range(g, n, r), p))
                return false;
        } else {
            p->scale[o] = p->scale[n->in[0]->id];
            p->zero[o] = p->zero[n->in[0]->id];
        }
        for (int k = 0; k < n->nin; k++) {
            int t = n->in[k]->id;
            if (!p->isq[t]) {
                p->isq[t] = true;
                if (!qparams_of(n, n->in[k], r[t], p))
                    return false;
            }
        }
    }
    return true;
}

/* conv2d, linear: n->q from the float weights (which the node then drops). */
static QLayer *make_qlayer(const Node *n, const Plan *p)
{
    QLayer *q = xcalloc(1, sizeof *q);
    q->scale = p->scale[n->out->id];
    q->zero = p->zero[n->out->id];
    if (!op_has(n->op, OPT_WEIGHTS))
        return q;
    const Const *w = n->param[PARAM_WEIGHT];
    int64_t oc = w->dims[0], total = ir_numel(w->rank, w->dims), per = total / oc;
    q->w = xmalloc((size_t)total);
    q->wscale = xmalloc(sizeof(float) * (size_t)oc);
    for (int64_t c = 0; c < oc; c++) {
        float s = calib_weight_scale(w->data + c * per, per);
        q->wscale[c] = s;
        for (int64_t i = 0; i < per; i++) {
            float v = nearbyintf(w->data[c * per + i] / s);
            q->w[c * per + i] = (signed char)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
        }
    }
    if (n->a.bias) {
        q->bias = xmalloc(sizeof(float) * (size_t)oc);
        memcpy(q->bias, n->param[PARAM_BIAS]->data, sizeof(float) * (size_t)oc);
    }
    return q;
}

/* ---- --stats: the quantized network simulated in float ------------------- */

typedef struct Sim {
    const Plan *p;
    const bool *fake; /* per tensor id: round-trip through quint8 */
} Sim;

static void fake_quant(float *v, int64_t n, double scale, int64_t zero)
{
    float inv = 1.0f / (float)scale;
    for (int64_t i = 0; i < n; i++) {
        float q = nearbyintf(v[i] * inv) + (float)zero;
        q = q > 255.0f ? 255.0f : q >= 0.0f ? q : 0.0f;
        v[i] = (q - (float)zero) * (float)scale;
    }
}

static void sim_hook(const Node *n, float *out, void *ctx)
{
    const Sim *s = ctx;
    int o = n->out->id;
    if (s->fake[o])
        fake_quant(out, ir_tensor_numel(n->out), s->p->scale[o], s->p->zero[o]);
}

/* SQNR of every quantized conv2d, linear, add and concat and of every
 * output, over the calibration samples: the float graph against itself with
 * int8 weights and each quint8 tensor rounded to its scale. */
static void print_sqnr(const Graph *g, const CalibData *cd, const Plan *p)
{
    bool *fake = xcalloc((size_t)g->ntensors, sizeof *fake);
    for (int i = 0; i < g->ntensors; i++) {
        const Tensor *t = g->tensors[i];
        bool all = p->isq[i] && t->nconsumers > 0;
        for (int k = 0; all && k < g->nnodes; k++)
            for (int j = 0; j < g->nodes[k]->nin; j++)
                all = all && (g->nodes[k]->in[j] != t || p->qnode[k]);
        fake[i] = (t->producer && p->qnode[t->producer->id]) || all;
    }
    /* int8 weights, dequantized, in place of the float ones */
    float **saved = xcalloc((size_t)g->nnodes, sizeof *saved);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (!p->qnode[i] || !op_has(n->op, OPT_WEIGHTS))
            continue;
        QLayer *q = make_qlayer(n, p);
        Const *w = n->param[PARAM_WEIGHT];
        int64_t oc = w->dims[0], total = ir_numel(w->rank, w->dims), per = total / oc;
        saved[i] = w->data;
        w->data = xmalloc(sizeof(float) * (size_t)total);
        for (int64_t k = 0; k < total; k++)
            w->data[k] = q->w[k] * q->wscale[k / per];
        free(q->w);
        free(q->wscale);
        free(q->bias);
        free(q);
    }
    float **ref = eval_alloc(g), **sim = eval_alloc(g);
    double *sig = xcalloc((size_t)g->ntensors, sizeof *sig), *noise = xcalloc((size_t)g->ntensors,
                                                                                sizeof *noise);
    const Tensor *in = g->inputs[0];
    int64_t per = ir_tensor_numel(in);
    Sim s = {p, fake};
    for (int64_t b = 0; b < cd->batches; b++) {
        memcpy(sim[in->id], cd->data + b * per, sizeof(float) * (size_t)per);
        if (fake[in->id])
            fake_quant(sim[in->id], per, p->scale[in->id], p->zero[in->id]);
        eval_run(g, sim, sim_hook, &s);
        for (int i = 0; i < g->nnodes; i++)
            if (saved[i])
                SWAP_PTR(g->nodes[i]->param[PARAM_WEIGHT]->data, saved[i]);
        memcpy(ref[in->id], cd->data + b * per, sizeof(float) * (size_t)per);
        eval_run(g, ref, NULL, NULL);
        for (int i = 0; i < g->nnodes; i++)
            if (saved[i])
                SWAP_PTR(g->nodes[i]->param[PARAM_WEIGHT]->data, saved[i]);
        for (int t = 0; t < g->ntensors; t++)
            for (int64_t k = 0; k < ir_tensor_numel(g->tensors[t]); k++) {
                double d = (double)ref[t][k] - sim[t][k];
                sig[t] += (double)ref[t][k] * ref[t][k];
                noise[t] += d * d;
            }
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i], *c = pass_sole_consumer(g, n->out);
        bool output = ir_is_output(g, n->out);
        /* after the relu the scale was observed on (out_range) */
        int o = p->qnode[i] && c && (c->op == OP_RELU || c->op == OP_RELU6) ? c->out->id
                                                                             : n->out->id;
        if (!(p->qnode[i] && quant_has_qparams(n->op)) && !output)
            continue;
        double db = noise[o] > 0 ? 10.0 * log10(sig[o] / noise[o]) : INFINITY;
        fprintf(stderr, "stats: quantize: %s%s '%s'%s%s: SQNR %.1f dB%s\n", output ? "output " : "",
                op_name(n->op), n->name, o != n->out->id ? " +" : "", o != n->out->id ? op_name(c->op) : "", db,
                p->qnode[i] ? "" : " (float)");
    }
    for (int i = 0; i < g->nnodes; i++)
        if (saved[i]) {
            free(g->nodes[i]->param[PARAM_WEIGHT]->data);
            g->nodes[i]->param[PARAM_WEIGHT]->data = saved[i];
        }
    free(saved);
    free(sig);
    free(noise);
    free(fake);
    eval_free(g, ref);
    eval_free(g, sim);
}

/* ---- the rewrite ---------------------------------------------------------- */

static Tensor *new_tensor(Graph *g, const Tensor *like, const char *suffix)
{
    char *base = xasprintf("%s_%s", like->name, suffix);
    char *name = xstrdup(base);
    for (int k = 2;; k++) {
        bool taken = false;
        for (int i = 0; i < g->ntensors && !taken; i++)
            taken = strcmp(g->tensors[i]->name, name) == 0;
        for (int i = 0; i < g->nnodes && !taken; i++)
            taken = strcmp(g->nodes[i]->name, name) == 0;
        if (!taken)
            break;
        free(name);
        name = xasprintf("%s%d", base, k);
    }
    Tensor *t = ir_tensor_new(g, name);
    free(base);
    free(name);
    t->rank = like->rank;
    memcpy(t->dims, like->dims, sizeof t->dims);
    return t;
}

/* A quantize or dequantize node reading from and writing to (appended to
 * g->nodes, moved into place by the caller). */
static Node *edge_node(Graph *g, OpKind op, Tensor *from, Tensor *to, const char *name, Loc loc)
{
    char *base = xasprintf("%s_%s", name, op_name(op)), *unique = xstrdup(base);
    for (int k = 2;; k++) {
        bool taken = false;
        for (int i = 0; i < g->nnodes && !taken; i++)
            taken = strcmp(g->nodes[i]->name, unique) == 0;
        for (int i = 0; i < g->ntensors && !taken; i++)
            taken = g->tensors[i] != to && strcmp(g->tensors[i]->name, unique) == 0;
        if (!taken)
            break;
        free(unique);
        unique = xasprintf("%s%d", base, k);
    }
    Node *n = ir_node_new(g, op, unique, loc);
    free(base);
    free(unique);
    n->in[0] = from;
    n->nin = 1;
    n->out = to;
    to->producer = n;
    return n;
}

static void rewrite(Graph *g, const Plan *p)
{
    int nold = g->nnodes, count = 0;
    Node **old = xmalloc(sizeof *old * (size_t)nold);
    memcpy(old, g->nodes, sizeof *old * (size_t)nold);
    Tensor **qof = xcalloc((size_t)g->ntensors, sizeof *qof);
    Node **order = xmalloc(sizeof *order * (size_t)(3 * nold + 1));
    for (int i = 0; i < nold; i++) {
        Node *n = old[i];
        if (!p->qnode[i]) {
            order[count++] = n;
            continue;
        }
        for (int k = 0; k < n->nin; k++) {
            Tensor *t = n->in[k];
            if (!qof[t->id]) {
                Tensor *tq = new_tensor(g, t, "q");
                Node *q = edge_node(g, OP_QUANTIZE, t, tq, t->name, n->loc);
                q->a.qscale = p->scale[t->id];
                q->a.qzero = p->zero[t->id];
                order[count++] = q;
                qof[t->id] = tq;
            }
            n->in[k] = qof[t->id];
        }
        if (quant_has_qparams(n->op)) {
            n->q = make_qlayer(n, p);
            for (int k = 0; k < PARAM_MAX; k++) {
                ir_const_free(n->param[k]);
                n->param[k] = NULL;
            }
        }
        order[count++] = n;
        Tensor *t = n->out;
        bool float_reader = ir_is_output(g, t);
        for (int k = i + 1; k < nold && !float_reader; k++)
            for (int j = 0; j < old[k]->nin; j++)
                float_reader = float_reader || (old[k]->in[j] == t && !p->qnode[k]);
        if (float_reader) {
            Tensor *tq = new_tensor(g, t, "q");
            n->out = tq;
            tq->producer = n;
            order[count++] = edge_node(g, OP_DEQUANTIZE, tq, t, n->name, n->loc);
            qof[t->id] = tq;
        } else {
            qof[t->id] = t;
        }
    }
    free(g->nodes);
    g->nodes = order;
    g->nnodes = count;
    for (int i = 0; i < g->ntensors; i++)
        g->tensors[i]->nconsumers = 0;
    for (int i = 0; i < g->nnodes; i++) {
        g->nodes[i]->id = i;
        for (int k = 0; k < g->nodes[i]->nin; k++)
            g->nodes[i]->in[k]->nconsumers++;
    }
    for (int i = 0; i < g->nnodes; i++)
        infer_shape(g->nodes[i]);
    free(qof);
    free(old);
}

bool quantize_int8(Graph *g, PassStats *st)
{
    if (!configured) {
        diag_error((Loc){0, 0, 0}, "pass quantize needs --quantize=int8 --calibrate FILE");
        return false;
    }
    CalibData cd;
    if (!eval_supported(g, "--calibrate") || !calib_load(g, qopt.calib_path, &cd))
        return false;
    Range *r = xcalloc((size_t)g->ntensors, sizeof *r);
    calib_ranges(g, &cd, qopt.method, r);
    Plan p = {xcalloc((size_t)g->nnodes, sizeof(bool)), xcalloc((size_t)g->ntensors, sizeof(bool)),
              xcalloc((size_t)g->ntensors, sizeof(double)),
              xcalloc((size_t)g->ntensors, sizeof(int64_t))};
    bool ok = plan(g, r, &p);
    if (ok && qopt.stats)
        print_sqnr(g, &cd, &p);
    for (int i = 0; ok && i < g->nnodes; i++)
        st->folded += p.qnode[i] && quant_has_qparams(g->nodes[i]->op);
    if (ok)
        rewrite(g, &p);
    free(p.qnode);
    free(p.isq);
    free(p.scale);
    free(p.zero);
    free(r);
    calib_free(&cd);
    return ok;
}
