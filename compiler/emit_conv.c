/* emit_conv.c - direct convolution kernels shaped for the vector unit.
 *
 * KERNEL_BLOCKED (any KxK, stride, dilation, padding, groups): a block of
 * OCB = 16 output channels (one 512-bit vector) times up to MAX_NJ output
 * columns of one output row is held in MAX_NJ accumulator arrays of 16 floats.
 * For every input channel and kernel tap, each column's input value is
 * broadcast and multiplied with the 16 packed weights of that tap:
 *
 *     for (o = 0; o < 16; o++) { w = wk[o]; a0[o] = fma(x0, w, a0[o]); a1[o] = ...; }
 *
 * The o loop is a plain contiguous loop the C compiler vectorizes without
 * -ffast-math (at plain -O2 GCC keeps the arrays in memory, hence the
 * per-set tiles below): each accumulator sums in a fixed order (input channel,
 * then kernel row, then kernel column), so no reassociation is needed, and
 * the accumulators stay in registers across the ci/kh loops. Weights are
 * packed at compile time as [group][block][ci][kh][kw][16], zero-padded when a
 * group's output channels are not a multiple of 16 (the block shape and the
 * packing are kernels.h's ConvShape and conv_param_pack).
 *
 * Padding costs nothing: the kernel rows a given output row reads are
 * clipped at run time (kh_lo..kh_hi), and the output row is cut at compile
 * time into column blocks; blocks whose every tap is inside the image share
 * one loop, and each border block gets its own body in which the taps that
 * fall on padding are simply not emitted.
 *
 * KERNEL_DEPTHWISE (one input and one output channel per group, as in
 * MobileNet's depthwise layers): per channel and band of output rows, the
 * input rows zero-padded (and split into phases by the stride) in a local
 * buffer, then one loop over the band's outputs at the padded width with
 * every tap a load at a literal offset (emit_depthwise_band).
 *
 * Both write bias + activation once per output, or with a fused pool the raw
 * conv rows of a band into scratch (emit_conv_band_pool pools them).
 *
 * On x86-64 under GCC >= 6 and Clang both are also emitted once per
 * instruction set and chosen at run time (emit_isa_copies): the blocked
 * kernel as tiles of named vector accumulators in intrinsics (emit_tile),
 * the depthwise kernel as its portable C compiled for each set; the loops
 * above are what other compilers and targets run. */
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "util.h"

/* Where an output channel plane is a multiple of BLOCKED_ROWBUF_ALIGN bytes
 * (a 32x32 plane is 4 KB), the stores of a block's channels, one plane
 * apart, fall into the same L1 set and alias the input loads 4 KB apart: a
 * 3 -> 64 channel 3x3 conv on 32x32 ran 5.6x slower than on 33x33. There
 * each row goes to a local buffer of OCB rows (at most BLOCKED_ROWBUF_FLOATS)
 * first and is copied out one channel at a time. */
#ifndef BLOCKED_ROWBUF_ALIGN
#define BLOCKED_ROWBUF_ALIGN 1024
#endif
#ifndef BLOCKED_ROWBUF_FLOATS
#define BLOCKED_ROWBUF_FLOATS 8192
#endif
/* Layers with at least this many bytes of weights prefetch the next
 * block's weights while computing a block (emit_prefetch): they come from
 * L3 or memory, each block's only once per call. */
#ifndef BLOCKED_PREFETCH_BYTES
#define BLOCKED_PREFETCH_BYTES (256 * 1024)
#endif

/* ---- column plan ---------------------------------------------------------- */

/* Whether kernel column kw of output column ow reads inside the image. */
static bool tap_inside(const ConvShape *s, long long ow, long long kw)
{
    long long iw = ow * s->SW - s->PW + kw * s->DW;
    return iw >= 0 && iw < s->W;
}

/* Output columns per block: as even as possible, at most `most`. */
static long long block_width(long long ow, long long most)
{
    long long nblk = (ow + most - 1) / most;
    return (ow + nblk - 1) / nblk;
}

/* Whether every tap of columns ow0 .. ow0+nj-1 reads inside the image. */
static bool block_inside(const ConvShape *s, long long ow0, long long nj)
{
    return tap_inside(s, ow0, 0) && tap_inside(s, ow0 + nj - 1, s->KW - 1);
}

/* ---- KERNEL_BLOCKED --------------------------------------------------------- */

/* The row context: ih0, kh_lo, kh_hi of output row `oh`. */
static void emit_row_taps(Emitter *e, const ConvShape *s)
{
    out(e, "const int ih0 = oh * %lld - %lld;", s->SH, s->PH);
    out(e, "const int kh_lo = ih0 < 0 ? (-ih0 + %lld) / %lld : 0;", s->DH - 1, s->DH);
    out(e, "int kh_hi = (%lld - ih0 + %lld) / %lld;", s->H, s->DH - 1, s->DH);
    out(e, "kh_hi = kh_hi > %lld ? %lld : kh_hi < kh_lo ? kh_lo : kh_hi;", s->KH, s->KH);
}

/* Inside the ci loop of row oh: prefetch the next block's weights of
 * input channel ci into L2, a 1/OH share of their cache lines per row, so
 * that the next block finds them there. */
static void emit_prefetch(Emitter *e, const ConvShape *s)
{
    long long lines = s->KH * s->KW * s->OCB / 16; /* of 64 bytes per ci */
    long long per = (lines + s->OH - 1) / s->OH, parts = (lines + per - 1) / per;
    if (parts > 1)
        out(e, "const int pl = oh %% %lld * %lld < %lld ? oh %% %lld * %lld : %lld;", parts, per,
            lines - per, parts, per, lines - per);
    else
        out(e, "const int pl = 0;");
    for (long long k = 0; k < per; k++)
        out(e, "%s_PREFETCH(wn + ci * %lld + (pl + %lld) * 16);", e->NET, lines * 16, k);
}

