/* ops/upsample.c - upsample: nearest and bilinear resizing (nn.Upsample,
 * F.interpolate, ONNX's Resize).
 *
 * Everything specific to this op: arguments and PyTorch defaults, shape
 * rule, IR printing (front end), and the emitter (back end).
 *
 * Two sets of formulas. Without `coord` and `round`, nn.Upsample's own
 * (ATen's upsample_nearest2d and upsample_bilinear2d with
 * align_corners=False, in float). With either, ONNX's Resize: the source
 * coordinate of output index x is, in double, with s the scale (the one
 * given, else out/in) and O = s * in,
 *     half_pixel            (x + 0.5) / s - 0.5
 *     pytorch_half_pixel    the same, or -0.5 where O is 1
 *     align_corners         x * (in - 1) / (O - 1), or 0 where O is 1
 *     asymmetric            x / s
 *     tf_half_pixel_for_nn  (x + 0.5) / s
 * all as ((x + a) * m / q - b); nearest takes floor(x) or the next index
 * by the rounding mode (the fraction > 0.5, >= 0.5, never, or > 0), and
 * linear interpolates between floor(x) and floor(x) + 1 with weight
 * x - floor(x); indices are clamped to [0, in - 1] (ONNX's edge padding),
 * as in ONNX 1.12's reference implementation. */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>
#include <string.h>

#include "args.h"
#include "shape.h"
#include "util.h"

/* Attrs.coord (UP_PYTORCH: not given) and Attrs.round_mode. */
enum { UP_PYTORCH, UP_HALF_PIXEL, UP_PYTORCH_HALF_PIXEL, UP_ALIGN_CORNERS, UP_ASYMMETRIC,
       UP_TF_HALF_PIXEL_FOR_NN, UP_NCOORD };
enum { UP_ROUND_PREFER_FLOOR, UP_ROUND_PREFER_CEIL, UP_FLOOR, UP_CEIL, UP_NROUND };

static const char *const coord_names[UP_NCOORD] = {
    "pytorch", "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
    "tf_half_pixel_for_nn"};
static const char *const round_names[UP_NROUND] = {"round_prefer_floor", "round_prefer_ceil",
                                                   "floor", "ceil"};

static const AttrSpec upsample_args[] = {{"scale", A_SCALE, false}, {"size", A_PAIR, false},
                                         {"mode", A_STR, false},    {"coord", A_STR, false},
                                         {"round", A_STR, false},   {NULL, 0, 0}};

/* The index of string argument `name` in names[first..n), default def; an
 * error listing them if it is none. */
static bool pick_name(const ArgSet *as, const char *name, const char *const *names, int first,
                      int n, int def, int *out)
{
    int k = spec_index(as->spec, name);
    *out = def;
    if (!as->set[k])
        return true;
    for (int i = first; i < n; i++)
        if (strcmp(as->val[k].s, names[i]) == 0) {
            *out = i;
            return true;
        }
    char list[200] = "";
    for (int i = first; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"",
                 i == first ? "" : i == n - 1 ? " or " : ", ", names[i]);
    diag_error(as->loc[k], "upsample: %s must be %s, not \"%s\"", name, list, as->val[k].s);
    return false;
}

/* upsample: exactly one of scale and size; mode "nearest" (default) or
 * "bilinear"; coord and round (nearest only) select ONNX's formulas. */
