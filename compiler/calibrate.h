/* calibrate.h - activation ranges and int8 scales for cnnc's own post-training
 * quantization (docs/quantization.md, "Quantizing a float network"). */
#ifndef CNNC_CALIBRATE_H
#define CNNC_CALIBRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"

typedef enum CalibMethod { CALIB_MINMAX, CALIB_PERCENTILE } CalibMethod;

/* --quantize=int8 --calibrate FILE [--calibrate-method=M], set by the
 * driver before run_passes (quantize.c reads it). */
typedef struct QuantOptions {
    const char *calib_path;
    CalibMethod method;
    bool stats; /* --stats: per-layer SQNR on stderr */
} QuantOptions;

/* The calibration samples: raw little-endian float32, a whole number of the
 * graph's (one) input, batch included; batches of them. */
typedef struct CalibData {
    float *data;
    int64_t batches; /* each ir_tensor_numel(g->inputs[0]) floats */
} CalibData;

typedef struct Range {
    double lo, hi;
} Range;

/* Reads opt->calib_path for g: an error (naming the file) if it is missing,
 * not a whole number of inputs, or holds a value that is not finite. */
bool calib_load(const Graph *g, const char *path, CalibData *cd);
void calib_free(CalibData *cd);
/* Every tensor's range over the samples (r[t->id]): min and max, or the
 * 0.01% and 99.99% percentiles of a 2048-bin histogram. */
void calib_ranges(const Graph *g, const CalibData *cd, CalibMethod m, Range *r);
/* quint8 scale (a float32) and zero point for a range (widened to hold 0);
 * false if no float32 scale covers it (an infinite or NaN bound). */
bool calib_qparams(Range r, double *scale, int64_t *zero);
/* Symmetric int8 scale of one output channel's n weights: max|w| / 127. */
float calib_weight_scale(const float *w, int64_t n);

#endif