/* ---- instruction sets (issue 15) ---------------------------------------------
 *
 * Compiled for baseline x86-64 (plain `cc -O2`), the portable block's
 * accumulator arrays stay in memory (GCC keeps them there at -O2 and
 * vectorizes with SSE2 only: 25% of the FMA peak), so on x86-64 with GCC >= 6
 * or Clang each blocked layer is also emitted once per instruction set, as
 * tiles of named local vector accumulators written with intrinsics inside
 * __attribute__((target(...))) functions, and the layer calls the copy for
 * the set cnnrt_cpu_isa() chose on the first NAME_run(); compiled with
 * AVX-512 enabled (-march=native on such a CPU) only that copy is emitted.
 * Other compilers and targets keep the portable C99 kernel, and so does any
 * build with -DCNNC_PORTABLE_KERNELS (for comparisons and tests).
 *
 * A tile is TW output channels (VPT vectors of VL floats) x NJ columns; the
 * packing stays [g][cb][ci][kh][kw][OCB], so a tile narrower than OCB runs
 * over the block's OCB / TW sub-blocks. */
typedef struct Isa {
    const char *sfx, *target;   /* name suffix, target("...") or NULL */
    const char *vt;             /* vector type */
    const char *zero, *loadu, *set1, *storeu, *fma, *mul, *add; /* fma NULL: mul + add */
    long long vl;               /* floats per vector */
    long long tw32, nj32;       /* channels and columns of a tile, 32-channel blocks */
    long long tw16, nj16;       /* the same for 16-channel blocks */
    int level;                  /* cnnrt_cpu_isa()'s value */
} Isa;

static const Isa isas[] = {
    {"avx512", "avx512f", "__m512", "_mm512_setzero_ps", "_mm512_loadu_ps", "_mm512_set1_ps",
     "_mm512_storeu_ps", "_mm512_fmadd_ps", NULL, NULL, 16, 32, 8, 16, 12, 2},
    {"avx2", "avx2,fma", "__m256", "_mm256_setzero_ps", "_mm256_loadu_ps", "_mm256_set1_ps",
     "_mm256_storeu_ps", "_mm256_fmadd_ps", NULL, NULL, 8, 16, 4, 16, 4, 1},
    {"sse", NULL, "__m128", "_mm_setzero_ps", "_mm_loadu_ps", "_mm_set1_ps", "_mm_storeu_ps", NULL,
     "_mm_mul_ps", "_mm_add_ps", 4, 8, 4, 8, 4, 0},
};
#define NISAS ((int)(sizeof isas / sizeof isas[0]))

/* The set whose copy is being emitted; NULL: the portable kernel. */
static const Isa *isa_cur;

/* The depthwise copy being emitted computes its taps with fmaf (one rounding
 * per multiply-add, as the blocked tiles): the AVX2 and AVX-512 copies,
 * whose targets have the instruction, so GCC vectorizes fmaf into it; the
 * SSE copy and the portable kernel use NET_FMA (fmaf only where the whole
 * file is compiled for FMA). Results differ across sets by the rounding of
 * the product, within the golden tolerances. */
static bool dw_fmaf;


/* The block shape for the kernel being emitted: the tile's columns. */
static ConvShape blocked_shape(const Node *n)
{
    ConvShape s = conv_shape(n);
    if (isa_cur)
        s.NJ = s.OCB == 32 ? isa_cur->nj32 : isa_cur->nj16;
    return s;
}

/* Channels of a tile (the sub-block width). */
static long long tile_width(const ConvShape *s)
{
    long long tw = s->OCB == 32 ? isa_cur->tw32 : isa_cur->tw16;
    return tw < s->OCB ? tw : s->OCB;
}

/* Whether column block ow0 .. ow0+nj-1 (ow0 < 0: the interior loop) has a
 * tap inside the image in kernel column kw, or in any column (kw < 0). */
static bool block_has_taps(const ConvShape *s, long long ow0, long long nj, long long kw)
{
    if (ow0 < 0)
        return true;
    for (long long k = kw < 0 ? 0 : kw; k < (kw < 0 ? s->KW : kw + 1); k++)
        for (long long j = 0; j < nj; j++)
            if (tap_inside(s, ow0 + j, k))
                return true;
    return false;
}

/* The store of a block: bias and activation once per output, or raw for a
 * fused pool. val(j) is column j's value of channel o (printf format with
 * %lld for j; NULL: no tap, 0). `co` is the channel offset of the block's
 * first channel ("" or "so + "), `nc` its channel count. */
static void emit_block_store(Emitter *e, const Node *n, long long ow0, long long nj, bool raw,
                             const char *ycs, const char *val, const char *co, const char *nc)
{
    char act[160], name[64];
    bool var = ow0 < 0;
    open_block(e, "for (int o = 0; o < %s; o++) {", nc);
    if (var)
        out(e, "float *yo = yr + (%so) * %s + ow;", co, ycs);
    else
        out(e, "float *yo = yr + (%so) * %s + %lld;", co, ycs, ow0);
    bool bias = !raw && n->param[PARAM_BIAS];
    if (bias)
        out(e, "const float bo = bb[%so];", co);
    for (long long j = 0; j < nj; j++) {
        if (val)
            snprintf(name, sizeof name, val, j);
        else
            snprintf(name, sizeof name, "0.0f");
        if (raw) {
            out(e, "yo[%lld] = %s;", j, name);
        } else if (n->fuse.act == OP_NONE) {
            out(e, "yo[%lld] = %s%s;", j, name, bias ? " + bo" : "");
        } else {
            out(e, "{");
            out(e, "    const float v = %s%s;", name, bias ? " + bo" : "");
            out(e, "    yo[%lld] = %s;", j, act_expr(n, "v", act, sizeof act));
            out(e, "}");
        }
    }
    close_brace(e);
}

