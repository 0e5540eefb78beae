/* main.c - the cnnc driver: options, the pipeline, and writing the output.
 *
 * The whole compiler is the function compile() below, read top to bottom:
 * parse -> build the IR (shapes) -> bind weights -> optimize (passes.h) ->
 * select kernels -> plan memory -> emit. Output files are written to
 * temporary names and renamed only when everything succeeded, so an error
 * never leaves a half-written file (output.c). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "calibrate.h"
#include "emit.h"
#include "ir.h"
#include "output.h"
#include "passes.h"
#include "util.h"
#include "weights.h"

#define CNNC_VERSION "0.1.0"

#ifndef CNNC_RUNTIME_INCLUDE
#define CNNC_RUNTIME_INCLUDE "runtime"
#endif
#ifndef CNNC_RUNTIME_LIBDIR
#define CNNC_RUNTIME_LIBDIR "build"
#endif
#ifndef CNNC_BLAS_LIBS
#define CNNC_BLAS_LIBS "-lopenblas"
#endif

typedef enum { EMIT_C, EMIT_IR, EMIT_DOT, EMIT_SUMMARY } EmitKind;

/* --weights-as: where the weights go (docs/design.md, "Weights as string
 * literals"). AUTO is C below --incbin-min bytes of weights, else INCBIN. */
typedef enum { WEIGHTS_AUTO, WEIGHTS_C, WEIGHTS_INCBIN, WEIGHTS_FILE } WeightsAs;
/* 16 MiB (4M parameters). gcc -O2 needs about 13 bytes of memory and 80 ns
 * per byte of weights as string literals (ResNet-18's 47 MB: 660 MB, 5.2 s
 * of CPU), and about one byte per byte through .incbin (111 MB, 2.0 s); at
 * this size the literals cost at most about 250 MB and 2 s, and the portable
 * C99 file stays the default for small networks (docs/design.md). */
#define INCBIN_MIN_DEFAULT ((int64_t)16 << 20)

typedef struct Options {
    const char *input;
    const char *output;
    EmitKind emit;
    bool with_main;
    bool with_test;
    int threads; /* --threads N */
    bool profile;
    bool dump_tensors; /* --dump-tensors */
    const char *weights_file;
    WeightsAs weights_as;
    int64_t incbin_min; /* --incbin-min: AUTO's threshold in bytes */
    double sparse_min;  /* --sparse-min: negative for the default thresholds */
    PassOptions passes;
    BuildOptions build;
    const char *quantize;         /* --quantize=int8 */
    const char *calibrate_method; /* --calibrate-method */
    QuantOptions quant;           /* --calibrate FILE, the method */
} Options;

