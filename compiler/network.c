/* network.c - the network-level statements and settings sema.c resolves:
 * the input's shape, the outputs, the `init` statement, where the parameters
 * come from (--weights, `weights`, `init`), and the -D overrides of params
 * (network.h). */
#include "network.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "util.h"

static bool define_value(const char *text, Value *v)
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

bool defines_apply(const BuildOptions *opt, const char *name, Value *v)
{
    for (int i = 0; i < opt->ndefines; i++) {
        Define *d = &opt->defines[i];
        if (strcmp(d->name, name) != 0)
            continue;
        d->used = true;
        if (!define_value(d->value, v)) {
            diag_error((Loc){0}, "-D %s=%s: the value must be an integer, a float, true or false",
                       d->name, d->value);
            return false;
        }
    }
    return true;
}

bool network_init(const Env *env, const Stmt *st, Graph *g)
{
    if (strcmp(st->name, "he") == 0)
        g->init = INIT_HE;
    else if (strcmp(st->name, "xavier") == 0)
        g->init = INIT_XAVIER;
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
        if (!expr_eval(env, a->value, &v))
            return false;
        if (v.kind != V_INT || v.i < 0) {
            diag_error(a->value->loc, "init seed must be a non-negative integer");
            return false;
        }
        g->seed = (uint64_t)v.i;
    }
    return true;
}

bool network_input_dims(const Env *env, const Stmt *st, int64_t batch, int64_t dims[IR_MAX_RANK])
{
    if (st->ndims != 1 && st->ndims != 3) {
        diag_error(st->name_loc, "input '%s' needs 3 dimensions [C, H, W] or 1 [F], not %d",
                   st->name, st->ndims);
        return false;
    }
    dims[0] = batch;
    int64_t total = batch;
    for (int i = 0; i < st->ndims; i++) {
        Value v;
        if (!expr_eval(env, st->dims[i], &v))
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
        dims[i + 1] = v.i;
    }
    return true;
}

bool network_add_output(Graph *g, Tensor *t, const char *name, Loc loc)
{
    for (int j = 0; j < g->noutputs; j++) {
        if (g->outputs[j] == t) {
            diag_error(loc, "'%s' is already an output", name);
            return false;
        }
    }
    if (g->noutputs == IR_MAX_INPUTS) {
        diag_error(loc, "at most %d outputs are supported", IR_MAX_INPUTS);
        return false;
    }
    g->outputs[g->noutputs++] = t;
    return true;
}

/* Where parameters come from: --weights, else `weights "f"` (relative to the
 * .cnn file), else `init`. */
bool network_weights(Graph *g, const BuildOptions *opt, const Stmt *weights_stmt,
                     const Stmt *init_stmt)
{
    if (opt->weights_path) {
        g->weights_path = xstrdup(opt->weights_path);
        g->init = INIT_NONE;
        return true;
    }
    if (weights_stmt && init_stmt) {
        diag_error(init_stmt->loc, "both 'weights' and 'init' are given; keep one");
        diag_note(weights_stmt->loc, "weights given here");
        return false;
    }
    if (weights_stmt) {
        const char *file = weights_stmt->str;
        const char *src = opt->source_path;
        const char *slash = src ? strrchr(src, '/') : NULL;
        if (file[0] != '/' && slash)
            g->weights_path = xasprintf("%.*s/%s", (int)(slash - src), src, file);
        else
            g->weights_path = xstrdup(file);
        g->weights_loc = weights_stmt->loc;
        return true;
    }
    if (init_stmt)
        return true;
    bool has_params = false;
    for (int i = 0; i < g->nnodes; i++)
        has_params = has_params || op_has(g->nodes[i]->op, OPT_WEIGHTS);
    if (has_params) {
        diag_error((Loc){0}, "no weights: add 'weights \"FILE.safetensors\"', "
                             "'init he(seed=0)', or use --weights FILE");
        return false;
    }
    return true;
}

void defines_check_used(const BuildOptions *opt, const Param *params, int nparams)
{
    for (int i = 0; i < opt->ndefines; i++) {
        if (opt->defines[i].used)
            continue;
        const char **names = xmalloc(sizeof *names * (size_t)(nparams + 1));
        for (int j = 0; j < nparams; j++)
            names[j] = params[j].name;
        const char *near = nearest_name(opt->defines[i].name, names, nparams);
        diag_error((Loc){0}, "-D %s: the network has no param '%s'%s%s%s", opt->defines[i].name,
                   opt->defines[i].name, near ? "; did you mean '" : "", near ? near : "",
                   near ? "'?" : "");
        free(names);
    }
}
