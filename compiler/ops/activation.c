/* ops/activation.c - elementwise activations: relu, relu6, leaky_relu,
 * sigmoid, tanh, hardswish, silu, hardsigmoid, gelu, clamp; and the unary
 * math ops exp, log, neg, abs, sqrt, reciprocal, floor, ceil, sin, cos.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

#include <math.h>
#include <string.h>

#include "emit_internal.h"

/* ---- front end ------------------------------------------------------------ */

#include "args.h"
#include "shape.h"

static const AttrSpec leaky_relu_args[] = {{"slope", A_FLOAT, false}, {NULL, 0, 0}};

static bool leaky_relu_set_attrs(Node *n, const ArgSet *as)
{
    n->a.slope = get_float(as, "slope", 0.01);
    return float_in(as, "slope", n->a.slope, -1e30, 1e30, false, op_name(n->op));
}

static void leaky_relu_print(const Node *n, FILE *f)
{
    fprintf(f, " slope=%g", n->a.slope);
}

static const AttrSpec gelu_args[] = {{"approximate", A_STR, false}, {NULL, 0, 0}};

/* nn.GELU(approximate="none" | "tanh"). */
static bool gelu_set_attrs(Node *n, const ArgSet *as)
{
    int k = spec_index(as->spec, "approximate");
    const char *mode = as->set[k] ? as->val[k].s : "none";
    n->a.gelu_tanh = strcmp(mode, "tanh") == 0;
    if (!n->a.gelu_tanh && strcmp(mode, "none") != 0) {
        diag_error(as->loc[k], "gelu: approximate must be \"none\" or \"tanh\", not \"%s\"", mode);
        return false;
    }
    return true;
}

static void gelu_print(const Node *n, FILE *f)
{
    if (n->a.gelu_tanh)
        fprintf(f, " approximate=tanh");
}

static const AttrSpec clamp_args[] = {{"min", A_FLOAT, false}, {"max", A_FLOAT, false}, {NULL, 0, 0}};

/* torch.clamp(x, min, max): either bound may be left out, not both; each a
 * finite float32. */
static bool clamp_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    a->has_lo = arg_given(as, "min");
    a->has_hi = arg_given(as, "max");
    if (!a->has_lo && !a->has_hi) {
        diag_error(n->loc, "clamp needs 'min' or 'max' (or both)");
        return false;
    }
    return get_float32(as, "min", 0.0, &a->lo, "clamp") && get_float32(as, "max", 0.0, &a->hi, "clamp");
}

static void clamp_print(const Node *n, FILE *f)
{
    if (n->a.has_lo)
        fprintf(f, " min=%g", n->a.lo);
    if (n->a.has_hi)
        fprintf(f, " max=%g", n->a.hi);
}

static const AttrSpec hardsigmoid_args[] = {
    {"alpha", A_FLOAT, false}, {"beta", A_FLOAT, false}, {NULL, 0, 0}};

/* nn.Hardsigmoid, relu6(x + 3) / 6; with alpha or beta given, ONNX's
 * HardSigmoid max(0, min(1, alpha * x + beta)), defaults 1/6 and 0.5. */
static bool hardsigmoid_set_attrs(Node *n, const ArgSet *as)
{
    Attrs *a = &n->a;
    a->alpha_beta = arg_given(as, "alpha") || arg_given(as, "beta");
    return get_float32(as, "alpha", 1.0 / 6.0, &a->alpha, "hardsigmoid") &&
           get_float32(as, "beta", 0.5, &a->beta, "hardsigmoid");
}

static void hardsigmoid_print(const Node *n, FILE *f)
{
    if (n->a.alpha_beta)
        fprintf(f, " alpha=%g beta=%g", n->a.alpha, n->a.beta);
}

/* Each activation on one value as cnnc computes it (prune-channels folds
 * channels that are constant); the same formulas as the C below. */
static float relu_eval(const Attrs *a, float x)
{
    (void)a;
    return x < 0.0f ? 0.0f : x;
}

static float relu6_eval(const Attrs *a, float x)
{
    (void)a;
    return x < 0.0f ? 0.0f : x > 6.0f ? 6.0f : x;
}

static float leaky_relu_eval(const Attrs *a, float x)
{
    return x < 0.0f ? x * (float)a->slope : x;
}

static float sigmoid_eval(const Attrs *a, float x)
{
    (void)a;
    return 1.0f / (1.0f + expf(-x));
}

static float tanh_eval(const Attrs *a, float x)
{
    (void)a;
    return tanhf(x);
}

static float hardswish_eval(const Attrs *a, float x)
{
    (void)a;
    return x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
}

static float silu_eval(const Attrs *a, float x)
{
    (void)a;
    return x / (1.0f + expf(-x));
}

/* PyTorch: min(max(x + 3, 0), 6) / 6 (ATen's hardsigmoid kernel); ONNX's
 * form as its reference computes it in float32, np.clip(x * alpha + beta,
 * 0, 1) (NaN stays NaN). */
