/* ops/tensor.c - tensor ops: flatten, dropout (identity at inference), add, concat, upsample.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

static void emit_add(Emitter *e, const Node *n)
{
    out(e, "for (int i = 0; i < %lld; i++)", (long long)ir_tensor_numel(n->out));
    out(e, "    out[i] = in0[i] + in1[i];");
}

/* torch.cat(dim=1): per image, each input's channels (or features) in turn. */
static void emit_concat(Emitter *e, const Node *n)
{
    const Tensor *o = n->out;
    long long N = o->dims[0], S = ir_numel(o->rank - 2, o->dims + 2), at = 0;
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    for (int i = 0; i < n->nin; i++) {
        long long c = n->in[i]->dims[1];
        out(e, "memcpy(out + (b * %lld + %lld) * %lld, in%d + b * %lld, %lld);",
            (long long)o->dims[1], at, S, i, c * S, c * S * (long long)sizeof(float));
        at += c;
    }
    close_brace(e);
}

/* PyTorch's compute_scales_value: 1/scale_factor when one was given, else in/out. */
static float upsample_scale(int64_t in, int64_t out, int64_t scale_factor)
{
    return scale_factor > 0 ? (float)(1.0 / (double)scale_factor) : (float)in / (float)out;
}

/* nearest: src = min(floor(dst * scale), in - 1), as upsample_nearest2d. */
static int64_t nearest_src(int64_t dst, int64_t in, int64_t out, int64_t scale_factor)
{
    if (out == in)
        return dst;
    if (out == 2 * in)
        return dst >> 1;
    int64_t src = (int64_t)floorf((float)dst * upsample_scale(in, out, scale_factor));
    return src < in - 1 ? src : in - 1;
}

/* Linear interpolation taps for one axis, align_corners=False, as PyTorch's
 * compute_indices_weights_linear: src = scale * (dst + 0.5) - 0.5, clamped at 0. */
static void linear_taps(int64_t in, int64_t out, int64_t scale_factor, int64_t *i0, int64_t *i1,
                        float *l0, float *l1)
{
    float scale = upsample_scale(in, out, scale_factor);
    for (int64_t d = 0; d < out; d++) {
        float src = (float)((double)scale * ((double)d + 0.5) - 0.5);
        if (src < 0)
            src = 0;
        i0[d] = (int64_t)src;
        i1[d] = i0[d] + (i0[d] < in - 1 ? 1 : 0);
        float lambda = src - (float)i0[d];
        l1[d] = lambda < 0 ? 0 : lambda > 1 ? 1 : lambda;
        l0[d] = 1.0f - l1[d];
    }
}

static void emit_upsample(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int64_t H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    int64_t *h0 = xcalloc((size_t)OH, sizeof *h0), *h1 = xcalloc((size_t)OH, sizeof *h1);
    int64_t *w0 = xcalloc((size_t)OW, sizeof *w0), *w1 = xcalloc((size_t)OW, sizeof *w1);
    float *lh0 = xcalloc((size_t)OH, sizeof *lh0), *lh1 = xcalloc((size_t)OH, sizeof *lh1);
    float *lw0 = xcalloc((size_t)OW, sizeof *lw0), *lw1 = xcalloc((size_t)OW, sizeof *lw1);
    if (n->a.bilinear) {
        linear_taps(H, OH, n->a.scale_h, h0, h1, lh0, lh1);
        linear_taps(W, OW, n->a.scale_w, w0, w1, lw0, lw1);
        emit_int_table(e, "h0", h0, OH);
        emit_int_table(e, "h1", h1, OH);
        emit_float_table(e, "lh0", lh0, OH);
        emit_float_table(e, "lh1", lh1, OH);
        emit_int_table(e, "w0", w0, OW);
        emit_int_table(e, "w1", w1, OW);
        emit_float_table(e, "lw0", lw0, OW);
        emit_float_table(e, "lw1", lw1, OW);
    } else {
        for (int64_t d = 0; d < OH; d++)
            h0[d] = nearest_src(d, H, OH, n->a.scale_h);
        for (int64_t d = 0; d < OW; d++)
            w0[d] = nearest_src(d, W, OW, n->a.scale_w);
        emit_int_table(e, "h0", h0, OH);
        emit_int_table(e, "w0", w0, OW);
    }
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", (long long)(H * W));
    out(e, "float *y = out + p * %lld;", (long long)(OH * OW));
    out(e, "for (int oh = 0; oh < %lld; oh++)", (long long)OH);
    out(e, "    for (int ow = 0; ow < %lld; ow++)", (long long)OW);
    if (n->a.bilinear) {
        out(e, "        y[oh * %lld + ow] =", (long long)OW);
        out(e,
            "            (x[h0[oh] * %lld + w0[ow]] * lw0[ow] + x[h0[oh] * %lld + w1[ow]] * "
            "lw1[ow]) * "
            "lh0[oh] +",
            (long long)W, (long long)W);
        out(e,
            "            (x[h1[oh] * %lld + w0[ow]] * lw0[ow] + x[h1[oh] * %lld + w1[ow]] * "
            "lw1[ow]) * "
            "lh1[oh];",
            (long long)W, (long long)W);
    } else {
        out(e, "        y[oh * %lld + ow] = x[h0[oh] * %lld + w0[ow]];", (long long)OW,
            (long long)W);
    }
    close_brace(e);
    free(h0), free(h1), free(w0), free(w1), free(lh0), free(lh1), free(lw0), free(lw1);
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_FLATTEN = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};

const OpDef opdef_DROPOUT = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};

const OpDef opdef_ADD = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = emit_add,
};

const OpDef opdef_CONCAT = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = emit_concat,
};

const OpDef opdef_UPSAMPLE = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = emit_upsample,
};
