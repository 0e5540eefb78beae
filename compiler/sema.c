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

/* A tensor visible under a name: the input, `x = ...` results, a block's `in`. */
typedef struct Binding {
    char *name;
    Tensor *t;
} Binding;

/* The top level, or one expansion of a block. */
typedef struct Scope {
    struct Scope *caller;
    const Stmt *block; /* NULL at the top level */
    char *prefix;      /* label prefix: "" at the top, "layer1.0" inside that block use */
    Param *params;     /* block parameters and params declared in the block */
    int nparams;
    Binding *names;
    int nnames;
    int op_counts[OP_COUNT]; /* for "<op>_<n>" names */
    int *block_counts;       /* for "<block>_<n>" names, one per block definition */
    Tensor *current;         /* result of the previous chain */
    Loc current_loc;
    Tensor *result; /* `output NAME` inside a block */
    int depth;
} Scope;

/* The state of one ir_build() call. */
typedef struct Sema {
    const BuildOptions *opt;
    const Program *prog;
    Graph *g;
    Param *params; /* top-level params */
    int nparams;
    Scope *scope;
    const Stmt **blocks;
    int nblocks;
    const Stmt *network_stmt, *input_stmt, *weights_stmt, *init_stmt, *output_stmt;
    const Stmt **prune_stmts; /* the statement of each g->prunes[i] */
} Sema;

#define MAX_BLOCK_DEPTH 32

