/* ir.h - the graph IR: tensors with known shapes, nodes (ops), constant weights.
 *
 * Every stage after parsing speaks this IR: ir_build() turns the AST into a
 * graph with all shapes inferred (sema.c; each op's rules are its OpDef,
 * opdef.h), weights_bind() attaches parameters
 * (weights.c), passes rewrite it (passes.h), plan_memory() assigns arena
 * offsets, and the emitter prints it as C. Shapes are int64 and every product
 * is overflow-checked when it is formed.
 *
 * Layout: activations are NCHW (rank 4) or [N, F] (rank 2); dims[0] is the batch. */
#ifndef CNNC_IR_H
#define CNNC_IR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ast.h"
#include "diag.h"

typedef enum OpKind {
    OP_NONE, /* no op: Fused.act when nothing is fused */
#define OP(id, name, family, nin, traits) OP_##id,
#include "ops.h"
#undef OP
    OP_COUNT
} OpKind;

const char *op_name(OpKind op);
int op_arity(OpKind op); /* number of tensor inputs; -1: two or more (concat) */
bool op_lookup(const char *name, OpKind *op); /* false if no such op */

#define IR_MAX_RANK 4
/* The most network inputs, and outputs. */
#define IR_MAX_INPUTS 16
/* The most tensors one layer reads (concat's inputs). Node.in is allocated to
 * size; the bound keeps each layer's C function, which takes every input, its
 * output and a scratch pointer, within the 127 parameters C99 promises
 * (5.2.4.1). */
#define IR_MAX_NODE_INPUTS 125
/* The largest tensor (elements) and arena (bytes) cnnc accepts. */
#define IR_MAX_ELEMS ((int64_t)1 << 30) /* so every index fits a C int */
/* The arena is one static array, and x86-64's default (small) code model
 * reaches 2 GiB of code and static data: 2 GiB less 64 MiB for the rest. */
#define IR_MAX_ARENA_BYTES (((int64_t)1 << 31) - ((int64_t)1 << 26))
/* The most layers, and params, one network may have (name lookups are linear,
 * so this also bounds the compile time of a hostile 10 MB file). */
#define IR_MAX_NODES 10000
#define IR_MAX_PARAMS 10000

typedef enum Storage {
    STORE_NONE,   /* not planned yet */
    STORE_INPUT,  /* the caller's input pointer */
    STORE_OUTPUT, /* the caller's output pointer */
    STORE_ARENA,  /* the static arena, at `offset` bytes */
    STORE_ALIAS,  /* the same memory as `alias` (flatten, dropout) */
} Storage;

typedef struct Tensor {
    int id;
    char *name;  /* C-safe identifier, unique in the graph */
    char *label; /* as the user wrote it, for messages: "layer1.0.y", "features.0" */
    int rank;
    int64_t dims[IR_MAX_RANK];
    struct Node *producer; /* NULL for graph inputs */
    int nconsumers;
    Storage storage;
    int64_t offset;       /* bytes, STORE_ARENA */
    struct Tensor *alias; /* STORE_ALIAS */
    /* quint8 (docs/quantization.md): one byte per element, real value
     * (q - qzero) * qscale; set with the shape (ops/quant.c's quant_infer).
     * Otherwise float32 and the q fields are unused. */
    bool quant;
    double qscale;
    int64_t qzero;
} Tensor;

/* A constant (parameter) tensor. */
typedef struct Const {
    char *key; /* state_dict key, e.g. "features.0.weight" */
    int rank;
    int64_t dims[IR_MAX_RANK];
    float *data; /* owned; NULL until weights_bind() */
    /* The pruning mask, one byte per element: 1 kept, 0 pruned. NULL if the
     * tensor was never pruned. Set by weights_bind() from "<key>_mask" (a
     * torch.nn.utils.prune state_dict; data is then "<key>_orig" * mask) and by
     * prune statements (prune_weights); kept in step when passes slice the
     * tensor. Pruned elements of data are zero (or NaN where orig was not
     * finite, as in PyTorch). */
    unsigned char *mask;
} Const;

/* The pad op's F.pad modes: the constant value, the mirror image without
 * the edge (nn.ReflectionPad2d, ONNX's "reflect"), the edge repeated
 * (nn.ReplicationPad2d, ONNX's "edge"). */
typedef enum PadMode { PAD_CONSTANT, PAD_REFLECT, PAD_REPLICATE } PadMode;

