/* ops/linear.c - linear: fully connected layer (nn.Linear).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <string.h>

#include "args.h"
#include "shape.h"
#include "weights.h"

static const AttrSpec linear_args[] = {{"features", A_INT, true}, {"bias", A_BOOL, false},
                                        {"alpha", A_FLOAT, false}, {"beta", A_FLOAT, false},
                                        {NULL, 0, 0}};

/* nn.Linear; alpha and beta (default 1) scale the product and the bias as
 * ONNX's Gemm and torch.addmm do. */
static bool linear_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    bool ok = get_int(as, "features", 0, 1, &a->channels, op_name(n->op), n->loc);
    a->bias = get_bool(as, "bias", true);
    if (!ok || !get_float32(as, "alpha", 1.0, &a->alpha, "linear") ||
        !get_float32(as, "beta", 1.0, &a->beta, "linear"))
        return false;
    if (!a->bias && arg_given(as, "beta")) {
        diag_error(as->loc[spec_index(as->spec, "beta")], "linear: 'beta' scales the bias; "
                   "there is none with bias=false");
        return false;
    }
    a->alpha_beta = (float)a->alpha != 1.0f || (float)a->beta != 1.0f;
    return true;
}

/* nn.Linear: over the last dimension, [N, F] or [N, ..., F] -> [N, ..., features]. */
static bool linear_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (in->rank < 2)
        return need_rank(n, 2, "a flat input [N, F]");
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, in->dims, sizeof dims);
    dims[in->rank - 1] = n->a.channels;
    return set_out(n, in->rank, dims);
}

/* The input features: the input's last dimension. */
static int64_t linear_in_features(const Node *n)
{
    return n->in[0]->dims[n->in[0]->rank - 1];
}

/* weight [out, in], bias [out] (with bias=true). */
static void linear_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    rank[PARAM_WEIGHT] = 2;
    dims[PARAM_WEIGHT][0] = n->a.channels;
    dims[PARAM_WEIGHT][1] = linear_in_features(n);
    if (n->a.bias) {
        rank[PARAM_BIAS] = 1;
        dims[PARAM_BIAS][0] = n->a.channels;
    }
}

static void linear_print(const Node *n, FILE *f)
{
    fprintf(f, " features=%lld bias=%s", (long long)n->a.channels, n->a.bias ? "true" : "false");
    if (n->a.alpha_beta)
        fprintf(f, " alpha=%g beta=%g", n->a.alpha, n->a.beta);
}

static int64_t linear_macs(const Node *n)
{
    return ir_tensor_numel(n->out) * linear_in_features(n);
}

static void linear_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    init_fan_range(init, p, (double)linear_in_features(n), (double)n->a.channels, lo, hi);
}

/* A weight of the wrong shape whose row count is right: the wording users
 * search for, with the input count. */
static bool linear_param_mismatch(const Node *n, const Const *want, const StTensor *t)
{
    if (want->rank != 2 || t->rank != 2 || t->dims[0] != want->dims[0])
        return false;
    char b[160];
    diag_error(n->loc, "linear '%s' expects %lld inputs but '%s' has shape %s", n->name,
               (long long)want->dims[1], t->name, ir_shape_str(t->rank, t->dims, b, sizeof b));
    const Tensor *in = n->in[0];
    if (in->rank > 2 && t->dims[1] == ir_numel(in->rank - 1, in->dims + 1))
        diag_note(n->loc, "linear reads the last dimension of '%s' %s; add 'flatten' before it",
                  in->label, ir_shape_str(in->rank, in->dims, b, sizeof b));
    return true;
}

/* prune-channels: a constant input feature c adds c * W[o, j] to output o
 * (not with alpha or beta: the bias is scaled apart from the product). */
static bool linear_absorbs(const Node *n, float c)
{
    (void)c;
    return !n->a.alpha_beta;
}

