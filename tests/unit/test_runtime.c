/* test_runtime.c - Check unit tests for libcnnrt (runtime/cnnrt.h).
 *
 * Every kernel is compared with naive reference loops written here, computed
 * in double. The error metric is scaled by magnitude: for each output element
 *     |got - ref| <= TOL * (|alpha| * sum_k |a_ik * b_kj| + |beta * c_ij|)
 * so cancellation cannot hide or fake an error. im2col is tested by what it is
 * for: im2col followed by a naive GEMM must equal a direct convolution.
 */
#include "cnnrt.h"

#include <check.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOL 1e-5
#define SENTINEL 12345.0f

/* ---- helpers ------------------------------------------------------------- */

typedef struct {
    uint32_t s;
} Rng;

/* Uniform in [-1, 1). */
static float rng_next(Rng *r)
{
    r->s = r->s * 1664525u + 1013904223u;
    return (float)((r->s >> 8) & 0xffffffu) / 8388608.0f - 1.0f;
}

static float *alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static float *random_floats(Rng *r, size_t n)
{
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = rng_next(r);
    return p;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

/* Max over elements of |got - ref| / scale (scale > 0 or both exact). */
typedef struct {
    double worst;
    size_t at;
} Err;

static void err_add(Err *e, size_t i, double got, double ref, double scale)
{
    double d = fabs(got - ref);
    double r = d == 0.0 ? 0.0 : d / (scale > 0.0 ? scale : DBL_MIN);
    if (isnan(got) || r > e->worst) {
        e->worst = isnan(got) ? INFINITY : r;
        e->at = i;
    }
}

/* ---- sgemm ------------------------------------------------------------- */

typedef struct {
    int m, n, k;
} Shape;

static const Shape gemm_shapes[] = {
    {1, 1, 1},      {1, 7, 5},     {7, 1, 5},    {5, 3, 1},     {1, 1, 37},    {17, 13, 9},
    {3, 5, 4},      {33, 65, 31},  {64, 64, 64}, {1, 100, 37},  {100, 1, 37},  {9, 130, 67},
    {70, 300, 150}, {2, 257, 129}, {31, 9, 200}, {1, 200, 300}, {200, 1, 300}, {1, 150, 1},
};

typedef struct {
    float alpha, beta;
} AlphaBeta;

static const AlphaBeta gemm_ab[] = {
    {1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 2.0f}, {2.5f, -1.0f}, {0.75f, 0.25f}, {-1.0f, 0.0f},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One GEMM problem: op(A) is m x k, op(B) k x n, C m x n with row padding. */
typedef struct {
    bool ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    const float *c0; /* C before the call */
} Gemm;

static double op_at(const float *x, int ld, bool t, int r, int c)
{
    return t ? x[(size_t)c * ld + r] : x[(size_t)r * ld + c];
}

/* Reference element (i, j) and its magnitude scale. */
static void ref_gemm_elem(const Gemm *g, int i, int j, double *ref, double *scale)
{
    double s = 0.0, mag = 0.0;
    for (int p = 0; p < g->k; p++) {
        double t = op_at(g->a, g->lda, g->ta, i, p) * op_at(g->b, g->ldb, g->tb, p, j);
        s += t;
        mag += fabs(t);
    }
    double c0 = g->beta == 0.0f ? 0.0 : g->beta * (double)g->c0[(size_t)i * g->ldc + j];
    *ref = g->alpha * s + c0;
    *scale = fabs(g->alpha) * mag + fabs(c0);
}

static void check_gemm_result(const Gemm *g, const float *c)
{
    Err e = {0.0, 0};
    for (int i = 0; i < g->m; i++) {
        for (int j = 0; j < g->ldc; j++) {
            size_t at = (size_t)i * g->ldc + j;
            if (j >= g->n) {
                ck_assert_msg(c[at] == SENTINEL, "sgemm wrote into row padding at %zu", at);
                continue;
            }
            double ref, scale;
            ref_gemm_elem(g, i, j, &ref, &scale);
            err_add(&e, at, c[at], ref, scale);
        }
    }
    ck_assert_msg(e.worst <= TOL,
                  "sgemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: rel err %g at %zu", g->ta,
                  g->tb, g->m, g->n, g->k, g->alpha, g->beta, e.worst, e.at);
}

/* Build operands for g (stored shapes depend on trans), run, check. */
static void run_gemm_case(Rng *r, Gemm g, int pad)
{
    int ar = g.ta ? g.k : g.m, ac = g.ta ? g.m : g.k;
    int br = g.tb ? g.n : g.k, bc = g.tb ? g.k : g.n;
    g.lda = ac + pad;
    g.ldb = bc + pad;
    g.ldc = g.n + pad;
    float *a = random_floats(r, (size_t)ar * g.lda);
    float *b = random_floats(r, (size_t)br * g.ldb);
    float *c0 = random_floats(r, (size_t)g.m * g.ldc);
    for (int i = 0; i < g.m; i++) {
        if (g.beta == 0.0f)
            fill(c0 + (size_t)i * g.ldc, (size_t)g.n, NAN);
        fill(c0 + (size_t)i * g.ldc + g.n, (size_t)pad, SENTINEL);
    }
    float *c = alloc_floats((size_t)g.m * g.ldc);
    memcpy(c, c0, (size_t)g.m * g.ldc * sizeof *c);
    g.a = a;
    g.b = b;
    g.c0 = c0;
    cnnrt_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc);
    check_gemm_result(&g, c);
    free(a);
    free(b);
    free(c0);
    free(c);
}

START_TEST(test_sgemm_shapes)
{
    Rng r = {(uint32_t)_i * 7919u + 1u};
    Shape s = gemm_shapes[_i];
    for (int t = 0; t < 4; t++) {
        for (size_t v = 0; v < NELEM(gemm_ab); v++) {
            for (int pad = 0; pad <= 3; pad += 3) {
                Gemm g = {t & 1,           (t >> 1) & 1, s.m,  s.n, s.k, 0, 0, 0, gemm_ab[v].alpha,
                          gemm_ab[v].beta, NULL,         NULL, NULL};
                run_gemm_case(&r, g, pad);
            }
        }
    }
}
END_TEST

/* alpha == 0: C = beta * C exactly; A and B are not read (NaN there is harmless). */
START_TEST(test_sgemm_alpha_zero)
{
    float a[6], b[6], c[4] = {1.0f, -2.0f, 3.0f, NAN};
    fill(a, 6, NAN);
    fill(b, 6, NAN);
    cnnrt_sgemm(false, false, 2, 2, 3, 0.0f, a, 3, b, 2, 2.0f, c, 2);
    ck_assert(c[0] == 2.0f && c[1] == -4.0f && c[2] == 6.0f && isnan(c[3]));
    cnnrt_sgemm(true, true, 2, 2, 3, 0.0f, a, 2, b, 3, 0.0f, c, 2);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(c[i] == 0.0f, "c[%d] = %g", i, c[i]);
}
END_TEST

/* k == 0: C = beta * C (beta == 0 overwrites NaN); m or n == 0: nothing. */
START_TEST(test_sgemm_degenerate)
{
    float c[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    cnnrt_sgemm(false, false, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, -2.0f, c, 3);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == -2.0f * (float)(i + 1), "k=0 beta=-2: c[%d] = %g", i, c[i]);
    cnnrt_sgemm(true, false, 2, 3, 0, 1.0f, NULL, 2, NULL, 3, 1.0f, c, 3);
    ck_assert(c[5] == -12.0f);
    fill(c, 6, NAN);
    cnnrt_sgemm(false, true, 2, 3, 0, 1.0f, NULL, 1, NULL, 1, 0.0f, c, 3);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == 0.0f, "k=0 beta=0: c[%d] = %g", i, c[i]);
    fill(c, 6, SENTINEL);
    cnnrt_sgemm(false, false, 0, 3, 2, 1.0f, NULL, 2, NULL, 3, 0.0f, c, 3);
    cnnrt_sgemm(false, false, 2, 0, 2, 1.0f, NULL, 2, NULL, 1, 0.0f, c, 1);
    cnnrt_sgemm(true, true, 0, 0, 0, 1.0f, NULL, 1, NULL, 1, 0.0f, c, 1);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == SENTINEL, "m or n = 0 touched c[%d]", i);
}
END_TEST

