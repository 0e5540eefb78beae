/* counts.c - parameters and multiply-accumulates of a node and of a graph
 * (declared in ir.h), for --summary, --stats and the generated header. */
#include "ir.h"
#include "opdef.h"

/* A quantized conv2d or linear keeps its weights in n->q (int8 weights, one
 * scale per output channel, float bias): its parameters are the weights and
 * the bias, as for the float layer; with nonzero, only those not zero. */
static int64_t q_params(const Node *n, bool nonzero)
{
    int rank[PARAM_MAX] = {0};
    int64_t dims[PARAM_MAX][4], total = 0;
    op_def(n->op)->params(n, rank, dims);
    int64_t w = ir_numel(rank[PARAM_WEIGHT], dims[PARAM_WEIGHT]), oc = dims[PARAM_WEIGHT][0];
    for (int64_t i = 0; i < w; i++)
        total += !nonzero || n->q->w[i] != 0;
    for (int64_t c = 0; n->q->bias && c < oc; c++)
        total += !nonzero || n->q->bias[c] != 0.0f;
    return total;
}

int64_t ir_node_params(const Node *n)
{
    if (n->q && n->q->w)
        return q_params(n, false);
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
    if (n->q && n->q->w)
        return q_params(n, true);
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
