/* ops/conv_transpose.c - conv_transpose2d: transposed 2-D convolution
 * (nn.ConvTranspose2d), any stride, padding, output_padding, dilation and
 * groups.
 *
 * Everything specific to this op: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), kernel choice and the emitter
 * (back end).
 *
 * Design note. Input pixel (ih, iw) of channel ci, through tap (kh, kw) of
 * output channel co, adds x * W[ci, co % cout_g, kh, kw] to output
 *     (oh, ow) = (ih*sh - ph + kh*dh, iw*sw - pw + kw*dw)
 * where that lies inside the output (padding crops it; output_padding only
 * makes the output larger). Both kernels work tap by tap: for each tap the
 * input rows (columns) that land inside the output form one range, and the
 * output rows they reach are evenly spaced by the stride. cnnc computes the
 * ranges of every tap at compile time (64-bit, as tables: first input row,
 * count, first output row), so the loops do no bounds tests and no work on
 * cropped or skipped positions, and their cost is that of the
 * multiply-adds plus one pass over the output, whatever the stride, padding
 * and dilation.
 *   - KERNEL_GEMM: per image and group, one matrix product through the
 *     runtime, cols[cout_g*kh*kw][H*W] = W_g^T x X_g (W_g as PyTorch stores
 *     it, [cin_g][cout_g*kh*kw], read transposed: no repacking), then
 *     "col2im": each row of cols added to the output positions of its tap.
 *     This is what PyTorch itself does; all the multiply-adds are in the
 *     tuned GEMM, and the scatter touches each (tap, input pixel) once.
 *   - KERNEL_DIRECT, for small layers (fewer than DIRECT_MAX_MACS
 *     multiply-adds, where a GEMM call and its scratch cost more than they
 *     save) or a product too large for int indices: the same tap loops with
 *     the sum over the group's input channels done in place of the GEMM.
 * The output starts as the bias (or zero); a fused activation is a last
 * pass over it (fuse-activation). fold-batchnorm scales the weights along
 * C_out (weight_channel). prune-channels leaves the op alone: without
 * OPT_PRUNABLE or a channel map it keeps all its input and output channels,
 * and `prune` statements do not apply to it. */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include "args.h"
#include "shape.h"
#include "weights.h"

static const AttrSpec convt_args[] = {
    {"channels", A_INT, true}, {"kernel", A_PAIR, true},          {"stride", A_PAIR, false},
    {"pad", A_PADS, false},    {"output_padding", A_PAIR, false}, {"dilation", A_PAIR, false},
    {"groups", A_INT, false},  {"bias", A_BOOL, false},           {NULL, 0, 0}};

/* PyTorch: "output padding must be smaller than either stride or dilation". */
static bool output_padding_ok(const ArgSet *as, const char *axis, int64_t op, int64_t s, int64_t d,
                              Loc L)
{
    if (op < s || op < d)
        return true;
    int k = spec_index(as->spec, "output_padding");
    diag_error(as->set[k] ? as->loc[k] : L,
               "conv_transpose2d: 'output_padding' must be smaller than either 'stride' or "
               "'dilation', but its %s is %lld with stride %lld and dilation %lld",
               axis, (long long)op, (long long)s, (long long)d);
    return false;
}

static bool convt_set_attrs(Node *n, const ArgSet *as)
{
    const Attrs *a = &n->a;
    return get_conv_attrs(n, as, true) &&
           output_padding_ok(as, "height", a->oph, a->sh, a->dh, n->loc) &&
           output_padding_ok(as, "width", a->opw, a->sw, a->dw, n->loc);
}

/* (in - 1)*stride - pad_begin - pad_end + dilation*(k - 1) + output_padding + 1;
 * every factor is at most 2^31 and in at most 2^30, so no term overflows. */
static int64_t convt_out(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t op,
                         int64_t d)
{
    return (in - 1) * s - p0 - p1 + d * (k - 1) + op + 1;
}

static bool convt_infer(Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    if (!need_rank(n, 4, "an image [N, C, H, W]") || !need_groups_divide(n))
        return false;
    int64_t oh = convt_out(in->dims[2], a->kh, a->sh, a->ph, a->pb, a->oph, a->dh);
    int64_t ow = convt_out(in->dims[3], a->kw, a->sw, a->pw, a->pr, a->opw, a->dw);
    if (oh < 1 || ow < 1) {
        char buf[160], pads[96];
        diag_error(n->loc,
                   "conv_transpose2d '%s': output size %lldx%lld is too small (input '%s' is "
                   "%s; pad %s crops away more than the kernel adds)",
                   n->name, (long long)oh, (long long)ow, in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf),
                   ir_pad_str(a, ", ", pads, sizeof pads));
        return false;
    }
    int64_t dims[4] = {in->dims[0], a->channels, oh, ow};
    return set_out(n, 4, dims);
}

