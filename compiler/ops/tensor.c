/* ops/tensor.c - tensor ops: flatten, dropout (identity at inference), add, mul,
 * sub, concat (upsample: ops/upsample.c).
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

static bool same_shape(const Tensor *a, const Tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

/* The operand of add/mul/sub that is broadcast over H and W: PyTorch's
 * broadcasting for the shapes cnnc has, one operand [N, C, 1, 1] and the other
 * [N, C, H, W] (a squeeze-and-excitation gate, a per-channel shift). -1 when
 * the shapes are equal (or cannot be broadcast: binary_infer says so). */
static int broadcast_operand(const Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    if (same_shape(a, b) || a->rank != 4 || b->rank != 4 || a->dims[0] != b->dims[0] ||
        a->dims[1] != b->dims[1])
        return -1;
    if (a->dims[2] == 1 && a->dims[3] == 1)
        return 0;
    if (b->dims[2] == 1 && b->dims[3] == 1)
        return 1;
    return -1;
}

/* add, mul, sub: equal shapes, or [N, C, 1, 1] with [N, C, H, W] in either
 * order (the result is [N, C, H, W]); nothing else. */
static bool binary_infer(Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    int k = broadcast_operand(n);
    if (k >= 0)
        return set_out(n, 4, n->in[1 - k]->dims);
    if (!same_shape(a, b)) {
        char x[160], y[160];
        diag_error(n->loc,
                   "%s '%s': shapes differ: '%s' is %s but '%s' is %s; they must be equal, or "
                   "one [N, C, 1, 1] and the other [N, C, H, W]",
                   op_name(n->op), n->name, a->label, ir_shape_str(a->rank, a->dims, x, sizeof x),
                   b->label, ir_shape_str(b->rank, b->dims, y, sizeof y));
        return false;
    }
    return set_out(n, a->rank, a->dims);
}

/* add, mul, sub: channel k of the result reads channel k of both operands
 * (a broadcast operand's one value per channel too). */
static int64_t binary_channel_in(const Node *n, int i, int64_t k)
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

static float mul_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] * x[1];
}

static float sub_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] - x[1];
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
        dims[1] += t->dims[1]; /* each <= IR_MAX_ELEMS, at most IR_MAX_NODE_INPUTS of them */
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

/* ---- back end: emitter ---------------------------------------------------- */

#include <string.h>

#include "emit_internal.h"

/* add, mul, sub: one C operator on each element; a broadcast operand's value
 * is read once per image and channel. In place, out is the full-size operand. */
static void emit_binary(Emitter *e, const Node *n, const char *op)
{
    int k = broadcast_operand(n);
    if (k < 0) {
        out(e, "for (int i = 0; i < %lld; i++)", (long long)ir_tensor_numel(n->out));
        out(e, "    out[i] = in0[i] %s in1[i];", op);
        return;
    }
    const Tensor *o = n->out;
    long long HW = o->dims[2] * o->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(o->dims[0] * o->dims[1]));
    out(e, "const float s = in%d[p];", k);
    out(e, "for (int i = 0; i < %lld; i++)", HW);
    if (k == 1)
        out(e, "    out[p * %lld + i] = in0[p * %lld + i] %s s;", HW, HW, op);
    else
        out(e, "    out[p * %lld + i] = s %s in1[p * %lld + i];", HW, op, HW);
    close_brace(e);
}

static void emit_add(Emitter *e, const Node *n)
{
    emit_binary(e, n, "+");
}

static void emit_mul(Emitter *e, const Node *n)
{
    emit_binary(e, n, "*");
}

static void emit_sub(Emitter *e, const Node *n)
{
    emit_binary(e, n, "-");
}

/* torch.cat(dim=1): per image, each input's channels (or features) in turn. */
static void emit_concat(Emitter *e, const Node *n)
{
    const Tensor *o = n->out;
    long long N = o->dims[0], S = ir_numel(o->rank - 2, o->dims + 2), at = 0;
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    for (int i = 0; i < n->nin; i++) {
        long long c = n->in[i]->dims[1];
        out(e, "memcpy(out + (b * %lld + %lld) * %lld, in%d + b * %lld, %lld);",
            (long long)o->dims[1], at, S, i, c * S, c * S * (long long)sizeof(float));
        at += c;
    }
    close_brace(e);
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

const OpDef opdef_ADD = {
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .channel_value = add_channel_value,
    /* back end */
    .emit = emit_add,
};

const OpDef opdef_MUL = {
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .channel_value = mul_channel_value,
    /* back end */
    .emit = emit_mul,
};

const OpDef opdef_SUB = {
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .channel_value = sub_channel_value,
    /* back end */
    .emit = emit_sub,
};

const OpDef opdef_CONCAT = {
    /* front end */
    .args = NULL,
    .infer = concat_infer,
    .channel_in = concat_channel_in,
    /* back end */
    .emit = emit_concat,
};
