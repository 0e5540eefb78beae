/* emit_quant.c - the layers that compute on quint8 (docs/quantization.md):
 * conv2d (any groups, stride, padding, dilation), linear, add, concat, relu,
 * relu6, maxpool, avgpool, adaptive_avgpool and global_avgpool, in portable
 * C99 integer arithmetic with one float step per output (the requantization).
 *
 * The arithmetic is PyTorch's quantized engine's (onednn for conv2d and
 * linear, ATen's kernels for the rest), checked element by element by the
 * golden cases tests/golden/q_*:
 *   conv2d, linear: acc = sum (x - x_zero) * w over the taps inside the
 *     image (int32; padding is x_zero, which adds nothing), then
 *     y = clamp(round(acc * m[c] + b[c]) + y_zero) with, in float32,
 *     m[c] = (x_scale * w_scale[c]) / y_scale and b[c] = bias[c] / y_scale;
 *   add: a and b dequantized as fmaf(q, s, -zero * s), summed, quantized
 *     with round(v * (1 / y_scale)) + y_zero;
 *   concat: each input requantized, (q - zero) * s * (1 / y_scale);
 *   relu, relu6: a clamp to [zero, 255] or [zero, q(6)] (also fused into a
 *     conv2d or linear's clamp by fuse-activation);
 *   maxpool: the max of the bytes; avgpool, adaptive_avgpool and
 *     global_avgpool: the integer sum less count * zero, times 1 / divisor,
 *     rounded, plus the zero point (input and output share scale and zero).
 * round is to nearest, ties to even (nearbyintf in the default mode). */
#include <math.h>
#include <stdlib.h>

#include "emit_internal.h"
#include "opdef.h"
#include "util.h"

/* The clamp of node n's output: [0, 255], or relu's [zero, 255], or relu6's
 * [zero, q(6)] (act: the standalone or fused activation). */
void quant_clamp_range(OpKind act, const Tensor *t, long long *lo, long long *hi)
{
    *lo = 0;
    *hi = 255;
    if (act != OP_RELU && act != OP_RELU6)
        return;
    *lo = t->qzero;
    if (act == OP_RELU6) {
        float six = nearbyintf(6.0f * (1.0f / (float)t->qscale)) + (float)t->qzero;
        *hi = six < 255.0f ? (long long)six : 255;
    }
}

/* `out[at] = ` the float r clamped to [lo, hi], as a byte. */
static void store_clamped(Emitter *e, const char *at, long long lo, long long hi)
{
    out(e, "out[%s] = (unsigned char)(r > %lld.0f ? %lld.0f : r >= %lld.0f ? r : %lld.0f);", at, hi,
        hi, lo, lo);
}

/* The requantization's tables: m[c] and b[c], in float32. */
void emit_requant_tables(Emitter *e, const Node *n, int64_t oc)
{
    const QLayer *q = n->q;
    float sx = (float)n->in[0]->qscale, so = (float)q->scale;
    float *m = xmalloc(sizeof *m * (size_t)oc), *b = xmalloc(sizeof *b * (size_t)oc);
    for (int64_t c = 0; c < oc; c++) {
        float sw = sx * q->wscale[c];
        m[c] = sw / so;
        b[c] = q->bias ? q->bias[c] / so : 0.0f;
    }
    emit_float_table(e, "m", m, oc);
    emit_float_table(e, "b", b, oc);
    free(m);
    free(b);
}

/* The direct conv2d and linear's tables: the int8 weight as it is, m, b. */
static void emit_weight_tables(Emitter *e, const Node *n, int64_t oc, int64_t k)
{
    int64_t *w = xmalloc(sizeof *w * (size_t)(oc * k));
    for (int64_t i = 0; i < oc * k; i++)
        w[i] = n->q->w[i];
    emit_int_table_as(e, "signed char", "w", w, oc * k);
    free(w);
    emit_requant_tables(e, n, oc);
}

/* The accumulator type: int unless sums of k products of a byte and an
 * int8 could leave it. */
