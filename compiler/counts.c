/* counts.c - parameters and multiply-accumulates of a node and of a graph
 * (declared in ir.h), for --summary, --stats and the generated header. */
#include "ir.h"
#include "opdef.h"

int64_t ir_node_params(const Node *n)
{
    int64_t total = 0;
    for (int p = 0; p < PARAM_MAX; p++)
        if (n->param[p])
            total += ir_numel(n->param[p]->rank, n->param[p]->dims);
    return total;
}

/* Multiply-accumulates, counted as PyTorch profilers do: one per weight use
 * (OpDef.macs). */
int64_t ir_node_macs(const Node *n)
{
    return op_def(n->op)->macs ? op_def(n->op)->macs(n) : 0;
}

int64_t ir_const_zeros(const Const *c)
{
    int64_t n = ir_numel(c->rank, c->dims), zeros = 0;
    for (int64_t i = 0; c->data && i < n; i++)
        zeros += c->data[i] == 0.0f;
    return zeros;
}

int64_t ir_node_nonzero_params(const Node *n)
{
    int64_t total = 0;
    for (int p = 0; p < PARAM_MAX; p++)
        if (n->param[p])
            total += ir_numel(n->param[p]->rank, n->param[p]->dims) - ir_const_zeros(n->param[p]);
    return total;
}

/* Every weight of a conv2d or linear (OPT_PRUNABLE) is used the same number
 * of times, so the MACs of the nonzero weights are the MACs scaled by the
 * nonzero fraction. */
int64_t ir_node_nonzero_macs(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    if (!op_has(n->op, OPT_PRUNABLE) || !w || !w->data)
        return ir_node_macs(n);
    int64_t total = ir_numel(w->rank, w->dims);
    return ir_node_macs(n) / total * (total - ir_const_zeros(w));
}

void ir_graph_counts(const Graph *g, int64_t *params, int64_t *nonzero, int64_t *macs,
                     int64_t *nonzero_macs)
{
    *params = *nonzero = *macs = *nonzero_macs = 0;
    for (int i = 0; i < g->nnodes; i++) {
        *params += ir_node_params(g->nodes[i]);
        *nonzero += ir_node_nonzero_params(g->nodes[i]);
        *macs += ir_node_macs(g->nodes[i]);
        *nonzero_macs += ir_node_nonzero_macs(g->nodes[i]);
    }
}
