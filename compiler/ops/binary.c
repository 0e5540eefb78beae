/* ops/binary.c - elementwise ops of two tensors with PyTorch's (numpy's)
 * broadcasting: add, mul, sub, div, maximum, minimum; and constant, a tensor of the weights file
 * they (and concat) may read.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>
#include <string.h>

#include "args.h"
#include "shape.h"
#include "util.h"

static const AttrSpec constant_args[] = DIM_ARGS(true);

/* The operand of add/mul/sub/div that is broadcast over H and W: one operand
 * [N, C, 1, 1] and the other [N, C, H, W] (a squeeze-and-excitation gate, a
 * per-channel shift), which has a loop of its own. -1 for any other shapes. */
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

/* numpy's broadcasting of a and b: the shapes aligned at the right, each pair
 * of dimensions equal or one of them 1. False if they do not broadcast. */
static bool broadcast_shape(const Tensor *a, const Tensor *b, int *rank, int64_t *dims)
{
    *rank = a->rank > b->rank ? a->rank : b->rank;
    for (int d = 0; d < *rank; d++) {
        int ia = d - (*rank - a->rank), ib = d - (*rank - b->rank);
        int64_t x = ia >= 0 ? a->dims[ia] : 1, y = ib >= 0 ? b->dims[ib] : 1;
        if (x != y && x != 1 && y != 1)
            return false;
        dims[d] = x == 1 ? y : x;
    }
    return true;
}

static void shapes_error(const Node *n, const char *why)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    char x[160], y[160];
    diag_error(n->loc, "%s '%s': '%s' is %s and '%s' is %s: %s", op_name(n->op), n->name, a->label,
               ir_shape_str(a->rank, a->dims, x, sizeof x), b->label,
               ir_shape_str(b->rank, b->dims, y, sizeof y), why);
}

/* add, mul, sub, div: PyTorch's broadcasting over the whole shapes (a
 * constant's shape is its own, without a batch). The result must keep the
 * batch of the computed operands: its rank is that of the larger of them and
 * its first dimension theirs. */
static bool binary_infer(Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    int rank;
    int64_t dims[IR_MAX_RANK];
    if (ir_is_constant(a) && ir_is_constant(b)) {
        shapes_error(n, "both are constants (compute the result into the weights file)");
        return false;
    }
    if (!broadcast_shape(a, b, &rank, dims)) {
        shapes_error(n, "the shapes do not broadcast (aligned at the right, each pair of "
                        "dimensions must be equal or one of them 1)");
        return false;
    }
    const Tensor *big = ir_is_constant(a) ? b : ir_is_constant(b) ? a : a->rank >= b->rank ? a : b;
    if (rank != big->rank || dims[0] != big->dims[0]) {
        char x[160], y[160], z[160];
        diag_error(n->loc,
                   "%s '%s': broadcasting '%s' %s with '%s' %s gives %s, whose first dimension "
                   "is not the batch of '%s'",
                   op_name(n->op), n->name, a->label, ir_shape_str(a->rank, a->dims, x, sizeof x),
                   b->label, ir_shape_str(b->rank, b->dims, y, sizeof y),
                   ir_shape_str(rank, dims, z, sizeof z), big->label);
        return false;
    }
    return set_out(n, rank, dims);
}

/* prune-channels: equal shapes and the [N, C, 1, 1] broadcast map channel k
 * of the result onto channel k of both operands; other broadcasts keep
 * every channel. */
static bool binary_maps_channels(const Node *n)
{
    return same_shape(n->in[0], n->in[1]) || broadcast_operand(n) >= 0;
}

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

static float div_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] / x[1];
}

/* maximum, minimum: as the emitted expression (NaN propagates). */
static float maximum_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return (x[0] > x[1] || isnan(x[0])) ? x[0] : x[1];
}

static float minimum_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return (x[0] < x[1] || isnan(x[0])) ? x[0] : x[1];
}

