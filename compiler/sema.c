/* sema.c - from the syntax tree to the graph IR, with every shape inferred.
 *
 * One walk over the statements: params are evaluated as they appear (a -D
 * override replaces the value), each layer's arguments are checked against the
 * op's attribute table below and turned into Attrs with PyTorch's defaults, and
 * each node's output shape is inferred at once, so a shape error points at the
 * layer that caused it. All size arithmetic is overflow-checked. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ir.h"
#include "util.h"

/* ---- values ------------------------------------------------------------- */

typedef enum { V_INT, V_FLOAT, V_BOOL, V_STR, V_PAIR } ValKind;

typedef struct Value {
    ValKind kind;
    int64_t i, j; /* V_INT, V_BOOL: i; V_PAIR: (i, j) */
    double f;
    const char *s;
} Value;

static const char *kind_name(ValKind k)
{
    static const char *names[] = {"an integer", "a float", "a boolean", "a string", "a pair"};
    return names[k];
}

typedef struct Param {
    char *name;
    Value v;
    Loc loc;
} Param;

/* The state of one ir_build() call. */
typedef struct Sema {
    const BuildOptions *opt;
    Graph *g;
    Param *params;
    int nparams;
    int op_counts[OP_COUNT];
    Tensor *current; /* result of the previous chain */
    Loc current_loc;
    const Stmt *network_stmt, *input_stmt, *weights_stmt, *init_stmt, *output_stmt;
} Sema;

static Param *find_param(Sema *s, const char *name)
{
    for (int i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].name, name) == 0)
            return &s->params[i];
    return NULL;
}

/* The closest of `count` names to `name`, or NULL if none is close. */
static const char *nearest(const char *name, const char *const *names, int count)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < count; i++) {
        int d = edit_distance(name, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

static bool eval(Sema *s, const Expr *e, Value *out);

static bool eval_binop(Sema *s, const Expr *e, Value *out)
{
    Value a, b;
    if (!eval(s, e->lhs, &a) || !eval(s, e->rhs, &b))
        return false;
    if ((a.kind != V_INT && a.kind != V_FLOAT) || (b.kind != V_INT && b.kind != V_FLOAT)) {
        diag_error(e->loc, "operator '%c' needs numbers, not %s and %s", e->op, kind_name(a.kind),
                   kind_name(b.kind));
        return false;
    }
    if (a.kind == V_FLOAT || b.kind == V_FLOAT) {
        double x = a.kind == V_FLOAT ? a.f : (double)a.i;
        double y = b.kind == V_FLOAT ? b.f : (double)b.i;
        if ((e->op == '/' || e->op == '%') && y == 0) {
            diag_error(e->loc, "division by zero");
            return false;
        }
        double r = e->op == '+' ? x + y
                   : e->op == '-' ? x - y
                   : e->op == '*' ? x * y
                   : e->op == '/' ? x / y
                                  : x - y * floor(x / y);
        *out = (Value){.kind = V_FLOAT, .f = r};
        return true;
    }
    int64_t x = a.i, y = b.i, r = 0;
    bool ok = true;
    switch (e->op) {
    case '+':
        ok = ck_add(x, y, &r);
        break;
    case '-':
        ok = !__builtin_sub_overflow(x, y, &r);
        break;
    case '*':
        ok = ck_mul(x, y, &r);
        break;
    case '/':
    case '%':
        if (y == 0) {
            diag_error(e->loc, "division by zero");
            return false;
        }
        if (x == INT64_MIN && y == -1) {
            ok = false;
            break;
        }
        /* floor division and modulo, as Python's // and % */
        r = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0)))
            r--;
        if (e->op == '%')
            r = x - r * y;
        break;
    default:
        die("unknown operator %c", e->op);
    }
    if (!ok) {
        diag_error(e->loc, "integer overflow in '%c'", e->op);
        return false;
    }
    *out = (Value){.kind = V_INT, .i = r};
    return true;
}

