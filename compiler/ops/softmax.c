/* ops/softmax.c - softmax over one dimension (nn.Softmax).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* Softmax over dimension d: for each of the `outer` slices before d and each
 * of the `inner` positions after it, over the dims[d] values at stride inner.
 * Subtracting the maximum first keeps expf finite, as PyTorch does. */
static void emit_softmax(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    int d = (int)n->a.dim;
    long long outer = ir_numel(d, in->dims), C = in->dims[d];
    long long S = ir_numel(in->rank - d - 1, in->dims + d + 1);
    open_block(e, "for (int b = 0; b < %lld; b++) {", outer);
    open_block(e, "for (int s = 0; s < %lld; s++) {", S);
    out(e, "const float *x = in + b * %lld + s;", C * S);
    out(e, "float *y = out + b * %lld + s;", C * S);
    out(e, "float m = x[0], sum = 0.0f;");
    out(e, "for (int c = 1; c < %lld; c++)", C);
    out(e, "    m = x[c * %lld] > m ? x[c * %lld] : m;", S, S);
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "y[c * %lld] = expf(x[c * %lld] - m);", S, S);
    out(e, "sum += y[c * %lld];", S);
    close_brace(e);
    out(e, "for (int c = 0; c < %lld; c++)", C);
    out(e, "    y[c * %lld] /= sum;", S);
    close_brace(e);
    close_brace(e);
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_SOFTMAX = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = emit_softmax,
};