static const char *acc_type(int64_t k)
{
    return k * 255 * 128 < INT32_MAX ? "int" : "long long";
}

/* The requantization of acc for channel co into out[at]. */
static void emit_requant(Emitter *e, const Node *n, const char *co, const char *at)
{
    long long lo, hi;
    quant_clamp_range(n->fuse.act, n->out, &lo, &hi);
    out(e, "const float r = nearbyintf((float)acc * m[%s] + b[%s]) + %lld.0f;", co, co,
        (long long)n->out->qzero);
    store_clamped(e, at, lo, hi);
}

/* ---- KERNEL_QDOT: unfolded bytes and u8 x s8 dot products ---------------- */

/* NET_qdot4(a, w, kp, r): r[j] = sum over k < kp of a[k] * w[j * kp + k] for
 * j < 4, kp a multiple of 64; with AVX-512 VNNI 4 x vpdpbusd per 64 bytes,
 * with AVX2 the bytes widened to int16 and vpmaddwd (exact: vpmaddubsw's
 * int16 pair sums would saturate at 255 * 127 * 2), else portable C. Once
 * per file, before the first KERNEL_QDOT layer. */
static void emit_qdot_helpers(Emitter *e)
{
    const char *net = e->net, *NET = e->NET;
    StrBuf *f = e->file_scope;
    sb_printf(f,
              "/* u8 x s8 dot products of the quantized conv2d layers: r[j] = sum of a[k] * "
              "w[j * kp + k] */\n#ifdef %s_QTILES\n",
              NET);
    sb_printf(f,
              "__attribute__((target(\"avx512f,avx512bw,avx512vnni\")))\n"
              "static void %s_qdot4_vnni(const unsigned char *a, const signed char *w, int kp, "
              "int *r)\n{\n"
              "    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;\n"
              "    for (int k = 0; k < kp; k += 64) {\n"
              "        const __m512i x = _mm512_loadu_si512((const void *)(a + k));\n",
              net);
    for (int j = 0; j < 4; j++)
        sb_printf(f,
                  "        s%d = _mm512_dpbusd_epi32(s%d, x, _mm512_loadu_si512((const void *)(w "
                  "+ %d * kp + k)));\n",
                  j, j, j);
    sb_puts(f, "    }\n");
    for (int j = 0; j < 4; j++)
        sb_printf(f, "    r[%d] = _mm512_reduce_add_epi32(s%d);\n", j, j);
    sb_printf(f,
              "}\n__attribute__((target(\"avx2\")))\nstatic int %s_hsum8(__m256i v)\n{\n"
              "    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), "
              "_mm256_extracti128_si256(v, 1));\n"
              "    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));\n"
              "    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));\n"
              "    return _mm_cvtsi128_si32(s);\n}\n"
              "__attribute__((target(\"avx2\")))\n"
              "static void %s_qdot4_avx2(const unsigned char *a, const signed char *w, int kp, "
              "int *r)\n{\n"
              "    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;\n"
              "    for (int k = 0; k < kp; k += 16) {\n"
              "        const __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i "
              "*)(const void *)(a + k)));\n",
              net, net);
    for (int j = 0; j < 4; j++)
        sb_printf(f,
                  "        s%d = _mm256_add_epi32(s%d, _mm256_madd_epi16(x, "
                  "_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + %d "
                  "* kp + k)))));\n",
                  j, j, j);
    sb_puts(f, "    }\n");
    for (int j = 0; j < 4; j++)
        sb_printf(f, "    r[%d] = %s_hsum8(s%d);\n", j, net, j);
    sb_printf(
        f,
        "}\n#endif\nstatic void %s_qdot4(const unsigned char *a, const signed char *w, "
        "int kp, int *r)\n{\n#ifdef %s_QTILES\n"
        "    if (%s_qisa == 2) {\n        %s_qdot4_vnni(a, w, kp, r);\n        return;\n    }\n"
        "    if (%s_qisa == 1) {\n        %s_qdot4_avx2(a, w, kp, r);\n        return;\n    }\n"
        "#endif\n    for (int j = 0; j < 4; j++) {\n        int s = 0;\n"
        "        for (int k = 0; k < kp; k++)\n            s += a[k] * w[j * kp + k];\n"
        "        r[j] = s;\n    }\n}\n\n",
        net, NET, net, net, net, net);
}

