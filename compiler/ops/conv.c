/* ops/conv.c - conv2d: 2-D convolution (nn.Conv2d), any stride, padding, dilation and groups.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include "args.h"
#include "shape.h"
#include "weights.h"

static const AttrSpec conv_args[] = {{"channels", A_INT, true},   {"kernel", A_PAIR, true},
                                     {"stride", A_PAIR, false},   {"pad", A_PAIR, false},
                                     {"dilation", A_PAIR, false}, {"groups", A_INT, false},
                                     {"bias", A_BOOL, false},     {NULL, 0, 0}};

static bool conv_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    const char *op = op_name(n->op);
    Loc L = n->loc;
    bool ok = get_int(as, "channels", 0, 1, &a->channels, op, L) &&
              get_pair(as, "kernel", 1, 1, 1, &a->kh, &a->kw, op, L) &&
              get_pair(as, "stride", 1, 1, 1, &a->sh, &a->sw, op, L) &&
              get_pair(as, "pad", 0, 0, 0, &a->ph, &a->pw, op, L) &&
              get_pair(as, "dilation", 1, 1, 1, &a->dh, &a->dw, op, L) &&
              get_int(as, "groups", 1, 1, &a->groups, op, L);
    a->bias = get_bool(as, "bias", true);
    return ok;
}

static bool conv_infer(Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    if (in->dims[1] % a->groups != 0 || a->channels % a->groups != 0) {
        diag_error(n->loc,
                   "conv2d '%s': groups=%lld must divide both the input channels (%lld) and "
                   "the output channels (%lld)",
                   n->name, (long long)a->groups, (long long)in->dims[1], (long long)a->channels);
        return false;
    }
    return infer_window(n, a->channels, false);
}

/* weight [out, in/groups, kh, kw], bias [out] (with bias=true). */
static void conv_params(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    const Tensor *in = n->in[0];
    rank[PARAM_WEIGHT] = 4;
    dims[PARAM_WEIGHT][0] = n->a.channels;
    dims[PARAM_WEIGHT][1] = in->dims[1] / n->a.groups;
    dims[PARAM_WEIGHT][2] = n->a.kh;
    dims[PARAM_WEIGHT][3] = n->a.kw;
    if (n->a.bias) {
        rank[PARAM_BIAS] = 1;
        dims[PARAM_BIAS][0] = n->a.channels;
    }
}

static void conv_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    fprintf(f, " channels=%lld kernel=(%lld,%lld) stride=(%lld,%lld) pad=(%lld,%lld)"
               " dilation=(%lld,%lld) groups=%lld bias=%s",
            (long long)a->channels, (long long)a->kh, (long long)a->kw, (long long)a->sh,
            (long long)a->sw, (long long)a->ph, (long long)a->pw, (long long)a->dh,
            (long long)a->dw, (long long)a->groups, a->bias ? "true" : "false");
}

/* One MAC per weight use, over the convolution's own output (before a fused pool). */
static int64_t conv_macs(const Node *n)
{
    int64_t oh, ow;
    ir_conv_out_hw(n, &oh, &ow);
    return n->out->dims[0] * n->a.channels * oh * ow * (n->in[0]->dims[1] / n->a.groups) * n->a.kh *
           n->a.kw;
}

static void conv_init_range(const Node *n, int p, InitScheme init, double *lo, double *hi)
{
    double fan_in = (double)(n->in[0]->dims[1] / n->a.groups * n->a.kh * n->a.kw);
    double fan_out = (double)(n->a.channels * n->a.kh * n->a.kw);
    init_fan_range(init, p, fan_in, fan_out, lo, hi);
}

/* prune-channels: a constant input channel c adds c * sum(W[co, ci]) to output
 * co only if every tap reads it: c == 0, or no padding. A grouped conv mixes
 * no channels across groups, so it neither absorbs nor drops any. */
static bool conv_absorbs(const Node *n, float c)
{
    return n->a.groups == 1 && (c == 0.0f || (n->a.ph == 0 && n->a.pw == 0));
}

static bool conv_fixed_channels(const Node *n)
{
    return n->a.groups != 1;
}

/* --emit=dot: " 3x3/1, 16 ch". */
static void conv_dot(const Node *n, FILE *f)
{
    fprintf(f, " %lldx%lld/%lld,", (long long)n->a.kh, (long long)n->a.kw, (long long)n->a.sh);
    ir_dot_channels(n, "ch", f);
}

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_CONV2D = {
    /* front end */
    .args = conv_args,
    .set_attrs = conv_set_attrs,
    .infer = conv_infer,
    .params = conv_params,
    .print = conv_print,
    .macs = conv_macs,
    .init_range = conv_init_range,
    .absorbs = conv_absorbs,
    .fixed_channels = conv_fixed_channels,
    .dot = conv_dot,
    /* back end */
    .emit = NULL,
};
