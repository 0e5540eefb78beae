/* ops/quant.c - quantize and dequantize (torch.quantize_per_tensor to
 * quint8, Tensor.dequantize), and which tensors are quint8: quant_infer.
 *
 * A quantized network (docs/quantization.md) is float32 at its edges:
 * `quantize(scale, zero_point)` turns a float tensor into quint8, the layers
 * after it compute on quint8 (emit_quant.c), and `dequantize` turns it back.
 * Each quint8 tensor has one scale and zero point: quantize's own, the ones
 * the weights file gives a conv2d, linear, add or concat
 * ("<layer>.scale", "<layer>.zero_point"; weights_quant.c), and for every
 * other op (relu, relu6, pools, flatten, dropout) its input's, as in PyTorch. */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <float.h>
#include <math.h>

#include "args.h"
#include "shape.h"

static const AttrSpec quantize_args[] = {
    {"scale", A_FLOAT, true}, {"zero_point", A_INT, true}, {NULL, 0, 0}};

/* The scale is used as a float32 (as PyTorch's kernels do): it must be a
 * positive normal float32. */
static bool quantize_set_attrs(Node *n, const ArgSet *as)
{
    double s = get_float(as, "scale", 1.0);
    if (!(s >= FLT_MIN && s <= FLT_MAX)) {
        diag_error(as->loc[spec_index(as->spec, "scale")],
                   "quantize: 'scale' must be a positive finite float32, not %g", s);
        return false;
    }
    n->a.qscale = (float)s;
    return get_int(as, "zero_point", 0, 0, &n->a.qzero, "quantize", n->loc) &&
           quant_zero_ok(as->loc[spec_index(as->spec, "zero_point")], n->a.qzero, "quantize",
                         "zero_point");
}

static bool same_infer(Node *n)
{
    return set_out(n, n->in[0]->rank, n->in[0]->dims);
}

static void quantize_print(const Node *n, FILE *f)
{
    fprintf(f, " scale=%.9g zero_point=%lld", n->a.qscale, (long long)n->a.qzero);
}

bool quant_zero_ok(Loc loc, int64_t zero, const char *op, const char *what)
{
    if (zero >= 0 && zero <= 255)
        return true;
    diag_error(loc, "%s: '%s' must be in [0, 255] (quint8), not %lld", op, what, (long long)zero);
    return false;
}

/* The quantized ops whose output scale and zero point come from the
 * weights file (QLayer); the others keep their input's. */
bool quant_has_qparams(OpKind op)
{
    return op == OP_CONV2D || op == OP_LINEAR || op == OP_ADD || op == OP_CONCAT;
}

bool quant_infer(Node *n)
{
    Tensor *o = n->out, *in = n->in[0];
    if (n->op == OP_QUANTIZE || n->op == OP_DEQUANTIZE) {
        bool want = n->op == OP_DEQUANTIZE;
        if (in->quant != want) {
            diag_error(n->loc, "%s '%s': its input '%s' is %s", op_name(n->op), n->name, in->label,
                       in->quant ? "already quantized (quint8)" : "float32, not quantized");
            return false;
        }
        o->quant = !want;
        o->qscale = want ? 0.0 : n->a.qscale;
        o->qzero = want ? 0 : n->a.qzero;
        return true;
    }
    int nq = 0;
    for (int i = 0; i < n->nin; i++)
        nq += n->in[i]->quant;
    o->quant = nq > 0;
    if (nq == 0)
        return true;
    if (nq < n->nin) {
        diag_error(n->loc,
                   "%s '%s' mixes quantized (quint8) and float32 inputs: quantize or "
                   "dequantize one of them",
                   op_name(n->op), n->name);
        return false;
    }
    if (!op_has(n->op, OPT_QUANT)) {
        diag_error(n->loc, "%s '%s' has no quantized version: dequantize its input '%s' first",
                   op_name(n->op), n->name, in->label);
        return false;
    }
    if (n->op == OP_ADD && !same_shape(n->in[0], n->in[1])) {
        diag_error(n->loc,
                   "add '%s': quantized operands must have the same shape (no "
                   "broadcasting)",
                   n->name);
        return false;
    }
    if (quant_has_qparams(n->op)) {
        o->qscale = n->q ? n->q->scale : 0.0;
        o->qzero = n->q ? n->q->zero : 0;
    } else {
        o->qscale = in->qscale;
        o->qzero = in->qzero;
    }
    return true;
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* q = clamp(round_half_even(x * (1 / scale)) + zero, 0, 255), as PyTorch's
 * quantize_per_tensor; NaN becomes 0. */
static void emit_quantize(Emitter *e, const Node *n)
{
    char inv[48], z[48];
    out(e, "for (int i = 0; i < %lld; i++) {", (long long)ir_tensor_numel(n->out));
    e->indent++;
    out(e, "float r = nearbyintf(in[i] * %s) + %s;",
        flit(1.0f / (float)n->a.qscale, inv, sizeof inv), flit((double)n->a.qzero, z, sizeof z));
    out(e, "out[i] = (unsigned char)(r > 255.0f ? 255.0f : r >= 0.0f ? r : 0.0f);");
    close_brace(e);
}

/* x = (q - zero) * scale in float32. */
static void emit_dequantize(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    char s[48];
    out(e, "for (int i = 0; i < %lld; i++)", (long long)ir_tensor_numel(n->out));
    out(e, "    out[i] = (float)((int)in[i] - %lld) * %s;", (long long)in->qzero,
        flit(in->qscale, s, sizeof s));
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_QUANTIZE = {
    .args = quantize_args,
    .set_attrs = quantize_set_attrs,
    .infer = same_infer,
    .print = quantize_print,
    .emit = emit_quantize,
};

const OpDef opdef_DEQUANTIZE = {
    .infer = same_infer,
    .emit = emit_dequantize,
};
