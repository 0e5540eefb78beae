/* ops/tensor.c - tensor ops: flatten, dropout (identity at inference), add, concat, upsample.
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
static const AttrSpec upsample_args[] = {
    {"scale", A_PAIR, false}, {"size", A_PAIR, false}, {"mode", A_STR, false}, {NULL, 0, 0}};

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

static bool same_shape(const Tensor *a, const Tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

static bool add_infer(Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    if (!same_shape(a, b)) {
        char x[160], y[160];
        diag_error(n->loc, "add '%s': shapes differ: '%s' is %s but '%s' is %s", n->name, a->label,
                   ir_shape_str(a->rank, a->dims, x, sizeof x), b->label,
                   ir_shape_str(b->rank, b->dims, y, sizeof y));
        return false;
    }
    return set_out(n, a->rank, a->dims);
}

/* add: channel k of the sum reads channel k of both operands. */
static int64_t add_channel_in(const Node *n, int i, int64_t k)
{
    (void)n;
    (void)i;
    return k;
}

static float add_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] + x[1];
}

/* concat along dim 1 (channels or features): every other dimension must agree. */
static bool concat_infer(Node *n)
{
    const Tensor *first = n->in[0];
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    dims[1] = 0;
    for (int i = 0; i < n->nin; i++) {
        const Tensor *t = n->in[i];
        bool ok = t->rank == first->rank;
        for (int d = 0; ok && d < t->rank; d++)
            ok = d == 1 || t->dims[d] == first->dims[d];
        if (!ok) {
            char x[160], y[160];
            diag_error(n->loc,
                       "concat '%s': '%s' is %s but '%s' is %s; all dimensions but the "
                       "channels must agree",
                       n->name, first->label, ir_shape_str(first->rank, first->dims, x, sizeof x),
                       t->label, ir_shape_str(t->rank, t->dims, y, sizeof y));
            return false;
        }
        dims[1] += t->dims[1]; /* each <= IR_MAX_ELEMS, at most IR_MAX_INPUTS of them */
    }
    return set_out(n, first->rank, dims);
}

/* concat: channel k of input i is channel offset_i + k of the output. */
static int64_t concat_channel_in(const Node *n, int i, int64_t k)
{
    for (int j = 0; j < i; j++)
        k -= n->in[j]->dims[1];
    return k >= 0 && k < n->in[i]->dims[1] ? k : -1;
}

/* upsample: exactly one of scale and size; mode "nearest" (default) or "bilinear". */
static bool upsample_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    bool has_scale = arg_given(as, "scale");
    bool has_size = arg_given(as, "size");
    if (has_scale == has_size) {
        diag_error(n->loc, "upsample needs either 'scale' or 'size'%s",
                   has_scale ? ", not both" : "");
        return false;
    }
    if (has_scale && !get_pair(as, "scale", 1, 1, 1, &a->scale_h, &a->scale_w, "upsample", n->loc))
        return false;
    if (has_size && !get_pair(as, "size", 1, 1, 1, &a->out_h, &a->out_w, "upsample", n->loc))
        return false;
    int k = spec_index(as->spec, "mode");
    const char *mode = as->set[k] ? as->val[k].s : "nearest";
    a->bilinear = strcmp(mode, "bilinear") == 0;
    if (!a->bilinear && strcmp(mode, "nearest") != 0) {
        diag_error(as->loc[k], "upsample: mode must be \"nearest\" or \"bilinear\", not \"%s\"",
                   mode);
        return false;
    }
    return true;
}

static bool upsample_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
    if (n->a.scale_h > 0 && (!ck_mul(in->dims[2], n->a.scale_h, &dims[2]) ||
                             !ck_mul(in->dims[3], n->a.scale_w, &dims[3]))) {
        diag_error(n->loc, "upsample '%s': output size overflows", n->name);
        return false;
    }
    return set_out(n, 4, dims);
}

static void upsample_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    if (a->scale_h)
        fprintf(f, " scale=(%lld,%lld)", (long long)a->scale_h, (long long)a->scale_w);
    else
        fprintf(f, " size=(%lld,%lld)", (long long)a->out_h, (long long)a->out_w);
    fprintf(f, " mode=%s", a->bilinear ? "bilinear" : "nearest");
}

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_FLATTEN = {
    /* front end */
    .args = NULL,
    .infer = flatten_infer,
    .channel_in = flatten_channel_in,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_DROPOUT = {
    /* front end */
    .args = dropout_args,
    .set_attrs = dropout_set_attrs,
    .infer = infer_elementwise,
    .print = dropout_print,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_ADD = {
    /* front end */
    .args = NULL,
    .infer = add_infer,
    .channel_in = add_channel_in,
    .channel_value = add_channel_value,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_CONCAT = {
    /* front end */
    .args = NULL,
    .infer = concat_infer,
    .channel_in = concat_channel_in,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_UPSAMPLE = {
    /* front end */
    .args = upsample_args,
    .set_attrs = upsample_set_attrs,
    .infer = upsample_infer,
    .print = upsample_print,
    /* back end */
    .emit = NULL,
};
