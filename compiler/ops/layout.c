/* ops/layout.c - ops that change how a tensor's dimensions are laid out:
 * permute (x.permute(0, ...), the batch first) and reshape (a view: the
 * bytes stay, x.reshape(N, ...)).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <string.h>

#include "args.h"
#include "shape.h"
#include "util.h"

static const AttrSpec layout_args[] = DIM_ARGS(true);

/* permute(d0, ..., dk): every dimension of the input once, negative ones
 * counting from the end (checked against the input in permute_infer). */
static bool permute_set_attrs(Node *n, const ArgSet *as)
{
    return get_dim_list(as, -IR_MAX_RANK, n->a.shape, &n->a.nshape, "permute", n->loc);
}

static void dims_error(const Node *n, const char *why)
{
    char buf[160], want[64] = "";
    const Tensor *in = n->in[0];
    for (int i = 0; i < n->a.nshape; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "",
                 (long long)n->a.shape[i]);
    diag_error(n->loc, "%s '%s': (%s) on '%s' %s: %s", op_name(n->op), n->name, want, in->label,
               ir_shape_str(in->rank, in->dims, buf, sizeof buf), why);
}

/* x.permute(dims): output dimension i is input dimension dims[i]; the batch
 * stays first. Normalises a.shape (so running this again is a no-op). */
static bool permute_infer(Node *n)
{
    const Tensor *in = n->in[0];
    Attrs *a = &n->a;
    if (a->nshape != in->rank) {
        dims_error(n, "give each dimension once, the batch (0) first");
        return false;
    }
    bool seen[IR_MAX_RANK] = {false};
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < a->nshape; i++) {
        int64_t d = a->shape[i] < 0 ? a->shape[i] + in->rank : a->shape[i];
        if (d < 0 || d >= in->rank || seen[d]) {
            dims_error(n, "give each dimension once, the batch (0) first");
            return false;
        }
        seen[d] = true;
        a->shape[i] = d;
        dims[i] = in->dims[d];
    }
    if (a->shape[0] != 0) {
        dims_error(n, "the batch (dimension 0) must stay first");
        return false;
    }
    return set_out(n, in->rank, dims);
}

/* reshape(d0, ..., dk): x.reshape(N, d0, ..., dk), at most one -1 (the
 * rest of the elements), every other dimension positive. */
static bool reshape_set_attrs(Node *n, const ArgSet *as)
{
    return get_dim_list(as, -1, n->a.shape, &n->a.nshape, "reshape", n->loc);
}

static bool reshape_infer(Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    int64_t per_sample = ir_numel(in->rank - 1, in->dims + 1), known = 1;
    int64_t dims[IR_MAX_RANK] = {in->dims[0]};
    int free_dim = -1;
    if (a->nshape + 1 > IR_MAX_RANK) {
        dims_error(n, "at most three dimensions after the batch");
        return false;
    }
    for (int i = 0; i < a->nshape; i++) {
        if (a->shape[i] == -1 && free_dim < 0) {
            free_dim = i + 1;
            continue;
        }
        if (a->shape[i] < 1) {
            dims_error(n, "the dimensions are positive, one of them may be -1");
            return false;
        }
        if (!ck_mul(known, a->shape[i], &known) || known > per_sample) {
            dims_error(n, "more elements than the input has per sample");
            return false;
        }
        dims[i + 1] = a->shape[i];
    }
    if (free_dim > 0)
        dims[free_dim] = per_sample / known;
    if (per_sample % known != 0 || (free_dim < 0 && known != per_sample)) {
        dims_error(n, "the number of elements per sample differs");
        return false;
    }
    return set_out(n, a->nshape + 1, dims);
}

static void dims_print(const Node *n, FILE *f)
{
    fprintf(f, " (");
    for (int i = 0; i < n->a.nshape; i++)
        fprintf(f, "%s%lld", i ? ", " : "", (long long)n->a.shape[i]);
    fprintf(f, ")");
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* One loop per output dimension, the input read at stride
 * stride(dims[i]) along output dimension i. */
static void emit_permute(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int r = o->rank;
    int64_t stride[IR_MAX_RANK];
    stride[r - 1] = 1;
    for (int d = r - 2; d >= 0; d--)
        stride[d] = stride[d + 1] * in->dims[d + 1];
    StrBuf idx = {0};
    for (int i = 0; i < r; i++)
        sb_printf(&idx, "%si%d * %lld", i ? " + " : "", i, (long long)stride[n->a.shape[i]]);
    out(e, "int o = 0;");
    for (int d = 0; d < r; d++)
        open_block(e, "for (int i%d = 0; i%d < %lld; i%d++) {", d, d, (long long)o->dims[d], d);
    out(e, "out[o++] = in[%s];", idx.data);
    for (int d = 0; d < r; d++)
        close_brace(e);
    sb_free(&idx);
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_PERMUTE = {
    /* front end */
    .args = layout_args,
    .set_attrs = permute_set_attrs,
    .infer = permute_infer,
    .print = dims_print,
    /* back end */
    .emit = emit_permute,
};

const OpDef opdef_RESHAPE = {
    /* front end */
    .args = layout_args,
    .set_attrs = reshape_set_attrs,
    .infer = reshape_infer,
    .print = dims_print,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};
