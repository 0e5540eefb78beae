/* ops/shuffle.c - ops that move values without computing: pad (F.pad with a
 * constant, nn.ZeroPad2d, nn.ConstantPad2d, and in "reflect" and "replicate"
 * modes, nn.ReflectionPad2d, nn.ReplicationPad2d), channel_shuffle
 * (nn.ChannelShuffle), and narrow and chunk, which take a range of channels
 * (torch.narrow(x, dim, start, length), dim 1 by default, and
 * x.chunk(chunks, dim=1)[index]).
 *
 * A PyTorch op with several results (x.chunk(2, dim=1)) is one cnnc layer
 * per result: `a = x -> chunk(2, 0)` and `b = x -> chunk(2, 1)`, so every
 * layer keeps one output tensor and the grammar stays as it is.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>
#include <string.h>

#include "args.h"
#include "shape.h"
#include "util.h"

static const AttrSpec pad_args[] = {{"left", A_INT, true},
                                    {"right", A_INT, true},
                                    {"top", A_INT, true},
                                    {"bottom", A_INT, true},
                                    {"value", A_FLOAT, false},
                                    {"mode", A_STR, false},
                                    {NULL, 0, 0}};

/* Four ints, F.pad's order over the last two dims; negative values crop. */
static bool pad_side(const ArgSet *as, const char *name, int64_t *v, Loc loc)
{
    return get_int(as, name, 0, -((int64_t)1 << 30), v, "pad", loc);
}

static bool pad_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    if (!pad_side(as, "left", &a->pad_l, n->loc) || !pad_side(as, "right", &a->pad_r, n->loc) ||
        !pad_side(as, "top", &a->pad_t, n->loc) || !pad_side(as, "bottom", &a->pad_b, n->loc))
        return false;
    a->value = get_float(as, "value", 0.0);
    if (!float_in(as, "value", a->value, -3.4028234663852886e38, 3.4028234663852886e38, false,
                  "pad"))
        return false;
    static const char *modes[] = {"constant", "reflect", "replicate"};
    int k = spec_index(as->spec, "mode");
    int m = 0;
    while (as->set[k] && m < 3 && strcmp(as->val[k].s, modes[m]) != 0)
        m++;
    a->pad_mode = as->set[k] && m < 3 ? (PadMode)m : PAD_CONSTANT;
    if (!as->set[k])
        return true;
    if (m == 3) {
        const char *near = nearest_name(as->val[k].s, modes, 3);
        diag_error(as->loc[k],
                   "pad: mode must be \"constant\", \"reflect\" or \"replicate\", not \"%s\"%s%s%s",
                   as->val[k].s, near ? "; did you mean \"" : "", near ? near : "",
                   near ? "\"?" : "");
        return false;
    }
    if (a->pad_mode != PAD_CONSTANT && arg_given(as, "value")) {
        diag_error(as->loc[spec_index(as->spec, "value")],
                   "pad: mode \"%s\" takes no value (only \"constant\" does)", modes[a->pad_mode]);
        return false;
    }
    return true;
}

/* reflect and replicate: sides from 0 (no crop), reflect's smaller than the
 * input (PyTorch's rules). */
static bool pad_mode_fits(const Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    if (a->pad_mode == PAD_CONSTANT)
        return true;
    const int64_t side[4] = {a->pad_l, a->pad_r, a->pad_t, a->pad_b};
    const int64_t size[4] = {in->dims[3], in->dims[3], in->dims[2], in->dims[2]};
    bool reflect = a->pad_mode == PAD_REFLECT;
    for (int i = 0; i < 4; i++) {
        if (side[i] < 0 || (reflect && side[i] >= size[i])) {
            char buf[160];
            diag_error(
                n->loc,
                "pad '%s': mode \"%s\" needs each side %s, not (%lld, %lld, %lld, %lld) "
                "for '%s' %s",
                n->name, reflect ? "reflect" : "replicate",
                reflect ? "at least 0 and smaller than the input's width or height" : "at least 0",
                (long long)a->pad_l, (long long)a->pad_r, (long long)a->pad_t, (long long)a->pad_b,
                in->label, ir_shape_str(in->rank, in->dims, buf, sizeof buf));
            return false;
        }
    }
    return true;
}