static bool eval(Sema *s, const Expr *e, Value *out)
{
    switch (e->kind) {
    case EX_INT:
        *out = (Value){.kind = V_INT, .i = e->ival};
        return true;
    case EX_FLOAT:
        *out = (Value){.kind = V_FLOAT, .f = e->fval};
        return true;
    case EX_BOOL:
        *out = (Value){.kind = V_BOOL, .i = e->ival != 0};
        return true;
    case EX_STR:
        *out = (Value){.kind = V_STR, .s = e->str};
        return true;
    case EX_NAME: {
        Param *p = find_param(s, e->str);
        if (p) {
            *out = p->v;
            return true;
        }
        const char **names = xmalloc(sizeof *names * (size_t)(s->nparams + 1));
        for (int i = 0; i < s->nparams; i++)
            names[i] = s->params[i].name;
        const char *near = nearest(e->str, names, s->nparams);
        if (near)
            diag_error(e->loc, "unknown name '%s'; did you mean '%s'?", e->str, near);
        else
            diag_error(e->loc, "unknown name '%s' (params must be declared before use)", e->str);
        free(names);
        return false;
    }
    case EX_NEG: {
        Value v;
        if (!eval(s, e->lhs, &v))
            return false;
        if (v.kind == V_INT && v.i != INT64_MIN) {
            *out = (Value){.kind = V_INT, .i = -v.i};
            return true;
        }
        if (v.kind == V_FLOAT) {
            *out = (Value){.kind = V_FLOAT, .f = -v.f};
            return true;
        }
        if (v.kind == V_INT)
            diag_error(e->loc, "integer overflow in '-' (%llu does not fit in 64 bits)",
                       (unsigned long long)INT64_MAX + 1);
        else
            diag_error(e->loc, "cannot negate %s", kind_name(v.kind));
        return false;
    }
    case EX_BINOP:
        return eval_binop(s, e, out);
    case EX_TUPLE: {
        Value a, b;
        if (e->nitems != 2) {
            diag_error(e->loc, "expected a pair (h, w), not %d values", e->nitems);
            return false;
        }
        if (!eval(s, e->items[0], &a) || !eval(s, e->items[1], &b))
            return false;
        if (a.kind != V_INT || b.kind != V_INT) {
            diag_error(e->loc, "a pair must hold two integers");
            return false;
        }
        *out = (Value){.kind = V_PAIR, .i = a.i, .j = b.i};
        return true;
    }
    }
    die("bad expression kind %d", (int)e->kind);
}

/* ---- attributes --------------------------------------------------------- */

typedef enum { A_INT, A_PAIR, A_FLOAT, A_BOOL } AttrKind;

typedef struct AttrSpec {
    const char *name;
    AttrKind kind;
    bool required;
} AttrSpec;

#define MAX_ATTRS 8

/* Attributes of each op, in positional order (docs/language.md, "Ops"). */
static const AttrSpec *attr_specs(OpKind op)
{
    static const AttrSpec conv[] = {{"channels", A_INT, true}, {"kernel", A_PAIR, true},
                                    {"stride", A_PAIR, false}, {"pad", A_PAIR, false},
                                    {"dilation", A_PAIR, false}, {"groups", A_INT, false},
                                    {"bias", A_BOOL, false},    {NULL, 0, 0}};
    static const AttrSpec bn[] = {{"eps", A_FLOAT, false}, {"affine", A_BOOL, false}, {NULL, 0, 0}};
    static const AttrSpec leaky[] = {{"slope", A_FLOAT, false}, {NULL, 0, 0}};
    static const AttrSpec maxpool[] = {{"kernel", A_PAIR, true},     {"stride", A_PAIR, false},
                                       {"pad", A_PAIR, false},       {"dilation", A_PAIR, false},
                                       {"ceil_mode", A_BOOL, false}, {NULL, 0, 0}};
    static const AttrSpec avgpool[] = {{"kernel", A_PAIR, true},
                                       {"stride", A_PAIR, false},
                                       {"pad", A_PAIR, false},
                                       {"ceil_mode", A_BOOL, false},
                                       {"count_include_pad", A_BOOL, false},
                                       {NULL, 0, 0}};
    static const AttrSpec linear[] = {
        {"features", A_INT, true}, {"bias", A_BOOL, false}, {NULL, 0, 0}};
    static const AttrSpec dropout[] = {{"p", A_FLOAT, false}, {NULL, 0, 0}};
    static const AttrSpec softmax[] = {{"dim", A_INT, false}, {NULL, 0, 0}};
    static const AttrSpec none[] = {{NULL, 0, 0}};
    switch (op) {
    case OP_CONV2D:
        return conv;
    case OP_BATCHNORM:
        return bn;
    case OP_LEAKY_RELU:
        return leaky;
    case OP_MAXPOOL:
        return maxpool;
    case OP_AVGPOOL:
        return avgpool;
    case OP_LINEAR:
        return linear;
    case OP_DROPOUT:
        return dropout;
    case OP_SOFTMAX:
        return softmax;
    default:
        return none;
    }
}

/* One layer's arguments, matched to its op's attributes. */
typedef struct ArgSet {
    const AttrSpec *spec;
    Value val[MAX_ATTRS];
    bool set[MAX_ATTRS];
    Loc loc[MAX_ATTRS];
} ArgSet;

