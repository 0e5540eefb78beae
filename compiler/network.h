/* network.h - the network-level statements and settings sema.c resolves (network.c). */
#ifndef CNNC_NETWORK_H
#define CNNC_NETWORK_H

#include <stdbool.h>

#include "expr.h"
#include "ir.h"

/* `input NAME[C, H, W]` or `[F]`: its shape, the batch in front, each
 * dimension a positive integer and the whole within IR_MAX_ELEMS. */
bool network_input_dims(const Env *env, const Stmt *st, int64_t batch, int64_t dims[IR_MAX_RANK]);
/* `output NAME, ...` at the top level: t (written `name` at loc) becomes the
 * next graph output, unless it already is one or there are too many. */
bool network_add_output(Graph *g, Tensor *t, const char *name, Loc loc);
/* `init he|xavier[(seed=N)]`: g->init and g->seed. Reports errors. */
bool network_init(const Env *env, const Stmt *st, Graph *g);
/* Where parameters come from: --weights, else `weights "f"` (relative to the
 * .cnn file), else `init`; an error if none is given and a layer has
 * parameters. Sets g->weights_path and g->weights_loc. */
bool network_weights(Graph *g, const BuildOptions *opt, const Stmt *weights_stmt,
                     const Stmt *init_stmt);
/* Top-level param `name`: a -D NAME=VALUE replaces its value *v (marked
 * used); VALUE must be an integer, a float, true or false. Reports errors. */
bool defines_apply(const BuildOptions *opt, const char *name, Value *v);
/* Report each -D that names no top-level param (params[nparams]). */
void defines_check_used(const BuildOptions *opt, const Param *params, int nparams);

#endif
