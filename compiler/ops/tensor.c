/* ops/tensor.c - tensor ops: flatten, dropout (identity at inference), concat
 * (add, mul, sub, div and constant: ops/binary.c; upsample: ops/upsample.c).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <string.h>

#include "args.h"
#include "shape.h"
#include "util.h"

static const AttrSpec dropout_args[] = {{"p", A_FLOAT, false}, {NULL, 0, 0}};

/* flatten: [N, C, H, W] -> [N, C*H*W]; feature f is channel f / (H*W). */
static bool flatten_infer(Node *n)
{
    const Tensor *in = n->in[0];
    int64_t dims[2] = {in->dims[0], ir_numel(in->rank - 1, in->dims + 1)};
    return set_out(n, 2, dims);
}

static int64_t flatten_channel_in(const Node *n, int i, int64_t k)
{
    (void)i;
    return k / (n->out->dims[1] / n->in[0]->dims[1]);
}

static bool dropout_set_attrs(Node *n, const ArgSet *as)
{
    n->a.p = get_float(as, "p", 0.5);
    /* p = 1 is allowed, as in PyTorch */
    return float_in(as, "p", n->a.p, 0.0, 1.0, false, op_name(n->op));
}

static void dropout_print(const Node *n, FILE *f)
{
    fprintf(f, " p=%g", n->a.p);
}

static const AttrSpec concat_args[] = {{"dim", A_INT, false}, {NULL, 0, 0}};

/* The range of dim depends on the rank: checked in concat_infer. */
static bool concat_set_attrs(Node *n, const ArgSet *as)
{
    return get_int(as, "dim", 1, -IR_MAX_RANK, &n->a.dim, "concat", n->loc);
}

/* torch.cat(dim): every other dimension must agree; any dim but the batch,
 * negative counting from the end (normalised, so running this again is a
 * no-op). */
static bool concat_infer(Node *n)
{
    const Tensor *first = n->in[0];
    if (!need_dim(n))
        return false;
    int64_t d = n->a.dim;
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    dims[d] = 0;
    for (int i = 0; i < n->nin; i++) {
        const Tensor *t = n->in[i];
        bool ok = t->rank == first->rank;
        for (int k = 0; ok && k < t->rank; k++)
            ok = k == d || t->dims[k] == first->dims[k];
        if (!ok) {
            char x[160], y[160];
            diag_error(n->loc,
                       "concat '%s': '%s' is %s but '%s' is %s; all dimensions but dim %lld "
                       "must agree",
                       n->name, first->label, ir_shape_str(first->rank, first->dims, x, sizeof x),
                       t->label, ir_shape_str(t->rank, t->dims, y, sizeof y), (long long)d);
            return false;
        }
        dims[d] += t->dims[d]; /* each <= IR_MAX_ELEMS, at most IR_MAX_NODE_INPUTS of them */
    }
    return set_out(n, first->rank, dims);
}

static void concat_print(const Node *n, FILE *f)
{
    if (n->a.dim != 1)
        fprintf(f, " dim=%lld", (long long)n->a.dim);
}

/* concat: channel k of input i is channel offset_i + k of the output. */
static int64_t concat_channel_in(const Node *n, int i, int64_t k)
{
    for (int j = 0; j < i; j++)
        k -= n->in[j]->dims[1];
    return k >= 0 && k < n->in[i]->dims[1] ? k : -1;
}

/* prune-channels: only a concat of channels maps them so. */
static bool concat_maps_channels(const Node *n)
{
    return n->a.dim == 1;
}

/* ---- back end: emitter ---------------------------------------------------- */

#include <string.h>

#include "emit_internal.h"

/* torch.cat(dim): for each index of the dimensions before dim, each
 * input's block (its dims from dim on) in turn. */
static void emit_concat(Emitter *e, const Node *n)
{
    const Tensor *o = n->out;
    int d = (int)n->a.dim;
    long long outer = ir_numel(d, o->dims), inner = ir_numel(o->rank - d - 1, o->dims + d + 1);
    long long at = 0, total = o->dims[d] * inner;
    open_block(e, "for (int b = 0; b < %lld; b++) {", outer);
    for (int i = 0; i < n->nin; i++) {
        long long c = n->in[i]->dims[d] * inner;
        out(e, "memcpy(out + b * %lld + %lld, in%d + b * %lld, %lld);", total, at, i, c,
            c * (long long)sizeof(float));
        at += c;
    }
    close_brace(e);
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

static void concat_eval(const Node *n, const float *const *in, float *out)
{
    int64_t outer = 1;
    for (int d = 0; d < n->a.dim; d++)
        outer *= n->out->dims[d];
    int64_t row = ir_tensor_numel(n->out) / outer, at = 0;
    for (int i = 0; i < n->nin; i++) {
        int64_t part = ir_tensor_numel(n->in[i]) / outer;
        for (int64_t o = 0; o < outer; o++)
            memcpy(out + o * row + at, in[i] + o * part, sizeof(float) * (size_t)part);
        at += part;
    }
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_FLATTEN = {
    /* front end */
    .args = NULL,
    .infer = flatten_infer,
    .channel_in = flatten_channel_in,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};

const OpDef opdef_DROPOUT = {
    /* front end */
    .args = dropout_args,
    .set_attrs = dropout_set_attrs,
    .infer = infer_elementwise,
    .print = dropout_print,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};

const OpDef opdef_CONCAT = {
    .eval = concat_eval,
    /* front end */
    .args = concat_args,
    .set_attrs = concat_set_attrs,
    .infer = concat_infer,
    .print = concat_print,
    .channel_in = concat_channel_in,
    .maps_channels = concat_maps_channels,
    /* back end */
    .emit = emit_concat,
};