static bool pad_infer(Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    if (!need_rank(n, 4, "an image [N, C, H, W]") || !pad_mode_fits(n))
        return false;
    int64_t h = in->dims[2] + a->pad_t + a->pad_b, w = in->dims[3] + a->pad_l + a->pad_r;
    if (h < 1 || w < 1) {
        char buf[160];
        diag_error(n->loc, "pad '%s': padding (%lld, %lld, %lld, %lld) leaves no output of '%s' %s",
                   n->name, (long long)a->pad_l, (long long)a->pad_r, (long long)a->pad_t,
                   (long long)a->pad_b, in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf));
        return false;
    }
    int64_t dims[4] = {in->dims[0], in->dims[1], h, w};
    return set_out(n, 4, dims);
}

static void pad_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    fprintf(f, " pad=(%lld,%lld,%lld,%lld)", (long long)a->pad_l, (long long)a->pad_r,
            (long long)a->pad_t, (long long)a->pad_b);
    if (a->pad_mode == PAD_CONSTANT)
        fprintf(f, " value=%g", a->value);
    else
        fprintf(f, " mode=%s", a->pad_mode == PAD_REFLECT ? "reflect" : "replicate");
}

/* prune-channels: a constant channel stays that constant only where the
 * padding is the same value (or there is none, or it copies the input). */
static float pad_channel_value(const Node *n, int64_t k, const float *x)
{
    const Attrs *a = &n->a;
    (void)k;
    bool pads = a->pad_l > 0 || a->pad_r > 0 || a->pad_t > 0 || a->pad_b > 0;
    return !pads || a->pad_mode != PAD_CONSTANT || x[0] == (float)a->value ? x[0] : NAN;
}

static const AttrSpec shuffle_args[] = {{"groups", A_INT, true}, {NULL, 0, 0}};

static bool shuffle_set_attrs(Node *n, const ArgSet *as)
{
    return get_int(as, "groups", 1, 1, &n->a.groups, op_name(n->op), n->loc);
}

static bool shuffle_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]")) /* as F.channel_shuffle: > 2 dims */
        return false;
    if (in->dims[1] % n->a.groups != 0) {
        diag_error(n->loc,
                   "channel_shuffle '%s': groups=%lld does not divide the %lld channels "
                   "of '%s'",
                   n->name, (long long)n->a.groups, (long long)in->dims[1], in->label);
        return false;
    }
    return set_out(n, in->rank, in->dims);
}

static void shuffle_print(const Node *n, FILE *f)
{
    fprintf(f, " groups=%lld", (long long)n->a.groups);
}

static const AttrSpec narrow_args[] = {
    {"start", A_INT, true}, {"length", A_INT, true}, {"dim", A_INT, false}, {NULL, 0, 0}};
static const AttrSpec chunk_args[] = {
    {"chunks", A_INT, true}, {"index", A_INT, true}, {NULL, 0, 0}};

static bool narrow_set_attrs(Node *n, const ArgSet *as)
{
    return get_int(as, "start", 0, 0, &n->a.start, "narrow", n->loc) &&
           get_int(as, "length", 1, 1, &n->a.length, "narrow", n->loc) &&
           get_int(as, "dim", 1, -IR_MAX_RANK, &n->a.dim, "narrow", n->loc);
}

static bool chunk_set_attrs(Node *n, const ArgSet *as)
{
    n->a.dim = 1; /* the channels */
    return get_int(as, "chunks", 1, 1, &n->a.chunks, "chunk", n->loc) &&
           get_int(as, "index", 0, 0, &n->a.index, "chunk", n->loc);
}

/* The input with dimension a.dim cut to [start, start + length). */
static bool take_channels(Node *n, int64_t length)
{
    const Tensor *in = n->in[0];
    int64_t dims[IR_MAX_RANK];
    for (int d = 0; d < in->rank; d++)
        dims[d] = in->dims[d];
    dims[n->a.dim] = length;
    return set_out(n, in->rank, dims);
}

