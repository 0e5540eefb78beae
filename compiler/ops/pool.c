/* ops/pool.c - pools: maxpool, avgpool (nn.MaxPool2d, nn.AvgPool2d), global_avgpool,
 * adaptive_avgpool.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>

#include "args.h"
#include "shape.h"

static const AttrSpec maxpool_args[] = {{"kernel", A_PAIR, true},     {"stride", A_PAIR, false},
                                        {"pad", A_PADS, false},       {"dilation", A_PAIR, false},
                                        {"ceil_mode", A_BOOL, false}, {NULL, 0, 0}};
static const AttrSpec avgpool_args[] = {{"kernel", A_PAIR, true},
                                        {"stride", A_PAIR, false},
                                        {"pad", A_PADS, false},
                                        {"ceil_mode", A_BOOL, false},
                                        {"count_include_pad", A_BOOL, false},
                                        {NULL, 0, 0}};
static const AttrSpec adaptive_args[] = {{"size", A_PAIR, true}, {NULL, 0, 0}};

/* maxpool and avgpool: the stride defaults to the kernel; avgpool has no
 * dilation (1) and counts the padding by default. */
static bool window_pool_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    const char *op = op_name(n->op);
    Loc L = n->loc;
    bool ok = get_pair(as, "kernel", 1, 1, 1, &a->kh, &a->kw, op, L) &&
              get_pair(as, "stride", a->kh, a->kw, 1, &a->sh, &a->sw, op, L) &&
              get_pads(as, a, op, L);
    a->dh = a->dw = 1;
    if (ok && n->op == OP_MAXPOOL)
        ok = get_pair(as, "dilation", 1, 1, 1, &a->dh, &a->dw, op, L);
    a->ceil_mode = get_bool(as, "ceil_mode", false);
    a->count_include_pad = n->op == OP_AVGPOOL && get_bool(as, "count_include_pad", true);
    return ok;
}

static bool window_pool_infer(Node *n)
{
    return need_rank(n, 4, "an image [N, C, H, W]") && infer_window(n, n->in[0]->dims[1], true);
}

static void window_pool_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    fprintf(f, " kernel=(%lld,%lld) stride=(%lld,%lld)", (long long)a->kh, (long long)a->kw,
            (long long)a->sh, (long long)a->sw);
    ir_print_pad(a, f);
    if (n->op == OP_MAXPOOL)
        fprintf(f, " dilation=(%lld,%lld)", (long long)a->dh, (long long)a->dw);
    fprintf(f, " ceil_mode=%s", a->ceil_mode ? "true" : "false");
    if (n->op == OP_AVGPOOL)
        fprintf(f, " count_include_pad=%s", a->count_include_pad ? "true" : "false");
}

/* prune-channels: with count_include_pad and padding, border outputs of a
 * constant channel shrink, so only 0 stays a constant. */
static float avgpool_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)k;
    if (n->a.count_include_pad && (n->a.ph > 0 || n->a.pw > 0 || n->a.pb > 0 || n->a.pr > 0) &&
        x[0] != 0.0f)
        return NAN;
    return x[0];
}

static bool global_avgpool_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], 1, 1};
    return set_out(n, 4, dims);
}

static bool adaptive_set_attrs(Node *n, const ArgSet *as)
{
    return get_pair(as, "size", 1, 1, 1, &n->a.out_h, &n->a.out_w, op_name(n->op), n->loc);
}

static bool adaptive_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
    return set_out(n, 4, dims);
}