/* weight [in, out/groups, kh, kw] (PyTorch's layout), bias [out] (with bias=true). */
static void convt_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    rank[PARAM_WEIGHT] = 4;
    dims[PARAM_WEIGHT][0] = n->in[0]->dims[1];
    dims[PARAM_WEIGHT][1] = n->a.channels / n->a.groups;
    dims[PARAM_WEIGHT][2] = n->a.kh;
    dims[PARAM_WEIGHT][3] = n->a.kw;
    if (n->a.bias) {
        rank[PARAM_BIAS] = 1;
        dims[PARAM_BIAS][0] = n->a.channels;
    }
}

static void convt_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    fprintf(f, " channels=%lld kernel=(%lld,%lld) stride=(%lld,%lld)", (long long)a->channels,
            (long long)a->kh, (long long)a->kw, (long long)a->sh, (long long)a->sw);
    ir_print_pad(a, f);
    fprintf(f, " output_padding=(%lld,%lld) dilation=(%lld,%lld) groups=%lld bias=%s",
            (long long)a->oph, (long long)a->opw, (long long)a->dh, (long long)a->dw,
            (long long)a->groups, a->bias ? "true" : "false");
}

/* One MAC per weight use: every input pixel through every tap of every
 * output channel of its group (cropped taps included, as PyTorch counts). */
static int64_t convt_macs(const Node *n)
{
    const Tensor *in = n->in[0];
    return ir_tensor_numel(in) * (n->a.channels / n->a.groups) * n->a.kh * n->a.kw;
}

/* PyTorch's fans of the weight [in, out/groups, kh, kw]: fan_in is
 * size(1) * kh * kw, fan_out size(0) * kh * kw. */
static void convt_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    double fan_in = (double)(n->a.channels / n->a.groups * n->a.kh * n->a.kw);
    double fan_out = (double)(n->in[0]->dims[1] * n->a.kh * n->a.kw);
    init_fan_range(init, p, fan_in, fan_out, lo, hi);
}

/* fold-batchnorm: element i of the weight [C, cout_g, kh, kw] belongs to
 * output channel (group of its input channel) * cout_g + its column. */
static int64_t convt_weight_channel(const Node *n, int64_t i)
{
    int64_t taps = n->a.kh * n->a.kw, cout_g = n->a.channels / n->a.groups;
    int64_t cin_g = n->in[0]->dims[1] / n->a.groups;
    int64_t ci = i / (cout_g * taps), j = i / taps % cout_g;
    return ci / cin_g * cout_g + j;
}

/* --emit=dot: " 2x2/2, 16 ch". */
static void convt_dot(const Node *n, FILE *f)
{
    fprintf(f, " %lldx%lld/%lld up,", (long long)n->a.kh, (long long)n->a.kw, (long long)n->a.sh);
    ir_dot_channels(n, "ch", f);
}

/* Below this many multiply-adds the direct loops (select_kernels.c's
 * DIRECT_MAX_MACS for conv2d); a build-time knob for tests and measurements:
 * make CFLAGS="-O2 -DCONVT_DIRECT_MAX_MACS=0" (always GEMM, where it fits). */
#ifndef CONVT_DIRECT_MAX_MACS
#define CONVT_DIRECT_MAX_MACS 4096
#endif

/* The GEMM's product for one image and group, in scratch. */
static int64_t convt_cols(const Node *n)
{
    const Tensor *in = n->in[0];
    return n->a.channels / n->a.groups * n->a.kh * n->a.kw * in->dims[2] * in->dims[3];
}

