/* ops/tensor.c - tensor ops: flatten, dropout (identity at inference), add, mul,
 * sub, concat, upsample.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <string.h>

#include "args.h"
#include "shape.h"
#include "util.h"

static const AttrSpec dropout_args[] = {{"p", A_FLOAT, false}, {NULL, 0, 0}};
static const AttrSpec upsample_args[] = {
    {"scale", A_PAIR, false}, {"size", A_PAIR, false}, {"mode", A_STR, false}, {NULL, 0, 0}};

/* flatten: [N, C, H, W] -> [N, C*H*W]; feature f is channel f / (H*W). */
static bool flatten_infer(Node *n)
{
    const Tensor *in = n->in[0];
    int64_t dims[2] = {in->dims[0], ir_numel(in->rank - 1, in->dims + 1)};
    return set_out(n, 2, dims);
}

static int64_t flatten_channel_in(const Node *n, int i, int64_t k)
{
    (void)i;
    return k / (n->out->dims[1] / n->in[0]->dims[1]);
}

static bool dropout_set_attrs(Node *n, const ArgSet *as)
{
    n->a.p = get_float(as, "p", 0.5);
    /* p = 1 is allowed, as in PyTorch */
    return float_in(as, "p", n->a.p, 0.0, 1.0, false, op_name(n->op));
}

static void dropout_print(const Node *n, FILE *f)
{
    fprintf(f, " p=%g", n->a.p);
}

/* The operand of add/mul/sub that is broadcast over H and W: PyTorch's
 * broadcasting for the shapes cnnc has, one operand [N, C, 1, 1] and the other
 * [N, C, H, W] (a squeeze-and-excitation gate, a per-channel shift). -1 when
 * the shapes are equal (or cannot be broadcast: binary_infer says so). */
static int broadcast_operand(const Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    if (same_shape(a, b) || a->rank != 4 || b->rank != 4 || a->dims[0] != b->dims[0] ||
        a->dims[1] != b->dims[1])
        return -1;
    if (a->dims[2] == 1 && a->dims[3] == 1)
        return 0;
    if (b->dims[2] == 1 && b->dims[3] == 1)
        return 1;
    return -1;
}

/* add, mul, sub: equal shapes, or [N, C, 1, 1] with [N, C, H, W] in either
 * order (the result is [N, C, H, W]); nothing else. */
static bool binary_infer(Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1];
    int k = broadcast_operand(n);
    if (k >= 0)
        return set_out(n, 4, n->in[1 - k]->dims);
    if (!same_shape(a, b)) {
        char x[160], y[160];
        diag_error(n->loc,
                   "%s '%s': shapes differ: '%s' is %s but '%s' is %s; they must be equal, or "
                   "one [N, C, 1, 1] and the other [N, C, H, W]",
                   op_name(n->op), n->name, a->label, ir_shape_str(a->rank, a->dims, x, sizeof x),
                   b->label, ir_shape_str(b->rank, b->dims, y, sizeof y));
        return false;
    }
    return set_out(n, a->rank, a->dims);
}

/* add, mul, sub: channel k of the result reads channel k of both operands
 * (a broadcast operand's one value per channel too). */
static int64_t binary_channel_in(const Node *n, int i, int64_t k)
{
    (void)n;
    (void)i;
    return k;
}

static float add_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] + x[1];
}

static float mul_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] * x[1];
}

static float sub_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)n;
    (void)k;
    return x[0] - x[1];
}