/* The ci loop and the kh loop of a block, opened (two close_brace end them):
 * wc, the prefetch, xr and wk. `ws` is the block's (or sub-block's) weights. */
static void emit_block_loops(Emitter *e, const ConvShape *s, bool var, const char *ws)
{
    open_block(e, "for (int ci = 0; ci < %lld; ci++) {", s->cin_g);
    out(e, "const float *wc = %s + ci * %lld;", ws, s->KH * s->KW * s->OCB);
    if (s->PF)
        emit_prefetch(e, s);
    open_block(e, "for (int kh = kh_lo; kh < kh_hi; kh++) {");
    if (var)
        out(e, "const float *xr = x + ci * %lld + (ih0 + kh * %lld) * %lld + ow * %lld - %lld;",
            s->H * s->W, s->DH, s->W, s->SW, s->PW);
    else
        out(e, "const float *xr = x + ci * %lld + (ih0 + kh * %lld) * %lld;", s->H * s->W, s->DH,
            s->W);
    out(e, "const float *wk = wc + kh * %lld;", s->KW * s->OCB);
}

/* Offset in xr of tap kw of column j. */
static long long tap_offset(const ConvShape *s, long long ow0, long long j, long long kw)
{
    return ow0 < 0 ? j * s->SW + kw * s->DW : (ow0 + j) * s->SW - s->PW + kw * s->DW;
}

/* One tile of the current instruction set: TW channels (sub-block `co` of
 * the block, weights ws) x nj columns from ow0 (a literal, or the loop
 * variable `ow` when ow0 < 0; then every tap is inside), accumulators
 * a<v>_<j> in named vectors, stored to a local array for the store. */
static void emit_tile(Emitter *e, const Node *n, const ConvShape *s, long long ow0, long long nj,
                      bool raw, const char *ycs, const char *ws, const char *co, const char *nc)
{
    const Isa *I = isa_cur;
    long long tw = tile_width(s), nv = tw / I->vl;
    bool var = ow0 < 0;
    open_block(e, "{");
    if (!block_has_taps(s, ow0, nj, -1)) {
        /* every tap on padding: the outputs are the bias */
        emit_block_store(e, n, ow0, nj, raw, ycs, NULL, co, nc);
        close_brace(e);
        return;
    }
    StrBuf decl = {0};
    for (long long j = 0; j < nj; j++)
        for (long long v = 0; v < nv; v++)
            sb_printf(&decl, "%sa%lld_%lld = %s()", decl.len ? ", " : "", v, j, I->zero);
    out(e, "%s %s;", I->vt, decl.data ? decl.data : "");
    sb_free(&decl);
    emit_block_loops(e, s, var, ws);
    for (long long kw = 0; kw < s->KW; kw++) {
        if (!block_has_taps(s, ow0, nj, kw))
            continue; /* padding: no multiply-add */
        open_block(e, "{");
        StrBuf wl = {0};
        for (long long v = 0; v < nv; v++)
            sb_printf(&wl, "%sw%lld = %s(wk + %lld)", v ? ", " : "", v, I->loadu,
                      kw * s->OCB + v * I->vl);
        out(e, "const %s %s;", I->vt, wl.data);
        sb_free(&wl);
        for (long long j = 0; j < nj; j++) {
            if (!var && !tap_inside(s, ow0 + j, kw))
                continue;
            StrBuf l = {0};
            sb_printf(&l, "{ const %s xv = %s(xr[%lld]);", I->vt, I->set1, tap_offset(s, ow0, j, kw));
            for (long long v = 0; v < nv; v++) {
                if (I->fma)
                    sb_printf(&l, " a%lld_%lld = %s(w%lld, xv, a%lld_%lld);", v, j, I->fma, v, v, j);
                else
                    sb_printf(&l, " a%lld_%lld = %s(%s(w%lld, xv), a%lld_%lld);", v, j, I->add,
                              I->mul, v, v, j);
            }
            sb_puts(&l, " }");
            out(e, "%s", l.data);
            sb_free(&l);
        }
        close_brace(e);
    }
    close_brace(e);
    close_brace(e);
    out(e, "float tv[%lld];", nj * tw);
    for (long long j = 0; j < nj; j++)
        for (long long v = 0; v < nv; v++)
            out(e, "%s(tv + %lld, a%lld_%lld);", I->storeu, j * tw + v * I->vl, v, j);
    char val[32];
    snprintf(val, sizeof val, "tv[%%lld * %lld + o]", tw);
    emit_block_store(e, n, ow0, nj, raw, ycs, val, co, nc);
    close_brace(e);
}

/* One block of nj output columns starting at ow0 (a literal, or the loop
 * variable `ow` when ow0 < 0; then every tap is inside), portable C: the
 * accumulators, the ci/kh loops with the taps unrolled, and the store. */