static const char usage_text[] =
    "usage: cnnc [options] NET.cnn\n"
    "\n"
    "Compile a network described in the .cnn language (see docs/language.md) and its\n"
    "weights (safetensors, PyTorch state_dict names) into standalone C99: NET.c and NET.h.\n"
    "\n"
    "Output:\n"
    "  -o FILE          write the C source to FILE and the header beside it (FILE with .h);\n"
    "                   default: the input's name with .c, in the current directory\n"
    "  --emit=c         C source and header (default)\n"
    "  --emit=ir        the graph IR after all passes, shapes and memory plan (to -o or stdout)\n"
    "  --emit=dot       the graph for Graphviz: cnnc net.cnn --emit=dot | dot -Tsvg > net.svg\n"
    "  --emit=test      a self-checking program: ./t [--tol T] IN.f32 EXPECTED.f32 runs the\n"
    "                   network, prints the worst error of each output, exits 1 on a mismatch\n"
    "  --summary        a table of every layer (output shape, parameters, MACs, activation\n"
    "                   bytes) with totals and the arena size, before and after the\n"
    "                   optimizer, then both totals side by side (to -o or stdout)\n"
    "  --main           add main(): ./prog IN.f32 OUT.f32 reads raw float32 input and\n"
    "                   writes the output (for golden tests and quick runs)\n"
    "  --profile        time every layer: NAME_profile_print() prints a table (layer, op,\n"
    "                   kernel, ms, % of total, GFLOP/s); with --main, --bench N prints it\n"
    "  --dump-tensors   NAME_dump_tensors(DIR) makes NAME_run() write every layer's output\n"
    "                   to DIR/LABEL.f32 (raw float32) with an index, DIR/index.tsv; with\n"
    "                   --main or --emit=test: ./prog --dump DIR ... (compare with PyTorch:\n"
    "                   tools/cnndiff.py; -O0 dumps every layer, -O2 each fused group's last)\n"
    "  --name NAME      prefix of every generated symbol (default: the 'network' name)\n"
    "  --threads N      split each large layer over N threads with OpenMP (compile the\n"
    "                   C with -fopenmp; without it the code runs serially and lets\n"
    "                   OpenBLAS use N threads); default 1\n"
    "  --weights-file=FILE  write the weights to FILE (raw float32) instead of into the\n"
    "                   C source; the code then has NAME_load_weights(path), to call\n"
    "                   once before NAME_run\n"
    "  --weights-as=HOW  where the weights go, bit-exact: 'c' string literals in the\n"
    "                   C source (plain C99); 'incbin' a binary file beside it, FILE.weights\n"
    "                   for -o FILE, which the C file includes with the assembler's .incbin\n"
    "                   (GCC or Clang, ELF; keep it beside the .c); 'file' as\n"
    "                   --weights-file=FILE.weights; 'auto' (default) 'incbin' from\n"
    "                   --incbin-min bytes of weights, else 'c' (also when -o is a device\n"
    "                   or FIFO)\n"
    "  --incbin-min=SIZE  the size of weights from which 'auto' uses 'incbin': bytes, or\n"
    "                   with a K, M or G suffix (KiB, MiB, GiB); default 16M\n"
    "\n"
    "Network:\n"
    "  --batch N        batch size compiled in (default 1)\n"
    "  -D NAME=VALUE    override 'param NAME' of the network (repeatable)\n"
    "  --weights FILE   take weights from FILE instead of the one the network names\n"
    "\n"
    "Optimizer (docs/optimizer.md):\n"
    "  -O0, -O2         run no pass, or every pass (default -O2)\n"
    "  -fno-PASS        skip one pass; -fPASS runs it even at -O0\n"
    "  --dump-after=PASS  print the IR after PASS (or 'all': after each) to stderr\n"
    "  --stats          print what each pass did, the parameters and MACs before and\n"
    "                   after, and the arena size, to stderr\n"
    "  --sparse-min=F   conv2d/linear layers with at least this fraction F of zero weights\n"
    "                   use sparse kernels (0 <= F <= 1, or 'off'; default: measured\n"
    "                   thresholds per kernel, see docs/optimizer.md)\n"
    "  --quantize=int8  quantize the float network (the quantize pass): int8 weights per\n"
    "                   channel, quint8 activations with ranges observed on --calibrate\n"
    "  --calibrate FILE  calibration samples: raw little-endian float32, a whole number\n"
    "                   of inputs (docs/quantization.md; tools/idx2f32.py makes one)\n"
    "  --calibrate-method=M  'minmax' (default: nothing clipped) or 'percentile'\n"
    "                   (the 0.01% and 99.99% percentiles of a 2048-bin histogram);\n"
    "                   with --stats, each quantized layer's SQNR against float\n"
    "  Passes, in the order they run:\n"
    "@PASSES@"
    "\n"
    "Building the generated code:\n"
    "  --cflags         print the compiler flags for generated code (runtime header)\n"
    "  --libs           print the linker flags (libcnnrt, BLAS, libm)\n"
    "                   e.g.  cc net.c main.c $(cnnc --cflags) $(cnnc --libs)\n"
    "\n"
    "  -h, --help       this help\n"
    "  --version        print the version\n"
    "\n"
    "Exit status: 0 on success, 1 on any error (and no output file is written).\n";

static _Noreturn void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cnnc: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cnnc --help'.\n");
    exit(1);
}

/* The help text, with one line per pass where it says @PASSES@. */
static void print_usage(void)
{
    const char *at = strstr(usage_text, "@PASSES@");
    fwrite(usage_text, 1, (size_t)(at - usage_text), stdout);
    for (int i = 0; i < npasses; i++)
        printf("    %-20s %s\n", passes[i].name, passes[i].what);
    fputs(at + strlen("@PASSES@"), stdout);
}

/* -fNAME / -fno-NAME: run or skip one pass. */
static void set_pass_flag(Options *o, const char *arg)
{
    bool off = strncmp(arg, "-fno-", 5) == 0;
    const char *name = arg + (off ? 5 : 2);
    int i = pass_find(name);
    if (i < 0)
        usage_error("unknown pass in '%s' (cnnc --help lists the passes)", arg);
    o->passes.force[i] = off ? -1 : 1;
}

