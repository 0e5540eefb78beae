/* cnnrt.c - the cnnc runtime library (libcnnrt): GEMM/GEMV (OpenBLAS or
 * portable loops), im2col for convolutions, raw float32 file I/O and tensor
 * dumps.
 *
 * Built with -DCNNRT_OPENBLAS the products go to cblas_*; otherwise portable
 * C loops are used. These are written so that GCC/Clang vectorize them at -O2
 * without -ffast-math: every innermost loop is contiguous, and hot loops are
 * split into fixed blocks of 8 that the straight-line (SLP) vectorizer packs
 * even under the "very cheap" cost model. Sums are accumulated in the same
 * order as the textbook loops, so results do not depend on blocking.
 *
 * Nothing here allocates memory or keeps state; the portable GEMM uses a
 * fixed-size tile on the stack to transpose blocks of B.
 */
/* For clock_gettime in cnnrt_bench; harmless where POSIX is absent. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif

#include "cnnrt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CNNRT_OPENBLAS
#include <cblas.h>
#endif

/* The file format and the byte swapping below assume 4-byte floats. */
typedef char cnnrt_float_must_be_4_bytes[sizeof(float) == 4 ? 1 : -1];

/* ---- shared helpers ------------------------------------------------------ */

/* C[m][n] = beta * C; beta == 0 overwrites (NaN/Inf in C are not propagated). */
static void scale_matrix(int m, int n, float beta, float *c, int ldc)
{
    if (beta == 1.0f)
        return;
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * (size_t)ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < n; j++)
                row[j] = 0.0f;
        } else {
            for (int j = 0; j < n; j++)
                row[j] *= beta;
        }
    }
}

#ifndef CNNRT_OPENBLAS

/* ---- portable kernels ---------------------------------------------------- */

/* Columns of C and rows of op(B) handled per block; the transposed-B tile
 * (KB x NB floats, 32 KiB) lives on the stack. */
enum { NB = 128, KB = 64 };

/* y[0:n] += a * x[0:n] */
static void axpy(int n, float a, const float *restrict x, float *restrict y)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int t = 0; t < 8; t++)
            y[j + t] += a * x[j + t];
    for (; j < n; j++)
        y[j] += a * x[j];
}

/* y[0:n] += a0*x0 + a1*x1 + a2*x2 + a3*x3, where xr = x + r*ldx; added in
 * that order, so the result equals four successive axpy calls, with one
 * load/store of y instead of four. */
static void axpy4(int n, const float a[4], const float *restrict x, int ldx, float *restrict y)
{
    const float *x0 = x, *x1 = x + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int t = 0; t < 8; t++)
            y[j + t] = y[j + t] + a0 * x0[j + t] + a1 * x1[j + t] + a2 * x2[j + t] + a3 * x3[j + t];
    for (; j < n; j++)
        y[j] = y[j] + a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
}

/* Dot product with 8 independent partial sums (vectorizable without
 * reassociation flags). */
static float dot(int n, const float *restrict x, const float *restrict y)
{
    float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int t = 0; t < 8; t++)
            s[t] += x[j + t] * y[j + t];
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; j < n; j++)
        r += x[j] * y[j];
    return r;
}

/* Element (i, p) of op(A). */
static float op_a(bool trans_a, const float *a, int lda, int i, int p)
{
    return trans_a ? a[(size_t)p * (size_t)lda + (size_t)i]
                   : a[(size_t)i * (size_t)lda + (size_t)p];
}

/* C[0:m][0:nb] += alpha * op(A)[0:m][p0:p0+kb] * Bblk, where Bblk is kb x nb
 * with row stride ldb and c points at the block's first column. */
static void gemm_block(bool trans_a, int m, int nb, int p0, int kb, float alpha, const float *a,
                       int lda, const float *b, int ldb, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *crow = c + (size_t)i * (size_t)ldc;
        int pp = 0;
        for (; pp + 4 <= kb; pp += 4) {
            float av[4];
            for (int r = 0; r < 4; r++)
                av[r] = alpha * op_a(trans_a, a, lda, i, p0 + pp + r);
            axpy4(nb, av, b + (size_t)pp * (size_t)ldb, ldb, crow);
        }
        for (; pp < kb; pp++)
            axpy(nb, alpha * op_a(trans_a, a, lda, i, p0 + pp), b + (size_t)pp * (size_t)ldb, crow);
    }
}