/* A small product checked against hand-computed values, all trans combos. */
START_TEST(test_sgemm_known_values)
{
    const float a[6] = {1, 2, 3, 4, 5, 6};    /* 2x3 */
    const float at[6] = {1, 4, 2, 5, 3, 6};   /* its transpose, 3x2 */
    const float b[6] = {7, 8, 9, 10, 11, 12}; /* 3x2 */
    const float bt[6] = {7, 9, 11, 8, 10, 12};
    const float want[4] = {58, 64, 139, 154};
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = (t >> 1) & 1;
        float c[4];
        fill(c, 4, NAN);
        cnnrt_sgemm(ta, tb, 2, 2, 3, 1.0f, ta ? at : a, ta ? 2 : 3, tb ? bt : b, tb ? 3 : 2, 0.0f,
                    c, 2);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(c[i] == want[i], "ta=%d tb=%d c[%d] = %g, want %g", ta, tb, i, c[i],
                          want[i]);
    }
}
END_TEST

/* ---- sgemv ------------------------------------------------------------- */

static const Shape gemv_shapes[] = {
    {1, 1, 0},    {1, 17, 0},  {17, 1, 0},  {5, 3, 0},   {33, 65, 0},
    {100, 37, 0}, {64, 64, 0}, {7, 300, 0}, {300, 7, 0}, {13, 8, 0},
};

