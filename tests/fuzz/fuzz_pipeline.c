/* fuzz_pipeline.c - libFuzzer target: the whole compiler, source + weights -> C text.
 *
 * The input is a .cnn source, optionally followed by the marker line below and
 * a safetensors image that stands for the file named by `weights "..."`:
 *
 *     input x[4]
 *     weights "w.safetensors"
 *     fc: linear(2)
 *     #@weights
 *     <safetensors bytes>
 *
 * It runs parse -> ir_build -> weights binding -> prune_weights -> run_passes
 * -> select_kernels -> plan_memory -> ir_verify -> emit_c (and ir_print,
 * ir_summary, ir_dot) in memory, like compile() in main.c. Networks that are
 * legal but would only spend the fuzzer's time (more than FUZZ_MAX_PARAMS
 * parameters to generate and print) are skipped here; the compiler itself has
 * no such limit. The input's length picks the emit options, so that --main,
 * --weights-file, --profile and --dump-tensors code (labels in string
 * literals) is covered too, and the optimization level (-O0 or -O2). A line
 * "# flags: ..." in the source (as in tests/errors) gives command-line options:
 * --batch N, -D NAME=VALUE, --name NAME and --sparse-min F. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "emit.h"
#include "ir.h"
#include "passes.h"
#include "util.h"
#include "weights.h"

#define WEIGHTS_MARK "\n#@weights\n"
#define FUZZ_MAX_PARAMS ((int64_t)1 << 16)

#define MAX_DEFINES 8

/* Options from a "# flags: " line of src (NUL-terminated copies in store). */
typedef struct Flags {
    BuildOptions opt;
    Define defines[MAX_DEFINES];
    char *words[3 * MAX_DEFINES];
    int nwords;
    double sparse_min; /* -1: the measured thresholds */
} Flags;

static void parse_flags(const char *src, size_t len, Flags *fl)
{
    static const char tag[] = "# flags: ";
    fl->opt = (BuildOptions){.batch = 1, .source_path = "fuzz.cnn", .defines = fl->defines};
    fl->nwords = 0;
    fl->sparse_min = -1;
    const char *p = NULL;
    for (size_t i = 0; i + sizeof tag - 1 <= len && !p; i++)
        if ((i == 0 || src[i - 1] == '\n') && memcmp(src + i, tag, sizeof tag - 1) == 0)
            p = src + i + sizeof tag - 1;
    const char *end = p ? memchr(p, '\n', len - (size_t)(p - src)) : NULL;
    if (!end)
        end = src + len;
    while (p && p < end && fl->nwords < 3 * MAX_DEFINES) {
        while (p < end && *p == ' ')
            p++;
        const char *w = p;
        while (p < end && *p != ' ')
            p++;
        if (p > w)
            fl->words[fl->nwords++] = xstrndup(w, (size_t)(p - w));
    }
    for (int i = 0; i + 1 < fl->nwords; i += 2) {
        const char *k = fl->words[i], *v = fl->words[i + 1];
        const char *eq = strchr(v, '=');
        if (strcmp(k, "--batch") == 0)
            fl->opt.batch = 1 + (int64_t)(strtoul(v, NULL, 10) % 16); /* it only scales sizes */
        else if (strcmp(k, "--name") == 0)
            fl->opt.name = v;
        else if (strcmp(k, "--sparse-min") == 0)
            fl->sparse_min = (double)(strtoul(v, NULL, 10) % 101) / 100.0;
        else if (strcmp(k, "-D") == 0 && eq && eq != v && fl->opt.ndefines < MAX_DEFINES)
            fl->defines[fl->opt.ndefines++] =
                (Define){xstrndup(v, (size_t)(eq - v)), xstrdup(eq + 1), false};
    }
}

static void free_flags(Flags *fl)
{
    for (int i = 0; i < fl->opt.ndefines; i++) {
        free(fl->defines[i].name);
        free(fl->defines[i].value);
    }
    for (int i = 0; i < fl->nwords; i++)
        free(fl->words[i]);
}

/* The parameters node n will need (as weights.c computes them); -1 past the budget. */
static int64_t node_params(const Node *n)
{
    const Tensor *in = n->in[0];
    int64_t p = 0;
    bool ok = true;
    switch (n->op) {
    case OP_CONV2D:
        ok = ck_mul(n->a.channels, in->dims[1] / n->a.groups, &p) && ck_mul(p, n->a.kh, &p) &&
             ck_mul(p, n->a.kw, &p) && ck_add(p, n->a.channels, &p);
        break;
    case OP_LINEAR:
        ok = ck_mul(n->a.channels, in->dims[1], &p) && ck_add(p, n->a.channels, &p);
        break;
    case OP_BATCHNORM:
        ok = ck_mul(in->dims[1], 4, &p);
        break;
    default:
        break;
    }
    return ok ? p : -1;
}

