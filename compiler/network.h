/* network.h - the network-level settings sema.c resolves (network.c). */
#ifndef CNNC_NETWORK_H
#define CNNC_NETWORK_H

#include <stdbool.h>

#include "expr.h"
#include "ir.h"

/* `init he|xavier[(seed=N)]`: g->init and g->seed. Reports errors. */
bool network_init(const Env *env, const Stmt *st, Graph *g);
/* Where parameters come from: --weights, else `weights "f"` (relative to the
 * .cnn file), else `init`; an error if none is given and a layer has
 * parameters. Sets g->weights_path and g->weights_loc. */
bool network_weights(Graph *g, const BuildOptions *opt, const Stmt *weights_stmt,
                     const Stmt *init_stmt);
/* A -D value: an integer, a float, true or false. False if it is none. */
bool define_value(const char *text, Value *v);
/* Report each -D that names no top-level param (params[nparams]). */
void defines_check_used(const BuildOptions *opt, const Param *params, int nparams);

#endif