static bool convert_arg(const AttrSpec *sp, const char *op, Value *v, Loc loc)
{
    bool ok = false;
    switch (sp->kind) {
    case A_INT:
        ok = v->kind == V_INT;
        break;
    case A_PAIR:
        if (v->kind == V_INT)
            *v = (Value){.kind = V_PAIR, .i = v->i, .j = v->i};
        ok = v->kind == V_PAIR;
        break;
    case A_FLOAT:
        if (v->kind == V_INT)
            *v = (Value){.kind = V_FLOAT, .f = (double)v->i};
        ok = v->kind == V_FLOAT;
        break;
    case A_BOOL:
        ok = v->kind == V_BOOL;
        break;
    }
    if (!ok) {
        static const char *want[] = {"an integer", "an integer or a pair (h, w)", "a number",
                                     "true or false"};
        diag_error(loc, "%s: '%s' must be %s, not %s", op, sp->name, want[sp->kind],
                   kind_name(v->kind));
    }
    return ok;
}

static int spec_index(const AttrSpec *spec, const char *name)
{
    for (int i = 0; spec[i].name; i++)
        if (strcmp(spec[i].name, name) == 0)
            return i;
    return -1;
}

static bool match_args(Sema *s, const Layer *l, OpKind op, ArgSet *as)
{
    memset(as, 0, sizeof *as);
    as->spec = attr_specs(op);
    int nspec = 0;
    while (as->spec[nspec].name)
        nspec++;
    bool ok = true;
    for (int i = 0; i < l->nargs; i++) {
        const Arg *arg = &l->args[i];
        int k = i;
        Loc loc = arg->name ? arg->name_loc : arg->value->loc;
        if (arg->name) {
            k = spec_index(as->spec, arg->name);
            if (k < 0) {
                const char *names[MAX_ATTRS];
                for (int j = 0; j < nspec; j++)
                    names[j] = as->spec[j].name;
                const char *near = nearest(arg->name, names, nspec);
                if (near)
                    diag_error(loc, "%s has no argument '%s'; did you mean '%s'?", l->op,
                               arg->name, near);
                else if (nspec == 0)
                    diag_error(loc, "%s takes no arguments", l->op);
                else
                    diag_error(loc, "%s has no argument '%s'", l->op, arg->name);
                ok = false;
                continue;
            }
        } else if (k >= nspec) {
            if (nspec == 0)
                diag_error(loc, "%s takes no arguments", l->op);
            else
                diag_error(loc, "%s takes at most %d argument%s, got %d", l->op, nspec,
                           nspec == 1 ? "" : "s", l->nargs);
            ok = false;
            break;
        }
        if (as->set[k]) {
            diag_error(loc, "%s: argument '%s' given twice", l->op, as->spec[k].name);
            ok = false;
            continue;
        }
        Value v;
        if (!eval(s, arg->value, &v) || !convert_arg(&as->spec[k], l->op, &v, loc)) {
            ok = false;
            continue;
        }
        as->val[k] = v;
        as->set[k] = true;
        as->loc[k] = loc;
    }
    for (int k = 0; ok && k < nspec; k++) {
        if (as->spec[k].required && !as->set[k]) {
            diag_error(l->op_loc, "%s needs argument '%s'", l->op, as->spec[k].name);
            ok = false;
        }
    }
    return ok;
}

/* Fetch attribute `name` (or its default) checking it is at least `min`. */
static bool get_int(const ArgSet *as, const char *name, int64_t def, int64_t min, int64_t *out,
                    const char *op, Loc layer_loc)
{
    int k = spec_index(as->spec, name);
    *out = as->set[k] ? as->val[k].i : def;
    if (*out < min || *out > ((int64_t)1 << 31)) {
        diag_error(as->set[k] ? as->loc[k] : layer_loc, "%s: '%s' must be %s %lld, not %lld",
                   op, name, *out < min ? "at least" : "at most",
                   (long long)(*out < min ? min : ((int64_t)1 << 31)), (long long)*out);
        return false;
    }
    return true;
}

static bool get_pair(const ArgSet *as, const char *name, int64_t def_h, int64_t def_w, int64_t min,
                     int64_t *h, int64_t *w, const char *op, Loc layer_loc)
{
    int k = spec_index(as->spec, name);
    *h = as->set[k] ? as->val[k].i : def_h;
    *w = as->set[k] ? as->val[k].j : def_w;
    int64_t bad = *h < min ? *h : *w < min ? *w : 0;
    if (*h < min || *w < min || *h > ((int64_t)1 << 31) || *w > ((int64_t)1 << 31)) {
        if (*h >= min && *w >= min)
            bad = *h > *w ? *h : *w;
        diag_error(as->set[k] ? as->loc[k] : layer_loc, "%s: '%s' must be %s %lld, not %lld",
                   op, name, bad < min ? "at least" : "at most",
                   (long long)(bad < min ? min : ((int64_t)1 << 31)), (long long)bad);
        return false;
    }
    return true;
}

static bool get_bool(const ArgSet *as, const char *name, bool def)
{
    int k = spec_index(as->spec, name);
    return as->set[k] ? as->val[k].i != 0 : def;
}

