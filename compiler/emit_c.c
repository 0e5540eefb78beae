/* emit_c.c - print a planned graph as standalone C99.
 *
 * Layout of the generated .c file:
 *   1. a comment block: every layer with its output shape, parameters, MACs
 *      and kernel, then totals and the arena size;
 *   2. the weights: one static const blob of little-endian float32 bytes,
 *      written as string literals of at most 4095 bytes (the longest C99
 *      guarantees). A string is one token to the C compiler, so an 11.7M
 *      parameter ResNet-18 compiles in seconds where a float literal per
 *      weight takes minutes and gigabytes. A union with a float array gives
 *      aligned, typed access to the same bytes;
 *   3. the activation arena, one static float array;
 *   4. one static function per layer, with every bound a literal;
 *   5. the entry point NAME_run(inputs..., outputs...), and optionally main().
 * Output is a pure function of the graph: byte-identical for the same input. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "opdef.h"

#define BLOB_CHUNK 4095 /* bytes per string literal: C99's minimum guaranteed limit */
#define PARAM_ALIGN 16  /* floats: each parameter starts on a 64-byte boundary */

void out(Emitter *e, const char *fmt, ...)
{
    for (int i = 0; i < e->indent; i++)
        sb_puts(e->sb, "    ");
    va_list ap;
    va_start(ap, fmt);
    StrBuf tmp = {0};
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    tmp.data = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_puts(e->sb, tmp.data);
    sb_putc(e->sb, '\n');
    free(tmp.data);
}

void close_brace(Emitter *e)
{
    e->indent--;
    out(e, "}");
}