static bool upsample_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    bool has_scale = arg_given(as, "scale");
    bool has_size = arg_given(as, "size");
    if (has_scale == has_size) {
        diag_error(n->loc, "upsample needs either 'scale' or 'size'%s",
                   has_scale ? ", not both" : "");
        return false;
    }
    int k = spec_index(as->spec, "scale");
    if (has_scale && as->val[k].kind == V_FLOAT) {
        a->fscale = as->val[k].f;
        if (!(a->fscale > 0.0 && a->fscale <= 1e9)) {
            diag_error(as->loc[k], "upsample: a float 'scale' must be in (0, 1e9], not %g",
                       a->fscale);
            return false;
        }
    } else if (has_scale &&
               !get_pair(as, "scale", 1, 1, 1, &a->scale_h, &a->scale_w, "upsample", n->loc)) {
        return false;
    }
    if (has_size && !get_pair(as, "size", 1, 1, 1, &a->out_h, &a->out_w, "upsample", n->loc))
        return false;
    k = spec_index(as->spec, "mode");
    const char *mode = as->set[k] ? as->val[k].s : "nearest";
    a->bilinear = strcmp(mode, "bilinear") == 0;
    if (!a->bilinear && strcmp(mode, "nearest") != 0) {
        diag_error(as->loc[k], "upsample: mode must be \"nearest\" or \"bilinear\", not \"%s\"",
                   mode);
        return false;
    }
    bool onnx = arg_given(as, "coord") || arg_given(as, "round");
    if (!pick_name(as, "coord", coord_names, UP_HALF_PIXEL, UP_NCOORD,
                   onnx ? UP_HALF_PIXEL : UP_PYTORCH, &a->coord) ||
        !pick_name(as, "round", round_names, 0, UP_NROUND, UP_ROUND_PREFER_FLOOR, &a->round_mode))
        return false;
    if (a->bilinear && arg_given(as, "round")) {
        diag_error(as->loc[spec_index(as->spec, "round")],
                   "upsample: 'round' picks the nearest pixel; mode=\"bilinear\" has none");
        return false;
    }
    return true;
}

/* Output size of one axis with a float scale: floor(in * scale), as PyTorch
 * and ONNX compute it (in double); 0 if below 1 or too large. */
static int64_t fscale_size(int64_t in, double scale)
{
    double o = floor((double)in * scale);
    return o >= 1.0 && o <= (double)((int64_t)1 << 31) ? (int64_t)o : 0;
}

static bool upsample_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
    if (n->a.fscale > 0.0) {
        dims[2] = fscale_size(in->dims[2], n->a.fscale);
        dims[3] = fscale_size(in->dims[3], n->a.fscale);
        if (!dims[2] || !dims[3]) {
            diag_error(n->loc, "upsample '%s': scale %g makes %lldx%lld a size below 1 or over 2^31",
                       n->name, n->a.fscale, (long long)in->dims[2], (long long)in->dims[3]);
            return false;
        }
    } else if (n->a.scale_h > 0 && (!ck_mul(in->dims[2], n->a.scale_h, &dims[2]) ||
                                    !ck_mul(in->dims[3], n->a.scale_w, &dims[3]))) {
        diag_error(n->loc, "upsample '%s': output size overflows", n->name);
        return false;
    }
    return set_out(n, 4, dims);
}

static void upsample_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    if (a->fscale > 0.0)
        fprintf(f, " scale=%.17g", a->fscale);
    else if (a->scale_h)
        fprintf(f, " scale=(%lld,%lld)", (long long)a->scale_h, (long long)a->scale_w);
    else
        fprintf(f, " size=(%lld,%lld)", (long long)a->out_h, (long long)a->out_w);
    fprintf(f, " mode=%s", a->bilinear ? "bilinear" : "nearest");
    if (a->coord != UP_PYTORCH)
        fprintf(f, " coord=%s", coord_names[a->coord]);
    if (a->coord != UP_PYTORCH && !a->bilinear)
        fprintf(f, " round=%s", round_names[a->round_mode]);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include <stdlib.h>

#include "emit_internal.h"

/* One axis: in -> out; sf the scale factor given (an int or float scale),
 * 0 when a size was. */
typedef struct Axis {
    int64_t in, out;
    double sf;
    char name; /* 'h' or 'w': the generated variables' prefix */
    const char *d; /* the generated loop's index */
} Axis;

/* PyTorch's compute_scales_value: 1/scale_factor when one was given, else in/out. */
static float upsample_scale(const Axis *x)
{
    return x->sf > 0 ? (float)(1.0 / x->sf) : (float)x->in / (float)x->out;
}

/* The nearest shortcuts (a copy, a shift) only where the formula's scale is
 * exactly 1 or 1/2: a float scale of 1.3 can keep the size (3 -> 3) and
 * still map 0, 0, 1 (issue 14, found by the differential fuzzer). */
static bool nearest_copy(const Axis *x)
{
    return x->out == x->in && upsample_scale(x) == 1.0f;
}

static bool nearest_half(const Axis *x)
{
    return x->out == 2 * x->in && upsample_scale(x) == 0.5f;
}