/* tile[kb][nb] = B^T block: tile[pp][jj] = b[(j0+jj)*ldb + p0+pp]. */
static void pack_bt(int j0, int nb, int p0, int kb, const float *b, int ldb, float *tile)
{
    for (int jj = 0; jj < nb; jj++) {
        const float *src = b + (size_t)(j0 + jj) * (size_t)ldb + (size_t)p0;
        for (int pp = 0; pp < kb; pp++)
            tile[pp * nb + jj] = src[pp];
    }
}

/* C += alpha * op(A) * op(B), blocked over columns of C and the inner dimension. */
static void gemm_portable(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float *c, int ldc)
{
    float tile[KB * NB];
    for (int j0 = 0; j0 < n; j0 += NB) {
        int nb = n - j0 < NB ? n - j0 : NB;
        for (int p0 = 0; p0 < k; p0 += KB) {
            int kb = k - p0 < KB ? k - p0 : KB;
            const float *blk = b + (size_t)p0 * (size_t)ldb + (size_t)j0;
            int ldblk = ldb;
            if (trans_b) {
                pack_bt(j0, nb, p0, kb, b, ldb, tile);
                blk = tile;
                ldblk = nb;
            }
            gemm_block(trans_a, m, nb, p0, kb, alpha, a, lda, blk, ldblk, c + j0, ldc);
        }
    }
}

/* y[0:m] = alpha * A * x + beta * y */
static void gemv_n(int m, int n, float alpha, const float *a, int lda, const float *x, float beta,
                   float *y)
{
    for (int i = 0; i < m; i++) {
        float s = alpha * dot(n, a + (size_t)i * (size_t)lda, x);
        y[i] = beta == 0.0f ? s : s + beta * y[i];
    }
}

/* y[0:n] = alpha * A^T * x + beta * y, row by row of A (contiguous). */
static void gemv_t(int m, int n, float alpha, const float *a, int lda, const float *x, float beta,
                   float *y)
{
    scale_matrix(1, n, beta, y, n);
    int i = 0;
    for (; i + 4 <= m; i += 4) {
        float av[4] = {alpha * x[i], alpha * x[i + 1], alpha * x[i + 2], alpha * x[i + 3]};
        axpy4(n, av, a + (size_t)i * (size_t)lda, lda, y);
    }
    for (; i < m; i++)
        axpy(n, alpha * x[i], a + (size_t)i * (size_t)lda, y);
}

/* A product with a single row or column of C is a matrix-vector product;
 * done as one when the vectors involved are contiguous (the blocked GEMM
 * would run its inner loop over length 1). Returns false if not applicable. */
static bool gemm_as_gemv(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc)
{
    if (n == 1 && ldc == 1 && (trans_b || ldb == 1)) {
        /* column of C = alpha * op(A) * (column of op(B)) */
        if (trans_a)
            gemv_t(k, m, alpha, a, lda, b, beta, c);
        else
            gemv_n(m, k, alpha, a, lda, b, beta, c);
        return true;
    }
    if (m == 1 && (!trans_a || lda == 1)) {
        /* row of C = alpha * op(B)^T * (row of op(A)) */
        if (trans_b)
            gemv_n(n, k, alpha, b, ldb, a, beta, c);
        else
            gemv_t(k, n, alpha, b, ldb, a, beta, c);
        return true;
    }
    return false;
}

#endif /* !CNNRT_OPENBLAS */

/* ---- public products ----------------------------------------------------- */

void cnnrt_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0.0f) {
        scale_matrix(m, n, beta, c, ldc); /* A and B are not read */
        return;
    }
#ifdef CNNRT_OPENBLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
    if (gemm_as_gemv(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
        return;
    scale_matrix(m, n, beta, c, ldc);
    gemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
#endif
}

void cnnrt_sgemv(bool trans_a, int m, int n, float alpha, const float *a, int lda, const float *x,
                 float beta, float *y)
{
    int ylen = trans_a ? n : m, xlen = trans_a ? m : n;
    if (ylen <= 0)
        return;
    if (xlen <= 0 || alpha == 0.0f) {
        /* Unlike reference BLAS (which returns early), an empty product
         * still scales y, consistently with cnnrt_sgemm's k == 0. */
        scale_matrix(1, ylen, beta, y, ylen);
        return;
    }
#ifdef CNNRT_OPENBLAS
    if (beta == 0.0f)
        scale_matrix(1, ylen, 0.0f, y, ylen); /* some OpenBLAS kernels did 0 * y (issue #929) */
    cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta,
                y, 1);
#else
    if (trans_a)
        gemv_t(m, n, alpha, a, lda, x, beta, y);
    else
        gemv_n(m, n, alpha, a, lda, x, beta, y);
#endif
}

