/* emit_epilogue.c - fused epilogues (passes.h: fuse-activation, fuse-pool):
 * what a producer's output loop does in place of the layers merged into it.
 * The activation is the op's own C expression (OpDef.act_c), the same as
 * standalone, so fusing is exact; a pool fused into a conv2d pools the conv
 * values of each window with the standalone pool's window and divisor rules
 * (ops/pool.c), per pooled output (emit_pooled_point) or, for the kernels
 * that compute whole conv rows, band by band (emit_conv_band_pool). */
#include <stdlib.h>

#include "emit_internal.h"
#include "opdef.h"

/* The C expression of n's fused activation applied to variable x; x itself
 * if none. The same expressions as the standalone activations, so fusing is
 * exact. */
const char *act_expr(const Node *n, const char *x, char *buf, size_t size)
{
    if (n->fuse.act == OP_NONE) {
        snprintf(buf, size, "%s", x);
        return buf;
    }
    return op_def(n->fuse.act)->act_c(&n->fuse.act_a, x, buf, size);
}

/* A linear's output value from its product `sum` for output o: sum + bias[o],
 * or with alpha and beta alpha * sum + beta * bias[o], each product rounded
 * to float, then the sum (ONNX's Gemm; C99 does not contract it to an fma). */
const char *linear_value(const Node *n, const char *sum, char *buf, size_t size)
{
    char a[40], b[40];
    bool bias = n->param[PARAM_BIAS] != NULL;
    if (!n->a.alpha_beta)
        snprintf(buf, size, "%s%s", sum, bias ? " + bias[o]" : "");
    else if (bias)
        snprintf(buf, size, "%s * %s + %s * bias[o]", flit(n->a.alpha, a, sizeof a), sum,
                 flit(n->a.beta, b, sizeof b));
    else
        snprintf(buf, size, "%s * %s", flit(n->a.alpha, a, sizeof a), sum);
    return buf;
}

/* First line of a fused layer's body: what it absorbed. */
void emit_fused_comment(Emitter *e, const Node *n)
{
    char shape[128];
    if (!n->fuse.names)
        return;
    if (n->fuse.pool)
        out(e, "/* merged:%s; the conv output %s is never stored */",
            comment_safe(e, n->fuse.names),
            ir_shape_str(4, n->fuse.conv_dims, shape, sizeof shape));
    else
        out(e, "/* merged:%s */", comment_safe(e, n->fuse.names));
}

/* Whether max(act(x_i + b)) == act(max(x_i) + b) exactly, so a maxpool can
 * take the max of raw values and apply bias and activation once. Adding b and
 * the piecewise-linear activations are monotone non-decreasing in float32
 * (rounding is monotone) and keep NaN a NaN; sigmoid and tanh go through
 * libm, whose monotonicity is not guaranteed to the bit, so they are not. */
static bool max_commutes(const Node *n)
{
    OpKind a = n->fuse.act;
    return a == OP_NONE || a == OP_RELU || a == OP_RELU6 || a == OP_CLAMP ||
           (a == OP_LEAKY_RELU && n->fuse.act_a.slope >= 0.0);
}

/* One pooled output y[py * PW + px] of a conv2d with a fused pool, from the
 * conv values of its window, with the standalone pools' window and divisor
 * rules (ops/pool.c) over the conv output (CH x CW). */