static char *upper(const char *s)
{
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

/* A float literal that reads back as exactly the same float. */
const char *flit(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.9g", (double)(float)v);
    if (!strpbrk(buf, ".en"))
        strncat(buf, ".0", size - strlen(buf) - 1);
    strncat(buf, "f", size - strlen(buf) - 1);
    return buf;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static Tensor *root(const Tensor *t)
{
    while (t->storage == STORE_ALIAS)
        t = t->alias;
    return (Tensor *)t;
}

static char *layer_fn(const Node *n);

/* The graph inputs and outputs are the parameters of NAME_run(), whose body
 * calls the layer functions and uses the arena (and with --dump-tensors
 * NAME_dump_dir and NAME_dump): a tensor named like one of those would hide
 * it, so its parameter gets a '_'. */
static const char *hiding_suffix(const Emitter *e, const Tensor *t)
{
    size_t n = strlen(e->net);
    const char *rest = strncmp(t->name, e->net, n) == 0 ? t->name + n : "";
    bool hides = strcmp(rest, "_arena") == 0 ||
                 (e->dump && (strcmp(rest, "_dump_dir") == 0 || strcmp(rest, "_dump") == 0));
    for (int i = 0; i < e->g->nnodes && !hides; i++) {
        char *fn = layer_fn(e->g->nodes[i]);
        hides = strcmp(fn, t->name) == 0;
        free(fn);
    }
    return hides ? "_" : "";
}

/* C expression for the memory of tensor t. */
static const char *ptr(const Emitter *e, const Tensor *t, char *buf, size_t size)
{
    t = root(t);
    if (t->storage == STORE_ARENA)
        snprintf(buf, size, "%s_arena + %lld", e->net, (long long)(t->offset / 4));
    else
        snprintf(buf, size, "%s%s", t->name, hiding_suffix(e, t));
    return buf;
}

/* A layer label as it may appear inside a C comment: a label is any string,
 * so "*\/" is broken up and control characters become '?'. Valid until the
 * next call. */
static const char *comment_safe(Emitter *e, const char *label)
{
    e->label.len = 0;
    sb_write(&e->label, "", 0); /* NUL-terminated, even for an empty label */
    for (const char *p = label; *p; p++) {
        unsigned char c = (unsigned char)*p;
        sb_putc(&e->label, c < 32 || c == 127 ? '?' : (char)c);
        if (c == '*' && p[1] == '/')
            sb_putc(&e->label, '\\');
    }
    return e->label.data;
}

const char *wptr(const Emitter *e, const Node *n, int p, char *buf, size_t size)
{
    snprintf(buf, size, "%s_weights.f + %lld", e->net,
             (long long)e->param_at[n->id * PARAM_MAX + p]);
    return buf;
}

static const char *kernel_name(Kernel k)
{
    switch (k) {
    case KERNEL_GEMM:
        return "gemm";
    case KERNEL_IM2COL:
        return "im2col+gemm";
    case KERNEL_BLOCKED:
        return "blocked";
    case KERNEL_DEPTHWISE:
        return "depthwise";
    case KERNEL_SPARSE:
        return "sparse";
    default:
        return "direct";
    }
}

/* ---- header comment ------------------------------------------------------- */

static void emit_summary(Emitter *e, const EmitOptions *opt, const char *file_name)
{
    const Graph *g = e->g;
    char shape[160];
    sb_printf(e->sb, "/* %s - generated by cnnc %s from %s. Do not edit.\n *\n", file_name,
              opt->version, opt->source_path);
    sb_printf(e->sb, " * Network %s, batch %lld.\n *\n", g->name, (long long)g->batch);
    char label[64];
    int opw = 15; /* op column: wider if a fused label needs it */
    for (int i = 0; i < g->nnodes; i++) {
        int len = (int)strlen(ir_op_label(g->nodes[i], label, sizeof label));
        opw = len > opw ? len : opw;
    }
    sb_printf(e->sb, " *   %-20s %-*s %-20s %10s %12s  %s\n", "layer", opw, "op", "output",
              "params", "MACs", "kernel");
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(e->sb, " *   %-20s %-*s %-20s\n", g->inputs[i]->name, opw, "input",
                  ir_shape_str(g->inputs[i]->rank, g->inputs[i]->dims, shape, sizeof shape));
    int64_t params = 0, macs = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        params += ir_node_params(n);
        macs += ir_node_macs(n);
        sb_printf(e->sb, " *   %-20s %-*s %-20s %10lld %12lld  %s\n", comment_safe(e, n->name), opw,
                  ir_op_label(n, label, sizeof label),
                  ir_shape_str(n->out->rank, n->out->dims, shape, sizeof shape),
                  (long long)ir_node_params(n), (long long)ir_node_macs(n),
                  n->op == OP_FLATTEN || n->op == OP_DROPOUT ? "view" : kernel_name(n->kernel));
    }
    sb_printf(e->sb, " *\n * Parameters: %lld (%lld bytes of float32). MACs: %lld.\n",
              (long long)params, (long long)params * 4, (long long)macs);
    sb_printf(e->sb, " * Arena: %lld bytes (activations and scratch, static).\n",
              (long long)g->arena_bytes);
    sb_puts(e->sb, " */\n");
}

/* ---- weights ------------------------------------------------------------ */

static bool sparse_weight(const Node *n, int p); /* the sparse kernels' table holds it */

static void layout_weights(Emitter *e)
{
    const Graph *g = e->g;
    e->param_at = xcalloc((size_t)g->nnodes * PARAM_MAX, sizeof *e->param_at);
    int64_t at = 0;
    for (int i = 0; i < g->nnodes; i++) {
        for (int p = 0; p < PARAM_MAX; p++) {
            const Const *c = g->nodes[i]->param[p];
            if (!c || sparse_weight(g->nodes[i], p))
                continue;
            at = (at + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
            e->param_at[i * PARAM_MAX + p] = at;
            at += conv_param_floats(g->nodes[i], p);
        }
    }
    e->weight_floats = at;
}

/* Append one byte to a C string literal body. Octal escapes are always three
 * digits so a following digit cannot extend them; '?' is escaped so no
 * trigraph can form. */
static void put_byte(StrBuf *sb, unsigned char c)
{
    if (c >= 32 && c < 127 && c != '"' && c != '\\' && c != '?')
        sb_putc(sb, (char)c);
    else {
        char esc[5] = {'\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)),
                       (char)('0' + (c & 7)), 0};
        sb_puts(sb, esc);
    }
}

/* All parameters as one little-endian float32 image, at their layout offsets. */
static unsigned char *weight_bytes(const Emitter *e)
{
    const Graph *g = e->g;
    unsigned char *blob = xcalloc((size_t)e->weight_floats * 4, 1);
    for (int i = 0; i < g->nnodes; i++) {
        for (int p = 0; p < PARAM_MAX; p++) {
            const Const *c = g->nodes[i]->param[p];
            if (!c || sparse_weight(g->nodes[i], p))
                continue;
            unsigned char *dst = blob + e->param_at[i * PARAM_MAX + p] * 4;
            int64_t count = conv_param_floats(g->nodes[i], p);
            float *data = xmalloc(sizeof(float) * (size_t)count);
            conv_param_pack(g->nodes[i], p, data);
            for (int64_t k = 0; k < count; k++) {
                uint32_t bits;
                memcpy(&bits, &data[k], 4);
                for (int b = 0; b < 4; b++)
                    dst[k * 4 + b] = (unsigned char)(bits >> (8 * b));
            }
            free(data);
        }
    }
    return blob;
}

static void emit_weights_embedded(Emitter *e, const unsigned char *blob)
{
    int64_t nbytes = e->weight_floats * 4;
    int64_t chunks = (nbytes + BLOB_CHUNK - 1) / BLOB_CHUNK;
    sb_puts(e->sb, "\n#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
                   "#error \"cnnc stores weights as little-endian float32\"\n#endif\n\n");
    sb_printf(e->sb,
              "/* All parameters, float32 little-endian, as string literals (fast to compile). */\n"
              "static const union {\n    unsigned char bytes[%lld][%d];\n    float f[%lld];\n} "
              "%s_weights = {{\n",
              (long long)chunks, BLOB_CHUNK, (long long)e->weight_floats, e->net);
    for (int64_t ch = 0; ch < chunks; ch++) {
        int64_t begin = ch * BLOB_CHUNK;
        int64_t end = begin + BLOB_CHUNK < nbytes ? begin + BLOB_CHUNK : nbytes;
        /* One line per chunk: splitting it into concatenated pieces costs gcc
         * about 25% more memory (measured on a 9.7M-parameter network). */
        sb_puts(e->sb, "\"");
        for (int64_t k = begin; k < end; k++)
            put_byte(e->sb, blob[k]);
        sb_puts(e->sb, ch + 1 < chunks ? "\",\n" : "\"\n");
    }
    sb_puts(e->sb, "}};\n");
}

/* Weights kept out of the source (--weights-file): a static array the caller
 * fills once with NAME_load_weights(). */
static void emit_weights_external(Emitter *e, const EmitOptions *opt)
{
    sb_printf(e->sb,
              "\n/* Parameters are loaded at run time from %s (cnnc --weights-file). */\n"
              "static struct {\n    float f[%lld];\n} %s_weights;\n\n"
              "int %s_load_weights(const char *path)\n{\n"
              "    return cnnrt_read_f32(path, %s_weights.f, %lld);\n}\n",
              base_name(opt->weights_file), (long long)e->weight_floats, e->net, e->net, e->net,
              (long long)e->weight_floats);
}

static void emit_weights(Emitter *e, const EmitOptions *opt, StrBuf *blob_out)
{
    if (e->weight_floats == 0)
        return;
    unsigned char *blob = weight_bytes(e);
    if (opt->weights_file) {
        sb_write(blob_out, blob, (size_t)e->weight_floats * 4);
        emit_weights_external(e, opt);
    } else {
        emit_weights_embedded(e, blob);
    }
    free(blob);
}

/* ---- fused epilogues (passes.h: fuse-activation, fuse-pool) ------------- */

/* The C expression of n's fused activation applied to variable x; x itself
 * if none. The same expressions as emit_elementwise, so fusing is exact. */
const char *act_expr(const Node *n, const char *x, char *buf, size_t size)
{
    if (n->fuse.act == OP_NONE) {
        snprintf(buf, size, "%s", x);
        return buf;
    }
    return op_def(n->fuse.act)->act_c(&n->fuse.act_a, x, buf, size);
}

/* First line of a fused layer's body: what it absorbed. */
void emit_fused_comment(Emitter *e, const Node *n)
{
    char shape[128];
    if (!n->fuse.names)
        return;
    if (n->fuse.pool)
        out(e, "/* merged:%s; the conv output %s is never stored */",
            comment_safe(e, n->fuse.names),
            ir_shape_str(4, n->fuse.conv_dims, shape, sizeof shape));
    else
        out(e, "/* merged:%s */", comment_safe(e, n->fuse.names));
}

/* Callback of emit_pooled_point: statements ending in `const float v = ...;`,
 * the conv value at conv output position (oh, ow): activated, or with `raw`
 * as it leaves the product (bias_term not yet added, no activation). */
typedef void (*ConvValueFn)(Emitter *e, const Node *n, bool raw);

/* Whether max(act(x_i + b)) == act(max(x_i) + b) exactly, so a maxpool can
 * take the max of raw values and apply bias and activation once. Adding b and
 * the piecewise-linear activations are monotone non-decreasing in float32
 * (rounding is monotone) and keep NaN a NaN; sigmoid and tanh go through
 * libm, whose monotonicity is not guaranteed to the bit, so they are not. */
static bool max_commutes(const Node *n)
{
    OpKind a = n->fuse.act;
    return a == OP_NONE || a == OP_RELU || a == OP_RELU6 ||
           (a == OP_LEAKY_RELU && n->fuse.act_a.slope >= 0.0);
}

/* One pooled output y[py * PW + px] of a conv2d with a fused pool, from the
 * conv values of its window, with the standalone pools' window and divisor
 * rules (emit_maxpool, emit_avgpool) over the conv output (CH x CW).
 * bias_term is what value() leaves out of a raw value (" + bco" or ""). */
static void emit_pooled_point(Emitter *e, const Node *n, ConvValueFn value, const char *bias_term)
{
    const Attrs *p = &n->fuse.pool_a;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    long long H = CH, W = CW, PW = n->out->dims[3];
    char act[160];
    if (n->fuse.pool_op == OP_MAXPOOL) {
        /* Branch-free: the select compiles to maxss, and the last NaN seen is
         * carried apart, as emit_maxpool's `v > m || v != v` keeps it. */
        bool raw = max_commutes(n);
        out(e, "float m = -INFINITY, nan = 0.0f;");
        open_block(e, "for (int i = 0; i < %lld; i++) {", (long long)p->kh);
        out(e, "const int oh = py * %lld - %lld + i * %lld;", (long long)p->sh, (long long)p->ph,
            (long long)p->dh);
        out(e, "if (oh < 0 || oh >= %lld)", H);
        out(e, "    continue;");
        open_block(e, "for (int j = 0; j < %lld; j++) {", (long long)p->kw);
        out(e, "const int ow = px * %lld - %lld + j * %lld;", (long long)p->sw, (long long)p->pw,
            (long long)p->dw);
        out(e, "if (ow < 0 || ow >= %lld)", W);
        out(e, "    continue;");
        value(e, n, raw);
        out(e, "m = v > m ? v : m;");
        out(e, "nan = v != v ? v : nan;");
        close_brace(e);
        close_brace(e);
        out(e, "m = nan != nan ? nan : m; /* NaN wins, as in PyTorch */");
        if (raw && (*bias_term || n->fuse.act != OP_NONE)) {
            out(e, "/* max commutes with the %s: applied once */",
                *bias_term ? "bias and activation" : "activation");
            if (*bias_term)
                out(e, "m = m%s;", bias_term);
            out(e, "y[py * %lld + px] = %s;", PW, act_expr(n, "m", act, sizeof act));
        } else {
            out(e, "y[py * %lld + px] = m;", PW);
        }
        return;
    }
    out(e, "int h0 = py * %lld - %lld, w0 = px * %lld - %lld;", (long long)p->sh, (long long)p->ph,
        (long long)p->sw, (long long)p->pw);
    out(e, "int h1 = h0 + %lld < %lld ? h0 + %lld : %lld;", (long long)p->kh, H + p->ph,
        (long long)p->kh, H + p->ph);
    out(e, "int w1 = w0 + %lld < %lld ? w0 + %lld : %lld;", (long long)p->kw, W + p->pw,
        (long long)p->kw, W + p->pw);
    if (p->count_include_pad)
        out(e, "const int count = (h1 - h0) * (w1 - w0);");
    out(e, "h0 = h0 < 0 ? 0 : h0;");
    out(e, "w0 = w0 < 0 ? 0 : w0;");
    out(e, "h1 = h1 > %lld ? %lld : h1;", H, H);
    out(e, "w1 = w1 > %lld ? %lld : w1;", W, W);
    if (!p->count_include_pad)
        out(e, "const int count = (h1 - h0) * (w1 - w0);");
    out(e, "float sum = 0.0f;");
    open_block(e, "for (int oh = h0; oh < h1; oh++) {");
    open_block(e, "for (int ow = w0; ow < w1; ow++) {");
    value(e, n, false);
    out(e, "sum += v;");
    close_brace(e);
    close_brace(e);
    out(e, "y[py * %lld + px] = count > 0 ? sum / (float)count : 0.0f;", PW);
}

/* Layers with fewer multiply-adds than this stay serial under --threads: an
 * OpenMP fork and join costs microseconds, more than such a layer takes. */
#define PARALLEL_MIN_WORK 100000

void emit_parallel_for(Emitter *e, int64_t work)
{
    if (e->threads > 1 && work >= PARALLEL_MIN_WORK)
        out(e, "%s_PARALLEL_FOR", e->NET);
}

/* Macros the kernels use, after the includes of the generated file. */
static void emit_prologue_macros(Emitter *e)
{
    sb_puts(e->sb, "\n/* GCC vectorizes with 256-bit vectors even where AVX-512 is enabled; the\n"
                   " * blocked convolution kernels are written for 16-float vectors. */\n"
                   "#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)\n"
                   "#pragma GCC target(\"prefer-vector-width=512\")\n#endif\n");
    sb_printf(e->sb,
              "\n/* a * b + c, fused where the target has FMA (ISO C mode does not contract\n"
              " * a * b + c on its own, and the library call would not vectorize). */\n"
              "#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)\n"
              "#define %s_FMA(a, b, c) fmaf(a, b, c)\n#else\n"
              "#define %s_FMA(a, b, c) ((a) * (b) + (c))\n#endif\n",
              e->NET, e->NET);
    sb_printf(e->sb,
              "\n/* A hint to fetch the cache line at p into L2 (GCC and Clang). */\n"
              "#if defined(__GNUC__)\n#define %s_PREFETCH(p) __builtin_prefetch(p, 0, 2)\n#else\n"
              "#define %s_PREFETCH(p) ((void)(p))\n#endif\n",
              e->NET, e->NET);
    if (e->threads > 1)
        sb_printf(
            e->sb,
            "\n/* --threads %d: loops marked %s_PARALLEL_FOR are split over threads\n"
            " * when compiled with OpenMP (-fopenmp), and run serially otherwise. */\n"
            "#ifdef _OPENMP\n#define %s_PARALLEL_FOR _Pragma(\"omp parallel for num_threads(%d) "
            "schedule(static)\")\n#define %s_PARTS %d\n#else\n#define %s_PARALLEL_FOR\n"
            "#define %s_PARTS 1\n#endif\n",
            e->threads, e->NET, e->NET, e->threads, e->NET, e->threads, e->NET, e->NET);
}

/* ---- layers -------------------------------------------------------------- */

/* float acc = the conv value at (oh, ow) of output channel co, from x (the
 * group's input channels) and wc (co's weights). */
static void emit_conv_acc(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    const Attrs *a = &n->a;
    long long C = in->dims[1], H = in->dims[2], W = in->dims[3], cin_g = C / a->groups;
    out(e, "float acc = %s;", n->param[PARAM_BIAS] ? "bias[co]" : "0.0f");
    open_block(e, "for (int ci = 0; ci < %lld; ci++) {", cin_g);
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", (long long)a->kh);
    out(e, "const int ih = oh * %lld - %lld + kh * %lld;", (long long)a->sh, (long long)a->ph,
        (long long)a->dh);
    out(e, "if (ih < 0 || ih >= %lld)", H);
    out(e, "    continue;");
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", (long long)a->kw);
    out(e, "const int iw = ow * %lld - %lld + kw * %lld;", (long long)a->sw, (long long)a->pw,
        (long long)a->dw);
    out(e, "if (iw >= 0 && iw < %lld)", W);
    out(e, "    acc += x[ci * %lld + ih * %lld + iw] * wc[(ci * %lld + kh) * %lld + kw];", H * W, W,
        (long long)a->kh, (long long)a->kw);
    close_brace(e);
    close_brace(e);
    close_brace(e);
}

/* The direct kernel's conv value: acc already holds the bias. */
static void emit_direct_value(Emitter *e, const Node *n, bool raw)
{
    char v[160];
    emit_conv_acc(e, n);
    out(e, "const float v = %s;", raw ? "acc" : act_expr(n, "acc", v, sizeof v));
}

/* Direct loops. With a fused pool, each pooled output computes the conv values
 * of its window in registers (emit_pooled_point). */
static void emit_conv_direct(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3];
    long long cin_g = C / a->groups, cout_g = OC / a->groups;
    char w[REF_SIZE], b[REF_SIZE], v[160];
    emit_fused_comment(e, n);
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    out(e, "const float *x = in + (b * %lld + co / %lld * %lld) * %lld;", C, cout_g, cin_g, H * W);
    out(e, "const float *wc = w + co * %lld;", cin_g * a->kh * a->kw);
    out(e, "float *y = out + (b * %lld + co) * %lld;", OC, OH * OW);
    if (n->fuse.pool) {
        open_block(e, "for (int py = 0; py < %lld; py++) {", OH);
        open_block(e, "for (int px = 0; px < %lld; px++) {", OW);
        emit_pooled_point(e, n, emit_direct_value, "");
    } else {
        open_block(e, "for (int oh = 0; oh < %lld; oh++) {", OH);
        open_block(e, "for (int ow = 0; ow < %lld; ow++) {", OW);
        emit_conv_acc(e, n);
        out(e, "y[oh * %lld + ow] = %s;", OW, act_expr(n, "acc", v, sizeof v));
    }
    for (int i = 0; i < 4; i++)
        close_brace(e);
}

static void emit_bias_add(Emitter *e, const Node *n, long long N, long long OC, long long HW)
{
    char b[REF_SIZE];
    if (!n->param[PARAM_BIAS])
        return;
    out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    out(e, "for (int b = 0; b < %lld; b++)", N);
    out(e, "    for (int co = 0; co < %lld; co++)", OC);
    out(e, "        for (int i = 0; i < %lld; i++)", HW);
    out(e, "            out[(b * %lld + co) * %lld + i] += bias[co];", OC, HW);
}

/* Bias and fused activation after the GEMM, in one pass over the output. */
static void emit_conv_epilogue(Emitter *e, const Node *n, long long N, long long OC, long long HW)
{
    char b[REF_SIZE], v[160];
    if (n->fuse.act == OP_NONE) {
        emit_bias_add(e, n, N, OC, HW);
        return;
    }
    bool bias = n->param[PARAM_BIAS] != NULL;
    if (bias)
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    emit_parallel_for(e, OC * HW * 8);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    out(e, "float *y = out + (b * %lld + co) * %lld;", OC, HW);
    open_block(e, "for (int i = 0; i < %lld; i++) {", HW);
    out(e, "const float v = y[i]%s;", bias ? " + bias[co]" : "");
    out(e, "y[i] = %s;", act_expr(n, "v", v, sizeof v));
    for (int i = 0; i < 3; i++)
        close_brace(e);
}

/* The banded GEMM kernel's conv value, from the band's product in scratch. */
static void emit_band_value(Emitter *e, const Node *n, bool raw)
{
    char v[160];
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    if (raw) {
        out(e, "const float v = cv[(oh - c0) * %lld + ow];", (long long)CW);
        return;
    }
    out(e, "const float a = cv[(oh - c0) * %lld + ow]%s;", (long long)CW,
        n->param[PARAM_BIAS] ? " + bco" : "");
    out(e, "const float v = %s;", act_expr(n, "a", v, sizeof v));
}

/* The GEMM kernels' conv rows c0..c1 of one band: unfolded into scratch
 * (im2col) or read in place (1x1), multiplied into `conv`. */
static void emit_gemm_band_rows(Emitter *e, const Node *n)
{
    const Attrs *a = &n->a;
    long long C = n->in[0]->dims[1], H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long cin_g = C / a->groups, cout_g = n->out->dims[1] / a->groups;
    long long K = cin_g * a->kh * a->kw;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    if (n->kernel == KERNEL_IM2COL) {
        out(e,
            "cnnrt_im2col_rows(x, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
            "%lld, c0, c1 - c0, %lld, scratch);",
            cin_g, H, W, (long long)a->kh, (long long)a->kw, (long long)a->sh, (long long)a->sw,
            (long long)a->ph, (long long)a->pw, (long long)a->dh, (long long)a->dw, (long long)CW);
        out(e,
            "cnnrt_sgemm(false, false, %lld, cols, %lld, 1.0f, w + g * %lld, %lld, scratch, "
            "cols, 0.0f, conv, cols);",
            cout_g, K, cout_g * K, K);
    } else {
        out(e,
            "cnnrt_sgemm(false, false, %lld, cols, %lld, 1.0f, w + g * %lld, %lld, "
            "x + c0 * %lld, %lld, 0.0f, conv, cols);",
            cout_g, K, cout_g * K, K, W, H * W);
    }
}

/* A conv2d with a fused pool, band by band (fuse_pool.c): for each band of
 * fuse.band_rows pooled rows, `rows` leaves the conv rows c0..c1 its windows
 * read in `conv` (scratch, after `col` floats the kernel may use), and they
 * are pooled from there with bias and activation. */
/* Pooled rows r0..r1 of channel co from its band cv, for a max pool the
 * bias and activation commute with (max_commutes): per window row, one
 * loop over the pooled columns whose window is inside the conv row, the
 * window's columns unrolled, running maxima in m[] (and the last NaN seen
 * in nan[], as emit_pooled_point keeps it), so it vectorizes; the few
 * border columns check their taps. Bias and activation once per output. */
static void emit_band_maxpool_rows(Emitter *e, const Node *n, const char *bias_term)
{
    const Attrs *p = &n->fuse.pool_a;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    long long PW = n->out->dims[3], SW = p->sw, PP = p->pw, KW = p->kw, DW = p->dw;
    long long lo = (PP + SW - 1) / SW, hi = (CW - 1 + PP - (KW - 1) * DW) / SW + 1;
    hi = hi > PW ? PW : hi;
    lo = lo > hi ? hi : lo;
    char act[160];
    open_block(e, "for (int py = r0; py < r1; py++) {");
    out(e, "float m[%lld], nan[%lld];", PW, PW);
    out(e, "for (int px = 0; px < %lld; px++)", PW);
    out(e, "    m[px] = -INFINITY, nan[px] = 0.0f;");
    open_block(e, "for (int i = 0; i < %lld; i++) {", (long long)p->kh);
    out(e, "const int oh = py * %lld - %lld + i * %lld;", (long long)p->sh, (long long)p->ph,
        (long long)p->dh);
    out(e, "if (oh < 0 || oh >= %lld)", (long long)CH);
    out(e, "    continue;");
    out(e, "const float *r = cv + (oh - c0) * %lld;", (long long)CW);
    for (int part = 0; part < 3; part++) {
        long long a = part == 0 ? 0 : part == 1 ? lo : hi, b = part == 0 ? lo : part == 1 ? hi : PW;
        if (a >= b)
            continue;
        open_block(e, "for (int px = %lld; px < %lld; px++) {", a, b);
        out(e, "float mm = m[px], nn = nan[px];");
        for (long long j = 0; j < KW; j++) {
            long long off = j * DW - PP;
            char at[64];
            snprintf(at, sizeof at, "px * %lld %c %lld", SW, off < 0 ? '-' : '+', llabs(off));
            if (part == 1) {
                out(e, "{");
                out(e, "    const float v = r[%s];", at);
            } else {
                out(e, "if (%s >= 0 && %s < %lld) {", at, at, (long long)CW);
                out(e, "    const float v = r[%s];", at);
            }
            out(e, "    mm = v > mm ? v : mm;");
            out(e, "    nn = v != v ? v : nn;");
            out(e, "}");
        }
        out(e, "m[px] = mm, nan[px] = nn;");
        close_brace(e);
    }
    close_brace(e);
    open_block(e, "for (int px = 0; px < %lld; px++) {", PW);
    out(e, "const float v = (nan[px] != nan[px] ? nan[px] : m[px])%s; /* NaN wins */", bias_term);
    out(e, "y[py * %lld + px] = %s;", PW, act_expr(n, "v", act, sizeof act));
    close_brace(e);
    close_brace(e);
}

void emit_conv_band_pool(Emitter *e, const Node *n, long long col, BandRowsFn rows)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a, *p = &n->fuse.pool_a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3], G = a->groups;
    long long OC = o->dims[1], PH = o->dims[2], PW = o->dims[3];
    long long cin_g = C / G, cout_g = OC / G;
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    long long R = n->fuse.band_rows;
    char w[REF_SIZE], b[REF_SIZE];
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    out(e, "float *conv = scratch + %lld; /* conv rows c0..c1 of one group */", col);
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", G);
    out(e, "const float *x = in + (b * %lld + g * %lld) * %lld;", C, cin_g, H * W);
    open_block(e, "for (int r0 = 0; r0 < %lld; r0 += %lld) {", PH, R);
    out(e, "const int r1 = r0 + %lld < %lld ? r0 + %lld : %lld;", R, PH, R, PH);
    out(e, "const int c0 = r0 * %lld - %lld > 0 ? r0 * %lld - %lld : 0;", (long long)p->sh,
        (long long)p->ph, (long long)p->sh, (long long)p->ph);
    long long reach = (long long)((p->kh - 1) * p->dh + 1 - p->ph);
    out(e, "const int c1 = (r1 - 1) * %lld + %lld < %lld ? (r1 - 1) * %lld + %lld : %lld;",
        (long long)p->sh, reach, (long long)CH, (long long)p->sh, reach, (long long)CH);
    out(e, "const int cols = (c1 - c0) * %lld;", (long long)CW);
    rows(e, n);
    emit_parallel_for(e, (int64_t)cout_g * R * PW * p->kh * p->kw);
    open_block(e, "for (int co = 0; co < %lld; co++) {", cout_g);
    out(e, "const float *cv = conv + co * cols;");
    if (n->param[PARAM_BIAS])
        out(e, "const float bco = bias[g * %lld + co];", cout_g);
    out(e, "float *y = out + (b * %lld + g * %lld + co) * %lld;", OC, cout_g, PH * PW);
    if (n->fuse.pool_op == OP_MAXPOOL && max_commutes(n)) {
        emit_band_maxpool_rows(e, n, n->param[PARAM_BIAS] ? " + bco" : "");
        for (int i = 0; i < 4; i++)
            close_brace(e);
        return;
    }
    open_block(e, "for (int py = r0; py < r1; py++) {");
    open_block(e, "for (int px = 0; px < %lld; px++) {", PW);
    emit_pooled_point(e, n, emit_band_value, n->param[PARAM_BIAS] ? " + bco" : "");
    for (int i = 0; i < 6; i++)
        close_brace(e);
}