/* --emit=dot: the features only when prune-channels removed some. */
static void linear_dot(const Node *n, FILE *f)
{
    if (n->channels_before_prune)
        ir_dot_channels(n, "out", f);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* linear with a fused activation, or alpha and beta: the product, then
 * alpha, bias and activation in one pass over the output. */
static void emit_linear_act(Emitter *e, const Node *n)
{
    long long N = ir_linear_rows(n), FIN = linear_in_features(n),
              F = n->out->dims[n->out->rank - 1];
    bool bias = n->param[PARAM_BIAS] != NULL;
    char w[REF_SIZE], b[REF_SIZE], v[160], sum[80], val[160];
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (N == 1)
        out(e, "cnnrt_sgemv(false, %lld, %lld, 1.0f, w, %lld, in, 0.0f, out);", F, FIN, FIN);
    else
        out(e,
            "cnnrt_sgemm(false, true, %lld, %lld, %lld, 1.0f, in, %lld, w, %lld, 0.0f, out, "
            "%lld);",
            N, F, FIN, FIN, FIN, F);
    if (bias)
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int o = 0; o < %lld; o++) {", F);
    snprintf(sum, sizeof sum, "out[b * %lld + o]", F);
    out(e, "const float v = %s;", linear_value(n, sum, val, sizeof val));
    out(e, "out[b * %lld + o] = %s;", F, act_expr(n, "v", v, sizeof v));
    close_brace(e);
    close_brace(e);
}

/* linear's layer body: a GEMV (batch 1) or GEMM, or the sparse kernel. */
static void emit_linear(Emitter *e, const Node *n)
{
    long long N = ir_linear_rows(n), FIN = linear_in_features(n),
              F = n->out->dims[n->out->rank - 1];
    bool bias = n->param[PARAM_BIAS] != NULL;
    char w[REF_SIZE], b[REF_SIZE];
    if (n->kernel == KERNEL_SPARSE) {
        emit_linear_sparse(e, n);
        return;
    }
    emit_fused_comment(e, n);
    if (n->fuse.act != OP_NONE || n->a.alpha_beta) {
        emit_linear_act(e, n);
        return;
    }
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (bias) {
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
        out(e, "for (int b = 0; b < %lld; b++)", N);
        out(e, "    for (int o = 0; o < %lld; o++)", F);
        out(e, "        out[b * %lld + o] = bias[o];", F);
    }
    /* One image: a matrix-vector product is several times faster than a GEMM with n = 1. */
    if (N == 1)
        out(e, "cnnrt_sgemv(false, %lld, %lld, 1.0f, w, %lld, in, %s, out);", F, FIN, FIN,
            bias ? "1.0f" : "0.0f");
    else
        out(e,
            "cnnrt_sgemm(false, true, %lld, %lld, %lld, 1.0f, in, %lld, w, %lld, %s, out, %lld);",
            N, F, FIN, FIN, FIN, bias ? "1.0f" : "0.0f", F);
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

static void linear_eval(const Node *n, const float *const *in, float *out)
{
    int64_t rows = ir_linear_rows(n), fin = linear_in_features(n), f = n->a.channels;
    const float *w = n->param[PARAM_WEIGHT]->data;
    const float *bias = n->a.bias ? n->param[PARAM_BIAS]->data : NULL;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < f; o++) {
            double s = 0.0;
            for (int64_t i = 0; i < fin; i++)
                s += (double)in[0][r * fin + i] * w[o * fin + i];
            if (n->a.alpha_beta)
                s *= (float)n->a.alpha;
            if (bias)
                s += n->a.alpha_beta ? (double)(float)n->a.beta * bias[o] : bias[o];
            out[r * f + o] = (float)s;
        }
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_LINEAR = {
    .eval = linear_eval,
    /* front end */
    .args = linear_args,
    .set_attrs = linear_set_attrs,
    .infer = linear_infer,
    .params = linear_params,
    .print = linear_print,
    .macs = linear_macs,
    .init_range = linear_init_range,
    .param_mismatch = linear_param_mismatch,
    .absorbs = linear_absorbs,
    .dot = linear_dot,
    /* back end */
    .emit = emit_linear,
};
