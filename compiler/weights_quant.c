/* weights_quant.c - the numbers of quantized layers from the weights file
 * (docs/quantization.md, "Weights file"), into Node.q.
 *
 * A conv2d or linear whose input is quint8 reads, instead of float weights:
 *   <layer>.weight             I8 [the float weight's shape]
 *   <layer>.weight_scale       F32 or F64, [C_out] (per channel) or [] / [1]
 *   <layer>.weight_zero_point  I64 or I32 like weight_scale, all 0; optional
 *   <layer>.bias               F32 [C_out] (with bias=true), float as in PyTorch
 * and it, a quantized add and a quantized concat read their output's
 *   <layer>.scale              F32 or F64, [] or [1]
 *   <layer>.zero_point         I64 or I32, [] or [1], in [0, 255]
 * Every scale must be a positive finite (normal) float32. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "util.h"
#include "weights.h"

typedef struct QLoad {
    const StFile *f;
    const char *path;
    const Node *n;
} QLoad;

/* Element i of t as a double: its dtype must be one of those read here. */
static double elem(const StTensor *t, int64_t i)
{
    switch (t->dtype) {
    case ST_F32: {
        uint32_t bits = (uint32_t)le_bytes(t->data + 4 * i, 4);
        float v;
        memcpy(&v, &bits, 4);
        return v;
    }
    case ST_F64: {
        uint64_t bits = le_bytes(t->data + 8 * i, 8);
        double v;
        memcpy(&v, &bits, 8);
        return v;
    }
    case ST_I64:
        return (double)(int64_t)le_bytes(t->data + 8 * i, 8);
    case ST_I32:
        return (double)(int32_t)(uint32_t)le_bytes(t->data + 4 * i, 4);
    default: /* ST_I8 */
        return (double)(signed char)t->data[i];
    }
}

static int64_t count(const StTensor *t)
{
    return ir_numel(t->rank, t->dims);
}

/* "<layer>.<suffix>" from the file, of one of the dtypes a and b (b may be
 * a); NULL after an error. */
static const StTensor *need(const QLoad *q, const char *suffix, StDtype a, StDtype b, bool optional)
{
    char *key = xasprintf("%s.%s", q->n->name, suffix);
    const StTensor *t = st_find(q->f, key);
    if (!t && !optional)
        diag_error(q->n->loc, "quantized %s '%s' needs '%s', which is not in %s", op_name(q->n->op),
                   q->n->name, key, path_base(q->path));
    free(key);
    if (!t)
        return NULL;
    ((StTensor *)t)->used = true;
    if (t->dtype != a && t->dtype != b) {
        if (a == b)
            diag_error(q->n->loc, "'%s' in %s is %s; quantized %s '%s' needs %s", t->name,
                       path_base(q->path), t->dtype_name, op_name(q->n->op), q->n->name,
                       st_dtype_name(a));
        else
            diag_error(q->n->loc, "'%s' in %s is %s; quantized %s '%s' needs %s or %s", t->name,
                       path_base(q->path), t->dtype_name, op_name(q->n->op), q->n->name,
                       st_dtype_name(a), st_dtype_name(b));
        return NULL;
    }
    return t;
}

/* t holds one value ([] or [1]), or with per_channel > 0 that many ([C]). */
static bool need_count(const QLoad *q, const StTensor *t, int64_t per_channel)
{
    if (t->rank <= 1 &&
        (count(t) == 1 || (per_channel > 0 && t->rank == 1 && t->dims[0] == per_channel)))
        return true;
    char shape[160];
    ir_shape_str(t->rank, t->dims, shape, sizeof shape);
    if (per_channel > 0)
        diag_error(q->n->loc,
                   "'%s' in %s has shape %s; quantized %s '%s' needs [%lld] (one "
                   "per output channel) or one value",
                   t->name, path_base(q->path), shape, op_name(q->n->op), q->n->name,
                   (long long)per_channel);
    else
        diag_error(q->n->loc,
                   "'%s' in %s has shape %s; quantized %s '%s' needs one value ([] "
                   "or [1])",
                   t->name, path_base(q->path), shape, op_name(q->n->op), q->n->name);
    return false;
}