static double get_float(const ArgSet *as, const char *name, double def)
{
    int k = spec_index(as->spec, name);
    return as->set[k] ? as->val[k].f : def;
}

static bool float_in(const ArgSet *as, const char *name, double v, double lo, double hi,
                     bool hi_open, const char *op)
{
    if (v >= lo && (hi_open ? v < hi : v <= hi) && !isnan(v))
        return true;
    int k = spec_index(as->spec, name);
    diag_error(as->loc[k], "%s: '%s' must be in [%g, %g%c, not %g", op, name, lo, hi,
               hi_open ? ')' : ']', v);
    return false;
}

/* Turn matched arguments into the node's Attrs, with PyTorch's defaults. */
static bool set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    const char *op = op_name(n->op);
    Loc L = n->loc;
    bool ok = true;
    switch (n->op) {
    case OP_CONV2D:
        ok = get_int(as, "channels", 0, 1, &a->channels, op, L) &&
             get_pair(as, "kernel", 1, 1, 1, &a->kh, &a->kw, op, L) &&
             get_pair(as, "stride", 1, 1, 1, &a->sh, &a->sw, op, L) &&
             get_pair(as, "pad", 0, 0, 0, &a->ph, &a->pw, op, L) &&
             get_pair(as, "dilation", 1, 1, 1, &a->dh, &a->dw, op, L) &&
             get_int(as, "groups", 1, 1, &a->groups, op, L);
        a->bias = get_bool(as, "bias", true);
        break;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        ok = get_pair(as, "kernel", 1, 1, 1, &a->kh, &a->kw, op, L) &&
             get_pair(as, "stride", a->kh, a->kw, 1, &a->sh, &a->sw, op, L) &&
             get_pair(as, "pad", 0, 0, 0, &a->ph, &a->pw, op, L);
        a->dh = a->dw = 1;
        if (ok && n->op == OP_MAXPOOL)
            ok = get_pair(as, "dilation", 1, 1, 1, &a->dh, &a->dw, op, L);
        a->ceil_mode = get_bool(as, "ceil_mode", false);
        a->count_include_pad = n->op == OP_AVGPOOL && get_bool(as, "count_include_pad", true);
        break;
    case OP_BATCHNORM:
        a->eps = get_float(as, "eps", 1e-5);
        a->affine = get_bool(as, "affine", true);
        ok = float_in(as, "eps", a->eps, 1e-30, 1.0, false, op);
        break;
    case OP_LEAKY_RELU:
        a->slope = get_float(as, "slope", 0.01);
        ok = float_in(as, "slope", a->slope, -1e30, 1e30, false, op);
        break;
    case OP_LINEAR:
        ok = get_int(as, "features", 0, 1, &a->channels, op, L);
        a->bias = get_bool(as, "bias", true);
        break;
    case OP_DROPOUT:
        a->p = get_float(as, "p", 0.5);
        ok = float_in(as, "p", a->p, 0.0, 1.0, true, op);
        break;
    case OP_SOFTMAX:
        ok = get_int(as, "dim", 1, -1, &a->dim, op, L);
        if (ok && a->dim != 1 && a->dim != -1) {
            diag_error(as->loc[0], "softmax: only dim=1 (features or channels) is supported");
            ok = false;
        }
        break;
    default:
        break;
    }
    return ok;
}

/* ---- shape inference ---------------------------------------------------- */

static bool set_out(Node *n, int rank, const int64_t *dims)
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

static bool need_rank(const Node *n, int rank, const char *what)
{
    const Tensor *t = n->in[0];
    if (t->rank == rank)
        return true;
    char buf[160];
    diag_error(n->loc, "%s '%s' expects %s but its input '%s' is %s", op_name(n->op), n->name,
               what, t->name, ir_shape_str(t->rank, t->dims, buf, sizeof buf));
    if (rank == 2 && t->rank == 4)
        diag_note(n->loc, "add 'flatten' before it");
    return false;
}

/* Output length of a sliding window (conv or pool), PyTorch's formula:
 * (in + 2*pad - dil*(k-1) - 1) / stride + 1, rounded down, or up with
 * ceil_mode, where a last window starting in the right padding is dropped.
 * Returns -1 if the (dilated) kernel does not fit in the padded input. */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil, bool ceil)
{
    int64_t span = dil * (k - 1) + 1; /* all factors <= 2^31: no overflow */
    int64_t padded = in + 2 * pad;
    if (span > padded)
        return -1;
    int64_t out = (padded - span + (ceil ? s - 1 : 0)) / s + 1;
    if (ceil && (out - 1) * s >= in + pad)
        out--;
    return out;
}

