/* ops/reduce.c - reductions over chosen dimensions: sum, mean, amax, amin
 * (torch.sum, torch.mean, torch.amax, torch.amin with dim and keepdim).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>
#include <string.h>

#include "args.h"
#include "shape.h"

static const AttrSpec reduce_args[] = {
    {"dim", A_DIMS, true}, {"keepdim", A_BOOL, false}, {NULL, 0, 0}};

/* dim: one dimension or a tuple of them, as given (negative ones count from
 * the end; reduce_infer checks them against the input). */
static bool reduce_set_attrs(Node *n, const ArgSet *as)
{
    get_dims(as, "dim", n->a.shape, &n->a.nshape);
    n->a.keepdim = get_bool(as, "keepdim", false);
    return true;
}

static void reduce_error(const Node *n, const char *why, long long d)
{
    char buf[160];
    const Tensor *in = n->in[0];
    diag_error(n->loc, "%s '%s': dim %lld on '%s' %s: %s", op_name(n->op), n->name, d, in->label,
               ir_shape_str(in->rank, in->dims, buf, sizeof buf), why);
}

/* Every dim once, not the batch (0); the output has the reduced dimensions
 * as 1 (keepdim) or without them. Sets a.reduced, the mask of reduced
 * dimensions (so running this again is a no-op). */
static bool reduce_infer(Node *n)
{
    const Tensor *in = n->in[0];
    Attrs *a = &n->a;
    int r = in->rank, rank = 0;
    unsigned mask = 0;
    for (int i = 0; i < a->nshape; i++) {
        int64_t d = a->shape[i] < 0 ? a->shape[i] + r : a->shape[i];
        if (d < 0 || d >= r) {
            char why[80];
            snprintf(why, sizeof why, "out of range (1 to %d, or -%d to -1)", r - 1, r - 1);
            reduce_error(n, why, (long long)a->shape[i]);
            return false;
        }
        if (d == 0) {
            reduce_error(n, "the batch (dimension 0) cannot be reduced", (long long)a->shape[i]);
            return false;
        }
        if (mask & (1u << d)) {
            reduce_error(n, "repeated", (long long)a->shape[i]);
            return false;
        }
        mask |= 1u << d;
    }
    a->reduced = mask;
    int64_t dims[IR_MAX_RANK];
    for (int d = 0; d < r; d++)
        if (!(mask & (1u << d)))
            dims[rank++] = in->dims[d];
        else if (a->keepdim)
            dims[rank++] = 1;
    return set_out(n, rank, dims);
}

static void reduce_print(const Node *n, FILE *f)
{
    fprintf(f, " dim=(");
    for (int d = 0, k = 0; d < IR_MAX_RANK; d++)
        if (n->a.reduced & (1u << d))
            fprintf(f, "%s%d", k++ ? "," : "", d);
    fprintf(f, ") keepdim=%s", n->a.keepdim ? "true" : "false");
}

/* The number of elements each output reduces. */
static int64_t reduce_count(const Node *n)
{
    int64_t count = 1;
    for (int d = 0; d < n->in[0]->rank; d++)
        if (n->a.reduced & (1u << d))
            count *= n->in[0]->dims[d];
    return count;
}

/* prune-channels: output channel k reads input channel k while the channels
 * (dimension 1) are not reduced. */
static int64_t reduce_channel_in(const Node *n, int i, int64_t k)
{
    (void)n, (void)i;
    return k;
}

static bool reduce_maps_channels(const Node *n)
{
    return !(n->a.reduced & 2u);
}

/* The emitter's sum of copies of the constant, in order (divided by their
 * count for mean; not always the constant itself); past 4096 values, not
 * worth computing: not a constant. amax and amin: the constant. */
static float reduce_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)k;
    int64_t count = reduce_count(n);
    if (n->op == OP_AMAX || n->op == OP_AMIN)
        return x[0];
    if (count > 4096)
        return NAN;
    float sum = 0.0f;
    for (int64_t i = 0; i < count; i++)
        sum += x[0];
    return n->op == OP_MEAN ? sum / (float)count : sum;
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* One loop per kept dimension (outermost, in order: the outputs come out
 * in row-major order), then one per reduced dimension, accumulating in
 * float: sum and mean add (mean divides by the count), amax and amin start
 * at the first element and keep a NaN (torch.amax propagates it). */
static void emit_reduce(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    int r = in->rank;
    unsigned mask = n->a.reduced;
    long long stride[IR_MAX_RANK];
    char base[256] = "0", off[256] = "";
    stride[r - 1] = 1;
    for (int d = r - 2; d >= 0; d--)
        stride[d] = stride[d + 1] * (long long)in->dims[d + 1];
    out(e, "float *o = out;");
    for (int d = 0; d < r; d++) {
        if (mask & (1u << d))
            continue;
        open_block(e, "for (int k%d = 0; k%d < %lld; k%d++) {", d, d, (long long)in->dims[d], d);
        snprintf(base + strlen(base), sizeof base - strlen(base), " + k%d * %lld", d, stride[d]);
    }
    bool extreme = n->op == OP_AMAX || n->op == OP_AMIN;
    if (extreme)
        out(e, "float acc = in[%s];", base);
    else
        out(e, "float acc = 0.0f;");
    for (int d = 0; d < r; d++) {
        if (!(mask & (1u << d)))
            continue;
        open_block(e, "for (int r%d = 0; r%d < %lld; r%d++) {", d, d, (long long)in->dims[d], d);
        snprintf(off + strlen(off), sizeof off - strlen(off), " + r%d * %lld", d, stride[d]);
    }
    out(e, "const float v = in[%s%s];", base, off);
    if (extreme)
        out(e, "if (v %s acc || v != v) acc = v;", n->op == OP_AMAX ? ">" : "<");
    else
        out(e, "acc += v;");
    for (int d = 0; d < r; d++)
        if (mask & (1u << d))
            close_brace(e);
    if (n->op == OP_MEAN)
        out(e, "*o++ = acc / %lld.0f;", (long long)reduce_count(n));
    else
        out(e, "*o++ = acc;");
    for (int d = 0; d < r; d++)
        if (!(mask & (1u << d)))
            close_brace(e);
}

/* ---- the ops ---------------------------------------------------------------- */

#define REDUCE_OP(ID)                                                                   \
    const OpDef opdef_##ID = {                                                          \
        /* front end */                                                                 \
        .args = reduce_args,                                                            \
        .set_attrs = reduce_set_attrs,                                                  \
        .infer = reduce_infer,                                                          \
        .print = reduce_print,                                                          \
        .channel_in = reduce_channel_in,                                                \
        .maps_channels = reduce_maps_channels,                                          \
        .channel_value = reduce_channel_value,                                          \
        /* back end */                                                                  \
        .emit = emit_reduce,                                                            \
    };

REDUCE_OP(SUM)
REDUCE_OP(MEAN)
REDUCE_OP(AMAX)
REDUCE_OP(AMIN)