static void emit_block(Emitter *e, const Node *n, const ConvShape *s, long long ow0, long long nj,
                       bool raw, const char *ycs)
{
    bool var = ow0 < 0;
    open_block(e, "{");
    if (!block_has_taps(s, ow0, nj, -1)) {
        /* every tap on padding: the outputs are the bias */
        emit_block_store(e, n, ow0, nj, raw, ycs, NULL, "", "nco");
        close_brace(e);
        return;
    }
    StrBuf decl = {0}, zero = {0};
    for (long long j = 0; j < nj; j++) {
        sb_printf(&decl, "%sa%lld[%lld]", j ? ", " : "", j, s->OCB);
        sb_printf(&zero, "a%lld[o] = ", j);
    }
    out(e, "float %s;", decl.data);
    out(e, "for (int o = 0; o < %lld; o++)", s->OCB);
    out(e, "    %s0.0f;", zero.data);
    sb_free(&decl);
    sb_free(&zero);
    emit_block_loops(e, s, var, "wb");
    for (long long kw = 0; kw < s->KW; kw++) {
        StrBuf loads = {0}, fmas = {0};
        int used = 0;
        for (long long j = 0; j < nj; j++) {
            if (!var && !tap_inside(s, ow0 + j, kw))
                continue; /* padding: no multiply-add */
            sb_printf(&loads, "%sx%lld = xr[%lld]", used ? ", " : "", j, tap_offset(s, ow0, j, kw));
            sb_printf(&fmas, " a%lld[o] = %s_FMA(x%lld, wv, a%lld[o]);", j, e->NET, j, j);
            used++;
        }
        if (used) {
            open_block(e, "{");
            out(e, "const float %s;", loads.data);
            open_block(e, "for (int o = 0; o < %lld; o++) {", s->OCB);
            out(e, "const float wv = wk[%lld + o];", kw * s->OCB);
            out(e, "%s", fmas.data + 1);
            close_brace(e);
            close_brace(e);
        }
        sb_free(&loads);
        sb_free(&fmas);
    }
    close_brace(e);
    close_brace(e);
    emit_block_store(e, n, ow0, nj, raw, ycs, "a%lld[o]", "", "nco");
    close_brace(e);
}

/* Column block ow0 (< 0: the interior loop's) of nj columns: a portable
 * block, or the current set's tile of the sub-block. */
static void emit_any_block(Emitter *e, const Node *n, const ConvShape *s, long long ow0,
                           long long nj, bool raw, const char *ycs, bool sub)
{
    if (isa_cur)
        emit_tile(e, n, s, ow0, nj, raw, ycs, sub ? "ws" : "wb", sub ? "so + " : "",
                  sub ? "ncs" : "nco");
    else
        emit_block(e, n, s, ow0, nj, raw, ycs);
}

/* One output row `oh` of one channel block: its column blocks, interior ones
 * in a loop; with a tile narrower than the block, per sub-block. */
static void emit_blocked_row(Emitter *e, const Node *n, const ConvShape *s, bool raw,
                             const char *ycs)
{
    long long nj = block_width(s->OW, s->NJ);
    bool taps = false;
    for (long long ow0 = 0; ow0 < s->OW && !taps; ow0++)
        taps = block_has_taps(s, ow0, 1, -1);
    emit_row_taps(e, s);
    if (!taps) /* every tap of the row on padding */
        out(e, "(void)x, (void)wb, (void)kh_hi;%s", s->PF ? " (void)wn;" : "");
    bool sub = isa_cur && tile_width(s) < s->OCB;
    if (sub) {
        long long tw = tile_width(s);
        open_block(e, "for (int so = 0; so < nco; so += %lld) {", tw);
        out(e, "const float *ws = wb + so;%s", taps ? "" : " (void)ws;");
        out(e, "const int ncs = nco - so < %lld ? nco - so : %lld;", tw, tw);
    }
    for (long long ow0 = 0; ow0 < s->OW;) {
        if (!block_has_taps(s, ow0, 1, -1)) {
            /* a run of columns whose every tap is on padding: the bias, in a
             * loop (however wide the padding, the code is not) */
            long long end = ow0 + 1;
            while (end < s->OW && !block_has_taps(s, end, 1, -1))
                end++;
            open_block(e, "for (int ow = %lld; ow < %lld; ow++) {", ow0, end);
            emit_block_store(e, n, -1, 1, raw, ycs, NULL, sub ? "so + " : "", sub ? "ncs" : "nco");
            close_brace(e);
            ow0 = end;
            continue;
        }
        long long w = s->OW - ow0 < nj ? s->OW - ow0 : nj;
        long long end = ow0;
        while (end + nj <= s->OW && block_inside(s, end, nj))
            end += nj;
        if (end - ow0 >= 2 * nj) {
            open_block(e, "for (int ow = %lld; ow < %lld; ow += %lld) {", ow0, end, nj);
            emit_any_block(e, n, s, -1, nj, raw, ycs, sub);
            close_brace(e);
            ow0 = end;
            continue;
        }
        emit_any_block(e, n, s, ow0, w, raw, ycs, sub);
        ow0 += w;
    }
    if (sub)
        close_brace(e);
}

/* Declarations of one channel block cb of group g: weights, bias, count. */
static void emit_block_context(Emitter *e, const Node *n, const ConvShape *s, bool raw)
{
    long long bs = s->cin_g * s->KH * s->KW * s->OCB;
    out(e, "const float *wb = w + (g * %lld + cb) * %lld;", s->NB, bs);
    if (s->PF)
        out(e, "const float *wn = g * %lld + cb + 1 < %lld ? wb + %lld : wb; /* the next block */",
            s->NB, s->G * s->NB, bs);
    if (!raw && n->param[PARAM_BIAS])
        out(e, "const float *bb = bias + g * %lld + cb * %lld;", s->cout_g, s->OCB);
    if (s->cout_g % s->OCB)
        out(e, "const int nco = cb < %lld ? %lld : %lld;", s->NB - 1, s->OCB,
            s->cout_g - (s->NB - 1) * s->OCB);
    else
        out(e, "const int nco = %lld;", s->OCB);
}

