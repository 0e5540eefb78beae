/* expr.c - evaluating expressions: literals, params, + - * / %, negation, pairs.
 *
 * Integers are int64 with every operation overflow-checked; / and % are floor
 * division and modulo, as Python's // and %. A float operand makes the result
 * a float. */
#include "expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *value_kind_name(ValKind k)
{
    static const char *names[] = {"an integer", "a float",       "a boolean",
                                  "a string",   "a pair",        "four integers",
                                  "three integers"};
    return names[k];
}

const Param *param_find(const Param *params, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

/* Lexical lookup: the current block's parameters, then the top-level params. */
const Param *env_find(const Env *env, const char *name)
{
    const Param *p = param_find(env->inner, env->ninner, name);
    return p ? p : param_find(env->outer, env->nouter, name);
}

void param_add(Param **params, int *n, const char *name, Value v, Loc loc)
{
    *params = xrealloc(*params, sizeof **params * (size_t)(*n + 1));
    (*params)[(*n)++] = (Param){xstrdup(name), v, loc};
}

static bool eval(const Env *s, const Expr *e, Value *out);

static bool eval_binop(const Env *s, const Expr *e, Value *out)
{
    Value a, b;
    if (!eval(s, e->lhs, &a) || !eval(s, e->rhs, &b))
        return false;
    if ((a.kind != V_INT && a.kind != V_FLOAT) || (b.kind != V_INT && b.kind != V_FLOAT)) {
        diag_error(e->loc, "operator '%c' needs numbers, not %s and %s", e->op,
                   value_kind_name(a.kind), value_kind_name(b.kind));
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

static bool eval(const Env *s, const Expr *e, Value *out)
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
        const Param *p = env_find(s, e->str);
        if (p) {
            *out = p->v;
            return true;
        }
        int count = 0;
        const char **names = xmalloc(sizeof *names * (size_t)(s->nouter + s->ninner + 1));
        for (int i = 0; i < s->nouter; i++)
            names[count++] = s->outer[i].name;
        for (int i = 0; i < s->ninner; i++)
            names[count++] = s->inner[i].name;
        const char *near = nearest_name(e->str, names, count);
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
            diag_error(e->loc, "cannot negate %s", value_kind_name(v.kind));
        return false;
    }
    case EX_BINOP:
        return eval_binop(s, e, out);
    case EX_TUPLE: {
        /* a pair (h, w), three dimensions (dim= of the reductions), or four
         * integers (top, left, bottom, right) for pad= */
        Value v[4];
        if (e->nitems > 4) {
            diag_error(e->loc,
                       "expected a pair (h, w), three dimensions or four pads (top, left, bottom, "
                       "right), not %d values",
                       e->nitems);
            return false;
        }
        for (int i = 0; i < e->nitems; i++) {
            if (!eval(s, e->items[i], &v[i]))
                return false;
            if (v[i].kind != V_INT) {
                static const char *what[] = {"pair", "3-tuple", "4-tuple"};
                static const char *count[] = {"two", "three", "four"};
                diag_error(e->loc, "a %s must hold %s integers", what[e->nitems - 2],
                           count[e->nitems - 2]);
                return false;
            }
        }
        if (e->nitems == 2)
            *out = (Value){.kind = V_PAIR, .i = v[0].i, .j = v[1].i};
        else if (e->nitems == 3)
            *out = (Value){.kind = V_TRIPLE, .i = v[0].i, .j = v[1].i, .k = v[2].i};
        else
            *out = (Value){.kind = V_QUAD, .i = v[0].i, .j = v[1].i, .k = v[2].i, .l = v[3].i};
        return true;
    }
    }
    die("bad expression kind %d", (int)e->kind);
}

bool expr_eval(const Env *env, const Expr *e, Value *out)
{
    return eval(env, e, out);
}

/* Bind a block's parameters from the use's arguments (evaluated in the
 * caller's scope) and the defaults (evaluated in the block's own scope, so a
 * default may use earlier parameters). */
bool params_bind_block(const Env *caller, const Layer *l, const Stmt *b, Param **params,
                       int *nparams)
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
        ok = expr_eval(caller, a->value, &vals[k]);
        set[k] = true;
    }
    for (int k = 0; k < b->nargs && ok; k++) {
        Env inner = {*params, *nparams, caller->outer, caller->nouter};
        if (!set[k] && !b->args[k].value) {
            diag_error(l->op_loc, "block '%s' needs argument '%s'", b->name, b->args[k].name);
            ok = false;
        } else if (!set[k]) {
            ok = expr_eval(&inner, b->args[k].value, &vals[k]);
        }
        if (ok)
            param_add(params, nparams, b->args[k].name, vals[k], b->args[k].name_loc);
    }
    free(set);
    free(vals);
    return ok;
}

bool params_check_block(const Stmt *b)
{
    for (int i = 0; i < b->nargs; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(b->args[i].name, b->args[j].name) == 0) {
                diag_error(b->args[i].name_loc, "block '%s' has two parameters named '%s'", b->name,
                           b->args[i].name);
                return false;
            }
        }
    }
    return true;
}

bool expr_repeat_count(const Env *env, const Expr *e, int64_t *count)
{
    Value v;
    if (!expr_eval(env, e, &v))
        return false;
    if (v.kind != V_INT || v.i < 1 || v.i > 1000) {
        if (v.kind == V_INT)
            diag_error(e->loc, "a layer can be repeated 1 to 1000 times, not %lld", (long long)v.i);
        else
            diag_error(e->loc, "the repeat count must be an integer, not %s",
                       value_kind_name(v.kind));
        return false;
    }
    *count = v.i;
    return true;
}