/* Convolution as GEMM per image and group: out_g[cout_g][OH*OW] =
 * W_g[cout_g][cin_g*kh*kw] x X_g, where X_g is the input itself (1x1) or its
 * im2col unfolding in scratch. */
static void emit_conv_gemm(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    const Attrs *a = &n->a;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], OH = o->dims[2], OW = o->dims[3], G = a->groups;
    long long cin_g = C / G, cout_g = OC / G, K = cin_g * a->kh * a->kw;
    char w[REF_SIZE];
    emit_fused_comment(e, n);
    if (n->fuse.pool) {
        int64_t CH, CW;
        ir_conv_out_hw(n, &CH, &CW);
        long long S = n->fuse.band_conv_rows;
        long long col = n->kernel == KERNEL_IM2COL ? (K * S * CW + 15) / 16 * 16 : 0;
        emit_conv_band_pool(e, n, col, emit_gemm_band_rows);
        return;
    }
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int g = 0; g < %lld; g++) {", G);
    out(e, "const float *x = in + (b * %lld + g * %lld) * %lld;", C, cin_g, H * W);
    if (n->kernel == KERNEL_IM2COL) {
        out(e,
            "cnnrt_im2col(x, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
            "%lld, %lld, scratch);",
            cin_g, H, W, (long long)a->kh, (long long)a->kw, (long long)a->sh, (long long)a->sw,
            (long long)a->ph, (long long)a->pw, (long long)a->dh, (long long)a->dw, OH, OW);
        out(e, "x = scratch;");
    }
    if (e->threads > 1 && cout_g * OH * OW * K >= PARALLEL_MIN_WORK) {
        /* OpenBLAS runs single-threaded here: each thread multiplies its
         * share of the output channels. */
        emit_parallel_for(e, cout_g * OH * OW * K);
        open_block(e, "for (int part = 0; part < %s_PARTS; part++) {", e->NET);
        out(e, "const int m0 = part * %lld / %s_PARTS, m1 = (part + 1) * %lld / %s_PARTS;", cout_g,
            e->NET, cout_g, e->NET);
        out(e,
            "cnnrt_sgemm(false, false, m1 - m0, %lld, %lld, 1.0f, w + (g * %lld + m0) * %lld, "
            "%lld, x, %lld, 0.0f,",
            OH * OW, K, cout_g, K, K, OH * OW);
        out(e, "            out + (b * %lld + g * %lld + m0) * %lld, %lld);", OC, cout_g, OH * OW,
            OH * OW);
        close_brace(e);
    } else {
        out(e,
            "cnnrt_sgemm(false, false, %lld, %lld, %lld, 1.0f, w + g * %lld, %lld, x, %lld, "
            "0.0f,",
            cout_g, OH * OW, K, cout_g * K, K, OH * OW);
        out(e, "            out + (b * %lld + g * %lld) * %lld, %lld);", OC, cout_g, OH * OW,
            OH * OW);
    }
    close_brace(e);
    close_brace(e);
    emit_conv_epilogue(e, n, N, OC, OH * OW);
}

/* linear with a fused activation: the product, then bias and activation in
 * one pass over the output. */
