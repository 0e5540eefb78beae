/* eliminate_identity.c - pass eliminate-identity: dropout goes.
 *
 * Design note. Dropout is the identity at inference. It is removed and
 * its consumers read its input instead. Graph outputs are the generated API
 * (the argument name and header macros come from the tensor), so an output
 * tensor is never dropped: when a dropout's output is a graph output, the node
 * producing the dropout's input is made to write the output tensor directly
 * (its other consumers then read it from there). Only when that input is itself
 * a graph input or output (`input -> dropout` alone) does the dropout stay; it
 * is then a copy, as plan_memory() and the emitter already handle. flatten is
 * also an identity on memory, but it changes the shape, so it stays (it costs
 * nothing: the planner aliases it). */
#include "passes.h"

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
