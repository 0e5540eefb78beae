/* ops/norm.c - batchnorm: batch normalization in eval mode (nn.BatchNorm2d/1d);
 * layernorm: layer normalization over the channels (convnext's LayerNorm2d,
 * nn.LayerNorm(C) on channels-last); scale: a per-channel multiply by a
 * learned vector (convnext's layer_scale).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>

#include "args.h"
#include "shape.h"

static const AttrSpec batchnorm_args[] = {
    {"eps", A_FLOAT, false}, {"affine", A_BOOL, false}, {NULL, 0, 0}};

static bool batchnorm_set_attrs(Node *n, const ArgSet *as)
{
    n->a.eps = get_float(as, "eps", 1e-5);
    n->a.affine = get_bool(as, "affine", true);
    return float_in(as, "eps", n->a.eps, 1e-30, 1.0, false, op_name(n->op));
}

static bool batchnorm_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (in->rank != 2 && in->rank != 4) {
        char buf[160];
        diag_error(n->loc, "%s '%s' expects [N, C, H, W] or [N, F], not %s", op_name(n->op),
                   n->name, ir_shape_str(in->rank, in->dims, buf, sizeof buf));
        return false;
    }
    return set_out(n, in->rank, in->dims);
}

/* weight and bias (with affine=true), running_mean and running_var: one per channel. */
static void batchnorm_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    for (int p = 0; p < PARAM_MAX; p++) {
        if (!n->a.affine && (p == PARAM_WEIGHT || p == PARAM_BIAS))
            continue;
        rank[p] = 1;
        dims[p][0] = n->in[0]->dims[1];
    }
}

static void batchnorm_print(const Node *n, FILE *f)
{
    fprintf(f, " eps=%g affine=%s", n->a.eps, n->a.affine ? "true" : "false");
}

/* --init: weight and running_var around one, bias and running_mean around zero. */
static void batchnorm_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    (void)n;
    (void)init;
    bool around_one = p == PARAM_WEIGHT || p == PARAM_VAR;
    *lo = around_one ? 0.5 : -0.5;
    *hi = around_one ? 1.5 : 0.5;
}

/* prune-channels: the constant channel k becomes, with the emitter's formula. */
static float batchnorm_channel_value(const Node *n, int64_t k, const float *x)
{
    const float *w = n->a.affine ? n->param[PARAM_WEIGHT]->data : NULL;
    const float *b = n->a.affine ? n->param[PARAM_BIAS]->data : NULL;
    float scale = (w ? w[k] : 1.0f) / sqrtf(n->param[PARAM_VAR]->data[k] + (float)n->a.eps);
    float shift = (b ? b[k] : 0.0f) - n->param[PARAM_MEAN]->data[k] * scale;
    return x[0] * scale + shift;
}

/* layernorm: nn.LayerNorm(C, eps, elementwise_affine) over dim 1 of [N, C, H, W]
 * (each pixel's channels) or of [N, F]: torchvision's LayerNorm2d, and
 * nn.LayerNorm(C) between Permute([0, 2, 3, 1]) and back. */
static const AttrSpec layernorm_args[] = {
    {"eps", A_FLOAT, false}, {"affine", A_BOOL, false}, {NULL, 0, 0}};

static bool layernorm_set_attrs(Node *n, const ArgSet *as)
{
    n->a.eps = get_float(as, "eps", 1e-5);
    n->a.affine = get_bool(as, "affine", true);
    return float_in(as, "eps", n->a.eps, 0.0, 1.0, false, op_name(n->op));
}

/* weight and bias (with affine=true): one per channel. */
static void layernorm_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    if (!n->a.affine)
        return;
    for (int p = PARAM_WEIGHT; p <= PARAM_BIAS; p++) {
        rank[p] = 1;
        dims[p][0] = n->in[0]->dims[1];
    }
}