static void emit_linear_act(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], FIN = n->in[0]->dims[1], F = n->out->dims[1];
    bool bias = n->param[PARAM_BIAS] != NULL;
    char w[REF_SIZE], b[REF_SIZE], v[160];
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (N == 1)
        out(e, "cnnrt_sgemv(false, %lld, %lld, 1.0f, w, %lld, in, 0.0f, out);", F, FIN, FIN);
    else
        out(e,
            "cnnrt_sgemm(false, true, %lld, %lld, %lld, 1.0f, in, %lld, w, %lld, 0.0f, out, "
            "%lld);",
            N, F, FIN, FIN, FIN, F);
    if (bias)
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    open_block(e, "for (int o = 0; o < %lld; o++) {", F);
    out(e, "const float v = out[b * %lld + o]%s;", F, bias ? " + bias[o]" : "");
    out(e, "out[b * %lld + o] = %s;", F, act_expr(n, "v", v, sizeof v));
    close_brace(e);
    close_brace(e);
}

static void emit_linear(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], FIN = n->in[0]->dims[1], F = n->out->dims[1];
    bool bias = n->param[PARAM_BIAS] != NULL;
    char w[REF_SIZE], b[REF_SIZE];
    emit_fused_comment(e, n);
    if (n->fuse.act != OP_NONE) {
        emit_linear_act(e, n);
        return;
    }
    out(e, "const float *w = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
    if (bias) {
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
        out(e, "for (int b = 0; b < %lld; b++)", N);
        out(e, "    for (int o = 0; o < %lld; o++)", F);
        out(e, "        out[b * %lld + o] = bias[o];", F);
    }
    /* One image: a matrix-vector product is several times faster than a GEMM with n = 1. */
    if (N == 1)
        out(e, "cnnrt_sgemv(false, %lld, %lld, 1.0f, w, %lld, in, %s, out);", F, FIN, FIN,
            bias ? "1.0f" : "0.0f");
    else
        out(e,
            "cnnrt_sgemm(false, true, %lld, %lld, %lld, 1.0f, in, %lld, w, %lld, %s, out, %lld);",
            N, F, FIN, FIN, FIN, bias ? "1.0f" : "0.0f", F);
}

/* Inference batchnorm: y = (x - mean) / sqrt(var + eps) * weight + bias, per channel. */
static void emit_batchnorm(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    long long N = in->dims[0], C = in->dims[1], HW = ir_numel(in->rank - 2, in->dims + 2);
    char m[REF_SIZE], v[REF_SIZE], w[REF_SIZE], b[REF_SIZE], eps[40];
    emit_fused_comment(e, n);
    out(e, "const float *mean = %s;", wptr(e, n, PARAM_MEAN, m, sizeof m));
    out(e, "const float *var = %s;", wptr(e, n, PARAM_VAR, v, sizeof v));
    if (n->a.affine) {
        out(e, "const float *weight = %s;", wptr(e, n, PARAM_WEIGHT, w, sizeof w));
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
    }
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "const float scale = %s / sqrtf(var[c] + %s);", n->a.affine ? "weight[c]" : "1.0f",
        flit(n->a.eps, eps, sizeof eps));
    out(e, "const float shift = %s - mean[c] * scale;", n->a.affine ? "bias[c]" : "0.0f");
    if (n->fuse.act == OP_NONE) {
        out(e, "for (int b = 0; b < %lld; b++)", N);
        out(e, "    for (int i = 0; i < %lld; i++)", HW);
        out(e,
            "        out[(b * %lld + c) * %lld + i] = in[(b * %lld + c) * %lld + i] * scale + "
            "shift;",
            C, HW, C, HW);
    } else {
        char act[160];
        open_block(e, "for (int b = 0; b < %lld; b++) {", N);
        open_block(e, "for (int i = 0; i < %lld; i++) {", HW);
        out(e, "const float v = in[(b * %lld + c) * %lld + i] * scale + shift;", C, HW);
        out(e, "out[(b * %lld + c) * %lld + i] = %s;", C, HW, act_expr(n, "v", act, sizeof act));
        close_brace(e);
        close_brace(e);
    }
    close_brace(e);
}

/* Elementwise ops. NaN propagates as in PyTorch (comparisons written so NaN falls through). */
static void emit_elementwise(Emitter *e, const Node *n)
{
    char expr[200];
    if (!op_has(n->op, OPT_ACTIVATION))
        die("not elementwise: %s", op_name(n->op));
    out(e, "for (int i = 0; i < %lld; i++) {", (long long)ir_tensor_numel(n->out));
    out(e, "    const float x = in[i];");
    out(e, "    out[i] = %s;", op_def(n->op)->act_c(&n->a, "x", expr, sizeof expr));
    out(e, "}");
}

static void emit_pool_loops_open(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], C = n->in[0]->dims[1];
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long OH = n->out->dims[2], OW = n->out->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", N * C);
    out(e, "const float *x = in + p * %lld;", H * W);
    out(e, "float *y = out + p * %lld;", OH * OW);
    open_block(e, "for (int oh = 0; oh < %lld; oh++) {", OH);
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", OW);
}

static void emit_maxpool(Emitter *e, const Node *n)
{
    const Attrs *a = &n->a;
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    emit_pool_loops_open(e, n);
    out(e, "float m = -INFINITY;");
    open_block(e, "for (int kh = 0; kh < %lld; kh++) {", (long long)a->kh);
    out(e, "const int ih = oh * %lld - %lld + kh * %lld;", (long long)a->sh, (long long)a->ph,
        (long long)a->dh);
    out(e, "if (ih < 0 || ih >= %lld)", H);
    out(e, "    continue;");
    open_block(e, "for (int kw = 0; kw < %lld; kw++) {", (long long)a->kw);
    out(e, "const int iw = ow * %lld - %lld + kw * %lld;", (long long)a->sw, (long long)a->pw,
        (long long)a->dw);
    out(e, "if (iw < 0 || iw >= %lld)", W);
    out(e, "    continue;");
    out(e, "const float v = x[ih * %lld + iw];", W);
    out(e, "if (v > m || v != v) /* NaN wins, as in PyTorch */");
    out(e, "    m = v;");
    close_brace(e);
    close_brace(e);
    out(e, "y[oh * %lld + ow] = m;", (long long)n->out->dims[3]);
    for (int i = 0; i < 3; i++)
        close_brace(e);
}

/* PyTorch's avg_pool2d: the divisor is the window clipped to the padded input
 * (count_include_pad) or to the real input. */
static void emit_avgpool(Emitter *e, const Node *n)
{
    const Attrs *a = &n->a;
    long long H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    emit_pool_loops_open(e, n);
    out(e, "int h0 = oh * %lld - %lld, w0 = ow * %lld - %lld;", (long long)a->sh, (long long)a->ph,
        (long long)a->sw, (long long)a->pw);
    out(e, "int h1 = h0 + %lld < %lld ? h0 + %lld : %lld;", (long long)a->kh, H + a->ph,
        (long long)a->kh, H + a->ph);
    out(e, "int w1 = w0 + %lld < %lld ? w0 + %lld : %lld;", (long long)a->kw, W + a->pw,
        (long long)a->kw, W + a->pw);
    if (a->count_include_pad)
        out(e, "const int count = (h1 - h0) * (w1 - w0);");
    out(e, "h0 = h0 < 0 ? 0 : h0;");
    out(e, "w0 = w0 < 0 ? 0 : w0;");
    out(e, "h1 = h1 > %lld ? %lld : h1;", H, H);
    out(e, "w1 = w1 > %lld ? %lld : w1;", W, W);
    if (!a->count_include_pad)
        out(e, "const int count = (h1 - h0) * (w1 - w0);");
    out(e, "float sum = 0.0f;");
    out(e, "for (int ih = h0; ih < h1; ih++)");
    out(e, "    for (int iw = w0; iw < w1; iw++)");
    out(e, "        sum += x[ih * %lld + iw];", W);
    out(e, "y[oh * %lld + ow] = count > 0 ? sum / (float)count : 0.0f;",
        (long long)n->out->dims[3]);
    for (int i = 0; i < 3; i++)
        close_brace(e);
}

static void emit_global_avgpool(Emitter *e, const Node *n)
{
    long long NC = n->in[0]->dims[0] * n->in[0]->dims[1];
    long long HW = n->in[0]->dims[2] * n->in[0]->dims[3];
    open_block(e, "for (int p = 0; p < %lld; p++) {", NC);
    out(e, "float sum = 0.0f;");
    out(e, "for (int i = 0; i < %lld; i++)", HW);
    out(e, "    sum += in[p * %lld + i];", HW);
    out(e, "out[p] = sum / %lld.0f;", HW);
    close_brace(e);
}

/* Softmax over dimension d: for each of the `outer` slices before d and each
 * of the `inner` positions after it, over the dims[d] values at stride inner.
 * Subtracting the maximum first keeps expf finite, as PyTorch does. */
static void emit_softmax(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0];
    int d = (int)n->a.dim;
    long long outer = ir_numel(d, in->dims), C = in->dims[d];
    long long S = ir_numel(in->rank - d - 1, in->dims + d + 1);
    open_block(e, "for (int b = 0; b < %lld; b++) {", outer);
    open_block(e, "for (int s = 0; s < %lld; s++) {", S);
    out(e, "const float *x = in + b * %lld + s;", C * S);
    out(e, "float *y = out + b * %lld + s;", C * S);
    out(e, "float m = x[0], sum = 0.0f;");
    out(e, "for (int c = 1; c < %lld; c++)", C);
    out(e, "    m = x[c * %lld] > m ? x[c * %lld] : m;", S, S);
    open_block(e, "for (int c = 0; c < %lld; c++) {", C);
    out(e, "y[c * %lld] = expf(x[c * %lld] - m);", S, S);
    out(e, "sum += y[c * %lld];", S);
    close_brace(e);
    out(e, "for (int c = 0; c < %lld; c++)", C);
    out(e, "    y[c * %lld] /= sum;", S);
    close_brace(e);
    close_brace(e);
}

static void emit_add(Emitter *e, const Node *n)
{
    out(e, "for (int i = 0; i < %lld; i++)", (long long)ir_tensor_numel(n->out));
    out(e, "    out[i] = in0[i] + in1[i];");
}

/* torch.cat(dim=1): per image, each input's channels (or features) in turn. */
static void emit_concat(Emitter *e, const Node *n)
{
    const Tensor *o = n->out;
    long long N = o->dims[0], S = ir_numel(o->rank - 2, o->dims + 2), at = 0;
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    for (int i = 0; i < n->nin; i++) {
        long long c = n->in[i]->dims[1];
        out(e, "memcpy(out + (b * %lld + %lld) * %lld, in%d + b * %lld, %lld);",
            (long long)o->dims[1], at, S, i, c * S, c * S * (long long)sizeof(float));
        at += c;
    }
    close_brace(e);
}

/* PyTorch's compute_scales_value: 1/scale_factor when one was given, else in/out. */
static float upsample_scale(int64_t in, int64_t out, int64_t scale_factor)
{
    return scale_factor > 0 ? (float)(1.0 / (double)scale_factor) : (float)in / (float)out;
}

/* nearest: src = min(floor(dst * scale), in - 1), as upsample_nearest2d. */
static int64_t nearest_src(int64_t dst, int64_t in, int64_t out, int64_t scale_factor)
{
    if (out == in)
        return dst;
    if (out == 2 * in)
        return dst >> 1;
    int64_t src = (int64_t)floorf((float)dst * upsample_scale(in, out, scale_factor));
    return src < in - 1 ? src : in - 1;
}

static void emit_int_table(Emitter *e, const char *name, const int64_t *v, int64_t n)
{
    StrBuf sb = {0};
    for (int64_t i = 0; i < n; i++)
        sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)v[i]);
    out(e, "static const int %s[%lld] = {%s};", name, (long long)n, sb.data);
    sb_free(&sb);
}

