/* ops/pool.c - pools: maxpool, avgpool (nn.MaxPool2d, nn.AvgPool2d), global_avgpool, adaptive_avgpool.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

#include <math.h>

#include "args.h"
#include "shape.h"

static const AttrSpec maxpool_args[] = {{"kernel", A_PAIR, true},     {"stride", A_PAIR, false},
                                        {"pad", A_PAIR, false},       {"dilation", A_PAIR, false},
                                        {"ceil_mode", A_BOOL, false}, {NULL, 0, 0}};
static const AttrSpec avgpool_args[] = {{"kernel", A_PAIR, true},
                                        {"stride", A_PAIR, false},
                                        {"pad", A_PAIR, false},
                                        {"ceil_mode", A_BOOL, false},
                                        {"count_include_pad", A_BOOL, false},
                                        {NULL, 0, 0}};
static const AttrSpec adaptive_args[] = {{"size", A_PAIR, true}, {NULL, 0, 0}};

/* maxpool and avgpool: the stride defaults to the kernel; avgpool has no
 * dilation (1) and counts the padding by default. */
static bool window_pool_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    const char *op = op_name(n->op);
    Loc L = n->loc;
    bool ok = get_pair(as, "kernel", 1, 1, 1, &a->kh, &a->kw, op, L) &&
              get_pair(as, "stride", a->kh, a->kw, 1, &a->sh, &a->sw, op, L) &&
              get_pair(as, "pad", 0, 0, 0, &a->ph, &a->pw, op, L);
    a->dh = a->dw = 1;
    if (ok && n->op == OP_MAXPOOL)
        ok = get_pair(as, "dilation", 1, 1, 1, &a->dh, &a->dw, op, L);
    a->ceil_mode = get_bool(as, "ceil_mode", false);
    a->count_include_pad = n->op == OP_AVGPOOL && get_bool(as, "count_include_pad", true);
    return ok;
}

static bool window_pool_infer(Node *n)
{
    return need_rank(n, 4, "an image [N, C, H, W]") && infer_window(n, n->in[0]->dims[1], true);
}

static void window_pool_print(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    fprintf(f, " kernel=(%lld,%lld) stride=(%lld,%lld) pad=(%lld,%lld)", (long long)a->kh,
            (long long)a->kw, (long long)a->sh, (long long)a->sw, (long long)a->ph,
            (long long)a->pw);
    if (n->op == OP_MAXPOOL)
        fprintf(f, " dilation=(%lld,%lld)", (long long)a->dh, (long long)a->dw);
    fprintf(f, " ceil_mode=%s", a->ceil_mode ? "true" : "false");
    if (n->op == OP_AVGPOOL)
        fprintf(f, " count_include_pad=%s", a->count_include_pad ? "true" : "false");
}

/* prune-channels: with count_include_pad and padding, border outputs of a
 * constant channel shrink, so only 0 stays a constant. */
static float avgpool_channel_value(const Node *n, int64_t k, const float *x)
{
    (void)k;
    if (n->a.count_include_pad && (n->a.ph > 0 || n->a.pw > 0) && x[0] != 0.0f)
        return NAN;
    return x[0];
}

static bool global_avgpool_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], 1, 1};
    return set_out(n, 4, dims);
}

static bool adaptive_set_attrs(Node *n, const ArgSet *as)
{
    return get_pair(as, "size", 1, 1, 1, &n->a.out_h, &n->a.out_w, op_name(n->op), n->loc);
}

static bool adaptive_infer(Node *n)
{
    const Tensor *in = n->in[0];
    if (!need_rank(n, 4, "an image [N, C, H, W]"))
        return false;
    int64_t dims[4] = {in->dims[0], in->dims[1], n->a.out_h, n->a.out_w};
    return set_out(n, 4, dims);
}

static void adaptive_print(const Node *n, FILE *f)
{
    fprintf(f, " size=(%lld,%lld)", (long long)n->a.out_h, (long long)n->a.out_w);
}

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_MAXPOOL = {
    /* front end */
    .args = maxpool_args,
    .set_attrs = window_pool_set_attrs,
    .infer = window_pool_infer,
    .print = window_pool_print,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_AVGPOOL = {
    /* front end */
    .args = avgpool_args,
    .set_attrs = window_pool_set_attrs,
    .infer = window_pool_infer,
    .print = window_pool_print,
    .channel_value = avgpool_channel_value,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_GLOBAL_AVGPOOL = {
    /* front end */
    .args = NULL,
    .infer = global_avgpool_infer,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_ADAPTIVE_AVGPOOL = {
    /* front end */
    .args = adaptive_args,
    .set_attrs = adaptive_set_attrs,
    .infer = adaptive_infer,
    .print = adaptive_print,
    /* back end */
    .emit = NULL,
};
