/* dce.c - identity and dead-code elimination: passes eliminate-identity and dce.
 *
 * Design note.
 *
 * eliminate-identity: dropout is the identity at inference. It is removed and
 * its consumers read its input instead. Graph outputs are the generated API
 * (the argument name and header macros come from the tensor), so an output
 * tensor is never dropped: when a dropout's output is a graph output, the node
 * producing the dropout's input is made to write the output tensor directly
 * (its other consumers then read it from there). Only when that input is itself
 * a graph input or output (`input -> dropout` alone) does the dropout stay; it
 * is then a copy, as plan_memory() and the emitter already handle. flatten is
 * also an identity on memory, but it changes the shape, so it stays (it costs
 * nothing: the planner aliases it).
 *
 * dce: a layer is live if a graph output depends on it, found by one walk
 * backwards from the outputs over the topologically ordered nodes. Every
 * other layer is removed, with a warning naming it at its source line, so a
 * forgotten branch does not silently vanish. Its parameters go with it, which
 * is how unused weights are eliminated (tensors of the weights file no layer
 * asks for are already reported by weights.c). Graph inputs stay, used or not:
 * they are the API. */
#include <stdlib.h>

#include "passes.h"
#include "util.h"

/* The dropout's input producer takes over the dropout's output tensor, which is
 * a graph output. False if there is no such producer to redirect. */
static bool redirect_to_output(Graph *g, Node *d, PassStats *st)
{
    Tensor *in = d->in[0], *out = d->out;
    Node *p = in->producer;
    if (!p || pass_is_output(g, in))
        return false;
    pass_remove_node(g, d); /* in loses the dropout as a consumer */
    pass_replace_uses(g, in, out);
    p->out = out;
    out->producer = p;
    pass_remove_tensor(g, in);
    st->removed++;
    st->bytes += ir_tensor_bytes(out);
    return true;
}

static bool remove_dropout(Graph *g, Node *d, PassStats *st)
{
    Tensor *in = d->in[0], *out = d->out;
    if (pass_is_output(g, out))
        return redirect_to_output(g, d, st);
    pass_replace_uses(g, out, in);
    pass_remove_node(g, d);
    pass_remove_tensor(g, out);
    st->removed++;
    return true;
}

bool eliminate_identity(Graph *g, PassStats *st)
{
    for (int i = 0; i < g->nnodes;) {
        Node *n = g->nodes[i];
        if (n->op == OP_DROPOUT && remove_dropout(g, n, st))
            continue; /* the next node moved to index i */
        i++;
    }
    return true;
}

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
