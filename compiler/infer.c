/* infer.c - shape inference for one node: the op's shape rule (OpDef.infer,
 * compiler/ops/), and for a node as the optimizer may have left it
 * (ir_infer_node). sema.c infers each layer as it is built; ir_verify() and
 * the passes that change nodes infer again. Declared in ir.h. */
#include <string.h>

#include "opdef.h"
#include "util.h"

bool infer_shape(Node *n)
{
    if (n->op <= OP_NONE || n->op >= OP_COUNT || !op_def(n->op)->infer)
        die("infer_shape: bad op %d", (int)n->op);
    return op_def(n->op)->infer(n) && quant_infer(n);
}

bool ir_infer_node(Node *n)
{
    if (!n->fuse.pool)
        return infer_shape(n);
    Tensor conv_out = *n->out, pooled = *n->out;
    Node conv = *n, pool = {.op = n->fuse.pool_op, .name = n->name, .loc = n->loc};
    conv.out = &conv_out;
    if (n->op != OP_CONV2D || !infer_shape(&conv) || conv_out.rank != 4 ||
        memcmp(conv_out.dims, n->fuse.conv_dims, sizeof conv_out.dims) != 0)
        return false;
    pool.a = n->fuse.pool_a;
    Tensor *pool_in[1] = {&conv_out};
    pool.in = pool_in;
    pool.nin = 1;
    pool.out = &pooled;
    if (!infer_shape(&pool))
        return false;
    n->out->rank = pooled.rank;
    memcpy(n->out->dims, pooled.dims, sizeof pooled.dims);
    return true;
}