static void emit_float_table(Emitter *e, const char *name, const float *v, int64_t n)
{
    StrBuf sb = {0};
    for (int64_t i = 0; i < n; i++)
        sb_printf(&sb, "%s%af", i ? ", " : "", (double)v[i]);
    out(e, "static const float %s[%lld] = {%s};", name, (long long)n, sb.data);
    sb_free(&sb);
}

/* Linear interpolation taps for one axis, align_corners=False, as PyTorch's
 * compute_indices_weights_linear: src = scale * (dst + 0.5) - 0.5, clamped at 0. */
static void linear_taps(int64_t in, int64_t out, int64_t scale_factor, int64_t *i0, int64_t *i1,
                        float *l0, float *l1)
{
    float scale = upsample_scale(in, out, scale_factor);
    for (int64_t d = 0; d < out; d++) {
        float src = (float)((double)scale * ((double)d + 0.5) - 0.5);
        if (src < 0)
            src = 0;
        i0[d] = (int64_t)src;
        i1[d] = i0[d] + (i0[d] < in - 1 ? 1 : 0);
        float lambda = src - (float)i0[d];
        l1[d] = lambda < 0 ? 0 : lambda > 1 ? 1 : lambda;
        l0[d] = 1.0f - l1[d];
    }
}

static void emit_upsample(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int64_t H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    int64_t *h0 = xcalloc((size_t)OH, sizeof *h0), *h1 = xcalloc((size_t)OH, sizeof *h1);
    int64_t *w0 = xcalloc((size_t)OW, sizeof *w0), *w1 = xcalloc((size_t)OW, sizeof *w1);
    float *lh0 = xcalloc((size_t)OH, sizeof *lh0), *lh1 = xcalloc((size_t)OH, sizeof *lh1);
    float *lw0 = xcalloc((size_t)OW, sizeof *lw0), *lw1 = xcalloc((size_t)OW, sizeof *lw1);
    if (n->a.bilinear) {
        linear_taps(H, OH, n->a.scale_h, h0, h1, lh0, lh1);
        linear_taps(W, OW, n->a.scale_w, w0, w1, lw0, lw1);
        emit_int_table(e, "h0", h0, OH);
        emit_int_table(e, "h1", h1, OH);
        emit_float_table(e, "lh0", lh0, OH);
        emit_float_table(e, "lh1", lh1, OH);
        emit_int_table(e, "w0", w0, OW);
        emit_int_table(e, "w1", w1, OW);
        emit_float_table(e, "lw0", lw0, OW);
        emit_float_table(e, "lw1", lw1, OW);
    } else {
        for (int64_t d = 0; d < OH; d++)
            h0[d] = nearest_src(d, H, OH, n->a.scale_h);
        for (int64_t d = 0; d < OW; d++)
            w0[d] = nearest_src(d, W, OW, n->a.scale_w);
        emit_int_table(e, "h0", h0, OH);
        emit_int_table(e, "w0", w0, OW);
    }
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", (long long)(H * W));
    out(e, "float *y = out + p * %lld;", (long long)(OH * OW));
    out(e, "for (int oh = 0; oh < %lld; oh++)", (long long)OH);
    out(e, "    for (int ow = 0; ow < %lld; ow++)", (long long)OW);
    if (n->a.bilinear) {
        out(e, "        y[oh * %lld + ow] =", (long long)OW);
        out(e,
            "            (x[h0[oh] * %lld + w0[ow]] * lw0[ow] + x[h0[oh] * %lld + w1[ow]] * "
            "lw1[ow]) * "
            "lh0[oh] +",
            (long long)W, (long long)W);
        out(e,
            "            (x[h1[oh] * %lld + w0[ow]] * lw0[ow] + x[h1[oh] * %lld + w1[ow]] * "
            "lw1[ow]) * "
            "lh1[oh];",
            (long long)W, (long long)W);
    } else {
        out(e, "        y[oh * %lld + ow] = x[h0[oh] * %lld + w0[ow]];", (long long)OW,
            (long long)W);
    }
    close_brace(e);
    free(h0), free(h1), free(w0), free(w1), free(lh0), free(lh1), free(lw0), free(lw1);
}

/* AdaptiveAvgPool2d: window [floor(i*in/out), ceil((i+1)*in/out)), mean = sum / kh / kw. */
static void emit_adaptive_avgpool(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    int64_t H = in->dims[2], W = in->dims[3], OH = o->dims[2], OW = o->dims[3];
    int64_t *hs = xcalloc((size_t)OH, sizeof *hs), *he = xcalloc((size_t)OH, sizeof *he);
    int64_t *ws = xcalloc((size_t)OW, sizeof *ws), *we = xcalloc((size_t)OW, sizeof *we);
    for (int64_t i = 0; i < OH; i++) {
        hs[i] = i * H / OH;
        he[i] = ((i + 1) * H + OH - 1) / OH;
    }
    for (int64_t i = 0; i < OW; i++) {
        ws[i] = i * W / OW;
        we[i] = ((i + 1) * W + OW - 1) / OW;
    }
    emit_int_table(e, "hs", hs, OH);
    emit_int_table(e, "he", he, OH);
    emit_int_table(e, "ws", ws, OW);
    emit_int_table(e, "we", we, OW);
    open_block(e, "for (int p = 0; p < %lld; p++) {", (long long)(in->dims[0] * in->dims[1]));
    out(e, "const float *x = in + p * %lld;", (long long)(H * W));
    out(e, "float *y = out + p * %lld;", (long long)(OH * OW));
    open_block(e, "for (int oh = 0; oh < %lld; oh++) {", (long long)OH);
    open_block(e, "for (int ow = 0; ow < %lld; ow++) {", (long long)OW);
    out(e, "float sum = 0.0f;");
    out(e, "for (int ih = hs[oh]; ih < he[oh]; ih++)");
    out(e, "    for (int iw = ws[ow]; iw < we[ow]; iw++)");
    out(e, "        sum += x[ih * %lld + iw];", (long long)W);
    out(e, "y[oh * %lld + ow] = sum / (float)(he[oh] - hs[oh]) / (float)(we[ow] - ws[ow]);",
        (long long)OW);
    for (int i = 0; i < 3; i++)
        close_brace(e);
    free(hs), free(he), free(ws), free(we);
}

/* ---- sparse kernels (select_kernels.c: KERNEL_SPARSE) -------------------- */

/* A sparse conv2d or linear keeps, per output channel, the list of its
 * nonzero weights in memory order as (offset, value) pairs, in one static
 * table NET_sparse of int and float words (string literals again, fast to
 * compile): for node n, start[OC + 1] (where each channel's pairs begin),
 * then off[nnz], then val[nnz]. A conv's offset is where the weight reads in
 * the zero-padded, phase-split copy of the input the kernel works on
 * (sparse_conv_offset, ir.h's SparseConv); a linear's is the input feature.
 * The dense weights are then left out of NET_weights. */

static bool sparse_weight(const Node *n, int p)
{
    return p == PARAM_WEIGHT && n->kernel == KERNEL_SPARSE;
}

static int64_t sparse_nnz(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    return ir_numel(w->rank, w->dims) - ir_const_zeros(w);
}

/* Words of node n's table, and where it starts (after earlier nodes' tables). */
static int64_t sparse_words(const Node *n)
{
    return n->kernel == KERNEL_SPARSE ? n->a.channels + 1 + 2 * sparse_nnz(n) : 0;
}

static int64_t sparse_at(const Emitter *e, const Node *n)
{
    int64_t at = 0;
    for (int i = 0; i < n->id; i++)
        at += sparse_words(e->g->nodes[i]);
    return at;
}

static void put_word(StrBuf *sb, uint32_t w)
{
    for (int b = 0; b < 4; b++)
        sb_putc(sb, (char)(unsigned char)(w >> (8 * b)));
}

/* Node n's table as little-endian words. */
static void sparse_table(const Node *n, StrBuf *words)
{
    const Const *w = n->param[PARAM_WEIGHT];
    int64_t rows = w->dims[0], cols = ir_numel(w->rank - 1, w->dims + 1), at = 0;
    SparseConv sc;
    if (n->op == OP_CONV2D)
        sparse_conv_layout(n, &sc);
    StrBuf offs = {0}, vals = {0};
    for (int64_t r = 0; r < rows; r++) {
        put_word(words, (uint32_t)at);
        for (int64_t c = 0; c < cols; c++) {
            float v = w->data[r * cols + c];
            if (v == 0.0f)
                continue;
            uint32_t bits;
            memcpy(&bits, &v, 4);
            int64_t off = n->op == OP_CONV2D ? sparse_conv_offset(n, &sc, r, c) : c;
            put_word(&offs, (uint32_t)off);
            put_word(&vals, bits);
            at++;
        }
    }
    put_word(words, (uint32_t)at);
    sb_write(words, offs.data ? offs.data : "", offs.len);
    sb_write(words, vals.data ? vals.data : "", vals.len);
    sb_free(&offs);
    sb_free(&vals);
}

/* NET_sparse: every sparse node's table, as string literals like the weights. */
static void emit_sparse_tables(Emitter *e)
{
    StrBuf words = {0};
    for (int i = 0; i < e->g->nnodes; i++)
        if (e->g->nodes[i]->kernel == KERNEL_SPARSE)
            sparse_table(e->g->nodes[i], &words);
    if (words.len == 0)
        return;
    int64_t chunks = ((int64_t)words.len + BLOB_CHUNK - 1) / BLOB_CHUNK;
    sb_printf(e->sb,
              "\n/* Nonzero weights of the sparse layers: per output channel where its\n"
              " * (offset, value) pairs begin, then the offsets, then the values. */\n"
              "typedef char %s_int_is_32_bits[sizeof(int) == 4 ? 1 : -1];\n"
              "static const union {\n    unsigned char bytes[%lld][%d];\n    int i[%lld];\n"
              "    float f[%lld];\n} %s_sparse = {{\n",
              e->net, (long long)chunks, BLOB_CHUNK, (long long)(words.len / 4),
              (long long)(words.len / 4), e->net);
    for (int64_t ch = 0; ch < chunks; ch++) {
        size_t begin = (size_t)ch * BLOB_CHUNK;
        size_t end = begin + BLOB_CHUNK < words.len ? begin + BLOB_CHUNK : words.len;
        sb_puts(e->sb, "\"");
        for (size_t k = begin; k < end; k++)
            put_byte(e->sb, (unsigned char)words.data[k]);
        sb_puts(e->sb, ch + 1 < chunks ? "\",\n" : "\"\n");
    }
    sb_puts(e->sb, "}};\n");
    sb_free(&words);
}

/* start, off and val of node n's table, and bias. */
static void emit_sparse_pointers(Emitter *e, const Node *n)
{
    char b[96];
    long long at = sparse_at(e, n), nnz = sparse_nnz(n), rows = n->a.channels;
    const Const *w = n->param[PARAM_WEIGHT];
    out(e,
        "/* sparse: %lld of %lld weights are nonzero; per output channel its (offset, value) "
        "pairs */",
        nnz, (long long)ir_numel(w->rank, w->dims));
    out(e, "const int *start = %s_sparse.i + %lld;", e->net, at);
    out(e, "const int *off = %s_sparse.i + %lld;", e->net, at + rows + 1);
    out(e, "const float *val = %s_sparse.f + %lld;", e->net, at + rows + 1 + nnz);
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
}

/* The plane value of a sparse conv with a fused pool: cv holds the channel's
 * conv output with its bias (emit_pooled_point's callback). */
static void emit_plane_value(Emitter *e, const Node *n, bool raw)
{
    char v[160];
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    if (raw) {
        out(e, "const float v = cv[oh * %lld + ow];", (long long)sc.wq);
        return;
    }
    out(e, "const float a = cv[oh * %lld + ow];", (long long)sc.wq);
    out(e, "const float v = %s;", act_expr(n, "a", v, sizeof v));
}