/* nearest: src = min(floor(dst * scale), in - 1), as upsample_nearest2d. */
static int64_t nearest_src(const Axis *x, int64_t dst)
{
    if (nearest_copy(x))
        return dst;
    if (nearest_half(x))
        return dst >> 1;
    int64_t src = (int64_t)floorf((float)dst * upsample_scale(x));
    return src < x->in - 1 ? src : x->in - 1;
}

/* ONNX's source coordinate ((d + a) * m / q - b) of an axis (file comment). */
typedef struct Coord {
    double a, m, q, b;
} Coord;

static Coord onnx_coord(const Attrs *at, const Axis *x)
{
    double s = x->sf > 0 ? x->sf : (double)x->out / (double)x->in;
    double O = s * (double)x->in;
    switch (at->coord) {
    case UP_PYTORCH_HALF_PIXEL:
        return O == 1.0 ? (Coord){0, 0, 1, 0.5} : (Coord){0.5, 1, s, 0.5};
    case UP_ALIGN_CORNERS:
        return O == 1.0 ? (Coord){0, 0, 1, 0} : (Coord){0, (double)(x->in - 1), O - 1.0, 0};
    case UP_ASYMMETRIC:
        return (Coord){0, 1, s, 0};
    case UP_TF_HALF_PIXEL_FOR_NN:
        return (Coord){0.5, 1, s, 0};
    default: /* UP_HALF_PIXEL */
        return (Coord){0.5, 1, s, 0.5};
    }
}

static double coord_at(Coord c, int64_t d)
{
    return ((double)d + c.a) * c.m / c.q - c.b;
}

static int64_t clamp_index(double i, int64_t in)
{
    return i < 0 ? 0 : i > (double)(in - 1) ? in - 1 : (int64_t)i;
}

/* Whether ONNX's nearest takes the index after floor(x), fraction f = x - floor(x). */
static bool round_up(int mode, double f)
{
    return mode == UP_ROUND_PREFER_FLOOR ? f > 0.5
           : mode == UP_ROUND_PREFER_CEIL ? f >= 0.5
           : mode == UP_CEIL ? f > 0.0
                             : false;
}

/* Linear interpolation taps for one axis. PyTorch's (compute_indices_weights_linear,
 * align_corners=False): src = scale * (dst + 0.5) - 0.5, clamped at 0; ONNX's
 * from the coordinate (file comment). */
static void linear_taps(const Attrs *at, const Axis *x, int64_t *i0, int64_t *i1, float *l0,
                        float *l1)
{
    float scale = upsample_scale(x);
    Coord c = onnx_coord(at, x);
    for (int64_t d = 0; d < x->out; d++) {
        if (at->coord != UP_PYTORCH) {
            double xo = coord_at(c, d), fl = floor(xo);
            i0[d] = clamp_index(fl, x->in);
            i1[d] = clamp_index(fl + 1.0, x->in);
            l1[d] = (float)(xo - fl);
            l0[d] = 1.0f - l1[d];
            continue;
        }
        float src = (float)((double)scale * ((double)d + 0.5) - 0.5);
        if (src < 0)
            src = 0;
        i0[d] = (int64_t)src;
        i1[d] = i0[d] + (i0[d] < x->in - 1 ? 1 : 0);
        float lambda = src - (float)i0[d];
        l1[d] = lambda < 0 ? 0 : lambda > 1 ? 1 : lambda;
        l0[d] = 1.0f - l1[d];
    }
}

static int64_t nearest_index(const Attrs *at, const Axis *x, int64_t d)
{
    if (at->coord == UP_PYTORCH)
        return nearest_src(x, d);
    double xo = coord_at(onnx_coord(at, x), d), fl = floor(xo);
    return clamp_index(round_up(at->round_mode, xo - fl) ? fl + 1.0 : fl, x->in);
}

/* Index tables longer than this are not emitted: the generated loop
 * computes that axis's taps itself, with the same formulas (nearest_index,
 * linear_taps), so the values are identical and the C stays small. A build
 * knob: -DUPSAMPLE_TABLE_MAX=0 computes every axis (to test that path). */
#ifndef UPSAMPLE_TABLE_MAX
#define UPSAMPLE_TABLE_MAX 4096
#endif

