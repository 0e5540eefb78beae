/* ops/softmax.c - softmax and log_softmax over one dimension (nn.Softmax,
 * nn.LogSoftmax).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include "args.h"
#include "shape.h"

static const AttrSpec softmax_args[] = {{"dim", A_INT, false}, {NULL, 0, 0}};

/* The range of dim depends on the input's rank: checked in softmax_infer. */
static bool softmax_set_attrs(Node *n, const ArgSet *as)
{
    return get_int(as, "dim", 1, -4, &n->a.dim, op_name(n->op), n->loc);
}

/* softmax over any dimension but the batch; a negative dim counts from the
 * end, as in PyTorch. Normalises n->a.dim (so running this again is a no-op). */
static bool softmax_infer(Node *n)
{
    const Tensor *in = n->in[0];
    int64_t d = n->a.dim < 0 ? n->a.dim + in->rank : n->a.dim;
    if (d < 1 || d >= in->rank) {
        char buf[160];
        const char *op = op_name(n->op);
        diag_error(n->loc,
                   "%s '%s': dim=%lld does not fit input '%s' %s (use 1 to %d, or -1 to %d%s%s%s)",
                   op, n->name, (long long)n->a.dim, in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf), in->rank - 1, -(in->rank - 1),
                   d == 0 ? "; " : "", d == 0 ? op : "",
                   d == 0 ? " over the batch is not supported" : "");
        return false;
    }
    n->a.dim = d;
    return set_out(n, in->rank, in->dims);
}

static void softmax_print(const Node *n, FILE *f)
{
    fprintf(f, " dim=%lld", (long long)n->a.dim);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* Softmax over dimension d: for each of the `outer` slices before d and each
 * of the `inner` positions after it, over the dims[d] values at stride inner.
 * Subtracting the maximum first keeps expf finite, as PyTorch does.
 * log_softmax: (x - max) - log(sum of exp(x - max)), as ONNX's LogSoftmax
 * and PyTorch's log_softmax compute it. */
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
    if (n->op == OP_LOG_SOFTMAX) {
        out(e, "for (int c = 0; c < %lld; c++)", C);
        out(e, "    sum += expf(x[c * %lld] - m);", S);
        out(e, "const float ls = logf(sum);");
        out(e, "for (int c = 0; c < %lld; c++)", C);
        out(e, "    y[c * %lld] = (x[c * %lld] - m) - ls;", S, S);
        close_brace(e);
        close_brace(e);
        return;
    }
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "y[c * %lld] = expf(x[c * %lld] - m);", S, S);
    out(e, "sum += y[c * %lld];", S);
    close_brace(e);
    out(e, "for (int c = 0; c < %lld; c++)", C);
    out(e, "    y[c * %lld] /= sum;", S);
    close_brace(e);
    close_brace(e);
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

#include <math.h>

static void softmax_eval(const Node *n, const float *const *in, float *out)
{
    const Tensor *t = n->in[0];
    int64_t len = t->dims[n->a.dim], inner = 1;
    for (int d = (int)n->a.dim + 1; d < t->rank; d++)
        inner *= t->dims[d];
    int64_t outer = ir_tensor_numel(t) / (len * inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            const float *x = in[0] + o * len * inner + k;
            float *y = out + o * len * inner + k;
            double m = -INFINITY, s = 0.0;
            for (int64_t i = 0; i < len; i++)
                m = x[i * inner] > m ? x[i * inner] : m;
            for (int64_t i = 0; i < len; i++)
                s += exp(x[i * inner] - m);
            for (int64_t i = 0; i < len; i++)
                y[i * inner] = (float)(n->op == OP_SOFTMAX ? exp(x[i * inner] - m) / s
                                                           : x[i * inner] - m - log(s));
        }
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_SOFTMAX = {
    .eval = softmax_eval,
    /* front end */
    .args = softmax_args,
    .set_attrs = softmax_set_attrs,
    .infer = softmax_infer,
    .print = softmax_print,
    /* back end */
    .emit = emit_softmax,
};

const OpDef opdef_LOG_SOFTMAX = {
    .eval = softmax_eval,
    /* front end */
    .args = softmax_args,
    .set_attrs = softmax_set_attrs,
    .infer = softmax_infer,
    .print = softmax_print,
    /* back end */
    .emit = emit_softmax,
};
