/* emit_qfast.c - the fast quantized conv2d kernels (issue 13 part 4):
 * KERNEL_QCONV ("int8-direct", groups = 1) and KERNEL_QDW ("int8-depthwise",
 * one input channel per output), no unfolding.
 *
 * Per image the input is packed once into scratch (NAME_qpack): padded
 * with the input's zero point, split into stride phases (padded column
 * s * q + r goes to phase r, position q; likewise rows), so that for every
 * tap the output positions of a phase plane read consecutive positions. For
 * KERNEL_QCONV the channels are interleaved in fours (4 bytes a position:
 * one int32 lane of a u8 x s8 dot product), for KERNEL_QDW one byte a
 * position. Output position (oh, ow) is position oh * Wq + ow of the phase
 * planes (Wq a phase row's width); columns ow >= OW are computed and
 * dropped. A tap is one offset into the planes (the `tap` table).
 *
 * KERNEL_QCONV: register tiles of 8 output channels x 32 positions
 * (AVX-512 VNNI: 16 vpdpbusd per two 64-byte loads, the weight's 4 bytes
 * broadcast), 8 x 8 with AVX2 (vpmaddubsw on the low 7 bits and on the top
 * bit of each byte separately, so that no int16 pair sum saturates, then
 * vpmaddwd), portable C otherwise. Weights are packed at compile time:
 * [OC/8][C/4][tap][8 channels][4 bytes], zero where past C or OC.
 * KERNEL_QDW: 16 (8 with AVX2) positions of one channel at a time, bytes
 * widened to int32 and multiplied by the tap's weight.
 * Both end in the requantization of emit_quant.c done in registers:
 * acc - x_zero * sum(w) (padding is x_zero), times m[c] plus b[c] in float32
 * (separate multiply and add, as the scalar code), rounded to nearest even
 * (vcvtps2dq in the default mode, as nearbyintf), plus y_zero, clamped
 * (relu, relu6). The integer sums are exact, so every version gives the
 * direct loops' bytes. */
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "opdef.h"
#include "util.h"

/* `text` into the file scope with '$' as the network's prefix and '@' as
 * its upper-case one. */
static void put_template(Emitter *e, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '$')
            sb_puts(e->file_scope, e->net);
        else if (*p == '@')
            sb_puts(e->file_scope, e->NET);
        else
            sb_printf(e->file_scope, "%c", *p);
    }
}