static void adaptive_print(const Node *n, FILE *f)
{
    fprintf(f, " size=(%lld,%lld)", (long long)n->a.out_h, (long long)n->a.out_w);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include <stdlib.h>

#include "emit_internal.h"

/* The long-long window loop over taps i of one axis: from the first tap at
 * or after 0 to the last before `size`, positions pos = start + i * d. */
static void emit_wide_window_axis(Emitter *e, const char *i, const char *pos, const char *o,
                                  long long k, long long s, long long pad, long long d,
                                  long long size)
{
    out(e, "const long long %s0 = (long long)%s * %lld - %lld;", pos, o, s, pad);
    open_block(e,
               "for (long long %s = %s0 >= 0 ? 0 : (%lld - %s0) / %lld; "
               "%s < %lld && %s0 + %s * %lld < %lld; %s++) {",
               i, pos, d - 1, pos, d, i, k, pos, i, d, size, i);
    out(e, "const long long %s = %s0 + %s * %lld;", pos, pos, i, d);
}

/* The pool window (emit_internal.h), shared with the pools fused into a
 * conv2d (emit_epilogue.c): the same rules, in the caller's variable names. */
void emit_max_window_open(Emitter *e, const Attrs *p, long long H, long long W, const PoolVars *v)
{
    if (!ir_window_fits_int(p, H, W)) {
        emit_wide_window_axis(e, v->i, v->y, v->oy, p->kh, p->sh, p->ph, p->dh, H);
        emit_wide_window_axis(e, v->j, v->x, v->ox, p->kw, p->sw, p->pw, p->dw, W);
        return;
    }
    open_block(e, "for (int %s = 0; %s < %lld; %s++) {", v->i, v->i, (long long)p->kh, v->i);
    out(e, "const int %s = %s * %lld - %lld + %s * %lld;", v->y, v->oy, (long long)p->sh,
        (long long)p->ph, v->i, (long long)p->dh);
    out(e, "if (%s < 0 || %s >= %lld)", v->y, v->y, H);
    out(e, "    continue;");
    open_block(e, "for (int %s = 0; %s < %lld; %s++) {", v->j, v->j, (long long)p->kw, v->j);
    out(e, "const int %s = %s * %lld - %lld + %s * %lld;", v->x, v->ox, (long long)p->sw,
        (long long)p->pw, v->j, (long long)p->dw);
    out(e, "if (%s < 0 || %s >= %lld)", v->x, v->x, W);
    out(e, "    continue;");
}

/* PyTorch's avg_pool2d: the divisor is the window clipped to the padded
 * plane (count_include_pad; the bottom and right pads end it) or to the
 * plane itself. */
void emit_avg_window(Emitter *e, const Attrs *p, long long H, long long W, const PoolVars *v)
{
    /* wide: int would overflow (ir_window_fits_int); h0..w1 end within [0, H]
     * and [0, W] either way, so the caller's int loops over them are safe */
    bool wide = !ir_window_fits_int(p, H, W);
    const char *t = wide ? "long long" : "int", *cast = wide ? "(long long)" : "";
    out(e, "%s h0 = %s%s * %lld - %lld, w0 = %s%s * %lld - %lld;", t, cast, v->oy,
        (long long)p->sh, (long long)p->ph, cast, v->ox, (long long)p->sw, (long long)p->pw);
    out(e, "%s h1 = h0 + %lld < %lld ? h0 + %lld : %lld;", t, (long long)p->kh, H + p->pb,
        (long long)p->kh, H + p->pb);
    out(e, "%s w1 = w0 + %lld < %lld ? w0 + %lld : %lld;", t, (long long)p->kw, W + p->pr,
        (long long)p->kw, W + p->pr);
    if (p->count_include_pad)
        out(e, "const %s count = (h1 - h0) * (w1 - w0);", t);
    out(e, "h0 = h0 < 0 ? 0 : h0;");
    out(e, "w0 = w0 < 0 ? 0 : w0;");
    out(e, "h1 = h1 > %lld ? %lld : h1;", H, H);
    out(e, "w1 = w1 > %lld ? %lld : w1;", W, W);
    if (!p->count_include_pad)
        out(e, "const %s count = (h1 - h0) * (w1 - w0);", t);
}

/* The standalone pools' names: output (oh, ow) reads input (ih, iw). */
static const PoolVars pool_vars = {
    .oy = "oh", .ox = "ow", .i = "kh", .j = "kw", .y = "ih", .x = "iw"};

static void emit_pool_loops_open(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], C = n->in[0]->dims[1];
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long OH = n->out->dims[2], OW = n->out->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", N * C);
    out(e, "const float *x = in + p * %lld;", H * W);
    out(e, "float *y = out + p * %lld;", OH * OW);
    open_block(e, "for (int oh = 0; oh < %lld; oh++) {", OH);
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", OW);
}

