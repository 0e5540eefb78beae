/* ops/linear.c - linear: fully connected layer (nn.Linear).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* linear with a fused activation: the product, then bias and activation in
 * one pass over the output. */
static void emit_linear_act(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], FIN = n->in[0]->dims[1], F = n->out->dims[1];
    bool bias = n->param[PARAM_BIAS] != NULL;
    char w[REF_SIZE], b[REF_SIZE], v[160];
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
    out(e, "const float v = out[b * %lld + o]%s;", F, bias ? " + bias[o]" : "");
    out(e, "out[b * %lld + o] = %s;", F, act_expr(n, "v", v, sizeof v));
    close_brace(e);
    close_brace(e);
}

/* linear's layer body: a GEMV (batch 1) or GEMM, or the sparse kernel. */
static void emit_linear(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], FIN = n->in[0]->dims[1], F = n->out->dims[1];
    bool bias = n->param[PARAM_BIAS] != NULL;
    char w[REF_SIZE], b[REF_SIZE];
    if (n->kernel == KERNEL_SPARSE) {
        emit_linear_sparse(e, n);
        return;
    }
    emit_fused_comment(e, n);
    if (n->fuse.act != OP_NONE) {
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

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_LINEAR = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = emit_linear,
};