/* The packing and the requantization's scatter: both kernels. */
static const char qpack_text[] =
    "/* The quantized conv2d's packed input (emit_qfast.c): padded with zx, split into\n"
    " * s x s stride phases of PL positions (rows of Wq), g channels interleaved. */\n"
    "typedef struct $_qgeom {\n"
    "    int C, H, W, pt, pl, s, Wq, PL, g, zx;\n"
    "    int OC, C4, T, OH, OW, zy, lo, hi;\n"
    "} $_qgeom;\n"
    "static void $_qpack(const $_qgeom *q, const unsigned char *x, unsigned char *xp)\n"
    "{\n"
    "    const int s = q->s, g = q->g;\n"
    "    const size_t hw = (size_t)q->H * q->W;\n"
    "    if (s == 1 && q->Wq == q->W && (size_t)q->PL - hw == 32 && q->C % g == 0)\n"
    "        for (int c4 = 0; c4 < q->C4; c4++) /* no padding: only the margins */\n"
    "            memset(xp + ((size_t)c4 * q->PL + hw) * g, q->zx, 32 * (size_t)g);\n"
    "    else\n"
    "        memset(xp, q->zx, (size_t)q->C4 * (size_t)(s * s) * (size_t)q->PL * (size_t)g);\n"
    "    for (int c = 0; c < q->C; c++) {\n"
    "        if (s == 1 && g == 4 && c % 4 != 0 && c / 4 * 4 + 3 < q->C)\n"
    "            continue; /* packed with channel c / 4 * 4 */\n"
    "        for (int ih = 0; ih < q->H; ih++) {\n"
    "            const int hp = ih + q->pt;\n"
    "            const unsigned char *xr = x + ((size_t)c * q->H + ih) * q->W;\n"
    "            if (s == 1 && g == 4 && c % 4 == 0 && c + 3 < q->C) { /* four channels' rows */\n"
    "                const unsigned char *x1 = xr + hw, *x2 = x1 + hw, *x3 = x2 + hw;\n"
    "                unsigned char *d = xp + ((size_t)(c / 4) * q->PL + (size_t)hp * q->Wq + q->pl) * 4;\n"
    "                int iw = 0;\n"
    "#ifdef @_QTILES\n"
    "                for (; iw + 16 <= q->W; iw += 16) { /* SSE2: 4 x 16 bytes interleaved */\n"
    "                    const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(xr + iw));\n"
    "                    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(x1 + iw));\n"
    "                    const __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(x2 + iw));\n"
    "                    const __m128i f = _mm_loadu_si128((const __m128i *)(const void *)(x3 + iw));\n"
    "                    const __m128i l = _mm_unpacklo_epi8(a, b), h = _mm_unpackhi_epi8(a, b);\n"
    "                    const __m128i l2 = _mm_unpacklo_epi8(e, f), h2 = _mm_unpackhi_epi8(e, f);\n"
    "                    _mm_storeu_si128((__m128i *)(void *)(d + 4 * iw), _mm_unpacklo_epi16(l, l2));\n"
    "                    _mm_storeu_si128((__m128i *)(void *)(d + 4 * iw + 16), _mm_unpackhi_epi16(l, l2));\n"
    "                    _mm_storeu_si128((__m128i *)(void *)(d + 4 * iw + 32), _mm_unpacklo_epi16(h, h2));\n"
    "                    _mm_storeu_si128((__m128i *)(void *)(d + 4 * iw + 48), _mm_unpackhi_epi16(h, h2));\n"
    "                }\n"
    "#endif\n"
    "                for (; iw < q->W; iw++) {\n"
    "                    d[4 * iw] = xr[iw];\n"
    "                    d[4 * iw + 1] = x1[iw];\n"
    "                    d[4 * iw + 2] = x2[iw];\n"
    "                    d[4 * iw + 3] = x3[iw];\n"
    "                }\n"
    "                continue;\n"
    "            }\n"
    "            if (s == 1 && g == 1) {\n"
    "                memcpy(xp + (size_t)c * q->PL + (size_t)hp * q->Wq + q->pl, xr, (size_t)q->W);\n"
    "                continue;\n"
    "            }\n"
    "            const int W = q->W, pl = q->pl;\n"
    "            unsigned char *d0 = xp + (((size_t)(c / g) * s * s + (size_t)(hp % s) * s) * q->PL +\n"
    "                                      (size_t)(hp / s) * q->Wq) * g + c % g;\n"
    "            int iw0 = 0;\n"
    "#ifdef @_QTILES\n"
    "            if (s == 2 && g == 1) { /* SSE2: even and odd padded columns of 32 bytes */\n"
    "                const __m128i lo8 = _mm_set1_epi16(255);\n"
    "                unsigned char *e = d0 + (size_t)(pl % 2) * q->PL, *o = d0 + (size_t)(1 - pl % 2) * q->PL;\n"
    "                for (; iw0 + 32 <= W; iw0 += 32) { /* iw0 + pl is padded column 2 * k + pl % 2 */\n"
    "                    const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(xr + iw0));\n"
    "                    const __m128i b2 = _mm_loadu_si128((const __m128i *)(const void *)(xr + iw0 + 16));\n"
    "                    const int k = (iw0 + pl) / 2;\n"
    "                    _mm_storeu_si128((__m128i *)(void *)(e + k), _mm_packus_epi16(_mm_and_si128(a, lo8), _mm_and_si128(b2, lo8)));\n"
    "                    _mm_storeu_si128((__m128i *)(void *)(o + k + pl % 2), _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b2, 8)));\n"
    "                }\n"
    "            }\n"
    "#endif\n"
    "            for (int iw = iw0, r = (iw0 + pl) % s, k = (iw0 + pl) / s; iw < W; iw++) {\n"
    "                d0[((size_t)r * q->PL + (size_t)k) * g] = xr[iw]; /* padded column s * k + r */\n"
    "                if (++r == s) {\n"
    "                    r = 0;\n"
    "                    k++;\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n"
    "/* n requantized bytes v of channel plane o from position p0 on; columns past OW dropped */\n"
    "static void $_qscatter(const $_qgeom *q, const unsigned char *v, int p0, int n, unsigned char *o)\n"
    "{\n"
    "    int oh = p0 / q->Wq, ow = p0 % q->Wq;\n"
    "    for (int i = 0; i < n; oh++, ow = 0) {\n"
    "        const int run = q->Wq - ow < n - i ? q->Wq - ow : n - i;\n"
    "        const int keep = ow >= q->OW ? 0 : q->OW - ow < run ? q->OW - ow : run;\n"
    "        if (keep == 16) /* a constant size: inlined */\n"
    "            memcpy(o + (size_t)oh * q->OW + ow, v + i, 16);\n"
    "        else if (keep > 0)\n"
    "            memcpy(o + (size_t)oh * q->OW + ow, v + i, (size_t)keep);\n"
    "        i += run;\n"
    "    }\n"
    "}\n"
    "/* emit_quant.c's requantization of one int32 sum */\n"
    "static int $_qreq(const $_qgeom *q, int acc, float m, float b)\n"
    "{\n"
    "    const float r = nearbyintf((float)acc * m + b) + (float)q->zy;\n"
    "    return r > (float)q->hi ? q->hi : r >= (float)q->lo ? (int)r : q->lo;\n"
    "}\n"
    "#ifdef @_QTILES\n"
    "/* the requantization in registers: clamped in float first, so that no conversion overflows */\n"
    "__attribute__((target(\"avx512f,avx512bw\")))\n"
    "static void $_qreq16(const $_qgeom *q, __m512i acc, int zs, float m, float b, unsigned char *v)\n"
    "{\n"
    "    __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_set1_epi32(zs)));\n"
    "    f = _mm512_add_ps(_mm512_mul_ps(f, _mm512_set1_ps(m)), _mm512_set1_ps(b));\n"
    "    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps((float)(q->lo - q->zy - 1))),\n"
    "                      _mm512_set1_ps((float)(q->hi - q->zy + 1)));\n"
    "    __m512i i = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(q->zy));\n"
    "    i = _mm512_min_epi32(_mm512_max_epi32(i, _mm512_set1_epi32(q->lo)), _mm512_set1_epi32(q->hi));\n"
    "    _mm_storeu_si128((__m128i *)(void *)v, _mm512_cvtepi32_epi8(i));\n"
    "}\n"
    "__attribute__((target(\"avx2\")))\n"
    "static void $_qreq8(const $_qgeom *q, __m256i acc, int zs, float m, float b, unsigned char *v)\n"
    "{\n"
    "    __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, _mm256_set1_epi32(zs)));\n"
    "    f = _mm256_add_ps(_mm256_mul_ps(f, _mm256_set1_ps(m)), _mm256_set1_ps(b));\n"
    "    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps((float)(q->lo - q->zy - 1))),\n"
    "                      _mm256_set1_ps((float)(q->hi - q->zy + 1)));\n"
    "    __m256i i = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(q->zy));\n"
    "    i = _mm256_min_epi32(_mm256_max_epi32(i, _mm256_set1_epi32(q->lo)), _mm256_set1_epi32(q->hi));\n"
    "    i = _mm256_packus_epi16(_mm256_packus_epi32(i, i), i); /* bytes 0-3 in lane 0, 4-7 in lane 1 */\n"
    "    const int lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(i)), hi = _mm_cvtsi128_si32(_mm256_extracti128_si256(i, 1));\n"
    "    memcpy(v, &lo, 4);\n"
    "    memcpy(v + 4, &hi, 4);\n"
    "}\n"
    "#endif\n\n";