/* ONNX's coordinate and taps of one axis computed in the loop, as
 * coord_at, linear_taps and nearest_index do: variables c0v, c1v, lc0v, lc1v
 * for c the axis name. */
static void emit_onnx_axis(Emitter *e, const Attrs *at, const Axis *x)
{
    Coord c = onnx_coord(at, x);
    char n = x->name;
    long long last = (long long)(x->in - 1);
    out(e, "const double %cx = ((double)%s + %.17g) * %.17g / %.17g - %.17g;", n, x->d, c.a, c.m,
        c.q, c.b);
    out(e, "const double %cf = floor(%cx);", n, n);
    if (at->bilinear) {
        out(e, "const int %c0v = %cf < 0 ? 0 : %cf > %lld ? %lld : (int)%cf;", n, n, n, last, last,
            n);
        out(e, "const int %c1v = %cf + 1.0 < 0 ? 0 : %cf + 1.0 > %lld ? %lld : (int)%cf + 1;", n, n,
            n, last, last, n);
        out(e, "const float l%c1v = (float)(%cx - %cf);", n, n, n);
        out(e, "const float l%c0v = 1.0f - l%c1v;", n, n);
        return;
    }
    static const char *const up[UP_NROUND] = {" > 0.5", " >= 0.5", "", " > 0.0"};
    if (at->round_mode == UP_FLOOR)
        out(e, "const double %ci = %cf;", n, n);
    else
        out(e, "const double %ci = %cx - %cf%s ? %cf + 1.0 : %cf;", n, n, n, up[at->round_mode], n,
            n);
    out(e, "const int %c0v = %ci < 0 ? 0 : %ci > %lld ? %lld : (int)%ci;", n, n, n, last, last, n);
}

/* One axis computed in the loop: variable names v0, v1, l0, l1 ("h0v", ...)
 * for destination index d, as linear_taps / nearest_index compute them. */
static void emit_upsample_axis(Emitter *e, const Node *n, const Axis *x)
{
    char axis = x->name;
    const char *d = x->d;
    float scale = upsample_scale(x);
    if (n->a.coord != UP_PYTORCH) {
        emit_onnx_axis(e, &n->a, x);
    } else if (n->a.bilinear) {
        out(e, "float %csrc = (float)((double)%af * ((double)%s + 0.5) - 0.5);", axis,
            (double)scale, d);
        out(e, "%csrc = %csrc < 0 ? 0 : %csrc;", axis, axis, axis);
        out(e, "const int %c0v = (int)%csrc;", axis, axis);
        out(e, "const int %c1v = %c0v + (%c0v < %lld ? 1 : 0);", axis, axis, axis,
            (long long)(x->in - 1));
        out(e, "float l%c1v = %csrc - (float)%c0v;", axis, axis, axis);
        out(e, "l%c1v = l%c1v < 0 ? 0 : l%c1v > 1 ? 1 : l%c1v;", axis, axis, axis, axis);
        out(e, "const float l%c0v = 1.0f - l%c1v;", axis, axis);
    } else if (nearest_copy(x)) {
        out(e, "const int %c0v = %s;", axis, d);
    } else if (nearest_half(x)) {
        out(e, "const int %c0v = %s >> 1;", axis, d);
    } else {
        out(e, "int %c0v = (int)floorf((float)%s * %af);", axis, d, (double)scale);
        out(e, "%c0v = %c0v < %lld ? %c0v : %lld;", axis, axis, (long long)(x->in - 1), axis,
            (long long)(x->in - 1));
    }
}

/* An axis's tables (h0, h1, lh0, lh1 for 'h'): the nearest source index,
 * or bilinear's two taps and weights. */
static void emit_axis_tables(Emitter *e, const Attrs *at, const Axis *x, int64_t *i0,
                             int64_t *i1, float *l0, float *l1)
{
    char nm[4][8];
    snprintf(nm[0], sizeof nm[0], "%c0", x->name);
    snprintf(nm[1], sizeof nm[1], "%c1", x->name);
    snprintf(nm[2], sizeof nm[2], "l%c0", x->name);
    snprintf(nm[3], sizeof nm[3], "l%c1", x->name);
    if (!at->bilinear) {
        for (int64_t d = 0; d < x->out; d++)
            i0[d] = nearest_index(at, x, d);
        emit_int_table(e, nm[0], i0, x->out);
        return;
    }
    linear_taps(at, x, i0, i1, l0, l1);
    emit_int_table(e, nm[0], i0, x->out);
    emit_int_table(e, nm[1], i1, x->out);
    emit_float_table(e, nm[2], l0, x->out);
    emit_float_table(e, nm[3], l1, x->out);
}