/* concat along dim 1 (channels or features): every other dimension must agree. */
static bool concat_infer(Node *n)
{
    const Tensor *first = n->in[0];
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, first->dims, sizeof dims);
    dims[1] = 0;
    for (int i = 0; i < n->nin; i++) {
        const Tensor *t = n->in[i];
        bool ok = t->rank == first->rank;
        for (int d = 0; ok && d < t->rank; d++)
            ok = d == 1 || t->dims[d] == first->dims[d];
        if (!ok) {
            char x[160], y[160];
            diag_error(n->loc,
                       "concat '%s': '%s' is %s but '%s' is %s; all dimensions but the "
                       "channels must agree",
                       n->name, first->label, ir_shape_str(first->rank, first->dims, x, sizeof x),
                       t->label, ir_shape_str(t->rank, t->dims, y, sizeof y));
            return false;
        }
        dims[1] += t->dims[1]; /* each <= IR_MAX_ELEMS, at most IR_MAX_NODE_INPUTS of them */
    }
    return set_out(n, first->rank, dims);
}

/* concat: channel k of input i is channel offset_i + k of the output. */
static int64_t concat_channel_in(const Node *n, int i, int64_t k)
{
    for (int j = 0; j < i; j++)
        k -= n->in[j]->dims[1];
    return k >= 0 && k < n->in[i]->dims[1] ? k : -1;
}

/* upsample: exactly one of scale and size; mode "nearest" (default) or "bilinear". */
static bool upsample_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    bool has_scale = arg_given(as, "scale");
    bool has_size = arg_given(as, "size");
    if (has_scale == has_size) {
        diag_error(n->loc, "upsample needs either 'scale' or 'size'%s",
                   has_scale ? ", not both" : "");
        return false;
    }
    if (has_scale && !get_pair(as, "scale", 1, 1, 1, &a->scale_h, &a->scale_w, "upsample", n->loc))
        return false;
    if (has_size && !get_pair(as, "size", 1, 1, 1, &a->out_h, &a->out_w, "upsample", n->loc))
        return false;
    int k = spec_index(as->spec, "mode");
    const char *mode = as->set[k] ? as->val[k].s : "nearest";
    a->bilinear = strcmp(mode, "bilinear") == 0;
    if (!a->bilinear && strcmp(mode, "nearest") != 0) {
        diag_error(as->loc[k], "upsample: mode must be \"nearest\" or \"bilinear\", not \"%s\"",
                   mode);
        return false;
    }
    return true;
}

static bool upsample_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
    if (n->a.scale_h > 0 && (!ck_mul(in->dims[2], n->a.scale_h, &dims[2]) ||
                             !ck_mul(in->dims[3], n->a.scale_w, &dims[3]))) {
        diag_error(n->loc, "upsample '%s': output size overflows", n->name);
        return false;
    }
    return set_out(n, 4, dims);
}

static void upsample_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    if (a->scale_h)
        fprintf(f, " scale=(%lld,%lld)", (long long)a->scale_h, (long long)a->scale_w);
    else
        fprintf(f, " size=(%lld,%lld)", (long long)a->out_h, (long long)a->out_w);
    fprintf(f, " mode=%s", a->bilinear ? "bilinear" : "nearest");
}

/* ---- back end: emitter ---------------------------------------------------- */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

/* add, mul, sub: one C operator on each element; a broadcast operand's value
 * is read once per image and channel. In place, out is the full-size operand. */
static void emit_binary(Emitter *e, const Node *n, const char *op)
{
    int k = broadcast_operand(n);
    if (k < 0) {
        out(e, "for (int i = 0; i < %lld; i++)", (long long)ir_tensor_numel(n->out));
        out(e, "    out[i] = in0[i] %s in1[i];", op);
        return;
    }
    const Tensor *o = n->out;
    long long HW = o->dims[2] * o->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(o->dims[0] * o->dims[1]));
    out(e, "const float s = in%d[p];", k);
    out(e, "for (int i = 0; i < %lld; i++)", HW);
    if (k == 1)
        out(e, "    out[p * %lld + i] = in0[p * %lld + i] %s s;", HW, HW, op);
    else
        out(e, "    out[p * %lld + i] = s %s in1[p * %lld + i];", HW, op, HW);
    close_brace(e);
}

static void emit_add(Emitter *e, const Node *n)
{
    emit_binary(e, n, "+");
}

static void emit_mul(Emitter *e, const Node *n)
{
    emit_binary(e, n, "*");
}

