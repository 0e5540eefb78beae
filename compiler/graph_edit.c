/* graph_edit.c - graph-editing helpers shared by the passes (passes.h). */
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "util.h"

bool pass_is_output(const Graph *g, const Tensor *t)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == t)
            return true;
    return false;
}

Const *pass_ensure_bias(Node *n)
{
    if (n->param[PARAM_BIAS])
        return n->param[PARAM_BIAS];
    char *key = xasprintf("%s.bias", n->name);
    int64_t dims[1] = {n->a.channels};
    Const *b = ir_const_new(key, 1, dims);
    free(key);
    b->data = xcalloc((size_t)n->a.channels, sizeof(float));
    n->param[PARAM_BIAS] = b;
    n->a.bias = true;
    return b;
}

Node *pass_sole_consumer(const Graph *g, const Tensor *t)
{
    if (t->nconsumers != 1 || pass_is_output(g, t))
        return NULL;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            if (g->nodes[i]->in[j] == t)
                return g->nodes[i];
    die("tensor %s: consumer not found", t->name);
}

void pass_replace_uses(Graph *g, Tensor *from, Tensor *to)
{
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++) {
            if (n->in[j] == from) {
                n->in[j] = to;
                from->nconsumers--;
                to->nconsumers++;
            }
        }
    }
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
}

void pass_remove_node(Graph *g, Node *n)
{
    for (int j = 0; j < n->nin; j++)
        n->in[j]->nconsumers--;
    int at = n->id;
    memmove(&g->nodes[at], &g->nodes[at + 1], sizeof *g->nodes * (size_t)(g->nnodes - at - 1));
    g->nnodes--;
    for (int i = at; i < g->nnodes; i++)
        g->nodes[i]->id = i;
    ir_node_free(n);
}

void pass_remove_tensor(Graph *g, Tensor *t)
{
    int at = t->id;
    memmove(&g->tensors[at], &g->tensors[at + 1],
            sizeof *g->tensors * (size_t)(g->ntensors - at - 1));
    g->ntensors--;
    for (int i = at; i < g->ntensors; i++)
        g->tensors[i]->id = i;
    ir_tensor_free(t);
}

void pass_absorb(Graph *g, Node *p, Node *c, PassStats *st)
{
    Tensor *mid = p->out;
    if (c->nin != 1 || c->in[0] != mid || pass_sole_consumer(g, mid) != c)
        die("pass_absorb: %s does not solely consume %s", c->name, p->name);
    char *names = xasprintf("%s +%s%s", p->fuse.names ? p->fuse.names : "", c->name,
                            c->fuse.names ? c->fuse.names : "");
    free(p->fuse.names);
    p->fuse.names = names;
    free(p->fuse.last);
    p->fuse.last = xstrdup(ir_result_name(c));
    p->out = c->out;
    c->out->producer = p;
    st->bytes += ir_tensor_bytes(mid);
    pass_remove_node(g, c);
    pass_remove_tensor(g, mid);
}