/* A -D value is written as in the language: an integer (fitting in 64 bits),
 * a float (digits, then a fraction and/or an exponent), either with a leading
 * '-', or true or false. strtod alone would also take "0x3", " 3", "inf" and
 * "nan", and strtoll's overflow would fall through to a float. */
static void check_define_value(const char *text, const char *v)
{
    if (!strcmp(v, "true") || !strcmp(v, "false"))
        return;
    const char *p = v + (*v == '-');
    bool ok = isdigit((unsigned char)*p), is_float = false;
    while (isdigit((unsigned char)*p))
        p++;
    if (ok && *p == '.') {
        is_float = true;
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    }
    if (ok && (*p == 'e' || *p == 'E')) {
        is_float = true;
        p += p[1] == '-' || p[1] == '+' ? 2 : 1;
        ok = isdigit((unsigned char)*p);
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (!ok || *p != '\0')
        usage_error("-D %s: the value must be an integer, a float, true or false", text);
    errno = 0;
    if (is_float) {
        if (!isfinite(strtod(v, NULL)))
            usage_error("-D %s: the number is too large", text);
    } else {
        strtoll(v, NULL, 10);
        if (errno == ERANGE)
            usage_error("-D %s: the integer is too large (the limit is 9223372036854775807)", text);
    }
}

/* -D NAME=VALUE. Giving one NAME twice is an error unless the values are the
 * same text: a later -D silently winning over an earlier one hides mistakes
 * in long command lines (GCC warns; here shapes follow from the value). */
static void add_define(Options *o, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1])
        usage_error("-D needs NAME=VALUE, got '%s'", text);
    check_define_value(text, eq + 1);
    size_t n = (size_t)(eq - text);
    for (int i = 0; i < o->build.ndefines; i++) {
        const Define *old = &o->build.defines[i];
        if (strlen(old->name) != n || strncmp(old->name, text, n) != 0)
            continue;
        if (strcmp(old->value, eq + 1) == 0)
            return;
        fprintf(stderr, "cnnc: error: -D %s is given twice, as '%s' and as '%s'\n", old->name,
                old->value, eq + 1);
        exit(1);
    }
    Define d = {xstrndup(text, n), xstrdup(eq + 1), false};
    o->build.defines = xrealloc(o->build.defines, sizeof d * (size_t)(o->build.ndefines + 1));
    o->build.defines[o->build.ndefines++] = d;
}

/* The value of option `name` given as "--name=V", "--name V", or "-xV" / "-x V". */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=' && name[1] == '-')
        return a + n + 1;
    if (a[n] != '\0') {
        if (name[1] == '-')
            return NULL; /* --batchx: not this option */
        return a + n;    /* -DX=1 */
    }
    if (*i + 1 >= argc)
        usage_error("option '%s' needs a value", name);
    return argv[++*i];
}

static int64_t parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno || v < 1 || v > 65536)
        usage_error(what, s);
    return v;
}

/* --sparse-min: a fraction in [0, 1], or "off" (never sparse: above 1). */
static double parse_fraction(const char *s)
{
    char *end;
    if (strcmp(s, "off") == 0)
        return 2.0;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno || !(v >= 0.0 && v <= 1.0))
        usage_error("--sparse-min must be a fraction from 0 to 1 or 'off', not '%s'", s);
    return v;
}

/* --incbin-min: a byte count, with an optional K, M or G suffix (powers of 1024). */
static int64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int shift = 0;
    if (end != s && *end && !end[1])
        shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : -1;
    if (!isdigit((unsigned char)*s) || errno || shift < 0 || (*end && !shift) ||
        v > (INT64_MAX >> 30))
        usage_error("--incbin-min must be a size in bytes (a K, M or G suffix allowed), not '%s'",
                    s);
    return (int64_t)v << shift;
}