static void emit_sub(Emitter *e, const Node *n)
{
    emit_binary(e, n, "-");
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

/* Index tables longer than this are not emitted: the generated loop
 * computes that axis's taps itself, with the same float formulas (nearest_src,
 * linear_taps), so the values are identical and the C stays small. A build
 * knob: -DUPSAMPLE_TABLE_MAX=0 computes every axis (to test that path). */
#ifndef UPSAMPLE_TABLE_MAX
#define UPSAMPLE_TABLE_MAX 4096
#endif

/* One axis computed in the loop: variable names v0, v1, l0, l1 ("h0v", ...)
 * for destination index d, as linear_taps / nearest_src compute them. */
static void emit_upsample_axis(Emitter *e, const Node *n, char axis, const char *d, int64_t in,
                               int64_t out_, int64_t scale_factor)
{
    float scale = upsample_scale(in, out_, scale_factor);
    if (n->a.bilinear) {
        out(e, "float %csrc = (float)((double)%af * ((double)%s + 0.5) - 0.5);", axis,
            (double)scale, d);
        out(e, "%csrc = %csrc < 0 ? 0 : %csrc;", axis, axis, axis);
        out(e, "const int %c0v = (int)%csrc;", axis, axis);
        out(e, "const int %c1v = %c0v + (%c0v < %lld ? 1 : 0);", axis, axis, axis,
            (long long)(in - 1));
        out(e, "float l%c1v = %csrc - (float)%c0v;", axis, axis, axis);
        out(e, "l%c1v = l%c1v < 0 ? 0 : l%c1v > 1 ? 1 : l%c1v;", axis, axis, axis, axis);
        out(e, "const float l%c0v = 1.0f - l%c1v;", axis, axis);
    } else if (out_ == in) {
        out(e, "const int %c0v = %s;", axis, d);
    } else if (out_ == 2 * in) {
        out(e, "const int %c0v = %s >> 1;", axis, d);
    } else {
        out(e, "int %c0v = (int)floorf((float)%s * %af);", axis, d, (double)scale);
        out(e, "%c0v = %c0v < %lld ? %c0v : %lld;", axis, axis, (long long)(in - 1), axis,
            (long long)(in - 1));
    }
}

static void emit_upsample(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int64_t H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    bool th = OH <= UPSAMPLE_TABLE_MAX, tw = OW <= UPSAMPLE_TABLE_MAX;
    int64_t TH = th ? OH : 1, TW = tw ? OW : 1;
    int64_t *h0 = xcalloc((size_t)TH, sizeof *h0), *h1 = xcalloc((size_t)TH, sizeof *h1);
    int64_t *w0 = xcalloc((size_t)TW, sizeof *w0), *w1 = xcalloc((size_t)TW, sizeof *w1);
    float *lh0 = xcalloc((size_t)TH, sizeof *lh0), *lh1 = xcalloc((size_t)TH, sizeof *lh1);
    float *lw0 = xcalloc((size_t)TW, sizeof *lw0), *lw1 = xcalloc((size_t)TW, sizeof *lw1);
    if (n->a.bilinear) {
        if (th) {
            linear_taps(H, OH, n->a.scale_h, h0, h1, lh0, lh1);
            emit_int_table(e, "h0", h0, OH);
            emit_int_table(e, "h1", h1, OH);
            emit_float_table(e, "lh0", lh0, OH);
            emit_float_table(e, "lh1", lh1, OH);
        }
        if (tw) {
            linear_taps(W, OW, n->a.scale_w, w0, w1, lw0, lw1);
            emit_int_table(e, "w0", w0, OW);
            emit_int_table(e, "w1", w1, OW);
            emit_float_table(e, "lw0", lw0, OW);
            emit_float_table(e, "lw1", lw1, OW);
        }
    } else {
        for (int64_t d = 0; th && d < OH; d++)
            h0[d] = nearest_src(d, H, OH, n->a.scale_h);
        for (int64_t d = 0; tw && d < OW; d++)
            w0[d] = nearest_src(d, W, OW, n->a.scale_w);
        if (th)
            emit_int_table(e, "h0", h0, OH);
        if (tw)
            emit_int_table(e, "w0", w0, OW);
    }
    const char *H0 = th ? "h0[oh]" : "h0v", *H1 = th ? "h1[oh]" : "h1v";
    const char *LH0 = th ? "lh0[oh]" : "lh0v", *LH1 = th ? "lh1[oh]" : "lh1v";
    const char *W0 = tw ? "w0[ow]" : "w0v", *W1 = tw ? "w1[ow]" : "w1v";
    const char *LW0 = tw ? "lw0[ow]" : "lw0v", *LW1 = tw ? "lw1[ow]" : "lw1v";
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", (long long)(H * W));
    out(e, "float *y = out + p * %lld;", (long long)(OH * OW));
    if (th) {
        out(e, "for (int oh = 0; oh < %lld; oh++)", (long long)OH);
        e->indent++;
    } else {
        open_block(e, "for (int oh = 0; oh < %lld; oh++) {", (long long)OH);
        emit_upsample_axis(e, n, 'h', "oh", H, OH, n->a.scale_h);
    }
    if (tw) {
        out(e, "for (int ow = 0; ow < %lld; ow++)", (long long)OW);
        e->indent++;
    } else {
        open_block(e, "for (int ow = 0; ow < %lld; ow++) {", (long long)OW);
        emit_upsample_axis(e, n, 'w', "ow", W, OW, n->a.scale_w);
    }
    if (n->a.bilinear) {
        out(e, "y[oh * %lld + ow] =", (long long)OW);
        out(e, "    (x[%s * %lld + %s] * %s + x[%s * %lld + %s] * %s) * %s +", H0, (long long)W,
            W0, LW0, H0, (long long)W, W1, LW1, LH0);
        out(e, "    (x[%s * %lld + %s] * %s + x[%s * %lld + %s] * %s) * %s;", H1, (long long)W,
            W0, LW0, H1, (long long)W, W1, LW1, LH1);
    } else {
        out(e, "y[oh * %lld + ow] = x[%s * %lld + %s];", (long long)OW, H0, (long long)W, W0);
    }
    if (tw)
        e->indent--;
    else
        close_brace(e);
    if (th)
        e->indent--;
    else
        close_brace(e);
    close_brace(e);
    free(h0), free(h1), free(w0), free(w1), free(lh0), free(lh1), free(lw0), free(lw1);
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_FLATTEN = {
    /* front end */
    .args = NULL,
    .infer = flatten_infer,
    .channel_in = flatten_channel_in,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};

const OpDef opdef_DROPOUT = {
    /* front end */
    .args = dropout_args,
    .set_attrs = dropout_set_attrs,
    .infer = infer_elementwise,
    .print = dropout_print,
    /* back end */
    .emit = NULL, /* a view (OPT_VIEW): no code */
};

const OpDef opdef_ADD = {
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .channel_value = add_channel_value,
    /* back end */
    .emit = emit_add,
};

const OpDef opdef_MUL = {
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .channel_value = mul_channel_value,
    /* back end */
    .emit = emit_mul,
};

const OpDef opdef_SUB = {
    /* front end */
    .args = NULL,
    .infer = binary_infer,
    .channel_in = binary_channel_in,
    .channel_value = sub_channel_value,
    /* back end */
    .emit = emit_sub,
};

const OpDef opdef_CONCAT = {
    /* front end */
    .args = NULL,
    .infer = concat_infer,
    .channel_in = concat_channel_in,
    /* back end */
    .emit = emit_concat,
};

const OpDef opdef_UPSAMPLE = {
    /* front end */
    .args = upsample_args,
    .set_attrs = upsample_set_attrs,
    .infer = upsample_infer,
    .print = upsample_print,
    /* back end */
    .emit = emit_upsample,
};
