/* passes.c - the pass pipeline, its options, and graph-editing helpers.
 *
 * Design note. The pipeline is a fixed table, run top to bottom, so what the
 * optimizer does is visible in one place and in `cnnc --help`. The order
 * matters and is chosen so each pass exposes work to the next:
 *
 *   eliminate-identity  dropout goes first: conv -> dropout -> bn becomes
 *                       foldable, and dropout -> relu fusable;
 *   dce                 dead branches go before any fusion, so a consumer that
 *                       feeds nothing cannot make a tensor look shared;
 *   fold-batchnorm      conv/linear + batchnorm become one layer, so the
 *                       activation after the batchnorm is next to the conv;
 *   prune-channels      all-zero output channels go, with their readers'
 *                       input channels; after folding (a folded layer's zero
 *                       rows carry the folded bias) and before fusion (it
 *                       needs activations and pools as nodes);
 *   fuse-activation     conv/linear/batchnorm + activation;
 *   fuse-pool           conv(+act) + maxpool/avgpool, last, as it needs the
 *                       activation already inside the conv.
 *
 * Every pass keeps the IR's invariants (ids are indices, topological order,
 * consumer counts, shapes); ir_verify() checks them after each pass, so a
 * broken rewrite stops the compiler at the pass that caused it (an internal
 * error, not a wrong program). Passes never change a graph input or output
 * tensor: those are the generated API (argument names, header macros). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

const Pass passes[] = {
    {"eliminate-identity", "remove dropout (identity at inference)", true, eliminate_identity},
    {"dce", "remove layers no output depends on, with a warning", true, eliminate_dead_code},
    {"fold-batchnorm", "fold batchnorm into the conv2d/linear before it", true, fold_batchnorm},
    {"prune-channels", "remove all-zero output channels and what reads them", true, prune_channels},
    {"fuse-activation", "apply an activation in the producing layer's loop", true, fuse_activation},
    {"fuse-pool", "conv2d writes maxpool/avgpool output directly", true, fuse_pool},
};
const int npasses = (int)(sizeof passes / sizeof passes[0]);

/* ---- running ------------------------------------------------------------- */

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

int pass_find(const char *name)
{
    for (int i = 0; i < npasses; i++)
        if (same_name(passes[i].name, name))
            return i;
    return -1;
}

bool pass_enabled(const PassOptions *po, int i)
{
    if (po->force[i])
        return po->force[i] > 0;
    return po->level >= 2 && passes[i].at_O2;
}

static void print_stats(FILE *log, const Pass *p, bool ran, const PassStats *st)
{
    if (!ran) {
        fprintf(log, "stats: %s: not run\n", p->name);
        return;
    }
    fprintf(log, "stats: %s: %lld folded, %lld removed, %lld fused, %lld bytes saved", p->name,
            (long long)st->folded, (long long)st->removed, (long long)st->fused,
            (long long)st->bytes);
    if (st->channels)
        fprintf(log, ", %lld channels removed", (long long)st->channels);
    fputc('\n', log);
}

/* What the passes did to the size of the network, for --stats. */
static void print_totals(FILE *log, const Graph *g)
{
    int64_t params, nonzero, macs, nonzero_macs;
    ir_graph_counts(g, &params, &nonzero, &macs, &nonzero_macs);
    fprintf(log, "stats: parameters: %lld -> %lld (nonzero: %lld -> %lld)\n",
            (long long)g->params_before, (long long)params, (long long)g->nonzero_before,
            (long long)nonzero);
    fprintf(log, "stats: MACs: %lld -> %lld (of nonzero weights: %lld -> %lld)\n",
            (long long)g->macs_before, (long long)macs, (long long)g->nonzero_macs_before,
            (long long)nonzero_macs);
}

bool run_passes(Graph *g, const PassOptions *po, FILE *log)
{
    bool dump_all = po->dump_after && strcmp(po->dump_after, "all") == 0;
    ir_graph_counts(g, &g->params_before, &g->nonzero_before, &g->macs_before,
                    &g->nonzero_macs_before);
    for (int i = 0; i < npasses; i++) {
        const Pass *p = &passes[i];
        PassStats st = {0};
        bool ran = pass_enabled(po, i);
        if (ran) {
            if (!p->run(g, &st))
                return false;
            ir_verify(g);
        }
        if (po->stats)
            print_stats(log, p, ran, &st);
        if (dump_all || (po->dump_after && same_name(po->dump_after, p->name))) {
            fprintf(log, "# after %s%s\n", p->name, ran ? "" : " (not run)");
            ir_print(g, log);
        }
    }
    if (po->stats)
        print_totals(log, g);
    return true;
}

/* ---- graph editing ------------------------------------------------------- */

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