static Param *find_in(Param *params, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

/* Lexical lookup: the current block's parameters, then the top-level params. */
static Param *find_param(Sema *s, const char *name)
{
    Param *p = s->scope ? find_in(s->scope->params, s->scope->nparams, name) : NULL;
    return p ? p : find_in(s->params, s->nparams, name);
}

/* The closest of `count` names to `name`, or NULL if none is close. */
static const char *nearest(const char *name, const char *const *names, int count)
{
    const char *best = NULL;
    int best_d = 3; /* at most two edits, and fewer than the name has letters */
    int len = (int)strlen(name);
    for (int i = 0; i < count; i++) {
        int d = edit_distance(name, names[i]);
        if (d < best_d && d < len) {
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
        double r = e->op == '+'   ? x + y
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
        if (x == INT64_MIN && y == -1) { /* C's x / y and x % y are undefined here */
            ok = e->op == '%';           /* the remainder is 0; the quotient 2^63 overflows */
            r = 0;
            break;
        }
        /* floor division and modulo, as Python's // and %. The modulo is
         * x % y moved into y's sign, not x - (x // y) * y, whose product can
         * overflow when the result does not (6 % INT64_MIN; found by fuzzing). */
        if (e->op == '/') {
            r = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0)))
                r--;
        } else {
            r = x % y;
            if (r != 0 && ((r < 0) != (y < 0)))
                r += y;
        }
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
        int nscope = s->scope ? s->scope->nparams : 0, count = 0;
        const char **names = xmalloc(sizeof *names * (size_t)(s->nparams + nscope + 1));
        for (int i = 0; i < s->nparams; i++)
            names[count++] = s->params[i].name;
        for (int i = 0; i < nscope; i++)
            names[count++] = s->scope->params[i].name;
        const char *near = nearest(e->str, names, count);
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

typedef enum { A_INT, A_PAIR, A_FLOAT, A_BOOL, A_STR, A_NUM } AttrKind; /* A_NUM: int or float */

typedef struct AttrSpec {
    const char *name;
    AttrKind kind;
    bool required;
} AttrSpec;

#define MAX_ATTRS 8

/* Attributes of each op, in positional order (docs/language.md, "Ops"). */
static const AttrSpec *attr_specs(OpKind op)
{
    static const AttrSpec conv[] = {{"channels", A_INT, true},   {"kernel", A_PAIR, true},
                                    {"stride", A_PAIR, false},   {"pad", A_PAIR, false},
                                    {"dilation", A_PAIR, false}, {"groups", A_INT, false},
                                    {"bias", A_BOOL, false},     {NULL, 0, 0}};
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
    static const AttrSpec upsample[] = {
        {"scale", A_PAIR, false}, {"size", A_PAIR, false}, {"mode", A_STR, false}, {NULL, 0, 0}};
    static const AttrSpec adaptive[] = {{"size", A_PAIR, true}, {NULL, 0, 0}};
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
    case OP_UPSAMPLE:
        return upsample;
    case OP_ADAPTIVE_AVGPOOL:
        return adaptive;
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
    case A_STR:
        ok = v->kind == V_STR;
        break;
    case A_NUM:
        ok = v->kind == V_INT || v->kind == V_FLOAT;
        break;
    }
    if (!ok) {
        static const char *want[] = {"an integer", "an integer or a pair (h, w)",
                                     "a number",   "true or false",
                                     "a string",   "a number"};
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

static bool match_args(Sema *s, const Layer *l, const AttrSpec *spec, ArgSet *as)
{
    memset(as, 0, sizeof *as);
    as->spec = spec;
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
                    diag_error(loc, "%s has no argument '%s'; did you mean '%s'?", l->op, arg->name,
                               near);
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
        diag_error(as->set[k] ? as->loc[k] : layer_loc, "%s: '%s' must be %s %lld, not %lld", op,
                   name, *out < min ? "at least" : "at most",
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
        diag_error(as->set[k] ? as->loc[k] : layer_loc, "%s: '%s' must be %s %lld, not %lld", op,
                   name, bad < min ? "at least" : "at most",
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

/* upsample: exactly one of scale and size; mode "nearest" (default) or "bilinear". */
static bool set_upsample(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    bool has_scale = as->set[spec_index(as->spec, "scale")];
    bool has_size = as->set[spec_index(as->spec, "size")];
    if (has_scale == has_size) {
        diag_error(n->loc, "upsample needs either 'scale' or 'size'%s",
                   has_scale ? ", not both" : "");
        return false;
    }
    if (has_scale && !get_pair(as, "scale", 1, 1, 1, &a->scale_h, &a->scale_w, "upsample", n->loc))
        return false;
    if (has_size && !get_pair(as, "size", 1, 1, 1, &a->out_h, &a->out_w, "upsample", n->loc))
        return false;
    int k = spec_index(as->spec, "mode");
    const char *mode = as->set[k] ? as->val[k].s : "nearest";
    a->bilinear = strcmp(mode, "bilinear") == 0;
    if (!a->bilinear && strcmp(mode, "nearest") != 0) {
        diag_error(as->loc[k], "upsample: mode must be \"nearest\" or \"bilinear\", not \"%s\"",
                   mode);
        return false;
    }
    return true;
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
        ok = float_in(as, "p", a->p, 0.0, 1.0, false, op); /* p = 1 is allowed, as in PyTorch */
        break;
    case OP_UPSAMPLE:
        ok = set_upsample(n, as);
        break;
    case OP_ADAPTIVE_AVGPOOL:
        ok = get_pair(as, "size", 1, 1, 1, &a->out_h, &a->out_w, op, L);
        break;
    case OP_SOFTMAX:
        /* The range depends on the input's rank: checked in infer_softmax. */
        ok = get_int(as, "dim", 1, -4, &a->dim, op, L);
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
    diag_error(n->loc, "%s '%s' expects %s but its input '%s' is %s", op_name(n->op), n->name, what,
               t->label, ir_shape_str(t->rank, t->dims, buf, sizeof buf));
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
                   (long long)(in->dims[3] + 2 * a->pw), in->label,
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

static bool same_shape(const Tensor *a, const Tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

static bool infer_add(Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    if (!same_shape(a, b)) {
        char x[160], y[160];
        diag_error(n->loc, "add '%s': shapes differ: '%s' is %s but '%s' is %s", n->name, a->label,
                   ir_shape_str(a->rank, a->dims, x, sizeof x), b->label,
                   ir_shape_str(b->rank, b->dims, y, sizeof y));
        return false;
    }
    return set_out(n, a->rank, a->dims);
}

/* concat along dim 1 (channels or features): every other dimension must agree. */
static bool infer_concat(Node *n)
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
        dims[1] += t->dims[1]; /* each <= IR_MAX_ELEMS, at most IR_MAX_INPUTS of them */
    }
    return set_out(n, first->rank, dims);
}

static bool infer_upsample(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
    if (n->a.scale_h > 0 && (!ck_mul(in->dims[2], n->a.scale_h, &dims[2]) ||
                             !ck_mul(in->dims[3], n->a.scale_w, &dims[3]))) {
        diag_error(n->loc, "upsample '%s': output size overflows", n->name);
        return false;
    }
    return set_out(n, 4, dims);
}

/* softmax over any dimension but the batch; a negative dim counts from the
 * end, as in PyTorch. Normalises n->a.dim (so running this again is a no-op). */
static bool infer_softmax(Node *n)
{
    const Tensor *in = n->in[0];
    int64_t d = n->a.dim < 0 ? n->a.dim + in->rank : n->a.dim;
    if (d < 1 || d >= in->rank) {
        char buf[160];
        diag_error(n->loc,
                   "softmax '%s': dim=%lld does not fit input '%s' %s (use 1 to %d, or -1 to %d%s)",
                   n->name, (long long)n->a.dim, in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf), in->rank - 1, -(in->rank - 1),
                   d == 0 ? "; softmax over the batch is not supported" : "");
        return false;
    }
    n->a.dim = d;
    return set_out(n, in->rank, in->dims);
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
    case OP_SOFTMAX:
        return infer_softmax(n);
    case OP_BATCHNORM:
        if (in->rank != 2 && in->rank != 4) {
            diag_error(n->loc, "%s '%s' expects [N, C, H, W] or [N, F], not %s", op_name(n->op),
                       n->name, ir_shape_str(in->rank, in->dims, buf, sizeof buf));
            return false;
        }
        return set_out(n, in->rank, in->dims);
    case OP_ADD:
        return infer_add(n);
    case OP_CONCAT:
        return infer_concat(n);
    case OP_UPSAMPLE:
        return infer_upsample(n);
    case OP_ADAPTIVE_AVGPOOL: {
        if (!need_rank(n, 4, "an image [N, C, H, W]"))
            return false;
        int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
        return set_out(n, 4, dims);
    }
    case OP_RELU:
    case OP_RELU6:
    case OP_LEAKY_RELU:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_HARDSWISH:
    case OP_SILU:
    case OP_DROPOUT:
        return set_out(n, in->rank, in->dims);
    case OP_NONE:
    case OP_COUNT:
        break;
    }
    die("infer_shape: bad op %d", (int)n->op);
}

/* ---- names ----------------------------------------------------------------- */

static bool is_c_keyword(const char *s)
{
    static const char *kw[] = {
        "auto",     "break",  "case",   "char",     "const",    "continue",  "default",  "do",
        "double",   "else",   "enum",   "extern",   "float",    "for",       "goto",     "if",
        "inline",   "int",    "long",   "register", "restrict", "return",    "short",    "signed",
        "sizeof",   "static", "struct", "switch",   "typedef",  "union",     "unsigned", "void",
        "volatile", "while",  "main",   "_Bool",    "_Complex", "_Imaginary"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0)
            return true;
    return false;
}

/* Names a tensor's C name may not be: it is a parameter of NAME_run(), so it
 * must not be an object-like macro of the headers the generated code
 * includes (<math.h>, <string.h>, <stdio.h>, <stdlib.h>, "cnnrt.h" with
 * <stdbool.h> and <stddef.h>), in ISO or GNU mode (-std=gnu11 predefines
 * linux and unix), nor hide what NAME_run() uses (memcpy, its locals). The
 * list is glibc's, plus the traditional system names other targets
 * predefine in GNU mode; other libcs' macros mostly follow the prefixes of
 * reserved_prefix(). Function-like macros (isnan) are only expanded before
 * a '(', never after a parameter name. */
static bool is_reserved(const char *s)
{
    static const char *const names[] = {
        /* what NAME_run() calls or declares */
        "memcpy", "prof_t", "blas_threads_set",
        /* <stdbool.h>, <stddef.h>, <stdio.h>, <stdlib.h>, <string.h> */
        "bool", "true", "false", "NULL", "EOF", "BUFSIZ", "FILENAME_MAX", "FOPEN_MAX",
        "TMP_MAX", "P_tmpdir", "stdin", "stdout", "stderr", "RAND_MAX", "MB_CUR_MAX",
        "FD_SETSIZE", "NFDBITS", "BIG_ENDIAN", "LITTLE_ENDIAN", "PDP_ENDIAN", "BYTE_ORDER",
        "WCONTINUED", "WEXITED", "WNOHANG", "WNOWAIT", "WSTOPPED", "WUNTRACED", "errno",
        /* <math.h> */
        "NAN", "INFINITY", "MAXFLOAT", "math_errhandling",
        /* predefined in GNU mode */
        "linux", "unix", "i386", "sun", "sparc", "mips", "vax", "m68k", "hppa", "pdp11",
        "ns32000", "bsd", "BSD"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

/* Families of macros by prefix: the runtime's (cnnrt_, CNNRT_), and <math.h>'s
 * and <stdio.h>/<stdlib.h>'s (FP_NAN, FP_INT_UPWARD, M_PI, M_2_SQRTPI,
 * HUGE_VALF, SNANF, MATH_ERRNO, SEEK_SET, EXIT_FAILURE, L_tmpnam,
 * RENAME_NOREPLACE). */
static bool reserved_prefix(const char *s)
{
    static const char *const prefixes[] = {"cnnrt_", "CNNRT_",   "FP_",   "HUGE_VAL", "SNAN",
                                           "MATH_ERR", "SEEK_", "EXIT_", "RENAME_",  "L_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return s[0] == 'M' && s[1] == '_' && (isupper((unsigned char)s[2]) || isdigit((unsigned char)s[2]));
}

/* A C identifier made from a label: "features.0" -> "features_0", "int" ->
 * "int_", "NAN" -> "NAN_" (a macro), "__LINE__" -> "t__LINE__" (names that
 * begin with __ or _ and a capital letter are the C implementation's, any of
 * them may be a macro, and one that ends in _ as well: a trailing _ is not
 * enough). */
static char *c_ident(const char *label)
{
    size_t n = strlen(label);
    char *s = xmalloc(n + 4);
    size_t j = 0;
    if (!isalpha((unsigned char)label[0]) && label[0] != '_')
        s[j++] = '_';
    else if (label[0] == '_' && (label[1] == '_' || isupper((unsigned char)label[1])))
        s[j++] = 't';
    for (size_t i = 0; i < n; i++)
        s[j++] = isalnum((unsigned char)label[i]) ? label[i] : '_';
    s[j] = '\0';
    if (is_c_keyword(s) || j == 0 || is_reserved(s) || reserved_prefix(s))
        s[j++] = '_';
    s[j] = '\0';
    return s;
}

static Node *find_node(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    return NULL;
}

/* A tensor whose name differs from `name` by case only: the generated header's
 * macros (NET_X_SIZE) would be the same. */
static Tensor *find_tensor_nocase(const Graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcasecmp(g->tensors[i]->name, name) == 0)
            return g->tensors[i];
    return NULL;
}

/* A tensor C name not yet used, even ignoring case: base, or base_2, ... */
static char *unique_tensor_name(Graph *g, const char *base)
{
    char *id = c_ident(base);
    char *name = xstrdup(id);
    for (int k = 2; find_tensor_nocase(g, name); k++) {
        free(name);
        name = xasprintf("%s_%d", id, k);
    }
    free(id);
    return name;
}

/* Once the network has its name: the generated code's own names begin with
 * it, NET_ in upper case for macros (NET_BATCH, NET_H, NET_X_SIZE, NET_PARTS)
 * and net_ for the rest (net_arena, net_prof), so a tensor named so would be
 * replaced by a macro or hide a variable in net_run(). It gets a trailing _:
 * no generated name ends in _. */
static void rename_prefixed_tensors(Graph *g)
{
    char *lower = xasprintf("%s_", g->name), *upper = xstrdup(lower);
    size_t n = strlen(lower);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (int i = 0; i < g->ntensors; i++) {
        Tensor *t = g->tensors[i];
        if (strncmp(t->name, lower, n) != 0 && strncmp(t->name, upper, n) != 0)
            continue;
        char *base = xasprintf("%s_", t->name);
        char *name = xstrdup(base);
        for (int k = 2; find_tensor_nocase(g, name); k++) {
            free(name);
            name = xasprintf("%s_%d", base, k);
        }
        free(base);
        free(t->name);
        t->name = name;
    }
    free(lower);
    free(upper);
}

static Tensor *new_unique_tensor(Graph *g, const char *base)
{
    char *name = unique_tensor_name(g, base);
    Tensor *t = ir_tensor_new(g, name);
    free(name);
    return t;
}

static Tensor *find_binding(const Scope *sc, const char *name)
{
    for (int i = sc->nnames - 1; i >= 0; i--)
        if (strcmp(sc->names[i].name, name) == 0)
            return sc->names[i].t;
    return NULL;
}

/* "prefix.label", or just label at the top level. */
static char *qualify(const Scope *sc, const char *label)
{
    return sc->prefix[0] ? xasprintf("%s.%s", sc->prefix, label) : xstrdup(label);
}

/* A name for a tensor: a binding in scope (the input, `x = ...`, a block's
 * `in`), else the label of a layer in this scope, which names its output. */
static Tensor *lookup_tensor(Sema *s, const char *name)
{
    Tensor *t = find_binding(s->scope, name);
    if (t)
        return t;
    char *qualified = qualify(s->scope, name);
    Node *n = find_node(s->g, qualified);
    free(qualified);
    return n ? n->out : NULL;
}

/* Whether some name in this scope or a calling one refers to t. */
static bool is_bound(const Scope *sc, const Tensor *t)
{
    for (; sc; sc = sc->caller)
        for (int i = 0; i < sc->nnames; i++)
            if (sc->names[i].t == t)
                return true;
    return false;
}

static void bind(Scope *sc, const char *name, Tensor *t)
{
    sc->names = xrealloc(sc->names, sizeof *sc->names * (size_t)(sc->nnames + 1));
    sc->names[sc->nnames++] = (Binding){xstrdup(name), t};
}

/* Where a statement of stmts[n] defines the tensor `name` (`name = ...` or a
 * layer labelled name), or NULL. */
static const Loc *definition_in(const Stmt *stmts, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const Stmt *st = &stmts[i];
        if (st->kind != ST_CHAIN)
            continue;
        if (st->target && strcmp(st->target, name) == 0)
            return &st->target_loc;
        for (int j = 0; j < st->nlayers; j++)
            if (st->layers[j].label && strcmp(st->layers[j].label, name) == 0)
                return &st->layers[j].label_loc;
    }
    return NULL;
}

/* A name no tensor in scope has, which the scope defines further on: it is
 * used before its definition. Says so and where, since that is also how a
 * cycle (a = f(b), b = g(a)) shows. False if the name is not defined later. */
static bool used_before_definition(const Sema *s, const char *name, Loc loc)
{
    const Scope *sc = s->scope;
    const Loc *later = sc->block ? definition_in(sc->block->body, sc->block->nbody, name)
                                 : definition_in(s->prog->stmts, s->prog->nstmts, name);
    if (!later)
        return false;
    diag_error(loc, "tensor '%s' is used before its definition", name);
    diag_note(*later,
              "'%s' is defined here; a tensor must be defined before it is used, so "
              "the network cannot contain a cycle",
              name);
    return true;
}

static void unknown_tensor(const Sema *s, const char *name, Loc loc)
{
    if (used_before_definition(s, name, loc))
        return;
    const Scope *sc = s->scope;
    const char **names = xmalloc(sizeof *names * (size_t)(sc->nnames + 1));
    for (int i = 0; i < sc->nnames; i++)
        names[i] = sc->names[i].name;
    const char *near = nearest(name, names, sc->nnames);
    if (near)
        diag_error(loc, "no tensor named '%s'; did you mean '%s'?", name, near);
    else
        diag_error(loc, "no tensor named '%s'", name);
    free(names);
}

static const Stmt *find_block(const Sema *s, const char *name, int *index)
{
    for (int i = 0; i < s->nblocks; i++) {
        if (strcmp(s->blocks[i]->name, name) == 0) {
            if (index)
                *index = i;
            return s->blocks[i];
        }
    }
    return NULL;
}

/* ---- statements --------------------------------------------------------- */

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

static void add_param(Param **params, int *n, const char *name, Value v, Loc loc)
{
    *params = xrealloc(*params, sizeof **params * (size_t)(*n + 1));
    (*params)[(*n)++] = (Param){xstrdup(name), v, loc};
}

static bool do_param(Sema *s, const Stmt *st)
{
    bool top = s->scope->block == NULL;
    Param *old = top ? find_in(s->params, s->nparams, st->name)
                     : find_in(s->scope->params, s->scope->nparams, st->name);
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
    for (int i = 0; top && i < s->opt->ndefines; i++) {
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
    if (top)
        add_param(&s->params, &s->nparams, st->name, v, st->name_loc);
    else
        add_param(&s->scope->params, &s->scope->nparams, st->name, v, st->name_loc);
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
            diag_error(st->dims[i]->loc, "input '%s' is too large (limit %lld elements)", st->name,
                       (long long)IR_MAX_ELEMS);
            return false;
        }
        t->dims[i + 1] = v.i;
    }
    s->g->inputs[s->g->ninputs++] = t;
    bind(s->scope, st->name, t);
    s->scope->current = t;
    s->scope->current_loc = st->loc;
    return true;
}

/* The node name of a layer: its label, or "<op>_<n>", qualified by the scope. */
static char *layer_name(Sema *s, const char *label, OpKind op)
{
    if (label)
        return qualify(s->scope, label);
    for (;;) {
        char *auto_label = xasprintf("%s_%d", op_name(op), ++s->scope->op_counts[op]);
        char *name = qualify(s->scope, auto_label);
        free(auto_label);
        if (!find_node(s->g, name))
            return name;
        free(name);
    }
}

static bool unknown_op(Sema *s, const Layer *l)
{
    int count = 0;
    const char **names = xmalloc(sizeof *names * (size_t)(OP_COUNT + s->nblocks));
    for (int i = OP_NONE + 1; i < OP_COUNT; i++)
        names[count++] = op_name((OpKind)i);
    for (int i = 0; i < s->nblocks; i++)
        names[count++] = s->blocks[i]->name;
    const char *near = nearest(l->op, names, count);
    if (l->nargs == 0 && used_before_definition(s, l->op, l->op_loc))
        ; /* `b -> ...` before `b = ...` */
    else if (find_param(s, l->op))
        diag_error(l->op_loc, "'%s' is a param, not an op", l->op);
    else if (near)
        diag_error(l->op_loc, "unknown op '%s'; did you mean '%s'?", l->op, near);
    else
        diag_error(l->op_loc, "unknown op '%s'", l->op);
    free(names);
    return false;
}

/* Inputs of add/concat: the incoming tensor (after '->'), then the arguments,
 * which must be tensor names. */
static bool gather_inputs(Sema *s, const Layer *l, OpKind op, bool incoming, Tensor **ins, int *nin)
{
    *nin = 0;
    if (incoming)
        ins[(*nin)++] = s->scope->current;
    for (int i = 0; i < l->nargs; i++) {
        const Arg *a = &l->args[i];
        if (a->name || a->value->kind != EX_NAME) {
            diag_error(a->name ? a->name_loc : a->value->loc,
                       "%s takes tensor names as arguments, e.g. %s(x, y)", l->op, l->op);
            return false;
        }
        Tensor *t = lookup_tensor(s, a->value->str);
        if (!t) {
            unknown_tensor(s, a->value->str, a->value->loc);
            return false;
        }
        if (*nin == IR_MAX_INPUTS) {
            diag_error(a->value->loc, "%s takes at most %d tensors", l->op, IR_MAX_INPUTS);
            return false;
        }
        ins[(*nin)++] = t;
    }
    int want = op_arity(op);
    if ((want > 0 && *nin != want) || (want < 0 && *nin < 2)) {
        diag_error(l->op_loc, "%s needs %s tensors, got %d%s", l->op,
                   want > 0 ? "two" : "two or more", *nin,
                   incoming ? " (counting the one coming in through '->')" : "");
        return false;
    }
    return true;
}

static bool apply_op(Sema *s, const Layer *l, OpKind op, const char *label, bool incoming)
{
    if (s->g->nnodes >= IR_MAX_NODES) {
        diag_error(l->label ? l->label_loc : l->op_loc,
                   "too many layers (the limit is %d per network)", IR_MAX_NODES);
        return false;
    }
    Tensor *ins[IR_MAX_INPUTS] = {s->scope->current};
    int nin = 1;
    ArgSet as;
    if (op_arity(op) != 1) {
        if (!gather_inputs(s, l, op, incoming, ins, &nin))
            return false;
        memset(&as, 0, sizeof as);
        as.spec = attr_specs(op);
    } else if (!match_args(s, l, attr_specs(op), &as)) {
        return false;
    }
    char *name = layer_name(s, label, op);
    Node *prev = find_node(s->g, name);
    if (prev) {
        diag_error(l->label ? l->label_loc : l->op_loc, "layer '%s' is already defined", name);
        diag_note(prev->loc, "first defined here");
        free(name);
        return false;
    }
    Node *n = ir_node_new(s->g, op, name, l->label ? l->label_loc : l->op_loc);
    free(name);
    for (int i = 0; i < nin; i++) {
        n->in[i] = ins[i];
        ins[i]->nconsumers++;
    }
    n->nin = nin;
    n->out = new_unique_tensor(s->g, n->name);
    free(n->out->label);
    n->out->label = xstrdup(n->name);
    n->out->producer = n;
    if (!set_attrs(n, &as) || !infer_shape(n))
        return false;
    s->scope->current = n->out;
    return true;
}

static bool do_stmt(Sema *s, const Stmt *st);

/* Bind a block's parameters from the use's arguments (evaluated in the
 * caller's scope) and the defaults (evaluated in the block's own scope, so a
 * default may use earlier parameters). */
static bool bind_block_params(Sema *s, const Layer *l, const Stmt *b, Scope *inner)
{
    bool ok = true;
    bool *set = xcalloc((size_t)b->nargs + 1, sizeof *set);
    Value *vals = xcalloc((size_t)b->nargs + 1, sizeof *vals);
    for (int i = 0; i < l->nargs && ok; i++) {
        const Arg *a = &l->args[i];
        int k = i;
        if (a->name) {
            for (k = 0; k < b->nargs && strcmp(b->args[k].name, a->name) != 0; k++)
                ;
            if (k == b->nargs) {
                diag_error(a->name_loc, "block '%s' has no parameter '%s'", b->name, a->name);
                ok = false;
                break;
            }
        } else if (k >= b->nargs) {
            diag_error(a->value->loc, "block '%s' takes %d argument%s, got %d", b->name, b->nargs,
                       b->nargs == 1 ? "" : "s", l->nargs);
            ok = false;
            break;
        }
        if (set[k]) {
            diag_error(a->name ? a->name_loc : a->value->loc, "block '%s': '%s' given twice",
                       b->name, b->args[k].name);
            ok = false;
            break;
        }
        ok = eval(s, a->value, &vals[k]);
        set[k] = true;
    }
    Scope *caller = s->scope;
    s->scope = inner;
    for (int k = 0; k < b->nargs && ok; k++) {
        if (!set[k] && !b->args[k].value) {
            diag_error(l->op_loc, "block '%s' needs argument '%s'", b->name, b->args[k].name);
            ok = false;
        } else if (!set[k]) {
            ok = eval(s, b->args[k].value, &vals[k]);
        }
        if (ok)
            add_param(&inner->params, &inner->nparams, b->args[k].name, vals[k],
                      b->args[k].name_loc);
    }
    s->scope = caller;
    free(set);
    free(vals);
    return ok;
}

static void free_scope(Scope *sc)
{
    for (int i = 0; i < sc->nparams; i++)
        free(sc->params[i].name);
    for (int i = 0; i < sc->nnames; i++)
        free(sc->names[i].name);
    free(sc->params);
    free(sc->names);
    free(sc->block_counts);
    free(sc->prefix);
}

static bool check_recursion(Sema *s, const Layer *l, const Stmt *b)
{
    for (const Scope *c = s->scope; c; c = c->caller) {
        if (c->block == b) {
            diag_error(l->op_loc, "block '%s' uses itself", b->name);
            diag_note(b->loc, "block '%s' is defined here", b->name);
            return false;
        }
    }
    if (s->scope->depth >= MAX_BLOCK_DEPTH) {
        diag_error(l->op_loc, "blocks nest more than %d deep", MAX_BLOCK_DEPTH);
        return false;
    }
    return true;
}

static bool expand_block(Sema *s, const Layer *l, const Stmt *b, int index, const char *label)
{
    if (!check_recursion(s, l, b))
        return false;
    Scope *caller = s->scope;
    char *auto_label = label ? NULL : xasprintf("%s_%d", b->name, ++caller->block_counts[index]);
    Scope inner = {.caller = caller, .block = b, .depth = caller->depth + 1};
    inner.prefix = qualify(caller, label ? label : auto_label);
    inner.block_counts = xcalloc((size_t)s->nblocks + 1, sizeof(int));
    inner.current = caller->current;
    inner.current_loc = caller->current_loc;
    bind(&inner, "in", caller->current);
    free(auto_label);
    bool ok = bind_block_params(s, l, b, &inner);
    if (ok) {
        diag_push_context(l->label ? l->label_loc : l->op_loc, "in expansion of block '%s' as '%s'",
                          b->name, inner.prefix);
        s->scope = &inner;
        for (int i = 0; i < b->nbody && ok; i++)
            ok = do_stmt(s, &b->body[i]);
        s->scope = caller;
        diag_pop_context();
    }
    if (ok)
        caller->current = inner.result ? inner.result : inner.current;
    free_scope(&inner);
    return ok;
}

static bool apply_layer(Sema *s, const Layer *l, const char *label, bool incoming)
{
    OpKind op;
    int index;
    if (op_lookup(l->op, &op))
        return apply_op(s, l, op, label, incoming);
    const Stmt *b = find_block(s, l->op, &index);
    if (b)
        return expand_block(s, l, b, index, label);
    return unknown_op(s, l);
}

/* A layer, or `layer * N`: N copies in sequence labelled LABEL.0 .. LABEL.N-1. */
static bool do_layer(Sema *s, const Layer *l, bool incoming)
{
    if (!l->repeat)
        return apply_layer(s, l, l->label, incoming);
    Value v;
    if (!eval(s, l->repeat, &v))
        return false;
    if (v.kind != V_INT || v.i < 1 || v.i > 1000) {
        if (v.kind == V_INT)
            diag_error(l->repeat->loc, "a layer can be repeated 1 to 1000 times, not %lld",
                       (long long)v.i);
        else
            diag_error(l->repeat->loc, "the repeat count must be an integer, not %s",
                       kind_name(v.kind));
        return false;
    }
    for (int64_t k = 0; k < v.i; k++) {
        char *label = l->label ? xasprintf("%s.%lld", l->label, (long long)k) : NULL;
        bool ok = apply_layer(s, l, label, incoming || k > 0);
        free(label);
        if (!ok)
            return false;
    }
    return true;
}

/* A chain's first element is its source tensor when it is a bare name (no
 * label, no arguments) that names a tensor: `x -> conv2d(...)`. */
static int chain_source(Sema *s, const Stmt *st)
{
    const Layer *first = &st->layers[0];
    if (st->nlayers < 1 || first->label || first->nargs > 0 || first->repeat)
        return 0;
    Tensor *t = lookup_tensor(s, first->op);
    if (!t)
        return 0;
    s->scope->current = t;
    return 1;
}

static bool do_chain(Sema *s, const Stmt *st)
{
    Scope *sc = s->scope;
    if (!sc->current) {
        diag_error(st->loc, "layers must come after the 'input' declaration");
        return false;
    }
    int first = chain_source(s, st);
    for (int i = first; i < st->nlayers; i++)
        if (!do_layer(s, &st->layers[i], i > 0))
            return false;
    if (st->target) {
        for (int i = 0; i < sc->nnames; i++) {
            if (strcmp(sc->names[i].name, st->target) == 0) {
                diag_error(st->target_loc, "tensor name '%s' is already used", st->target);
                return false;
            }
        }
        /* Name the C tensor after the user's name, unless it already is the input.
         * The name is the user's choice, so a clash is an error, not a rename;
         * names that differ only by case clash (the header's macros are upper case). */
        if (sc->current->producer && st->nlayers > first) {
            char *qualified = qualify(sc, st->target);
            char *id = c_ident(qualified); /* "int" is the tensor int_ */
            Tensor *t = find_tensor_nocase(s->g, id);
            if (t && t != sc->current && !is_bound(sc, t)) {
                /* Its name only came from a layer label (`e1 = e1: conv2d ...`):
                 * the explicit name wins and that tensor moves aside. */
                char *moved = unique_tensor_name(s->g, t->name);
                free(t->name);
                t->name = moved;
                t = NULL;
            }
            if (t && t != sc->current) {
                if (strcmp(t->name, id) != 0)
                    diag_error(st->target_loc,
                               "tensor name '%s' clashes with '%s' (the generated macros ignore "
                               "case)",
                               st->target, t->name);
                else
                    diag_error(st->target_loc, "tensor name '%s' is already used", st->target);
                free(id);
                free(qualified);
                return false;
            }
            free(sc->current->name);
            sc->current->name = id;
            free(sc->current->label);
            sc->current->label = qualified;
        }
        bind(sc, st->target, sc->current);
    }
    sc->current_loc = st->loc;
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

/* `output a, b`: at the top level the graph outputs, in a block its result. */
static bool do_output(Sema *s, const Stmt *st)
{
    Scope *sc = s->scope;
    if (sc->block && st->nnames != 1) {
        diag_error(st->loc, "a block has one result: 'output NAME'");
        return false;
    }
    if (!sc->block && !do_once(&s->output_stmt, st, "output"))
        return false;
    for (int i = 0; i < st->nnames; i++) {
        Tensor *t = lookup_tensor(s, st->names[i]);
        if (!t) {
            unknown_tensor(s, st->names[i], st->name_locs[i]);
            return false;
        }
        if (sc->block) {
            sc->result = t;
            continue;
        }
        for (int j = 0; j < s->g->noutputs; j++) {
            if (s->g->outputs[j] == t) {
                diag_error(st->name_locs[i], "'%s' is already an output", st->names[i]);
                return false;
            }
        }
        if (s->g->noutputs == IR_MAX_INPUTS) {
            diag_error(st->name_locs[i], "at most %d outputs are supported", IR_MAX_INPUTS);
            return false;
        }
        s->g->outputs[s->g->noutputs++] = t;
    }
    return true;
}

static bool do_block_def(Sema *s, const Stmt *st)
{
    OpKind op;
    const Stmt *prev = find_block(s, st->name, NULL);
    if (op_lookup(st->name, &op)) {
        diag_error(st->name_loc, "block '%s' has the name of an op", st->name);
        return false;
    }
    if (prev) {
        diag_error(st->name_loc, "block '%s' is already defined", st->name);
        diag_note(prev->loc, "first defined here");
        return false;
    }
    for (int i = 0; i < st->nargs; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(st->args[i].name, st->args[j].name) == 0) {
                diag_error(st->args[i].name_loc, "block '%s' has two parameters named '%s'",
                           st->name, st->args[i].name);
                return false;
            }
        }
    }
    s->blocks = xrealloc(s->blocks, sizeof *s->blocks * (size_t)(s->nblocks + 1));
    s->blocks[s->nblocks++] = st;
    s->scope->block_counts = xrealloc(s->scope->block_counts, sizeof(int) * (size_t)s->nblocks);
    s->scope->block_counts[s->nblocks - 1] = 0;
    return true;
}

/* ---- prune statements ----------------------------------------------------- */

/* `prune(amount=A[, structured=B]) targets`: the arguments now, the targets
 * once every layer exists (resolve_prunes), so the statement may come first. */
static bool do_prune(Sema *s, const Stmt *st)
{
    static const AttrSpec spec[] = {
        {"amount", A_NUM, true}, {"structured", A_BOOL, false}, {NULL, 0, 0}};
    Layer l = {.op = "prune", .op_loc = st->loc, .args = st->args, .nargs = st->nargs};
    ArgSet as;
    if (!match_args(s, &l, spec, &as))
        return false;
    const Value *amount = &as.val[0];
    PruneSpec ps = {.loc = st->loc, .fraction = -1, .count = -1};
    ps.structured = get_bool(&as, "structured", false);
    if (amount->kind == V_FLOAT && !(amount->f >= 0.0 && amount->f <= 1.0)) {
        diag_error(as.loc[0], "prune: 'amount' must be a fraction in [0, 1] or a count, not %g",
                   amount->f);
        return false;
    }
    if (amount->kind == V_INT && amount->i < 0) {
        diag_error(as.loc[0], "prune: 'amount' must be a fraction in [0, 1] or a count, not %lld",
                   (long long)amount->i);
        return false;
    }
    if (amount->kind == V_FLOAT)
        ps.fraction = amount->f;
    else
        ps.count = amount->i;
    Graph *g = s->g;
    g->prunes = xrealloc(g->prunes, sizeof *g->prunes * (size_t)(g->nprunes + 1));
    s->prune_stmts = xrealloc(s->prune_stmts, sizeof *s->prune_stmts * (size_t)(g->nprunes + 1));
    s->prune_stmts[g->nprunes] = st;
    g->prunes[g->nprunes++] = ps;
    return true;
}

static bool prunable(const Node *n)
{
    return n->op == OP_CONV2D || n->op == OP_LINEAR;
}

static bool under(const char *name, const char *prefix)
{
    size_t k = strlen(prefix);
    return strncmp(name, prefix, k) == 0 && name[k] == '.';
}

static void prune_add(PruneSpec *ps, Node *n, Loc loc)
{
    ps->nodes = xrealloc(ps->nodes, sizeof *ps->nodes * (size_t)(ps->nnodes + 1));
    ps->locs = xrealloc(ps->locs, sizeof *ps->locs * (size_t)(ps->nnodes + 1));
    ps->nodes[ps->nnodes] = n;
    ps->locs[ps->nnodes++] = loc;
}

static void unknown_layer(const Graph *g, const char *name, Loc loc)
{
    const char **names = xmalloc(sizeof *names * (size_t)(g->nnodes + 1));
    for (int i = 0; i < g->nnodes; i++)
        names[i] = g->nodes[i]->name;
    const char *near = nearest(name, names, g->nnodes);
    if (near)
        diag_error(loc, "prune: no layer named '%s'; did you mean '%s'?", name, near);
    else
        diag_error(loc, "prune: no layer named '%s'", name);
    free(names);
}

/* The layers one target names: itself, every conv2d/linear for '*', or every
 * conv2d/linear inside a block use (`layer1` covers `layer1.0.conv1`). Each
 * goes into `hit` (by node id). */
static bool resolve_target(const Graph *g, const char *name, Loc loc, bool *hit)
{
    bool star = strcmp(name, "*") == 0, any = false, inside = false;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (strcmp(n->name, name) != 0)
            continue;
        if (!prunable(n)) {
            diag_error(loc, "prune: '%s' is a %s; only conv2d and linear layers can be pruned",
                       name, op_name(n->op));
            return false;
        }
        hit[i] = true;
        return true;
    }
    for (int i = 0; i < g->nnodes; i++) {
        if (!star && !under(g->nodes[i]->name, name))
            continue;
        inside = true;
        if (prunable(g->nodes[i]))
            hit[i] = any = true;
    }
    if (any)
        return true;
    if (star)
        diag_error(loc, "prune: '*' matches no conv2d or linear layer");
    else if (inside)
        diag_error(loc, "prune: '%s' has no conv2d or linear layer to prune", name);
    else
        unknown_layer(g, name, loc);
    return false;
}

static bool resolve_prune(Sema *s, const Stmt *st, PruneSpec *ps)
{
    const Graph *g = s->g;
    bool *hit = xcalloc((size_t)g->nnodes + 1, sizeof *hit);
    Loc *where = xcalloc((size_t)g->nnodes + 1, sizeof *where);
    bool ok = true;
    for (int t = 0; t < st->nnames && ok; t++) {
        bool *mine = xcalloc((size_t)g->nnodes + 1, sizeof *mine);
        ok = resolve_target(g, st->names[t], st->name_locs[t], mine);
        for (int i = 0; ok && i < g->nnodes; i++) {
            if (!mine[i])
                continue;
            if (hit[i]) {
                diag_error(st->name_locs[t], "prune: layer '%s' is named twice in this statement",
                           g->nodes[i]->name);
                ok = false;
            }
            hit[i] = true;
            where[i] = st->name_locs[t];
        }
        free(mine);
    }
    for (int i = 0; ok && i < g->nnodes; i++)
        if (hit[i])
            prune_add(ps, g->nodes[i], where[i]);
    free(hit);
    free(where);
    return ok;
}

static bool resolve_prunes(Sema *s)
{
    bool ok = true;
    for (int i = 0; i < s->g->nprunes; i++)
        ok = resolve_prune(s, s->prune_stmts[i], &s->g->prunes[i]) && ok;
    return ok;
}

static bool do_stmt(Sema *s, const Stmt *st)
{
    static const char *only_top[] = {"network", "input", "weights", "init", NULL,
                                     NULL,      NULL,    "block",   "prune"};
    bool in_block = s->scope->block != NULL;
    if (in_block && (st->kind == ST_NETWORK || st->kind == ST_INPUT || st->kind == ST_WEIGHTS ||
                     st->kind == ST_INIT || st->kind == ST_BLOCK || st->kind == ST_PRUNE)) {
        diag_error(st->loc, "'%s' is not allowed inside a block", only_top[st->kind]);
        return false;
    }
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
    case ST_OUTPUT:
        return do_output(s, st);
    case ST_BLOCK:
        return do_block_def(s, st);
    case ST_PRUNE:
        return do_prune(s, st);
    }
    die("bad statement kind %d", (int)st->kind);
}