/* Whether n is the graph's first KERNEL_QDOT layer (by id: a linear
 * comes here as a conv2d copy). */
static bool first_qdot(const Emitter *e, const Node *n)
{
    for (int i = 0; i < e->g->nnodes; i++)
        if (e->g->nodes[i]->kernel == KERNEL_QDOT)
            return e->g->nodes[i]->id == n->id;
    return false;
}

void emit_qisa_header(Emitter *e, const Node *n)
{
    for (int i = 0; i < e->g->nnodes; i++) {
        Kernel k = e->g->nodes[i]->kernel;
        if (k != KERNEL_QDOT && k != KERNEL_QCONV && k != KERNEL_QDW)
            continue;
        if (e->g->nodes[i]->id == n->id)
            sb_printf(e->file_scope,
                      "/* The quantized conv2d layers' instruction set */\n#if %s\n"
                      "#define %s_QTILES 1\n#include <immintrin.h>\n"
                      "/* 2: AVX-512 VNNI, 1: AVX2, 0: portable C; set on the first %s_run() "
                      "*/\nstatic int %s_qisa;\n#endif\n",
                      ISA_GUARD, e->NET, e->net, e->net);
        return;
    }
}

/* KERNEL_QDOT: per image, group and band of R output rows
 * (qdot_band_rows), the input unfolded into scratch, one row of kp bytes
 * per output position (padding taps x_zero, the row's tail
 * 0), then 4 output channels at a time the dot products of each row with
 * their weight rows (padded with 0 to kp, and to whole fours of channels);
 * acc = dot - x_zero * sum(w) is the direct kernel's sum exactly. */
static void emit_qconv_dot(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3], P = OH * OW, G = a->groups;
    long long cin_g = C / G, cout_g = OC / G, K = cin_g * a->kh * a->kw, kp = qdot_row(K);
    long long c4 = (cout_g + 3) / 4 * 4, zx = in->qzero, R = qdot_band_rows(OH, OW, K);
    emit_qisa_header(e, n);
    if (first_qdot(e, n))
        emit_qdot_helpers(e);
    emit_fused_comment(e, n);
    int64_t *w = xcalloc((size_t)(G * c4 * kp), sizeof *w), *ws = xcalloc((size_t)OC, sizeof *ws);
    for (long long co = 0; co < OC; co++)
        for (long long k = 0; k < K; k++) {
            w[(co / cout_g * c4 + co % cout_g) * kp + k] = n->q->w[co * K + k];
            ws[co] += n->q->w[co * K + k];
        }
    emit_int_table_as(e, "signed char", "w", w, G * c4 * kp);
    emit_int_table(e, "wsum", ws, OC);
    free(w);
    free(ws);
    emit_requant_tables(e, n, OC);
    out(e, "unsigned char *col = (unsigned char *)scratch;");
    open_block(e, "for (int bi = 0; bi < %lld; bi++) {", N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", G);
    out(e, "const unsigned char *x = in + (bi * %lld + g * %lld) * %lld;", C, cin_g, H * W);
    open_block(e, "for (int oh0 = 0; oh0 < %lld; oh0 += %lld) {", OH, R);
    out(e, "const int oh1 = oh0 + %lld < %lld ? oh0 + %lld : %lld;", R, OH, R, OH);
    open_block(e, "for (int oh = oh0; oh < oh1; oh++) {");
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", OW);
    out(e, "unsigned char *c = col + ((oh - oh0) * %lld + ow) * %lld;", OW, kp);
    open_block(e, "for (int ci = 0; ci < %lld; ci++) {", cin_g);
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", (long long)a->kh);
    out(e, "const int ih = oh * %lld - %lld + kh * %lld;", (long long)a->sh, (long long)a->ph,
        (long long)a->dh);
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", (long long)a->kw);
    out(e, "const int iw = ow * %lld - %lld + kw * %lld;", (long long)a->sw, (long long)a->pw,
        (long long)a->dw);
    out(e,
        "c[(ci * %lld + kh) * %lld + kw] = ih >= 0 && ih < %lld && iw >= 0 && iw < %lld ? "
        "x[ci * %lld + ih * %lld + iw] : %lld;",
        (long long)a->kh, (long long)a->kw, H, W, H * W, W, zx);
    for (int i = 0; i < 3; i++)
        close_brace(e);
    if (kp > K)
        out(e, "memset(c + %lld, 0, %lld);", K, kp - K);
    close_brace(e);
    close_brace(e);
    open_block(e, "for (int c0 = 0; c0 < %lld; c0 += 4) {", cout_g);
    out(e, "const signed char *wc = w + (g * %lld + c0) * %lld;", c4, kp);
    out(e, "const int nj = %lld - c0 < 4 ? %lld - c0 : 4;", cout_g, cout_g);
    open_block(e, "for (int p = 0; p < (oh1 - oh0) * %lld; p++) {", OW);
    out(e, "int r[4];");
    out(e, "%s_qdot4(col + p * %lld, wc, %lld, r);", e->net, kp, kp);
    open_block(e, "for (int j = 0; j < nj; j++) {");
    out(e, "const int co = g * %lld + c0 + j;", cout_g);
    out(e, "const int acc = r[j] - %lld * wsum[co];", zx);
    char at[96];
    snprintf(at, sizeof at, "(bi * %lld + co) * %lld + oh0 * %lld + p", OC, P, OW);
    emit_requant(e, n, "co", at);
    for (int i = 0; i < 6; i++)
        close_brace(e);
}