/* Band rows c0..c1 into conv (emit_conv_band_pool's callback). */
static void emit_blocked_band_rows(Emitter *e, const Node *n)
{
    ConvShape s = blocked_shape(n);
    s.PF = conv_param_floats(n, PARAM_WEIGHT) * 4 >= BLOCKED_PREFETCH_BYTES;
    out(e, "const int nrows = c1 - c0;");
    emit_parallel_for(e, s.cout_g * s.cin_g * s.KH * s.KW * n->fuse.band_conv_rows * s.OW);
    open_block(e, "for (int t = 0; t < %lld * nrows; t++) {", s.NB);
    out(e, "const int cb = t / nrows, oh = c0 + t %% nrows;");
    emit_block_context(e, n, &s, true);
    out(e, "float *yr = conv + cb * %lld * cols + (oh - c0) * %lld;", s.OCB, s.OW);
    emit_blocked_row(e, n, &s, true, "cols");
    close_brace(e);
}

/* The body of a blocked layer, for the current set. */
static void emit_blocked_body(Emitter *e, const Node *n)
{
    ConvShape s = blocked_shape(n);
    char w[REF_SIZE], b[REF_SIZE], ycs[32];
    if (n->fuse.pool) {
        emit_conv_band_pool(e, n, 0, emit_blocked_band_rows);
        return;
    }
    s.PF = conv_param_floats(n, PARAM_WEIGHT) * 4 >= BLOCKED_PREFETCH_BYTES;
    bool rowbuf =
        (s.OH * s.OW * 4) % BLOCKED_ROWBUF_ALIGN == 0 && s.OCB * s.OW <= BLOCKED_ROWBUF_FLOATS;
    out(e, "const float *w = %s; /* packed [g][cb][ci][kh][kw][%lld] */",
        wptr(e, n, PARAM_WEIGHT, w, sizeof w), s.OCB);
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", s.N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", s.G);
    out(e, "const float *x = in + (b * %lld + g * %lld) * %lld;", s.C, s.cin_g, s.H * s.W);
    emit_parallel_for(e, s.cout_g * s.cin_g * s.KH * s.KW * s.OH * s.OW);
    open_block(e, "for (int t = 0; t < %lld; t++) {", s.NB * s.OH);
    out(e, "const int cb = t / %lld, oh = t %% %lld;", s.OH, s.OH);
    emit_block_context(e, n, &s, false);
    out(e, "float *%s = out + (b * %lld + g * %lld + cb * %lld) * %lld + oh * %lld;",
        rowbuf ? "yo" : "yr", s.OC, s.cout_g, s.OCB, s.OH * s.OW, s.OW);
    if (rowbuf) {
        /* the row of each output channel into rb first (see BLOCKED_ROWBUF_FLOATS) */
        out(e, "float rb[%lld], *yr = rb;", s.OCB * s.OW);
        snprintf(ycs, sizeof ycs, "%lld", s.OW);
    } else {
        snprintf(ycs, sizeof ycs, "%lld", s.OH * s.OW);
    }
    emit_blocked_row(e, n, &s, false, ycs);
    if (rowbuf) {
        out(e, "for (int o = 0; o < nco; o++)");
        out(e, "    memcpy(yo + o * %lld, rb + o * %lld, %lld);", s.OH * s.OW, s.OW, s.OW * 4);
    }
    close_brace(e);
    close_brace(e);
    close_brace(e);
}

/* The layer function's signature line, for a copy named FN_SFX. */
static char *layer_signature(const Emitter *e, const char *fn, const char *sfx)
{
    return xasprintf("static void %s_%s(%s)", fn, sfx, e->layer_params);
}

/* The arguments the layer passes on to a copy: in, out and scratch when
 * the signature has it. */
static const char *layer_args(const char *sig)
{
    return strstr(sig, "scratch)") ? "in, out, scratch" : "in, out";
}

/* A layer emitted once per instruction set (before it, at file scope) and
 * the layer itself calling the copy for NAME_isa, or under other compilers
 * the portable body. With `tiles`, the copies are the blocked kernel's tiles
 * of each set (isa_cur); without, the same portable C compiled for each set
 * (the depthwise kernel: GCC's vectorizer then uses the set's vectors at
 * plain -O2, 512-bit ones for AVX-512 where GCC would pick 256). */
static void emit_isa_copies(Emitter *e, const Node *n, void (*body)(Emitter *, const Node *),
                            bool tiles)
{
    char *fn = layer_fn(n);
    StrBuf copies = {0}, *saved = e->sb;
    int indent = e->indent;
    char *sig[NISAS];
    for (int i = 0; i < NISAS; i++)
        sig[i] = layer_signature(e, fn, isas[i].sfx);
    const char *args = layer_args(sig[0]);
    e->sb = &copies;
    e->indent = 0;
    sb_printf(&copies, "#if %s\n#define %s_TILES 1\n#include <immintrin.h>\n", ISA_GUARD, e->NET);
    sb_printf(&copies,
              "#ifndef %s_ISA_DECLARED\n#define %s_ISA_DECLARED 1\n"
              "/* cnnrt_cpu_isa(), set on the first %s_run() */\nstatic int %s_isa;\n"
              "/* GCC vectorizes with 256-bit vectors unless asked */\n#ifdef __clang__\n"
              "#define %s_VW512 \"\"\n#else\n#define %s_VW512 \",prefer-vector-width=512\"\n"
              "#endif\n#endif\n",
              e->NET, e->NET, e->net, e->net, e->NET, e->NET);
    for (int i = 0; i < NISAS; i++) {
        isa_cur = tiles ? &isas[i] : NULL;
        dw_fmaf = !tiles && isas[i].fma;
        if (i == 1)
            sb_puts(&copies, "#ifndef __AVX512F__\n");
        if (isas[i].target)
            sb_printf(&copies, "__attribute__((target(\"%s\"%s%s)))\n", isas[i].target,
                      i == 0 && !tiles ? " " : "", i == 0 && !tiles ? e->NET : "");
        if (i == 0 && !tiles) /* the macro's name after the NET prefix */
            copies.len -= strlen(")))\n"), sb_puts(&copies, "_VW512)))\n");
        sb_printf(&copies, "%s\n{\n", sig[i]);
        free(sig[i]);
        e->indent = 1;
        body(e, n);
        e->indent = 0;
        out(e, "}");
    }
    isa_cur = NULL;
    dw_fmaf = false;
    sb_puts(&copies, "#endif /* !__AVX512F__ */\n#endif\n\n");
    e->sb = saved;
    e->indent = indent;
    sb_puts(e->file_scope, copies.data); /* before the layer, at file scope */
    sb_free(&copies);
    /* the layer: the copy for this CPU, or the portable kernel */
    sb_printf(e->sb, "#ifdef %s_TILES\n", e->NET);
    sb_puts(e->sb, "#ifdef __AVX512F__\n");
    out(e, "(void)%s_isa;", e->net);
    out(e, "%s_%s(%s);", fn, isas[0].sfx, args);
    sb_puts(e->sb, "#else\n");
    open_block(e, "switch (%s_isa) {", e->net);
    for (int i = 0; i < NISAS; i++) {
        out(e, i == NISAS - 1 ? "default:" : "case %d:", isas[i].level);
        out(e, "    %s_%s(%s);", fn, isas[i].sfx, args);
        out(e, "    break;");
    }
    close_brace(e);
    sb_puts(e->sb, "#endif\n#else\n");
    body(e, n);
    sb_puts(e->sb, "#endif\n");
    free(fn);
}