static void run_gemv_case(Rng *r, bool t, int m, int n, AlphaBeta ab, int pad)
{
    int lda = n + pad, ylen = t ? n : m, xlen = t ? m : n;
    float *a = random_floats(r, (size_t)m * lda);
    float *x = random_floats(r, (size_t)xlen);
    float *y0 = random_floats(r, (size_t)ylen);
    if (ab.beta == 0.0f)
        fill(y0, (size_t)ylen, NAN);
    float *y = alloc_floats((size_t)ylen);
    memcpy(y, y0, (size_t)ylen * sizeof *y);
    cnnrt_sgemv(t, m, n, ab.alpha, a, lda, x, ab.beta, y);
    Err e = {0.0, 0};
    for (int o = 0; o < ylen; o++) {
        double s = 0.0, mag = 0.0;
        for (int p = 0; p < xlen; p++) {
            double v = (t ? a[(size_t)p * lda + o] : a[(size_t)o * lda + p]) * (double)x[p];
            s += v;
            mag += fabs(v);
        }
        double c0 = ab.beta == 0.0f ? 0.0 : ab.beta * (double)y0[o];
        err_add(&e, (size_t)o, y[o], ab.alpha * s + c0, fabs(ab.alpha) * mag + fabs(c0));
    }
    ck_assert_msg(e.worst <= TOL, "sgemv t=%d m=%d n=%d alpha=%g beta=%g: rel err %g at %zu", t, m,
                  n, ab.alpha, ab.beta, e.worst, e.at);
    free(a);
    free(x);
    free(y0);
    free(y);
}

START_TEST(test_sgemv_shapes)
{
    Rng r = {(uint32_t)_i * 104729u + 3u};
    Shape s = gemv_shapes[_i];
    for (int t = 0; t < 2; t++)
        for (size_t v = 0; v < NELEM(gemm_ab); v++)
            for (int pad = 0; pad <= 5; pad += 5)
                run_gemv_case(&r, t, s.m, s.n, gemm_ab[v], pad);
}
END_TEST

START_TEST(test_sgemv_degenerate)
{
    float y[3] = {1.0f, 2.0f, 3.0f};
    float a[3], x[3];
    fill(a, 3, NAN);
    fill(x, 3, NAN);
    /* empty inner dimension: y = beta * y */
    cnnrt_sgemv(false, 3, 0, 1.0f, NULL, 1, NULL, 3.0f, y);
    ck_assert(y[0] == 3.0f && y[1] == 6.0f && y[2] == 9.0f);
    cnnrt_sgemv(true, 0, 3, 1.0f, NULL, 3, NULL, 0.0f, y);
    ck_assert(y[0] == 0.0f && y[1] == 0.0f && y[2] == 0.0f);
    /* alpha == 0: A and x are not read */
    fill(y, 3, 1.0f);
    cnnrt_sgemv(true, 1, 3, 0.0f, a, 3, x, -1.0f, y);
    ck_assert(y[0] == -1.0f && y[1] == -1.0f && y[2] == -1.0f);
    /* empty output: y untouched */
    cnnrt_sgemv(false, 0, 3, 1.0f, a, 3, x, 0.0f, y);
    cnnrt_sgemv(true, 3, 0, 1.0f, a, 1, x, 0.0f, y);
    ck_assert(y[0] == -1.0f && y[2] == -1.0f);
}
END_TEST

/* ---- im2col ------------------------------------------------------------ */

/* A convolution: padding top/left (ph, pw) as passed to im2col, and
 * bottom/right (pb, pr) implied by the output size. */
typedef struct {
    int c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, pb, pr;
} Conv;

