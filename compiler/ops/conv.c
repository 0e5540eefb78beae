/* ops/conv.c - conv2d: 2-D convolution (nn.Conv2d), any stride, padding, dilation and groups.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include "args.h"
#include "shape.h"
#include "weights.h"

static const AttrSpec conv_args[] = {{"channels", A_INT, true},   {"kernel", A_PAIR, true},
                                     {"stride", A_PAIR, false},   {"pad", A_PADS, false},
                                     {"dilation", A_PAIR, false}, {"groups", A_INT, false},
                                     {"bias", A_BOOL, false},     {NULL, 0, 0}};

static bool conv_set_attrs(Node *n, const ArgSet *as)
{
    return get_conv_attrs(n, as, false);
}

static bool conv_infer(Node *n)
{
    if (!need_rank(n, 4, "an image [N, C, H, W]") || !need_groups_divide(n))
        return false;
    return infer_window(n, n->a.channels, false);
}

/* weight [out, in/groups, kh, kw], bias [out] (with bias=true). */
static void conv_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    const Tensor *in = n->in[0];
    rank[PARAM_WEIGHT] = 4;
    dims[PARAM_WEIGHT][0] = n->a.channels;
    dims[PARAM_WEIGHT][1] = in->dims[1] / n->a.groups;
    dims[PARAM_WEIGHT][2] = n->a.kh;
    dims[PARAM_WEIGHT][3] = n->a.kw;
    if (n->a.bias) {
        rank[PARAM_BIAS] = 1;
        dims[PARAM_BIAS][0] = n->a.channels;
    }
}

static void conv_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    fprintf(f, " channels=%lld kernel=(%lld,%lld) stride=(%lld,%lld)", (long long)a->channels,
            (long long)a->kh, (long long)a->kw, (long long)a->sh, (long long)a->sw);
    ir_print_pad(a, f);
    fprintf(f, " dilation=(%lld,%lld) groups=%lld bias=%s", (long long)a->dh, (long long)a->dw,
            (long long)a->groups, a->bias ? "true" : "false");
}

/* One MAC per weight use, over the convolution's own output (before a fused pool). */
static int64_t conv_macs(const Node *n)
{
    int64_t oh, ow;
    ir_conv_out_hw(n, &oh, &ow);
    return n->out->dims[0] * n->a.channels * oh * ow * (n->in[0]->dims[1] / n->a.groups) * n->a.kh *
           n->a.kw;
}

static void conv_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    double fan_in = (double)(n->in[0]->dims[1] / n->a.groups * n->a.kh * n->a.kw);
    double fan_out = (double)(n->a.channels * n->a.kh * n->a.kw);
    init_fan_range(init, p, fan_in, fan_out, lo, hi);
}

/* prune-channels: a constant input channel c adds c * sum(W[co, ci]) to output
 * co only if every tap reads it: c == 0, or no padding. A grouped conv mixes
 * no channels across groups, so it neither absorbs nor drops any. */
static bool conv_absorbs(const Node *n, float c)
{
    return n->a.groups == 1 && (c == 0.0f || (n->a.ph == 0 && n->a.pw == 0 &&
                                                 n->a.pb == 0 && n->a.pr == 0));
}

static bool conv_fixed_channels(const Node *n)
{
    return n->a.groups != 1;
}

/* --emit=dot: " 3x3/1, 16 ch". */
static void conv_dot(const Node *n, FILE *f)
{
    fprintf(f, " %lldx%lld/%lld,", (long long)n->a.kh, (long long)n->a.kw, (long long)n->a.sh);
    ir_dot_channels(n, "ch", f);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* float acc = the conv value at (oh, ow) of output channel co, from x (the
 * group's input channels) and wc (co's weights). */
static void emit_conv_acc(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    long long C = in->dims[1], H = in->dims[2], W = in->dims[3], cin_g = C / a->groups;
    out(e, "float acc = %s;", n->param[PARAM_BIAS] ? "bias[co]" : "0.0f");
    open_block(e, "for (int ci = 0; ci < %lld; ci++) {", cin_g);
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", (long long)a->kh);
    /* wide: int would overflow (a stride, pad or dilation near 2^31) */
    bool wide = !ir_window_fits_int(a, H, W);
    const char *t = wide ? "long long" : "int", *cast = wide ? "(long long)" : "";
    out(e, "const %s ih = %soh * %lld - %lld + %skh * %lld;", t, cast, (long long)a->sh,
        (long long)a->ph, cast, (long long)a->dh);
    out(e, "if (ih < 0 || ih >= %lld)", H);
    out(e, "    continue;");
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", (long long)a->kw);
    out(e, "const %s iw = %sow * %lld - %lld + %skw * %lld;", t, cast, (long long)a->sw,
        (long long)a->pw, cast, (long long)a->dw);
    out(e, "if (iw >= 0 && iw < %lld)", W);
    out(e, "    acc += x[ci * %lld + ih * %lld + iw] * wc[(ci * %lld + kh) * %lld + kw];", H * W, W,
        (long long)a->kh, (long long)a->kw);
    close_brace(e);
    close_brace(e);
    close_brace(e);
}

/* The direct kernel's conv value: acc already holds the bias. */
static void emit_direct_value(Emitter *e, const Node *n, bool raw)
{
    char v[160];
    emit_conv_acc(e, n);
    out(e, "const float v = %s;", raw ? "acc" : act_expr(n, "acc", v, sizeof v));
}

/* Direct loops. With a fused pool, each pooled output computes the conv values
 * of its window in registers (emit_pooled_point). */
static void emit_conv_direct(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3];
    long long cin_g = C / a->groups, cout_g = OC / a->groups;
    char w[REF_SIZE], b[REF_SIZE], v[160];
    emit_fused_comment(e, n);
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    out(e, "const float *x = in + (b * %lld + co / %lld * %lld) * %lld;", C, cout_g, cin_g, H * W);
    out(e, "const float *wc = w + co * %lld;", cin_g * a->kh * a->kw);
    out(e, "float *y = out + (b * %lld + co) * %lld;", OC, OH * OW);
    if (n->fuse.pool) {
        open_block(e, "for (int py = 0; py < %lld; py++) {", OH);
        open_block(e, "for (int px = 0; px < %lld; px++) {", OW);
        emit_pooled_point(e, n, emit_direct_value, "");
    } else {
        open_block(e, "for (int oh = 0; oh < %lld; oh++) {", OH);
        open_block(e, "for (int ow = 0; ow < %lld; ow++) {", OW);
        emit_conv_acc(e, n);
        out(e, "y[oh * %lld + ow] = %s;", OW, act_expr(n, "acc", v, sizeof v));
    }
    for (int i = 0; i < 4; i++)
        close_brace(e);
}