/* KERNEL_QCONV's three versions and their dispatch. */
static const char qconv_text[] =
    "/* int8-direct: 8 output channels x 32 (AVX-512 VNNI) or 8 (AVX2) positions a tile */\n"
    "#ifdef @_QTILES\n"
    "static int $_ld4(const signed char *p)\n"
    "{\n"
    "    int v;\n"
    "    memcpy(&v, p, 4);\n"
    "    return v;\n"
    "}\n"
    "__attribute__((target(\"avx512f,avx512bw,avx512vnni\")))\n"
    "static void $_qconv_vnni(const $_qgeom *q, const unsigned char *xp, const signed char *w,\n"
    "                         const int *tap, const int *wsum, const float *m, const float *b,\n"
    "                         unsigned char *out)\n"
    "{\n"
    "    const int np = (q->OH - 1) * q->Wq + q->OW, sspl = q->s * q->s * q->PL;\n"
    "    unsigned char v[16];\n"
    "    for (int cb = 0; cb < q->OC; cb += 8) {\n"
    "        const signed char *wb = w + (size_t)cb * q->C4 * q->T * 4;\n"
    "        for (int p0 = 0; p0 < np; p0 += 32) {\n"
    "            __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0,\n"
    "                    s6 = s0, s7 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0, t4 = s0, t5 = s0,\n"
    "                    t6 = s0, t7 = s0;\n"
    "            const signed char *wp = wb;\n"
    "            for (int c4 = 0; c4 < q->C4; c4++) {\n"
    "                const unsigned char *xc = xp + ((size_t)c4 * sspl + p0) * 4;\n"
    "                for (int t = 0; t < q->T; t++, wp += 32) {\n"
    "                    const unsigned char *xt = xc + (size_t)tap[t] * 4;\n"
    "                    const __m512i x = _mm512_loadu_si512((const void *)xt);\n"
    "                    const __m512i y = _mm512_loadu_si512((const void *)(xt + 64));\n"
    "                    __m512i c;\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 0));\n"
    "                    s0 = _mm512_dpbusd_epi32(s0, x, c);\n"
    "                    t0 = _mm512_dpbusd_epi32(t0, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 4));\n"
    "                    s1 = _mm512_dpbusd_epi32(s1, x, c);\n"
    "                    t1 = _mm512_dpbusd_epi32(t1, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 8));\n"
    "                    s2 = _mm512_dpbusd_epi32(s2, x, c);\n"
    "                    t2 = _mm512_dpbusd_epi32(t2, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 12));\n"
    "                    s3 = _mm512_dpbusd_epi32(s3, x, c);\n"
    "                    t3 = _mm512_dpbusd_epi32(t3, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 16));\n"
    "                    s4 = _mm512_dpbusd_epi32(s4, x, c);\n"
    "                    t4 = _mm512_dpbusd_epi32(t4, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 20));\n"
    "                    s5 = _mm512_dpbusd_epi32(s5, x, c);\n"
    "                    t5 = _mm512_dpbusd_epi32(t5, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 24));\n"
    "                    s6 = _mm512_dpbusd_epi32(s6, x, c);\n"
    "                    t6 = _mm512_dpbusd_epi32(t6, y, c);\n"
    "                    c = _mm512_set1_epi32($_ld4(wp + 28));\n"
    "                    s7 = _mm512_dpbusd_epi32(s7, x, c);\n"
    "                    t7 = _mm512_dpbusd_epi32(t7, y, c);\n"
    "                }\n"
    "            }\n"
    "            const __m512i s[16] = {s0, s1, s2, s3, s4, s5, s6, s7, t0, t1, t2, t3, t4, t5, t6, t7};\n"
    "            for (int h = 0; h < 2 && p0 + 16 * h < np; h++) {\n"
    "                const int p = p0 + 16 * h, n = np - p < 16 ? np - p : 16;\n"
    "                for (int j = 0; j < 8 && cb + j < q->OC; j++) {\n"
    "                    const int co = cb + j;\n"
    "                    unsigned char *o = out + (size_t)co * q->OH * q->OW;\n"
    "                    if (n == 16 && q->Wq == q->OW) { /* no column dropped: stored in place */\n"
    "                        $_qreq16(q, s[8 * h + j], q->zx * wsum[co], m[co], b[co], o + p);\n"
    "                        continue;\n"
    "                    }\n"
    "                    $_qreq16(q, s[8 * h + j], q->zx * wsum[co], m[co], b[co], v);\n"
    "                    $_qscatter(q, v, p, n, o);\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n"
    "__attribute__((target(\"avx2\")))\n"
    "static void $_qconv_avx2(const $_qgeom *q, const unsigned char *xp, const signed char *w,\n"
    "                         const int *tap, const int *wsum, const float *m, const float *b,\n"
    "                         unsigned char *out)\n"
    "{\n"
    "    const int np = (q->OH - 1) * q->Wq + q->OW, sspl = q->s * q->s * q->PL;\n"
    "    const __m256i lo7 = _mm256_set1_epi8(127), bit = _mm256_set1_epi8(1);\n"
    "    const __m256i one = _mm256_set1_epi16(1), k128 = _mm256_set1_epi16(128);\n"
    "    unsigned char v[8];\n"
    "    for (int cb = 0; cb < q->OC; cb += 8) {\n"
    "        const signed char *wb = w + (size_t)cb * q->C4 * q->T * 4;\n"
    "        for (int p0 = 0; p0 < np; p0 += 8) {\n"
    "            __m256i s[8];\n"
    "            for (int j = 0; j < 8; j++)\n"
    "                s[j] = _mm256_setzero_si256();\n"
    "            const signed char *wp = wb;\n"
    "            for (int c4 = 0; c4 < q->C4; c4++) {\n"
    "                const unsigned char *xc = xp + ((size_t)c4 * sspl + p0) * 4;\n"
    "                for (int t = 0; t < q->T; t++, wp += 32) {\n"
    "                    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(xc + (size_t)tap[t] * 4));\n"
    "                    const __m256i xl = _mm256_and_si256(x, lo7);\n"
    "                    const __m256i xh = _mm256_and_si256(_mm256_srli_epi16(x, 7), bit);\n"
    "                    for (int j = 0; j < 8; j++) {\n"
    "                        const __m256i wv = _mm256_set1_epi32($_ld4(wp + 4 * j));\n"
    "                        const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(xl, wv), one);\n"
    "                        const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(xh, wv), k128);\n"
    "                        s[j] = _mm256_add_epi32(s[j], _mm256_add_epi32(pl, ph));\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "            const int n = np - p0 < 8 ? np - p0 : 8;\n"
    "            for (int j = 0; j < 8 && cb + j < q->OC; j++) {\n"
    "                const int co = cb + j;\n"
    "                $_qreq8(q, s[j], q->zx * wsum[co], m[co], b[co], v);\n"
    "                $_qscatter(q, v, p0, n, out + (size_t)co * q->OH * q->OW);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n"
    "#endif\n"
    "static void $_qconv(const $_qgeom *q, const unsigned char *xp, const signed char *w,\n"
    "                    const int *tap, const int *wsum, const float *m, const float *b,\n"
    "                    unsigned char *out)\n"
    "{\n"
    "    const int np = (q->OH - 1) * q->Wq + q->OW, sspl = q->s * q->s * q->PL;\n"
    "#ifdef @_QTILES\n"
    "    if ($_qisa == 2) {\n"
    "        $_qconv_vnni(q, xp, w, tap, wsum, m, b, out);\n"
    "        return;\n"
    "    }\n"
    "    if ($_qisa == 1) {\n"
    "        $_qconv_avx2(q, xp, w, tap, wsum, m, b, out);\n"
    "        return;\n"
    "    }\n"
    "#endif\n"
    "    for (int cb = 0; cb < q->OC; cb += 8) {\n"
    "        const signed char *wb = w + (size_t)cb * q->C4 * q->T * 4;\n"
    "        for (int p0 = 0; p0 < np; p0 += 16) {\n"
    "            const int n = np - p0 < 16 ? np - p0 : 16;\n"
    "            int acc[8][16];\n"
    "            unsigned char v[16];\n"
    "            memset(acc, 0, sizeof acc);\n"
    "            const signed char *wp = wb;\n"
    "            for (int c4 = 0; c4 < q->C4; c4++) {\n"
    "                const unsigned char *xc = xp + ((size_t)c4 * sspl + p0) * 4;\n"
    "                for (int t = 0; t < q->T; t++, wp += 32) {\n"
    "                    const unsigned char *xt = xc + (size_t)tap[t] * 4;\n"
    "                    for (int j = 0; j < 8; j++)\n"
    "                        for (int i = 0; i < n; i++)\n"
    "                            acc[j][i] += xt[4 * i] * wp[4 * j] + xt[4 * i + 1] * wp[4 * j + 1] +\n"
    "                                         xt[4 * i + 2] * wp[4 * j + 2] + xt[4 * i + 3] * wp[4 * j + 3];\n"
    "                }\n"
    "            }\n"
    "            for (int j = 0; j < 8 && cb + j < q->OC; j++) {\n"
    "                const int co = cb + j;\n"
    "                for (int i = 0; i < n; i++)\n"
    "                    v[i] = (unsigned char)$_qreq(q, acc[j][i] - q->zx * wsum[co], m[co], b[co]);\n"
    "                $_qscatter(q, v, p0, n, out + (size_t)co * q->OH * q->OW);\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n\n";

