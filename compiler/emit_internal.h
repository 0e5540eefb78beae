/* emit_internal.h - what the C emitter's files share. Not a public
 * interface: emit.h is.
 *
 * The files, each calling only into files listed above it (directly or
 * through OpDef's function pointers), so that no two call each other:
 *   emit_core.c      the Emitter: lines at an indentation, literals, tables,
 *                    C expressions for weights and tensors; calls no other
 *   ops/activation.c (back end) each activation's C expression, OpDef.act_c
 *   ops/pool.c       (back end) the pool window, standalone and fused
 *   emit_epilogue.c  what fusion adds to a producer's output loop: the
 *                    activation (act_c), the pool per output or band
 *   emit_conv.c      the blocked and depthwise conv kernels
 *   emit_sparse.c    the sparse conv2d and linear kernels and their table
 *   emit_quant.c     the quantized layers (integer loops, tables as statics)
 *   emit_qfast.c     the fast quantized conv2d kernels (packed input, register tiles)
 *   ops/FAMILY.c     (back ends) each op's layer body, OpDef.emit; conv2d
 *                    and linear pick among the kernels above by n->kernel
 *   emit_weights.c   the weight blob: layout, string literals, .incbin of
 *                    the file beside the .c, or loaded at run time
 *   emit_run.c       NAME_run(), --profile's table, --dump-tensors
 *   emit_header.c    the .h
 *   emit_main.c      main(), for --main and for --emit=test
 *   emit_c.c         emit_c(): the summary, then the file in order
 * Kernels and weight layouts come from kernels.h (select_kernels.c), which
 * knows nothing of emission. */
#ifndef CNNC_EMIT_INTERNAL_H
#define CNNC_EMIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emit.h"
#include "kernels.h"

/* The guard of the per-instruction-set copies of kernels, in the generated C
 * (emit_conv.c, emit_quant.c). */
/* (one line: the generated C has no backslash outside its string literals) */
#define ISA_GUARD                                                                                  \
    "defined(__GNUC__) && defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 6) && "      \
    "!defined(CNNC_PORTABLE_KERNELS)"

/* ---- emit_core.c ------------------------------------------------------------- */

/* Room for a reference such as "<network>_weights.f + <offset>", with the
 * longest network name the language allows. Not for tensor names: a label
 * composed in blocks may be far longer (tensor_ptr takes a StrBuf). */
#define REF_SIZE (2 * AST_MAX_NAME + 64)
/* Bytes per string literal of a static table: C99's minimum guaranteed limit. */
#define BLOB_CHUNK 4095
/* Layers with fewer multiply-adds than this stay serial under --threads: an
 * OpenMP fork and join costs microseconds, more than such a layer takes. */
#define PARALLEL_MIN_WORK 100000

typedef struct Emitter {
    StrBuf *sb;
    int indent;
    const Graph *g;
    const char *net;   /* lower-case prefix */
    char *NET;         /* upper-case prefix */
    int64_t *param_at; /* float offset of node i's parameter p: [i * PARAM_MAX + p] */
    int64_t weight_floats;
    int threads;  /* --threads: > 1 emits OpenMP work sharing */
    bool dump;    /* --dump-tensors */
    StrBuf label; /* comment_safe()'s result */
    /* While a layer function is emitted (emit_c.c's emit_layer): its
     * parameter list ("const float *restrict in, float *restrict out"), and
     * file-scope text its emitter wants before it (helper functions). */
    const char *layer_params;
    StrBuf *file_scope;
} Emitter;