/* constant(d0, ..., dk): its shape, one to four positive dimensions, as
 * torch.empty's arguments. */
static bool constant_set_attrs(Node *n, const ArgSet *as)
{
    return get_dim_list(as, 1, n->a.shape, &n->a.nshape, "constant", n->loc);
}

static bool constant_infer(Node *n)
{
    return set_out(n, n->a.nshape, n->a.shape);
}

/* The value: NAME.weight, of the constant's shape. */
static void constant_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    rank[PARAM_WEIGHT] = n->out->rank;
    memcpy(dims[PARAM_WEIGHT], n->out->dims, sizeof dims[PARAM_WEIGHT]);
}

/* --init: uniform in [-1, 1]. */
static void constant_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    (void)n;
    (void)p;
    (void)init;
    *lo = -1.0;
    *hi = 1.0;
}

/* ---- back end: emitter ---------------------------------------------------- */

#include <stdlib.h>

#include "emit_internal.h"

/* The C expression of n on the operands a and b: `a op b`, or for maximum
 * and minimum the selection torch.maximum / torch.minimum make (a NaN in
 * either operand gives NaN). */
static const char *binary_expr(const Node *n, const char *a, const char *b, char *buf, size_t size)
{
    const char *op = n->op == OP_ADD       ? "+"
                     : n->op == OP_MUL     ? "*"
                     : n->op == OP_SUB     ? "-"
                     : n->op == OP_DIV     ? "/"
                     : n->op == OP_MAXIMUM ? ">"
                                           : "<";
    if (n->op == OP_MAXIMUM || n->op == OP_MINIMUM)
        snprintf(buf, size, "(%s %s %s || %s != %s) ? %s : %s", a, op, b, a, a, a, b);
    else
        snprintf(buf, size, "%s %s %s", a, op, b);
    return buf;
}

/* The loop over the result's elements in row-major order, each operand read
 * at its broadcast position: stride 0 along the dimensions where it is 1 or
 * that it lacks. */
static void emit_broadcast(Emitter *e, const Node *n)
{
    const Tensor *o = n->out;
    int r = o->rank;
    StrBuf idx[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) {
        const Tensor *t = n->in[i];
        int64_t stride = 1;
        for (int d = r - 1; d >= 0; d--) {
            int k = d - (r - t->rank);
            if (k < 0 || t->dims[k] == 1) {
                continue;
            }
            sb_printf(&idx[i], "%si%d * %lld", idx[i].len ? " + " : "", d, (long long)stride);
            stride *= t->dims[k];
        }
        if (!idx[i].len)
            sb_printf(&idx[i], "0");
    }
    out(e, "int o = 0;");
    for (int d = 0; d < r; d++)
        open_block(e, "for (int i%d = 0; i%d < %lld; i%d++) {", d, d, (long long)o->dims[d], d);
    char *a = xasprintf("in0[%s]", idx[0].data), *b = xasprintf("in1[%s]", idx[1].data);
    char buf[1024];
    out(e, "out[o++] = %s;", binary_expr(n, a, b, buf, sizeof buf));
    free(a);
    free(b);
    for (int d = 0; d < r; d++)
        close_brace(e);
    sb_free(&idx[0]);
    sb_free(&idx[1]);
}

/* add, mul, sub, div, maximum, minimum: one C expression per element; a
 * broadcast [N, C, 1, 1] operand's value is read once per image and channel.
 * In place, out is the full-size operand. */
static void emit_binary(Emitter *e, const Node *n)
{
    char buf[1024], a[64], b[64];
    if (same_shape(n->in[0], n->in[1])) {
        out(e, "for (int i = 0; i < %lld; i++)", (long long)ir_tensor_numel(n->out));
        out(e, "    out[i] = %s;", binary_expr(n, "in0[i]", "in1[i]", buf, sizeof buf));
        return;
    }
    int k = broadcast_operand(n);
    if (k < 0) {
        emit_broadcast(e, n);
        return;
    }
    const Tensor *o = n->out;
    long long HW = o->dims[2] * o->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(o->dims[0] * o->dims[1]));
    out(e, "const float s = in%d[p];", k);
    out(e, "for (int i = 0; i < %lld; i++)", HW);
    snprintf(k == 1 ? a : b, sizeof a, "in%d[p * %lld + i]", 1 - k, HW);
    snprintf(k == 1 ? b : a, sizeof a, "s");
    out(e, "    out[p * %lld + i] = %s;", HW, binary_expr(n, a, b, buf, sizeof buf));
    close_brace(e);
}