static float hardsigmoid_eval(const Attrs *a, float x)
{
    if (a->alpha_beta) {
        float v = x * (float)a->alpha + (float)a->beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    return fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
}

/* ATen's GeluKernel: x * 0.5 * (1 + erf(x * M_SQRT1_2)), or with
 * approximate="tanh" 0.5 * x * (1 + tanh(kBeta * (x + 0.044715 * x^3))),
 * kBeta = sqrt(2) * (2 / sqrt(pi)) * 0.5 rounded to float. */
#define GELU_ALPHA 0.70710678118654752440 /* M_SQRT1_2 */
#define GELU_BETA (1.41421356237309504880 * 1.12837916709551257390 * 0.5)

static float gelu_eval(const Attrs *a, float x)
{
    if (a->gelu_tanh) {
        float inner = (float)GELU_BETA * (x + 0.044715f * (x * x * x));
        return 0.5f * x * (1.0f + tanhf(inner));
    }
    return x * 0.5f * (1.0f + erff(x * (float)GELU_ALPHA));
}

/* min(max(x, lo), hi) as torch.clamp: NaN stays NaN, and with min > max
 * every other value is max. The low bound used is min(lo, hi), so a value
 * below lo becomes hi then (the C below compares the same way). */
static float clamp_low(const Attrs *a)
{
    return a->has_hi && (float)a->hi < (float)a->lo ? (float)a->hi : (float)a->lo;
}

static float clamp_eval(const Attrs *a, float x)
{
    if (a->has_lo && x < (float)a->lo)
        return clamp_low(a);
    if (a->has_hi && x > (float)a->hi)
        return (float)a->hi;
    return x;
}

/* ---- back end: emitter ---------------------------------------------------- */

/* The C expression of each activation applied to variable x. NaN propagates
 * as in PyTorch (comparisons written so that NaN falls through). */
static const char *relu_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    (void)a;
    snprintf(buf, size, "%s < 0.0f ? 0.0f : %s", x, x);
    return buf;
}

static const char *relu6_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    (void)a;
    snprintf(buf, size, "%s < 0.0f ? 0.0f : %s > 6.0f ? 6.0f : %s", x, x, x);
    return buf;
}

static const char *leaky_relu_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    char s[40];
    snprintf(buf, size, "%s < 0.0f ? %s * %s : %s", x, x, flit(a->slope, s, sizeof s), x);
    return buf;
}

static const char *sigmoid_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    (void)a;
    snprintf(buf, size, "1.0f / (1.0f + expf(-%s))", x);
    return buf;
}

static const char *tanh_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    (void)a;
    snprintf(buf, size, "tanhf(%s)", x);
    return buf;
}

static const char *hardswish_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    (void)a;
    snprintf(buf, size, "%s * fminf(fmaxf(%s + 3.0f, 0.0f), 6.0f) / 6.0f", x, x);
    return buf;
}

static const char *silu_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    (void)a;
    snprintf(buf, size, "%s / (1.0f + expf(-%s))", x, x);
    return buf;
}

static const char *hardsigmoid_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    char al[40], be[40], v[100];
    if (!a->alpha_beta) {
        snprintf(buf, size, "fminf(fmaxf(%s + 3.0f, 0.0f), 6.0f) / 6.0f", x);
        return buf;
    }
    /* at most 157 characters with x "acc" and 16-character literals: the
     * callers' buffers are 160 */
    snprintf(v, sizeof v, "(%s * %s + %s)", x, flit(a->alpha, al, sizeof al),
             flit(a->beta, be, sizeof be));
    snprintf(buf, size, "%s < 0 ? 0.0f : %s > 1 ? 1.0f : %s", v, v, v);
    return buf;
}

static const char *gelu_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    char k[40];
    if (a->gelu_tanh)
        snprintf(buf, size, "0.5f * %s * (1.0f + tanhf(%s * (%s + 0.044715f * (%s * %s * %s))))", x,
                 flit((float)GELU_BETA, k, sizeof k), x, x, x, x);
    else
        snprintf(buf, size, "%s * 0.5f * (1.0f + erff(%s * %s))", x, x,
                 flit((float)GELU_ALPHA, k, sizeof k));
    return buf;
}

static const char *clamp_c(const Attrs *a, const char *x, char *buf, size_t size)
{
    char lo[40], low[40], hi[40];
    flit(a->lo, lo, sizeof lo);
    flit(clamp_low(a), low, sizeof low);
    flit(a->hi, hi, sizeof hi);
    if (a->has_lo && a->has_hi)
        snprintf(buf, size, "%s < %s ? %s : %s > %s ? %s : %s", x, lo, low, x, hi, hi, x);
    else if (a->has_lo)
        snprintf(buf, size, "%s < %s ? %s : %s", x, lo, lo, x);
    else
        snprintf(buf, size, "%s > %s ? %s : %s", x, hi, hi, x);
    return buf;
}

