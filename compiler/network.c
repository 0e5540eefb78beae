/* network.c - the network-level settings sema.c resolves: the `init`
 * statement, where the parameters come from (--weights, `weights`, `init`),
 * and the -D overrides of params (network.h). */
#include "network.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "util.h"

bool define_value(const char *text, Value *v)
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