/* Attributes of every op in one plain struct; each op reads the fields it needs. */
typedef struct Attrs {
    int64_t channels; /* conv2d: output channels; linear: output features */
    int64_t kh, kw, sh, sw, ph, pw, dh, dw; /* ph, pw: the top and left pad */
    int64_t pb, pr;         /* conv2d, conv_transpose2d, pools: the bottom and right pad */
    int64_t groups;
    int64_t oph, opw;       /* conv_transpose2d: output_padding */
    bool bias;              /* conv2d, linear */
    bool affine;            /* batchnorm */
    bool ceil_mode;         /* pools */
    bool count_include_pad; /* avgpool */
    double eps;             /* batchnorm */
    double slope;           /* leaky_relu */
    double lo, hi;          /* clamp: the bounds given (has_lo, has_hi) */
    bool has_lo, has_hi;
    double alpha, beta;     /* with alpha_beta: hardsigmoid max(0, min(1, alpha*x + beta)); */
    bool alpha_beta;        /* linear alpha * (x W^T) + beta * bias (alpha or beta not 1) */
    double p;               /* dropout */
    int64_t dim;            /* softmax, concat, narrow */
    int64_t out_h, out_w;   /* upsample (with size), adaptive_avgpool */
    int64_t scale_h, scale_w; /* upsample with scale; 0 when size is given */
    bool bilinear;          /* upsample: mode="bilinear" (align_corners=False) */
    double fscale;          /* upsample: a float scale (both axes), else 0 */
    int coord, round_mode;  /* upsample: coordinate and rounding modes (ops/upsample.c) */
    bool gelu_tanh;         /* gelu: approximate="tanh" */
    int64_t pad_l, pad_r, pad_t, pad_b; /* pad: per side (negative crops, as F.pad) */
    double value;           /* pad: the constant */
    PadMode pad_mode;       /* pad: F.pad's mode */
    int64_t start, length;  /* narrow, chunk: the channels [start, start + length) */
    int64_t chunks, index;  /* chunk: x.chunk(chunks, dim=1)[index] */
    bool keepdim;           /* sum, mean, amax, amin: the reduced dimensions stay, as 1 */
    unsigned reduced;       /* sum, mean, amax, amin: bit d for each reduced dimension d */
    int64_t shape[IR_MAX_RANK]; /* constant: its shape; permute, reshape, the reductions: the
                                 * dimensions as given */
    int nshape;
    double qscale;          /* quantize: the output's scale and zero point */
    int64_t qzero;
} Attrs;

enum { PARAM_WEIGHT, PARAM_BIAS, PARAM_MEAN, PARAM_VAR, PARAM_MAX };

/* How a node is computed; chosen per layer from its fixed shape by select_kernels(). */
typedef enum Kernel {
    KERNEL_DIRECT, /* fixed-shape loops */
    KERNEL_GEMM,   /* one matrix product straight on the input (1x1 conv, linear) */
    KERNEL_IM2COL, /* unfold the input into scratch, then a matrix product */
    KERNEL_BLOCKED, /* direct, register-blocked: 16 output channels x a row segment (emit_conv.c) */
    KERNEL_DEPTHWISE, /* depthwise (one input channel per output), rows vectorized (emit_conv.c) */
    KERNEL_SPARSE, /* conv2d/linear: only the nonzero weights, from compile-time lists */
    KERNEL_QDOT,   /* quantized conv2d: unfolded bytes, u8 x s8 dot products (emit_quant.c) */
    KERNEL_QCONV,  /* quantized conv2d, groups 1: packed input, register tiles (emit_qfast.c) */
    KERNEL_QDW,    /* quantized depthwise conv2d: packed input, rows vectorized (emit_qfast.c) */
} Kernel;

/* What the optimizer merged into a node. Each computed value goes through the
 * activation, then (conv2d only) the pooling, before it is stored: the node's
 * output is pool(act(op(x))). conv_dims is the convolution's own output shape,
 * which with a pool is never stored. Zeroed means nothing is fused. */
typedef struct Fused {
    OpKind act;   /* the fused activation (an OPT_ACTIVATION op), or OP_NONE */
    Attrs act_a;  /* its attributes (leaky_relu: slope) */
    bool pool;        /* conv2d: a maxpool or avgpool is fused */
    OpKind pool_op;   /* OP_MAXPOOL or OP_AVGPOOL */
    Attrs pool_a;     /* the pool's attributes */
    int64_t conv_dims[IR_MAX_RANK]; /* [N, C, H, W] before pooling */
    /* GEMM kernels with a pool (select_kernels): pooled rows per band, and the
     * most convolution rows one band needs. */
    int64_t band_rows, band_conv_rows;
    char *names; /* the merged layers for dumps, " +bn1 +relu_1"; NULL if none */
    char *last;  /* the last of them, whose output the node now writes; NULL if none */
} Fused;

/* A quantized conv2d, linear, add or concat's numbers from the weights file
 * (docs/quantization.md, weights_quant.c): the output's scale and zero point,
 * and for conv2d and linear the int8 weight (row-major, as the float weight),
 * its scale per output channel and the float bias. */