/* GCC has __builtin_cpu_supports since 4.8 and "avx512f" since 6; Clang has both. */
#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 6))
#define CNNRT_CPU_DETECT 1
#endif

int cnnrt_cpu_isa(void)
{
    int isa = CNNRT_ISA_BASE;
#ifdef CNNRT_CPU_DETECT
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        isa = CNNRT_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isa = CNNRT_ISA_AVX2;
#endif
    const char *env = getenv("CNNRT_ISA");
    int want = isa;
    if (env && strcmp(env, "sse") == 0)
        want = CNNRT_ISA_BASE;
    else if (env && strcmp(env, "avx2") == 0)
        want = CNNRT_ISA_AVX2;
    else if (env && strcmp(env, "avx512") == 0)
        want = CNNRT_ISA_AVX512;
    return want < isa ? want : isa;
}

int cnnrt_cpu_vnni(void)
{
    if (cnnrt_cpu_isa() != CNNRT_ISA_AVX512)
        return 0;
#ifdef CNNRT_CPU_DETECT
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

void cnnrt_set_blas_threads(int n)
{
#ifdef CNNRT_OPENBLAS
    openblas_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
}

int cnnrt_get_blas_threads(void)
{
#ifdef CNNRT_OPENBLAS
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

const char *cnnrt_blas_name(void)
{
#ifdef CNNRT_OPENBLAS
    return "openblas";
#else
    return "none";
#endif
}

/* ---- im2col -------------------------------------------------------------- */

/* The outputs o in [*lo, *hi) (within [0, nout)) whose tap o*stride + off lies
 * inside [0, len); the others read padding. */
static void tap_range(int off, int stride, int len, int nout, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = off >= len ? 0 : (len - 1 - off) / stride + 1;
    l = l < nout ? l : nout;
    h = h < nout ? h : nout;
    *lo = l;
    *hi = h > l ? h : l;
}

static void fill_zero(float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = 0.0f;
}

/* d[t] = s[t * stride] for t < n */
static void copy_strided(float *restrict d, const float *restrict s, int n, int stride)
{
    if (stride == 1) {
        memcpy(d, s, (size_t)n * sizeof *d);
        return;
    }
    for (int t = 0; t < n; t++)
        d[t] = s[(size_t)t * (size_t)stride];
}

/* One row of col: kernel tap at offset (offy, offx) from each output's
 * top-left input position, over one input channel src (h x w). */
static void im2col_tap(const float *src, int h, int w, int offy, int offx, int sh, int sw, int oh,
                       int ow, float *dst)
{
    int ylo, yhi, xlo, xhi;
    tap_range(offy, sh, h, oh, &ylo, &yhi);
    tap_range(offx, sw, w, ow, &xlo, &xhi);
    int nx = xhi - xlo;
    fill_zero(dst, (size_t)ylo * (size_t)ow);
    for (int oy = ylo; oy < yhi; oy++) {
        float *d = dst + (size_t)oy * (size_t)ow;
        fill_zero(d, (size_t)xlo);
        if (nx > 0) {
            /* s[t * sw] is the input under output column xlo + t */
            const float *s = src + (size_t)(oy * sh + offy) * (size_t)w + (size_t)(xlo * sw + offx);
            copy_strided(d + xlo, s, nx, sw);
        }
        fill_zero(d + xhi, (size_t)(ow - xhi));
    }
    fill_zero(dst + (size_t)yhi * (size_t)ow, (size_t)(oh - yhi) * (size_t)ow);
}

/* Output rows oh0.. of a band are rows 0.. of an unfolding whose taps start
 * oh0 * sh input rows further down: only the tap offset moves. */
void cnnrt_im2col_rows(const float *in, int c, int h, int w, int kh, int kw, int sh, int sw,
                       int ph, int pw, int dh, int dw, int oh0, int noh, int ow, float *col)
{
    size_t plane = (size_t)noh * (size_t)ow;
    for (int ci = 0; ci < c; ci++) {
        const float *src = in + (size_t)ci * (size_t)h * (size_t)w;
        for (int ki = 0; ki < kh; ki++) {
            for (int kj = 0; kj < kw; kj++) {
                im2col_tap(src, h, w, oh0 * sh + ki * dh - ph, kj * dw - pw, sh, sw, noh, ow, col);
                col += plane;
            }
        }
    }
}

void cnnrt_im2col(const float *in, int c, int h, int w, int kh, int kw, int sh, int sw, int ph,
                  int pw, int dh, int dw, int oh, int ow, float *col)
{
    cnnrt_im2col_rows(in, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, 0, oh, ow, col);
}

/* ---- float32 files --------------------------------------------------------- */

/* Run-time byte order check; only unsigned char access, so it is plain C99. */
static bool host_is_little_endian(void)
{
    const unsigned int one = 1u;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reverse the bytes of each of `count` 4-byte values in p. */
static void swap4(unsigned char *p, size_t count)
{
    for (size_t i = 0; i < count; i++, p += 4) {
        unsigned char t0 = p[0], t1 = p[1];
        p[0] = p[3];
        p[1] = p[2];
        p[2] = t1;
        p[3] = t0;
    }
}

/* Number of bytes left in f (reads to EOF). */
static size_t bytes_left(FILE *f)
{
    unsigned char junk[4096];
    size_t total = 0, got;
    while ((got = fread(junk, 1, sizeof junk, f)) > 0)
        total += got;
    return total;
}

int cnnrt_read_f32(const char *path, float *buf, size_t count)
{
    if (count > (size_t)-1 / 4) {
        fprintf(stderr, "%s: %zu float32 values is too many\n", path, count);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    size_t want = count * 4;
    size_t have = fread(buf, 1, want, f);
    if (have == want)
        have += bytes_left(f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: read error: %s\n", path, strerror(err));
        return -1;
    }
    if (have != want) {
        fprintf(stderr, "%s: expected %zu float32 values (%zu bytes), file has %zu bytes\n", path,
                count, want, have);
        return -1;
    }
    if (!host_is_little_endian())
        swap4((unsigned char *)buf, count);
    return 0;
}

/* Write count floats as little-endian, through a stack buffer if bytes need swapping. */
static bool write_le(FILE *f, const float *buf, size_t count)
{
    if (host_is_little_endian())
        return fwrite(buf, 4, count, f) == count;
    unsigned char tmp[4096];
    const size_t per = sizeof tmp / 4;
    for (size_t done = 0; done < count;) {
        size_t n = count - done < per ? count - done : per;
        memcpy(tmp, buf + done, n * 4);
        swap4(tmp, n);
        if (fwrite(tmp, 4, n, f) != n)
            return false;
        done += n;
    }
    return true;
}

int cnnrt_write_f32(const char *path, const float *buf, size_t count)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: cannot create: %s\n", path, strerror(errno));
        return -1;
    }
    bool ok = write_le(f, buf, count);
    int err = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        fprintf(stderr, "%s: write error: %s\n", path, strerror(err));
        return -1;
    }
    return 0;
}

/* ---- tensor dumps ------------------------------------------------------- */

#define DUMP_PATH_MAX 4096
#define DUMP_INDEX "index.tsv"

/* dir/name into buf; false (after saying why) if it does not fit. */
static bool dump_path(char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, DUMP_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= DUMP_PATH_MAX) {
        fprintf(stderr, "%s/%s: path too long\n", dir, name);
        return false;
    }
    return true;
}

