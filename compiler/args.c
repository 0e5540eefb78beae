/* args.c - matching a layer's arguments to its op's table, and fetching them
 * with defaults and range checks (args.h). */
#include "args.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "opdef.h"
#include "util.h"

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
    case A_PADS:
        if (v->kind == V_INT)
            *v = (Value){.kind = V_QUAD, .i = v->i, .j = v->i, .k = v->i, .l = v->i};
        else if (v->kind == V_PAIR)
            *v = (Value){.kind = V_QUAD, .i = v->i, .j = v->j, .k = v->i, .l = v->j};
        ok = v->kind == V_QUAD;
        break;
    case A_DIMS:
        ok = v->kind == V_INT || v->kind == V_PAIR || v->kind == V_TRIPLE || v->kind == V_QUAD;
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
    case A_SCALE:
        if (v->kind == V_INT)
            *v = (Value){.kind = V_PAIR, .i = v->i, .j = v->i};
        ok = v->kind == V_PAIR || v->kind == V_FLOAT;
        break;
    }
    if (!ok) {
        static const char *want[] = {
            "an integer",
            "an integer or a pair (h, w)",
            "a number",
            "true or false",
            "a string",
            "a number",
            "an integer, a pair (h, w) or four pads (top, left, bottom, right)",
            "an integer, a pair (h, w) or a number",
            "a dimension or a tuple of dimensions"};
        diag_error(loc, "%s: '%s' must be %s, not %s", op, sp->name, want[sp->kind],
                   value_kind_name(v->kind));
    }
    return ok;
}

int spec_index(const AttrSpec *spec, const char *name)
{
    for (int i = 0; spec[i].name; i++)
        if (strcmp(spec[i].name, name) == 0)
            return i;
    return -1;
}

bool arg_given(const ArgSet *as, const char *name)
{
    return as->set[spec_index(as->spec, name)];
}

bool args_match(const Env *env, const Layer *l, const AttrSpec *spec, ArgSet *as)
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
                const char *near = nearest_name(arg->name, names, nspec);
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
        if (!expr_eval(env, arg->value, &v) || !convert_arg(&as->spec[k], l->op, &v, loc)) {
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
bool get_int(const ArgSet *as, const char *name, int64_t def, int64_t min, int64_t *out,
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

bool get_dim_list(const ArgSet *as, int64_t min, int64_t *dims, int *n, const char *op,
                  Loc layer_loc)
{
    static const char *names[] = {"d0", "d1", "d2", "d3"};
    *n = 0;
    for (int d = 0; d < 4; d++) {
        if (!arg_given(as, names[d]))
            continue;
        if (*n != d) {
            diag_error(as->loc[spec_index(as->spec, names[d])],
                       "%s: the dimensions are given in order, without gaps", op);
            return false;
        }
        if (!get_int(as, names[d], 0, min, &dims[d], op, layer_loc))
            return false;
        (*n)++;
    }
    return true;
}

bool get_pair(const ArgSet *as, const char *name, int64_t def_h, int64_t def_w, int64_t min,
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

void get_dims(const ArgSet *as, const char *name, int64_t dims[4], int *n)
{
    const Value *v = &as->val[spec_index(as->spec, name)];
    dims[0] = v->i, dims[1] = v->j, dims[2] = v->k, dims[3] = v->l;
    *n = v->kind == V_INT ? 1 : v->kind == V_PAIR ? 2 : v->kind == V_TRIPLE ? 3 : 4;
}

bool get_pads(const ArgSet *as, Attrs *a, const char *op, Loc layer_loc)
{
    int k = spec_index(as->spec, "pad");
    Value v = as->set[k] ? as->val[k] : (Value){.kind = V_QUAD};
    int64_t side[4] = {v.i, v.j, v.k, v.l};
    for (int i = 0; i < 4; i++) {
        if (side[i] < 0 || side[i] > ((int64_t)1 << 31)) {
            diag_error(as->set[k] ? as->loc[k] : layer_loc, "%s: 'pad' must be %s %lld, not %lld",
                       op, side[i] < 0 ? "at least" : "at most",
                       side[i] < 0 ? 0LL : (long long)((int64_t)1 << 31), (long long)side[i]);
            return false;
        }
    }
    a->ph = v.i, a->pw = v.j, a->pb = v.k, a->pr = v.l;
    return true;
}

bool get_bool(const ArgSet *as, const char *name, bool def)
{
    int k = spec_index(as->spec, name);
    return as->set[k] ? as->val[k].i != 0 : def;
}

bool get_conv_attrs(Node *n, const ArgSet *as, bool output_padding)
{
    Attrs *a = &n->a;
    const char *op = op_name(n->op);
    Loc L = n->loc;
    bool ok =
        get_int(as, "channels", 0, 1, &a->channels, op, L) &&
        get_pair(as, "kernel", 1, 1, 1, &a->kh, &a->kw, op, L) &&
        get_pair(as, "stride", 1, 1, 1, &a->sh, &a->sw, op, L) && get_pads(as, a, op, L) &&
        (!output_padding || get_pair(as, "output_padding", 0, 0, 0, &a->oph, &a->opw, op, L)) &&
        get_pair(as, "dilation", 1, 1, 1, &a->dh, &a->dw, op, L) &&
        get_int(as, "groups", 1, 1, &a->groups, op, L);
    a->bias = get_bool(as, "bias", true);
    return ok;
}

double get_float(const ArgSet *as, const char *name, double def)
{
    int k = spec_index(as->spec, name);
    return as->set[k] ? as->val[k].f : def;
}

bool get_float32(const ArgSet *as, const char *name, double def, double *out, const char *op)
{
    int k = spec_index(as->spec, name);
    double v = as->set[k] ? as->val[k].f : def;
    /* below 2^128 - 2^103 in magnitude rounds to a finite float (FLT_MAX
     * itself, written 3.4028235e38, is above FLT_MAX as a double) */
    if (!(fabs(v) < 0x1.ffffffp127)) {
        diag_error(as->loc[k], "%s: '%s' must be a finite float32 value, not %g", op, name, v);
        return false;
    }
    *out = fmax(fmin(v, FLT_MAX), -FLT_MAX); /* casts to float stay in its range */
    return true;
}

bool float_in(const ArgSet *as, const char *name, double v, double lo, double hi, bool hi_open,
              const char *op)
{
    if (v >= lo && (hi_open ? v < hi : v <= hi) && !isnan(v))
        return true;
    int k = spec_index(as->spec, name);
    diag_error(as->loc[k], "%s: '%s' must be in [%g, %g%c, not %g", op, name, lo, hi,
               hi_open ? ')' : ']', v);
    return false;
}

const AttrSpec *op_args(OpKind op)
{
    static const AttrSpec none[] = {{NULL, 0, 0}};
    return op_def(op)->args ? op_def(op)->args : none;
}

bool op_set_attrs(Node *n, const ArgSet *as)
{
    return op_def(n->op)->set_attrs ? op_def(n->op)->set_attrs(n, as) : true;
}