/* KERNEL_QDW's versions and their dispatch. */
static const char qdw_text[] =
    "/* int8-depthwise: 16 (AVX-512) or 8 (AVX2) positions of one channel at a time */\n"
    "#ifdef @_QTILES\n"
    "__attribute__((target(\"avx512f,avx512bw\")))\n"
    "static void $_qdw_512(const $_qgeom *q, const unsigned char *xp, const signed char *w,\n"
    "                      const int *tap, const int *wsum, const float *m, const float *b,\n"
    "                      unsigned char *out)\n"
    "{\n"
    "    const int np = (q->OH - 1) * q->Wq + q->OW, sspl = q->s * q->s * q->PL;\n"
    "    unsigned char v[16];\n"
    "    for (int c = 0; c < q->OC; c++) {\n"
    "        const unsigned char *xc = xp + (size_t)c * sspl;\n"
    "        const signed char *wc = w + (size_t)c * q->T;\n"
    "        for (int p0 = 0; p0 < np; p0 += 16) {\n"
    "            __m512i s = _mm512_setzero_si512();\n"
    "            for (int t = 0; t < q->T; t++) {\n"
    "                const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(xc + p0 + tap[t])));\n"
    "                s = _mm512_add_epi32(s, _mm512_mullo_epi32(x, _mm512_set1_epi32(wc[t])));\n"
    "            }\n"
    "            unsigned char *o = out + (size_t)c * q->OH * q->OW;\n"
    "            if (np - p0 >= 16 && q->Wq == q->OW) { /* no column dropped: stored in place */\n"
    "                $_qreq16(q, s, q->zx * wsum[c], m[c], b[c], o + p0);\n"
    "                continue;\n"
    "            }\n"
    "            $_qreq16(q, s, q->zx * wsum[c], m[c], b[c], v);\n"
    "            $_qscatter(q, v, p0, np - p0 < 16 ? np - p0 : 16, o);\n"
    "        }\n"
    "    }\n"
    "}\n"
    "__attribute__((target(\"avx2\")))\n"
    "static void $_qdw_avx2(const $_qgeom *q, const unsigned char *xp, const signed char *w,\n"
    "                       const int *tap, const int *wsum, const float *m, const float *b,\n"
    "                       unsigned char *out)\n"
    "{\n"
    "    const int np = (q->OH - 1) * q->Wq + q->OW, sspl = q->s * q->s * q->PL;\n"
    "    unsigned char v[8];\n"
    "    for (int c = 0; c < q->OC; c++) {\n"
    "        const unsigned char *xc = xp + (size_t)c * sspl;\n"
    "        const signed char *wc = w + (size_t)c * q->T;\n"
    "        for (int p0 = 0; p0 < np; p0 += 8) {\n"
    "            __m256i s = _mm256_setzero_si256();\n"
    "            for (int t = 0; t < q->T; t++) {\n"
    "                const __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(xc + p0 + tap[t])));\n"
    "                s = _mm256_add_epi32(s, _mm256_mullo_epi32(x, _mm256_set1_epi32(wc[t])));\n"
    "            }\n"
    "            $_qreq8(q, s, q->zx * wsum[c], m[c], b[c], v);\n"
    "            $_qscatter(q, v, p0, np - p0 < 8 ? np - p0 : 8, out + (size_t)c * q->OH * q->OW);\n"
    "        }\n"
    "    }\n"
    "}\n"
    "#endif\n"
    "static void $_qdw(const $_qgeom *q, const unsigned char *xp, const signed char *w,\n"
    "                  const int *tap, const int *wsum, const float *m, const float *b,\n"
    "                  unsigned char *out)\n"
    "{\n"
    "    const int np = (q->OH - 1) * q->Wq + q->OW, sspl = q->s * q->s * q->PL;\n"
    "#ifdef @_QTILES\n"
    "    if ($_qisa >= 1) {\n"
    "        if ($_qisa == 2)\n"
    "            $_qdw_512(q, xp, w, tap, wsum, m, b, out);\n"
    "        else\n"
    "            $_qdw_avx2(q, xp, w, tap, wsum, m, b, out);\n"
    "        return;\n"
    "    }\n"
    "#endif\n"
    "    for (int c = 0; c < q->OC; c++) {\n"
    "        const unsigned char *xc = xp + (size_t)c * sspl;\n"
    "        const signed char *wc = w + (size_t)c * q->T;\n"
    "        for (int p0 = 0; p0 < np; p0 += 16) {\n"
    "            const int n = np - p0 < 16 ? np - p0 : 16;\n"
    "            int acc[16];\n"
    "            unsigned char v[16];\n"
    "            memset(acc, 0, sizeof acc);\n"
    "            for (int t = 0; t < q->T; t++)\n"
    "                for (int i = 0; i < n; i++)\n"
    "                    acc[i] += xc[p0 + tap[t] + i] * wc[t];\n"
    "            for (int i = 0; i < n; i++)\n"
    "                v[i] = (unsigned char)$_qreq(q, acc[i] - q->zx * wsum[c], m[c], b[c]);\n"
    "            $_qscatter(q, v, p0, n, out + (size_t)c * q->OH * q->OW);\n"
    "        }\n"
    "    }\n"
    "}\n\n";