static void emit_qconv(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3];
    long long cin_g = C / a->groups, cout_g = OC / a->groups, K = cin_g * a->kh * a->kw;
    emit_fused_comment(e, n);
    emit_weight_tables(e, n, OC, K);
    open_block(e, "for (int bi = 0; bi < %lld; bi++) {", N);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    out(e, "const unsigned char *x = in + (bi * %lld + co / %lld * %lld) * %lld;", C, cout_g, cin_g,
        H * W);
    out(e, "const signed char *wc = w + co * %lld;", K);
    open_block(e, "for (int oh = 0; oh < %lld; oh++) {", OH);
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", OW);
    out(e, "%s acc = 0;", acc_type(K));
    open_block(e, "for (int ci = 0; ci < %lld; ci++) {", cin_g);
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", (long long)a->kh);
    out(e, "const int ih = oh * %lld - %lld + kh * %lld;", (long long)a->sh, (long long)a->ph,
        (long long)a->dh);
    out(e, "if (ih < 0 || ih >= %lld)", H);
    out(e, "    continue;");
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", (long long)a->kw);
    out(e, "const int iw = ow * %lld - %lld + kw * %lld;", (long long)a->sw, (long long)a->pw,
        (long long)a->dw);
    out(e, "if (iw >= 0 && iw < %lld)", W);
    out(e,
        "    acc += ((int)x[ci * %lld + ih * %lld + iw] - %lld) * wc[(ci * %lld + kh) * %lld + "
        "kw];",
        H * W, W, (long long)in->qzero, (long long)a->kh, (long long)a->kw);
    for (int i = 0; i < 3; i++)
        close_brace(e);
    char at[96];
    snprintf(at, sizeof at, "(bi * %lld + co) * %lld + oh * %lld + ow", OC, OH * OW, OW);
    emit_requant(e, n, "co", at);
    for (int i = 0; i < 4; i++)
        close_brace(e);
}

static void emit_qlinear(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], F = n->in[0]->dims[1], O = n->out->dims[1];
    emit_fused_comment(e, n);
    emit_weight_tables(e, n, O, F);
    open_block(e, "for (int bi = 0; bi < %lld; bi++) {", N);
    open_block(e, "for (int o = 0; o < %lld; o++) {", O);
    out(e, "%s acc = 0;", acc_type(F));
    out(e, "for (int i = 0; i < %lld; i++)", F);
    out(e, "    acc += ((int)in[bi * %lld + i] - %lld) * w[o * %lld + i];", F,
        (long long)n->in[0]->qzero, F);
    char at[64];
    snprintf(at, sizeof at, "bi * %lld + o", O);
    emit_requant(e, n, "o", at);
    close_brace(e);
    close_brace(e);
}