static void emit_bias_add(Emitter *e, const Node *n, long long N, long long OC, long long HW)
{
    char b[REF_SIZE];
    if (!n->param[PARAM_BIAS])
        return;
    out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    out(e, "for (int b = 0; b < %lld; b++)", N);
    out(e, "    for (int co = 0; co < %lld; co++)", OC);
    out(e, "        for (int i = 0; i < %lld; i++)", HW);
    out(e, "            out[(b * %lld + co) * %lld + i] += bias[co];", OC, HW);
}

/* Bias and fused activation after the GEMM, in one pass over the output. */
static void emit_conv_epilogue(Emitter *e, const Node *n, long long N, long long OC, long long HW)
{
    char b[REF_SIZE], v[160];
    if (n->fuse.act == OP_NONE) {
        emit_bias_add(e, n, N, OC, HW);
        return;
    }
    bool bias = n->param[PARAM_BIAS] != NULL;
    if (bias)
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    emit_parallel_for(e, OC * HW * 8);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    out(e, "float *y = out + (b * %lld + co) * %lld;", OC, HW);
    open_block(e, "for (int i = 0; i < %lld; i++) {", HW);
    out(e, "const float v = y[i]%s;", bias ? " + bias[co]" : "");
    out(e, "y[i] = %s;", act_expr(n, "v", v, sizeof v));
    for (int i = 0; i < 3; i++)
        close_brace(e);
}
/* The GEMM kernels' conv rows c0..c1 of one band: unfolded into scratch
 * (im2col) or read in place (1x1), multiplied into `conv`. */
static void emit_gemm_band_rows(Emitter *e, const Node *n)
{
    const Attrs *a = &n->a;
    long long C = n->in[0]->dims[1], H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long cin_g = C / a->groups, cout_g = n->out->dims[1] / a->groups;
    long long K = cin_g * a->kh * a->kw;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    if (n->kernel == KERNEL_IM2COL) {
        out(e,
            "cnnrt_im2col_rows(x, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
            "%lld, c0, c1 - c0, %lld, scratch);",
            cin_g, H, W, (long long)a->kh, (long long)a->kw, (long long)a->sh, (long long)a->sw,
            (long long)a->ph, (long long)a->pw, (long long)a->dh, (long long)a->dw, (long long)CW);
        out(e,
            "cnnrt_sgemm(false, false, %lld, cols, %lld, 1.0f, w + g * %lld, %lld, scratch, "
            "cols, 0.0f, conv, cols);",
            cout_g, K, cout_g * K, K);
    } else {
        out(e,
            "cnnrt_sgemm(false, false, %lld, cols, %lld, 1.0f, w + g * %lld, %lld, "
            "x + c0 * %lld, %lld, 0.0f, conv, cols);",
            cout_g, K, cout_g * K, K, W, H * W);
    }
}

/* Convolution as GEMM per image and group: out_g[cout_g][OH*OW] =
 * W_g[cout_g][cin_g*kh*kw] x X_g, where X_g is the input itself (1x1) or its
 * im2col unfolding in scratch. */