/* Write the line "a<TAB>b" to dir/index.tsv, truncating it first (mode "w")
 * or appending (mode "a"). */
static int dump_index_line(const char *dir, const char *mode, const char *a, const char *b)
{
    char path[DUMP_PATH_MAX];
    if (!dump_path(path, dir, DUMP_INDEX))
        return -1;
    FILE *f = fopen(path, mode);
    bool ok = f && fprintf(f, "%s\t%s\n", a, b) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "%s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cnnrt_dump_begin(const char *dir)
{
    return dump_index_line(dir, "w", "# file", "label\top\tshape\tlayers");
}

int cnnrt_dump_tensor(const char *dir, const char *file, const char *index_line, const float *data,
                      size_t count)
{
    char path[DUMP_PATH_MAX];
    if (!dump_path(path, dir, file) || cnnrt_write_f32(path, data, count) != 0)
        return -1;
    return dump_index_line(dir, "a", file, index_line);
}

/* ---- benchmarking ------------------------------------------------------- */

double cnnrt_now_ms(void)
{
#ifdef CLOCK_MONOTONIC
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
#endif
    return (double)clock() * 1e3 / CLOCKS_PER_SEC;
}

/* Insertion sort: runs are few, and this keeps the library free of qsort callbacks. */
static void sort_doubles(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i - 1;
        for (; j >= 0 && v[j] > x; j--)
            v[j + 1] = v[j];
        v[j + 1] = x;
    }
}