static const Conv convs[] = {
    {1, 5, 5, 3, 3, 1, 1, 0, 0, 1, 1, 0, 0},   /* plain valid 3x3 */
    {3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},   /* stride 2, odd sizes */
    {2, 9, 7, 3, 5, 2, 1, 1, 2, 1, 1, 1, 2},   /* asymmetric kernel, padding, stride */
    {2, 11, 10, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, /* dilation 2 */
    {1, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, 1, 1},   /* SAME-style: pad only bottom/right */
    {2, 7, 6, 4, 3, 1, 1, 1, 1, 1, 1, 2, 1},   /* even kernel, pad top 1 bottom 2 */
    {4, 6, 5, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0},   /* 1x1 */
    {2, 13, 12, 5, 4, 3, 2, 2, 1, 2, 1, 1, 2}, /* mixed stride and dilation */
    {1, 3, 3, 3, 3, 1, 1, 3, 3, 1, 1, 3, 3},   /* rows/cols entirely in padding */
    {3, 2, 4, 5, 5, 1, 1, 2, 2, 1, 1, 2, 2},   /* kernel larger than input */
    {2, 10, 11, 1, 1, 3, 3, 0, 0, 1, 1, 0, 0}, /* stride larger than kernel */
    {1, 1, 9, 1, 3, 1, 2, 0, 1, 1, 3, 0, 1},   /* one row, dilation 3 along w */
    {1, 8, 1, 3, 1, 2, 1, 1, 0, 2, 1, 1, 0},   /* one column */
};

static int conv_out(int n, int k, int s, int p0, int p1, int d)
{
    return (n + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

/* Input value under tap (ki, kj) of channel ci at output (y, x), 0 in padding. */
static float conv_in(const Conv *v, const float *in, int ci, int ki, int kj, int y, int x)
{
    int iy = y * v->sh - v->ph + ki * v->dh, ix = x * v->sw - v->pw + kj * v->dw;
    if (iy < 0 || iy >= v->h || ix < 0 || ix >= v->w)
        return 0.0f;
    return in[((size_t)ci * v->h + iy) * v->w + ix];
}

/* out[o][y][x] by direct loops; scale gets sum |w * x| per output. */
static void direct_conv(const Conv *v, int oc, int oh, int ow, const float *in, const float *wt,
                        double *out, double *scale)
{
    int kk = v->c * v->kh * v->kw;
    for (int o = 0; o < oc; o++) {
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                double s = 0.0, mag = 0.0;
                for (int ci = 0; ci < v->c; ci++)
                    for (int ki = 0; ki < v->kh; ki++)
                        for (int kj = 0; kj < v->kw; kj++) {
                            double t = wt[(size_t)o * kk + (ci * v->kh + ki) * v->kw + kj] *
                                       (double)conv_in(v, in, ci, ki, kj, y, x);
                            s += t;
                            mag += fabs(t);
                        }
                out[((size_t)o * oh + y) * ow + x] = s;
                scale[((size_t)o * oh + y) * ow + x] = mag;
            }
        }
    }
}

/* out[oc][np] = wt[oc][kk] * col[kk][np], naive, in double. */
static void naive_gemm(int oc, int np, int kk, const float *wt, const float *col, double *out)
{
    for (int o = 0; o < oc; o++)
        for (int p = 0; p < np; p++) {
            double s = 0.0;
            for (int q = 0; q < kk; q++)
                s += wt[(size_t)o * kk + q] * (double)col[(size_t)q * np + p];
            out[(size_t)o * np + p] = s;
        }
}

/* Every element of col is written (col was NaN-filled) and equals the tap. */
static void check_col_exact(const Conv *v, const float *in, const float *col, int oh, int ow)
{
    size_t at = 0;
    for (int ci = 0; ci < v->c; ci++)
        for (int ki = 0; ki < v->kh; ki++)
            for (int kj = 0; kj < v->kw; kj++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++, at++) {
                        float want = conv_in(v, in, ci, ki, kj, y, x);
                        ck_assert_msg(col[at] == want, "col[%zu] = %g, want %g", at, col[at], want);
                    }
}

START_TEST(test_im2col_conv)
{
    const Conv *v = &convs[_i];
    const int oc = 3;
    int oh = conv_out(v->h, v->kh, v->sh, v->ph, v->pb, v->dh);
    int ow = conv_out(v->w, v->kw, v->sw, v->pw, v->pr, v->dw);
    int kk = v->c * v->kh * v->kw, np = oh * ow;
    ck_assert(oh > 0 && ow > 0);
    Rng r = {(uint32_t)_i + 11u};
    float *in = random_floats(&r, (size_t)v->c * v->h * v->w);
    float *wt = random_floats(&r, (size_t)oc * kk);
    float *col = alloc_floats((size_t)kk * np);
    fill(col, (size_t)kk * np, NAN);
    cnnrt_im2col(in, v->c, v->h, v->w, v->kh, v->kw, v->sh, v->sw, v->ph, v->pw, v->dh, v->dw, oh,
                 ow, col);
    double *ref = malloc((size_t)oc * np * sizeof *ref);
    double *scale = malloc((size_t)oc * np * sizeof *scale);
    double *got = malloc((size_t)oc * np * sizeof *got);
    float *fast = alloc_floats((size_t)oc * np);
    ck_assert(ref && scale && got);
    direct_conv(v, oc, oh, ow, in, wt, ref, scale);
    naive_gemm(oc, np, kk, wt, col, got);
    cnnrt_sgemm(false, false, oc, np, kk, 1.0f, wt, kk, col, np, 0.0f, fast, np);
    Err e = {0.0, 0}, ef = {0.0, 0};
    for (size_t i = 0; i < (size_t)oc * np; i++) {
        err_add(&e, i, got[i], ref[i], scale[i]);
        err_add(&ef, i, fast[i], ref[i], scale[i]);
    }
    ck_assert_msg(e.worst <= TOL, "conv %d: im2col+naive GEMM rel err %g at %zu", _i, e.worst,
                  e.at);
    ck_assert_msg(ef.worst <= TOL, "conv %d: im2col+sgemm rel err %g at %zu", _i, ef.worst, ef.at);
    check_col_exact(v, in, col, oh, ow);
    free(in);
    free(wt);
    free(col);
    free(ref);
    free(scale);
    free(got);
    free(fast);
}
END_TEST

/* 1x1, stride 1, no padding: col is the input itself. */
START_TEST(test_im2col_identity)
{
    float in[24], col[24];
    for (int i = 0; i < 24; i++)
        in[i] = (float)i;
    cnnrt_im2col(in, 2, 3, 4, 1, 1, 1, 1, 0, 0, 1, 1, 3, 4, col);
    ck_assert(memcmp(in, col, sizeof in) == 0);
}
END_TEST

/* A band of output rows [r0, r0 + n) unfolds to exactly those columns of the
 * full unfolding, for every band of every conv (each element written). */
START_TEST(test_im2col_rows)
{
    const Conv *v = &convs[_i];
    int oh = conv_out(v->h, v->kh, v->sh, v->ph, v->pb, v->dh);
    int ow = conv_out(v->w, v->kw, v->sw, v->pw, v->pr, v->dw);
    int kk = v->c * v->kh * v->kw, np = oh * ow;
    Rng r = {(uint32_t)_i + 101u};
    float *in = random_floats(&r, (size_t)v->c * v->h * v->w);
    float *full = alloc_floats((size_t)kk * np), *band = alloc_floats((size_t)kk * np);
    cnnrt_im2col(in, v->c, v->h, v->w, v->kh, v->kw, v->sh, v->sw, v->ph, v->pw, v->dh, v->dw, oh,
                 ow, full);
    for (int r0 = 0; r0 < oh; r0++) {
        for (int n = 1; r0 + n <= oh; n++) {
            fill(band, (size_t)kk * np, NAN);
            cnnrt_im2col_rows(in, v->c, v->h, v->w, v->kh, v->kw, v->sh, v->sw, v->ph, v->pw,
                              v->dh, v->dw, r0, n, ow, band);
            for (int q = 0; q < kk; q++)
                for (int p = 0; p < n * ow; p++) {
                    float got = band[(size_t)q * n * ow + p];
                    float want = full[(size_t)q * np + (size_t)r0 * ow + p];
                    ck_assert_msg(got == want, "conv %d rows %d+%d: col[%d][%d] = %g, want %g", _i,
                                  r0, n, q, p, got, want);
                }
        }
    }
    free(in);
    free(full);
    free(band);
}
END_TEST

/* ---- float32 files ----------------------------------------------------- */

/* A fresh temp directory for one test; path written to dir. */
static void make_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/cnnrt_test_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < size);
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Redirects stderr into a file in dir until capture_end. */
typedef struct {
    int fd, saved;
    char log[512];
} Capture;