static bool within_budget(const Graph *g)
{
    int64_t total = 0;
    for (int i = 0; i < g->nnodes; i++) {
        int64_t p = node_params(g->nodes[i]);
        if (p < 0 || !ck_add(total, p, &total) || total > FUZZ_MAX_PARAMS)
            return false;
    }
    return true;
}

/* Bind from the weights part of the input (a fresh heap copy: st_parse owns it). */
static bool bind(Graph *g, const uint8_t *w, size_t wsize, bool have_w)
{
    if (!g->weights_path)
        return weights_bind_file(g, NULL);
    if (!have_w) {
        diag_error(g->weights_loc, "cannot load weights '%s': no such file", g->weights_path);
        return false;
    }
    unsigned char *buf = xmalloc(wsize ? wsize : 1);
    if (wsize)
        memcpy(buf, w, wsize);
    StFile f;
    char err[512];
    if (st_parse(buf, wsize, &f, err, sizeof err) != 0) {
        diag_error(g->weights_loc, "cannot load weights '%s': %s", g->weights_path, err);
        return false;
    }
    bool ok = weights_bind_file(g, &f);
    st_free(&f);
    return ok;
}

/* A cheap oracle for "the emitter wrote C, not garbage": comments and string
 * literals are closed on their line (strings) or before the end, brackets
 * outside them balance, and code is printable ASCII with no stray backslash.
 * This catches text from the source (labels, file names) breaking out of the
 * comment or string it is printed in. */
static bool c_text_ok(const char *s, size_t n)
{
    char stack[256];
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            const char *end = strstr(s + i + 2, "*/");
            if (!end)
                return false;
            i = (size_t)(end - s) + 1;
        } else if (c == '"' || c == '\'') {
            for (i++; i < n && s[i] != c; i++)
                if (s[i] == '\n' || (s[i] == '\\' && ++i < n && s[i] == '\n'))
                    return false;
            if (i >= n)
                return false;
        } else if (c == '(' || c == '[' || c == '{') {
            if (depth == (int)sizeof stack)
                return false;
            stack[depth++] = c;
        } else if (c == ')' || c == ']' || c == '}') {
            char open = c == ')' ? '(' : c == ']' ? '[' : '{';
            if (depth == 0 || stack[--depth] != open)
                return false;
        } else if (c == '\\' || (c != '\n' && (c < 32 || c > 126))) {
            return false;
        }
    }
    return depth == 0;
}

static void emit(const Graph *g, size_t size)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    EmitOptions eo = {.with_main = size & 1,
                      .source_path = "fuzz.cnn",
                      .header_name = "fuzz.h",
                      .version = "fuzz",
                      .weights_file = (size & 2) ? "fuzz.weights" : NULL,
                      .weights_incbin = (size & 16) != 0,
                      .blob_name = "fuzz.c.weights",
                      .profile = (size & 4) != 0,
                      .dump_tensors = (size & 8) != 0};
    StrBuf src = {0}, hdr = {0}, blob = {0};
    emit_c(g, &eo, &src, &hdr, &blob);
    if (!src.data || !hdr.data || strlen(src.data) != src.len || strlen(hdr.data) != hdr.len)
        abort(); /* the C text is one NUL-free string */
    if (!c_text_ok(src.data, src.len) || !c_text_ok(hdr.data, hdr.len))
        abort();
    if (devnull) {
        ir_print(g, devnull);
        ir_summary(g, "summary", devnull);
        ir_dot(g, devnull);
    }
    sb_free(&src);
    sb_free(&hdr);
    sb_free(&blob);
}

/* The first WEIGHTS_MARK in data, or NULL. */
static const uint8_t *find_mark(const uint8_t *data, size_t size)
{
    size_t n = strlen(WEIGHTS_MARK);
    for (size_t i = 0; i + n <= size; i++)
        if (data[i] == '\n' && memcmp(data + i, WEIGHTS_MARK, n) == 0)
            return data + i;
    return NULL;
}

/* ---- structure-aware mutation: integers near the limits ------------------ */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* Values where cnnc's bounds and C's int change behaviour, each with its
 * neighbours: the attribute maximum 2^31, the tensor and parameter limit
 * 2^30, the arena limit 2^31 - 2^26 in bytes and in floats, table and
 * fused-pool bounds (4096, 65536), prune-channels' 2^22, 64-bit overflow,
 * and the documented maxima of docs/language.md (Limits): 125 tensors per
 * layer, 16 outputs, 64 nesting levels, 32 block expansions, 255-byte names,
 * 10000 layers and params, 65536 for --batch. */
