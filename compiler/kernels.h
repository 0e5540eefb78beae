/* kernels.h - the data layouts of the kernels select_kernels() chooses.
 *
 * select_kernels() (ir.h) records each conv2d's and linear's kernel and its
 * scratch size in the node; what those choices imply for the data is here,
 * computed from the node alone: the register-blocked conv's block shape and
 * packed weights, the sparse conv's zero-padded, phase-split input, and which
 * parameters the weight blob leaves to the sparse kernels' tables. The
 * functions are defined in select_kernels.c. The emitter only reads these;
 * nothing here knows about emission. */
#ifndef CNNC_KERNELS_H
#define CNNC_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"

/* ---- KERNEL_BLOCKED ----------------------------------------------------------
 *
 * The shape of a conv2d as the blocked kernel (emit_conv.c) sees it: the
 * convolution's own output (before any fused pool) and its blocks of OCB
 * output channels times at most NJ output columns, whose accumulators stay
 * in registers. Its weights are packed per block (conv_param_pack). */
typedef struct ConvShape {
    long long N, C, H, W, OC, OH, OW, G, cin_g, cout_g;
    long long KH, KW, SH, SW, PH, PW, DH, DW;
    long long PR;      /* the right pad (PH, PW: the top and left) */
    long long OCB, NJ; /* output channels and most columns of a block */
    long long NB;      /* blocks of OCB output channels per group */
    bool PF;           /* prefetch the next block's weights (set by emit_conv.c) */
} ConvShape;
ConvShape conv_shape(const Node *n);

/* Floats node n's parameter p takes in the weight blob (a packed layout may
 * pad), and the floats themselves in that layout (dst has that many): the
 * blocked kernel's weight as [group][block][ci][kh][kw][OCB], zero-padded
 * where a group's output channels are not a multiple of OCB; every other
 * parameter as PyTorch stores it. */
int64_t conv_param_floats(const Node *n, int p);
void conv_param_pack(const Node *n, int p, float *dst);

/* ---- KERNEL_SPARSE ----------------------------------------------------------- */

/* Whether node n's parameter p is left out of the weight blob: a sparse
 * kernel's weight, whose nonzero values its own table holds. */
static inline bool sparse_weight(const Node *n, int p)
{
    return p == PARAM_WEIGHT && n->kernel == KERNEL_SPARSE;
}

/* The sparse conv2d kernel's working layout, in floats.
 * The input is copied, zero-padded, to xp, split into sh x sw phases by
 * padded row and column modulo the stride (one phase without a stride), each
 * [C][hq][wq]: padded (row, column) is (row / sh, column / sw) of phase
 * (row % sh, column % sw). A tap then reads, for output (oh, ow), element
 * (oh + kh*dh / sh, ow + kw*dw / sw) of one phase, so the outputs of a row
 * read adjacent floats, and rows are wq apart. Each output channel is
 * computed in blocks of `block` values (8, 16 or 32) over its plane of oh
 * rows at pitch wq (columns past the output width are computed and dropped),
 * a block reading `block` adjacent floats per tap. A zeroed margin after the
 * phases takes the last blocks' reads. Scratch is the plane, then xp. */
typedef struct SparseConv {
    int64_t hq, wq; /* rows and columns of one phase */
    int block;      /* conv values computed together, in registers */
    int64_t plane;  /* floats of the plane (oh rows at pitch wq), a multiple of block */
    int64_t xp;     /* floats of the phases and the margin, a multiple of 16 */
} SparseConv;
void sparse_conv_layout(const Node *n, SparseConv *sc);
/* Where weight (co, col) of a sparse conv (col indexing its row: ci, kh, kw)
 * reads in xp, relative to a block's position in the plane. */
int64_t sparse_conv_offset(const Node *n, const SparseConv *sc, int64_t co, int64_t col);

/* KERNEL_QDOT: the bytes of one unfolded row of k taps, padded to whole
 * 64-byte vectors (the padding is 0 in the weights). */
static inline int64_t qdot_row(int64_t k)
{
    return (k + 63) / 64 * 64;
}

/* KERNEL_QDOT: output rows unfolded at a time, so that the unfolded band
 * stays within QDOT_BAND_BYTES (at least one row, at most all oh). */
#ifndef QDOT_BAND_BYTES
#define QDOT_BAND_BYTES 65536
#endif
static inline int64_t qdot_band_rows(int64_t oh, int64_t ow, int64_t k)
{
    int64_t r = QDOT_BAND_BYTES / (ow * qdot_row(k));
    return r < 1 ? 1 : r > oh ? oh : r;
}

/* KERNEL_QCONV, KERNEL_QDW (emit_qfast.c): the packed input's geometry.
 * The padded input (pads top/left ph, pw, bottom/right pb, pr) split into
 * s x s (s = sh = sw) stride phases of hq x wq positions, each phase
 * plane pl positions (32 past hq * wq: a tile's last reads), c4 groups of
 * 4 channels (QCONV; QDW: one channel a group, 1 byte a position). */
typedef struct QFastGeom {
    int64_t hq, wq, pl, c4, oc8;
    int64_t bytes; /* the scratch */
} QFastGeom;
static inline void qfast_geom(const Node *n, QFastGeom *q)
{
    const Tensor *in = n->in[0];
    int64_t s = n->a.sh, g = n->kernel == KERNEL_QDW ? 1 : 4;
    q->hq = (in->dims[2] + n->a.ph + n->a.pb + s - 1) / s;
    q->wq = (in->dims[3] + n->a.pw + n->a.pr + s - 1) / s;
    q->pl = q->hq * q->wq + 32;
    q->c4 = (in->dims[1] + g - 1) / g;
    q->oc8 = (n->out->dims[1] + 7) / 8 * 8;
    q->bytes = q->c4 * s * s * q->pl * g;
}

#endif
