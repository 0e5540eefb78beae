/* tile.h - one instruction set's copy of the prototype's tiles and layer
 * functions (bench/proto/conv3x3_tile.c includes it once per set, the way
 * the emitter would print the kernel once per set). Expects:
 *   ISA            name suffix            TARGET   function attribute or nothing
 *   VT, VL         vector type, floats    VZERO(), VLOAD(p), VSET1(s),
 *   VFMA(a, b, c)  a * b + c              VSTORE(p, v) (p 64-byte aligned)
 *   TILES(X)       X(NJ, COLS) per tile width to instantiate
 * A tile: 2 vectors of channels (2 VL) x NJ columns, accumulators a0_j, a1_j. */
#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)
#define TILE_NAME(NJ) CAT3(tile_, ISA, NJ)
#define LAYER_NAME(NJ) CAT3(layer_, ISA, NJ)

#define DECL(j) VT a0_##j = VZERO(), a1_##j = VZERO();
/* Tap kw of column j, unless it reads padding (constant-folded away). */
#define TAP(j, kw)                                                                                 \
    if (!((left && j == 0 && kw == 0) || (right && j == nj - 1 && kw == 2))) {                     \
        const VT xv = VSET1(xr[j + kw - 1]);                                                           \
        a0_##j = VFMA(w0, xv, a0_##j);                                                             \
        a1_##j = VFMA(w1, xv, a1_##j);                                                             \
    }
#define TAP0(j) TAP(j, 0)
#define TAP1(j) TAP(j, 1)
#define TAP2(j) TAP(j, 2)
#define KW(kw, COLS)                                                                               \
    {                                                                                              \
        const VT w0 = VLOAD(wk + kw * OCB), w1 = VLOAD(wk + kw * OCB + VL);                        \
        COLS(TAP##kw)                                                                              \
    }
#define STORE(j)                                                                                   \
    VSTORE(t[j], a0_##j);                                                                          \
    VSTORE(t[j] + VL, a1_##j);

/* x: input (all channels); wb: the 32-channel block's packed weights plus the
 * tile's channel offset; y: the tile's first output channel plane. xr: input
 * row ih0 + kh (inside the image: kh_lo .. kh_hi) at column ow0; tap kw of
 * column j reads xr[j + kw - 1] (pad 1). */
#define DEFINE_TILE(NJ, COLS)                                                                      \
    TARGET static inline __attribute__((always_inline)) void TILE_NAME(NJ)(                        \
        const float *restrict x, const float *restrict wb, int ih0, int kh_lo, int kh_hi,          \
        int ow0, float *restrict y, int oh, const int left, const int right)                       \
    {                                                                                              \
        const int nj = NJ;                                                                         \
        COLS(DECL)                                                                                 \
        for (int ci = 0; ci < C; ci++) {                                                           \
            const float *wc = wb + ci * 9 * OCB;                                                   \
            for (int kh = kh_lo; kh < kh_hi; kh++) {                                               \
                const float *xr = x + ci * HW + (ih0 + kh) * W + ow0;                          \
                const float *wk = wc + kh * 3 * OCB;                                               \
                KW(0, COLS) KW(1, COLS) KW(2, COLS)                                                \
            }                                                                                      \
        }                                                                                          \
        float t[NJ][2 * VL] __attribute__((aligned(64)));                                          \
        COLS(STORE)                                                                                \
        for (int o = 0; o < 2 * VL; o++) {                                                         \
            float *yo = y + o * HW + oh * W + ow0;                                                 \
            for (int j = 0; j < NJ; j++)                                                           \
                yo[j] = t[j][o];                                                                   \
        }                                                                                          \
    }                                                                                              \
    /* The layer: (block, row) pairs as today; per row the tile's channel          \
     * sub-blocks of the 32-channel block, then its column tiles. */                               \
    TARGET static void LAYER_NAME(NJ)(const float *restrict x, float *restrict y)                  \
    {                                                                                              \
        for (int t = 0; t < CB * H; t++) {                                                         \
            const int cb = t / H, oh = t % H, ih0 = oh - 1;                                        \
            const int kh_lo = ih0 < 0 ? -ih0 : 0;                                                  \
            const int kh_hi = H - ih0 < 3 ? H - ih0 : 3;                                           \
            for (int sub = 0; sub < OCB / (2 * VL); sub++) {                                       \
                const float *wb = WEIGHTS + cb * C * 9 * OCB + sub * 2 * VL;                       \
                float *yc = y + (cb * OCB + sub * 2 * VL) * HW;                                    \
                TILE_NAME(NJ)(x, wb, ih0, kh_lo, kh_hi, 0, yc, oh, 1, 0);                          \
                for (int ow0 = NJ; ow0 < W - NJ; ow0 += NJ)                                        \
                    TILE_NAME(NJ)(x, wb, ih0, kh_lo, kh_hi, ow0, yc, oh, 0, 0);                    \
                TILE_NAME(NJ)(x, wb, ih0, kh_lo, kh_hi, W - NJ, yc, oh, 0, 1);                     \
            }                                                                                      \
        }                                                                                          \
    }

TILES(DEFINE_TILE)

#undef DEFINE_TILE
#undef DECL
#undef TAP
#undef TAP0
#undef TAP1
#undef TAP2
#undef KW
#undef STORE
#undef TILE_NAME
#undef LAYER_NAME
#undef ISA
#undef TARGET
#undef VT
#undef VL
#undef VZERO
#undef VLOAD
#undef VSET1
#undef VFMA
#undef VSTORE
#undef TILES