typedef struct QLayer {
    double scale;
    int64_t zero;
    signed char *w; /* NULL for add, concat */
    float *wscale;  /* [channels] */
    float *bias;    /* [channels], NULL without bias */
} QLayer;

typedef struct Node {
    int id;
    OpKind op;
    char *name; /* the label: also the weight key prefix */
    Loc loc;    /* where the layer was written */
    Tensor **in; /* nin inputs; owned (room for 2 from ir_node_new, ir_node_set_inputs for more) */
    int nin;
    Tensor *out;
    Attrs a;
    Const *param[PARAM_MAX]; /* NULL where the op has no such parameter */
    Kernel kernel;
    int64_t scratch_bytes;  /* temporary memory the kernel needs, in the arena */
    int64_t scratch_offset; /* set by plan_memory() */
    Fused fuse;             /* set by the fusion passes */
    /* conv2d/linear: the output channels (features) before prune-channels
     * removed some, for --emit=dot and --summary; 0 if none were removed. */
    int64_t channels_before_prune;
    QLayer *q; /* quantized conv2d, linear, add, concat once bound; else NULL */
} Node;

/* A `prune` statement (docs/language.md), resolved to its layers by
 * ir_build() and applied to the weights by prune_weights() (weights.h). */
typedef struct PruneSpec {
    Loc loc;             /* the statement */
    double fraction;     /* amount as a fraction in [0, 1], or -1 */
    int64_t count;       /* amount as a count (an integer amount), or -1 */
    bool structured;     /* whole output channels (ln_structured, n=1, dim=0) */
    struct Node **nodes; /* the conv2d/linear layers it prunes, in graph order */
    Loc *locs;           /* where each was named */
    int nnodes;
} PruneSpec;

/* How parameters are obtained when no weights file is used. */
typedef enum InitScheme { INIT_NONE, INIT_HE, INIT_XAVIER } InitScheme;

typedef struct Graph {
    char *name; /* C prefix for symbols */
    int64_t batch;
    Node **nodes; /* topological (= source) order */
    int nnodes;
    Tensor **tensors;
    int ntensors;
    Tensor *inputs[IR_MAX_INPUTS];
    int ninputs;
    Tensor *outputs[IR_MAX_INPUTS];
    int noutputs;
    /* Where the weights come from, as resolved from the source and options. */
    char *weights_path; /* NULL: use init */
    Loc weights_loc;
    InitScheme init;
    uint64_t seed;
    PruneSpec *prunes; /* `prune` statements in source order; freed by prune_weights() */
    int nprunes;
    /* Totals before the passes (run_passes), for --stats and --summary. */
    int64_t params_before, nonzero_before, macs_before, nonzero_macs_before;
    int64_t arena_bytes;     /* set by plan_memory() */
    int64_t peak_live_bytes; /* the most bytes live at one step: a lower bound for the arena */
} Graph;

/* A -D NAME=VALUE override. */
typedef struct Define {
    char *name;
    char *value;
    bool used;
} Define;

typedef struct BuildOptions {
    int64_t batch;            /* >= 1 */
    const char *name;         /* --name, or NULL */
    const char *weights_path; /* --weights, or NULL */
    const char *source_path;  /* the .cnn file, to resolve `weights "x"` relative to it */
    Define *defines;
    int ndefines;
} BuildOptions;

/* AST -> IR: evaluate params and attributes, name layers, infer and check every
 * shape. Reports errors through diag.h and returns NULL if there was any. */
Graph *ir_build(const Program *prog, const BuildOptions *opt);

/* Shape inference for one node (infer.c): the op's shape rule (OpDef.infer)
 * sets n->out->rank/dims from n->in and n->a. Reports a located error and
 * returns false if the node is invalid. Also used by passes that create or
 * change nodes. */
bool infer_shape(Node *n);
/* Whether each tensor is quint8, and its scale and zero point, for node n's
 * output (ops/quant.c): quantize sets them, conv2d, linear, add and concat
 * take them from n->q (zero until bound), other ops keep their input's.
 * Reports an op that cannot take a quantized input. infer_shape calls it. */
bool quant_infer(Node *n);
/* infer_shape for a node as the optimizer may have left it: a conv2d with a
 * fused pool infers the convolution (checked against fuse.conv_dims), then the
 * pool on its result. ir_verify uses this. */
bool ir_infer_node(Node *n);
/* The convolution's own output height and width (before any fused pool). */
void ir_conv_out_hw(const Node *n, int64_t *oh, int64_t *ow);
/* A node's pad as "(h<sep>w)", or "(top<sep>left<sep>bottom<sep>right)" where
 * a side differs from its opposite (sep "," in --emit=ir, ", " in messages). */
