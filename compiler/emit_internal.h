/* emit_internal.h - what the C emitter's files share (emit_c.c, emit_conv.c).
 *
 * emit_c.c prints the file and most layers; emit_conv.c holds the
 * register-blocked convolution kernels (direct and depthwise), which also
 * decide how their weights are packed in the weight blob. Not a public
 * interface: emit.h is. */
#ifndef CNNC_EMIT_INTERNAL_H
#define CNNC_EMIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emit.h"

/* Room for a reference such as "<network>_weights.f + <offset>" or a tensor
 * name, with the longest names the language allows. */
#define REF_SIZE (2 * AST_MAX_NAME + 64)

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
} Emitter;

/* One line of generated code at the current indentation. */
void out(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `out` a line ending in '{' and indent. */
#define open_block(e, ...) (out(e, __VA_ARGS__), (e)->indent++)
void close_brace(Emitter *e);

/* A float literal that reads back as exactly the same float. */
const char *flit(double v, char *buf, size_t size);
/* C expression for node n's parameter p in the weight blob. */
const char *wptr(const Emitter *e, const Node *n, int p, char *buf, size_t size);
/* n's fused activation applied to the C variable x (x itself if none). */
const char *act_expr(const Node *n, const char *x, char *buf, size_t size);
/* The comment naming what a fused layer absorbed. */
void emit_fused_comment(Emitter *e, const Node *n);

/* A conv2d with a fused pool, band by band: `rows` emits statements that
 * leave conv rows c0..c1 (variables) of group g of image b in `conv`
 * (scratch + col, channel stride cols = (c1 - c0) * CW), raw (no bias, no
 * activation); the pooling with bias and activation follows. */
typedef void (*BandRowsFn)(Emitter *e, const Node *n);
void emit_conv_band_pool(Emitter *e, const Node *n, long long col, BandRowsFn rows);

/* The parallel-for line before a loop whose iterations are independent (a
 * macro that is empty unless compiled with OpenMP and --threads > 1). */
void emit_parallel_for(Emitter *e, int64_t work);

/* ---- emit_conv.c -------------------------------------------------------- */

/* Floats node n's parameter p takes in the blob (a packed layout may pad),
 * and the floats themselves in that layout (dst has that many). */
int64_t conv_param_floats(const Node *n, int p);
void conv_param_pack(const Node *n, int p, float *dst);

/* KERNEL_BLOCKED and KERNEL_DEPTHWISE layers. */
void emit_conv_blocked(Emitter *e, const Node *n);
void emit_conv_depthwise(Emitter *e, const Node *n);

#endif