static void emit_conv_gemm(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3], G = a->groups;
    long long cin_g = C / G, cout_g = OC / G, K = cin_g * a->kh * a->kw;
    char w[REF_SIZE];
    emit_fused_comment(e, n);
    if (n->fuse.pool) {
        int64_t CH, CW;
        ir_conv_out_hw(n, &CH, &CW);
        long long S = n->fuse.band_conv_rows;
        long long col = n->kernel == KERNEL_IM2COL ? (K * S * CW + 15) / 16 * 16 : 0;
        emit_conv_band_pool(e, n, col, emit_gemm_band_rows);
        return;
    }
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", G);
    out(e, "const float *x = in + (b * %lld + g * %lld) * %lld;", C, cin_g, H * W);
    if (n->kernel == KERNEL_IM2COL) {
        out(e,
            "cnnrt_im2col(x, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
            "%lld, %lld, scratch);",
            cin_g, H, W, (long long)a->kh, (long long)a->kw, (long long)a->sh, (long long)a->sw,
            (long long)a->ph, (long long)a->pw, (long long)a->dh, (long long)a->dw, OH, OW);
        out(e, "x = scratch;");
    }
    if (emit_parallel(e, cout_g * OH * OW * K)) {
        /* OpenBLAS runs single-threaded here: each thread multiplies its
         * share of the output channels. */
        emit_parallel_for(e, cout_g * OH * OW * K);
        open_block(e, "for (int part = 0; part < %s_PARTS; part++) {", e->NET);
        out(e, "const int m0 = part * %lld / %s_PARTS, m1 = (part + 1) * %lld / %s_PARTS;", cout_g,
            e->NET, cout_g, e->NET);
        out(e,
            "cnnrt_sgemm(false, false, m1 - m0, %lld, %lld, 1.0f, w + (g * %lld + m0) * %lld, "
            "%lld, x, %lld, 0.0f,",
            OH * OW, K, cout_g, K, K, OH * OW);
        out(e, "            out + (b * %lld + g * %lld + m0) * %lld, %lld);", OC, cout_g, OH * OW,
            OH * OW);
        close_brace(e);
    } else {
        out(e,
            "cnnrt_sgemm(false, false, %lld, %lld, %lld, 1.0f, w + g * %lld, %lld, x, %lld, "
            "0.0f,",
            cout_g, OH * OW, K, cout_g * K, K, OH * OW);
        out(e, "            out + (b * %lld + g * %lld) * %lld, %lld);", OC, cout_g, OH * OW,
            OH * OW);
    }
    close_brace(e);
    close_brace(e);
    emit_conv_epilogue(e, n, N, OC, OH * OW);
}

/* conv2d's layer body: the kernel select_kernels() chose (kernels.md). */
static void emit_conv2d(Emitter *e, const Node *n)
{
    switch (n->kernel) {
    case KERNEL_SPARSE:
        emit_conv_sparse(e, n);
        break;
    case KERNEL_DIRECT:
        emit_conv_direct(e, n);
        break;
    case KERNEL_BLOCKED:
        emit_conv_blocked(e, n);
        break;
    case KERNEL_DEPTHWISE:
        emit_conv_depthwise(e, n);
        break;
    default: /* KERNEL_GEMM, KERNEL_IM2COL */
        emit_conv_gemm(e, n);
        break;
    }
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

static void conv_eval(const Node *n, const float *const *in, float *out)
{
    const Attrs *a = &n->a;
    const int64_t *x = n->in[0]->dims, *y = n->out->dims;
    int64_t cg = x[1] / a->groups, kg = y[1] / a->groups;
    const float *w = n->param[PARAM_WEIGHT]->data;
    const float *bias = a->bias ? n->param[PARAM_BIAS]->data : NULL;
    for (int64_t b = 0; b < y[0]; b++)
        for (int64_t k = 0; k < y[1]; k++)
            for (int64_t oy = 0; oy < y[2]; oy++)
                for (int64_t ox = 0; ox < y[3]; ox++) {
                    double s = bias ? bias[k] : 0.0;
                    for (int64_t c = 0; c < cg; c++) {
                        const float *xp = in[0] + (b * x[1] + (k / kg) * cg + c) * x[2] * x[3];
                        const float *wp = w + (k * cg + c) * a->kh * a->kw;
                        for (int64_t i = 0; i < a->kh; i++) {
                            int64_t iy = oy * a->sh - a->ph + i * a->dh;
                            for (int64_t j = 0; iy >= 0 && iy < x[2] && j < a->kw; j++) {
                                int64_t ix = ox * a->sw - a->pw + j * a->dw;
                                if (ix >= 0 && ix < x[3])
                                    s += (double)xp[iy * x[3] + ix] * wp[i * a->kw + j];
                            }
                        }
                    }
                    out[((b * y[1] + k) * y[2] + oy) * y[3] + ox] = (float)s;
                }
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_CONV2D = {
    .eval = conv_eval,
    /* front end */
    .args = conv_args,
    .set_attrs = conv_set_attrs,
    .infer = conv_infer,
    .params = conv_params,
    .print = conv_print,
    .macs = conv_macs,
    .init_range = conv_init_range,
    .absorbs = conv_absorbs,
    .fixed_channels = conv_fixed_channels,
    .dot = conv_dot,
    /* back end */
    .emit = emit_conv2d,
};
