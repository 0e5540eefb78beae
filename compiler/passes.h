/* passes.h - the optimizer: a fixed sequence of IR-to-IR passes.
 *
 * Each pass is one file under compiler/ that opens with its design note
 * (docs/optimizer.md collects them). A pass reads and rewrites the Graph only:
 * it runs after weights_bind() (parameters are bound, shapes known) and before
 * select_kernels() and plan_memory(). The table `passes[]` in passes.c is the
 * pipeline, in order; run_passes() runs the enabled ones and ir_verify()s the
 * graph after each.
 *
 * -O0 runs no pass, -O2 every pass marked at_O2; -fno-NAME disables one pass
 * and -fNAME enables one (names match with '-' and '_' alike). */
#ifndef CNNC_PASSES_H
#define CNNC_PASSES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* What one pass did, for --stats. */
typedef struct PassStats {
    int64_t folded;   /* nodes merged into another node's parameters */
    int64_t removed;  /* nodes deleted */
    int64_t fused;    /* nodes merged into another node's loops */
    int64_t bytes;    /* activation bytes no longer materialised */
    int64_t channels; /* output channels of conv2d/linear removed (prune-channels) */
} PassStats;

/* Returns false if it reported an error (diag.h); the compilation then stops. */
typedef bool (*PassFn)(Graph *g, PassStats *st);

typedef struct Pass {
    const char *name; /* -fno-NAME, --dump-after=NAME */
    const char *what; /* one line, for --help */
    bool at_O2;
    PassFn run;
} Pass;

#define PASS_MAX 16
extern const Pass passes[]; /* in pipeline order */
extern const int npasses;

typedef struct PassOptions {
    int level;                   /* 0 or 2 */
    signed char force[PASS_MAX]; /* +1: -fNAME, -1: -fno-NAME, 0: as the level says */
    const char *dump_after;      /* a pass name, or "all"; NULL: no dump */
    bool stats;                  /* one line per pass on stderr */
} PassOptions;

/* Index of the pass called name ('-' and '_' equal), or -1. */
int pass_find(const char *name);
/* Whether pass i runs under po. */
bool pass_enabled(const PassOptions *po, int i);
/* Run the pipeline. --dump-after and --stats output goes to `log` (stderr). */
bool run_passes(Graph *g, const PassOptions *po, FILE *log);

/* ---- the passes, one file each ----------------------------------------- */

bool eliminate_identity(Graph *g, PassStats *st);  /* eliminate_identity.c */
bool eliminate_dead_code(Graph *g, PassStats *st); /* dce.c */
bool fold_batchnorm(Graph *g, PassStats *st);      /* fold_batchnorm.c */
bool prune_channels(Graph *g, PassStats *st);      /* prune_channels.c */
bool quantize_int8(Graph *g, PassStats *st);       /* quantize.c */
bool fuse_activation(Graph *g, PassStats *st);     /* fuse_activation.c */
/* quantize.c: what the quantize pass reads (calibrate.h's QuantOptions), set
 * by the driver for --quantize=int8; NULL: not configured (the pass is an
 * error then). */
struct QuantOptions;
void quantize_configure(const struct QuantOptions *o);
bool fuse_pool(Graph *g, PassStats *st);           /* fuse_pool.c */

/* ---- graph editing, shared by the passes (graph_edit.c) ---------------- */

bool pass_is_output(const Graph *g, const Tensor *t);
/* n's bias (conv2d/linear), created as zeros (and n->a.bias set) if it has none. */
Const *pass_ensure_bias(Node *n);
/* The one node reading t, if t has exactly one consumer and is not a graph
 * output; else NULL. Such a tensor may disappear into a fusion. */
Node *pass_sole_consumer(const Graph *g, const Tensor *t);
/* Make every node input and graph output that reads `from` read `to`. */
void pass_replace_uses(Graph *g, Tensor *from, Tensor *to);
/* Delete node n (and its parameters) from the graph; its inputs lose a
 * consumer. Its output tensor is left alone. Ids are renumbered. */
void pass_remove_node(Graph *g, Node *n);
/* Delete tensor t, which nothing may reference any more. */
void pass_remove_tensor(Graph *g, Tensor *t);
/* Node p absorbs node c, the sole consumer of p's output: p now writes c's
 * output tensor, and c and p's old output disappear. Records c's name in
 * p->fuse.names and the bytes no longer materialised in st. */
void pass_absorb(Graph *g, Node *p, Node *c, PassStats *st);

#endif