static void parse_args(int argc, char **argv, Options *o)
{
    *o = (Options){.emit = EMIT_C,
                   .sparse_min = -1,
                   .incbin_min = INCBIN_MIN_DEFAULT,
                   .passes = {.level = 2},
                   .build = {.batch = 1}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_usage();
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("cnnc %s\n", CNNC_VERSION);
            exit(0);
        } else if (!strcmp(a, "--cflags")) {
            printf("-I%s\n", CNNC_RUNTIME_INCLUDE);
            exit(0);
        } else if (!strcmp(a, "--libs")) {
            printf("-L%s -lcnnrt %s -lm\n", CNNC_RUNTIME_LIBDIR, CNNC_BLAS_LIBS);
            exit(0);
        } else if (!strcmp(a, "--summary")) {
            o->emit = EMIT_SUMMARY;
        } else if (!strcmp(a, "--main")) {
            o->with_main = true;
        } else if (!strcmp(a, "--profile")) {
            o->profile = true;
        } else if (!strcmp(a, "--dump-tensors")) {
            o->dump_tensors = true;
        } else if (!strcmp(a, "-O0") || !strcmp(a, "-O2")) {
            o->passes.level = a[2] - '0';
        } else if (!strncmp(a, "-f", 2) && a[2] != '\0') {
            set_pass_flag(o, a);
        } else if (!strcmp(a, "--stats")) {
            o->passes.stats = true;
        } else if ((v = option_value(argc, argv, &i, "--dump-after"))) {
            if (strcmp(v, "all") != 0 && pass_find(v) < 0)
                usage_error("--dump-after: unknown pass '%s' (cnnc --help lists the passes)", v);
            o->passes.dump_after = v;
        } else if ((v = option_value(argc, argv, &i, "--quantize"))) {
            if (strcmp(v, "int8") != 0)
                usage_error("--quantize must be 'int8', not '%s'", v);
            o->quantize = v;
        } else if ((v = option_value(argc, argv, &i, "--calibrate-method"))) {
            if (!strcmp(v, "minmax"))
                o->quant.method = CALIB_MINMAX;
            else if (!strcmp(v, "percentile"))
                o->quant.method = CALIB_PERCENTILE;
            else
                usage_error("--calibrate-method must be 'minmax' or 'percentile', not '%s'", v);
            o->calibrate_method = v;
        } else if ((v = option_value(argc, argv, &i, "--calibrate"))) {
            o->quant.calib_path = v;
        } else if ((v = option_value(argc, argv, &i, "--sparse-min"))) {
            o->sparse_min = parse_fraction(v);
        } else if ((v = option_value(argc, argv, &i, "-o"))) {
            o->output = v;
        } else if ((v = option_value(argc, argv, &i, "-D"))) {
            add_define(o, v);
        } else if ((v = option_value(argc, argv, &i, "--batch"))) {
            o->build.batch = parse_count(v, "--batch must be an integer from 1 to 65536, not '%s'");
        } else if ((v = option_value(argc, argv, &i, "--threads"))) {
            int64_t t = parse_count(v, "--threads must be an integer from 1 to 65536, not '%s'");
            o->threads = (int)t;
        } else if ((v = option_value(argc, argv, &i, "--weights"))) {
            o->build.weights_path = v;
        } else if ((v = option_value(argc, argv, &i, "--weights-file"))) {
            o->weights_file = v;
        } else if ((v = option_value(argc, argv, &i, "--weights-as"))) {
            if (!strcmp(v, "auto"))
                o->weights_as = WEIGHTS_AUTO;
            else if (!strcmp(v, "c"))
                o->weights_as = WEIGHTS_C;
            else if (!strcmp(v, "incbin"))
                o->weights_as = WEIGHTS_INCBIN;
            else if (!strcmp(v, "file"))
                o->weights_as = WEIGHTS_FILE;
            else
                usage_error("--weights-as must be 'auto', 'c', 'incbin' or 'file', not '%s'", v);
        } else if ((v = option_value(argc, argv, &i, "--incbin-min"))) {
            o->incbin_min = parse_size(v);
        } else if ((v = option_value(argc, argv, &i, "--name"))) {
            o->build.name = v;
        } else if ((v = option_value(argc, argv, &i, "--emit"))) {
            if (!strcmp(v, "c"))
                o->emit = EMIT_C;
            else if (!strcmp(v, "ir"))
                o->emit = EMIT_IR;
            else if (!strcmp(v, "test"))
                o->with_test = true; /* C, with a self-checking main() */
            else if (!strcmp(v, "dot"))
                o->emit = EMIT_DOT;
            else
                usage_error("--emit must be 'c', 'ir', 'dot' or 'test', not '%s'", v);
        } else if (a[0] == '-' && a[1] != '\0') {
            usage_error("unknown option '%s'", a);
        } else if (o->input) {
            usage_error("more than one input file ('%s')", a);
        } else {
            o->input = a;
        }
    }
    if (!o->input)
        usage_error("%s", "no input file");
    if (o->weights_file && o->weights_as != WEIGHTS_AUTO && o->weights_as != WEIGHTS_FILE)
        usage_error("%s", "--weights-file writes the weights to a file of their own; it cannot "
                          "be combined with --weights-as=c or --weights-as=incbin");
    if (o->quantize && !o->quant.calib_path)
        usage_error("%s", "--quantize=int8 needs --calibrate FILE (calibration samples, raw "
                          "float32)");
    if (!o->quantize && (o->quant.calib_path || o->calibrate_method))
        usage_error("%s", "--calibrate and --calibrate-method go with --quantize=int8");
    if (o->quantize) {
        int q = pass_find("quantize");
        if (o->passes.force[q] == 0) /* -fno-quantize still turns it off */
            o->passes.force[q] = 1;
        o->quant.stats = o->passes.stats;
        quantize_configure(&o->quant);
    }
    o->build.source_path = o->input;
}

