/* prune_stmt.c - `prune` statements: their arguments, then their targets
 * (prune_stmt.h). Which layers can be pruned is the OPT_PRUNABLE trait. */
#include "prune_stmt.h"

#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "opdef.h"
#include "util.h"

/* `prune(amount=A[, structured=B]) targets`: the arguments now, the targets
 * once every layer exists (prune_stmts_resolve), so the statement may come first. */
bool prune_stmt_add(const Env *env, const Stmt *st, Graph *g)
{
    static const AttrSpec spec[] = {
        {"amount", A_NUM, true}, {"structured", A_BOOL, false}, {NULL, 0, 0}};
    Layer l = {.op = "prune", .op_loc = st->loc, .args = st->args, .nargs = st->nargs};
    ArgSet as;
    if (!args_match(env, &l, spec, &as))
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
    g->prunes = xrealloc(g->prunes, sizeof *g->prunes * (size_t)(g->nprunes + 1));
    g->prunes[g->nprunes++] = ps;
    return true;
}

static bool prunable(const Node *n)
{
    return op_has(n->op, OPT_PRUNABLE);
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
    const char *near = nearest_name(name, names, g->nnodes);
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

static bool resolve_prune(const Graph *g, const Stmt *st, PruneSpec *ps)
{
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

bool prune_stmts_resolve(Graph *g, const Stmt *const *stmts)
{
    bool ok = true;
    for (int i = 0; i < g->nprunes; i++)
        ok = resolve_prune(g, stmts[i], &g->prunes[i]) && ok;
    return ok;
}
