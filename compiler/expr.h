/* expr.h - values and the evaluation of expressions (params, layer arguments).
 *
 * sema.c evaluates every expression of the source through expr_eval():
 * integer arithmetic is overflow-checked, / and % round as Python's // and %,
 * and a name is a param visible where the expression is written. */
#ifndef CNNC_EXPR_H
#define CNNC_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "ast.h"

typedef enum { V_INT, V_FLOAT, V_BOOL, V_STR, V_PAIR, V_QUAD, V_TRIPLE } ValKind;

typedef struct Value {
    ValKind kind;
    int64_t i, j, k, l; /* V_INT, V_BOOL: i; V_PAIR: (i, j); V_TRIPLE: (i, j, k);
                         * V_QUAD: (i, j, k, l) */
    double f;
    const char *s;
} Value;

/* "an integer", "a float", ... for messages. */
const char *value_kind_name(ValKind k);

typedef struct Param {
    char *name;
    Value v;
    Loc loc;
} Param;

/* The params an expression sees: the current block's (searched first), then
 * the top level's. */
typedef struct Env {
    const Param *inner;
    int ninner;
    const Param *outer;
    int nouter;
} Env;

/* The param called `name` among params[n], or NULL. */
const Param *param_find(const Param *params, int n, const char *name);
/* Append a param (the name copied) to *params, of *n. */
void param_add(Param **params, int *n, const char *name, Value v, Loc loc);

/* The param `name` visible in env, or NULL. */
const Param *env_find(const Env *env, const char *name);

/* Evaluate e. Reports a located error (diag.h) and returns false on an
 * unknown name, a type error, a division by zero or an overflow. */
bool expr_eval(const Env *env, const Expr *e, Value *out);

/* A use of block b, `l`: bind b's parameters, appending them to *params
 * (the block's scope, of *nparams), from l's arguments (evaluated in the
 * caller's env) and the defaults (evaluated in the block's own scope, so a
 * default may use earlier parameters; `caller->outer` are the top-level
 * params). Reports errors; false on any. */
bool params_bind_block(const Env *caller, const Layer *l, const Stmt *b, Param **params,
                       int *nparams);
/* A block definition's parameters have different names. Reports the first
 * repeated one; false if there is one. */
bool params_check_block(const Stmt *b);

/* `layer * N`: N, an integer from 1 to 1000. Reports errors. */
bool expr_repeat_count(const Env *env, const Expr *e, int64_t *count);

#endif