static void convt_select(Node *n)
{
    n->kernel = KERNEL_DIRECT;
    n->scratch_bytes = 0;
    if (convt_macs(n) < CONVT_DIRECT_MAX_MACS || convt_cols(n) > IR_MAX_ELEMS)
        return;
    n->kernel = KERNEL_GEMM;
    n->scratch_bytes = convt_cols(n) * (int64_t)sizeof(float);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include <stdlib.h>

#include "emit_internal.h"
#include "util.h"

/* The tap table of one axis (tap t = 0..k-1): the input positions that land
 * inside the output are i0[t] .. i0[t] + cnt[t] - 1, and the first of them
 * lands on output position o0[t] (the next ones `stride` further each). */
static void emit_tap_table(Emitter *e, const char *axis, int64_t in, int64_t outn, int64_t k,
                           int64_t s, int64_t p, int64_t d)
{
    int64_t *i0 = xmalloc(sizeof *i0 * (size_t)k), *cnt = xmalloc(sizeof *cnt * (size_t)k),
            *o0 = xmalloc(sizeof *o0 * (size_t)k);
    for (int64_t t = 0; t < k; t++) {
        int64_t off = t * d - p; /* output position of input 0 */
        int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
        int64_t last = outn - 1 - off; /* input i lands inside while i*s <= last */
        int64_t hi = last < 0 ? 0 : last / s + 1;
        hi = hi < in ? hi : in;
        cnt[t] = hi > lo ? hi - lo : 0;
        i0[t] = cnt[t] ? lo : 0;
        o0[t] = cnt[t] ? lo * s + off : 0;
    }
    char name[16];
    snprintf(name, sizeof name, "%s_i0", axis);
    emit_int_table(e, name, i0, k);
    snprintf(name, sizeof name, "%s_n", axis);
    emit_int_table(e, name, cnt, k);
    snprintf(name, sizeof name, "%s_o0", axis);
    emit_int_table(e, name, o0, k);
    free(i0);
    free(cnt);
    free(o0);
}

/* The loops over the taps of output channel j of group g and the input
 * pixels each reaches, left open with `src` (input pixel offset in its
 * plane) and `yr` (the output row, advanced by the stride per column c)
 * set; three close_brace end them, after the caller's statement for each
 * (tap, row), which loops over c < w_n[kw]. */
static void emit_tap_loops_open(Emitter *e, const Node *n)
{
    const Attrs *a = &n->a;
    long long W = n->in[0]->dims[3], OW = n->out->dims[3];
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", (long long)a->kh);
    open_block(e, "for (int r = 0; r < h_n[kh]; r++) {");
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", (long long)a->kw);
    out(e, "const int src = (h_i0[kh] + r) * %lld + w_i0[kw];", W);
    out(e, "float *yr = y + (h_o0[kh] + r * %lld) * %lld + w_o0[kw];", (long long)a->sh, OW);
}

static void emit_bias_fill(Emitter *e, const Node *n)
{
    long long N = n->out->dims[0], OC = n->out->dims[1];
    long long OHW = n->out->dims[2] * n->out->dims[3];
    char b[REF_SIZE];
    bool bias = n->param[PARAM_BIAS] != NULL;
    if (bias)
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    out(e, "for (int b = 0; b < %lld; b++)", N);
    out(e, "    for (int co = 0; co < %lld; co++)", OC);
    out(e, "        for (int i = 0; i < %lld; i++)", OHW);
    out(e, "            out[(b * %lld + co) * %lld + i] = %s;", OC, OHW,
        bias ? "bias[co]" : "0.0f");
}

/* The fused activation, one pass over the finished output. */
static void emit_act_pass(Emitter *e, const Node *n)
{
    char v[160];
    if (n->fuse.act == OP_NONE)
        return;
    open_block(e, "for (int i = 0; i < %lld; i++) {", (long long)ir_tensor_numel(n->out));
    out(e, "const float v = out[i];");
    out(e, "out[i] = %s;", act_expr(n, "v", v, sizeof v));
    close_brace(e);
}

static void emit_conv_transpose2d(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3], G = a->groups;
    long long cin_g = C / G, cout_g = OC / G, KK = a->kh * a->kw, HW = H * W;
    char w[REF_SIZE];
    emit_fused_comment(e, n);
    emit_tap_table(e, "h", H, OH, a->kh, a->sh, a->ph, a->dh);
    emit_tap_table(e, "w", W, OW, a->kw, a->sw, a->pw, a->dw);
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    emit_bias_fill(e, n);
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", G);
    out(e, "const float *x = in + (b * %lld + g * %lld) * %lld;", C, cin_g, HW);
    if (n->kernel == KERNEL_GEMM)
        out(e,
            "cnnrt_sgemm(true, false, %lld, %lld, %lld, 1.0f, w + g * %lld, %lld, x, %lld, 0.0f, "
            "scratch, %lld);",
            cout_g * KK, HW, cin_g, cin_g * cout_g * KK, cout_g * KK, HW, HW);
    open_block(e, "for (int j = 0; j < %lld; j++) {", cout_g);
    out(e, "float *y = out + (b * %lld + g * %lld + j) * %lld;", OC, cout_g, OH * OW);
    if (n->kernel == KERNEL_GEMM) {
        emit_tap_loops_open(e, n);
        out(e, "const float *col = scratch + ((j * %lld + kh) * %lld + kw) * %lld + src;",
            (long long)a->kh, (long long)a->kw, HW);
        out(e, "for (int c = 0; c < w_n[kw]; c++)");
        out(e, "    yr[c * %lld] += col[c];", (long long)a->sw);
    } else {
        /* W[g*cin_g + ci][j][kh][kw] */
        emit_tap_loops_open(e, n);
        out(e, "const float *wt = w + (g * %lld * %lld + j) * %lld + kh * %lld + kw;", cin_g,
            cout_g, KK, (long long)a->kw);
        open_block(e, "for (int c = 0; c < w_n[kw]; c++) {");
        out(e, "float acc = 0.0f;");
        out(e, "for (int ci = 0; ci < %lld; ci++)", cin_g);
        out(e, "    acc += x[ci * %lld + src + c] * wt[ci * %lld];", HW, cout_g * KK);
        out(e, "yr[c * %lld] += acc;", (long long)a->sw);
        close_brace(e);
    }
    for (int i = 0; i < 3 + 3; i++)
        close_brace(e);
    emit_act_pass(e, n);
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_CONV_TRANSPOSE2D = {
    /* front end */
    .args = convt_args,
    .set_attrs = convt_set_attrs,
    .infer = convt_infer,
    .params = convt_params,
    .print = convt_print,
    .macs = convt_macs,
    .init_range = convt_init_range,
    .weight_channel = convt_weight_channel,
    .dot = convt_dot,
    .select = convt_select,
    /* back end */
    .emit = emit_conv_transpose2d,
};