/* The image b, zero-padded, into xp (whose borders and margin stay zero):
 * whole rows, or with a stride element by element into the phases. */
static void emit_sparse_pad_copy(Emitter *e, const Node *n, const SparseConv *sc)
{
    long long C = n->in[0]->dims[1], H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long HQ = sc->hq, WQ = sc->wq, PH = n->a.ph, PW = n->a.pw, SH = n->a.sh, SW = n->a.sw;
    out(e, "for (int c = 0; c < %lld; c++)", C);
    out(e, "    for (int h = 0; h < %lld; h++)", H);
    if (SH == 1 && SW == 1) {
        out(e,
            "        memcpy(xp + (c * %lld + h + %lld) * %lld + %lld, x + (c * %lld + h) * %lld, "
            "%lld);",
            HQ, PH, WQ, PW, H, W, W * 4);
        return;
    }
    out(e, "        for (int w = 0; w < %lld; w++)", W);
    out(e,
        "            xp[((((h + %lld) %% %lld * %lld + (w + %lld) %% %lld) * %lld + c) * %lld + "
        "(h + %lld) / %lld) * %lld + (w + %lld) / %lld] = x[(c * %lld + h) * %lld + w];",
        PH, SH, SW, PW, SW, C, HQ, PH, SH, WQ, PW, SW, H, W);
}

/* One block of sc->block conv values of channel co into cv + at: the
 * accumulators start at the bias and take the channel's taps in memory
 * order (ci, kh, kw), lane j reading xt[j]. Separate scalars, so the
 * compiler keeps them in (vector) registers across the taps. */
static void emit_sparse_block(Emitter *e, const Node *n, int block, const char *at,
                              const char *base)
{
    StrBuf sb = {0};
    sb_printf(&sb, "float a0 = %s", n->param[PARAM_BIAS] ? "bias[co]" : "0.0f");
    for (int j = 1; j < block; j++)
        sb_printf(&sb, ", a%d = a0", j);
    out(e, "%s;", sb.data);
    sb_free(&sb);
    open_block(e, "for (int t = start[co]; t < start[co + 1]; t++) {");
    out(e, "const float v = val[t];");
    out(e, "const float *xt = xp + off[t] + %s;", base);
    for (int j = 0; j < block; j++)
        out(e, "a%d += xt[%d] * v;", j, j);
    close_brace(e);
    out(e, "float *p = cv + %s;", at);
    for (int j = 0; j < block; j++)
        out(e, "p[%d] = a%d;", j, j);
}

/* Channel co of the conv output into cv, block by block over the plane. */
static void emit_sparse_channel(Emitter *e, const Node *n, const SparseConv *sc)
{
    open_block(e, "for (int i0 = 0; i0 < %lld; i0 += %d) {", (long long)sc->plane, sc->block);
    emit_sparse_block(e, n, sc->block, "i0", "i0");
    close_brace(e);
}

/* Sparse conv2d: per image, the input is copied zero-padded to xp; per output
 * channel the conv values go to the plane cv (emit_sparse_channel), then to
 * the output with the activation, or through the fused pool. Each value is
 * bias + taps in memory order, the direct kernel's sum, so the results are
 * bit-identical to it (a padded tap adds x * 0; finite inputs). */
static void emit_conv_sparse(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], PH = o->dims[2], PW = o->dims[3];
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    char v[160];
    emit_fused_comment(e, n);
    emit_sparse_pointers(e, n);
    out(e, "float *cv = scratch; /* one output channel, %lld rows at pitch %lld */", (long long)CH,
        (long long)sc.wq);
    out(e, "float *xp = scratch + %lld; /* the input zero-padded, in %lld phase%s of %lldx%lld */",
        (long long)sc.plane, (long long)(n->a.sh * n->a.sw), n->a.sh * n->a.sw > 1 ? "s" : "",
        (long long)sc.hq, (long long)sc.wq);
    out(e, "memset(xp, 0, %lld);", (long long)(sc.xp * 4));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    out(e, "const float *x = in + b * %lld;", C * H * W);
    emit_sparse_pad_copy(e, n, &sc);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    emit_sparse_channel(e, n, &sc);
    out(e, "float *y = out + (b * %lld + co) * %lld;", OC, PH * PW);
    open_block(e, "for (int py = 0; py < %lld; py++) {", PH);
    open_block(e, "for (int px = 0; px < %lld; px++) {", PW);
    if (n->fuse.pool) {
        emit_pooled_point(e, n, emit_plane_value, "");
    } else {
        out(e, "const float a = cv[py * %lld + px];", (long long)sc.wq);
        out(e, "y[py * %lld + px] = %s;", PW, act_expr(n, "a", v, sizeof v));
    }
    for (int i = 0; i < 4; i++)
        close_brace(e);
}

/* y[o] = bias[o] + the row's nonzero weights times their inputs, summed in
 * four interleaved partial sums (a gather has no vector form in baseline
 * x86-64, and one running sum would wait on each add). */
static void emit_linear_sparse(Emitter *e, const Node *n)
{
    long long N = n->in[0]->dims[0], FIN = n->in[0]->dims[1], F = n->out->dims[1];
    char v[160];
    emit_fused_comment(e, n);
    emit_sparse_pointers(e, n);
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    out(e, "const float *x = in + b * %lld;", FIN);
    open_block(e, "for (int o = 0; o < %lld; o++) {", F);
    out(e, "float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;");
    out(e, "int t = start[o];");
    open_block(e, "for (; t + 4 <= start[o + 1]; t += 4) {");
    out(e, "s0 += x[off[t]] * val[t];");
    out(e, "s1 += x[off[t + 1]] * val[t + 1];");
    out(e, "s2 += x[off[t + 2]] * val[t + 2];");
    out(e, "s3 += x[off[t + 3]] * val[t + 3];");
    close_brace(e);
    out(e, "for (; t < start[o + 1]; t++)");
    out(e, "    s0 += x[off[t]] * val[t];");
    out(e, "const float a = (s0 + s1) + (s2 + s3)%s;", n->param[PARAM_BIAS] ? " + bias[o]" : "");
    out(e, "out[b * %lld + o] = %s;", F, act_expr(n, "a", v, sizeof v));
    close_brace(e);
    close_brace(e);
}

static bool is_view(const Node *n)
{
    return n->op == OP_FLATTEN || n->op == OP_DROPOUT;
}

/* Whether the node's output occupies the same arena bytes as one of its inputs. */
static bool runs_in_place(const Node *n)
{
    for (int i = 0; i < n->nin; i++) {
        const Tensor *in = root(n->in[i]);
        if (in->storage == STORE_ARENA && n->out->storage == STORE_ARENA &&
            in->offset == n->out->offset)
            return true;
    }
    return false;
}

static char *layer_fn(const Node *n)
{
    char *s = xasprintf("layer%d_%s", n->id, n->name);
    for (char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    return s;
}

static void emit_layer(Emitter *e, const Node *n)
{
    char shape_in[160], shape_out[160];
    char *fn = layer_fn(n);
    sb_printf(e->sb, "\n/* %s: %s %s -> %s */\n", comment_safe(e, n->name), op_name(n->op),
              ir_shape_str(n->in[0]->rank, n->in[0]->dims, shape_in, sizeof shape_in),
              ir_shape_str(n->out->rank, n->out->dims, shape_out, sizeof shape_out));
    const char *scratch = n->scratch_bytes > 0 ? ", float *restrict scratch" : "";
    /* Elementwise ops may run in place (plan_memory.c): their pointers may alias. */
    const char *restrict_kw = runs_in_place(n) ? "" : "restrict ";
    StrBuf ins = {0};
    if (n->nin == 1)
        sb_printf(&ins, "const float *%sin", restrict_kw);
    for (int i = 0; n->nin > 1 && i < n->nin; i++)
        sb_printf(&ins, "const float *%sin%d, ", restrict_kw, i);
    if (n->nin > 1)
        ins.data[ins.len - 2] = '\0';
    open_block(e, "static void %s(%s, float *%sout%s)", fn, ins.data, restrict_kw, scratch);
    sb_free(&ins);
    e->indent--;
    out(e, "{");
    e->indent++;
    switch (n->op) {
    case OP_CONV2D:
        if (n->kernel == KERNEL_SPARSE)
            emit_conv_sparse(e, n);
        else if (n->kernel == KERNEL_DIRECT)
            emit_conv_direct(e, n);
        else if (n->kernel == KERNEL_BLOCKED)
            emit_conv_blocked(e, n);
        else if (n->kernel == KERNEL_DEPTHWISE)
            emit_conv_depthwise(e, n);
        else
            emit_conv_gemm(e, n);
        break;
    case OP_LINEAR:
        if (n->kernel == KERNEL_SPARSE)
            emit_linear_sparse(e, n);
        else
            emit_linear(e, n);
        break;
    case OP_BATCHNORM:
        emit_batchnorm(e, n);
        break;
    case OP_MAXPOOL:
        emit_maxpool(e, n);
        break;
    case OP_AVGPOOL:
        emit_avgpool(e, n);
        break;
    case OP_GLOBAL_AVGPOOL:
        emit_global_avgpool(e, n);
        break;
    case OP_SOFTMAX:
        emit_softmax(e, n);
        break;
    case OP_ADD:
        emit_add(e, n);
        break;
    case OP_CONCAT:
        emit_concat(e, n);
        break;
    case OP_UPSAMPLE:
        emit_upsample(e, n);
        break;
    case OP_ADAPTIVE_AVGPOOL:
        emit_adaptive_avgpool(e, n);
        break;
    default:
        emit_elementwise(e, n);
        break;
    }
    close_brace(e);
    free(fn);
}

/* ---- entry point and header -------------------------------------------- */

static void emit_signature(Emitter *e, StrBuf *sb, const char *end)
{
    const Graph *g = e->g;
    sb_printf(sb, "void %s_run(", e->net);
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(sb, "%sconst float *%s%s", i ? ", " : "", g->inputs[i]->name,
                  hiding_suffix(e, g->inputs[i]));
    for (int i = 0; i < g->noutputs; i++)
        sb_printf(sb, ", float *%s%s", g->outputs[i]->name, hiding_suffix(e, g->outputs[i]));
    sb_printf(sb, ")%s", end);
}

/* --profile: a static cnnrt_prof_layer per timed layer (every non-view node,
 * in order), and NAME_profile_print() / NAME_profile_reset(). */
static void emit_profile_table(Emitter *e)
{
    const Graph *g = e->g;
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        count += !is_view(g->nodes[i]);
    sb_printf(e->sb,
              "\n/* Per-layer profile (cnnc --profile): name, op, kernel, FLOPs per call. */\n"
              "static cnnrt_prof_layer %s_prof[%d] = {\n",
              e->net, count > 0 ? count : 1);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (is_view(n))
            continue;
        StrBuf name = {0};
        for (const char *p = n->name; *p; p++)
            put_byte(&name, (unsigned char)*p);
        sb_printf(e->sb, "    {\"%s\", \"%s\", \"%s\", %lld.0, 0.0, 0},\n", name.data,
                  op_name(n->op), kernel_name(n->kernel), 2 * (long long)ir_node_macs(n));
        sb_free(&name);
    }
    if (count == 0)
        sb_puts(e->sb, "    {\"\", \"\", \"\", 0.0, 0.0, 0},\n");
    sb_puts(e->sb, "};\n");
    sb_printf(e->sb,
              "\nvoid %s_profile_print(void)\n{\n    cnnrt_prof_print(%s_prof, %d, \"%s, batch "
              "%lld\");\n}\n",
              e->net, e->net, count, g->name, (long long)g->batch);
    sb_printf(e->sb, "\nvoid %s_profile_reset(void)\n{\n    cnnrt_prof_reset(%s_prof, %d);\n}\n",
              e->net, e->net, count);
}