static bool infer_window(Node *n, int64_t channels)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    bool pool = n->op != OP_CONV2D;
    if (pool && (a->ph * 2 > a->kh || a->pw * 2 > a->kw)) {
        diag_error(n->loc, "%s '%s': pad (%lld, %lld) must be at most half the kernel (%lld, %lld)",
                   op_name(n->op), n->name, (long long)a->ph, (long long)a->pw, (long long)a->kh,
                   (long long)a->kw);
        return false;
    }
    int64_t oh = window_out(in->dims[2], a->kh, a->sh, a->ph, a->dh, pool && a->ceil_mode);
    int64_t ow = window_out(in->dims[3], a->kw, a->sw, a->pw, a->dw, pool && a->ceil_mode);
    if (oh < 1 || ow < 1) {
        char buf[160];
        int64_t eh = a->dh * (a->kh - 1) + 1, ew = a->dw * (a->kw - 1) + 1;
        diag_error(n->loc,
                   "%s '%s': the %skernel %lldx%lld is larger than the padded input %lldx%lld "
                   "(input '%s' is %s, pad (%lld, %lld))",
                   op_name(n->op), n->name, (a->dh > 1 || a->dw > 1) ? "dilated " : "",
                   (long long)eh, (long long)ew, (long long)(in->dims[2] + 2 * a->ph),
                   (long long)(in->dims[3] + 2 * a->pw), in->name,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf), (long long)a->ph,
                   (long long)a->pw);
        return false;
    }
    int64_t dims[4] = {in->dims[0], channels, oh, ow};
    return set_out(n, 4, dims);
}

static bool infer_conv2d(Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    if (in->dims[1] % a->groups != 0 || a->channels % a->groups != 0) {
        diag_error(n->loc,
                   "conv2d '%s': groups=%lld must divide both the input channels (%lld) and "
                   "the output channels (%lld)",
                   n->name, (long long)a->groups, (long long)in->dims[1], (long long)a->channels);
        return false;
    }
    return infer_window(n, a->channels);
}

bool infer_shape(Node *n)
{
    const Tensor *in = n->in[0];
    char buf[160];
    switch (n->op) {
    case OP_CONV2D:
        return infer_conv2d(n);
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        return need_rank(n, 4, "an image [N, C, H, W]") && infer_window(n, in->dims[1]);
    case OP_GLOBAL_AVGPOOL: {
        if (!need_rank(n, 4, "an image [N, C, H, W]"))
            return false;
        int64_t dims[4] = {in->dims[0], in->dims[1], 1, 1};
        return set_out(n, 4, dims);
    }
    case OP_FLATTEN: {
        int64_t dims[2] = {in->dims[0], ir_numel(in->rank - 1, in->dims + 1)};
        return set_out(n, 2, dims);
    }
    case OP_LINEAR: {
        if (!need_rank(n, 2, "a flat input [N, F]"))
            return false;
        int64_t dims[2] = {in->dims[0], n->a.channels};
        return set_out(n, 2, dims);
    }
    case OP_BATCHNORM:
    case OP_SOFTMAX:
        if (in->rank != 2 && in->rank != 4) {
            diag_error(n->loc, "%s '%s' expects [N, C, H, W] or [N, F], not %s", op_name(n->op),
                       n->name, ir_shape_str(in->rank, in->dims, buf, sizeof buf));
            return false;
        }
        return set_out(n, in->rank, in->dims);
    case OP_RELU:
    case OP_RELU6:
    case OP_LEAKY_RELU:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_DROPOUT:
        return set_out(n, in->rank, in->dims);
    case OP_COUNT:
        break;
    }
    die("infer_shape: bad op %d", (int)n->op);
}

/* ---- statements --------------------------------------------------------- */

/* C's keywords, and memcpy, which the generated NAME_run() calls: a tensor
 * name is a parameter of that function. */
static bool is_reserved(const char *s)
{
    static const char *const keywords[] = {
        "auto",     "break",  "case",     "char",       "const",    "continue", "default",
        "do",       "double", "else",     "enum",       "extern",   "float",    "for",
        "goto",     "if",     "inline",   "int",        "long",     "register", "restrict",
        "return",   "short",  "signed",   "sizeof",     "static",   "struct",   "switch",
        "typedef",  "union",  "unsigned", "void",       "volatile", "while",    "_Bool",
        "_Complex", "_Imaginary"};
    for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
        if (strcmp(s, keywords[i]) == 0)
            return true;
    return strcmp(s, "memcpy") == 0;
}

/* A C identifier made from a label: "features.0" -> "features_0", "int" -> "int_". */
static char *c_ident(const char *label)
{
    size_t n = strlen(label);
    char *s = xmalloc(n + 3);
    size_t j = 0;
    if (!isalpha((unsigned char)label[0]) && label[0] != '_')
        s[j++] = '_';
    for (size_t i = 0; i < n; i++)
        s[j++] = isalnum((unsigned char)label[i]) ? label[i] : '_';
    s[j] = '\0';
    if (is_reserved(s))
        strcpy(s + j, "_");
    return s;
}