static void capture_begin(Capture *c, const char *dir)
{
    join(c->log, sizeof c->log, dir, "stderr.txt");
    c->fd = open(c->log, O_CREAT | O_TRUNC | O_RDWR, 0600);
    ck_assert_int_ge(c->fd, 0);
    fflush(stderr);
    c->saved = dup(2);
    ck_assert_int_ge(c->saved, 0);
    dup2(c->fd, 2);
}

/* Restores stderr; msg gets what was written meanwhile. */
static void capture_end(Capture *c, char *msg, size_t size)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    ssize_t n = pread(c->fd, msg, size - 1, 0);
    close(c->fd);
    remove(c->log);
    msg[n > 0 ? n : 0] = '\0';
}

/* cnnrt_read_f32 with its stderr captured into msg. */
static int read_capturing(const char *dir, const char *path, float *buf, size_t count, char *msg,
                          size_t size)
{
    Capture c;
    capture_begin(&c, dir);
    int rc = cnnrt_read_f32(path, buf, count);
    capture_end(&c, msg, size);
    return rc;
}

START_TEST(test_f32_round_trip)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    join(path, sizeof path, dir, "data.f32");
    enum { N = 3000 }; /* more than one 4 KiB chunk */
    static float out[N], back[N];
    Rng r = {42u};
    for (int i = 0; i < N; i++)
        out[i] = rng_next(&r) * 1e3f;
    out[0] = NAN;
    out[1] = INFINITY;
    out[2] = -INFINITY;
    out[3] = -0.0f;
    out[4] = FLT_MIN / 8.0f; /* subnormal */
    out[5] = FLT_MAX;
    ck_assert_int_eq(cnnrt_write_f32(path, out, N), 0);
    ck_assert_int_eq(cnnrt_read_f32(path, back, N), 0);
    ck_assert_msg(memcmp(out, back, sizeof out) == 0, "round trip changed bits");
    ck_assert_int_eq(cnnrt_write_f32(path, out, 0), 0);
    ck_assert_int_eq(cnnrt_read_f32(path, back, 0), 0);
    remove(path);
    remove(dir);
}
END_TEST

/* The file format is little-endian IEEE float32, whatever the host. */
START_TEST(test_f32_byte_order)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    join(path, sizeof path, dir, "le.f32");
    const float v[2] = {1.0f, -2.0f};
    const unsigned char want[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    ck_assert_int_eq(cnnrt_write_f32(path, v, 2), 0);
    unsigned char got[9];
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(got, 1, sizeof got, f), 8);
    fclose(f);
    ck_assert(memcmp(got, want, 8) == 0);
    const unsigned char half[4] = {0x00, 0x00, 0x00, 0x3f};
    write_bytes(path, half, 4);
    float back;
    ck_assert_int_eq(cnnrt_read_f32(path, &back, 1), 0);
    ck_assert(back == 0.5f);
    remove(path);
    remove(dir);
}
END_TEST