/* out.c -> out.h; anything else gets ".h" appended. */
static char *header_path(const char *c_path)
{
    size_t n = strlen(c_path);
    if (n > 2 && strcmp(c_path + n - 2, ".c") == 0)
        return xasprintf("%.*s.h", (int)(n - 2), c_path);
    return xasprintf("%s.h", c_path);
}

/* NET.cnn -> NET.c in the current directory. */
static char *default_output(const char *input)
{
    const char *base = strrchr(input, '/') ? strrchr(input, '/') + 1 : input;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return xasprintf("%.*s.c", (int)n, base);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- the pipeline -------------------------------------------------------- */

/* The parsed network as a graph ready to emit: shapes, weights, the passes po
 * enables, kernels and memory. NULL after reporting an error. */
static Graph *build_graph(const Program *prog, const Options *o, const PassOptions *po)
{
    Graph *g = ir_build(prog, &o->build);
    bool ok = g && weights_bind(g) && prune_weights(g) && run_passes(g, po, stderr);
    if (ok) {
        select_kernels(g, o->sparse_min);
        ok = plan_memory(g);
    }
    if (ok)
        ir_verify(g);
    if (!ok)
        ir_graph_free(g);
    return ok ? g : NULL;
}

static bool any_pass_enabled(const PassOptions *po)
{
    for (int i = 0; i < npasses; i++)
        if (pass_enabled(po, i))
            return true;
    return false;
}

/* --summary: the table of g, and if the passes changed anything, first the
 * table of the same network built without them (-O0), and after both the
 * totals before and after. */
static void write_summary(const Program *prog, const Options *o, const Graph *g, FILE *f)
{
    if (!any_pass_enabled(&o->passes)) {
        ir_summary(g, "summary (-O0, no optimization)", f);
        return;
    }
    PassOptions none = {.level = 0};
    diag_quiet_warnings(true); /* printed by the first build */
    Graph *g0 = build_graph(prog, o, &none);
    diag_quiet_warnings(false);
    if (!g0)
        die("--summary: the network built with passes but not without");
    ir_summary(g0, "before optimization (-O0)", f);
    fputc('\n', f);
    ir_summary(g, "after optimization", f);
    ir_summary_compare(g0, g, f);
    ir_graph_free(g0);
}

/* Where the weights of the C output c_path go (--weights-as). */
typedef struct Placement {
    const char *weights_file; /* loaded at run time from this file (EmitOptions) */
    bool incbin;              /* included by the assembler from blob_path */
    const char *blob_path;    /* the blob's output file, or NULL: none is written */
    char *own_path;           /* blob_path when cnnc named it (C_PATH.weights); free it */
} Placement;

static bool weights_placement(const Options *o, const Graph *g, const char *c_path, Placement *pl)
{
    *pl = (Placement){0};
    if (o->weights_file) {
        pl->weights_file = pl->blob_path = o->weights_file;
        return true;
    }
    WeightsAs as = o->weights_as;
    int64_t bytes = emit_weight_blob_bytes(g);
    bool direct = written_directly(c_path);
    if (as == WEIGHTS_AUTO)
        as = bytes > 0 && bytes >= o->incbin_min && !direct ? WEIGHTS_INCBIN : WEIGHTS_C;
    if (as == WEIGHTS_C || (as == WEIGHTS_INCBIN && bytes == 0))
        return true;
    if (direct) {
        /* Beside /dev/stdout or a FIFO there is no file for the blob, nor a
         * name the C compiler would find it under. */
        fprintf(stderr,
                "cnnc: error: --weights-as=%s writes the weights beside the C file, as "
                "'%s.weights', but '%s' is not a regular file; use -o FILE.c, "
                "--weights-file=FILE or --weights-as=c\n",
                as == WEIGHTS_FILE ? "file" : "incbin", c_path, c_path);
        return false;
    }
    pl->own_path = xasprintf("%s.weights", c_path);
    pl->blob_path = pl->own_path;
    if (as == WEIGHTS_FILE)
        pl->weights_file = pl->own_path;
    else
        pl->incbin = true;
    return true;
}

static int compile(const Options *o)
{
    size_t len;
    char *src = read_file(o->input, &len);
    if (!src) {
        fprintf(stderr, "cnnc: error: cannot read '%s': %s\n", o->input, strerror(errno));
        return 1;
    }
    diag_set_source(o->input, src, len);
    Program *prog = parse_program(src, len);
    Graph *g = prog ? build_graph(prog, o, &o->passes) : NULL;
    bool ok = g != NULL;
    if (ok && o->passes.stats)
        fprintf(stderr, "stats: arena: %lld bytes\n", (long long)g->arena_bytes);
    if (ok) {
        char *c_path = o->output ? xstrdup(o->output) : default_output(o->input);
        char *h_path = header_path(c_path);
        const char *inputs[2] = {o->input, g->weights_path};
        Placement place = {0};
        StrBuf out = {0}, hdr = {0};
        if (o->emit != EMIT_C) {
            FILE *mem = open_memstream(&out.data, &out.len);
            if (o->emit == EMIT_IR)
                ir_print(g, mem);
            else if (o->emit == EMIT_DOT)
                ir_dot(g, mem);
            else
                write_summary(prog, o, g, mem);
            fclose(mem);
            const char *paths[3] = {c_path, NULL, NULL};
            const OutData data[3] = {{&out, NULL}};
            if (o->output)
                ok = outputs_distinct(inputs, paths) && write_outputs(paths, data);
            else
                fwrite(out.data, 1, out.len, stdout);
        } else if (strpbrk(base_name(h_path), "\"\\\n")) {
            /* The .c file says #include "NAME.h": NAME cannot hold these. */
            fprintf(stderr,
                    "cnnc: error: output name '%s' cannot be #included from C (it "
                    "contains '\"', '\\' or a newline)\n",
                    base_name(h_path));
            ok = false;
        } else if (strcmp(base_name(h_path), "cnnrt.h") == 0) {
            /* The .c file says #include "cnnrt.h" for the runtime: a header
             * of that name beside it would be found first. */
            fprintf(stderr,
                    "cnnc: error: the header '%s' would hide the runtime's cnnrt.h from the "
                    "generated code; choose another -o name\n",
                    h_path);
            ok = false;
        } else if (!weights_placement(o, g, c_path, &place)) {
            ok = false;
        } else {
            EmitOptions eo = {.with_main = o->with_main,
                              .source_path = base_name(o->input),
                              .header_name = base_name(h_path),
                              .version = CNNC_VERSION,
                              .weights_file = place.weights_file,
                              .weights_incbin = place.incbin,
                              .blob_name = place.blob_path ? base_name(place.blob_path) : NULL,
                              .threads = o->threads,
                              .profile = o->profile,
                              .with_test = o->with_test,
                              .dump_tensors = o->dump_tensors};
            emit_c(g, &eo, &out, &hdr, NULL);
            /* The blob (--weights-file, incbin) is streamed from g. */
            const char *paths[3] = {c_path, h_path, place.blob_path};
            OutData data[3] = {{&out, NULL}, {&hdr, NULL}, {NULL, g}};
            StrBuf both = {0};
            if (written_directly(c_path)) {
                /* -o /dev/null, /dev/stdout, a FIFO: the header goes into it
                 * too, first, not beside it as a new file /dev/null.h. */
                sb_write(&both, hdr.data, hdr.len);
                sb_write(&both, out.data, out.len);
                paths[1] = NULL;
                data[0].text = &both;
            }
            ok = outputs_distinct(inputs, paths) && write_outputs(paths, data);
            sb_free(&both);
        }
        free(out.data);
        sb_free(&hdr);
        free(place.own_path);
        free(c_path);
        free(h_path);
    }
    ir_graph_free(g);
    ast_free(prog);
    free(src);
    return ok && diag_error_count() == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    Options o;
    parse_args(argc, argv, &o);
    int status = compile(&o);
    for (int i = 0; i < o.build.ndefines; i++) {
        free(o.build.defines[i].name);
        free(o.build.defines[i].value);
    }
    free(o.build.defines);
    return status;
}