/* torch.narrow(x, dim, start, length): any dim but the batch, negative
 * counting from the end (normalised, so running this again is a no-op). */
static bool narrow_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_dim(n))
        return false;
    int64_t d = n->a.dim;
    char buf[160];
    if (n->a.start + n->a.length > in->dims[d]) {
        diag_error(n->loc, "narrow '%s': %s %lld to %lld are not all in '%s' %s", n->name,
                   d == 1 ? "channels" : "indices", (long long)n->a.start,
                   (long long)(n->a.start + n->a.length - 1), in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf));
        return false;
    }
    return take_channels(n, n->a.length);
}

/* PyTorch: chunks of ceil(C / chunks) channels, the last one smaller; there
 * may be fewer than `chunks` of them (8 channels in 3 chunks: 3, 3, 2; 6 in
 * 4: 2, 2, 2). Sets start and length. */
static bool chunk_infer(Node *n)
{
    const Tensor *in = n->in[0];
    int64_t C = in->dims[1], size = (C + n->a.chunks - 1) / n->a.chunks;
    int64_t count = (C + size - 1) / size;
    if (n->a.index >= count) {
        char buf[160];
        diag_error(n->loc,
                   "chunk '%s': index %lld is out of range: '%s' %s splits into %lld chunk%s "
                   "of %lld channel%s",
                   n->name, (long long)n->a.index, in->label,
                   ir_shape_str(in->rank, in->dims, buf, sizeof buf), (long long)count,
                   count == 1 ? "" : "s", (long long)size, size == 1 ? "" : "s");
        return false;
    }
    n->a.start = n->a.index * size;
    n->a.length = C - n->a.start < size ? C - n->a.start : size;
    return take_channels(n, n->a.length);
}

static void narrow_print(const Node *n, FILE *f)
{
    fprintf(f, " start=%lld length=%lld", (long long)n->a.start, (long long)n->a.length);
    if (n->a.dim != 1)
        fprintf(f, " dim=%lld", (long long)n->a.dim);
}

static void chunk_print(const Node *n, FILE *f)
{
    fprintf(f, " chunks=%lld index=%lld", (long long)n->a.chunks, (long long)n->a.index);
}

/* ---- back end: emitter ---------------------------------------------------- */

#include "emit_internal.h"

/* The input index of output index `o` of an axis of `size` padded by `before`:
 * mirrored about the edges (reflect: pads are smaller than size) or clamped
 * to them (replicate). */
static void emit_pad_index(Emitter *e, const char *var, const char *o, long long before,
                           long long size, PadMode mode)
{
    out(e, "int %s = %s - %lld;", var, o, before);
    if (mode == PAD_REFLECT) {
        out(e, "%s = %s < 0 ? -%s : %s;", var, var, var, var);
        out(e, "%s = %s >= %lld ? %lld - %s : %s;", var, var, size, 2 * size - 2, var, var);
    } else {
        out(e, "%s = %s < 0 ? 0 : %s >= %lld ? %lld : %s;", var, var, var, size, size - 1, var);
    }
}

/* reflect and replicate: every output element copies an input element. */
static void emit_pad_copy(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", H * W);
    out(e, "float *y = out + p * %lld;", OH * OW);
    open_block(e, "for (int oy = 0; oy < %lld; oy++) {", OH);
    emit_pad_index(e, "iy", "oy", a->pad_t, H, a->pad_mode);
    open_block(e, "for (int ox = 0; ox < %lld; ox++) {", OW);
    emit_pad_index(e, "ix", "ox", a->pad_l, W, a->pad_mode);
    out(e, "y[oy * %lld + ox] = x[iy * %lld + ix];", OW, W);
    close_brace(e);
    close_brace(e);
    close_brace(e);
}

/* Constant padding: each output row is the value, the input row's visible
 * part, the value; rows wholly outside the input are the value. */
