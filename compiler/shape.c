/* shape.c - helpers for the ops' shape rules (shape.h). */
#include "shape.h"

#include <string.h>

#include "util.h"

bool set_out(Node *n, int rank, const int64_t *dims)
{
    int64_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (!ck_mul(total, dims[i], &total) || total > IR_MAX_ELEMS) {
            char buf[160];
            diag_error(n->loc, "%s '%s': output shape %s is too large (limit %lld elements)",
                       op_name(n->op), n->name, ir_shape_str(rank, dims, buf, sizeof buf),
                       (long long)IR_MAX_ELEMS);
            return false;
        }
    }
    n->out->rank = rank;
    memcpy(n->out->dims, dims, sizeof *dims * (size_t)rank);
    return true;
}

bool need_rank(const Node *n, int rank, const char *what)
{
    const Tensor *t = n->in[0];
    if (t->rank == rank)
        return true;
    char buf[160];
    diag_error(n->loc, "%s '%s' expects %s but its input '%s' is %s", op_name(n->op), n->name, what,
               t->label, ir_shape_str(t->rank, t->dims, buf, sizeof buf));
    if (rank == 2 && t->rank == 4)
        diag_note(n->loc, "add 'flatten' before it");
    return false;
}

bool need_dim(Node *n)
{
    const Tensor *in = n->in[0];
    int64_t d = n->a.dim < 0 ? n->a.dim + in->rank : n->a.dim;
    if (d < 1 || d >= in->rank) {
        char buf[160];
        diag_error(n->loc,
                   "%s '%s': dim=%lld does not fit '%s' %s (use 1 to %d, or -1 to %d%s%s%s)",
                   op_name(n->op), n->name, (long long)n->a.dim, in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf), in->rank - 1, -(in->rank - 1),
                   d == 0 ? "; " : "", d == 0 ? op_name(n->op) : "",
                   d == 0 ? " over the batch is not supported" : "");
        return false;
    }
    n->a.dim = d;
    return true;
}

bool infer_elementwise(Node *n)
{
    return set_out(n, n->in[0]->rank, n->in[0]->dims);
}

/* (in + pad0 + pad1 - dil*(k-1) - 1) / stride + 1, rounded down, or up with
 * ceil_mode, where a last window starting in the end padding is dropped
 * (PyTorch's rule: starting at or after in + pad0). */
int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t pad0, int64_t pad1, int64_t dil,
                   bool ceil)
{
    int64_t span = dil * (k - 1) + 1; /* all factors <= 2^31: no overflow */
    int64_t padded = in + pad0 + pad1;
    if (span > padded)
        return -1;
    int64_t out = (padded - span + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (out - 1) * s >= in + pad0)
        out--;
    return out;
}

bool infer_window(Node *n, int64_t channels, bool pool)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    char pads[96];
    ir_pad_str(a, ", ", pads, sizeof pads);
    if (pool && (a->ph >= a->kh || a->pb >= a->kh || a->pw >= a->kw || a->pr >= a->kw)) {
        diag_error(n->loc, "%s '%s': pad %s must be smaller than the kernel (%lld, %lld)",
                   op_name(n->op), n->name, pads, (long long)a->kh, (long long)a->kw);
        return false;
    }
    bool ceil = pool && a->ceil_mode;
    int64_t oh = window_out(in->dims[2], a->kh, a->sh, a->ph, a->pb, a->dh, ceil);
    int64_t ow = window_out(in->dims[3], a->kw, a->sw, a->pw, a->pr, a->dw, ceil);
    if (oh < 1 || ow < 1) {
        char buf[160];
        int64_t eh = a->dh * (a->kh - 1) + 1, ew = a->dw * (a->kw - 1) + 1;
        diag_error(n->loc,
                   "%s '%s': the %skernel %lldx%lld is larger than the padded input %lldx%lld "
                   "(input '%s' is %s, pad %s)",
                   op_name(n->op), n->name, (a->dh > 1 || a->dw > 1) ? "dilated " : "",
                   (long long)eh, (long long)ew, (long long)(in->dims[2] + a->ph + a->pb),
                   (long long)(in->dims[3] + a->pw + a->pr), in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf), pads);
        return false;
    }
    int64_t dims[4] = {in->dims[0], channels, oh, ow};
    return set_out(n, 4, dims);
}

bool need_groups_divide(const Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    if (in->dims[1] % a->groups == 0 && a->channels % a->groups == 0)
        return true;
    diag_error(n->loc,
               "%s '%s': groups=%lld must divide both the input channels (%lld) and the "
               "output channels (%lld)",
               op_name(n->op), n->name, (long long)a->groups, (long long)in->dims[1],
               (long long)a->channels);
    return false;
}

bool same_shape(const Tensor *a, const Tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}