void emit_pooled_point(Emitter *e, const Node *n, ConvValueFn value, const char *bias_term)
{
    const Attrs *p = &n->fuse.pool_a;
    const PoolVars vars = {.oy = "py", .ox = "px", .i = "i", .j = "j", .y = "oh", .x = "ow"};
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    long long PW = n->out->dims[3];
    char act[160];
    if (n->fuse.pool_op == OP_MAXPOOL) {
        /* Branch-free: the select compiles to maxss, and the last NaN seen is
         * carried apart, as the standalone maxpool's `v > m || v != v` keeps it. */
        bool raw = max_commutes(n);
        out(e, "float m = -INFINITY, nan = 0.0f;");
        emit_max_window_open(e, p, CH, CW, &vars);
        value(e, n, raw);
        out(e, "m = v > m ? v : m;");
        out(e, "nan = v != v ? v : nan;");
        close_brace(e);
        close_brace(e);
        out(e, "m = nan != nan ? nan : m; /* NaN wins, as in PyTorch */");
        if (raw && (*bias_term || n->fuse.act != OP_NONE)) {
            out(e, "/* max commutes with the %s: applied once */",
                *bias_term ? "bias and activation" : "activation");
            if (*bias_term)
                out(e, "m = m%s;", bias_term);
            out(e, "y[py * %lld + px] = %s;", PW, act_expr(n, "m", act, sizeof act));
        } else {
            out(e, "y[py * %lld + px] = m;", PW);
        }
        return;
    }
    emit_avg_window(e, p, CH, CW, &vars);
    out(e, "float sum = 0.0f;");
    open_block(e, "for (int oh = h0; oh < h1; oh++) {");
    open_block(e, "for (int ow = w0; ow < w1; ow++) {");
    value(e, n, false);
    out(e, "sum += v;");
    close_brace(e);
    close_brace(e);
    out(e, "y[py * %lld + px] = count > 0 ? sum / (float)count : 0.0f;", PW);
}

/* The conv value at (oh, ow) in a band's rows cv (emit_conv_band_pool's
 * callback of emit_pooled_point). */
static void emit_band_value(Emitter *e, const Node *n, bool raw)
{
    char v[160];
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    if (raw) {
        out(e, "const float v = cv[(oh - c0) * %lld + ow];", (long long)CW);
        return;
    }
    out(e, "const float a = cv[(oh - c0) * %lld + ow]%s;", (long long)CW,
        n->param[PARAM_BIAS] ? " + bco" : "");
    out(e, "const float v = %s;", act_expr(n, "a", v, sizeof v));
}

/* The widest pooled row emit_band_maxpool_rows takes: its m[] and nan[] are
 * on the stack (32 KiB at this width); wider rows (a 2^21-column row made
 * 16 MiB arrays and overflowed the stack) pool per output. */
#define BAND_MAXPOOL_MAX_COLS 4096

/* Pooled rows r0..r1 of channel co from its band cv, for a max pool the
 * bias and activation commute with (max_commutes): per window row, one
 * loop over the pooled columns whose window is inside the conv row, the
 * window's columns unrolled, running maxima in m[] (and the last NaN seen
 * in nan[], as emit_pooled_point keeps it), so it vectorizes; the few
 * border columns check their taps. Bias and activation once per output. */
static void emit_band_maxpool_rows(Emitter *e, const Node *n, const char *bias_term)
{
    const Attrs *p = &n->fuse.pool_a;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    long long PW = n->out->dims[3], SW = p->sw, PP = p->pw, KW = p->kw, DW = p->dw;
    long long lo = (PP + SW - 1) / SW, hi = (CW - 1 + PP - (KW - 1) * DW) / SW + 1;
    hi = hi > PW ? PW : hi;
    lo = lo > hi ? hi : lo;
    char act[160];
    open_block(e, "for (int py = r0; py < r1; py++) {");
    out(e, "float m[%lld], nan[%lld];", PW, PW);
    out(e, "for (int px = 0; px < %lld; px++)", PW);
    out(e, "    m[px] = -INFINITY, nan[px] = 0.0f;");
    open_block(e, "for (int i = 0; i < %lld; i++) {", (long long)p->kh);
    out(e, "const int oh = py * %lld - %lld + i * %lld;", (long long)p->sh, (long long)p->ph,
        (long long)p->dh);
    out(e, "if (oh < 0 || oh >= %lld)", (long long)CH);
    out(e, "    continue;");
    out(e, "const float *r = cv + (oh - c0) * %lld;", (long long)CW);
    for (int part = 0; part < 3; part++) {
        long long a = part == 0 ? 0 : part == 1 ? lo : hi, b = part == 0 ? lo : part == 1 ? hi : PW;
        if (a >= b)
            continue;
        open_block(e, "for (int px = %lld; px < %lld; px++) {", a, b);
        out(e, "float mm = m[px], nn = nan[px];");
        for (long long j = 0; j < KW; j++) {
            long long off = j * DW - PP;
            char at[64];
            snprintf(at, sizeof at, "px * %lld %c %lld", SW, off < 0 ? '-' : '+', llabs(off));
            if (part == 1) {
                out(e, "{");
                out(e, "    const float v = r[%s];", at);
            } else {
                out(e, "if (%s >= 0 && %s < %lld) {", at, at, (long long)CW);
                out(e, "    const float v = r[%s];", at);
            }
            out(e, "    mm = v > mm ? v : mm;");
            out(e, "    nn = v != v ? v : nn;");
            out(e, "}");
        }
        out(e, "m[px] = mm, nan[px] = nn;");
        close_brace(e);
    }
    close_brace(e);
    open_block(e, "for (int px = 0; px < %lld; px++) {", PW);
    out(e, "const float v = (nan[px] != nan[px] ? nan[px] : m[px])%s; /* NaN wins */", bias_term);
    out(e, "y[py * %lld + px] = %s;", PW, act_expr(n, "v", act, sizeof act));
    close_brace(e);
    close_brace(e);
}