START_TEST(test_f32_wrong_size)
{
    char dir[256], path[512], msg[512], want[1024];
    make_tmpdir(dir, sizeof dir);
    join(path, sizeof path, dir, "in.f32");
    static unsigned char bytes[3140];
    static float buf[785];
    write_bytes(path, bytes, 3000);
    ck_assert_int_eq(read_capturing(dir, path, buf, 784, msg, sizeof msg), -1);
    snprintf(want, sizeof want,
             "%s: expected 784 float32 values (3136 bytes), file has 3000 bytes\n", path);
    ck_assert_str_eq(msg, want);
    write_bytes(path, bytes, 3140); /* too long */
    ck_assert_int_eq(read_capturing(dir, path, buf, 784, msg, sizeof msg), -1);
    snprintf(want, sizeof want,
             "%s: expected 784 float32 values (3136 bytes), file has 3140 bytes\n", path);
    ck_assert_str_eq(msg, want);
    write_bytes(path, bytes, 1); /* nonempty file, zero values wanted */
    ck_assert_int_eq(read_capturing(dir, path, buf, 0, msg, sizeof msg), -1);
    write_bytes(path, bytes, 3136); /* exact size still reads */
    ck_assert_int_eq(read_capturing(dir, path, buf, 784, msg, sizeof msg), 0);
    ck_assert_str_eq(msg, "");
    remove(path);
    remove(dir);
}
END_TEST

/* Two dumps: the index starts over at cnnrt_dump_begin and lists each file
 * after its header line; the files hold the floats. */
START_TEST(test_dump_index_and_files)
{
    char dir[256], path[512], text[512];
    make_tmpdir(dir, sizeof dir);
    const float a[3] = {1.0f, -2.5f, 3.0f}, b[1] = {7.0f};
    float back[3];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cnnrt_dump_begin(dir), 0);
        ck_assert_int_eq(cnnrt_dump_tensor(dir, "conv1.f32", "conv1\tconv2d\t1,3\tconv1", a, 3), 0);
        ck_assert_int_eq(cnnrt_dump_tensor(dir, "fc.f32", "fc\tlinear\t1,1\tfc", b, 1), 0);
    }
    join(path, sizeof path, dir, "conv1.f32");
    ck_assert_int_eq(cnnrt_read_f32(path, back, 3), 0);
    ck_assert(back[0] == 1.0f && back[1] == -2.5f && back[2] == 3.0f);
    remove(path);
    join(path, sizeof path, dir, "fc.f32");
    ck_assert_int_eq(cnnrt_read_f32(path, back, 1), 0);
    ck_assert(back[0] == 7.0f);
    remove(path);
    join(path, sizeof path, dir, "index.tsv");
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_str_eq(text, "# file\tlabel\top\tshape\tlayers\n"
                           "conv1.f32\tconv1\tconv2d\t1,3\tconv1\n"
                           "fc.f32\tfc\tlinear\t1,1\tfc\n");
    remove(path);
    remove(dir);
}
END_TEST

/* A directory that does not exist: -1 and the path in the message. */
START_TEST(test_dump_missing_dir)
{
    char dir[256], missing[512], msg[1024], want[1024];
    make_tmpdir(dir, sizeof dir);
    join(missing, sizeof missing, dir, "gone");
    Capture c;
    capture_begin(&c, dir);
    int rc = cnnrt_dump_begin(missing);
    capture_end(&c, msg, sizeof msg);
    ck_assert_int_eq(rc, -1);
    snprintf(want, sizeof want, "%s/index.tsv: cannot write: No such file or directory\n", missing);
    ck_assert_str_eq(msg, want);
    remove(dir);
}
END_TEST

START_TEST(test_f32_missing_file)
{
    char dir[256], path[512], msg[512], prefix[600];
    make_tmpdir(dir, sizeof dir);
    join(path, sizeof path, dir, "no-such.f32");
    float buf[4];
    ck_assert_int_eq(read_capturing(dir, path, buf, 4, msg, sizeof msg), -1);
    snprintf(prefix, sizeof prefix, "%s: ", path);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "message: %s", msg);
    ck_assert_ptr_nonnull(strstr(msg, "No such file"));
    /* writing into a directory that does not exist fails the same way */
    join(path, sizeof path, dir, "no-such-dir/out.f32");
    fill(buf, 4, 1.0f);
    Capture c;
    capture_begin(&c, dir);
    int rc = cnnrt_write_f32(path, buf, 4);
    capture_end(&c, msg, sizeof msg);
    ck_assert_int_eq(rc, -1);
    snprintf(prefix, sizeof prefix, "%s: ", path);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "message: %s", msg);
    remove(dir);
}
END_TEST

/* I/O errors other than open: reading a directory, writing to a full device. */
START_TEST(test_f32_io_errors)
{
    char dir[256], msg[512], prefix[300];
    make_tmpdir(dir, sizeof dir);
    float buf[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    ck_assert_int_eq(read_capturing(dir, dir, buf, 4, msg, sizeof msg), -1);
    snprintf(prefix, sizeof prefix, "%s: ", dir);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "message: %s", msg);
    if (access("/dev/full", W_OK) == 0) {
        Capture c;
        capture_begin(&c, dir);
        int rc = cnnrt_write_f32("/dev/full", buf, 4);
        capture_end(&c, msg, sizeof msg);
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strncmp(msg, "/dev/full: write error: ", 24) == 0, "message: %s", msg);
    }
    remove(dir);
}
END_TEST

START_TEST(test_blas_name)
{
    const char *name = cnnrt_blas_name();
    ck_assert_msg(strcmp(name, "openblas") == 0 || strcmp(name, "none") == 0, "name %s", name);
}
END_TEST