static void emit_maxpool(Emitter *e, const Node *n)
{
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    emit_pool_loops_open(e, n);
    out(e, "float m = -INFINITY;");
    emit_max_window_open(e, &n->a, H, W, &pool_vars);
    out(e, "const float v = x[ih * %lld + iw];", W);
    out(e, "if (v > m || v != v) /* NaN wins, as in PyTorch */");
    out(e, "    m = v;");
    close_brace(e);
    close_brace(e);
    out(e, "y[oh * %lld + ow] = m;", (long long)n->out->dims[3]);
    for (int i = 0; i < 3; i++)
        close_brace(e);
}

static void emit_avgpool(Emitter *e, const Node *n)
{
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    emit_pool_loops_open(e, n);
    emit_avg_window(e, &n->a, H, W, &pool_vars);
    out(e, "float sum = 0.0f;");
    out(e, "for (int ih = h0; ih < h1; ih++)");
    out(e, "    for (int iw = w0; iw < w1; iw++)");
    out(e, "        sum += x[ih * %lld + iw];", W);
    out(e, "y[oh * %lld + ow] = count > 0 ? sum / (float)count : 0.0f;",
        (long long)n->out->dims[3]);
    for (int i = 0; i < 3; i++)
        close_brace(e);
}

static void emit_global_avgpool(Emitter *e, const Node *n)
{
    long long NC = n->in[0]->dims[0] * n->in[0]->dims[1];
    long long HW = n->in[0]->dims[2] * n->in[0]->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", NC);
    out(e, "float sum = 0.0f;");
    out(e, "for (int i = 0; i < %lld; i++)", HW);
    out(e, "    sum += in[p * %lld + i];", HW);
    out(e, "out[p] = sum / %lld.0f;", HW);
    close_brace(e);
}

/* Window tables longer than this are not emitted: the loop computes that
 * axis's window (integer arithmetic, the same values). A build knob, as
 * UPSAMPLE_TABLE_MAX. */
#ifndef ADAPTIVE_TABLE_MAX
#define ADAPTIVE_TABLE_MAX 4096
#endif

/* AdaptiveAvgPool2d: window [floor(i*in/out), ceil((i+1)*in/out)), mean = sum / kh / kw. */
static void emit_adaptive_avgpool(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int64_t H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    bool th = OH <= ADAPTIVE_TABLE_MAX, tw = OW <= ADAPTIVE_TABLE_MAX;
    int64_t TH = th ? OH : 1, TW = tw ? OW : 1;
    int64_t *hs = xcalloc((size_t)TH, sizeof *hs), *he = xcalloc((size_t)TH, sizeof *he);
    int64_t *ws = xcalloc((size_t)TW, sizeof *ws), *we = xcalloc((size_t)TW, sizeof *we);
    for (int64_t i = 0; th && i < OH; i++) {
        hs[i] = i * H / OH;
        he[i] = ((i + 1) * H + OH - 1) / OH;
    }
    for (int64_t i = 0; tw && i < OW; i++) {
        ws[i] = i * W / OW;
        we[i] = ((i + 1) * W + OW - 1) / OW;
    }
    if (th) {
        emit_int_table(e, "hs", hs, OH);
        emit_int_table(e, "he", he, OH);
    }
    if (tw) {
        emit_int_table(e, "ws", ws, OW);
        emit_int_table(e, "we", we, OW);
    }
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", (long long)(H * W));
    out(e, "float *y = out + p * %lld;", (long long)(OH * OW));
    open_block(e, "for (int oh = 0; oh < %lld; oh++) {", (long long)OH);
    if (!th) {
        out(e, "const int hs0 = (int)((long long)oh * %lld / %lld);", (long long)H, (long long)OH);
        out(e, "const int he0 = (int)(((long long)oh * %lld + %lld) / %lld);", (long long)H,
            (long long)(H + OH - 1), (long long)OH);
    }
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", (long long)OW);
    if (!tw) {
        out(e, "const int ws0 = (int)((long long)ow * %lld / %lld);", (long long)W, (long long)OW);
        out(e, "const int we0 = (int)(((long long)ow * %lld + %lld) / %lld);", (long long)W,
            (long long)(W + OW - 1), (long long)OW);
    }
    const char *HS = th ? "hs[oh]" : "hs0", *HE = th ? "he[oh]" : "he0";
    const char *WS = tw ? "ws[ow]" : "ws0", *WE = tw ? "we[ow]" : "we0";
    out(e, "float sum = 0.0f;");
    out(e, "for (int ih = %s; ih < %s; ih++)", HS, HE);
    out(e, "    for (int iw = %s; iw < %s; iw++)", WS, WE);
    out(e, "        sum += x[ih * %lld + iw];", (long long)W);
    out(e, "y[oh * %lld + ow] = sum / (float)(%s - %s) / (float)(%s - %s);", (long long)OW, HE, HS,
        WE, WS);
    for (int i = 0; i < 3; i++)
        close_brace(e);
    free(hs), free(he), free(ws), free(we);
}

