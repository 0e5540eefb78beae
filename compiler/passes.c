/* passes.c - the pass pipeline and its options (the passes' graph-editing
 * helpers are graph_edit.c).
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
 *   quantize            only with --quantize=int8: float layers become quantized
 *                       (quantize.c); after folding (a folded batchnorm is
 *                       quantized with its conv2d), before fusion (it observes
 *                       the relu after a conv2d, which fusion then folds into
 *                       the requantization clamp);
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
    {"quantize", "int8 layers from calibration samples (--quantize=int8 turns it on)", false,
     quantize_int8},
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
