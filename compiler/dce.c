/* dce.c - pass dce: dead-code elimination.
 *
 * Design note. A layer is live if a graph output depends on it, found by one
 * walk backwards from the outputs over the topologically ordered nodes. Every
 * other layer is removed, with a warning naming it at its source line, so a
 * forgotten branch does not silently vanish. Its parameters go with it, which
 * is how unused weights are eliminated (tensors of the weights file no layer
 * asks for are already reported by weights.c). Graph inputs stay, used or not:
 * they are the API. */
#include <stdlib.h>

#include "passes.h"
#include "util.h"

bool eliminate_dead_code(Graph *g, PassStats *st)
{
    bool *live = xcalloc((size_t)g->ntensors, sizeof *live);
    for (int i = 0; i < g->noutputs; i++)
        live[g->outputs[i]->id] = true;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const Node *n = g->nodes[i];
        if (live[n->out->id])
            for (int j = 0; j < n->nin; j++)
                live[n->in[j]->id] = true;
    }
    Node **dead = xmalloc(sizeof *dead * (size_t)(g->nnodes + 1));
    int ndead = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!live[g->nodes[i]->out->id])
            dead[ndead++] = g->nodes[i];
    free(live);
    for (int i = 0; i < ndead; i++)
        diag_warning(dead[i]->loc, "%s '%s' does not contribute to any output; removed",
                     op_name(dead[i]->op), dead[i]->name);
    /* Last first, so every consumer of a dead tensor is gone before it is. */
    for (int i = ndead - 1; i >= 0; i--) {
        Tensor *out = dead[i]->out;
        st->bytes += ir_tensor_bytes(out);
        st->removed++;
        pass_remove_node(g, dead[i]);
        pass_remove_tensor(g, out);
    }
    free(dead);
    return true;
}