static Tensor *find_tensor(const Graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcmp(g->tensors[i]->name, name) == 0)
            return g->tensors[i];
    return NULL;
}

static Node *find_node(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    return NULL;
}

/* A tensor name not yet used: base, or base_2, base_3, ... */
/* A tensor whose name differs from `name` by case only: the generated header's
 * macros (NET_X_SIZE) would be the same. */
static Tensor *find_tensor_nocase(const Graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcasecmp(g->tensors[i]->name, name) == 0)
            return g->tensors[i];
    return NULL;
}

static Tensor *new_unique_tensor(Graph *g, const char *base)
{
    char *id = c_ident(base);
    char *name = xstrdup(id);
    for (int k = 2; find_tensor_nocase(g, name); k++) {
        free(name);
        name = xasprintf("%s_%d", id, k);
    }
    Tensor *t = ir_tensor_new(g, name);
    free(name);
    free(id);
    return t;
}

static bool parse_define_value(const char *text, Value *v)
{
    char *end;
    errno = 0;
    long long i = strtoll(text, &end, 10);
    if (*text && *end == '\0' && errno == 0) {
        *v = (Value){.kind = V_INT, .i = i};
        return true;
    }
    double f = strtod(text, &end);
    if (*text && *end == '\0' && isfinite(f)) {
        *v = (Value){.kind = V_FLOAT, .f = f};
        return true;
    }
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        *v = (Value){.kind = V_BOOL, .i = text[0] == 't'};
        return true;
    }
    return false;
}

static bool do_param(Sema *s, const Stmt *st)
{
    Param *old = find_param(s, st->name);
    if (old) {
        diag_error(st->name_loc, "param '%s' is already defined", st->name);
        diag_note(old->loc, "first defined here");
        return false;
    }
    if (s->nparams >= IR_MAX_PARAMS) {
        diag_error(st->loc, "too many params (the limit is %d)", IR_MAX_PARAMS);
        return false;
    }
    Value v;
    if (!eval(s, st->value, &v))
        return false;
    for (int i = 0; i < s->opt->ndefines; i++) {
        Define *d = &s->opt->defines[i];
        if (strcmp(d->name, st->name) != 0)
            continue;
        d->used = true;
        if (!parse_define_value(d->value, &v)) {
            diag_error((Loc){0}, "-D %s=%s: the value must be an integer, a float, true or false",
                       d->name, d->value);
            return false;
        }
    }
    s->params = xrealloc(s->params, sizeof *s->params * (size_t)(s->nparams + 1));
    s->params[s->nparams++] = (Param){xstrdup(st->name), v, st->name_loc};
    return true;
}

static bool do_input(Sema *s, const Stmt *st)
{
    if (s->input_stmt) {
        diag_error(st->loc, "only one input is supported");
        diag_note(s->input_stmt->loc, "the input is declared here");
        return false;
    }
    s->input_stmt = st;
    if (st->ndims != 1 && st->ndims != 3) {
        diag_error(st->name_loc, "input '%s' needs 3 dimensions [C, H, W] or 1 [F], not %d",
                   st->name, st->ndims);
        return false;
    }
    Tensor *t = new_unique_tensor(s->g, st->name);
    t->rank = st->ndims + 1;
    t->dims[0] = s->g->batch;
    int64_t total = s->g->batch;
    for (int i = 0; i < st->ndims; i++) {
        Value v;
        if (!eval(s, st->dims[i], &v))
            return false;
        if (v.kind != V_INT || v.i < 1) {
            diag_error(st->dims[i]->loc, "input dimensions must be positive integers");
            return false;
        }
        if (!ck_mul(total, v.i, &total) || total > IR_MAX_ELEMS) {
            diag_error(st->dims[i]->loc, "input '%s' is too large (limit %lld elements)",
                       st->name, (long long)IR_MAX_ELEMS);
            return false;
        }
        t->dims[i + 1] = v.i;
    }
    s->g->inputs[s->g->ninputs++] = t;
    s->current = t;
    s->current_loc = st->loc;
    return true;
}

/* The weight-key / node name of a layer: its label, or "<op>_<n>". */
static char *layer_name(Sema *s, const Layer *l, OpKind op)
{
    if (l->label)
        return xstrdup(l->label);
    for (;;) {
        char *name = xasprintf("%s_%d", op_name(op), ++s->op_counts[op]);
        if (!find_node(s->g, name))
            return name;
        free(name);
    }
}

static bool unknown_op(Sema *s, const Layer *l)
{
    const char *names[OP_COUNT];
    for (int i = 0; i < OP_COUNT; i++)
        names[i] = op_name((OpKind)i);
    const char *near = nearest(l->op, names, OP_COUNT);
    if (find_param(s, l->op))
        diag_error(l->op_loc, "'%s' is a param, not an op", l->op);
    else if (near)
        diag_error(l->op_loc, "unknown op '%s'; did you mean '%s'?", l->op, near);
    else
        diag_error(l->op_loc, "unknown op '%s'", l->op);
    return false;
}

