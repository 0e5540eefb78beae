/* prune_stmt.h - `prune` statements (docs/language.md): checked when sema.c
 * meets them, resolved to their layers once every layer exists, so a
 * statement may come before the layers it names. prune_weights() applies them. */
#ifndef CNNC_PRUNE_STMT_H
#define CNNC_PRUNE_STMT_H

#include <stdbool.h>

#include "expr.h"
#include "ir.h"

/* `prune(amount=A[, structured=B]) targets`: check the arguments (evaluated
 * in env) and append the statement's PruneSpec, without its layers yet, to
 * g->prunes. Reports errors; false on any. */
bool prune_stmt_add(const Env *env, const Stmt *st, Graph *g);
/* Resolve every g->prunes[i] to its layers from its statement stmts[i]:
 * a layer's name, '*' (every prunable layer) or a block use's label (every
 * prunable layer inside it). Reports errors; false on any. */
bool prune_stmts_resolve(Graph *g, const Stmt *const *stmts);

#endif