/* --init: weight around one, bias around zero. */
static void affine_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    (void)n;
    (void)init;
    *lo = p == PARAM_WEIGHT ? 0.5 : -0.5;
    *hi = p == PARAM_WEIGHT ? 1.5 : 0.5;
}

/* scale: y = x * weight[c] (+ bias[c] with bias=true), per channel c of
 * [N, C, H, W] or feature of [N, F]: convnext's layer_scale * x, whose
 * [C, 1, 1] parameter the exporter writes as a [C] weight. */
static const AttrSpec scale_args[] = {{"bias", A_BOOL, false}, {NULL, 0, 0}};

static bool scale_set_attrs(Node *n, const ArgSet *as)
{
    n->a.bias = get_bool(as, "bias", false);
    return true;
}

static void scale_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    for (int p = PARAM_WEIGHT; p <= (n->a.bias ? PARAM_BIAS : PARAM_WEIGHT); p++) {
        rank[p] = 1;
        dims[p][0] = n->in[0]->dims[1];
    }
}

static void scale_print(const Node *n, FILE *f)
{
    if (n->a.bias)
        fprintf(f, " bias=true");
}

static float scale_channel_value(const Node *n, int64_t k, const float *x)
{
    float v = x[0] * n->param[PARAM_WEIGHT]->data[k];
    return n->a.bias ? v + n->param[PARAM_BIAS]->data[k] : v;
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* Inference batchnorm: y = (x - mean) / sqrt(var + eps) * weight + bias, per channel. */
static void emit_batchnorm(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    long long N = in->dims[0], C = in->dims[1], HW = ir_numel(in->rank - 2, in->dims + 2);
    char m[REF_SIZE], v[REF_SIZE], w[REF_SIZE], b[REF_SIZE], eps[40];
    emit_fused_comment(e, n);
    out(e, "const float *mean = %s;", wptr(e, n, PARAM_MEAN, m, sizeof m));
    out(e, "const float *var = %s;", wptr(e, n, PARAM_VAR, v, sizeof v));
    if (n->a.affine) {
        out(e, "const float *weight = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    }
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "const float scale = %s / sqrtf(var[c] + %s);", n->a.affine ? "weight[c]" : "1.0f",
        flit(n->a.eps, eps, sizeof eps));
    out(e, "const float shift = %s - mean[c] * scale;", n->a.affine ? "bias[c]" : "0.0f");
    if (n->fuse.act == OP_NONE) {
        out(e, "for (int b = 0; b < %lld; b++)", N);
        out(e, "    for (int i = 0; i < %lld; i++)", HW);
        out(e,
            "        out[(b * %lld + c) * %lld + i] = in[(b * %lld + c) * %lld + i] * scale + "
            "shift;",
            C, HW, C, HW);
    } else {
        char act[160];
        open_block(e, "for (int b = 0; b < %lld; b++) {", N);
        open_block(e, "for (int i = 0; i < %lld; i++) {", HW);
        out(e, "const float v = in[(b * %lld + c) * %lld + i] * scale + shift;", C, HW);
        out(e, "out[(b * %lld + c) * %lld + i] = %s;", C, HW, act_expr(n, "v", act, sizeof act));
        close_brace(e);
        close_brace(e);
    }
    close_brace(e);
}

/* LayerNorm over the C channels of each pixel (stride HW apart), as ATen's
 * LayerNormKernel: mean and biased variance, rstd = 1 / sqrt(var + eps),
 * y = (x * rstd - mean * rstd) * weight + bias. The moments are summed in
 * double (two passes), so they are as close to exact as float32 allows. */
static void emit_layernorm(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    long long N = in->dims[0], C = in->dims[1], HW = ir_numel(in->rank - 2, in->dims + 2);
    char w[REF_SIZE], b[REF_SIZE], eps[40], act[160];
    emit_fused_comment(e, n);
    if (n->a.affine) {
        out(e, "const float *weight = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    }
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int i = 0; i < %lld; i++) {", HW);
    out(e, "const float *x = in + b * %lld + i;", C * HW);
    out(e, "float *y = out + b * %lld + i;", C * HW);
    out(e, "double sum = 0.0, sq = 0.0;");
    out(e, "for (int c = 0; c < %lld; c++)", C);
    out(e, "    sum += x[c * %lld];", HW);
    out(e, "const double m = sum / %lld.0;", C);
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "const double d = x[c * %lld] - m;", HW);
    out(e, "sq += d * d;");
    close_brace(e);
    out(e, "const float rstd = (float)(1.0 / sqrt(sq / %lld.0 + (double)%s));", C,
        flit(n->a.eps, eps, sizeof eps));
    out(e, "const float shift = -rstd * (float)m;");
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "const float v = (x[c * %lld] * rstd + shift)%s;", HW,
        n->a.affine ? " * weight[c] + bias[c]" : "");
    out(e, "y[c * %lld] = %s;", HW, act_expr(n, "v", act, sizeof act));
    close_brace(e);
    close_brace(e);
    close_brace(e);
}

static void emit_scale(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    long long N = in->dims[0], C = in->dims[1], HW = ir_numel(in->rank - 2, in->dims + 2);
    char w[REF_SIZE], b[REF_SIZE], act[160];
    emit_fused_comment(e, n);
    out(e, "const float *weight = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (n->a.bias)
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "const float s = weight[c];");
    open_block(e, "for (int i = 0; i < %lld; i++) {", HW);
    out(e, "const float v = in[(b * %lld + c) * %lld + i] * s%s;", C, HW,
        n->a.bias ? " + bias[c]" : "");
    out(e, "out[(b * %lld + c) * %lld + i] = %s;", C, HW, act_expr(n, "v", act, sizeof act));
    close_brace(e);
    close_brace(e);
    close_brace(e);
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

static void batchnorm_eval(const Node *n, const float *const *in, float *out)
{
    const int64_t *x = n->in[0]->dims;
    int64_t plane = ir_tensor_numel(n->in[0]) / (x[0] * x[1]);
    for (int64_t i = 0; i < x[0] * x[1]; i++) {
        int64_t c = i % x[1];
        double s = 1.0 / sqrt((double)n->param[PARAM_VAR]->data[c] + n->a.eps);
        double w = n->a.affine ? n->param[PARAM_WEIGHT]->data[c] : 1.0;
        double b = n->a.affine ? n->param[PARAM_BIAS]->data[c] : 0.0;
        double m = n->param[PARAM_MEAN]->data[c];
        for (int64_t j = 0; j < plane; j++)
            out[i * plane + j] = (float)((in[0][i * plane + j] - m) * s * w + b);
    }
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_BATCHNORM = {
    .eval = batchnorm_eval,
    /* front end */
    .args = batchnorm_args,
    .set_attrs = batchnorm_set_attrs,
    .infer = batchnorm_infer,
    .params = batchnorm_params,
    .print = batchnorm_print,
    .init_range = batchnorm_init_range,
    .ignored_key = "num_batches_tracked",
    .channel_value = batchnorm_channel_value,
    /* back end */
    .emit = emit_batchnorm,
};

const OpDef opdef_LAYERNORM = {
    /* front end */
    .args = layernorm_args,
    .set_attrs = layernorm_set_attrs,
    .infer = batchnorm_infer,
    .params = layernorm_params,
    .print = batchnorm_print,
    .init_range = affine_init_range,
    /* back end */
    .emit = emit_layernorm,
};

const OpDef opdef_SCALE = {
    /* front end */
    .args = scale_args,
    .set_attrs = scale_set_attrs,
    .infer = batchnorm_infer,
    .params = scale_params,
    .print = scale_print,
    .init_range = affine_init_range,
    .channel_value = scale_channel_value,
    /* back end */
    .emit = emit_scale,
};