static bool do_layer(Sema *s, const Layer *l)
{
    OpKind op;
    if (!op_lookup(l->op, &op))
        return unknown_op(s, l);
    if (s->g->nnodes >= IR_MAX_NODES) {
        diag_error(l->label ? l->label_loc : l->op_loc,
                   "too many layers (the limit is %d per network)", IR_MAX_NODES);
        return false;
    }
    ArgSet as;
    if (!match_args(s, l, op, &as))
        return false;
    char *name = layer_name(s, l, op);
    Node *prev = find_node(s->g, name);
    if (prev) {
        diag_error(l->label_loc, "layer '%s' is already defined", name);
        diag_note(prev->loc, "first defined here");
        free(name);
        return false;
    }
    Loc loc = l->label ? l->label_loc : l->op_loc;
    Node *n = ir_node_new(s->g, op, name, loc);
    free(name);
    n->in[0] = s->current;
    n->nin = 1;
    s->current->nconsumers++;
    n->out = new_unique_tensor(s->g, n->name);
    n->out->producer = n;
    if (!set_attrs(n, &as) || !infer_shape(n))
        return false;
    s->current = n->out;
    return true;
}

/* A chain's first element is its source tensor when it is a bare name (no
 * label, no arguments) that names a tensor: `x -> conv2d(...)`. Otherwise the
 * chain continues from the previous result. */
static int chain_source(Sema *s, const Stmt *st)
{
    const Layer *first = &st->layers[0];
    if (st->nlayers < 1 || first->label || first->nargs > 0)
        return 0;
    Tensor *t = find_tensor(s->g, first->op);
    if (!t)
        return 0;
    s->current = t;
    return 1;
}

static bool do_chain(Sema *s, const Stmt *st)
{
    if (!s->current) {
        diag_error(st->loc, "layers must come after the 'input' declaration");
        return false;
    }
    for (int i = chain_source(s, st); i < st->nlayers; i++)
        if (!do_layer(s, &st->layers[i]))
            return false;
    if (st->target) {
        char *id = c_ident(st->target); /* "int" is the tensor int_ */
        Tensor *t = find_tensor_nocase(s->g, id);
        if (t && t != s->current && strcmp(t->name, id) != 0) {
            diag_error(st->target_loc,
                       "tensor name '%s' clashes with '%s' (the generated macros ignore case)",
                       st->target, t->name);
            free(id);
            return false;
        } else if (t && t != s->current) {
            diag_error(st->target_loc, "tensor name '%s' is already used", st->target);
            free(id);
            return false;
        }
        free(s->current->name);
        s->current->name = id;
    }
    s->current_loc = st->loc;
    return true;
}

static bool do_once(const Stmt **slot, const Stmt *st, const char *what)
{
    if (*slot) {
        diag_error(st->loc, "'%s' given twice", what);
        diag_note((*slot)->loc, "first given here");
        return false;
    }
    *slot = st;
    return true;
}

static bool do_init(Sema *s, const Stmt *st)
{
    if (!do_once(&s->init_stmt, st, "init"))
        return false;
    if (strcmp(st->name, "he") == 0)
        s->g->init = INIT_HE;
    else if (strcmp(st->name, "xavier") == 0)
        s->g->init = INIT_XAVIER;
    else {
        diag_error(st->name_loc, "unknown init scheme '%s' (expected 'he' or 'xavier')", st->name);
        return false;
    }
    for (int i = 0; i < st->nargs; i++) {
        const Arg *a = &st->args[i];
        Value v;
        if (a->name && strcmp(a->name, "seed") != 0) {
            diag_error(a->name_loc, "init has no argument '%s' (only 'seed')", a->name);
            return false;
        }
        if (i > 0) {
            diag_error(a->value->loc, "init takes one argument, the seed");
            return false;
        }
        if (!eval(s, a->value, &v))
            return false;
        if (v.kind != V_INT || v.i < 0) {
            diag_error(a->value->loc, "init seed must be a non-negative integer");
            return false;
        }
        s->g->seed = (uint64_t)v.i;
    }
    return true;
}

static bool do_stmt(Sema *s, const Stmt *st)
{
    switch (st->kind) {
    case ST_NETWORK:
        return do_once(&s->network_stmt, st, "network");
    case ST_INPUT:
        return do_input(s, st);
    case ST_WEIGHTS:
        return do_once(&s->weights_stmt, st, "weights");
    case ST_INIT:
        return do_init(s, st);
    case ST_PARAM:
        return do_param(s, st);
    case ST_CHAIN:
        return do_chain(s, st);
    case ST_OUTPUT: {
        if (!do_once(&s->output_stmt, st, "output"))
            return false;
        Tensor *t = find_tensor(s->g, st->name);
        if (!t) {
            diag_error(st->name_loc, "no tensor named '%s'", st->name);
            return false;
        }
        s->current = t;
        return true;
    }
    }
    die("bad statement kind %d", (int)st->kind);
}

