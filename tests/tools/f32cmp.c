/* f32cmp.c - compare two raw little-endian float32 files, for the golden tests.
 *
 *     f32cmp [--tol T] actual.f32 expected.f32
 *
 * An element passes if |a - e| <= T or |a - e| <= T * |e| (absolute OR
 * relative; default T = 1e-4). NaN matches only NaN; infinities match only
 * themselves. Files of different lengths fail. The "worst" element reported
 * on failure is the failing one with the largest min(abs err, rel err), i.e.
 * the one furthest from passing (a NaN or infinity mismatch counts as
 * infinitely far). The relative error of an element whose expected value is
 * 0 is infinite unless it matches exactly; "max rel err" in the ok line is
 * taken over the elements with a nonzero expected value (those at 0 passed
 * by the absolute test).
 *
 * Prints one line to stdout:
 *     ok: N values, max abs err X, max rel err Y                      (exit 0)
 *     FAIL: K of N values differ; worst at index I: got G, expected E (abs err A, rel err R)
 *                                                                      (exit 1)
 * Usage and I/O errors go to stderr (exit 2).
 */
#include <errno.h>
#include <math.h>

#include "cnnrt.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TOL 1e-4

typedef struct {
    float *v;
    size_t n;
} Values;

static bool host_is_little_endian(void)
{
    const unsigned int one = 1u;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Little-endian bytes to float. */
static float decode(const unsigned char *p, bool le_host)
{
    unsigned char b[4] = {p[0], p[1], p[2], p[3]};
    if (!le_host) {
        b[0] = p[3];
        b[1] = p[2];
        b[2] = p[1];
        b[3] = p[0];
    }
    float f;
    memcpy(&f, b, 4);
    return f;
}

/* Whole file into a malloc'd byte buffer; NULL after an error message. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "f32cmp: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, nread;
    unsigned char *buf = malloc(cap);
    while (buf && (nread = fread(buf + n, 1, cap - n, f)) > 0) {
        n += nread;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    bool bad = !buf || ferror(f);
    int err = errno;
    fclose(f);
    if (bad) {
        fprintf(stderr, "f32cmp: %s: %s\n", path, buf ? strerror(err) : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Reads a float32 file; false after an error message. */
static bool load(const char *path, Values *out)
{
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    if (!bytes)
        return false;
    if (len % 4 != 0) {
        fprintf(stderr, "f32cmp: %s: size %zu bytes is not a multiple of 4\n", path, len);
        free(bytes);
        return false;
    }
    out->n = len / 4;
    out->v = malloc(out->n ? out->n * sizeof(float) : 1);
    if (!out->v) {
        fprintf(stderr, "f32cmp: %s: out of memory\n", path);
        free(bytes);
        return false;
    }
    bool le = host_is_little_endian();
    for (size_t i = 0; i < out->n; i++)
        out->v[i] = decode(bytes + 4 * i, le);
    free(bytes);
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: f32cmp [--tol T] actual.f32 expected.f32\n");
    return 2;
}

/* Parses a tolerance: a finite number >= 0. */
static bool parse_tol(const char *s, double *tol)
{
    char *end;
    errno = 0;
    double t = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(t) || t < 0.0) {
        fprintf(stderr, "f32cmp: bad tolerance '%s' (want a number >= 0)\n", s);
        return false;
    }
    *tol = t;
    return true;
}

int main(int argc, char **argv)
{
    double tol = DEFAULT_TOL;
    const char *files[2];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tol") == 0) {
            if (++i == argc || !parse_tol(argv[i], &tol))
                return usage();
        } else if (strncmp(argv[i], "--tol=", 6) == 0) {
            if (!parse_tol(argv[i] + 6, &tol))
                return usage();
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "f32cmp: unknown option '%s'\n", argv[i]);
            return usage();
        } else if (nfiles < 2) {
            files[nfiles++] = argv[i];
        } else {
            return usage();
        }
    }
    if (nfiles != 2)
        return usage();
    Values got, want;
    if (!load(files[0], &got))
        return 2;
    if (!load(files[1], &want)) {
        free(got.v);
        return 2;
    }
    int rc;
    if (got.n != want.n) {
        printf("FAIL: %s has %zu values, %s has %zu values\n", files[0], got.n, files[1], want.n);
        rc = 1;
    } else {
        rc = cnnrt_compare_f32(NULL, got.v, want.v, got.n, tol) ? 1 : 0;
    }
    free(got.v);
    free(want.v);
    return rc;
}