/* A KERNEL_QDOT linear: the 1x1 conv2d on [N, F, 1, 1] it is (same
 * memory, same weight rows). */
static void emit_qlinear_dot(Emitter *e, const Node *n)
{
    Tensor in = *n->in[0], o = *n->out, *ins[1] = {&in};
    in.rank = o.rank = 4;
    in.dims[2] = in.dims[3] = o.dims[2] = o.dims[3] = 1;
    Node c = *n;
    c.in = ins;
    c.out = &o;
    c.a.kh = c.a.kw = c.a.sh = c.a.sw = c.a.dh = c.a.dw = c.a.groups = 1;
    c.a.ph = c.a.pw = 0;
    emit_qconv_dot(e, &c);
}

/* add: both operands dequantized with one fma each, summed, quantized. */
static void emit_qadd(Emitter *e, const Node *n)
{
    const Tensor *a = n->in[0], *b = n->in[1], *o = n->out;
    char sa[48], sb[48], za[48], zb[48], inv[48];
    long long lo, hi;
    quant_clamp_range(n->fuse.act, o, &lo, &hi);
    open_block(e, "for (int i = 0; i < %lld; i++) {", (long long)ir_tensor_numel(o));
    out(e, "const float v = fmaf((float)in0[i], %s, %s) + fmaf((float)in1[i], %s, %s);",
        flit(a->qscale, sa, sizeof sa), flit((float)-a->qzero * (float)a->qscale, za, sizeof za),
        flit(b->qscale, sb, sizeof sb), flit((float)-b->qzero * (float)b->qscale, zb, sizeof zb));
    out(e, "const float r = nearbyintf(v * %s) + %lld.0f;",
        flit(1.0f / (float)o->qscale, inv, sizeof inv), (long long)o->qzero);
    store_clamped(e, "i", lo, hi);
    close_brace(e);
}

/* concat along the channels: each input's block of each image, requantized
 * to the output's scale and zero point. */
static void emit_qconcat(Emitter *e, const Node *n)
{
    const Tensor *o = n->out;
    long long N = o->dims[0], plane = ir_tensor_numel(o) / N, at = 0;
    char s[48], inv[48];
    flit(1.0f / (float)o->qscale, inv, sizeof inv);
    for (int i = 0; i < n->nin; i++) {
        const Tensor *t = n->in[i];
        long long len = ir_tensor_numel(t) / N;
        open_block(e, "for (int bi = 0; bi < %lld; bi++) {", N);
        open_block(e, "for (int i = 0; i < %lld; i++) {", len);
        out(e,
            "const float r = nearbyintf((float)((int)in%d[bi * %lld + i] - %lld) * %s * %s) "
            "+ %lld.0f;",
            i, len, (long long)t->qzero, flit(t->qscale, s, sizeof s), inv, (long long)o->qzero);
        char where[64];
        snprintf(where, sizeof where, "bi * %lld + %lld + i", plane, at);
        store_clamped(e, where, 0, 255);
        close_brace(e);
        close_brace(e);
        at += len;
    }
}

/* relu, relu6: a clamp, in the input's scale and zero point. */
static void emit_qclamp(Emitter *e, const Node *n)
{
    long long lo, hi;
    quant_clamp_range(n->op, n->out, &lo, &hi);
    open_block(e, "for (int i = 0; i < %lld; i++) {", (long long)ir_tensor_numel(n->out));
    out(e, "const int v = in[i];");
    out(e, "out[i] = (unsigned char)(v < %lld ? %lld : v > %lld ? %lld : v);", lo, lo, hi, hi);
    close_brace(e);
}

