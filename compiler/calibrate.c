/* calibrate.c - the calibration file, activation observers and int8 scales
 * (calibrate.h).
 *
 * Design note. Activations are per-tensor affine quint8 with ranges observed
 * on the calibration samples by running the float graph (eval.c):
 *   minmax      (default) the smallest and largest value seen: nothing is
 *               clipped, which suits the small classification networks cnnc
 *               compiles and is what PyTorch's default observer does; on
 *               Fashion-MNIST it loses 0.05 points (docs/quantization.md);
 *   percentile  a 2048-bin histogram over [min, max] per tensor, the range
 *               cut at the 0.01% and 99.99% percentiles: rare outliers no
 *               longer stretch the scale, at the cost of a second run.
 * Weights are per output channel, symmetric int8 in [-127, 127] (scale
 * max|w| / 127; no -128, so a pair of products never overflows an int16).
 * The scale and zero point follow PyTorch's MinMaxObserver for quint8: the
 * range widened to include 0, scale = (hi - lo) / 255 as a float32, zero
 * point = -round(lo / scale). */
#include "calibrate.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "util.h"

#define HIST_BINS 2048
#define PERCENTILE 0.9999

static const Loc no_loc = {0, 0, 0};

bool calib_load(const Graph *g, const char *path, CalibData *cd)
{
    *cd = (CalibData){0};
    if (g->ninputs != 1) {
        diag_error(no_loc, "--calibrate takes a network with one input, not %d", g->ninputs);
        return false;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(no_loc, "cannot open calibration file '%s': %s", path, strerror(errno));
        return false;
    }
    const Tensor *in = g->inputs[0];
    int64_t per = ir_tensor_numel(in), size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    char shape[160];
    ir_shape_str(in->rank, in->dims, shape, sizeof shape);
    if (size <= 0 || size % (per * 4) != 0) {
        diag_error(no_loc,
                   "calibration file '%s' has %lld bytes, not a multiple of %lld (input '%s' %s "
                   "in float32)",
                   path, (long long)(size < 0 ? 0 : size), (long long)(per * 4), in->label,
                   shape);
        fclose(f);
        return false;
    }
    int64_t count = size / 4;
    unsigned char *raw = xmalloc((size_t)size);
    rewind(f);
    bool ok = fread(raw, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) {
        diag_error(no_loc, "cannot read calibration file '%s'", path);
        free(raw);
        return false;
    }
    cd->data = xmalloc(sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                        (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&cd->data[i], &bits, 4);
        if (!isfinite(cd->data[i])) {
            diag_error(no_loc, "calibration file '%s': value %lld (sample %lld) is %s", path,
                       (long long)i, (long long)(i / per), isnan(cd->data[i]) ? "NaN" : "infinite");
            free(raw);
            calib_free(cd);
            return false;
        }
    }
    free(raw);
    cd->batches = count / per;
    return true;
}

void calib_free(CalibData *cd)
{
    free(cd->data);
    cd->data = NULL;
}

typedef struct Observe {
    Range *r;
    int64_t *hist; /* HIST_BINS per tensor, the second run of percentile */
} Observe;

static void observe(const Range *r, int64_t *hist, const float *v, int64_t n, Range *acc)
{
    for (int64_t i = 0; i < n; i++) {
        if (!hist) {
            acc->lo = v[i] < acc->lo ? v[i] : acc->lo;
            acc->hi = v[i] > acc->hi ? v[i] : acc->hi;
            continue;
        }
        double w = r->hi - r->lo, x = (v[i] - r->lo) / w * HIST_BINS;
        int64_t b = w > 0 && x >= 0 && x < HIST_BINS ? (int64_t)x : x >= HIST_BINS ? HIST_BINS : 0;
        hist[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b]++;
    }
}

static void observe_node(const Node *n, float *out, void *ctx)
{
    Observe *o = ctx;
    int id = n->out->id;
    observe(&o->r[id], o->hist ? o->hist + (int64_t)id * HIST_BINS : NULL, out,
            ir_tensor_numel(n->out), &o->r[id]);
}

static void run_all(const Graph *g, const CalibData *cd, float **val, Observe *o)
{
    const Tensor *in = g->inputs[0];
    int64_t per = ir_tensor_numel(in);
    for (int64_t b = 0; b < cd->batches; b++) {
        memcpy(val[in->id], cd->data + b * per, sizeof(float) * (size_t)per);
        observe(&o->r[in->id], o->hist ? o->hist + (int64_t)in->id * HIST_BINS : NULL,
                val[in->id], per, &o->r[in->id]);
        eval_run(g, val, observe_node, o);
    }
}

void calib_ranges(const Graph *g, const CalibData *cd, CalibMethod m, Range *r)
{
    for (int i = 0; i < g->ntensors; i++)
        r[i] = (Range){INFINITY, -INFINITY};
    float **val = eval_alloc(g);
    Observe o = {r, NULL};
    run_all(g, cd, val, &o);
    if (m == CALIB_PERCENTILE) {
        o.hist = xcalloc((size_t)g->ntensors * HIST_BINS, sizeof *o.hist);
        run_all(g, cd, val, &o);
        for (int i = 0; i < g->ntensors; i++) {
            const int64_t *h = o.hist + (int64_t)i * HIST_BINS;
            int64_t total = 0, cum = 0;
            for (int b = 0; b < HIST_BINS; b++)
                total += h[b];
            double w = (r[i].hi - r[i].lo) / HIST_BINS, lo = r[i].lo, hi = r[i].hi;
            int b = 0;
            for (; b < HIST_BINS && (cum += h[b]) <= (double)total * (1.0 - PERCENTILE); b++)
                ;
            lo = r[i].lo + b * w;
            for (cum = 0, b = HIST_BINS - 1;
                 b > 0 && (cum += h[b]) <= (double)total * (1.0 - PERCENTILE); b--)
                ;
            hi = r[i].lo + (b + 1) * w;
            if (total > 0 && w > 0 && isfinite(w))
                r[i] = (Range){lo, hi};
        }
        free(o.hist);
    }
    eval_free(g, val);
}

bool calib_qparams(Range r, double *scale, int64_t *zero)
{
    double lo = r.lo < 0.0 ? r.lo : 0.0, hi = r.hi > 0.0 ? r.hi : 0.0;
    if (!((hi - lo) / 255.0 <= FLT_MAX))
        return false; /* infinite or NaN */
    float s = (float)((hi - lo) / 255.0);
    if (!(s >= FLT_EPSILON))
        s = FLT_EPSILON; /* PyTorch's observer eps: a constant tensor */
    double z = -nearbyint(lo / s);
    *scale = s;
    *zero = z < 0 ? 0 : z > 255 ? 255 : (int64_t)z;
    return true;
}

float calib_weight_scale(const float *w, int64_t n)
{
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++)
        m = fabsf(w[i]) > m ? fabsf(w[i]) : m;
    float s = m / 127.0f;
    return s >= FLT_MIN ? s : 1.0f; /* an all-zero channel: any scale */
}