/* Whether n is the graph's first layer of kernel k (any of the fast ones
 * when k is KERNEL_DIRECT). */
static bool first_of(const Emitter *e, const Node *n, Kernel k)
{
    for (int i = 0; i < e->g->nnodes; i++) {
        Kernel ki = e->g->nodes[i]->kernel;
        if (k == KERNEL_DIRECT ? ki == KERNEL_QCONV || ki == KERNEL_QDW : ki == k)
            return e->g->nodes[i]->id == n->id;
    }
    return false;
}

void emit_qfast_layer(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    bool dw = n->kernel == KERNEL_QDW;
    QFastGeom q;
    qfast_geom(n, &q);
    long long C = in->dims[1], OC = o->dims[1], T = a->kh * a->kw, s = a->sh;
    emit_qisa_header(e, n);
    if (first_of(e, n, KERNEL_DIRECT))
        put_template(e, qpack_text);
    if (first_of(e, n, n->kernel))
        put_template(e, dw ? qdw_text : qconv_text);
    emit_fused_comment(e, n);
    /* the taps' offsets into the phase planes */
    int64_t *tap = xmalloc(sizeof *tap * (size_t)T);
    for (int64_t kh = 0; kh < a->kh; kh++)
        for (int64_t kw = 0; kw < a->kw; kw++) {
            int64_t y = kh * a->dh, x = kw * a->dw;
            tap[kh * a->kw + kw] = ((y % s) * s + x % s) * q.pl + y / s * q.wq + x / s;
        }
    emit_int_table(e, "tap", tap, T);
    free(tap);
    /* the weights, packed; their sums per output channel */
    int64_t nw = dw ? OC * T : q.oc8 * q.c4 * T * 4;
    int64_t *w = xcalloc((size_t)nw, sizeof *w), *ws = xcalloc((size_t)OC, sizeof *ws);
    for (int64_t co = 0; co < OC; co++)
        for (int64_t c = 0; c < (dw ? 1 : C); c++)
            for (int64_t t = 0; t < T; t++) {
                int64_t v = n->q->w[(co * (dw ? 1 : C) + c) * T + t];
                ws[co] += v;
                if (dw)
                    w[co * T + t] = v;
                else
                    w[(((co / 8 * q.c4 + c / 4) * T + t) * 8 + co % 8) * 4 + c % 4] = v;
            }
    emit_int_table_as(e, "signed char", "w", w, nw);
    emit_int_table(e, "wsum", ws, OC);
    free(w);
    free(ws);
    emit_requant_tables(e, n, OC);
    long long lo, hi;
    quant_clamp_range(n->fuse.act, o, &lo, &hi);
    out(e,
        "static const %s_qgeom q = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %d, %lld, "
        "%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld};",
        e->net, C, (long long)in->dims[2], (long long)in->dims[3], (long long)a->ph,
        (long long)a->pw, s, (long long)q.wq, (long long)q.pl, dw ? 1 : 4, (long long)in->qzero,
        OC, (long long)q.c4, T, (long long)o->dims[2], (long long)o->dims[3],
        (long long)o->qzero, lo, hi);
    open_block(e, "for (int bi = 0; bi < %lld; bi++) {", (long long)in->dims[0]);
    out(e, "%s_qpack(&q, in + (size_t)bi * %lld, (unsigned char *)scratch);", e->net,
        (long long)(C * in->dims[2] * in->dims[3]));
    out(e, "%s_%s(&q, (const unsigned char *)scratch, w, tap, wsum, m, b, out + (size_t)bi * %lld);",
        e->net, dw ? "qdw" : "qconv", (long long)(OC * o->dims[2] * o->dims[3]));
    close_brace(e);
}
