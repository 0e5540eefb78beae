/* eval.c - the graph run in float32 inside the compiler (eval.h).
 *
 * Each op evaluates itself (OpDef.eval, next to its shape rule in
 * compiler/ops/); views copy their input and activations apply act_eval
 * (the function prune-channels uses) to every element. A network with an op
 * that has neither cannot be calibrated: the error names the layer. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "util.h"

static bool evaluable(OpKind op)
{
    const OpDef *d = op_def(op);
    return d->eval || op_has(op, OPT_VIEW) || (op_has(op, OPT_ACTIVATION) && d->act_eval);
}

bool eval_supported(const Graph *g, const char *why)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (ir_node_quant(n)) {
            diag_error(n->loc, "%s needs a float network: %s '%s' computes on quint8 already", why,
                       op_name(n->op), n->name);
            return false;
        }
        if (!evaluable(n->op) || n->fuse.act != OP_NONE || n->fuse.pool) {
            diag_error(n->loc, "%s cannot evaluate %s '%s' in float (no reference evaluator)",
                       why, op_name(n->op), n->name);
            return false;
        }
    }
    return true;
}

float **eval_alloc(const Graph *g)
{
    float **val = xcalloc((size_t)g->ntensors, sizeof *val);
    for (int i = 0; i < g->ntensors; i++)
        val[i] = xcalloc((size_t)ir_tensor_numel(g->tensors[i]), sizeof(float));
    return val;
}

void eval_free(const Graph *g, float **val)
{
    for (int i = 0; val && i < g->ntensors; i++)
        free(val[i]);
    free(val);
}

void eval_run(const Graph *g, float **val, EvalHook hook, void *ctx)
{
    const float *in[IR_MAX_NODE_INPUTS];
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        const OpDef *d = op_def(n->op);
        float *out = val[n->out->id];
        int64_t total = ir_tensor_numel(n->out);
        for (int k = 0; k < n->nin; k++)
            in[k] = val[n->in[k]->id];
        if (d->eval)
            d->eval(n, in, out);
        else if (op_has(n->op, OPT_VIEW))
            memcpy(out, in[0], sizeof(float) * (size_t)total);
        else
            for (int64_t k = 0; k < total; k++)
                out[k] = d->act_eval(&n->a, in[0][k]);
        if (hook)
            hook(n, out, ctx);
    }
}