/* The value is copied from the weights on each run: the layers reading it
 * may work in place. */
static void emit_constant(Emitter *e, const Node *n)
{
    char w[96];
    out(e, "memcpy(out, %s, %lld);", wptr(e, n, PARAM_WEIGHT, w, sizeof w),
        (long long)ir_tensor_bytes(n->out));
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

/* Element i of the result from operand t, broadcast (aligned at the right). */
static int64_t broadcast_index(const Tensor *o, const Tensor *t, int64_t i)
{
    int64_t idx = 0, stride = 1;
    for (int d = o->rank - 1, e = t->rank - 1; d >= 0; d--, e--) {
        int64_t c = i % o->dims[d];
        i /= o->dims[d];
        if (e >= 0) {
            idx += (t->dims[e] == 1 ? 0 : c) * stride;
            stride *= t->dims[e];
        }
    }
    return idx;
}

static void binary_eval(const Node *n, const float *const *in, float *out)
{
    int64_t total = ir_tensor_numel(n->out);
    for (int64_t i = 0; i < total; i++) {
        float a = in[0][broadcast_index(n->out, n->in[0], i)];
        float b = in[1][broadcast_index(n->out, n->in[1], i)];
        switch (n->op) {
        case OP_ADD: out[i] = a + b; break;
        case OP_SUB: out[i] = a - b; break;
        case OP_MUL: out[i] = a * b; break;
        case OP_DIV: out[i] = a / b; break;
        case OP_MAXIMUM: out[i] = isnan(a) || a > b ? a : b; break;
        default: out[i] = isnan(a) || a < b ? a : b; break;
        }
    }
}

static void constant_eval(const Node *n, const float *const *in, float *out)
{
    (void)in;
    memcpy(out, n->param[PARAM_WEIGHT]->data, sizeof(float) * (size_t)ir_tensor_numel(n->out));
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_ADD = {
    .eval = binary_eval,
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .maps_channels = binary_maps_channels,
    .channel_value = add_channel_value,
    /* back end */
    .emit = emit_binary,
};

const OpDef opdef_MUL = {
    .eval = binary_eval,
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .maps_channels = binary_maps_channels,
    .channel_value = mul_channel_value,
    /* back end */
    .emit = emit_binary,
};

const OpDef opdef_SUB = {
    .eval = binary_eval,
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .maps_channels = binary_maps_channels,
    .channel_value = sub_channel_value,
    /* back end */
    .emit = emit_binary,
};

const OpDef opdef_DIV = {
    .eval = binary_eval,
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .maps_channels = binary_maps_channels,
    .channel_value = div_channel_value,
    /* back end */
    .emit = emit_binary,
};

const OpDef opdef_MAXIMUM = {
    .eval = binary_eval,
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .maps_channels = binary_maps_channels,
    .channel_value = maximum_channel_value,
    /* back end */
    .emit = emit_binary,
};

const OpDef opdef_MINIMUM = {
    .eval = binary_eval,
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .maps_channels = binary_maps_channels,
    .channel_value = minimum_channel_value,
    /* back end */
    .emit = emit_binary,
};

const OpDef opdef_CONSTANT = {
    .eval = constant_eval,
    /* front end */
    .args = constant_args,
    .set_attrs = constant_set_attrs,
    .infer = constant_infer,
    .params = constant_params,
    .init_range = constant_init_range,
    /* back end */
    .emit = emit_constant,
};