/* The network name: --name, else `network NAME`, else the file name's stem. */
static bool set_name(Sema *s)
{
    const char *name = s->opt->name;
    Loc loc = {0};
    char *stem = NULL;
    if (!name && s->network_stmt) {
        name = s->network_stmt->name;
        loc = s->network_stmt->name_loc;
    }
    if (!name) {
        const char *path = s->opt->source_path ? s->opt->source_path : "net";
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        const char *dot = strrchr(base, '.');
        char *raw = xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
        stem = c_ident(raw);
        free(raw);
        name = stem;
    }
    bool ok = isalpha((unsigned char)name[0]) || name[0] == '_';
    for (const char *p = name; *p; p++)
        ok = ok && (isalnum((unsigned char)*p) || *p == '_');
    if (!ok)
        diag_error(loc, "network name '%s' is not a C identifier", name);
    else if (strlen(name) > AST_MAX_NAME)
        diag_error(loc, "network name '%.40s...' is too long (%zu bytes; the limit is %d)", name,
                   strlen(name), AST_MAX_NAME);
    else
        s->g->name = xstrdup(name);
    free(stem);
    return ok;
}

/* Where parameters come from: --weights, else `weights "f"` (relative to the
 * .cnn file), else `init`. */
static bool set_weights(Sema *s)
{
    Graph *g = s->g;
    if (s->opt->weights_path) {
        g->weights_path = xstrdup(s->opt->weights_path);
        g->init = INIT_NONE;
        return true;
    }
    if (s->weights_stmt && s->init_stmt) {
        diag_error(s->init_stmt->loc, "both 'weights' and 'init' are given; keep one");
        diag_note(s->weights_stmt->loc, "weights given here");
        return false;
    }
    if (s->weights_stmt) {
        const char *file = s->weights_stmt->str;
        const char *src = s->opt->source_path;
        const char *slash = src ? strrchr(src, '/') : NULL;
        if (file[0] != '/' && slash)
            g->weights_path = xasprintf("%.*s/%s", (int)(slash - src), src, file);
        else
            g->weights_path = xstrdup(file);
        g->weights_loc = s->weights_stmt->loc;
        return true;
    }
    if (s->init_stmt)
        return true;
    bool has_params = false;
    for (int i = 0; i < g->nnodes; i++)
        has_params = has_params || g->nodes[i]->op == OP_CONV2D || g->nodes[i]->op == OP_LINEAR ||
                     g->nodes[i]->op == OP_BATCHNORM;
    if (has_params) {
        diag_error((Loc){0}, "no weights: add 'weights \"FILE.safetensors\"', "
                             "'init he(seed=0)', or use --weights FILE");
        return false;
    }
    return true;
}

Graph *ir_build(const Program *prog, const BuildOptions *opt)
{
    Sema s = {.opt = opt, .g = ir_graph_new()};
    s.g->batch = opt->batch;
    int errors = diag_error_count();
    for (int i = 0; i < prog->nstmts; i++)
        if (!do_stmt(&s, &prog->stmts[i]))
            break; /* later statements depend on this one: stop at the first error */
    for (int i = 0; i < opt->ndefines && diag_error_count() == errors; i++) {
        if (opt->defines[i].used)
            continue;
        const char **names = xmalloc(sizeof *names * (size_t)(s.nparams + 1));
        for (int j = 0; j < s.nparams; j++)
            names[j] = s.params[j].name;
        const char *near = nearest(opt->defines[i].name, names, s.nparams);
        diag_error((Loc){0}, "-D %s: the network has no param '%s'%s%s%s", opt->defines[i].name,
                   opt->defines[i].name, near ? "; did you mean '" : "", near ? near : "",
                   near ? "'?" : "");
        free(names);
    }
    if (diag_error_count() == errors && !s.input_stmt)
        diag_error((Loc){0}, "the network has no 'input' declaration");
    if (diag_error_count() == errors)
        set_name(&s);
    if (diag_error_count() == errors)
        set_weights(&s);
    if (diag_error_count() == errors) {
        s.g->outputs[s.g->noutputs++] = s.current;
        if (s.current->producer == NULL)
            diag_error(s.current_loc, "the network output is its input: add at least one layer");
    }
    for (int i = 0; i < s.nparams; i++)
        free(s.params[i].name);
    free(s.params);
    if (diag_error_count() != errors) {
        ir_graph_free(s.g);
        return NULL;
    }
    return s.g;
}
