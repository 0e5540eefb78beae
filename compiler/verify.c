/* verify.c - ir_verify (ir.h): the consistency check run after each pass. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "util.h"
#include "weights.h"

/* Ids are array indices, every tensor a node touches is in the graph, and
 * each tensor's consumer count is its number of uses as a node input. */
static void verify_links(const Graph *g)
{
    int *uses = calloc((size_t)g->ntensors + 1, sizeof *uses);
    if (!uses)
        die("out of memory");
    for (int i = 0; i < g->ntensors; i++)
        if (g->tensors[i]->id != i)
            die("tensor %s: id %d at index %d", g->tensors[i]->name, g->tensors[i]->id, i);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->id != i)
            die("node %s: id %d at index %d", n->name, n->id, i);
        if (!n->out)
            die("node %s: no output", n->name);
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = n->in[j];
            if (t->id < 0 || t->id >= g->ntensors || g->tensors[t->id] != t)
                die("node %s: input %%%s is not in the graph", n->name, t->name);
            uses[t->id]++;
        }
        if (n->out->id < 0 || n->out->id >= g->ntensors || g->tensors[n->out->id] != n->out)
            die("node %s: output %%%s is not in the graph", n->name, n->out->name);
    }
    for (int i = 0; i < g->ntensors; i++)
        if (uses[i] != g->tensors[i]->nconsumers)
            die("tensor %s: %d consumers recorded, %d found", g->tensors[i]->name,
                g->tensors[i]->nconsumers, uses[i]);
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i]->id >= g->ntensors || g->tensors[g->outputs[i]->id] != g->outputs[i])
            die("output %s is not in the graph", g->outputs[i]->name);
    free(uses);
}

/* Each parameter has the shape its node's attributes and input ask for
 * (weights.c binds them so; passes that slice or create them must keep it). */
static void verify_params(const Node *n)
{
    int64_t want[PARAM_MAX][4] = {{0}};
    int rank[PARAM_MAX];
    weights_expected(n, rank, want);
    for (int p = 0; p < PARAM_MAX; p++) {
        const Const *k = n->param[p];
        if (!k)
            continue;
        if (k->rank != rank[p] || memcmp(k->dims, want[p], sizeof(int64_t) * (size_t)k->rank) != 0)
            die("node %s: parameter %s has the wrong shape", n->name, k->key);
    }
}

void ir_verify(const Graph *g)
{
    verify_links(g);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (!n->out || n->out->producer != n)
            die("node %s: output link broken", n->name);
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = n->in[j];
            if (t->producer && t->producer->id >= n->id)
                die("node %s: input %%%s is produced later", n->name, t->name);
        }
        Tensor saved = *n->out;
        if (!ir_infer_node(n))
            die("node %s: shape no longer valid", n->name);
        verify_params(n);
        if (saved.rank != n->out->rank ||
            memcmp(saved.dims, n->out->dims, sizeof saved.dims[0] * (size_t)saved.rank) != 0)
            die("node %s: stored shape differs from inferred shape", n->name);
    }
}