void emit_conv_blocked(Emitter *e, const Node *n)
{
    emit_fused_comment(e, n);
    emit_isa_copies(e, n, emit_blocked_body, true);
}

/* ---- KERNEL_DEPTHWISE ------------------------------------------------------- */

/* Floats of a depthwise band's local buffers (its padded input and its conv
 * values) that fit L1 with room to spare; a band is at least one row. */
#ifndef DW_BAND_FLOATS
#define DW_BAND_FLOATS 8192
#endif

/* The layout of a band of R output rows: the input rows they read, zero-
 * padded and split into SH x SW phases by row and column modulo the stride,
 * RQ rows of WQ floats per phase (P floats in all), so that every tap reads
 * the band's outputs, taken row after row at pitch WQ, as consecutive
 * floats. The loop over them runs L iterations, the outputs rounded up to a
 * multiple of 16: a literal trip count that every vector width divides, so
 * GCC's -O2 cost model (which vectorizes only loops that need no scalar
 * remainder) vectorizes it too. xq has a zeroed margin past the phases for
 * the reads of the extra iterations. */
typedef struct DwBand {
    long long R, RQ, WQ, P, L, xq; /* rows; per phase rows, width; floats */
} DwBand;

/* Offset in xq of tap (kh, kw) of output 0. */
static long long dw_tap_offset(const ConvShape *s, const DwBand *d, long long kh, long long kw)
{
    long long y = kh * s->DH, x = kw * s->DW;
    return (y % s->SH * s->SW + x % s->SW) * d->RQ * d->WQ + y / s->SH * d->WQ + x / s->SW;
}

static DwBand dw_band(const ConvShape *s, long long R)
{
    DwBand d;
    d.R = R;
    d.WQ = (s->W + s->PW + s->PR + s->SW - 1) / s->SW;
    d.RQ = ((R - 1) * s->SH + (s->KH - 1) * s->DH + s->SH) / s->SH;
    d.P = s->SH * s->SW * d.RQ * d.WQ;
    d.L = ((R - 1) * d.WQ + s->OW + 15) / 16 * 16;
    d.xq = d.P;
    for (long long kh = 0; kh < s->KH; kh++)
        for (long long kw = 0; kw < s->KW; kw++)
            if (d.L + dw_tap_offset(s, &d, kh, kw) > d.xq)
                d.xq = d.L + dw_tap_offset(s, &d, kh, kw);
    return d;
}

/* The most rows (up to `most`) whose buffers fit DW_BAND_FLOATS, then as
 * even a split of `most` rows as that many bands allow. */
static DwBand dw_band_plan(const ConvShape *s, long long most)
{
    long long R = 1;
    while (R < most) {
        DwBand d = dw_band(s, R + 1);
        if (d.xq + d.L > DW_BAND_FLOATS)
            break;
        R++;
    }
    long long nb = (most + R - 1) / R;
    return dw_band(s, (most + nb - 1) / nb);
}

/* Image row xr into the two column phases of d (stride 2): even columns
 * 2k to one phase, odd ones 2k + 1 to the other, in one loop over k whose
 * trip count is a multiple of 16, so GCC vectorizes its stride-2 loads (into
 * permutes) at plain -O2 as it does the tap loop; the rest in a second loop.
 * A loop per phase (a strided gather of 55 or 56 iterations) stayed scalar
 * and made MobileNet-v2's 112x112 stride-2 layer the slowest depthwise one. */
static void emit_dw_deinterleave2(Emitter *e, const ConvShape *s, long long phase)
{
    long long pe = s->PW % 2, po = (1 + s->PW) % 2;
    long long at_e = pe * phase + (s->PW - pe) / 2, at_o = po * phase + (1 + s->PW - po) / 2;
    long long pairs = s->W / 2, k16 = pairs / 16 * 16;
    if (k16 > 0) {
        open_block(e, "for (int k = 0; k < %lld; k++) {", k16);
        out(e, "d[%lld + k] = xr[2 * k];", at_e);
        out(e, "d[%lld + k] = xr[2 * k + 1];", at_o);
        close_brace(e);
    }
    if (pairs > k16) {
        open_block(e, "for (int k = %lld; k < %lld; k++) {", k16, pairs);
        out(e, "d[%lld + k] = xr[2 * k];", at_e);
        out(e, "d[%lld + k] = xr[2 * k + 1];", at_o);
        close_brace(e);
    }
    if (s->W % 2)
        out(e, "d[%lld] = xr[%lld];", at_e + pairs, s->W - 1);
}