static void emit_pad(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    long long t = a->pad_t, l = a->pad_l;
    if (a->pad_mode != PAD_CONSTANT) {
        emit_pad_copy(e, n);
        return;
    }
    /* output column ox reads input column ox - l: visible for x0 <= ox < x1 */
    long long x0 = l < 0 ? 0 : l < OW ? l : OW, x1 = W + l < OW ? W + l : OW;
    long long y0 = t < 0 ? 0 : t < OH ? t : OH, y1 = H + t < OH ? H + t : OH;
    x1 = x1 > x0 ? x1 : x0;
    y1 = y1 > y0 ? y1 : y0;
    char v[40];
    flit(a->value, v, sizeof v);
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", H * W);
    out(e, "float *y = out + p * %lld;", OH * OW);
    open_block(e, "for (int oy = 0; oy < %lld; oy++) {", OH);
    out(e, "float *yr = y + oy * %lld;", OW);
    if (y0 > 0 || y1 < OH) {
        open_block(e, "if (oy < %lld || oy >= %lld) {", y0, y1);
        out(e, "for (int ox = 0; ox < %lld; ox++)", OW);
        out(e, "    yr[ox] = %s;", v);
        out(e, "continue;");
        close_brace(e);
    }
    out(e, "const float *xr = x + (oy - %lld) * %lld;", t, W);
    if (x0 > 0) {
        out(e, "for (int ox = 0; ox < %lld; ox++)", x0);
        out(e, "    yr[ox] = %s;", v);
    }
    if (x1 > x0) {
        out(e, "for (int ox = %lld; ox < %lld; ox++)", x0, x1);
        out(e, "    yr[ox] = xr[ox - %lld];", l);
    }
    if (x1 < OW) {
        out(e, "for (int ox = %lld; ox < %lld; ox++)", x1, OW);
        out(e, "    yr[ox] = %s;", v);
    }
    close_brace(e);
    close_brace(e);
}

/* nn.ChannelShuffle: view [N, g, C/g, S], transpose to [N, C/g, g, S]:
 * output channel j * g + i is input channel i * (C/g) + j. */
static void emit_channel_shuffle(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    long long N = in->dims[0], C = in->dims[1], S = ir_numel(in->rank - 2, in->dims + 2);
    long long g = n->a.groups, per = C / g;
    out(e, "for (int b = 0; b < %lld; b++)", N);
    out(e, "    for (int j = 0; j < %lld; j++)", per);
    out(e, "        for (int i = 0; i < %lld; i++)", g);
    out(e, "            memcpy(out + (b * %lld + j * %lld + i) * %lld,", C, g, S);
    out(e, "                   in + (b * %lld + i * %lld + j) * %lld, %lld);", C, per, S,
        S * (long long)sizeof(float));
}

/* narrow and chunk: for each index of the dimensions before dim, one
 * contiguous run (a run of channels per image, for dim 1). */
static void emit_take_channels(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    int d = (int)n->a.dim;
    long long N = ir_numel(d, in->dims), C = in->dims[d];
    long long S = ir_numel(in->rank - d - 1, in->dims + d + 1), len = n->a.length;
    out(e, "for (int b = 0; b < %lld; b++)", N);
    out(e, "    memcpy(out + b * %lld, in + (b * %lld + %lld) * %lld, %lld);", len * S, C,
        (long long)n->a.start, S, len * S * (long long)sizeof(float));
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_PAD = {
    /* front end */
    .args = pad_args,
    .set_attrs = pad_set_attrs,
    .infer = pad_infer,
    .print = pad_print,
    .channel_value = pad_channel_value,
    /* back end */
    .emit = emit_pad,
};

const OpDef opdef_CHANNEL_SHUFFLE = {
    /* front end */
    .args = shuffle_args,
    .set_attrs = shuffle_set_attrs,
    .infer = shuffle_infer,
    .print = shuffle_print,
    /* back end */
    .emit = emit_channel_shuffle,
};

const OpDef opdef_NARROW = {
    /* front end */
    .args = narrow_args,
    .set_attrs = narrow_set_attrs,
    .infer = narrow_infer,
    .print = narrow_print,
    /* back end */
    .emit = emit_take_channels,
};

const OpDef opdef_CHUNK = {
    /* front end */
    .args = chunk_args,
    .set_attrs = chunk_set_attrs,
    .infer = chunk_infer,
    .print = chunk_print,
    /* back end */
    .emit = emit_take_channels,
};