static bool scale_ok(const QLoad *q, const StTensor *t, double s)
{
    if (s >= FLT_MIN && s <= FLT_MAX)
        return true;
    diag_error(q->n->loc, "'%s' in %s: a scale must be a positive finite float32, not %g", t->name,
               path_base(q->path), s);
    return false;
}

/* The output's scale and zero point. */
static bool load_output(const QLoad *q, QLayer *l)
{
    const StTensor *s = need(q, "scale", ST_F32, ST_F64, false);
    const StTensor *z = need(q, "zero_point", ST_I64, ST_I32, false);
    if (!s || !z || !need_count(q, s, 0) || !need_count(q, z, 0))
        return false;
    l->scale = (float)elem(s, 0);
    l->zero = (int64_t)elem(z, 0);
    char what[AST_MAX_NAME + 64];
    snprintf(what, sizeof what, "%s", z->name);
    return scale_ok(q, s, elem(s, 0)) &&
           quant_zero_ok(q->n->loc, l->zero, path_base(q->path), what);
}

/* conv2d and linear: the int8 weight, its scales (zero points all 0) and
 * the float bias. */
static bool load_weights(const QLoad *q, QLayer *l)
{
    const Node *n = q->n;
    int rank[PARAM_MAX] = {0};
    int64_t dims[PARAM_MAX][4];
    op_def(n->op)->params(n, rank, dims);
    int64_t oc = dims[PARAM_WEIGHT][0];
    const StTensor *w = need(q, "weight", ST_I8, ST_I8, false);
    const StTensor *s = need(q, "weight_scale", ST_F32, ST_F64, false);
    const StTensor *z = need(q, "weight_zero_point", ST_I64, ST_I32, true);
    const StTensor *b = n->a.bias ? need(q, "bias", ST_F32, ST_F32, false) : NULL;
    if (!w || !s || (n->a.bias && !b) || !need_count(q, s, oc) || (z && !need_count(q, z, oc)))
        return false;
    bool same = w->rank == rank[PARAM_WEIGHT];
    for (int i = 0; same && i < w->rank; i++)
        same = w->dims[i] == dims[PARAM_WEIGHT][i];
    char want[160], have[160];
    if (!same || (b && (b->rank != 1 || b->dims[0] != oc))) {
        const StTensor *t = same ? b : w;
        diag_error(n->loc, "quantized %s '%s' expects '%s' of shape %s but the file has %s",
                   op_name(n->op), n->name, t->name,
                   ir_shape_str(same ? 1 : rank[PARAM_WEIGHT], same ? &oc : dims[PARAM_WEIGHT],
                                want, sizeof want),
                   ir_shape_str(t->rank, t->dims, have, sizeof have));
        return false;
    }
    for (int64_t i = 0; z && i < count(z); i++)
        if (elem(z, i) != 0.0) {
            diag_error(n->loc,
                       "'%s' in %s: cnnc takes symmetric int8 weights (zero points 0), "
                       "not %g",
                       z->name, path_base(q->path), elem(z, i));
            return false;
        }
    l->wscale = xmalloc(sizeof(float) * (size_t)oc);
    for (int64_t c = 0; c < oc; c++) {
        double v = elem(s, count(s) == 1 ? 0 : c);
        if (!scale_ok(q, s, v))
            return false;
        l->wscale[c] = (float)v;
    }
    l->w = xmalloc((size_t)count(w));
    memcpy(l->w, w->data, (size_t)count(w));
    if (b) {
        l->bias = xmalloc(sizeof(float) * (size_t)oc);
        for (int64_t c = 0; c < oc; c++)
            l->bias[c] = (float)elem(b, c);
    }
    return true;
}

bool quant_bind(Graph *g, StFile *f, const char *path)
{
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (!ir_node_quant(n) || !quant_has_qparams(n->op))
            continue;
        if (!f) {
            diag_error(n->loc,
                       "quantized %s '%s' needs its scales from a weights file (--init "
                       "makes float parameters only)",
                       op_name(n->op), n->name);
            ok = false;
            continue;
        }
        QLoad q = {f, path, n};
        n->q = xcalloc(1, sizeof *n->q);
        bool weighted = op_has(n->op, OPT_WEIGHTS);
        ok = load_output(&q, n->q) && (!weighted || load_weights(&q, n->q)) && ok;
    }
    for (int i = 0; ok && i < g->nnodes; i++)
        quant_infer(g->nodes[i]);
    return ok;
}
