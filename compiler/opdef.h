/* opdef.h - what the rest of the compiler may ask about an op.
 *
 * ops.h lists the ops with their traits; each op's OpDef lives in its family's
 * file under compiler/ops/ (ops/conv.c, ops/pool.c, ...) next to everything
 * else specific to it. Sema, the passes, the planner and the emitter ask
 * op_def(n->op) and op_has(op, trait) instead of switching over op kinds. */
#ifndef CNNC_OPDEF_H
#define CNNC_OPDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* Traits: the columns of ops.h. */
enum {
    OPT_WEIGHTS = 1 << 0,     /* has parameters (state_dict keys NAME.weight, ...) */
    OPT_PRUNABLE = 1 << 1,    /* `prune` statements and prune-channels act on its weights */
    OPT_EPILOGUE = 1 << 2,    /* an activation may be fused into its output loop */
    OPT_ACTIVATION = 1 << 3,  /* elementwise activation that fuse-activation may fuse */
    OPT_PER_CHANNEL = 1 << 4, /* output channel c depends on input channel c only */
    OPT_IN_PLACE = 1 << 5,    /* reads each element of an input of the output's size once,
                               * where it writes: may run in place on that input */
    OPT_VIEW = 1 << 6,        /* output is its input's memory (no code) */
    OPT_POOL = 1 << 7,        /* a window pool fuse-pool may merge into a conv2d */
    OPT_READS_CONST = 1 << 8, /* may read a constant layer (ir_is_constant), whose
                               * first dimension is not the batch */
    OPT_QUANT = 1 << 9,       /* also takes quint8 inputs (docs/quantization.md, emit_quant.c) */
};

struct ArgSet;
struct AttrSpec;
struct Emitter;
struct StTensor;

typedef struct OpDef {
    /* ---- front end: arguments, shapes, parameters, printing ---- */
    const struct AttrSpec *args;                          /* positional order; NULL: none */
    bool (*set_attrs)(Node *n, const struct ArgSet *as); /* PyTorch's defaults, range checks */
    bool (*infer)(Node *n);                               /* shape rule */
    /* parameters (OPT_WEIGHTS): the shape of each the op needs (state_dict
     * NAME.weight, ...); the caller zeroes rank[], slots left 0 are unused */
    void (*params)(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4]);
    void (*print)(const Node *n, FILE *f);                /* attributes in --emit=ir */
    int64_t (*macs)(const Node *n);                       /* NULL: none */
    /* activations (OPT_ACTIVATION): the op on one value, as cnnc computes it
     * (prune-channels' constant channels) */
    float (*act_eval)(const Attrs *a, float x);
    /* parameters (OPT_WEIGHTS): the range --init draws parameter p from,
     * uniformly (weights.c's generator) */
    void (*init_range)(const Node *n, int p, InitScheme init, double *lo, double *hi);
    /* a parameter in the weights file of the wrong shape, in the op's own
     * words (linear: its input count); false: weights.c's generic message */
    bool (*param_mismatch)(const Node *n, const Const *want, const struct StTensor *t);
    /* a state_dict entry "NAME.<key>" the PyTorch module has and cnnc does
     * not read (batchnorm: "num_batches_tracked"): not reported as unused */
    const char *ignored_key;
    /* prune-channels (docs in prune_channels.c). Ops that pass channels
     * through other than one to one (OPT_PER_CHANNEL): the channel of input i
     * that output channel k reads, or -1 (flatten, add, concat); NULL: none */
    int64_t (*channel_in)(const Node *n, int i, int64_t k);
    /* with channel_in: whether this node maps channels so (add with a
     * broadcast other than [N, C, 1, 1] does not); NULL: always */
    bool (*maps_channels)(const Node *n);
    /* the value output channel k takes when the channels it reads are the
     * constants x[] (one per input it reads), as cnnc computes it; NaN: not a
     * constant. NULL: act_eval for activations, else x[0] unchanged */
    float (*channel_value)(const Node *n, int64_t k, const float *x);
    /* OPT_PRUNABLE: whether a constant input channel c can be folded into the
     * bias (and the channel dropped), and whether every output channel must
     * stay (a grouped conv2d); NULL: never */
    bool (*absorbs)(const Node *n, float c);
    bool (*fixed_channels)(const Node *n);
    /* fold-batchnorm: the output channel element i of the weight (row-major)
     * contributes to, for a weighted op whose weight is not one row per
     * output channel (conv_transpose2d: [C_in, C_out/groups, kh, kw]); a
     * batchnorm after it folds in. NULL: OPT_PRUNABLE ops fold by rows */
    int64_t (*weight_channel)(const Node *n, int64_t i);
    /* select_kernels: the node's kernel and scratch_bytes, for ops other
     * than conv2d and linear; NULL: KERNEL_DIRECT without scratch */
    void (*select)(Node *n);
    /* --emit=dot: what follows the op in the node's box (conv2d: " 3x3/1, 16 ch") */
    void (*dot)(const Node *n, FILE *f);
    /* calibration (eval.c): the op in float on one batch, a reference (double
     * sums, plain loops) for activation ranges: in[i] holds n->in[i], out
     * n->out, both row-major; parameters bound, nothing fused. NULL: views
     * (OPT_VIEW) copy and activations use act_eval; else not evaluable */
    void (*eval)(const Node *n, const float *const *in, float *out);
    /* ---- back end: C emitter ---- */
    /* emit_internal.h has what it builds on; NULL for views (OPT_VIEW) */
    void (*emit)(struct Emitter *e, const Node *n);       /* the layer function's body */
    /* activations (OPT_ACTIVATION): the C expression of the op applied to the
     * variable x, the same standalone and fused into a producer's epilogue */
    const char *(*act_c)(const Attrs *a, const char *x, char *buf, size_t size);
} OpDef;

const OpDef *op_def(OpKind op);

/* ops/quant.c: whether a zero point is a quint8 value, else an error at loc
 * ("OP: 'WHAT' must be in [0, 255]"); the quantized ops whose output scale
 * and zero point the weights file gives (conv2d, linear, add, concat). */
bool quant_zero_ok(Loc loc, int64_t zero, const char *op, const char *what);
bool quant_has_qparams(OpKind op);
unsigned op_traits(OpKind op);
static inline bool op_has(OpKind op, unsigned trait)
{
    return (op_traits(op) & trait) != 0;
}

#endif