/* One line of generated code at the current indentation. */
void out(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `out` a line ending in '{' and indent. */
#define open_block(e, ...) (out(e, __VA_ARGS__), (e)->indent++)
void close_brace(Emitter *e);

/* A copy of s in upper case (free it). */
char *upper_case(const char *s);
/* A float literal that reads back as exactly the same float. */
const char *flit(double v, char *buf, size_t size);
/* One byte, and a whole string, as the body of a C string literal. */
void put_byte(StrBuf *sb, unsigned char c);
void put_c_string(StrBuf *sb, const char *s);
/* The initializer lines of a static table of n bytes held as string
 * literals of BLOB_CHUNK bytes, one per line (the weights, the sparse
 * kernels' lists). */
void emit_string_chunks(Emitter *e, const unsigned char *bytes, int64_t n);
/* `static const int name[n] = {...};` and the float version (exact). */
void emit_int_table(Emitter *e, const char *name, const int64_t *v, int64_t n);
/* The same with elements of C type `type` ("signed char"). */
void emit_int_table_as(Emitter *e, const char *type, const char *name, const int64_t *v, int64_t n);
void emit_float_table(Emitter *e, const char *name, const float *v, int64_t n);

/* C expression for node n's parameter p in the weight blob. */
const char *wptr(const Emitter *e, const Node *n, int p, char *buf, size_t size);
/* The C type of t's elements: "float", or "unsigned char" for quint8. */
const char *elem_type(const Tensor *t);
/* The tensor whose memory t is (t itself unless a view). */
Tensor *tensor_root(const Tensor *t);
/* C expression for the memory of tensor t, in NAME_run(), written into buf
 * (emptied first; any length). */
const char *tensor_ptr(const Emitter *e, const Tensor *t, StrBuf *buf);
/* "_" if the parameter of NAME_run() for graph input or output t would hide
 * a name the body uses, else "". */
const char *hiding_suffix(const Emitter *e, const Tensor *t);
/* The name of node n's layer function (free it). */
char *layer_fn(const Node *n);
/* A layer label as it may appear inside a C comment; valid until the next call. */
const char *comment_safe(Emitter *e, const char *label);
/* The kernel's name in the summary and the profile. */
const char *kernel_name(Kernel k);

/* Whether a loop doing `work` multiply-adds is split over threads, and the
 * parallel-for line before such a loop (a macro that is empty unless
 * compiled with OpenMP and --threads > 1; nothing when it is not split). */
bool emit_parallel(const Emitter *e, int64_t work);
void emit_parallel_for(Emitter *e, int64_t work);

/* ---- ops/pool.c: the pool window ----------------------------------------------
 *
 * Both the standalone maxpool and avgpool and a pool fused into a conv2d
 * (emit_epilogue.c) pool the window of pooled output (oy, ox) over an H x W
 * plane with PyTorch's rules; these emit it, in the caller's names. */
typedef struct PoolVars {
    const char *oy, *ox; /* the pooled output's row and column */
    const char *i, *j;   /* maxpool: counters over the window's rows and columns */
    const char *y, *x;   /* the row and column of the plane read */
} PoolVars;
/* maxpool: the loops over the window's taps inside the plane, left open
 * inside the inner one with y and x set (two close_brace end them). */
void emit_max_window_open(Emitter *e, const Attrs *p, long long H, long long W, const PoolVars *v);
/* avgpool: the window clipped to the plane, h0 <= y < h1, w0 <= x < w1, and
 * `count`, its size in PyTorch's divisor (padding included or not). */
void emit_avg_window(Emitter *e, const Attrs *p, long long H, long long W, const PoolVars *v);

/* ---- emit_epilogue.c: fused epilogues (passes.h: fuse-activation, fuse-pool) -- */

/* n's fused activation applied to the C variable x (x itself if none). */
const char *act_expr(const Node *n, const char *x, char *buf, size_t size);
/* A linear's value for output o from its product sum: bias, alpha and beta. */
const char *linear_value(const Node *n, const char *sum, char *buf, size_t size);
/* The comment naming what a fused layer absorbed. */
void emit_fused_comment(Emitter *e, const Node *n);

/* Callback of emit_pooled_point: statements ending in `const float v = ...;`,
 * the conv value at conv output position (oh, ow): activated, or with `raw`
 * as it leaves the product (bias_term not yet added, no activation). */
typedef void (*ConvValueFn)(Emitter *e, const Node *n, bool raw);
/* One pooled output y[py * PW + px] of a conv2d with a fused pool, from the
 * conv values of its window. bias_term is what value() leaves out of a raw
 * value (" + bco" or ""). */
void emit_pooled_point(Emitter *e, const Node *n, ConvValueFn value, const char *bias_term);

/* A conv2d with a fused pool, band by band: `rows` emits statements that
 * leave conv rows c0..c1 (variables) of group g of image b in `conv`
 * (scratch + col, channel stride cols = (c1 - c0) * CW), raw (no bias, no
 * activation); the pooling with bias and activation follows. */
typedef void (*BandRowsFn)(Emitter *e, const Node *n);
void emit_conv_band_pool(Emitter *e, const Node *n, long long col, BandRowsFn rows);

/* ---- emit_conv.c, emit_sparse.c: conv2d and linear kernels -------------------- */

/* KERNEL_BLOCKED and KERNEL_DEPTHWISE conv2d layers. */
void emit_conv_blocked(Emitter *e, const Node *n);
void emit_conv_depthwise(Emitter *e, const Node *n);
/* KERNEL_SPARSE conv2d and linear layers, and NAME_sparse, the table of
 * their nonzero weights (after the weights). */
void emit_conv_sparse(Emitter *e, const Node *n);
void emit_linear_sparse(Emitter *e, const Node *n);
void emit_sparse_tables(Emitter *e);

/* ---- emit_quant.c: quantized layers (docs/quantization.md) ------------------- */

/* The body of a layer computing on quint8 (ir_node_quant) other than
 * quantize and dequantize (ops/quant.c): conv2d, linear, add, concat, relu,
 * relu6, the pools: integer loops, the weights as static tables in the layer. */
void emit_quant_layer(Emitter *e, const Node *n);
/* The clamp of a quantized output: [0, 255], relu's [zero, 255], relu6's [zero, q(6)]. */
void quant_clamp_range(OpKind act, const Tensor *t, long long *lo, long long *hi);
/* The requantization's float tables m[c] and b[c] of oc channels. */
void emit_requant_tables(Emitter *e, const Node *n, int64_t oc);
/* Once per file, before the first int8 dot-product layer n: NAME_QTILES, NAME_qisa. */
void emit_qisa_header(Emitter *e, const Node *n);

/* ---- emit_qfast.c ------------------------------------------------------------ */

/* A KERNEL_QCONV or KERNEL_QDW quantized conv2d's body (its helpers once per file). */
void emit_qfast_layer(Emitter *e, const Node *n);

/* ---- emit_weights.c, emit_run.c, emit_header.c, emit_main.c --------------------- */

/* Where each parameter goes in the weight blob (e->param_at, e->weight_floats). */
void layout_weights(Emitter *e);
/* NAME_weights: embedded in the source as string literals, included from
 * the blob file beside it by the assembler (opt->weights_incbin), or
 * (opt->weights_file) a static array NAME_load_weights() fills, the blob's
 * bytes going to blob if not NULL. */
void emit_weights(Emitter *e, const EmitOptions *opt, StrBuf *blob);
/* "void NAME_run(inputs..., outputs...)" and `end`, into sb. */
void emit_signature(Emitter *e, StrBuf *sb, const char *end);
/* NAME_run(), with what --profile and --dump-tensors add before it. */
void emit_run(Emitter *e, bool profile);
/* The generated header. */
void emit_header(Emitter *e, const EmitOptions *opt, StrBuf *h);
/* main(): --main's ./prog, or with opt->with_test --emit=test's ./test. */
void emit_main(Emitter *e, const EmitOptions *opt);

#endif