/* Output rows r0 .. r0 + nr - 1 of one channel (input plane xc, taps
 * w0.., bias bo) into yb + (r0 - base) * OW (base NULL: 0): the input rows
 * of a whole band (zeros outside the image) are copied into xq, then each
 * output is the bias plus the taps in kernel order, a padded tap adding
 * x * 0; one loop over the band's outputs at pitch WQ, its accumulator in a
 * register and each tap one load at a literal offset, so it vectorizes
 * however short the rows are. The few columns past OW in each row, and the
 * rows past nr in a last, partial band, are computed and dropped. */
static void emit_depthwise_band(Emitter *e, const Node *n, const ConvShape *s, const DwBand *d,
                                bool raw, const char *yb, const char *base)
{
    char act[160];
    long long phase = d->RQ * d->WQ;
    out(e, "float xq[%lld], cv[%lld];", d->xq, d->L);
    if (d->xq > d->P)
        out(e, "memset(xq + %lld, 0, %lld);", d->P, (d->xq - d->P) * 4);
    open_block(e, "for (int pr = 0; pr < %lld; pr++) {", d->RQ * s->SH);
    out(e, "const int ih = r0 * %lld - %lld + pr;", s->SH, s->PH);
    if (s->SH == 1)
        out(e, "float *d = xq + pr * %lld;", d->WQ);
    else
        out(e, "float *d = xq + pr %% %lld * %lld + pr / %lld * %lld;", s->SH, s->SW * phase, s->SH,
            d->WQ);
    open_block(e, "if (ih < 0 || ih >= %lld) {", s->H);
    for (long long px = 0; px < s->SW; px++)
        out(e, "memset(d + %lld, 0, %lld);", px * phase, d->WQ * 4);
    out(e, "continue;");
    close_brace(e);
    out(e, "const float *xr = xc + ih * %lld;", s->W);
    for (long long px = 0; px < s->SW; px++) {
        /* phase column q holds image column q * SW + px - PW */
        long long lo = 0, hi = d->WQ;
        while (lo < d->WQ && lo * s->SW + px - s->PW < 0)
            lo++;
        while (hi > lo && (hi - 1) * s->SW + px - s->PW >= s->W)
            hi--;
        long long at = px * phase, off = px - s->PW;
        char dq[48];
        snprintf(dq, sizeof dq, at ? "d[%lld + q]" : "d[q]", at);
        if (lo > 0) {
            out(e, "for (int q = 0; q < %lld; q++)", lo);
            out(e, "    %s = 0.0f;", dq);
        }
        if (s->SW == 1) {
            out(e, "memcpy(d + %lld, xr + %lld, %lld);", at + lo, lo - s->PW, (hi - lo) * 4);
        } else if (s->SW == 2) {
            /* both phases at once, below */
        } else {
            out(e, "for (int q = %lld; q < %lld; q++)", lo, hi);
            out(e, "    %s = xr[q * %lld %c %lld];", dq, s->SW, off < 0 ? '-' : '+', llabs(off));
        }
        if (hi < d->WQ) {
            out(e, "for (int q = %lld; q < %lld; q++)", hi, d->WQ);
            out(e, "    %s = 0.0f;", dq);
        }
    }
    if (s->SW == 2)
        emit_dw_deinterleave2(e, s, phase);
    close_brace(e);
    open_block(e, "for (int i = 0; i < %lld; i++) {", d->L);
    out(e, "float a = %s;", !raw && n->param[PARAM_BIAS] ? "bo" : "0.0f");
    for (long long kh = 0; kh < s->KH; kh++)
        for (long long kw = 0; kw < s->KW; kw++) {
            long long off = dw_tap_offset(s, d, kh, kw), t = kh * s->KW + kw;
            if (dw_fmaf)
                out(e, "a = fmaf(xq[i + %lld], w%lld, a);", off, t);
            else
                out(e, "a = %s_FMA(xq[i + %lld], w%lld, a);", e->NET, off, t);
        }
    /* the activation here, in the vector loop: a second, per-row pass over
     * the values was scalar, its branches mispredicted on the data */
    if (raw || n->fuse.act == OP_NONE) {
        out(e, "cv[i] = a;");
    } else {
        out(e, "const float v = a;");
        out(e, "cv[i] = %s;", act_expr(n, "v", act, sizeof act));
    }
    close_brace(e);
    open_block(e, "for (int r = 0; r < nr; r++)");
    if (base)
        out(e, "memcpy(%s + (r0 - %s + r) * %lld, cv + r * %lld, %lld);", yb, base, s->OW, d->WQ,
            s->OW * 4);
    else
        out(e, "memcpy(%s + (r0 + r) * %lld, cv + r * %lld, %lld);", yb, s->OW, d->WQ, s->OW * 4);
    e->indent--;
}

/* Whether the band layout serves this layer: its phases are few (strides
 * up to DW_MAX_STRIDE; the copy-in code is one piece per column phase) and
 * a one-row band's buffers, on the stack, fit DW_BAND_FLOATS. Otherwise
 * (hostile shapes: a stride of 1000, an image 10000 wide) the direct loops
 * of emit_depthwise_direct, with no buffer and code of a constant size. */