/* A conv2d with a fused pool, band by band (fuse_pool.c): for each band of
 * fuse.band_rows pooled rows, `rows` leaves the conv rows c0..c1 its windows
 * read in `conv` (scratch, after `col` floats the kernel may use), and they
 * are pooled from there with bias and activation. */
void emit_conv_band_pool(Emitter *e, const Node *n, long long col, BandRowsFn rows)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a, *p = &n->fuse.pool_a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3], G = a->groups;
    long long OC = o->dims[1], PH = o->dims[2], PW = o->dims[3];
    long long cin_g = C / G, cout_g = OC / G;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    long long R = n->fuse.band_rows;
    char w[REF_SIZE], b[REF_SIZE];
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    out(e, "float *conv = scratch + %lld; /* conv rows c0..c1 of one group */", col);
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", G);
    out(e, "const float *x = in + (b * %lld + g * %lld) * %lld;", C, cin_g, H * W);
    open_block(e, "for (int r0 = 0; r0 < %lld; r0 += %lld) {", PH, R);
    out(e, "const int r1 = r0 + %lld < %lld ? r0 + %lld : %lld;", R, PH, R, PH);
    out(e, "const int c0 = r0 * %lld - %lld > 0 ? r0 * %lld - %lld : 0;", (long long)p->sh,
        (long long)p->ph, (long long)p->sh, (long long)p->ph);
    long long reach = (long long)((p->kh - 1) * p->dh + 1 - p->ph);
    out(e, "const int c1 = (r1 - 1) * %lld + %lld < %lld ? (r1 - 1) * %lld + %lld : %lld;",
        (long long)p->sh, reach, (long long)CH, (long long)p->sh, reach, (long long)CH);
    out(e, "const int cols = (c1 - c0) * %lld;", (long long)CW);
    rows(e, n);
    emit_parallel_for(e, (int64_t)cout_g * R * PW * p->kh * p->kw);
    open_block(e, "for (int co = 0; co < %lld; co++) {", cout_g);
    out(e, "const float *cv = conv + co * cols;");
    if (n->param[PARAM_BIAS])
        out(e, "const float bco = bias[g * %lld + co];", cout_g);
    out(e, "float *y = out + (b * %lld + g * %lld + co) * %lld;", OC, cout_g, PH * PW);
    /* emit_band_maxpool_rows keeps two floats per pooled column on the stack */
    if (n->fuse.pool_op == OP_MAXPOOL && max_commutes(n) && PW <= BAND_MAXPOOL_MAX_COLS) {
        emit_band_maxpool_rows(e, n, n->param[PARAM_BIAS] ? " + bco" : "");
        for (int i = 0; i < 4; i++)
            close_brace(e);
        return;
    }
    open_block(e, "for (int py = r0; py < r1; py++) {");
    open_block(e, "for (int px = 0; px < %lld; px++) {", PW);
    emit_pooled_point(e, n, emit_band_value, n->param[PARAM_BIAS] ? " + bco" : "");
    for (int i = 0; i < 6; i++)
        close_brace(e);
}