/* ---- --dump-tensors -------------------------------------------------------- */

static bool file_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* The file node n's output is dumped to: the name of the layer whose output
 * it is (ir_result_name) and ".f32"; if that name holds other characters
 * than letters, digits, '.', '_' and '-', they become '_' and "~ID" is
 * added, so two labels never share a file. */
static void dump_file_name(const Node *n, StrBuf *sb)
{
    const char *name = ir_result_name(n);
    bool changed = name[0] == '\0';
    for (const char *p = name; *p; p++) {
        sb_putc(sb, file_name_char(*p) ? *p : '_');
        changed |= !file_name_char(*p);
    }
    if (changed)
        sb_printf(sb, "~%d", n->id);
    sb_puts(sb, ".f32");
}

/* Text for one field of index.tsv: tabs and control characters become '?'. */
static void put_index_text(StrBuf *sb, const char *s)
{
    for (; *s; s++)
        sb_putc(sb, (unsigned char)*s < 32 || *s == 127 ? '?' : *s);
}

/* n's line in index.tsv after the file: label, op, shape "1,6,28,28", and the
 * layers computed, "conv1 +bn1 +relu_1". */
static void dump_index_line(const Node *n, StrBuf *sb)
{
    char label[64];
    put_index_text(sb, ir_result_name(n));
    sb_printf(sb, "\t%s\t", ir_op_label(n, label, sizeof label));
    for (int i = 0; i < n->out->rank; i++)
        sb_printf(sb, "%s%lld", i ? "," : "", (long long)n->out->dims[i]);
    sb_putc(sb, '\t');
    put_index_text(sb, n->name);
    if (n->fuse.names)
        put_index_text(sb, n->fuse.names);
}

/* The body of a C string literal holding s. */
static void put_c_string(StrBuf *sb, const char *s)
{
    for (; *s; s++)
        put_byte(sb, (unsigned char)*s);
}

/* NAME_dump_tensors(), NAME_dump_status() and the static state they share
 * with NAME_run(). */
static void emit_dump_functions(Emitter *e)
{
    const char *n = e->net;
    sb_printf(e->sb,
              "\n/* cnnc --dump-tensors: where NAME_run() writes every layer's output (NULL:\n"
              " * nowhere), and whether a write failed. */\n"
              "static const char *%s_dump_dir;\nstatic int %s_dump_failed;\n",
              n, n);
    sb_printf(e->sb,
              "\nvoid %s_dump_tensors(const char *dir)\n{\n    %s_dump_dir = dir;\n"
              "    %s_dump_failed = 0;\n}\n",
              n, n, n);
    sb_printf(e->sb, "\nint %s_dump_status(void)\n{\n    return %s_dump_failed ? -1 : 0;\n}\n", n,
              n);
    sb_printf(e->sb,
              "\n/* Dump one tensor to dir; on an error, stop dumping (NULL). */\n"
              "static const char *%s_dump(const char *dir, const char *file, const char *line,\n"
              "                           const float *data, size_t count)\n{\n"
              "    if (dir && cnnrt_dump_tensor(dir, file, line, data, count) != 0) {\n"
              "        %s_dump_failed = 1;\n        return NULL;\n    }\n    return dir;\n}\n",
              n, n);
}

/* In NAME_run(), after node n: write its output if dumping. */
static void emit_dump_call(Emitter *e, const Node *n, bool profile)
{
    char a[REF_SIZE];
    StrBuf file = {0}, line = {0}, index = {0};
    dump_file_name(n, &file);
    dump_index_line(n, &index);
    put_c_string(&line, index.data);
    if (profile)
        open_block(e, "if (%s_dump_dir) {", e->net);
    else
        open_block(e, "if (%s_dump_dir)", e->net);
    out(e, "%s_dump_dir = %s_dump(%s_dump_dir, \"%s\", \"%s\", %s, %lld);", e->net, e->net, e->net,
        file.data, line.data, ptr(e, n->out, a, sizeof a), (long long)ir_tensor_numel(n->out));
    if (profile) {
        out(e, "prof_t = cnnrt_now_ms(); /* the time to write is no layer's */");
        close_brace(e);
    } else {
        e->indent--;
    }
    sb_free(&file);
    sb_free(&line);
    sb_free(&index);
}

static void emit_run(Emitter *e, bool profile)
{
    const Graph *g = e->g;
    char a[REF_SIZE], b[REF_SIZE], s[REF_SIZE];
    int timed = 0;
    if (profile)
        emit_profile_table(e);
    if (e->dump)
        emit_dump_functions(e);
    sb_puts(e->sb, "\n");
    emit_signature(e, e->sb, "\n{\n");
    e->indent = 1;
    if (e->threads > 1) {
        out(e, "static int blas_threads_set;");
        open_block(e, "if (!blas_threads_set) {");
        out(e, "cnnrt_set_blas_threads(%s_PARTS == 1 ? %d : 1);", e->NET, e->threads);
        out(e, "blas_threads_set = 1;");
        close_brace(e);
    }
    if (e->dump) {
        open_block(e, "if (%s_dump_dir && cnnrt_dump_begin(%s_dump_dir) != 0) {", e->net, e->net);
        out(e, "%s_dump_dir = NULL;", e->net);
        out(e, "%s_dump_failed = 1;", e->net);
        close_brace(e);
    }
    if (profile)
        out(e, "double prof_t = cnnrt_now_ms();");
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (is_view(n)) {
            if (n->out->storage == STORE_OUTPUT)
                out(e, "memcpy(%s, %s, %lld); /* %s */", n->out->name,
                    ptr(e, n->in[0], a, sizeof a), (long long)ir_tensor_bytes(n->out),
                    comment_safe(e, n->name));
            else
                out(e, "/* %s: %s is a view of %s */", comment_safe(e, n->name), n->out->name,
                    root(n->out)->name);
            if (e->dump)
                emit_dump_call(e, n, false);
            continue;
        }
        char *fn = layer_fn(n);
        if (n->scratch_bytes > 0)
            snprintf(s, sizeof s, ", %s_arena + %lld", e->net, (long long)(n->scratch_offset / 4));
        else
            s[0] = '\0';
        StrBuf args = {0};
        for (int j = 0; j < n->nin; j++)
            sb_printf(&args, "%s, ", ptr(e, n->in[j], a, sizeof a));
        out(e, "%s(%s%s%s);", fn, args.data, ptr(e, n->out, b, sizeof b), s);
        sb_free(&args);
        if (profile)
            out(e, "prof_t = cnnrt_prof_tick(&%s_prof[%d], prof_t);", e->net, timed++);
        if (e->dump)
            emit_dump_call(e, n, profile);
        free(fn);
    }
    e->indent = 0;
    out(e, "}");
}

static void tensor_macros(Emitter *e, StrBuf *h, const Tensor *t)
{
    char *T = upper(t->name);
    if (t->rank == 4) {
        sb_printf(h, "#define %s_%s_C %lld\n", e->NET, T, (long long)t->dims[1]);
        sb_printf(h, "#define %s_%s_H %lld\n", e->NET, T, (long long)t->dims[2]);
        sb_printf(h, "#define %s_%s_W %lld\n", e->NET, T, (long long)t->dims[3]);
    } else {
        sb_printf(h, "#define %s_%s_F %lld\n", e->NET, T, (long long)t->dims[1]);
    }
    sb_printf(h, "#define %s_%s_SIZE %lld /* floats, whole batch */\n", e->NET, T,
              (long long)ir_tensor_numel(t));
    free(T);
}