/* The pools' names: output (oh, ow) reads input (ih, iw). */
static const PoolVars qpool_vars = {
    .oy = "oh", .ox = "ow", .i = "kh", .j = "kw", .y = "ih", .x = "iw"};

static void emit_qpool_open(Emitter *e, const Node *n)
{
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {",
               (long long)(n->in[0]->dims[0] * n->in[0]->dims[1]));
    out(e, "const unsigned char *x = in + p * %lld;", H * W);
    out(e, "unsigned char *y = out + p * %lld;", (long long)(n->out->dims[2] * n->out->dims[3]));
    open_block(e, "for (int oh = 0; oh < %lld; oh++) {", (long long)n->out->dims[2]);
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", (long long)n->out->dims[3]);
}

/* The mean of the window h0 <= ih < h1, w0 <= iw < w1 with divisor `count`. */
static void emit_qmean(Emitter *e, const Node *n)
{
    long long W = n->in[0]->dims[3], z = n->in[0]->qzero;
    out(e, "int sum = 0;");
    out(e, "for (int ih = (int)h0; ih < (int)h1; ih++)");
    out(e, "    for (int iw = (int)w0; iw < (int)w1; iw++)");
    out(e, "        sum += x[ih * %lld + iw];", W);
    out(e, "sum -= (int)((h1 - h0) * (w1 - w0)) * %lld;", z);
    out(e,
        "const float r = count > 0 ? nearbyintf((float)sum * (1.0f / (float)count)) + "
        "%lld.0f : %lld.0f;",
        z, z);
    out(e, "y[oh * %lld + ow] = (unsigned char)(r > 255.0f ? 255.0f : r >= 0.0f ? r : 0.0f);",
        (long long)n->out->dims[3]);
}

static void emit_qpool(Emitter *e, const Node *n)
{
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long OH = n->out->dims[2], OW = n->out->dims[3];
    emit_qpool_open(e, n);
    if (n->op == OP_MAXPOOL) {
        out(e, "int m = 0;");
        emit_max_window_open(e, &n->a, H, W, &qpool_vars);
        out(e, "m = x[ih * %lld + iw] > m ? x[ih * %lld + iw] : m;", W, W);
        close_brace(e);
        close_brace(e);
        out(e, "y[oh * %lld + ow] = (unsigned char)m;", OW);
    } else if (n->op == OP_AVGPOOL) {
        emit_avg_window(e, &n->a, H, W, &qpool_vars);
        emit_qmean(e, n);
    } else { /* adaptive_avgpool, global_avgpool: [floor(i*in/out), ceil((i+1)*in/out)) */
        out(e,
            "const long long h0 = (long long)oh * %lld / %lld, h1 = ((long long)oh * %lld + "
            "%lld) / %lld;",
            H, OH, H, H + OH - 1, OH);
        out(e,
            "const long long w0 = (long long)ow * %lld / %lld, w1 = ((long long)ow * %lld + "
            "%lld) / %lld;",
            W, OW, W, W + OW - 1, OW);
        out(e, "const int count = (int)((h1 - h0) * (w1 - w0));");
        emit_qmean(e, n);
    }
    for (int i = 0; i < 3; i++)
        close_brace(e);
}

void emit_quant_layer(Emitter *e, const Node *n)
{
    switch (n->op) {
    case OP_CONV2D:
        if (n->kernel == KERNEL_QDOT)
            emit_qconv_dot(e, n);
        else
            emit_qconv(e, n);
        break;
    case OP_LINEAR:
        if (n->kernel == KERNEL_QDOT)
            emit_qlinear_dot(e, n);
        else
            emit_qlinear(e, n);
        break;
    case OP_ADD:
        emit_qadd(e, n);
        break;
    case OP_CONCAT:
        emit_qconcat(e, n);
        break;
    case OP_RELU:
    case OP_RELU6:
        emit_qclamp(e, n);
        break;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_ADAPTIVE_AVGPOOL:
    case OP_GLOBAL_AVGPOOL:
        emit_qpool(e, n);
        break;
    default:
        die("no quantized emitter for %s", op_name(n->op));
    }
}
