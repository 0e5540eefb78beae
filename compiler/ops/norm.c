/* ops/norm.c - batchnorm: batch normalization in eval mode (nn.BatchNorm2d/1d).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

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

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_BATCHNORM = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = emit_batchnorm,
};