const char *ir_pad_str(const Attrs *a, const char *sep, char *buf, size_t size);
/* --emit=ir's " pad=(h,w)" or " pad=(top,left,bottom,right)". */
void ir_print_pad(const Attrs *a, FILE *f);
/* Whether every window position and tap index of a pool or conv2d with
 * attributes a (kernel, stride, pad, dilation) over an H x W plane fits a C
 * int. Past that (an attribute near 2^31) the window is computed in long
 * long (ops/pool.c, ops/conv.c) and conv2d keeps its direct loops. */
bool ir_window_fits_int(const Attrs *a, int64_t H, int64_t W);
/* The layer whose output node n writes: the last layer fused into it
 * ("relu_1" for conv1 +bn1 +relu_1), or n itself. */
const char *ir_result_name(const Node *n);
/* "conv2d+relu+maxpool": the op and what the optimizer fused into it. */
const char *ir_op_label(const Node *n, char *buf, size_t size);
/* --emit=dot: " 16 ch", or what prune-channels left: " 32→16 ch (16 pruned)". */
void ir_dot_channels(const Node *n, const char *unit, FILE *f);

/* Builders and queries. */
Graph *ir_graph_new(void);
Tensor *ir_tensor_new(Graph *g, const char *name);
Node *ir_node_new(Graph *g, OpKind op, const char *name, Loc loc);
/* Set n's inputs to in[0..nin) (nin <= IR_MAX_NODE_INPUTS); consumer counts
 * are the caller's. */
void ir_node_set_inputs(Node *n, Tensor *const *in, int nin);
Const *ir_const_new(const char *key, int rank, const int64_t *dims);
int64_t ir_numel(int rank, const int64_t *dims); /* caller guarantees no overflow */
int64_t ir_tensor_numel(const Tensor *t);
bool ir_is_output(const Graph *g, const Tensor *t); /* one of g->outputs */
/* The rows a linear multiplies by its weight: its input's elements over the
 * last dimension (nn.Linear over the last axis of any rank). */
int64_t ir_linear_rows(const Node *n);
/* t is a constant layer's value (no batch: its shape is its own). */
bool ir_is_constant(const Tensor *t);
int64_t ir_tensor_bytes(const Tensor *t);           /* 4 per element, 1 if quant */
/* Whether node n computes on quint8 (its first input or its output is);
 * quantize and dequantize too. */
bool ir_node_quant(const Node *n);
void ir_graph_free(Graph *g);
/* Free one node (with its parameters), tensor or constant no longer in a graph. */
void ir_node_free(Node *n);
void ir_tensor_free(Tensor *t);
void ir_const_free(Const *c);
void ir_prunes_free(Graph *g); /* g->prunes, once applied */

/* Consistency check (shapes recomputed, links intact); die()s on a violation
 * (verify.c). */
void ir_verify(const Graph *g);

/* Human-readable dump (--emit=ir). Deterministic. */
void ir_print(const Graph *g, FILE *f);

/* report.c: the --summary table (titled, e.g. "before optimization"), the
 * totals of the graph before the passes next to those after, and the
 * Graphviz view (--emit=dot). */
void ir_summary(const Graph *g, const char *title, FILE *f);
void ir_summary_compare(const Graph *before, const Graph *after, FILE *f);
void ir_dot(const Graph *g, FILE *f);

/* Parameter count and multiply-accumulates of one node / the whole graph (counts.c). */
int64_t ir_node_params(const Node *n);
int64_t ir_node_macs(const Node *n);
/* The same, counting only nonzero weights: parameters that are not zero, and
 * the MACs of the nonzero weights (what a sparse kernel does). */
int64_t ir_node_nonzero_params(const Node *n);
int64_t ir_node_nonzero_macs(const Node *n);
/* Number of elements of c that are zero (either sign). */
int64_t ir_const_zeros(const Const *c);
void ir_const_free(Const *c); /* data, mask and key too; NULL is fine */
/* Totals over the graph of the four counts above. */
void ir_graph_counts(const Graph *g, int64_t *params, int64_t *nonzero, int64_t *macs,
                     int64_t *nonzero_macs);

/* Format "[1, 6, 28, 28]" into buf. */
const char *ir_shape_str(int rank, const int64_t *dims, char *buf, size_t size);

/* Choose each node's kernel and its scratch size (select_kernels.c). From
 * the fraction sparse_min of zero weights on, conv2d and linear use sparse
 * kernels (--sparse-min); above 1: never; negative (the default): the
 * measured thresholds of select_kernels.c. */
void select_kernels(Graph *g, double sparse_min);

/* Assign storage to every tensor: graph inputs/outputs use the caller's pointers,
 * identity ops alias their input, everything else gets a liveness-planned offset
 * in one arena. Sets g->arena_bytes. Reports an error and returns false if
 * the arena would exceed IR_MAX_ARENA_BYTES. */
bool plan_memory(Graph *g);

#endif