/* Why a network name cannot prefix the generated code's names, or NULL:
 * NAME_H is the header's include guard and NAME_ begins every symbol, so
 * "_stdio" would take glibc's _STDIO_H (and every _X name is the C
 * implementation's), "cnnrt" the runtime's CNNRT_H and cnnrt_ names,
 * "fp_fast" <math.h>'s FP_FAST_FMA (the .c defines NET_FMA), and "main"
 * --main's main_x variables. */
static const char *bad_network_name(const char *name)
{
    if (name[0] == '_')
        return "cannot begin with '_' (its macros would be names reserved to the C "
               "implementation, such as <stdio.h>'s include guard _STDIO_H)";
    if (strncasecmp(name, "cnnrt", 5) == 0 && (name[5] == '\0' || name[5] == '_'))
        return "is reserved: cnnrt and cnnrt_... (in any case) are the runtime's names";
    if (strncasecmp(name, "fp_", 3) == 0) /* NET_FMA, for network fp_fast */
        return "is reserved: FP_... are <math.h>'s names (FP_FAST_FMA)";
    if (strcmp(name, "main") == 0)
        return "is reserved: --main's code has main_ names";
    return NULL;
}

/* The network name: --name, else `network NAME`, else the file name's stem
 * (made a C identifier, and one bad_network_name() accepts: "cnnrt.cnn" is
 * network n_cnnrt, "_x.cnn" n_x). */
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
        if (bad_network_name(stem)) {
            char *prefixed = xasprintf("%s%s", stem[0] == '_' ? "n" : "n_", stem);
            free(stem);
            stem = prefixed;
        }
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
    else if (bad_network_name(name)) {
        diag_error(loc, "network name '%s' %s", name, bad_network_name(name));
        ok = false;
    } else {
        s->g->name = xstrdup(name);
        rename_prefixed_tensors(s->g);
    }
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