/* ---- BLAS threads --------------------------------------------------------- */

/* CPU seconds of the whole process, and of the calling thread. */
static double cpu_seconds(clockid_t clock)
{
    struct timespec ts;
    ck_assert_int_eq(clock_gettime(clock, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds that threads other than the caller spent during `reps`
 * products C = A * B of n x n matrices (OpenBLAS's workers, if it uses any),
 * and the caller's own. */
static void gemm_cpu(int n, int reps, const float *a, const float *b, float *c, double *others,
                     double *own)
{
    double p0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID), t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < reps; i++)
        cnnrt_sgemm(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
    *others = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - p0 - t;
    *own = t;
}

/* cnnrt_set_blas_threads(1), what code generated with --threads 1 is to call
 * (issue 15), makes OpenBLAS compute on the calling thread alone whatever
 * OPENBLAS_NUM_THREADS says: other threads spend (next to) no CPU time in a
 * product OpenBLAS would split, while with 2 threads they do (which shows that
 * the measurement sees them). The count reads back; n < 1 counts as 1;
 * without OpenBLAS it is always 1. The product is the same either way. */
START_TEST(test_blas_threads)
{
    const int n = 384, reps = 4;
    const bool openblas = strcmp(cnnrt_blas_name(), "openblas") == 0;
    float *a = alloc_floats((size_t)n * n), *b = alloc_floats((size_t)n * n);
    float *c1 = alloc_floats((size_t)n * n), *c2 = alloc_floats((size_t)n * n);
    Rng r = {7};
    for (int i = 0; i < n * n; i++) {
        a[i] = rng_next(&r);
        b[i] = rng_next(&r);
    }
    cnnrt_set_blas_threads(2);
    ck_assert_int_eq(cnnrt_get_blas_threads(), openblas ? 2 : 1);
    cnnrt_set_blas_threads(0);
    ck_assert_int_eq(cnnrt_get_blas_threads(), 1);
    cnnrt_set_blas_threads(-3);
    ck_assert_int_eq(cnnrt_get_blas_threads(), 1);
    cnnrt_set_blas_threads(1);
    ck_assert_int_eq(cnnrt_get_blas_threads(), 1);

    /* OpenBLAS's workers spin for a while (2^28 cycles by default) after they
     * start or finish a job, before they sleep: let them. */
    struct timespec nap = {0, 500 * 1000 * 1000};
    nanosleep(&nap, NULL);
    double others1, own1, others2, own2;
    gemm_cpu(n, reps, a, b, c1, &others1, &own1);
    ck_assert_msg(others1 <= 0.002 + 0.05 * own1,
                  "1 BLAS thread: other threads used %.4f s of CPU (the caller %.4f s)", others1,
                  own1);
    if (openblas) {
        cnnrt_set_blas_threads(2);
        gemm_cpu(n, reps, a, b, c2, &others2, &own2);
        ck_assert_msg(others2 > 0.0,
                      "2 BLAS threads: no CPU time in other threads (the caller %.4f s)", own2);
        for (int i = 0; i < n * n; i++)
            ck_assert_msg(fabsf(c1[i] - c2[i]) <= 1e-4f * (1.0f + fabsf(c1[i])),
                          "element %d: %g with 1 thread, %g with 2", i, c1[i], c2[i]);
        cnnrt_set_blas_threads(1);
    }
    free(a);
    free(b);
    free(c1);
    free(c2);
}
END_TEST

/* cnnrt_cpu_isa: in range, and CNNRT_ISA lowers it but never raises it;
 * cnnrt_cpu_vnni follows it. */
START_TEST(test_cpu_isa)
{
    unsetenv("CNNRT_ISA");
    const int hw = cnnrt_cpu_isa();
    ck_assert_int_ge(hw, CNNRT_ISA_BASE);
    ck_assert_int_le(hw, CNNRT_ISA_AVX512);
#if !defined(__x86_64__)
    ck_assert_int_eq(hw, CNNRT_ISA_BASE);
#endif
    static const struct {
        const char *env;
        int isa;
    } cases[] = {{"sse", CNNRT_ISA_BASE}, {"avx2", CNNRT_ISA_AVX2}, {"avx512", CNNRT_ISA_AVX512}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("CNNRT_ISA", cases[i].env, 1);
        ck_assert_int_eq(cnnrt_cpu_isa(), cases[i].isa < hw ? cases[i].isa : hw);
    }
    setenv("CNNRT_ISA", "bogus", 1);
    ck_assert_int_eq(cnnrt_cpu_isa(), hw);
    setenv("CNNRT_ISA", "", 1);
    ck_assert_int_eq(cnnrt_cpu_isa(), hw);
    unsetenv("CNNRT_ISA");
    ck_assert_int_eq(cnnrt_cpu_isa(), hw);
    /* VNNI only with AVX-512, so CNNRT_ISA=avx2 and sse turn it off */
    const int vnni = cnnrt_cpu_vnni();
    ck_assert(vnni == 0 || (vnni == 1 && hw == CNNRT_ISA_AVX512));
    setenv("CNNRT_ISA", "avx2", 1);
    ck_assert_int_eq(cnnrt_cpu_vnni(), 0);
    setenv("CNNRT_ISA", "sse", 1);
    ck_assert_int_eq(cnnrt_cpu_vnni(), 0);
    unsetenv("CNNRT_ISA");
    ck_assert_int_eq(cnnrt_cpu_vnni(), vnni);
}
END_TEST

/* ---- per-layer profile --------------------------------------------------- */

START_TEST(test_prof_tick_reset)
{
    cnnrt_prof_layer l[2] = {{"a", "conv2d", "gemm", 10.0, 0.0, 0},
                             {"b", "relu", "direct", 0.0, 0.0, 0}};
    double t0 = cnnrt_now_ms();
    double t1 = cnnrt_prof_tick(&l[0], t0 - 5.0); /* as if layer a took 5 ms */
    ck_assert(t1 >= t0);
    ck_assert(l[0].ms >= 5.0 && l[0].ms < 5.0 + (t1 - t0) + 1e-9);
    ck_assert_int_eq(l[0].calls, 1);
    double t2 = cnnrt_prof_tick(&l[1], t1);
    ck_assert(t2 >= t1);
    ck_assert_double_eq_tol(l[1].ms, t2 - t1, 1e-12);
    cnnrt_prof_tick(&l[0], t2);
    ck_assert_int_eq(l[0].calls, 2);
    cnnrt_prof_reset(l, 2);
    ck_assert(l[0].ms == 0.0 && l[1].ms == 0.0 && l[0].calls == 0 && l[1].calls == 0);
    ck_assert_str_eq(l[0].name, "a"); /* the description is kept */
}
END_TEST

START_TEST(test_prof_print)
{
    char dir[256], log[512], text[2048];
    make_tmpdir(dir, sizeof dir);
    join(log, sizeof log, dir, "stdout.txt");
    /* conv: 2 GFLOP in a mean 1 ms; relu 1.5 ms; "never" was not called */
    cnnrt_prof_layer l[3] = {{"conv", "conv2d", "im2col+gemm", 2e9, 2.0, 2},
                             {"never", "relu", "direct", 0.0, 0.0, 0},
                             {"act", "relu", "direct", 0.0, 3.0, 2}};
    int fd = open(log, O_CREAT | O_TRUNC | O_RDWR, 0600);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    cnnrt_prof_print(l, 3, "net, batch 1");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    remove(log);
    remove(dir);
    text[n > 0 ? n : 0] = '\0';
    ck_assert_msg(strncmp(text, "profile: net, batch 1, mean of 2 calls\n", 39) == 0, "%s", text);
    ck_assert_msg(strstr(text, "conv ") && strstr(text, "im2col+gemm") && strstr(text, "1.0000") &&
                      strstr(text, "40.0%") && strstr(text, "2000.00"),
                  "%s", text);
    ck_assert_msg(strstr(text, "1.5000") && strstr(text, "60.0%"), "%s", text);
    ck_assert_msg(!strstr(text, "never"), "a layer never called is listed: %s", text);
    const char *total = strstr(text, "\ntotal ");
    ck_assert_msg(total && strstr(total, "2.5000") && strstr(total, "100.0%") &&
                      strstr(total, "800.00"),
                  "%s", text);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *gemm = tcase_create("gemm");
    tcase_set_timeout(gemm, 60);
    tcase_add_loop_test(gemm, test_sgemm_shapes, 0, (int)NELEM(gemm_shapes));
    tcase_add_test(gemm, test_sgemm_alpha_zero);
    tcase_add_test(gemm, test_sgemm_degenerate);
    tcase_add_test(gemm, test_sgemm_known_values);
    tcase_add_loop_test(gemm, test_sgemv_shapes, 0, (int)NELEM(gemv_shapes));
    tcase_add_test(gemm, test_sgemv_degenerate);
    suite_add_tcase(s, gemm);
    TCase *conv = tcase_create("im2col");
    tcase_add_loop_test(conv, test_im2col_conv, 0, (int)NELEM(convs));
    tcase_add_test(conv, test_im2col_identity);
    tcase_add_loop_test(conv, test_im2col_rows, 0, (int)NELEM(convs));
    suite_add_tcase(s, conv);
    TCase *io = tcase_create("io");
    tcase_add_test(io, test_f32_round_trip);
    tcase_add_test(io, test_f32_byte_order);
    tcase_add_test(io, test_f32_wrong_size);
    tcase_add_test(io, test_f32_missing_file);
    tcase_add_test(io, test_f32_io_errors);
    tcase_add_test(io, test_blas_name);
    tcase_add_test(io, test_blas_threads);
    tcase_add_test(io, test_cpu_isa);
    tcase_add_test(io, test_dump_index_and_files);
    tcase_add_test(io, test_dump_missing_dir);
    suite_add_tcase(s, io);
    TCase *prof = tcase_create("profile");
    tcase_add_test(prof, test_prof_tick_reset);
    tcase_add_test(prof, test_prof_print);
    suite_add_tcase(s, prof);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runtime_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
