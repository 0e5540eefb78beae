/* shape.h - helpers for the ops' shape rules (OpDef.infer, compiler/ops/).
 *
 * Each reports a located error naming the layer (diag.h) and returns false
 * when the node is invalid; sizes are overflow-checked against IR_MAX_ELEMS. */
#ifndef CNNC_SHAPE_H
#define CNNC_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"

/* n's output is dims[rank], unless it has more than IR_MAX_ELEMS elements. */
bool set_out(Node *n, int rank, const int64_t *dims);
/* Whether a and b have the same rank and dimensions. */
bool same_shape(const Tensor *a, const Tensor *b);
/* n's input is of rank `rank` (`what` describes it: "an image [N, C, H, W]"). */
bool need_rank(const Node *n, int rank, const char *what);
/* n->a.dim as a dimension of n's first input other than the batch, a
 * negative one counting from the end: normalised in place (so running this
 * again is a no-op). Reports an error and returns false if it does not fit. */
bool need_dim(Node *n);
/* The output is the input's shape (elementwise ops). */
bool infer_elementwise(Node *n);
/* Output length of a sliding window (conv or pool), PyTorch's formula; -1 if
 * the (dilated) kernel does not fit in the padded input. */
int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t pad0, int64_t pad1, int64_t dil,
                   bool ceil);
/* A sliding window over an image, n->a's kernel, stride, pad and dilation:
 * [N, channels, OH, OW]. A pool also checks its pad and honours ceil_mode. */
bool infer_window(Node *n, int64_t channels, bool pool);

/* n->a.groups divides both n's input channels and n->a.channels (conv2d,
 * conv_transpose2d). */
bool need_groups_divide(const Node *n);
#endif