static void check_defines_used(Sema *s)
{
    for (int i = 0; i < s->opt->ndefines; i++) {
        if (s->opt->defines[i].used)
            continue;
        const char **names = xmalloc(sizeof *names * (size_t)(s->nparams + 1));
        for (int j = 0; j < s->nparams; j++)
            names[j] = s->params[j].name;
        const char *near = nearest(s->opt->defines[i].name, names, s->nparams);
        diag_error((Loc){0}, "-D %s: the network has no param '%s'%s%s%s", s->opt->defines[i].name,
                   s->opt->defines[i].name, near ? "; did you mean '" : "", near ? near : "",
                   near ? "'?" : "");
        free(names);
    }
}

Graph *ir_build(const Program *prog, const BuildOptions *opt)
{
    Scope top = {.prefix = xstrdup("")};
    Sema s = {.opt = opt, .prog = prog, .g = ir_graph_new(), .scope = &top};
    s.g->batch = opt->batch;
    int errors = diag_error_count();
    for (int i = 0; i < prog->nstmts; i++)
        if (!do_stmt(&s, &prog->stmts[i]))
            break; /* later statements depend on this one: stop at the first error */
    if (diag_error_count() == errors)
        check_defines_used(&s);
    if (diag_error_count() == errors && !s.input_stmt)
        diag_error((Loc){0}, "the network has no 'input' declaration");
    if (diag_error_count() == errors)
        resolve_prunes(&s);
    if (diag_error_count() == errors)
        set_name(&s);
    if (diag_error_count() == errors)
        set_weights(&s);
    if (diag_error_count() == errors && s.g->noutputs == 0)
        s.g->outputs[s.g->noutputs++] = top.current;
    for (int i = 0; diag_error_count() == errors && i < s.g->noutputs; i++)
        if (s.g->outputs[i]->producer == NULL)
            diag_error(s.output_stmt ? s.output_stmt->loc : top.current_loc,
                       "the network output '%s' is its input: add at least one layer",
                       s.g->outputs[i]->label);
    for (int i = 0; i < s.nparams; i++)
        free(s.params[i].name);
    free(s.params);
    free(s.blocks);
    free(s.prune_stmts);
    free_scope(&top);
    if (diag_error_count() != errors) {
        ir_graph_free(s.g);
        return NULL;
    }
    return s.g;
}