/* clang-format off */
static const long long near_limits[] = {
    0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 124, 125, 126, 254, 255, 256,
    4095, 4096, 4097, 9999, 10000, 10001, 65535, 65536, 65537, 1000001, 4194304,
    520093695, 520093696, 520093697,          /* the arena limit in floats */
    1073741823, 1073741824, 1073741825,       /* 2^30 */
    2080374783, 2080374784, 2080374785,       /* the arena limit in bytes */
    2147483647, 2147483648, 2147483649,       /* 2^31 */
    4294967295, 4294967296, 4611686018427387904, 9223372036854775807};
/* clang-format on */
#define NEAR_LIMITS (sizeof near_limits / sizeof *near_limits)

/* The attributes that take integers (docs/language.md, Ops). */
static const char *const int_attrs[] = {
    "kernel", "stride", "pad",   "dilation", "output_padding", "groups", "size",   "scale",
    "dim",    "chunks", "index", "start",    "length",         "seed",   "amount", "features"};

/* A value near a limit, sometimes negated or as a pair "(a, b)". */
static int limit_value(char *buf, size_t n)
{
    long long a = near_limits[(size_t)rand() % NEAR_LIMITS];
    const char *sign = rand() % 8 == 0 ? "-" : "";
    if (rand() % 4 == 0) {
        long long b = near_limits[(size_t)rand() % NEAR_LIMITS];
        return snprintf(buf, n, "(%s%lld, %lld)", sign, a, b);
    }
    return snprintf(buf, n, "%s%lld", sign, a);
}

/* Replace data[start, end) by text[0, n); 0 if the result would not fit. */
static size_t splice(uint8_t *data, size_t size, size_t max_size, size_t start, size_t end,
                     const char *text, size_t n)
{
    size_t old = end - start;
    if (size - old + n > max_size)
        return 0;
    memmove(data + start + n, data + end, size - end);
    memcpy(data + start, text, n);
    return size - old + n;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Position of the k-th (mod their count) byte of data[0, len) that starts a
 * digit run (want_digit) or is a ')' closing an op's arguments; len if none. */
static size_t nth_site(const uint8_t *data, size_t len, bool want_digit, size_t k)
{
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t seen = 0;
        for (size_t i = 0; i < len; i++) {
            bool site = want_digit ? is_digit(data[i]) && (i == 0 || !is_digit(data[i - 1]))
                                   : data[i] == ')';
            if (site && pass == 1 && seen++ == k % count)
                return i;
            count += site && pass == 0;
        }
        if (count == 0)
            break;
    }
    return len;
}

/* Half the time libFuzzer's own mutation. Otherwise, in the source part (before
 * any weights marker), one decimal integer becomes a value near a limit, or an
 * argument list gets one more integer attribute with such a value before its
 * ')' (", stride=2147483648"), so that attributes at the limits are reached
 * without the fuzzer guessing ten digits or an attribute the seed lacks. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    srand(seed);
    int kind = rand() % 4;
    if (kind < 2)
        return LLVMFuzzerMutate(data, size, max_size);
    const uint8_t *mark = find_mark(data, size);
    size_t src_len = mark ? (size_t)(mark - data) : size, out = 0;
    size_t at = nth_site(data, src_len, kind == 2, (size_t)rand());
    char text[96];
    if (at < src_len && kind == 2) {
        size_t end = at;
        while (end < src_len && is_digit(data[end]))
            end++;
        int n = limit_value(text, sizeof text);
        out = splice(data, size, max_size, at, end, text, (size_t)n);
    } else if (at < src_len) {
        const char *attr = int_attrs[(size_t)rand() % (sizeof int_attrs / sizeof *int_attrs)];
        int n = snprintf(text, sizeof text, ", %s=", attr);
        n += limit_value(text + n, sizeof text - (size_t)n);
        out = splice(data, size, max_size, at, at, text, (size_t)n);
    }
    return out ? out : LLVMFuzzerMutate(data, size, max_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const uint8_t *mark = find_mark(data, size);
    size_t src_len = mark ? (size_t)(mark - data) + 1 : size;
    const uint8_t *w = mark ? mark + strlen(WEIGHTS_MARK) : NULL;
    size_t wsize = mark ? size - (size_t)(w - data) : 0;

    diag_reset();
    diag_set_source("fuzz.cnn", text, src_len);
    Program *prog = parse_program(text, src_len);
    Flags fl;
    parse_flags(text, src_len, &fl);
    Graph *g = prog ? ir_build(prog, &fl.opt) : NULL;
    PassOptions po = {.level = (size & 16) ? 0 : 2};
    if (g && within_budget(g) && bind(g, w, wsize, mark != NULL) && prune_weights(g) &&
        run_passes(g, &po, NULL)) {
        select_kernels(g, fl.sparse_min);
        if (plan_memory(g)) {
            ir_verify(g);
            emit(g, size);
        }
    }
    ir_graph_free(g);
    ast_free(prog);
    free_flags(&fl);
    diag_reset();
    return 0;
}