#ifndef DW_MAX_STRIDE
#define DW_MAX_STRIDE 4
#endif
static bool dw_banded(const ConvShape *s)
{
    if (s->SH > DW_MAX_STRIDE || s->SW > DW_MAX_STRIDE)
        return false;
    DwBand d = dw_band(s, 1);
    return d.xq + d.L <= DW_BAND_FLOATS;
}

/* Output rows r0 .. r0 + nr - 1 of one channel (input plane xc, taps wc,
 * bias bo) into yb + (r0 - base) * OW as emit_depthwise_band does, with
 * plain loops: every tap inside the image, in kernel order. */
static void emit_depthwise_direct(Emitter *e, const Node *n, const ConvShape *s, bool raw,
                                  const char *yb, const char *base)
{
    char act[160];
    open_block(e, "for (int r = 0; r < nr; r++) {");
    out(e, "const int ih0 = (r0 + r) * %lld - %lld;", s->SH, s->PH);
    if (base)
        out(e, "float *yr = %s + (r0 - %s + r) * %lld;", yb, base, s->OW);
    else
        out(e, "float *yr = %s + (r0 + r) * %lld;", yb, s->OW);
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", s->OW);
    out(e, "const int iw0 = ow * %lld - %lld;", s->SW, s->PW);
    out(e, "float a = %s;", !raw && n->param[PARAM_BIAS] ? "bo" : "0.0f");
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", s->KH);
    out(e, "const int ih = ih0 + kh * %lld;", s->DH);
    out(e, "if (ih < 0 || ih >= %lld)", s->H);
    out(e, "    continue;");
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", s->KW);
    out(e, "const int iw = iw0 + kw * %lld;", s->DW);
    out(e, "if (iw >= 0 && iw < %lld)", s->W);
    out(e, "    a = %s_FMA(xc[ih * %lld + iw], wc[kh * %lld + kw], a);", e->NET, s->W, s->KW);
    close_brace(e);
    close_brace(e);
    out(e, "const float v = a;");
    out(e, "yr[ow] = %s;", raw ? "v" : act_expr(n, "v", act, sizeof act));
    close_brace(e);
    close_brace(e);
}

/* The taps of channel oc as scalars w0.., and its bias bo. */
static void emit_depthwise_taps(Emitter *e, const Node *n, const ConvShape *s, bool raw)
{
    if (!dw_banded(s)) { /* emit_depthwise_direct reads wc */
        if (!raw && n->param[PARAM_BIAS])
            out(e, "const float bo = bias[oc];");
        return;
    }
    StrBuf sb = {0};
    for (long long t = 0; t < s->KH * s->KW; t++)
        sb_printf(&sb, "%sw%lld = wc[%lld]", t ? ", " : "", t, t);
    out(e, "const float %s;", sb.data);
    sb_free(&sb);
    if (!raw && n->param[PARAM_BIAS])
        out(e, "const float bo = bias[oc];");
}

/* Band rows c0..c1 into conv (emit_conv_band_pool's callback); a group is
 * one channel here. */
static void emit_depthwise_band_rows(Emitter *e, const Node *n)
{
    ConvShape s = conv_shape(n);
    out(e, "const float *xc = x;");
    out(e, "const float *wc = w + g * %lld;", s.KH * s.KW);
    emit_depthwise_taps(e, n, &s, true);
    if (!dw_banded(&s)) {
        open_block(e, "{"); /* (the pooling after it has an r0 of its own) */
        out(e, "const int r0 = c0, nr = c1 - c0;");
        emit_depthwise_direct(e, n, &s, true, "conv", "c0");
        close_brace(e);
        return;
    }
    DwBand d = dw_band_plan(&s, n->fuse.band_conv_rows);
    open_block(e, "for (int r0 = c0; r0 < c1; r0 += %lld) {", d.R);
    out(e, "const int nr = c1 - r0 < %lld ? c1 - r0 : %lld;", d.R, d.R);
    emit_depthwise_band(e, n, &s, &d, true, "conv", "c0");
    close_brace(e);
}

static void emit_depthwise_body(Emitter *e, const Node *n)
{
    ConvShape s = conv_shape(n);
    char w[REF_SIZE], b[REF_SIZE];
    if (n->fuse.pool) {
        emit_conv_band_pool(e, n, 0, emit_depthwise_band_rows);
        return;
    }
    bool banded = dw_banded(&s);
    DwBand d = banded ? dw_band_plan(&s, s.OH) : dw_band(&s, s.OH);
    long long nb = (s.OH + d.R - 1) / d.R;
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", s.N);
    out(e, "const float *x = in + b * %lld;", s.C * s.H * s.W);
    emit_parallel_for(e, s.OC * s.KH * s.KW * s.OH * s.OW);
    open_block(e, "for (int t = 0; t < %lld; t++) {", s.OC * nb);
    if (nb > 1)
        out(e, "const int oc = t / %lld, r0 = t %% %lld * %lld;", nb, nb, d.R);
    else
        out(e, "const int oc = t, r0 = 0;");
    out(e, "const int nr = %lld - r0 < %lld ? %lld - r0 : %lld;", s.OH, d.R, s.OH, d.R);
    out(e, "const float *xc = x + oc * %lld;", s.H * s.W);
    out(e, "const float *wc = w + oc * %lld;", s.KH * s.KW);
    emit_depthwise_taps(e, n, &s, false);
    out(e, "float *yc = out + (b * %lld + oc) * %lld;", s.OC, s.OH * s.OW);
    if (banded)
        emit_depthwise_band(e, n, &s, &d, false, "yc", NULL);
    else
        emit_depthwise_direct(e, n, &s, false, "yc", NULL);
    close_brace(e);
    close_brace(e);
}

void emit_conv_depthwise(Emitter *e, const Node *n)
{
    emit_fused_comment(e, n);
    emit_isa_copies(e, n, emit_depthwise_body, false);
}