/* ---- calibration: reference evaluation (eval.c) --------------------------- */

/* maxpool, avgpool (PyTorch's window and divisor) and adaptive_avgpool, one
 * plane at a time; global_avgpool is adaptive_avgpool to 1x1. */
static void pool_eval(const Node *n, const float *const *in, float *out)
{
    const Attrs *a = &n->a;
    const int64_t *x = n->in[0]->dims, *y = n->out->dims;
    int64_t H = x[2], W = x[3];
    for (int64_t p = 0; p < y[0] * y[1]; p++) {
        const float *xp = in[0] + p * H * W;
        for (int64_t oy = 0; oy < y[2]; oy++)
            for (int64_t ox = 0; ox < y[3]; ox++) {
                double s = 0.0, m = -INFINITY, cnt = 0.0;
                int64_t y0, y1, x0, x1, dy = 1, dx = 1;
                if (n->op == OP_MAXPOOL || n->op == OP_AVGPOOL) {
                    y0 = oy * a->sh - a->ph;
                    x0 = ox * a->sw - a->pw;
                    dy = a->dh;
                    dx = a->dw;
                    y1 = y0 + (a->kh - 1) * dy + 1;
                    x1 = x0 + (a->kw - 1) * dx + 1;
                    if (n->op == OP_AVGPOOL) {
                        int64_t ye = y1 < H + a->pb ? y1 : H + a->pb;
                        int64_t xe = x1 < W + a->pr ? x1 : W + a->pr;
                        cnt = (double)((ye - y0) * (xe - x0));
                    }
                } else {
                    y0 = oy * H / y[2];
                    y1 = ((oy + 1) * H + y[2] - 1) / y[2];
                    x0 = ox * W / y[3];
                    x1 = ((ox + 1) * W + y[3] - 1) / y[3];
                }
                int64_t taps = 0;
                for (int64_t iy = y0; iy < y1; iy += dy)
                    for (int64_t ix = x0; ix < x1; ix += dx)
                        if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                            double v = xp[iy * W + ix];
                            s += v;
                            m = v > m || isnan(v) ? v : m;
                            taps++;
                        }
                if (n->op != OP_AVGPOOL || !a->count_include_pad)
                    cnt = (double)taps;
                out[(p * y[2] + oy) * y[3] + ox] = (float)(n->op == OP_MAXPOOL ? m : s / cnt);
            }
    }
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_MAXPOOL = {
    .eval = pool_eval,
    /* front end */
    .args = maxpool_args,
    .set_attrs = window_pool_set_attrs,
    .infer = window_pool_infer,
    .print = window_pool_print,
    /* back end */
    .emit = emit_maxpool,
};

const OpDef opdef_AVGPOOL = {
    .eval = pool_eval,
    /* front end */
    .args = avgpool_args,
    .set_attrs = window_pool_set_attrs,
    .infer = window_pool_infer,
    .print = window_pool_print,
    .channel_value = avgpool_channel_value,
    /* back end */
    .emit = emit_avgpool,
};

const OpDef opdef_GLOBAL_AVGPOOL = {
    .eval = pool_eval,
    /* front end */
    .args = NULL,
    .infer = global_avgpool_infer,
    /* back end */
    .emit = emit_global_avgpool,
};

const OpDef opdef_ADAPTIVE_AVGPOOL = {
    .eval = pool_eval,
    /* front end */
    .args = adaptive_args,
    .set_attrs = adaptive_set_attrs,
    .infer = adaptive_infer,
    .print = adaptive_print,
    /* back end */
    .emit = emit_adaptive_avgpool,
};
