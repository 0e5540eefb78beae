/* eval.h - the graph run in float32 inside the compiler, for calibration.
 *
 * eval.c evaluates a float graph (before fusion) on given inputs with each
 * op's reference evaluator (OpDef.eval, opdef.h): plain loops with double
 * sums, not the generated code. calibrate.c runs it over the calibration
 * samples to observe activation ranges, and quantize.c to measure the
 * quantized network's error (--stats). */
#ifndef CNNC_EVAL_H
#define CNNC_EVAL_H

#include <stdbool.h>

#include "ir.h"

/* Called after node n wrote its output out (which it may change in place:
 * fake quantization). */
typedef void (*EvalHook)(const Node *n, float *out, void *ctx);

/* Whether every node can be evaluated: a located error for the first that
 * cannot ("WHY needs ..."), or for a fused or quantized node. */
bool eval_supported(const Graph *g, const char *why);
/* One float buffer per tensor, val[t->id], of the tensor's elements (the
 * batch compiled in); views get their own. */
float **eval_alloc(const Graph *g);
void eval_free(const Graph *g, float **val);
/* Run every node in order on val[] (the graph inputs filled in); hook may be
 * NULL. */
void eval_run(const Graph *g, float **val, EvalHook hook, void *ctx);

#endif
