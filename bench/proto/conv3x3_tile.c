/* conv3x3_tile.c - prototype for issue 15: a register-tiled 3x3 convolution
 * micro-kernel whose accumulators are named local variables (not arrays),
 * with the instruction set chosen at run time, against the kernel cnnc emits
 * today, on resnet18's layer1 shape (64 -> 64 channels, 56x56, 3x3, pad 1).
 *
 * Not part of the build or of cnnc: bench/proto/run.sh compiles it at plain
 * -O2 (baseline x86-64), -O2 -march=native and -O3 -march=native and prints
 * each kernel's least CPU time per call, GFLOP/s and its largest difference
 * from today's output. It
 * #includes the C that cnnc generates for that one layer (PROTO_LAYER_C, from
 * bench/proto/layer.cnn), so both kernels use the same weights, packed
 * [cb][ci][kh][kw][32] by cnnc, and every tile's output is checked against
 * today's kernel's.
 *
 * As the emitter would print it:
 *
 *   #if defined(__GNUC__) && defined(__x86_64__)
 *     #include <immintrin.h>
 *     the layer once per instruction set (bench/proto/tile.h, included once
 *     per set): __attribute__((target("avx512f"))), target("avx2,fma") and
 *     no attribute (SSE2, baseline x86-64), each with its intrinsics;
 *     a dispatcher that picks one with __builtin_cpu_supports, once.
 *   #else
 *     today's C99 loops (arrays of accumulators, the o loop vectorized).
 *   #endif
 *
 * A tile is 2 vectors of output channels (32 channels with AVX-512, 16 with
 * AVX2, 8 with SSE) x NJ columns of one output row: 2 x NJ named vectors
 * a0_j, a1_j. Per input channel and tap: two weight loads, NJ broadcasts,
 * 2 x NJ multiply-adds. Taps on padding are dropped at compile time (border
 * tiles are the same inline function with constant left/right), kernel rows
 * clipped at run time (kh_lo .. kh_hi), as emit_conv.c does. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Today's kernel: the generated file for the same layer, its main() renamed. */
#define main l1_generated_main
#include PROTO_LAYER_C
#undef main

enum { C = 64, H = 56, W = 56, OC = 64, HW = H * W, OCB = 32, CB = OC / OCB };
#define WEIGHTS (l1_weights.f)
#define MACS (115605504.0) /* every tap, padding included (cnnc's count) */

typedef void (*layer_fn)(const float *restrict x, float *restrict y);
typedef struct {
    const char *name;
    layer_fn fn;
} Variant;

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* AVX-512: 32 channels per tile. */
#define ISA avx512_
#define TARGET __attribute__((target("avx512f")))
#define VT __m512
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSET1(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VSTORE(p, v) _mm512_store_ps(p, v)
#define COLS4(X) X(0) X(1) X(2) X(3)
#define COLS7(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)
#define COLS8(X) COLS7(X) X(7)
#define COLS14(X) COLS8(X) X(8) X(9) X(10) X(11) X(12) X(13)
#define TILES(X) X(7, COLS7) X(8, COLS8) X(14, COLS14)
#include "tile.h"

/* AVX2 + FMA: 16 channels per tile (16 ymm registers). */
#define ISA avx2_
#define TARGET __attribute__((target("avx2,fma")))
#define VT __m256
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSET1(s) _mm256_set1_ps(s)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VSTORE(p, v) _mm256_store_ps(p, v)
#define TILES(X) X(4, COLS4) X(7, COLS7)
#include "tile.h"

/* SSE2 (baseline x86-64, no FMA): 8 channels per tile (16 xmm registers). */
#define ISA sse_
#define TARGET
#define VT __m128
#define VL 4
#define VZERO() _mm_setzero_ps()
#define VLOAD(p) _mm_loadu_ps(p)
#define VSET1(s) _mm_set1_ps(s)
#define VFMA(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define VSTORE(p, v) _mm_store_ps(p, v)
#define TILES(X) X(4, COLS4) X(7, COLS7)
#include "tile.h"

/* Picked once, at the first call: the widest set the CPU has. */
static layer_fn pick_layer(const char **name)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *name = "avx512 32x8";
        return layer_avx512_8;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *name = "avx2 16x4";
        return layer_avx2_4;
    }
    *name = "sse 8x4";
    return layer_sse_4;
}

static const char *dispatched = "?";
static void layer_dispatch(const float *restrict x, float *restrict y)
{
    static layer_fn fn;
    if (!fn)
        fn = pick_layer(&dispatched);
    fn(x, y);
}
#endif

/* ---- measuring ---------------------------------------------------------- */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void today(const float *restrict x, float *restrict y)
{
    l1_run(x, y);
}

int main(int argc, char **argv)
{
    int trials = argc > 1 ? atoi(argv[1]) : 100, rounds = argc > 2 ? atoi(argv[2]) : 3;
    float *x = malloc(sizeof(float) * C * HW), *ref = malloc(sizeof(float) * OC * HW);
    float *y = malloc(sizeof(float) * OC * HW);
    unsigned s = 1;
    for (int i = 0; i < C * HW; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffffff) / 8388608.0f - 1.0f;
    }
    Variant v[] = {
        {"today (cnnc, arrays)", today},
#if defined(__GNUC__) && defined(__x86_64__)
        {"tile, dispatched", layer_dispatch},
        {"tile avx512 32x7", layer_avx512_7},
        {"tile avx512 32x8", layer_avx512_8},
        {"tile avx512 32x14", layer_avx512_14},
        {"tile avx2 16x4", layer_avx2_4},
        {"tile avx2 16x7", layer_avx2_7},
        {"tile sse 8x4", layer_sse_4},
        {"tile sse 8x7", layer_sse_7},
#endif
    };
    int nv = (int)(sizeof v / sizeof v[0]);
    double best_cpu[16], best_wall[16], diff[16];
    l1_run(x, ref);
    for (int k = 0; k < nv; k++) {
        memset(y, 0, sizeof(float) * OC * HW);
        v[k].fn(x, y);
        double err = 0.0, mx = 0.0;
        for (int i = 0; i < OC * HW; i++) {
            err = fmax(err, fabs((double)y[i] - ref[i]));
            mx = fmax(mx, fabs((double)ref[i]));
        }
        if (!(err <= 1e-5 * mx)) {
            printf("%s: WRONG, max abs err %g (max |y| %g)\n", v[k].name, err, mx);
            return 1;
        }
        diff[k] = err;
        best_cpu[k] = best_wall[k] = 1e9;
    }
    /* Rounds alternate the variants; each keeps its least CPU and wall time
     * of one call over all trials. */
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < nv; k++)
            for (int t = 0; t < trials; t++) {
                double c0 = cpu_s(), w0 = wall_s();
                v[k].fn(x, y);
                double c = cpu_s() - c0, w = wall_s() - w0;
                best_cpu[k] = c < best_cpu[k] ? c : best_cpu[k];
                best_wall[k] = w < best_wall[k] ? w : best_wall[k];
            }
#if defined(__GNUC__) && defined(__x86_64__)
    printf("dispatched to: %s\n", dispatched);
#endif
    printf("%-22s %9s %9s %8s %13s\n", "variant", "cpu ms", "wall ms", "GFLOP/s",
           "|y - today|");
    for (int k = 0; k < nv; k++)
        printf("%-22s %9.3f %9.3f %8.1f %13.3g\n", v[k].name, best_cpu[k] * 1e3,
               best_wall[k] * 1e3, 2.0 * MACS / best_cpu[k] / 1e9, diff[k]);
    free(x);
    free(y);
    free(ref);
    return 0;
}