static void emit_header(Emitter *e, const EmitOptions *opt, StrBuf *h)
{
    const Graph *g = e->g;
    char shape[160];
    int64_t params = 0;
    for (int i = 0; i < g->nnodes; i++)
        params += ir_node_params(g->nodes[i]);
    sb_printf(h, "/* %s - generated by cnnc %s from %s. Do not edit.\n *\n", opt->header_name,
              opt->version, opt->source_path);
    sb_printf(h, " * %s_run() computes network %s on one batch:\n", e->net, g->name);
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(h, " *   input  %-12s float32 %s (NCHW)\n", g->inputs[i]->name,
                  ir_shape_str(g->inputs[i]->rank, g->inputs[i]->dims, shape, sizeof shape));
    for (int i = 0; i < g->noutputs; i++)
        sb_printf(h, " *   output %-12s float32 %s\n", g->outputs[i]->name,
                  ir_shape_str(g->outputs[i]->rank, g->outputs[i]->dims, shape, sizeof shape));
    sb_puts(h, " * It allocates nothing: activations live in a static arena of\n"
               " * NAME_ARENA_BYTES bytes inside the generated .c file, so calls must not\n"
               " * overlap (one thread at a time). Outputs may not alias inputs.\n */\n");
    sb_printf(h, "#ifndef %s_H\n#define %s_H\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
              e->NET, e->NET);
    sb_printf(h, "#define %s_BATCH %lld\n", e->NET, (long long)g->batch);
    for (int i = 0; i < g->ninputs; i++)
        tensor_macros(e, h, g->inputs[i]);
    for (int i = 0; i < g->noutputs; i++)
        tensor_macros(e, h, g->outputs[i]);
    sb_printf(h, "#define %s_ARENA_BYTES %lld\n", e->NET, (long long)g->arena_bytes);
    sb_printf(h, "#define %s_PARAMS %lld\n\n", e->NET, (long long)params);
    if (opt->weights_file && e->weight_floats > 0)
        sb_printf(h,
                  "/* Load the weights (the file cnnc wrote with --weights-file) before the\n"
                  " * first %s_run(). Returns 0, or -1 after printing why to stderr. */\n"
                  "int %s_load_weights(const char *path);\n",
                  e->net, e->net);
    emit_signature(e, h, ";\n");
    if (opt->profile)
        sb_printf(h,
                  "\n/* cnnc --profile: each %s_run() times every layer. Print the mean time per\n"
                  " * call of each layer (to stdout), or forget what was timed so far. */\n"
                  "void %s_profile_print(void);\nvoid %s_profile_reset(void);\n",
                  e->net, e->net, e->net);
    if (opt->dump_tensors)
        sb_printf(h,
                  "\n/* cnnc --dump-tensors: from now on each %s_run() writes every layer's\n"
                  " * output to DIR (which must exist; NULL stops): LABEL.f32, raw little-endian\n"
                  " * float32, named after the layer whose output it is (the last of a fused\n"
                  " * group), and DIR/index.tsv, one line per file: file, label, op, shape,\n"
                  " * layers computed. Dumping stops at the first file that cannot be written;\n"
                  " * %s_dump_status() is then -1, else 0. */\n"
                  "void %s_dump_tensors(const char *dir);\nint %s_dump_status(void);\n",
                  e->net, e->net, e->net, e->net);
    sb_puts(h, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* The argument list "main_a, main_b" of inputs then outputs, for NAME_run. */
static char *main_call_args(const Graph *g)
{
    StrBuf call = {0};
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(&call, "%smain_%s", i ? ", " : "", g->inputs[i]->name);
    for (int i = 0; i < g->noutputs; i++)
        sb_printf(&call, ", main_%s", g->outputs[i]->name);
    return call.data;
}

/* The option loop opening a generated main(): "--NAME VALUE" pairs before
 * the files; option names[i] runs the statement stmts[i], which reads argv[2]. */
static void emit_main_options(Emitter *e, int n, const char *const names[],
                              const char *const stmts[])
{
    open_block(e, "while (argc > 2) {");
    for (int i = 0; i < n; i++) {
        out(e, "%sif (strcmp(argv[1], \"%s\") == 0)", i ? "else " : "", names[i]);
        out(e, "    %s", stmts[i]);
    }
    out(e, "else");
    out(e, "    break;");
    out(e, "argc -= 2;");
    out(e, "argv += 2;");
    close_brace(e);
}

/* With --dump-tensors, main()'s --dump DIR: the usage line and the call. */
static void emit_dump_usage(Emitter *e)
{
    if (e->dump)
        out(e,
            "fprintf(stderr, \"--dump DIR: write every layer's output to DIR/LABEL.f32, listed in "
            "DIR/index.tsv.\\n\");");
}

static void emit_dump_start(Emitter *e)
{
    if (e->dump)
        out(e, "if (dump)\n        %s_dump_tensors(dump);", e->net);
}

/* main(): ./prog [--bench N] IN.f32... OUT.f32. Inputs are raw little-endian
 * float32; all outputs are written concatenated, in declaration order. With
 * --bench N the network runs N timed times after a warm-up and the median is
 * printed last, as median_ms=<value>. */
static void emit_main(Emitter *e, const EmitOptions *opt)
{
    const Graph *g = e->g;
    int64_t total = 0;
    char *call = main_call_args(g);
    sb_puts(e->sb, "\n/* ./prog [--bench N] IN.f32... OUT.f32 (see cnnc --help, --main). */\n");
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(e->sb, "static float main_%s[%lld];\n", g->inputs[i]->name,
                  (long long)ir_tensor_numel(g->inputs[i]));
    for (int i = 0; i < g->noutputs; i++) {
        sb_printf(e->sb, "static float main_%s[%lld];\n", g->outputs[i]->name,
                  (long long)ir_tensor_numel(g->outputs[i]));
        total += ir_tensor_numel(g->outputs[i]);
    }
    if (g->noutputs > 1)
        sb_printf(e->sb, "static float main_all_outputs[%lld];\n", (long long)total);
    sb_printf(e->sb, "\nstatic void bench_once(void *ctx)\n{\n    (void)ctx;\n    %s_run(%s);\n}\n",
              e->net, call);
    out(e, "\nint main(int argc, char **argv)\n{");
    e->indent = 1;
    out(e, "const char *prog = argv[0];");
    out(e, "int bench = 0;");
    if (e->dump)
        out(e, "const char *dump = NULL;");
    const char *names[] = {"--bench", "--dump"};
    const char *stmts[] = {"bench = atoi(argv[2]);", "dump = argv[2];"};
    emit_main_options(e, e->dump ? 2 : 1, names, stmts);
    open_block(e, "if (argc != %d || bench < 0) {", g->ninputs + 2);
    StrBuf usage = {0};
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(&usage, " %s.f32", g->inputs[i]->name);
    out(e, "fprintf(stderr, \"usage: %%s [--bench N]%s%s OUT.f32\\n\", prog);",
        e->dump ? " [--dump DIR]" : "", usage.data);
    out(e,
        "fprintf(stderr, \"Runs network %s on raw little-endian float32 input and writes its "
        "output.\\n\");",
        g->name);
    out(e,
        "fprintf(stderr, \"--bench N: run N timed times, print median_ms=<milliseconds>.\\n\");");
    emit_dump_usage(e);
    out(e, "return 2;");
    close_brace(e);
    sb_free(&usage);
    if (opt->weights_file && e->weight_floats > 0) {
        StrBuf path = {0};
        for (const char *p = opt->weights_file; *p; p++)
            put_byte(&path, (unsigned char)*p);
        out(e, "if (%s_load_weights(\"%s\") != 0)\n        return 1;", e->net, path.data);
        sb_free(&path);
    }
    for (int i = 0; i < g->ninputs; i++)
        out(e, "if (cnnrt_read_f32(argv[%d], main_%s, %lld) != 0)\n        return 1;", i + 1,
            g->inputs[i]->name, (long long)ir_tensor_numel(g->inputs[i]));
    emit_dump_start(e);
    out(e, "double median_ms = 0.0;");
    if (opt->profile) {
        /* The same warm-up as cnnrt_bench's, then profile the timed runs only. */
        open_block(e, "if (bench > 0) {");
        out(e, "for (int i = 0; i < bench / 10 + 1; i++)");
        out(e, "    bench_once(NULL);");
        out(e, "%s_profile_reset();", e->net);
        out(e, "median_ms = cnnrt_bench(bench_once, NULL, 0, bench);");
        e->indent--;
        out(e, "} else {");
        out(e, "    bench_once(NULL);");
        out(e, "}");
    } else {
        out(e, "if (bench > 0)");
        out(e, "    median_ms = cnnrt_bench(bench_once, NULL, bench / 10 + 1, bench);");
        out(e, "else");
        out(e, "    bench_once(NULL);");
    }
    const char *result = "main_all_outputs";
    if (g->noutputs > 1) {
        int64_t at = 0;
        for (int i = 0; i < g->noutputs; i++) {
            out(e, "memcpy(main_all_outputs + %lld, main_%s, sizeof main_%s);", (long long)at,
                g->outputs[i]->name, g->outputs[i]->name);
            at += ir_tensor_numel(g->outputs[i]);
        }
    } else {
        result = NULL;
    }
    out(e, "if (cnnrt_write_f32(argv[%d], %s%s, %lld) != 0)\n        return 1;", g->ninputs + 1,
        result ? result : "main_", result ? "" : g->outputs[0]->name, (long long)total);
    if (e->dump)
        out(e, "if (%s_dump_status() != 0)\n        return 1;", e->net);
    if (opt->profile)
        out(e, "if (bench > 0)\n        %s_profile_print();", e->net);
    out(e, "if (bench > 0)");
    out(e, "    printf(\"median_ms=%%.6f\\n\", median_ms);");
    out(e, "return 0;");
    e->indent = 0;
    out(e, "}");
    free(call);
}

/* main() of a --emit=test program: ./test [--tol T] IN.f32... EXPECTED.f32
 * runs the network once on the inputs and compares every output with its
 * part of EXPECTED (all outputs concatenated, as --main writes them), by the
 * abs-or-rel rule of cnnrt_compare_f32. Exit 0 if all match, 1 if not. */
static void emit_test_main(Emitter *e, const EmitOptions *opt)
{
    const Graph *g = e->g;
    int64_t total = 0;
    char *call = main_call_args(g);
    sb_puts(e->sb, "\n/* ./test [--tol T] IN.f32... EXPECTED.f32 (cnnc --emit=test). */\n");
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(e->sb, "static float main_%s[%lld];\n", g->inputs[i]->name,
                  (long long)ir_tensor_numel(g->inputs[i]));
    for (int i = 0; i < g->noutputs; i++) {
        sb_printf(e->sb, "static float main_%s[%lld];\n", g->outputs[i]->name,
                  (long long)ir_tensor_numel(g->outputs[i]));
        total += ir_tensor_numel(g->outputs[i]);
    }
    sb_printf(e->sb, "static float main_expected[%lld];\n", (long long)total);
    out(e, "\nint main(int argc, char **argv)\n{");
    e->indent = 1;
    out(e, "const char *prog = argv[0];");
    out(e, "double tol = 1e-4;");
    if (e->dump)
        out(e, "const char *dump = NULL;");
    const char *names[] = {"--tol", "--dump"};
    const char *stmts[] = {"tol = atof(argv[2]);", "dump = argv[2];"};
    emit_main_options(e, e->dump ? 2 : 1, names, stmts);
    open_block(e, "if (argc != %d || !(tol >= 0)) {", g->ninputs + 2);
    StrBuf usage = {0};
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(&usage, " %s.f32", g->inputs[i]->name);
    out(e, "fprintf(stderr, \"usage: %%s [--tol T]%s%s EXPECTED.f32\\n\", prog);",
        e->dump ? " [--dump DIR]" : "", usage.data);
    out(e,
        "fprintf(stderr, \"Runs network %s and compares its output with EXPECTED.f32 (raw "
        "float32,\\n\");",
        g->name);
    out(e, "fprintf(stderr, \"all outputs concatenated). A value matches if its absolute or "
           "relative\\n\");");
    out(e,
        "fprintf(stderr, \"error is at most T (default 1e-4). Exit status 0 if all match.\\n\");");
    emit_dump_usage(e);
    out(e, "return 2;");
    close_brace(e);
    sb_free(&usage);
    if (opt->weights_file && e->weight_floats > 0) {
        StrBuf path = {0};
        for (const char *p = opt->weights_file; *p; p++)
            put_byte(&path, (unsigned char)*p);
        out(e, "if (%s_load_weights(\"%s\") != 0)\n        return 2;", e->net, path.data);
        sb_free(&path);
    }
    for (int i = 0; i < g->ninputs; i++)
        out(e, "if (cnnrt_read_f32(argv[%d], main_%s, %lld) != 0)\n        return 2;", i + 1,
            g->inputs[i]->name, (long long)ir_tensor_numel(g->inputs[i]));
    out(e, "if (cnnrt_read_f32(argv[%d], main_expected, %lld) != 0)\n        return 2;",
        g->ninputs + 1, (long long)total);
    emit_dump_start(e);
    out(e, "%s_run(%s);", e->net, call);
    if (e->dump)
        out(e, "if (%s_dump_status() != 0)\n        return 2;", e->net);
    out(e, "size_t bad = 0;");
    int64_t at = 0;
    for (int i = 0; i < g->noutputs; i++) {
        out(e, "bad += cnnrt_compare_f32(\"%s\", main_%s, main_expected + %lld, %lld, tol);",
            g->outputs[i]->name, g->outputs[i]->name, (long long)at,
            (long long)ir_tensor_numel(g->outputs[i]));
        at += ir_tensor_numel(g->outputs[i]);
    }
    out(e,
        "printf(\"%%s: network %s, tolerance %%g (abs or rel)\\n\", bad ? \"FAIL\" : "
        "\"PASS\", tol);",
        g->name);
    out(e, "return bad ? 1 : 0;");
    e->indent = 0;
    out(e, "}");
    free(call);
}

void emit_c(const Graph *g, const EmitOptions *opt, StrBuf *src, StrBuf *hdr, StrBuf *blob)
{
    Emitter e = {
        .sb = src, .g = g, .net = g->name, .threads = opt->threads, .dump = opt->dump_tensors};
    e.NET = upper(g->name);
    layout_weights(&e);
    char *c_name = xstrdup(opt->header_name);
    char *dot = strrchr(c_name, '.');
    if (dot && strcmp(dot, ".h") == 0)
        strcpy(dot, ".c");
    emit_summary(&e, opt, c_name);
    free(c_name);
    sb_printf(src,
              "\n#include \"%s\"\n\n#include <math.h>\n%s#include <string.h>\n\n"
              "#include \"cnnrt.h\"\n",
              opt->header_name,
              opt->with_main || opt->with_test ? "#include <stdio.h>\n#include <stdlib.h>\n" : "");
    emit_prologue_macros(&e);
    emit_weights(&e, opt, blob);
    emit_sparse_tables(&e);
    if (g->arena_bytes > 0)
        sb_printf(src, "\nstatic float %s_arena[%lld];\n", e.net, (long long)(g->arena_bytes / 4));
    for (int i = 0; i < g->nnodes; i++)
        if (!is_view(g->nodes[i]))
            emit_layer(&e, g->nodes[i]);
    emit_run(&e, opt->profile);
    if (opt->with_test)
        emit_test_main(&e, opt);
    else if (opt->with_main)
        emit_main(&e, opt);
    emit_header(&e, opt, hdr);
    free(e.param_at);
    free(e.NET);
    sb_free(&e.label);
}