/* The loop over an axis's output index; without a table, its taps computed
 * at the top of the body. close_axis_loop ends it. */
static void open_axis_loop(Emitter *e, const Node *n, const Axis *x, bool table)
{
    if (table) {
        out(e, "for (int %s = 0; %s < %lld; %s++)", x->d, x->d, (long long)x->out, x->d);
        e->indent++;
        return;
    }
    open_block(e, "for (int %s = 0; %s < %lld; %s++) {", x->d, x->d, (long long)x->out, x->d);
    emit_upsample_axis(e, n, x);
}

static void close_axis_loop(Emitter *e, bool table)
{
    if (table)
        e->indent--;
    else
        close_brace(e);
}

static void emit_upsample(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int64_t H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    double fs = n->a.fscale;
    const Axis ah = {H, OH, fs > 0 ? fs : (double)n->a.scale_h, 'h', "oh"};
    const Axis aw = {W, OW, fs > 0 ? fs : (double)n->a.scale_w, 'w', "ow"};
    bool th = OH <= UPSAMPLE_TABLE_MAX, tw = OW <= UPSAMPLE_TABLE_MAX;
    int64_t TH = th ? OH : 1, TW = tw ? OW : 1;
    int64_t *h0 = xcalloc((size_t)TH, sizeof *h0), *h1 = xcalloc((size_t)TH, sizeof *h1);
    int64_t *w0 = xcalloc((size_t)TW, sizeof *w0), *w1 = xcalloc((size_t)TW, sizeof *w1);
    float *lh0 = xcalloc((size_t)TH, sizeof *lh0), *lh1 = xcalloc((size_t)TH, sizeof *lh1);
    float *lw0 = xcalloc((size_t)TW, sizeof *lw0), *lw1 = xcalloc((size_t)TW, sizeof *lw1);
    if (th)
        emit_axis_tables(e, &n->a, &ah, h0, h1, lh0, lh1);
    if (tw)
        emit_axis_tables(e, &n->a, &aw, w0, w1, lw0, lw1);
    const char *H0 = th ? "h0[oh]" : "h0v", *H1 = th ? "h1[oh]" : "h1v";
    const char *LH0 = th ? "lh0[oh]" : "lh0v", *LH1 = th ? "lh1[oh]" : "lh1v";
    const char *W0 = tw ? "w0[ow]" : "w0v", *W1 = tw ? "w1[ow]" : "w1v";
    const char *LW0 = tw ? "lw0[ow]" : "lw0v", *LW1 = tw ? "lw1[ow]" : "lw1v";
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", (long long)(H * W));
    out(e, "float *y = out + p * %lld;", (long long)(OH * OW));
    open_axis_loop(e, n, &ah, th);
    open_axis_loop(e, n, &aw, tw);
    if (n->a.bilinear) {
        out(e, "y[oh * %lld + ow] =", (long long)OW);
        out(e, "    (x[%s * %lld + %s] * %s + x[%s * %lld + %s] * %s) * %s +", H0, (long long)W,
            W0, LW0, H0, (long long)W, W1, LW1, LH0);
        out(e, "    (x[%s * %lld + %s] * %s + x[%s * %lld + %s] * %s) * %s;", H1, (long long)W,
            W0, LW0, H1, (long long)W, W1, LW1, LH1);
    } else {
        out(e, "y[oh * %lld + ow] = x[%s * %lld + %s];", (long long)OW, H0, (long long)W, W0);
    }
    close_axis_loop(e, tw);
    close_axis_loop(e, th);
    close_brace(e);
    free(h0), free(h1), free(w0), free(w1), free(lh0), free(lh1), free(lw0), free(lw1);
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_UPSAMPLE = {
    /* front end */
    .args = upsample_args,
    .set_attrs = upsample_set_attrs,
    .infer = upsample_infer,
    .print = upsample_print,
    /* back end */
    .emit = emit_upsample,
};