/* The layer body of every activation: its C expression on each element. */
static void emit_elementwise(Emitter *e, const Node *n)
{
    char expr[200];
    out(e, "for (int i = 0; i < %lld; i++) {", (long long)ir_tensor_numel(n->out));
    out(e, "    const float x = in[i];");
    out(e, "    out[i] = %s;", op_def(n->op)->act_c(&n->a, "x", expr, sizeof expr));
    out(e, "}");
}

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_RELU = {
    /* front end */
    .args = NULL,
    .infer = infer_elementwise,
    .act_eval = relu_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = relu_c,
};

const OpDef opdef_RELU6 = {
    /* front end */
    .args = NULL,
    .infer = infer_elementwise,
    .act_eval = relu6_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = relu6_c,
};

const OpDef opdef_LEAKY_RELU = {
    /* front end */
    .args = leaky_relu_args,
    .set_attrs = leaky_relu_set_attrs,
    .infer = infer_elementwise,
    .print = leaky_relu_print,
    .act_eval = leaky_relu_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = leaky_relu_c,
};

const OpDef opdef_SIGMOID = {
    /* front end */
    .args = NULL,
    .infer = infer_elementwise,
    .act_eval = sigmoid_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = sigmoid_c,
};

const OpDef opdef_TANH = {
    /* front end */
    .args = NULL,
    .infer = infer_elementwise,
    .act_eval = tanh_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = tanh_c,
};

const OpDef opdef_HARDSWISH = {
    /* front end */
    .args = NULL,
    .infer = infer_elementwise,
    .act_eval = hardswish_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = hardswish_c,
};

const OpDef opdef_SILU = {
    /* front end */
    .args = NULL,
    .infer = infer_elementwise,
    .act_eval = silu_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = silu_c,
};

const OpDef opdef_HARDSIGMOID = {
    /* front end */
    .args = hardsigmoid_args,
    .set_attrs = hardsigmoid_set_attrs,
    .infer = infer_elementwise,
    .print = hardsigmoid_print,
    .act_eval = hardsigmoid_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = hardsigmoid_c,
};

const OpDef opdef_GELU = {
    /* front end */
    .args = gelu_args,
    .set_attrs = gelu_set_attrs,
    .infer = infer_elementwise,
    .print = gelu_print,
    .act_eval = gelu_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = gelu_c,
};

const OpDef opdef_CLAMP = {
    /* front end */
    .args = clamp_args,
    .set_attrs = clamp_set_attrs,
    .infer = infer_elementwise,
    .print = clamp_print,
    .act_eval = clamp_eval,
    /* back end */
    .emit = emit_elementwise,
    .act_c = clamp_c,
};
/* ---- the unary math ops ------------------------------------------------------ */

/* torch.exp, torch.log, ...: one float C library call (or operator) on each
 * element, as PyTorch computes them in float32 (NaN, inf and the results
 * outside each op's domain, log(-1) or sqrt(-1) NaN, 1/0 inf, alike). Each
 * is an activation like the ones above: fuse-activation may merge it into a
 * producer's epilogue. UNARY(ID, name, C format of x, the same in C on x)
 * defines NAME_eval, NAME_c and opdef_ID. */
#define UNARY(ID, name, fmt, expr)                                                      \
    static float name##_eval(const Attrs *a, float x)                                   \
    {                                                                                   \
        (void)a;                                                                        \
        return expr;                                                                    \
    }                                                                                   \
    static const char *name##_c(const Attrs *a, const char *x, char *buf, size_t size) \
    {                                                                                   \
        (void)a;                                                                        \
        snprintf(buf, size, fmt, x);                                                    \
        return buf;                                                                     \
    }                                                                                   \
    const OpDef opdef_##ID = {                                                          \
        .args = NULL,                                                                   \
        .infer = infer_elementwise,                                                     \
        .act_eval = name##_eval,                                                        \
        .emit = emit_elementwise,                                                       \
        .act_c = name##_c,                                                              \
    };

UNARY(EXP, exp, "expf(%s)", expf(x))
UNARY(LOG, log, "logf(%s)", logf(x))
UNARY(NEG, neg, "-%s", -x)
UNARY(ABS, abs, "fabsf(%s)", fabsf(x))
UNARY(SQRT, sqrt, "sqrtf(%s)", sqrtf(x))
UNARY(RECIPROCAL, reciprocal, "1.0f / %s", 1.0f / x)
UNARY(FLOOR, floor, "floorf(%s)", floorf(x))
UNARY(CEIL, ceil, "ceilf(%s)", ceilf(x))
UNARY(SIN, sin, "sinf(%s)", sinf(x))
UNARY(COS, cos, "cosf(%s)", cosf(x))