double cnnrt_bench(void (*fn)(void *ctx), void *ctx, int warmup, int runs)
{
    double times[CNNRT_BENCH_MAX_RUNS];
    if (runs < 1)
        runs = 1;
    if (runs > CNNRT_BENCH_MAX_RUNS)
        runs = CNNRT_BENCH_MAX_RUNS;
    for (int i = 0; i < warmup; i++)
        fn(ctx);
    for (int i = 0; i < runs; i++) {
        double t0 = cnnrt_now_ms();
        fn(ctx);
        times[i] = cnnrt_now_ms() - t0;
    }
    sort_doubles(times, runs);
    return runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
}

/* ---- per-layer profile ---------------------------------------------------- */

double cnnrt_prof_tick(cnnrt_prof_layer *l, double t0)
{
    double t = cnnrt_now_ms();
    l->ms += t - t0;
    l->calls++;
    return t;
}

void cnnrt_prof_reset(cnnrt_prof_layer *layers, int n)
{
    for (int i = 0; i < n; i++) {
        layers[i].ms = 0.0;
        layers[i].calls = 0;
    }
}

void cnnrt_prof_print(const cnnrt_prof_layer *layers, int n, const char *title)
{
    double total = 0.0, flops = 0.0;
    long calls = 0;
    for (int i = 0; i < n; i++) {
        if (layers[i].calls > 0) {
            total += layers[i].ms / (double)layers[i].calls;
            flops += layers[i].flops;
            calls = layers[i].calls > calls ? layers[i].calls : calls;
        }
    }
    printf("profile: %s, mean of %ld calls\n", title, calls);
    printf("%-24s %-15s %-12s %10s %7s %9s\n", "layer", "op", "kernel", "ms", "%", "GFLOP/s");
    for (int i = 0; i < n; i++) {
        const cnnrt_prof_layer *l = &layers[i];
        if (l->calls == 0)
            continue;
        double ms = l->ms / (double)l->calls;
        printf("%-24s %-15s %-12s %10.4f %6.1f%%", l->name, l->op, l->kernel, ms,
               total > 0.0 ? 100.0 * ms / total : 0.0);
        if (l->flops > 0.0 && ms > 0.0)
            printf(" %9.2f\n", l->flops / (ms * 1e6));
        else
            printf(" %9s\n", "-");
    }
    printf("%-24s %-15s %-12s %10.4f %6.1f%%", "total", "", "", total, 100.0);
    if (flops > 0.0 && total > 0.0)
        printf(" %9.2f\n", flops / (total * 1e6));
    else
        printf(" %9s\n", "-");
}

/* ---- comparing outputs --------------------------------------------------- */

/* Errors of one element; exact matches (including NaN/NaN, inf/inf) are 0. */
static void elem_err(double a, double e, double *abs_err, double *rel_err)
{
    if (a == e || (isnan(a) && isnan(e))) {
        *abs_err = *rel_err = 0.0;
        return;
    }
    double d = fabs(a - e);
    if (isnan(d))
        d = INFINITY; /* one NaN, or inf - inf */
    *abs_err = d;
    *rel_err = e != 0.0 && isfinite(e) ? d / fabs(e) : INFINITY;
}

size_t cnnrt_compare_f32(const char *name, const float *got, const float *want, size_t n,
                         double tol)
{
    size_t bad = 0, worst_at = 0;
    double max_abs = 0.0, max_rel = 0.0, worst = -1.0;
    for (size_t i = 0; i < n; i++) {
        double ab, rel;
        elem_err(got[i], want[i], &ab, &rel);
        max_abs = ab > max_abs ? ab : max_abs;
        if (want[i] != 0.0f && rel > max_rel)
            max_rel = rel;
        if (isfinite(ab) && (ab <= tol || ab <= tol * fabs(want[i])))
            continue;
        bad++;
        double score = ab < rel ? ab : rel; /* the element furthest from passing */
        if (score > worst) {
            worst = score;
            worst_at = i;
        }
    }
    if (name)
        printf("%s: ", name);
    if (bad == 0) {
        printf("ok: %lu values, max abs err %.3g, max rel err %.3g\n", (unsigned long)n, max_abs,
               max_rel);
        return 0;
    }
    double ab, rel;
    elem_err(got[worst_at], want[worst_at], &ab, &rel);
    printf("FAIL: %lu of %lu values differ; worst at index %lu: got %.9g, expected %.9g "
           "(abs err %.3g, rel err %.3g)\n",
           (unsigned long)bad, (unsigned long)n, (unsigned long)worst_at, got[worst_at],
           want[worst_at], ab, rel);
    return bad;
}
