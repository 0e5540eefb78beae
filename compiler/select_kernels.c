/* select_kernels.c - choose how each layer is computed, from its fixed shape.
 *
 * Convolutions with enough work go through a matrix product (OpenBLAS when the
 * runtime has it): a 1x1, stride-1, unpadded convolution is already a GEMM on
 * the NCHW input; others are unfolded (im2col) into arena scratch first.
 * Depthwise and tiny convolutions stay as direct loops, where a GEMM would be
 * mostly overhead. The choice is recorded in the IR so the memory planner can
 * reserve the scratch and the emitter can print the matching code. */
#include "ir.h"

/* Below this many multiply-accumulates per group, loops beat a GEMM call. */
#define GEMM_MIN_MACS 4096

static void select_conv(Node *n)
{
    const Attrs *a = &n->a;
    const Tensor *in = n->in[0], *out = n->out;
    int64_t cin_g = in->dims[1] / a->groups, cout_g = a->channels / a->groups;
    int64_t macs_per_group = cout_g * cin_g * a->kh * a->kw * out->dims[2] * out->dims[3];
    n->kernel = KERNEL_DIRECT;
    n->scratch_bytes = 0;
    if (cout_g == 1 || macs_per_group < GEMM_MIN_MACS)
        return;
    bool pointwise = a->kh == 1 && a->kw == 1 && a->sh == 1 && a->sw == 1 && a->ph == 0 &&
                     a->pw == 0;
    if (pointwise) {
        n->kernel = KERNEL_GEMM;
        return;
    }
    n->kernel = KERNEL_IM2COL;
    n->scratch_bytes = cin_g * a->kh * a->kw * out->dims[2] * out->dims[3] * (int64_t)sizeof(float);
}

void select_kernels(Graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        n->scratch_bytes = 0;
        if (n->op == OP_CONV2D)
            select_conv(n);
        else if (n->op == OP_LINEAR)
            n->kernel = KERNEL_GEMM;
        else
            n->kernel = KERNEL_DIRECT;
    }
}
